// Writes every file generated from server/settings.ts, the one declaration of Hearth's settings:
//   extensions/vscode/package.json       contributes.configuration (the rest of the manifest is kept)
//   extensions/neovim/lua/hearth/settings.lua   the Neovim plugin's option defaults and types
//   extensions/neovim/doc/hearth.txt, doc/tags  :help hearth, :help hearth-options
//   docs/configuration.md
//   node --import tsx extensions/vscode/scripts/generate-settings.mts          rewrite them
//   node --import tsx extensions/vscode/scripts/generate-settings.mts --check  exit 1 if any drifted
// test/unit/settings.test.ts runs the same comparison in the test suite.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { vscodeConfiguration } from '../../../server/settings.js';
import { GENERATE_COMMAND, renderHelp, renderHelpTags, renderLua, renderMarkdown } from '../../../server/settings-render.js';
import { driftMessage, staleArtefacts, writeArtefacts, type Artefact } from '../../../server/generated-files.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..', '..');
export const MANIFEST_PATH = path.join(HERE, '..', 'package.json');

/** The manifest as it should be: the current one with its configuration section regenerated. */
export function regenerate(manifest: Record<string, unknown>): Record<string, unknown> {
  const contributes = (manifest['contributes'] ?? {}) as Record<string, unknown>;
  return { ...manifest, contributes: { ...contributes, configuration: vscodeConfiguration() } };
}

export function manifestIsCurrent(manifest: Record<string, unknown>): boolean {
  return isDeepStrictEqual(manifest, regenerate(manifest));
}

/** The generated text files (path relative to the checkout → content). */
export function textArtefacts(): Artefact[] {
  const help = renderHelp();
  return [
    { file: 'extensions/neovim/lua/hearth/settings.lua', text: renderLua() },
    { file: 'extensions/neovim/doc/hearth.txt', text: help },
    { file: 'extensions/neovim/doc/tags', text: renderHelpTags(help) },
    { file: 'docs/configuration.md', text: renderMarkdown() },
  ];
}

/** The generated files that differ from what the declaration gives (relative paths). */
export function drifted(): string[] {
  const out: string[] = [];
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
  if (!manifestIsCurrent(manifest)) out.push(path.relative(ROOT, MANIFEST_PATH));
  return [...out, ...staleArtefacts(textArtefacts(), ROOT)];
}

function main(argv: string[]): number {
  if (argv.includes('--check')) {
    const stale = drifted();
    if (stale.length === 0) return 0;
    process.stderr.write(`${driftMessage(stale, 'server/settings.ts', GENERATE_COMMAND)}\n`);
    return 1;
  }
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
  writeFileSync(MANIFEST_PATH, JSON.stringify(regenerate(manifest), null, 2) + '\n');
  writeArtefacts(textArtefacts(), ROOT);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
