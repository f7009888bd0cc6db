// Boundary fuzz against the real daemon process over its real socket: more than 10,000 malformed,
// oversized, truncated and wrong-typed messages over a few hundred connections. Each one must get
// the right JSON-RPC error, no reply (notifications), or a closed connection (lost framing); the
// daemon must stay up (same pid) and keep serving a connection that was open the whole time.
//
// Seeded: set FUZZ_SEED=<n> to replay a failing run (the seed is printed at the start).
//
// The daemon runs with a 64 KiB message cap (HEARTH_MAX_MESSAGE_BYTES) so that oversized bodies
// can really be sent, many times. The cap's exact boundary and the in-flight cap are tested on an
// in-process Daemon below: no shipped method stays in flight long enough to fill 64 slots.
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { Daemon } from '../../server/daemon.js';
import { resolvePaths } from '../../server/paths.js';
import { DEFAULT_LIMITS } from '../../server/wire.js';
import {
  frameBytes, makeHome, prng, RawConn, sleep, type DaemonProc, type Frame, type HearthHome,
} from '../helpers/daemon.js';
import { ExportState, Hello, Log, METHOD_PREFIX, RouteExplain, Shutdown, Status } from '../../server/protocol.js';

const ParseError = -32700;
const InvalidRequest = -32600;
const MethodNotFound = -32601;
const InvalidParams = -32602;
const ServerBusy = -32001;
const CAP = 64 * 1024;

type Id = string | number | null;
interface Reply { id: Id; code: number; includes?: string }
/** A message that keeps the connection usable: it gets one error reply, or none. */
interface SoftCase { kind: string; body: Buffer; reply?: Reply; badUri?: string }
/** A message after which the daemon must close the connection. */
interface HardCase { kind: string; bytes: Buffer; preHello: boolean; endAfter?: boolean }

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

