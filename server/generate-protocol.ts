// Writes every file generated from server/protocol.ts, the one declaration of Hearth's methods:
//   docs/protocol.md                             every method: direction, kind, since, idempotency, doc, schemas
//   extensions/neovim/lua/hearth/protocol.lua    the Neovim plugin's method table
//   node --import tsx server/generate-protocol.ts          rewrite them
//   node --import tsx server/generate-protocol.ts --check  exit 1 if any drifted (naming them and this command)
// test/unit/protocol-generated.test.ts runs the same comparison in the test suite.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { driftMessage, staleArtefacts, writeArtefacts, type Artefact } from './generated-files.js';
import { GENERATE_PROTOCOL_COMMAND, renderLua, renderMarkdown } from './protocol-render.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The generated files (path relative to the checkout → content). */
export function protocolArtefacts(): Artefact[] {
  return [
    { file: 'docs/protocol.md', text: renderMarkdown() },
    { file: 'extensions/neovim/lua/hearth/protocol.lua', text: renderLua() },
  ];
}

/** The generated files under `root` (default: this checkout) that differ from what the declarations give (relative paths). */
export function drifted(root = ROOT): string[] {
  return staleArtefacts(protocolArtefacts(), root);
}

function main(argv: string[]): number {
  // --root DIR: check or write another checkout (the drift test points it at a scratch copy).
  const at = argv.indexOf('--root');
  const root = at >= 0 && argv[at + 1] ? path.resolve(argv[at + 1]!) : ROOT;
  if (argv.includes('--check')) {
    const stale = drifted(root);
    if (stale.length === 0) return 0;
    process.stderr.write(`${driftMessage(stale, 'server/protocol.ts', GENERATE_PROTOCOL_COMMAND)}\n`);
    return 1;
  }
  writeArtefacts(protocolArtefacts(), root);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
