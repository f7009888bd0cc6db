// Packs the VS Code extension as a .vsix:
//   1. refuses a manifest whose settings drifted from server/settings.ts,
//   2. bundles src/extension.ts into dist/extension.js (esbuild.mjs),
//   3. copies the root CLI bundle (dist/hearth.mjs, built by the root esbuild.config.mjs) and the
//      pure-JS packages it loads at run time into dist/, so the extension runs `hearth lsp --stdio`
//      with no separate install (hearth.path overrides it),
//   4. runs @vscode/vsce 3.9.2: $VSCE if set (test/e2e/setup.sh installs it in test/e2e/.tools/vsce),
//      else `npx --yes @vscode/vsce@3.9.2`.
// Usage: node extensions/vscode/package.mjs [--out FILE]; prints the .vsix path on its last line.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { buildExtension } from './esbuild.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8'));
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(here, `${manifest.name}-${manifest.version}.vsix`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`package.mjs: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}

// 1. Settings drift.
run(process.execPath, ['--import', 'tsx', path.join(here, 'scripts', 'generate-settings.mts'), '--check'], { cwd: root });

// 2. The extension bundle.
rmSync(path.join(here, 'dist'), { recursive: true, force: true });
await buildExtension();

// 3. The CLI. Packages the root bundle keeps external and loads from node_modules: the pure-JS
// ones travel with the extension; native engines (node-llama-cpp, onnxruntime) do not, and the
// daemon reports them unavailable while the built-in n-gram completer keeps working.
const cli = path.join(root, 'dist', 'hearth.mjs');
if (!existsSync(cli)) {
  process.stderr.write(`package.mjs: ${cli} is missing; run \`npm run build\` in ${root} first\n`);
  process.exit(1);
}
// Not its source map: it embeds the sources of the bundled secret-scanning rules, whose sample
// tokens vsce's own secret scan rightly refuses to publish (and it would add 1.5 MB).
cpSync(cli, path.join(here, 'dist', 'hearth.mjs'));
const require = createRequire(path.join(root, 'package.json'));
// package → the files of it the CLI loads (checked: the root bundle imports only sql.js at run time).
const runtimeFiles = { 'sql.js': ['package.json', 'LICENSE', 'dist/sql-wasm.js', 'dist/sql-wasm.wasm'] };
for (const [pkg, files] of Object.entries(runtimeFiles)) {
  const pkgDir = path.dirname(require.resolve(`${pkg}/package.json`));
  for (const f of files) {
    const dest = path.join(here, 'dist', 'node_modules', pkg, f);
    mkdirSync(path.dirname(dest), { recursive: true });
    cpSync(path.join(pkgDir, f), dest);
  }
}

// The packed CLI must start with only what travels with it; say so loudly when it cannot (then
// users need hearth.path), rather than shipping an extension that fails on first use.
// Probe a copy outside the repository, where Node cannot fall back to the root node_modules.
const probeDir = mkdtempSync(path.join(tmpdir(), 'hearth-vsix-probe-'));
cpSync(path.join(here, 'dist'), path.join(probeDir, 'dist'), { recursive: true });
const probe = spawnSync(process.execPath, [path.join(probeDir, 'dist', 'hearth.mjs'), 'version'], { cwd: probeDir, encoding: 'utf8', timeout: 30_000 });
rmSync(probeDir, { recursive: true, force: true });
if (probe.status !== 0) {
  const why = (probe.stderr || probe.stdout || '').split('\n').find((l) => /Error|Cannot find/.test(l)) ?? `exit ${probe.status}`;
  process.stderr.write(`package.mjs: WARNING: the packed CLI does not start on its own (${why.trim()}); ` +
    'the extension will need hearth.path set to a Hearth CLI. Keep native engines behind dynamic import() in the root bundle.\n');
}

// 4. vsce.
const vsce = process.env.VSCE ? path.resolve(process.env.VSCE) : undefined;
const [cmd, ...pre] = vsce ? [vsce] : ['npx', '--yes', '@vscode/vsce@3.9.2'];
run(cmd, [...pre, 'package', '--no-dependencies', '--out', out], { cwd: here });
console.log(out);
