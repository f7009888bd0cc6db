// The hello gate and the socket directory checks, against the real daemon over its real socket.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, type DaemonProc, type HearthHome, type RawConn } from '../helpers/daemon.js';
import { Hello, Status } from '../../server/protocol.js';

const Unauthorized = -32002;

describe('daemon authentication (real daemon, raw socket)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let daemon: DaemonProc;
  before(async () => {
    h = makeHome('auth');
    daemon = await h.spawnDaemon();
  });
  after(async () => {
    await h.dispose();
  });

  /** The refusal: one error reply, then the daemon closes the connection. */
  async function refused(c: RawConn, code: number, message: RegExp): Promise<Record<string, any>> {
    const reply = await c.next(5000);
    assert.ok(reply !== 'timeout', 'no reply and the connection stayed open');
    assert.ok(reply !== 'closed', 'closed without saying why');
    assert.equal(reply.error?.code, code, JSON.stringify(reply));
    assert.match(reply.error.message, message);
    assert.ok(await c.waitClosed(3000), 'the daemon kept the connection open after refusing it');
    return reply;
  }

  it('accepts the right token', async () => {
    const c = await h.raw();
    const r = await c.hello(h.token());
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.result.daemon.pid, daemon.pid);
    const s = await c.request(Status.method);
    assert.ok(s.result.clients.some((x: { name: string }) => x.name === 'raw-test'));
    c.destroy();
  });

  it('refuses a wrong token and closes the connection', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: 'f'.repeat(64), client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 1, max: 1 } } });
    await refused(c, Unauthorized, /wrong token/);
  });

  it('refuses a token that differs in one character', async () => {
    const t = h.token();
    const c = await h.raw();
    const bad = t.slice(0, -1) + (t.endsWith('0') ? '1' : '0');
    c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: bad, client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 1, max: 1 } } });
    await refused(c, Unauthorized, /wrong token/);
  });

  it('refuses a hello without a token', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 1, max: 1 } } });
    await refused(c, Unauthorized, /without a token/);
  });

  it('refuses a hello whose token is not a string', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: 12345, client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 1, max: 1 } } });
    await refused(c, Unauthorized, /without a token/);
  });

  it('refuses a request before hello', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', id: 7, method: Status.method });
    const reply = await refused(c, Unauthorized, /first message must be hearth\/hello/);
    assert.equal(reply.id, 7);
  });

  it('refuses a notification before hello', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///x', languageId: 'ts', version: 1, text: '' } } });
    await refused(c, Unauthorized, /first message must be hearth\/hello/);
  });

  it('refuses hello sent as a notification (no id)', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', method: Hello.method, params: { token: h.token(), client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 1, max: 1 } } });
    await refused(c, Unauthorized, /first message must be hearth\/hello/);
  });

  it('refuses a hello with no common protocol version', async () => {
    const c = await h.raw();
    c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: h.token(), client: { name: 'x', version: '0', kind: 'test' }, protocol: { min: 99, max: 120 } } });
    await refused(c, -32003, /no common protocol version/);
  });

  it('refuses garbage before hello', async () => {
    const c = await h.raw();
    c.write('Content-Length: 5\r\n\r\nhello');
    await refused(c, -32700, /invalid JSON/);
  });

  it('a refused connection leaves no trace in status', async () => {
    const s = await h.status();
    assert.deepEqual(s.clients.map((c) => c.name).filter((n) => n === 'x'), []);
    assert.equal(s.pid, daemon.pid);
  });
});

describe('socket directory checks', function () {
  this.timeout(60_000);
  const homes: HearthHome[] = [];
  after(async () => {
    for (const h of homes) await h.dispose();
  });
  const home = (label: string): HearthHome => {
    const h = makeHome(label);
    homes.push(h);
    return h;
  };

  it('`hearth daemon` refuses a group-readable socket directory and says `chmod 700`', async () => {
    const h = home('dir750');
    fs.mkdirSync(h.paths.runDir, { mode: 0o750 });
    fs.chmodSync(h.paths.runDir, 0o750);
    const r = await h.cli(['daemon'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0, 'the daemon started on a group-readable directory');
    assert.equal(r.signal, null, 'the daemon should exit by itself');
    assert.match(r.stderr, /group or others can reach it/);
    assert.ok(r.stderr.includes(`chmod 700 ${h.paths.runDir}`), r.stderr);
    assert.equal(fs.existsSync(h.paths.socket), false);
    assert.deepEqual(h.daemonPids(), []);
  });

  it('`hearth start` refuses it too, passing the fix on', async () => {
    const h = home('start750');
    fs.mkdirSync(h.paths.runDir, { mode: 0o750 });
    fs.chmodSync(h.paths.runDir, 0o750);
    const r = await h.cli(['start'], { timeoutMs: 30_000 });
    assert.notEqual(r.code, 0);
    assert.equal(r.signal, null);
    assert.ok(r.stderr.includes(`chmod 700 ${h.paths.runDir}`), r.stderr);
    // Following the advice works.
    fs.chmodSync(h.paths.runDir, 0o700);
    const ok = await h.cli(['start'], { timeoutMs: 30_000 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await h.cli(['stop'])).code, 0);
  });

  it('refuses a symlinked socket directory and says `rm`', async () => {
    const h = home('symlink');
    const target = path.join(h.dir, 'elsewhere');
    fs.mkdirSync(target, { mode: 0o700 });
    fs.symlinkSync(target, h.paths.runDir);
    for (const cmd of [['daemon'], ['start']]) {
      const r = await h.cli(cmd, { timeoutMs: 30_000 });
      assert.notEqual(r.code, 0, `hearth ${cmd[0]} accepted a symlinked socket directory`);
      assert.equal(r.signal, null);
      assert.match(r.stderr, /is a symlink/);
      assert.ok(r.stderr.includes(`rm ${h.paths.runDir}`), r.stderr);
    }
    assert.deepEqual(fs.readdirSync(target), [], 'nothing was created behind the link');
    fs.unlinkSync(h.paths.runDir);
    const ok = await h.cli(['start'], { timeoutMs: 30_000 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(fs.lstatSync(h.paths.runDir).isDirectory(), true);
    assert.equal((await h.cli(['stop'])).code, 0);
  });

  it('refuses a group-readable HEARTH_HOME', async () => {
    const h = home('home750');
    fs.chmodSync(h.home, 0o750);
    const r = await h.cli(['daemon'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(`chmod 700 ${h.home}`), r.stderr);
  });

  it('a second `hearth daemon` on the same home exits 3 and leaves the first running', async () => {
    const h = home('lock');
    const first = await h.spawnDaemon();
    const second = await h.cli(['daemon'], { timeoutMs: 20_000 });
    assert.equal(second.code, 3, second.stderr);
    assert.match(second.stderr, /another Hearth daemon already runs/);
    const s = await h.status();
    assert.equal(s.pid, first.pid);
  });
});
