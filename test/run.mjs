#!/usr/bin/env node
// The README's test command. Type-checks the project and the VS Code extension (tsx and esbuild
// strip types, so nothing else would catch a type error), builds the bundle (tests spawn
// bin/hearth), then runs every mocha suite. Extra arguments go to mocha, e.g.
// `npm test -- --grep store`. HEARTH_SKIP_TYPECHECK=1 skips the type check (for quick local runs).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function fail(what) {
  // Keep the README's contract: the last line is the summary, even when mocha never ran.
  process.stdout.write(`${what}; the tests were not run\n0 passed, 1 failed, 0 skipped\n`);
  process.exit(1);
}

if (process.env.HEARTH_SKIP_TYPECHECK !== '1') {
  for (const project of ['.', 'extensions/vscode']) {
    const t = Date.now();
    const r = spawnSync(process.execPath, [tsc, '-p', project, '--noEmit', '--pretty', 'false'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail(`type check failed: tsc -p ${project} --noEmit`);
    process.stdout.write(`type check ok: ${project === '.' ? 'project' : project} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
  }
}
const build = spawnSync(process.execPath, ['esbuild.config.mjs'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) fail('build failed: node esbuild.config.mjs');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const r = spawnSync(process.execPath, [mocha, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
