// The README contract on a new machine: a fresh clone, an empty HOME, and the quick start's install
// command taken literally from README.md. Afterwards `hearth` is on PATH and `hearth status` works.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The first command of the README's quick start (the line before its comment). */
export function readmeInstallCommand(readme: string): string {
  const quick = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(quick);
  if (!block) throw new Error('README.md: no ```sh block under "## Quick start"');
  const first = block[1]!.split('\n').find((l) => l.trim() && !l.trim().startsWith('#'));
  if (!first) throw new Error('README.md: the quick start block has no command');
  return first.replace(/\s+#.*$/, '').trim();
}

describe('README quick start on a fresh clone with an empty HOME', function () {
  this.timeout(600_000);
  let dir: string;

  before(function () {
    if (!fs.existsSync(path.join(ROOT, '.git'))) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-fresh-'));
  });

  after(function () {
    if (!dir) return;
    const hearth = path.join(dir, 'home', '.local', 'bin', 'hearth');
    if (fs.existsSync(hearth)) spawnSync(hearth, ['stop'], { env: { ...process.env, HOME: path.join(dir, 'home'), HEARTH_HOME: '' }, timeout: 15_000 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the install command builds, starts the daemon, shows ghost text and leaves `hearth` on PATH', () => {
    const command = readmeInstallCommand(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    const repo = path.join(dir, 'hearth');
    const clone = spawnSync('git', ['clone', '--quiet', '--depth', '1', `file://${ROOT}`, repo], { encoding: 'utf8' });
    assert.equal(clone.status, 0, clone.stderr);
    const home = path.join(dir, 'home');
    fs.mkdirSync(home, { mode: 0o700 });
    // What a new user has: a HOME with nothing in it and no Hearth on PATH. Only npm's download
    // cache is shared with this machine's, so the test does not fetch 400 packages again.
    const cache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
    const systemPath = (process.env.PATH ?? '').split(':').filter((d) => d && !fs.existsSync(path.join(d, 'hearth')));
    const env: NodeJS.ProcessEnv = {
      PATH: [path.join(home, '.local', 'bin'), ...systemPath].join(':'),
      HOME: home,
      LANG: 'C.UTF-8',
      npm_config_cache: cache,
      npm_config_prefer_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    const install = spawnSync('bash', ['-c', command], { cwd: repo, env, encoding: 'utf8', timeout: 540_000 });
    assert.equal(install.status, 0, `\`${command}\` failed:\n${install.stdout}\n${install.stderr}`);
    assert.match(install.stdout, /^ghost text:\s+\S/m, install.stdout);
    for (const noise of [/EBADENGINE/, /Unknown (project|user|env) config/]) assert.doesNotMatch(install.stderr, noise, install.stderr);
    const which = spawnSync('bash', ['-c', 'command -v hearth'], { env, encoding: 'utf8' });
    assert.equal(which.stdout.trim(), path.join(home, '.local', 'bin', 'hearth'), 'hearth is on PATH in ~/.local/bin');
    const status = spawnSync('hearth', ['status', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(status.status, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { home: string };
    assert.equal(s.home, path.join(home, '.local', 'share', 'hearth'), 'state lives under the new HOME');
    assert.equal(spawnSync('hearth', ['stop'], { env, encoding: 'utf8', timeout: 30_000 }).status, 0);
  });
});
