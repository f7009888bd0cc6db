// A socket that cannot be held hostage (issue 11, must-show 6), against the real daemon: the hello
// deadline closes idle unauthenticated connections; with 500 of them plus 3,000 open documents and
// two near-cap (8 MiB) ones, a well-behaved client's hearth/status stays fast and the daemon small.
// Also: the cap on unauthenticated connections, per-connection document bounds, and "params": null.
import assert from 'node:assert/strict';
import { hostageScenario } from '../helpers/hostage.js';
import { makeHome, type HearthHome } from '../helpers/daemon.js';
import { Hello, Log, Status } from '../../server/protocol.js';

describe('daemon hostage limits (real daemon, real sockets)', function () {
  this.timeout(240_000);

  it('500 idle unauthenticated connections are closed after the hello deadline; with 3,000 + 2 near-cap documents open, status p99 < 100 ms and RSS < 500 MB', async () => {
    const helloTimeoutMs = 3000;
    const r = await hostageScenario({ idle: 500, documents: 3000, big: 2, helloTimeoutMs, baselineCalls: 50, log: (l) => console.log(`      ${l.slice(0, 400)}`) });
    console.log(`      status p50 ${r.underLoad.p50Ms.toFixed(1)} ms, p99 ${r.underLoad.p99Ms.toFixed(1)} ms over ${r.underLoad.calls} calls; RSS peak ${r.maxRssMb.toFixed(0)} MB; idle closed ${r.idleClosedAfterMs.min.toFixed(0)}..${r.idleClosedAfterMs.max.toFixed(0)} ms`);
    assert.equal(r.idleClosed, 500, 'every idle connection was closed');
    assert.ok(r.idleClosedAfterMs.min >= helloTimeoutMs - 50, `closed before the deadline: ${r.idleClosedAfterMs.min} ms`);
    assert.ok(r.idleClosedAfterMs.max <= helloTimeoutMs + 5000, `closed long after the deadline: ${r.idleClosedAfterMs.max} ms`);
    assert.match(r.idleReason ?? '', new RegExp(`no hearth/hello within ${helloTimeoutMs} ms`));
    assert.equal(r.documentsOpen, 3002, 'every document was opened');
    assert.ok(r.underLoad.calls >= 100, `too few status samples for a p99: ${r.underLoad.calls}`);
    assert.ok(r.underLoad.p99Ms < 100, `hearth/status p99 ${r.underLoad.p99Ms.toFixed(1)} ms (limit 100 ms)`);
    assert.ok(r.maxRssMb < 500, `daemon RSS peaked at ${r.maxRssMb.toFixed(0)} MB (limit 500 MB)`);
  });

  describe('bounds', () => {
    let h: HearthHome;
    before(async () => {
      h = makeHome('bounds');
      await h.spawnDaemon(30_000, { env: { HEARTH_MAX_UNAUTHENTICATED: '8', HEARTH_MAX_DOCUMENTS: '3', HEARTH_MAX_DOCUMENT_BYTES: '4096' } });
    });
    after(async () => h.dispose());

    it('over the cap on unauthenticated connections the oldest is closed at once, with the reason; a prompt hello still gets in', async () => {
      const idle = [];
      for (let i = 0; i < 12; i++) idle.push(await h.raw());
      for (const c of idle.slice(0, 4)) {
        assert.ok(await c.waitClosed(5000), 'one of the 4 oldest stayed open');
        assert.match(c.received[0]?.error?.message ?? '', /more than 8 connections are waiting for hearth\/hello; this one, the oldest, is closed/);
      }
      for (const c of idle.slice(4)) assert.equal(c.closed, false, 'a connection within the cap was closed before its deadline');
      const good = await h.raw();
      const r = await good.hello(h.token());
      assert.equal(r.error, undefined, JSON.stringify(r));
      for (const c of idle) c.destroy();
    });

    it('a connection over its document bounds is told so with hearth/log; nothing crashes and its other documents stay', async () => {
      const c = await h.raw();
      await c.hello(h.token(), { name: 'bounded', version: '1', kind: 'test' });
      const open = (uri: string, text: string) => c.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'ts', version: 1, text } } });
      open('file:///a.ts', 'a');
      open('file:///b.ts', 'b');
      open('file:///c.ts', 'c');
      open('file:///d.ts', 'd');
      const m1 = await c.next(5000);
      assert.ok(m1 !== 'closed' && m1 !== 'timeout', String(m1));
      assert.equal(m1.method, Log.method);
      assert.match(m1.params.message, /file:\/\/\/d\.ts was not opened: this connection already has 3 open documents.*HEARTH_MAX_DOCUMENTS/);
      c.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///a.ts', version: 2 }, contentChanges: [{ text: 'x'.repeat(5000) }] } });
      const m2 = await c.next(5000);
      assert.ok(m2 !== 'closed' && m2 !== 'timeout', String(m2));
      assert.match(m2.params.message, /file:\/\/\/a\.ts was not changed \(the daemon keeps version 1\): this connection's open documents would take .*HEARTH_MAX_DOCUMENT_BYTES/);
      const s = await c.request(Status.method);
      const mine = s.result.clients.find((x: { name: string }) => x.name === 'bounded');
      assert.deepEqual(mine.documents.map((d: { uri: string; version: number; bytes: number }) => [d.uri, d.version, d.bytes]),
        [['file:///a.ts', 1, 1], ['file:///b.ts', 1, 1], ['file:///c.ts', 1, 1]]);
      c.destroy();
    });

    it('parameterless methods accept "params": null (Emacs Eglot sends it with shutdown)', async () => {
      const c = await h.raw();
      await c.hello(h.token());
      c.send({ jsonrpc: '2.0', id: 'sd', method: 'shutdown', params: null });
      const r = await c.next(5000);
      assert.ok(r !== 'closed' && r !== 'timeout', String(r));
      assert.deepEqual([r.id, r.error, r.result], ['sd', undefined, null]);
      const s = await c.request(Status.method, null);
      assert.equal(s.error, undefined, JSON.stringify(s.error));
      c.destroy();
    });

    it('before hello, a message over the unauthenticated cap closes the connection and says why', async () => {
      const c = await h.raw();
      c.send({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: 'x'.repeat(70_000) } });
      const r = await c.next(5000);
      assert.ok(r !== 'closed' && r !== 'timeout', String(r));
      assert.match(r.error.message, /before hearth\/hello exceeds the 65536-byte cap for unauthenticated connections/);
      assert.ok(await c.waitClosed(3000));
    });
  });
});