class Gen {
  readonly rand: () => number;
  private n = 0;
  constructor(seed: number) {
    this.rand = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  id(): string | number {
    return this.rand() < 0.5 ? this.int(0, 2 ** 31) : `f-${++this.n}-${this.int(0, 1e6)}`;
  }
  str(max = 24): string {
    const alphabet = 'abcXYZ09 _-/$\\"{}[]:,é漢😀\u0000\u2028\n';
    return Array.from({ length: this.int(0, max) }, () => this.pick([...alphabet])).join('');
  }
  junk(): unknown {
    return this.pick<() => unknown>([
      () => this.int(-5, 5), () => this.str(), () => null, () => true, () => [], () => ({}), () => [this.str()], () => ({ [this.str(5)]: this.str() }),
      () => 1.5, () => -1, () => 2 ** 60,
    ])();
  }
  /** A valid-looking message, used as raw material for corruption. */
  validish(): unknown {
    return this.pick<() => unknown>([
      () => ({ jsonrpc: '2.0', id: this.id(), method: Status.method }),
      () => ({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: `file:///f/${this.int(0, 1e6)}.ts`, languageId: 'typescript', version: 1, text: this.str(200) } } }),
      () => ({ jsonrpc: '2.0', id: this.id(), method: RouteExplain.method, params: { textDocument: { uri: 'file:///x.ts' }, position: { line: 1, character: 2 } } }),
      () => ({ jsonrpc: '2.0', id: this.id(), result: { items: [this.str()] } }),
    ])();
  }

  // ---- soft cases -------------------------------------------------------------------------

  parseError(): SoftCase {
    const make = this.pick<() => Buffer>([
      () => {
        const t = JSON.stringify(this.validish());
        return Buffer.from(t.slice(0, this.int(1, t.length - 1)));
      },
      () => {
        const t = JSON.stringify(this.validish());
        const at = this.int(0, t.length);
        return Buffer.from(t.slice(0, at) + this.pick(['{', '}', ']', ',', ':', '"', '\\', 'x', "'"]) + t.slice(at));
      },
      () => {
        const b = Buffer.from(Array.from({ length: this.int(1, 300) }, () => this.int(0, 255)));
        b[this.int(0, b.length - 1)] = 0xff; // never valid UTF-8
        return b;
      },
      () => Buffer.alloc(0),
      () => Buffer.from(this.pick(['{', '[', 'nul', 'tru', '{"a":}', '{"jsonrpc":"2.0",}', "{'jsonrpc':'2.0'}", 'NaN', 'undefined', '01', '{"a":1}}', '--'])),
      () => Buffer.from('['.repeat(this.int(1, 5000))), // deep, unterminated
    ])();
    // The generator must be honest: only bodies that really are not JSON (or not UTF-8) count.
    let ok = false;
    try {
      JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(make));
      ok = true;
    } catch {
      // good: not JSON
    }
    if (ok) return this.parseError();
    return { kind: 'parse-error', body: make, reply: { id: null, code: ParseError } };
  }

  invalidRequest(): SoftCase {
    const id = this.id();
    const cases: Array<() => [unknown, Id]> = [
      () => [[], null],
      () => [[{ jsonrpc: '2.0', id, method: Status.method }], null],
      () => [this.pick([0, 42, -1, 3.25, 'a string', true, false, null]), null],
      () => [{ id, method: Status.method }, id],
      () => [{ jsonrpc: '1.0', id, method: Status.method }, id],
      () => [{ jsonrpc: 2, id, method: Status.method }, id],
      () => [{ jsonrpc: '2.0 ', id, method: Status.method }, id],
      () => [{ jsonrpc: '2.0', id, method: this.pick([1, {}, [], null, '', true]) }, id],
      // `"params": null` is accepted for a method without params (Emacs Eglot sends it): not here.
      () => [{ jsonrpc: '2.0', id, method: Status.method, params: this.pick(['x', 5, true]) }, id],
      () => [{ jsonrpc: '2.0', id: this.pick([{}, [], true, false, { a: 1 }]), method: Status.method }, null],
      () => [{ jsonrpc: '2.0' }, null],
      () => [{ jsonrpc: '2.0', id: null, method: Status.method }, null],
      () => [{ jsonrpc: '2.0', id, method: Status.method, result: 1 }, id],
      () => [{ jsonrpc: '2.0', id, result: 1, error: { code: 1, message: 'x' } }, id],
      () => [{ jsonrpc: '2.0', id }, id],
      () => [{ jsonrpc: '2.0', id, error: this.pick([null, 5, 'x', { code: 'x', message: 'y' }, { code: 1 }]) }, id],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: 'text' }, null],
    ];
    if (this.rand() < 0.05) {
      const params = this.pick([undefined, {}, { id: null }, { id: this.pick([{}, [], true, 1.5e400]) }]);
      const msg = { jsonrpc: '2.0', method: '$/cancelRequest', ...(params === undefined ? {} : { params }) };
      // 1.5e400 is Infinity, which JSON writes as null
      return { kind: 'invalid-cancel', body: Buffer.from(JSON.stringify(msg)), reply: { id: null, code: InvalidParams, includes: 'params.id' } };
    }
    const [msg, replyId] = this.pick(cases)();
    return { kind: 'invalid-request', body: Buffer.from(JSON.stringify(msg)), reply: { id: replyId, code: InvalidRequest } };
  }

  invalidParams(): SoftCase {
    const id = this.id();
    const cases: Array<() => [string, unknown, string]> = [
      () => [RouteExplain.method, { textDocument: { uri: 'file:///a.ts' }, position: { line: this.pick(['x', 1.5, null, true, [], {}]), character: 0 } }, 'params.position.line'],
      () => [RouteExplain.method, { textDocument: { uri: 'file:///a.ts' }, position: { line: 0, character: this.pick([-1, -100, 'x']) } }, 'params.position.character'],
      () => [RouteExplain.method, { position: { line: 0, character: 0 } }, 'params.textDocument'],
      () => [RouteExplain.method, { textDocument: { uri: this.pick([5, null, true, {}]) }, position: { line: 0, character: 0 } }, 'params.textDocument.uri'],
      () => ['textDocument/inlineCompletion', { textDocument: { uri: 'file:///a.ts' }, position: this.pick(['x', 5, null, [], true]) }, 'params.position'],
      () => ['textDocument/inlineCompletion', { textDocument: { uri: 'file:///a.ts' } }, 'params.position'],
      () => ['initialize', { processId: this.pick(['abc', 1.5, true, {}]), capabilities: {} }, 'params.processId'],
      () => ['initialize', { processId: 1 }, 'params.capabilities'],
      () => [ExportState.method, { path: this.pick([5, null, true, {}, []]) }, 'params.path'],
      () => [ExportState.method, {}, 'params.path'],
      () => [Status.method, { [`bogus${this.int(0, 99)}`]: 1 }, 'bogus'],
      () => [Status.method, [], 'params'],
      () => [Shutdown.method, { now: true }, 'now'],
    ];
    const [method, params, field] = this.pick(cases)();
    return { kind: `invalid-params ${method}`, body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, params })), reply: { id, code: InvalidParams, includes: field } };
  }

  unknownMethod(): SoftCase {
    const id = this.id();
    const method = this.pick([
      () => `${METHOD_PREFIX}nope${this.int(0, 999)}`, () => 'foo', () => `$/x${this.int(0, 9)}`, () => this.str(40) || 'x', () => 'x'.repeat(this.int(100, 3000)),
      // notifications are not requests: calling one with an id is an unknown request
      () => 'textDocument/didOpen', () => 'initialized', () => Log.method, () => Hello.method,
      () => '__proto__', () => 'constructor', () => 'toString',
    ])();
    const params = this.rand() < 0.5 ? {} : { junk: this.junk() };
    return { kind: 'unknown-method', body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method, params })), reply: { id, code: MethodNotFound } };
  }

  silent(): SoftCase {
    const badUri = `file:///fuzz/bad-${this.int(0, 1e9)}.ts`;
    const cases: Array<() => [unknown, string | undefined]> = [
      // wrong-typed didOpen shapes: dropped, and the document must not appear in the shared view
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: badUri, languageId: 'ts', version: this.pick(['1', 1.5, null]), text: 'x' } } }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: badUri, languageId: 'ts', version: 1, text: this.pick([null, 5, [], {}]) } } }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: badUri, version: 1, text: 'x' } } }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { document: { uri: badUri } } }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen', params: [badUri] }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didOpen' }, undefined],
      // changes to documents never opened, and malformed changes
      () => [{ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: badUri, version: 2 }, contentChanges: [{ text: 'y' }] } }, badUri],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///fuzz/open.ts', version: 'x' }, contentChanges: [] } }, undefined],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///fuzz/open.ts', version: 9 }, contentChanges: this.junk() } }, undefined],
      () => [{ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri: this.junk() } } }, undefined],
      () => [{ jsonrpc: '2.0', method: `unknown/notification${this.int(0, 99)}`, params: { a: this.junk() } }, undefined],
      () => [{ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: this.pick([this.int(0, 1e6), this.str(8)]) } }, undefined],
      () => [{ jsonrpc: '2.0', method: '$/setTrace', params: { value: this.junk() } }, undefined],
      // a response to a request the daemon never sent
      () => [{ jsonrpc: '2.0', id: this.id(), result: this.junk() }, undefined],
      () => [{ jsonrpc: '2.0', id: this.id(), error: { code: -1, message: this.str() } }, undefined],
      // deep nesting in a loosely typed field
      () => [{ jsonrpc: '2.0', method: 'initialized', params: { deep: JSON.parse('['.repeat(3000) + ']'.repeat(3000)) as unknown } }, undefined],
      () => [{ jsonrpc: '2.0', method: 'exit_', params: { __proto__: { polluted: true } } }, undefined],
    ];
    const [msg, uri] = this.pick(cases)();
    return { kind: 'silent', body: Buffer.from(JSON.stringify(msg)), ...(uri ? { badUri: uri } : {}) };
  }

  /** Incremental edits at random (often invalid) ranges of the connection's one open document. */
  edit(version: number): SoftCase {
    const pos = () => ({ line: this.int(-2, 40), character: this.int(-2, 200) });
    const change = this.rand() < 0.2 ? { text: this.str(100) } : { range: { start: pos(), end: pos() }, text: this.str(30) };
    return { kind: 'edit', body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///fuzz/open.ts', version }, contentChanges: [change] } })) };
  }

  soft(version: number): SoftCase {
    const r = this.rand();
    if (r < 0.22) return this.parseError();
    if (r < 0.44) return this.invalidRequest();
    if (r < 0.64) return this.invalidParams();
    if (r < 0.76) return this.unknownMethod();
    if (r < 0.92) return this.silent();
    return this.edit(version);
  }

  // ---- hard cases -------------------------------------------------------------------------

  hard(): HardCase {
    const preHello = this.rand() < 0.3;
    const kinds: Array<() => HardCase> = [
      () => ({ kind: 'oversized-declared', preHello, bytes: Buffer.from(`Content-Length: ${this.int(CAP + 1, 10 ** 12 - 1)}\r\n\r\n{"jsonrpc":"2.0"`) }),
      () => {
        const body = Buffer.alloc(this.int(CAP + 1, 2 * CAP), 0x20);
        return { kind: 'oversized-body', preHello, bytes: Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]) };
      },
      () => ({ kind: 'no-content-length', preHello, bytes: Buffer.from('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}') }),
      () => ({ kind: 'bad-length', preHello, bytes: Buffer.from(`Content-Length: ${this.pick(['abc', '-1', '1e3', '', '0x10', '12345678901234', ' 5 5', '+5'])}\r\n\r\n{}`) }),
      () => ({ kind: 'no-colon', preHello, bytes: Buffer.from(`${this.pick(['garbage', 'Content-Length 5', 'GET / HTTP/1.1', ':5'])}\r\n\r\nhello`) }),
      () => ({ kind: 'charset', preHello, bytes: Buffer.from(`Content-Length: 2\r\nContent-Type: application/json; charset=${this.pick(['latin1', 'utf-16', 'ascii'])}\r\n\r\n{}`) }),
      () => ({ kind: 'header-flood', preHello, bytes: Buffer.from('X-Junk: ' + 'a'.repeat(DEFAULT_LIMITS.maxHeaderBytes + this.int(1, 3000))) }),
      () => ({ kind: 'binary-junk', preHello, bytes: Buffer.from(Array.from({ length: this.int(4100, 6000) }, () => this.int(0, 255)).map((b) => (b === 13 ? 14 : b))) }),
      () => {
        const body = JSON.stringify(this.validish());
        const cut = this.int(0, body.length - 1);
        return { kind: 'truncated-then-end', preHello, endAfter: true, bytes: Buffer.from(`Content-Length: ${body.length}\r\n\r\n${body.slice(0, cut)}`) };
      },
      () => ({ kind: 'truncated-header-then-end', preHello, endAfter: true, bytes: Buffer.from('Content-Len'.slice(0, this.int(1, 11))) }),
    ];
    if (preHello) {
      // Before hello, anything but a valid hello closes the connection, even well-framed messages.
      kinds.push(() => ({ kind: 'pre-hello-soft', preHello, bytes: frameBytes(this.soft(1).body) }));
      kinds.push(() => ({ kind: 'pre-hello-bad-hello', preHello, bytes: frameBytes({ jsonrpc: '2.0', id: 1, method: Hello.method, params: { token: 'x', client: { name: '', version: '1', kind: 'robot' }, protocol: { min: 1, max: 1 } } }) }));
    }
    return this.pick(kinds)();
  }
}

