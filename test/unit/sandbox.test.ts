import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxProtectionError, SandboxRunner, SandboxUnavailableError, findBwrap } from '../../core/sandbox/index.js';
import { evaluateCapability, toolPolicyFromText } from '../../core/tools/capabilities.js';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const NODE = process.execPath;

describe('sandbox (bubblewrap)', function () {
  this.timeout(60_000);
  let dir: string;
  const runner = new SandboxRunner();

  before(function () {
    assert.ok(findBwrap(), 'bwrap must be installed for these tests (apt-get install bubblewrap)');
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-sbx-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('network', () => {
    let server: Server;
    let port: number;
    let connections = 0;
    before(async () => {
      server = createServer((s) => {
        connections++;
        s.on('error', () => undefined);
        s.end('hello\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const probe = (p: number) =>
      `const s=require('net').connect(${p},'127.0.0.1');s.on('connect',()=>{console.log('CONNECTED');s.destroy();}).on('error',e=>{console.log('ERR '+e.code);process.exitCode=3;});`;

    it('cannot connect to a listener on 127.0.0.1 without a network grant', async () => {
      const before = connections;
      const r = await runner.run({ argv: [NODE, '-e', probe(port)], cwd: dir, writable: [dir] });
      assert.equal(r.profile.kind, 'bwrap');
      assert.equal(r.profile.network, false);
      assert.doesNotMatch(r.stdout, /CONNECTED/);
      assert.match(r.stdout, /ERR E(CONNREFUSED|NETUNREACH|ACCES|PERM)/);
      assert.equal(r.exitCode, 3);
      assert.equal(connections, before, 'the listener saw no connection');
    });

    it('connects when the network is granted (the probe itself works)', async () => {
      const before = connections;
      const r = await runner.run({ argv: [NODE, '-e', probe(port)], cwd: dir, writable: [dir], network: true });
      assert.match(r.stdout, /CONNECTED/);
      assert.equal(r.exitCode, 0);
      assert.ok(connections > before);
    });
  });

  it('cannot write outside its granted paths: not /tmp, not the home dir, not the repo', async () => {
    const tag = `hearth-escape-${randomBytes(6).toString('hex')}`;
    const targets = [join('/tmp', tag), join(homedir(), tag), join(REPO, tag), join('/', tag), join('/usr', tag)];
    const granted = join(dir, 'granted.txt');
    const script = [...targets, granted]
      .map((t) => `try{require('fs').writeFileSync(${JSON.stringify(t)},'x');console.log('WROTE ${'${'}${JSON.stringify(t)}}')}catch(e){console.log('FAIL '+${JSON.stringify(t)}+' '+e.code)}`)
      .join(';');
    // The repo is visible (read-only) so the attempt hits a real directory, not a missing one.
    const r = await runner.run({ argv: [NODE, '-e', script], cwd: dir, readOnly: [REPO], writable: [dir] });
    assert.equal(r.exitCode, 0, r.stderr);
    for (const t of targets) {
      assert.equal(existsSync(t), false, `${t} must not exist on the host (sandbox output: ${r.stdout})`);
    }
    assert.match(r.stdout, new RegExp(`FAIL ${REPO.replace(/[/.]/g, '\\$&')}/${tag} EROFS`));
    assert.equal(readFileSync(granted, 'utf8'), 'x', 'the granted path is writable');
  });

  it('protected paths inside a writable one stay read-only', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, '.git'));
    const r = await runner.run({
      argv: [NODE, '-e', `try{require('fs').writeFileSync('.git/config','x');console.log('WROTE')}catch(e){console.log(e.code)}`],
      cwd: dir,
      writable: [dir],
      protect: [join(dir, '.git')],
    });
    assert.equal(r.stdout.trim(), 'EROFS');
    assert.equal(existsSync(join(dir, '.git', 'config')), false);
  });

  it("does not see the parent's environment; sees only what was granted", async () => {
    const canary = `canary-${randomBytes(8).toString('hex')}`;
    process.env.HEARTH_TEST_CANARY = canary;
    try {
      const r = await runner.run({ argv: ['env'], cwd: dir, readOnly: [dir], env: { GRANTED_TOKEN: 'tok-123' } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.doesNotMatch(r.stdout, new RegExp(canary));
      assert.doesNotMatch(r.stdout, /HEARTH_TEST_CANARY/);
      assert.match(r.stdout, /^GRANTED_TOKEN=tok-123$/m);
      const names = r.stdout.trim().split('\n').map((l) => l.split('=')[0]).sort();
      assert.deepEqual(names, ['GRANTED_TOKEN', 'HOME', 'LANG', 'PATH', 'PWD'].sort());
      assert.deepEqual(r.profile.env, ['GRANTED_TOKEN', 'HOME', 'LANG', 'PATH']);
    } finally {
      delete process.env.HEARTH_TEST_CANARY;
    }
  });

  it('runs with no capabilities, in its own session', async () => {
    const r = await runner.run({ argv: ['cat', '/proc/self/status'], cwd: dir, readOnly: [dir] });
    assert.match(r.stdout, /^CapEff:\s+0+$/m);
    assert.match(r.stdout, /^CapBnd:\s+0+$/m);
  });

  it('stops a command at its timeout and cuts output at the cap', async () => {
    const slow = await runner.run({ argv: ['sleep', '30'], cwd: dir, readOnly: [dir], timeoutMs: 300 });
    assert.equal(slow.timedOut, true);
    assert.notEqual(slow.exitCode, 0);
    const loud = await runner.run({ argv: ['yes'], cwd: dir, readOnly: [dir], maxOutputBytes: 10_000 });
    assert.equal(loud.truncated, true);
    assert.equal(loud.stdout.length, 10_000);
  });

  it('refuses with an install hint when bwrap is missing, unless unsandboxed execution is allowed', async () => {
    const missing = new SandboxRunner({ bwrapPath: null });
    await assert.rejects(
      runner.run({ argv: ['true'], cwd: dir }),
      /cwd .* is not inside any path bound into the sandbox/,
    );
    await assert.rejects(missing.run({ argv: ['true'], cwd: dir }), (e: Error) => e instanceof SandboxUnavailableError && /apt-get install bubblewrap/.test(e.message) && /nothing was run/.test(e.message));
    const allowed = new SandboxRunner({ bwrapPath: null, allowUnsandboxed: true });
    const r = await allowed.run({ argv: ['pwd'], cwd: dir });
    assert.equal(r.profile.kind, 'unsandboxed');
    assert.equal(r.stdout.trim(), dir);
  });

  describe('nothing planted for later (protect, protectNested)', () => {
    const sh = (script: string) => ['/bin/bash', '-c', script];
    /** Runs each attempt as its own bash line; prints "name ok" or "name FAIL <error>". */
    const attempts = (list: Record<string, string>) => Object.entries(list)
      .map(([name, cmd]) => `if out=$( { ${cmd} ; } 2>&1 ); then echo "${name} ok"; else echo "${name} FAIL $out" | head -1; fi`)
      .join('\n');
    const results = (stdout: string) => Object.fromEntries(stdout.trim().split('\n').map((l) => {
      const [name, verdict] = l.split(' ');
      return [name!, verdict!];
    }));

    it('a missing protected entry cannot be created in any way, and no placeholder is left on the host', async () => {
      writeFileSync(join(dir, 'keep.txt'), 'k');
      const protect = ['.git', '.hearth', '.envrc', '.vscode'].map((n) => join(dir, n));
      const r = await runner.run({
        argv: sh(attempts({
          mkdirGit: 'mkdir .git/hooks',
          writeConfig: 'printf "[core]\\n\\tfsmonitor = touch /tmp/x\\n" > .git/config',
          symlinkGit: 'ln -s /tmp .git',
          renameOver: 'mkdir evil && mv -T evil .git',
          removeGit: 'rmdir .git',
          renameGitAway: 'mv -T .git gone',
          envrc: 'echo "touch /tmp/y" > .envrc',
          renameOverEnvrc: 'echo x > f && mv -T f .envrc',
          vscode: 'mkdir -p .vscode && echo "{}" > .vscode/tasks.json',
          hearth: 'echo "version: 1" > .hearth/policy.yaml',
          renameWorkspace: `cd .. && mv -T ${dir} ${dir}-moved`,
          control: 'echo fine > made.txt',
        })),
        cwd: dir,
        writable: [dir],
        protect,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      const got = results(r.stdout);
      assert.equal(got.control, 'ok', r.stdout);
      for (const k of Object.keys(got).filter((x) => x !== 'control')) assert.equal(got[k], 'FAIL', `${k} must fail: ${r.stdout}`);
      // On the host: what the command made (made.txt, the leftover evil/ and f), and nothing protected.
      assert.deepEqual(readdirSync(dir).sort(), ['evil', 'f', 'keep.txt', 'made.txt']);
      assert.deepEqual(r.profile.protect, protect);
    });

    it('an existing .git stays read-only: config and hooks cannot change, nor can it be swapped', async () => {
      mkdirSync(join(dir, '.git', 'hooks'), { recursive: true });
      writeFileSync(join(dir, '.git', 'config'), '[core]\n');
      const r = await runner.run({
        argv: sh(attempts({
          config: 'echo "  fsmonitor = touch /tmp/x" >> .git/config',
          hook: 'echo "#!/bin/sh" > .git/hooks/pre-commit',
          swap: 'mv -T .git old',
          replace: 'rm -rf .git',
        })),
        cwd: dir, writable: [dir], protect: [join(dir, '.git')],
      });
      assert.deepEqual(Object.values(results(r.stdout)), ['FAIL', 'FAIL', 'FAIL', 'FAIL'], r.stdout);
      assert.equal(readFileSync(join(dir, '.git', 'config'), 'utf8'), '[core]\n');
      assert.deepEqual(readdirSync(join(dir, '.git', 'hooks')), []);
    });

    it('a .git file keeps the git directory it points to read-only when that is inside the workspace', async () => {
      mkdirSync(join(dir, 'build', 'realgit'), { recursive: true });
      writeFileSync(join(dir, 'build', 'realgit', 'config'), '[core]\n');
      writeFileSync(join(dir, '.git'), 'gitdir: build/realgit\n');
      const r = await runner.run({
        argv: sh(attempts({ target: 'echo "  fsmonitor = x" >> build/realgit/config', file: 'echo "gitdir: /tmp" > .git', control: 'echo y > build/other' })),
        cwd: dir, writable: [dir], protect: [join(dir, '.git')],
      });
      assert.deepEqual(results(r.stdout), { target: 'FAIL', file: 'FAIL', control: 'ok' }, r.stdout);
      assert.equal(readFileSync(join(dir, 'build', 'realgit', 'config'), 'utf8'), '[core]\n');
    });

    it('a symbolic link at a protected path is refused before anything runs', async () => {
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync('elsewhere', join(dir, '.git'));
      await assert.rejects(
        runner.run({ argv: sh('touch ran'), cwd: dir, writable: [dir], protect: [join(dir, '.git')] }),
        (e: Error) => e instanceof SandboxProtectionError && /is a symbolic link \(to elsewhere\)/.test(e.message) && /Nothing was run/.test(e.message) && /protected: \[\.git\]/.test(e.message),
      );
      assert.equal(existsSync(join(dir, 'ran')), false);
    });

    it('nested repositories: existing ones stay read-only, new or swapped ones are moved aside after the run', async () => {
      mkdirSync(join(dir, 'vendored', '.git'), { recursive: true });
      writeFileSync(join(dir, 'vendored', '.git', 'config'), '[core]\n');
      mkdirSync(join(dir, 'sub'));
      const r = await runner.run({
        argv: sh(attempts({
          existing: 'echo "  fsmonitor = x" >> vendored/.git/config',
          created: 'mkdir -p sub/.git && echo "[core]" > sub/.git/config',
          deep: 'mkdir -p a/b/c/.git/hooks',
          viaRename: 'mv vendored vendored-old && mkdir -p vendored/.git && echo "[core]" > vendored/.git/config',
          gitFile: 'mkdir -p w && echo "gitdir: /tmp/evil" > w/.git',
        })),
        cwd: dir, writable: [dir], protect: [join(dir, '.git')], protectNested: ['.git'],
      });
      const got = results(r.stdout);
      assert.equal(got.existing, 'FAIL', r.stdout);
      assert.equal(got.created, 'ok', r.stdout);
      assert.equal(got.viaRename, 'ok', r.stdout);
      const blocked = r.blocked.map((b) => b.path).sort();
      assert.deepEqual(blocked, ['a/b/c/.git', 'sub/.git', 'vendored/.git', 'w/.git'].map((p) => join(dir, p)).sort());
      for (const b of r.blocked) {
        assert.equal(existsSync(b.path), false, `${b.path} is gone`);
        assert.match(b.movedTo!, /\.git\.hearth-blocked-[0-9a-f]{8}$/);
        assert.equal(existsSync(b.movedTo!), true);
      }
      // The original repository the command moved is not new: it is left where the command put it, unchanged.
      assert.equal(readFileSync(join(dir, 'vendored-old', '.git', 'config'), 'utf8'), '[core]\n');
      assert.equal(r.nestedChecked, true);
    });

    it('a placeholder stays while another run still uses it, and is gone when both end (either run may end first)', async () => {
      const git = join(dir, '.git');
      const probe = (delay: string) => runner.run({ argv: sh(`sleep ${delay}; mkdir -p .git/x 2>/dev/null && echo MADE || echo BLOCKED`), cwd: dir, writable: [dir], protect: [git] });
      const pause = (ms: number) => new Promise((res) => setTimeout(res, ms));
      // The run that made the placeholder ends last.
      const long = probe('1.5');
      await pause(300);
      assert.equal((await probe('0')).stdout.trim(), 'BLOCKED');
      assert.equal((await long).stdout.trim(), 'BLOCKED');
      assert.equal(existsSync(git), false, 'no empty .git is left on the host');
      // The run that made the placeholder ends first: its clean-up must not remove the mount point
      // under the later run (the kernel would drop that run's mount with it).
      const first = probe('0.6');
      await pause(300);
      const later = probe('1.5');
      assert.equal((await first).stdout.trim(), 'BLOCKED');
      assert.equal(existsSync(git), true, 'the placeholder is still there for the later run');
      assert.equal((await later).stdout.trim(), 'BLOCKED', 'the later run still cannot create .git');
      assert.equal(existsSync(git), false, 'no empty .git is left on the host');
    });

    it('a placeholder deleted from outside during the run: what the command then created is moved aside afterwards', async () => {
      const git = join(dir, '.git');
      const run = runner.run({ argv: sh('sleep 1; mkdir -p .git/hooks && echo "[core]" > .git/config && echo MADE'), cwd: dir, writable: [dir], protect: [git] });
      await new Promise((res) => setTimeout(res, 400));
      rmdirSync(git); // the mount point, from the host (another process)
      const r = await run;
      assert.equal(r.stdout.trim(), 'MADE', 'the kernel dropped the mount with its mount point (the limit this check covers)');
      assert.equal(existsSync(git), false, 'nothing named .git is left in the workspace');
      assert.equal(r.blocked.length, 1, JSON.stringify(r.blocked));
      assert.equal(r.blocked[0]!.path, git);
      assert.equal(readFileSync(join(r.blocked[0]!.movedTo!, 'config'), 'utf8'), '[core]\n');
    });
  });
});

describe('protected entries in the tool policy (`protected:` grants)', () => {
  const rules = (lines: string[]) => ['version: 1', 'tools:', '  rules:', ...lines, ''].join('\n');
  const ws = '/work/ws';
  const at = (rel: string) => ({ real: join(ws, rel), rel });

  it('a shell.run rule grants protected entries by name; the decision carries them and a warning for the approval', () => {
    const policy = toolPolicyFromText(rules([
      '    - tool: shell.run',
      '      argv: [git, init]',
      '      action: ask',
      '      protected: [.git]',
    ]));
    const d = evaluateCapability(policy, { tool: 'shell.run', argv: ['git', 'init'], path: at('.') });
    assert.deepEqual(d.profile.protected, ['.git']);
    assert.match(d.warning!, /^WARNING: this command may write \.git\/ \(git runs .*\): code that runs outside the sandbox$/);
    const other = evaluateCapability(policy, { tool: 'shell.run', argv: ['git', 'status'], path: at('.') });
    assert.deepEqual(other.profile.protected, []);
    assert.equal(other.warning, null);
  });

  it('an unknown name is an error with its line; a workspace policy cannot grant protected entries', () => {
    assert.throws(() => toolPolicyFromText(rules(['    - tool: shell.run', '      argv: [make]', '      action: ask', '      protected: [.gitx]'])), /policy\.yaml:7:\d+: .*protected/);
    const p = toolPolicyFromText('version: 1\n', 'policy.yaml', rules(['    - tool: shell.run', '      argv: [make]', '      action: ask', '      protected: [.hearth]']));
    assert.match(p.warnings.map((w) => w.message).join('\n'), /only the user policy can let commands write \.git, \.hearth/);
    assert.deepEqual(evaluateCapability(p, { tool: 'shell.run', argv: ['make'], path: at('.') }).profile.protected, []);
  });

  it('fs.edit of a protected entry is never allowed without a prompt unless a rule grants it', () => {
    const broad = toolPolicyFromText(rules(['    - tool: fs.edit', '      paths: ["**"]', '      action: allow']));
    assert.equal(evaluateCapability(broad, { tool: 'fs.edit', path: at('src/app.ts') }).action, 'allow');
    for (const rel of ['.git/config', '.git/hooks/pre-commit', 'vendor/lib/.git/config', '.vscode/tasks.json', '.envrc', '.hearth/policy.yaml']) {
      const d = evaluateCapability(broad, { tool: 'fs.edit', path: at(rel) });
      assert.equal(d.action, 'ask', rel);
      assert.match(d.rule, /raised to ask: .* is protected/);
      assert.match(d.warning!, new RegExp(`this edit writes ${rel.replace(/[.]/g, '\\.')}, inside `));
    }
    const granted = toolPolicyFromText(rules(['    - tool: fs.edit', '      paths: [".vscode/**"]', '      action: allow', '      protected: [.vscode]']));
    assert.equal(evaluateCapability(granted, { tool: 'fs.edit', path: at('.vscode/settings.json') }).action, 'allow');
  });
});
