// Bundles the VS Code extension into dist/extension.js (CommonJS; `vscode` is provided by the
// editor). It imports ../../server/protocol.ts and ../../server/settings.ts directly, so method
// names and settings come from the one declaration. Run: `node extensions/vscode/esbuild.mjs`,
// or call `buildExtension()` from another build script.
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildExtension({ minify = true } = {}) {
  await esbuild.build({
    entryPoints: [path.join(here, 'src', 'extension.ts')],
    outfile: path.join(here, 'dist', 'extension.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    sourcemap: 'linked',
    minify,
    logLevel: 'warning',
  });
  return path.join(here, 'dist', 'extension.js');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildExtension();
}