/** Writes `bytes` in random pieces, sometimes yielding between them, to exercise reassembly. */
async function writeChunked(c: RawConn, g: Gen, bytes: Buffer): Promise<void> {
  if (g.rand() < 0.6) return c.write(bytes);
  let at = 0;
  while (at < bytes.length) {
    const n = g.int(1, Math.max(1, Math.min(bytes.length - at, 64 + g.int(0, 400))));
    c.write(bytes.subarray(at, at + n));
    at += n;
    if (g.rand() < 0.3) await new Promise((r) => setImmediate(r));
  }
}

function key(r: { id: Id; code: number }): string {
  return `${JSON.stringify(r.id)} ${r.code}`;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

describe('fuzz: the daemon boundary (real process, real socket)', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let daemon: DaemonProc;
  let token: string;

  before(async () => {
    process.stderr.write(`      fuzz seed ${SEED} (rerun with FUZZ_SEED=${SEED})\n`);
    h = makeHome('fuzz');
    daemon = await h.spawnDaemon(20_000, { env: { HEARTH_MAX_MESSAGE_BYTES: String(CAP) } });
    token = h.token();
  });
  after(async () => {
    await h.dispose();
  });

  // Found by this fuzz: vscode-jsonrpc dereferences `$/cancelRequest` params before any handler
  // runs and throws on a missing params object or a null/missing id, which killed the daemon.
  it('survives $/cancelRequest with missing params or a null/missing id (regression)', async () => {
    const c = await h.raw();
    assert.ok((await c.hello(token)).result);
    for (const params of [undefined, {}, { id: null }, { id: {} }, { id: [] }, { id: true }]) {
      c.send({ jsonrpc: '2.0', method: '$/cancelRequest', ...(params === undefined ? {} : { params }) });
      const m = await c.next(5000);
      assert.ok(typeof m === 'object', `after $/cancelRequest ${JSON.stringify(params)}: ${String(m)}\n${daemon.output().slice(-1500)}`);
      assert.equal(m.id, null);
      assert.equal(m.error?.code, InvalidParams);
      assert.match(m.error.message, /\$\/cancelRequest needs params.id/);
    }
    // A well-formed cancel of an unknown request is silently accepted.
    c.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 12345 } });
    assert.equal((await c.request(Status.method)).result.pid, daemon.pid);
    assert.equal(daemon.child.exitCode, null);
    c.destroy();
  });

  it('answers or closes on >10,000 malformed messages over hundreds of connections, and stays up', async () => {
    const veteran = await h.connect({ name: 'fuzz-veteran', version: '1', kind: 'test' });
    const g = new Gen(SEED);
    const SOFT_CONNS = 230;
    const PER_CONN = 45;
    const HARD = 260;
    const counts = new Map<string, number>();
    const count = (kind: string): void => void counts.set(kind.split(' ')[0]!, (counts.get(kind.split(' ')[0]!) ?? 0) + 1);
    let sent = 0;
    let sentinels = 0;

    // Generate everything up front from the seed, so the run does not depend on timing.
    const softPlans = Array.from({ length: SOFT_CONNS }, (_, conn) => {
      const cases: SoftCase[] = [];
      for (let i = 0; i < PER_CONN; i++) cases.push(g.soft(i + 2));
      const groups: SoftCase[][] = [];
      for (let i = 0; i < cases.length;) {
        const n = g.int(1, 12);
        groups.push(cases.slice(i, i + n));
        i += n;
      }
      return { conn, groups, chunkSeed: g.int(0, 2 ** 31) };
    });
    const hardPlans = Array.from({ length: HARD }, () => ({ c: g.hard(), chunkSeed: g.int(0, 2 ** 31) }));

    await pool(softPlans, 12, async ({ conn, groups, chunkSeed }) => {
      const cg = new Gen(chunkSeed);
      const c = await h.raw();
      const hello = await c.hello(token, { name: `fuzz-${conn}`, version: '1', kind: 'test' });
      assert.ok(hello.result, `hello on fuzz connection ${conn}: ${JSON.stringify(hello)}`);
      c.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///fuzz/open.ts', languageId: 'typescript', version: 1, text: 'line one\nline two\n' } } });
      const badUris = new Set<string>();
      for (const [gi, group] of groups.entries()) {
        const sentinel = `sentinel-${conn}-${gi}`;
        const bytes = Buffer.concat([...group.map((x) => frameBytes(x.body)), frameBytes({ jsonrpc: '2.0', id: sentinel, method: Status.method })]);
        await writeChunked(c, cg, bytes);
        sent += group.length;
        sentinels++;
        for (const x of group) {
          count(x.kind);
          if (x.badUri) badUris.add(x.badUri);
        }
        const got: Frame[] = [];
        for (;;) {
          const m = await c.next(10_000);
          const ctx = () => `connection ${conn} group ${gi} (seed ${SEED}); sent:\n${group.map((x) => `  ${x.kind}: ${x.body.toString('utf8').slice(0, 200)}`).join('\n')}`;
          assert.ok(m !== 'closed', `the daemon closed a connection that only got recoverable errors: ${ctx()}\ndaemon log (tail):\n${daemon.output().split('\n').slice(-15).join('\n')}`);
          assert.ok(m !== 'timeout', `no reply to the sentinel: ${ctx()}\ngot ${JSON.stringify(got).slice(0, 2000)}`);
          if (m.id === sentinel) {
            assert.ok(m.result?.pid === daemon.pid, `sentinel: ${JSON.stringify(m).slice(0, 300)}`);
            break;
          }
          got.push(m);
        }
        const want = group.filter((x) => x.reply).map((x) => x.reply!);
        assert.deepEqual(got.map((m) => key({ id: m.id as Id, code: m.error?.code })).sort(), want.map(key).sort(),
          `replies differ (seed ${SEED}, connection ${conn}, group ${gi}):\n${group.map((x) => `  ${x.kind}: ${x.body.toString('utf8').slice(0, 160)}`).join('\n')}\ngot: ${JSON.stringify(got).slice(0, 1500)}`);
        for (const w of want.filter((x) => x.includes)) {
          const m = got.find((x) => x.id === w.id && x.error?.code === w.code)!;
          assert.ok(String(m.error.message).includes(w.includes!), `InvalidParams must name ${w.includes}: ${JSON.stringify(m)}`);
        }
        for (const m of got) {
          assert.equal(m.jsonrpc, '2.0');
          assert.equal(typeof m.error?.message, 'string');
          assert.ok(m.error.message.length > 0);
        }
      }
      // Dropped notifications changed nothing: only the one valid document is open for this client.
      const st = await c.request(Status.method, undefined, 10_000);
      const me = (st.result.clients as Array<{ id: string; documents: Array<{ uri: string }> }>).find((x) => x.id === hello.result.clientId);
      assert.ok(me, 'the fuzzed client is still attached');
      assert.deepEqual(me.documents.map((d) => d.uri), ['file:///fuzz/open.ts']);
      for (const u of badUris) assert.ok(!me.documents.some((d) => d.uri === u));
      c.destroy();
    });

    await pool(hardPlans, 12, async ({ c: x, chunkSeed }) => {
      const cg = new Gen(chunkSeed);
      const c = await h.raw();
      if (!x.preHello) {
        const hello = await c.hello(token, { name: 'fuzz-hard', version: '1', kind: 'test' });
        assert.ok(hello.result, JSON.stringify(hello));
      }
      await writeChunked(c, cg, x.bytes);
      if (x.endAfter) c.socket.end();
      sent++;
      count(`${x.kind}${x.preHello ? ' (pre-hello)' : ''}`);
      const closed = await c.waitClosed(10_000);
      assert.ok(closed, `the daemon kept the connection open after ${x.kind}${x.preHello ? ' before hello' : ''} (seed ${SEED}): ${x.bytes.subarray(0, 120).toString('latin1')}`);
      for (const m of c.received) assert.ok(m.error, `only errors may answer ${x.kind}: ${JSON.stringify(m)}`);
    });

    // A body of exactly the cap is still fine on a fresh connection.
    {
      const c = await h.raw();
      assert.ok((await c.hello(token)).result);
      const pad = (n: number) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'initialized', params: { pad: 'x'.repeat(n) } }));
      c.write(frameBytes(pad(CAP - pad(0).length)));
      assert.equal((await c.request(Status.method)).result.pid, daemon.pid);
      c.destroy();
    }

    process.stderr.write(`      sent ${sent} malformed messages (+${sentinels} sentinels) over ${SOFT_CONNS + HARD + 1} connections: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    assert.ok(sent >= 10_000, `only ${sent} messages`);

    // The daemon survived: same pid, a new connection works, and so does the one open all along.
    assert.equal(daemon.child.exitCode, null, daemon.output());
    const fresh = await h.status();
    assert.equal(fresh.pid, daemon.pid);
    const old = await veteran.connection.sendRequest(Status.method) as { pid: number; clients: Array<{ name: string }> };
    assert.equal(old.pid, daemon.pid);
    assert.ok(old.clients.some((x) => x.name === 'fuzz-veteran'));
    // Every fuzz connection is gone from the shared view.
    await sleep(300);
    const after = await h.status();
    assert.deepEqual(after.clients.map((x) => x.name).filter((n) => n.startsWith('fuzz-') && n !== 'fuzz-veteran'), []);
  });
});

describe('limits (in-process Daemon with small caps, real socket)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let daemon: Daemon;
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => (release = r));
  const MAX_BYTES = 4096;
  const MAX_IN_FLIGHT = 64;
  const logs: string[] = [];

  before(async () => {
    h = makeHome('limits');
    daemon = new Daemon({
      paths: resolvePaths(h.env),
      limits: { maxMessageBytes: MAX_BYTES },
      maxInFlight: MAX_IN_FLIGHT,
      log: (level, m) => void logs.push(`${level} ${m}`),
    });
    // A request that stays in flight until the test releases it: nothing shipped is that slow,
    // because every handler answers within a tick or two.
    await daemon.start([(d) => d.router.onRequest({ method: 'test/hold', params: Type.Object({}), result: Type.Object({ held: Type.Boolean() }) }, async () => {
      await gate;
      return { held: true };
    })]);
  });
  after(async () => {
    release();
    await daemon.stop('test over');
    await h.dispose();
  });

  it(`answers ${MAX_IN_FLIGHT} requests in flight on one connection and refuses the rest with ServerBusy`, async () => {
    const c = await h.raw();
    assert.ok((await c.hello(daemon.token)).result);
    const N = 100;
    c.write(Buffer.concat(Array.from({ length: N }, (_, i) => frameBytes({ jsonrpc: '2.0', id: i, method: 'test/hold', params: {} }))));
    const busy: Frame[] = [];
    while (busy.length < N - MAX_IN_FLIGHT) {
      const m = await c.next(10_000);
      assert.ok(typeof m === 'object', `expected ${N - MAX_IN_FLIGHT} ServerBusy replies, got ${busy.length} then ${String(m)}`);
      busy.push(m);
    }
    for (const m of busy) {
      assert.equal(m.error?.code, ServerBusy, JSON.stringify(m));
      assert.match(m.error.message, /in flight/);
    }
    // Busy replies went to the requests past the cap, in order.
    assert.deepEqual(busy.map((m) => m.id), Array.from({ length: N - MAX_IN_FLIGHT }, (_, i) => MAX_IN_FLIGHT + i));
    // Other connections are not affected by this one's cap.
    const other = await h.raw();
    assert.ok((await other.hello(daemon.token)).result);
    assert.equal((await other.request(Status.method)).result.pid, process.pid);
    release();
    const ok: Frame[] = [];
    while (ok.length < MAX_IN_FLIGHT) {
      const m = await c.next(10_000);
      assert.ok(typeof m === 'object', String(m));
      ok.push(m);
    }
    assert.deepEqual(ok.map((m) => m.id).sort((a, b) => a - b), Array.from({ length: MAX_IN_FLIGHT }, (_, i) => i));
    for (const m of ok) assert.deepEqual(m.result, { held: true });
    // The connection is usable again at full capacity.
    gate = Promise.resolve();
    const again = await Promise.all(Array.from({ length: 10 }, () => c.request('test/hold', {})));
    for (const m of again) assert.deepEqual(m.result, { held: true });
  });

  it('accepts a message of exactly the cap and closes on one byte more', async () => {
    const c = await h.raw();
    assert.ok((await c.hello(daemon.token)).result);
    const base = { jsonrpc: '2.0', id: 'cap', method: Status.method, params: {} };
    // Pad a loosely typed notification to exactly MAX_BYTES.
    const pad = (n: number) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'initialized', params: { pad: 'x'.repeat(n) } }));
    const fixed = pad(0).length;
    const exact = pad(MAX_BYTES - fixed);
    assert.equal(exact.length, MAX_BYTES);
    c.write(frameBytes(exact));
    const r = await c.request(base.method, base.params);
    assert.ok(r.result, 'a message of exactly the cap is accepted');
    c.write(frameBytes(pad(MAX_BYTES - fixed + 1)));
    assert.ok(await c.waitClosed(5000));
    assert.equal(c.received[0]?.error?.code, InvalidRequest);
    assert.match(c.received[0]!.error.message, new RegExp(`exceeds the ${MAX_BYTES}-byte cap`));
  });
});
