// Files generated from a declaration (server/protocol.ts, server/settings.ts): which ones differ
// from what the declaration gives, writing them, and the message `--check` prints. Used by
// server/generate-protocol.ts and extensions/vscode/scripts/generate-settings.mts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A generated file: its path relative to the checkout, and what it must contain. */
export interface Artefact { file: string; text: string }

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The artefacts whose file under `root` is missing or differs (relative paths). */
export function staleArtefacts(artefacts: Artefact[], root: string): string[] {
  return artefacts.filter((a) => readOr(path.join(root, a.file)) !== a.text).map((a) => a.file);
}

export function writeArtefacts(artefacts: Artefact[], root: string): void {
  for (const a of artefacts) {
    const file = path.join(root, a.file);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, a.text);
  }
}

/** "A, B differ from SOURCE; run `COMMAND`" */
export function driftMessage(stale: string[], source: string, command: string): string {
  return `${stale.join(', ')} differ${stale.length === 1 ? 's' : ''} from ${source}; run \`${command}\``;
}
