import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxRunner, SandboxUnavailableError, findBwrap } from '../../core/sandbox/index.js';

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
});
