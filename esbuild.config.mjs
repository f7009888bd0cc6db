// Bundles the CLI/daemon into dist/hearth.mjs (run by bin/hearth) and the VS Code extension. Native or
// large runtime packages stay external and load from node_modules.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

const external = ['node-llama-cpp', '@huggingface/transformers', 'onnxruntime-node', 'sql.js', '@node-llama-cpp/*'];

await esbuild.build({
  entryPoints: ['server/cli.ts'],
  outfile: 'dist/hearth.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external,
  banner: { js: "import { createRequire as __hearthCreateRequire } from 'node:module'; const require = __hearthCreateRequire(import.meta.url);" },
  define: { __HEARTH_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});

// The VS Code extension (extensions/vscode/dist/extension.js); `node extensions/vscode/package.mjs` packs the .vsix.
const { buildExtension } = await import('./extensions/vscode/esbuild.mjs');
await buildExtension();
