// Every client→server method declared in server/protocol.ts has a handler in a running daemon (the
// real `hearth daemon` process with all its features, over its real socket). Each request is sent
// with params no declaration accepts: a registered handler answers InvalidParams (the router checks
// params before the handler runs, so nothing happens), a missing one MethodNotFound. Notifications
// have no reply: the daemon logs why it dropped one ("dropped notification: params …" for bad params,
// "unknown notification M" for a method nobody handles), which the test reads from its stderr.
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { makeHome, waitFor, type DaemonProc, type HearthHome, type RawConn } from '../helpers/daemon.js';
import { ErrorCodes } from '../../server/wire.js';
import { HEARTH_METHODS, Hello, Lsp, METHOD_PREFIX, Status, type NotificationDecl, type RequestDecl } from '../../server/protocol.js';

type Decl = RequestDecl | NotificationDecl;
const ALL: Decl[] = [...HEARTH_METHODS, ...(Object.values(Lsp) as Decl[])];
const CLIENT_TO_SERVER = ALL.filter((d) => d.direction === 'clientToServer');
/** An array: JSON-RPC allows it as params, and no declared params schema (all objects or null) accepts one. */
const BAD = [{ 'handlers-test': 'not params' }];
const ajv = new Ajv({ strict: false });
/**
 * Declared, not yet served (none now: workspace/didChangeConfiguration is served since config-feature
 * was registered). The test checks that each entry is still unhandled, so it fails (and says to drop
 * the entry) once its handler is registered.
 */
const KNOWN_UNHANDLED = new Map<string, string>([]);

describe('every client→server method has a handler (real daemon, raw socket)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let daemon: DaemonProc;
  let c: RawConn;

  before(async () => {
    h = makeHome('handlers');
    daemon = await h.spawnDaemon();
    c = await h.raw();
    const r = await c.hello(h.token(), { name: 'handlers-probe', version: '0', kind: 'test' });
    assert.equal(r.error, undefined, JSON.stringify(r));
  });
  after(async () => {
    await h?.dispose();
  });

  it('the probe params are invalid for every declared params schema (else a handler would run)', () => {
    for (const d of CLIENT_TO_SERVER) assert.equal(ajv.validate(d.params, BAD), false, `${d.method} accepts ${JSON.stringify(BAD)}`);
    assert.ok(CLIENT_TO_SERVER.filter((d) => d.kind === 'request').length > 30);
  });

  it('a method nobody declared is MethodNotFound (the check below can fail)', async () => {
    const r = await c.request(`${METHOD_PREFIX}handlers/undeclared`, BAD);
    assert.equal(r.error?.code, ErrorCodes.MethodNotFound, JSON.stringify(r));
  });

  for (const d of CLIENT_TO_SERVER.filter((x): x is RequestDecl => x.kind === 'request' && x !== Hello)) {
    it(`request ${d.method} is handled: bad params get InvalidParams, not MethodNotFound`, async () => {
      const r = await c.request(d.method, BAD, 15_000);
      assert.equal(r.error?.code, ErrorCodes.InvalidParams, `${d.method}: ${JSON.stringify(r)}`);
      assert.match(r.error.message, /^params/);
    });
  }

  it(`request ${Hello.method} is handled by the hello gate of a new connection: bad params get InvalidParams`, async () => {
    const fresh = await h.raw();
    const r = await fresh.request(Hello.method, { token: 'x', client: { name: 'x' } });
    assert.equal(r.error?.code, ErrorCodes.InvalidParams, JSON.stringify(r));
    fresh.destroy();
  });

  it('every client→server notification is handled: bad params are dropped as invalid, not as unknown (KNOWN_UNHANDLED must still be unknown)', async () => {
    const lines = (re: RegExp): string[] => daemon.output().split('\n').filter((l) => l.includes('[handlers-probe#') && re.test(l));
    const invalid = /dropped notification: params/;
    // The probe itself: an undeclared notification is logged as unknown.
    const undeclared = `${METHOD_PREFIX}handlers/undeclaredNotification`;
    c.send({ jsonrpc: '2.0', method: undeclared, params: BAD });
    await waitFor(`the daemon to log "unknown notification ${undeclared}"`, () => lines(new RegExp(`unknown notification ${undeclared}$`)).length === 1, 15_000);
    const notifications = CLIENT_TO_SERVER.filter((d) => d.kind === 'notification');
    assert.ok(notifications.length >= 8);
    let handled = 0;
    const gaps: string[] = [];
    for (const d of notifications) {
      c.send({ jsonrpc: '2.0', method: d.method, params: BAD });
      const unknownRe = new RegExp(`unknown notification ${d.method.replace(/[$/]/g, '\\$&')}$`);
      if (KNOWN_UNHANDLED.has(d.method)) {
        await waitFor(`the daemon to log "unknown notification ${d.method}" (${KNOWN_UNHANDLED.get(d.method)}; if it now has a handler, `
          + 'remove it from KNOWN_UNHANDLED in this test)', () => lines(unknownRe).length === 1 || lines(invalid).length > handled, 15_000);
        if (lines(invalid).length > handled) gaps.push(`${d.method} is handled now: remove it from KNOWN_UNHANDLED`);
        continue;
      }
      handled++;
      await waitFor(`the daemon to log that it dropped ${d.method} for its params`, () => lines(unknownRe).length === 1 || lines(invalid).length === handled, 15_000)
        .catch((err: Error) => { throw new Error(`${err.message}; the daemon's log:\n${daemon.output().slice(-2000)}`); });
      if (lines(unknownRe).length) {
        gaps.push(`${d.method} has no handler in the daemon: ${lines(unknownRe)[0]}`);
        handled--;
      }
    }
    assert.deepEqual(gaps, []);
    // The connection is still served: exit with bad params did not close it.
    assert.ok((await c.request(Status.method)).result);
  });
});
