// Writes `contributes.configuration` of extensions/vscode/package.json from server/settings.ts,
// the one declaration of Hearth's settings.
//   node --import tsx extensions/vscode/scripts/generate-settings.mts          rewrite the manifest
//   node --import tsx extensions/vscode/scripts/generate-settings.mts --check  exit 1 if it drifted
// test/unit/settings.test.ts runs the same comparison in the test suite.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { vscodeConfiguration } from '../../../server/settings.js';

export const MANIFEST_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json');

/** The manifest as it should be: the current one with its configuration section regenerated. */
export function regenerate(manifest: Record<string, unknown>): Record<string, unknown> {
  const contributes = (manifest['contributes'] ?? {}) as Record<string, unknown>;
  return { ...manifest, contributes: { ...contributes, configuration: vscodeConfiguration() } };
}

export function manifestIsCurrent(manifest: Record<string, unknown>): boolean {
  return isDeepStrictEqual(manifest, regenerate(manifest));
}

function main(argv: string[]): number {
  const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, unknown>;
  if (argv.includes('--check')) {
    if (manifestIsCurrent(manifest)) return 0;
    process.stderr.write(`${MANIFEST_PATH}: contributes.configuration differs from server/settings.ts; ` +
      'run `node --import tsx extensions/vscode/scripts/generate-settings.mts`\n');
    return 1;
  }
  writeFileSync(MANIFEST_PATH, JSON.stringify(regenerate(manifest), null, 2) + '\n');
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
