// The one mapper from domain errors to JSON-RPC codes (server/errors.ts): each class it knows gets
// its code by type (a look-alike with the same `name` gets none), and the session applies it to
// whatever a handler throws, over a real socket to an in-process daemon.
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { ResponseError } from 'vscode-jsonrpc';
import { LSPErrorCodes } from 'vscode-languageserver-protocol';
import { rpcErrorOf } from '../../server/errors.js';
import { HearthErrorCodes } from '../../server/protocol.js';
import { ErrorCodes } from '../../server/wire.js';
import { Daemon } from '../../server/daemon.js';
import { resolvePaths } from '../../server/paths.js';
import { DocumentNotOpenError } from '../../core/completion.js';
import { PositionError } from '../../core/position.js';
import { EgressRefusedError, type EgressLedgerEntry } from '../../core/egress/index.js';
import { PolicyDeniedError } from '../../core/routing/service.js';
import type { RoutePlan } from '../../core/routing/plan.js';
import { MemoryError } from '../../core/memory/index.js';
import { ModelRegistryError } from '../../core/models/index.js';
import { makeHome, type HearthHome } from '../helpers/daemon.js';

const entry = { id: 'e1' } as unknown as EgressLedgerEntry;
const plan = { feature: 'completion', reason: 'rule says deny', rule: 'deny-all' } as unknown as RoutePlan;

/** Each domain error the daemon answers with its own code, and that code. */
const CASES: Array<{ what: string; err: () => Error; code: number; data?: unknown }> = [
  { what: 'DocumentNotOpenError', err: () => new DocumentNotOpenError('file:///x.ts'), code: ErrorCodes.InvalidParams },
  { what: 'PositionError', err: () => new PositionError('x.ts:9:1 is past the end (3 lines)'), code: ErrorCodes.InvalidParams },
  { what: 'EgressRefusedError', err: () => new EgressRefusedError('declined by you', 'declined', entry), code: HearthErrorCodes.PolicyDenied },
  { what: 'PolicyDeniedError', err: () => new PolicyDeniedError(plan), code: HearthErrorCodes.PolicyDenied },
  { what: 'MemoryError paused', err: () => new MemoryError('paused', 'memory writes from "vim" are paused'), code: HearthErrorCodes.MemoryPaused },
  { what: 'MemoryError not-found', err: () => new MemoryError('not-found', 'no memory item m1'), code: HearthErrorCodes.NotFound },
  { what: 'MemoryError invalid', err: () => new MemoryError('invalid', 'text is empty'), code: ErrorCodes.InvalidParams },
  { what: 'MemoryError closed', err: () => new MemoryError('closed', 'memory is closed'), code: ErrorCodes.InvalidParams },
  {
    what: 'ModelRegistryError egress-refused', err: () => new ModelRegistryError('egress-refused', 'policy denies model-download', ['rule r1']),
    code: HearthErrorCodes.PolicyDenied, data: { code: 'egress-refused', reasons: ['rule r1'] },
  },
  {
    what: 'ModelRegistryError cancelled', err: () => new ModelRegistryError('cancelled', 'the download was cancelled'),
    code: LSPErrorCodes.RequestCancelled, data: { code: 'cancelled', reasons: [] },
  },
  {
    what: 'ModelRegistryError checksum', err: () => new ModelRegistryError('checksum', 'sha256 differs', ['want a', 'got b']),
    code: ErrorCodes.InvalidParams, data: { code: 'checksum', reasons: ['want a', 'got b'] },
  },
];

describe('rpcErrorOf (server/errors.ts)', () => {
  for (const c of CASES) {
    it(`maps ${c.what} to ${c.code} with its message`, () => {
      const err = c.err();
      const r = rpcErrorOf(err);
      assert.ok(r instanceof ResponseError, `${c.what} was not mapped`);
      assert.equal(r.code, c.code);
      assert.equal(r.message, err.message);
      assert.deepEqual(r.data, c.data);
    });
  }

  it('maps by class, not by name: a plain Error named like a domain error is a daemon fault (null)', () => {
    for (const name of ['EgressRefusedError', 'PolicyDeniedError', 'MemoryError', 'ModelRegistryError', 'DocumentNotOpenError', 'PositionError']) {
      const look = Object.assign(new Error('look-alike'), { name, code: 'paused' });
      assert.equal(rpcErrorOf(look), null, name);
    }
    assert.equal(rpcErrorOf(new Error('boom')), null);
    assert.equal(rpcErrorOf('a string'), null);
    assert.equal(rpcErrorOf(undefined), null);
  });
});

describe('the session applies the mapper to what a handler throws (in-process daemon, real socket)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let daemon: Daemon;
  const logs: string[] = [];
  const Throw = { method: 'test/throw', params: Type.Object({ i: Type.Integer() }), result: Type.Null() };
  const Plain = { method: 'test/plain', params: Type.Object({}), result: Type.Null() };
  const Own = { method: 'test/own', params: Type.Object({}), result: Type.Null() };

  before(async () => {
    h = makeHome('errors');
    daemon = new Daemon({ paths: resolvePaths(h.env), log: (level, m) => void logs.push(`${level} ${m}`) });
    await daemon.start([(d) => {
      d.router.onRequest(Throw, async ({ i }) => {
        await Promise.resolve();
        throw CASES[i]!.err();
      });
      d.router.onRequest(Plain, () => {
        throw Object.assign(new Error('disk on fire'), { name: 'EgressRefusedError' });
      });
      d.router.onRequest(Own, () => {
        throw new ResponseError(HearthErrorCodes.NotFound, 'built by the handler');
      });
    }]);
  });
  after(async () => {
    await daemon?.stop('test over');
    await h?.dispose();
  });

  it('answers every domain error with its code, message and data', async () => {
    const c = await h.raw();
    assert.ok((await c.hello(daemon.token)).result);
    for (const [i, k] of CASES.entries()) {
      const m = await c.request(Throw.method, { i });
      assert.equal(m.error?.code, k.code, `${k.what}: ${JSON.stringify(m)}`);
      assert.equal(m.error.message, k.err().message);
      assert.deepEqual(m.error.data, k.data);
    }
    c.destroy();
  });

  it('answers any other error as InternalError naming the method, and logs it; a ResponseError passes unchanged', async () => {
    const c = await h.raw();
    assert.ok((await c.hello(daemon.token)).result);
    const plain = await c.request(Plain.method, {});
    assert.equal(plain.error?.code, ErrorCodes.InternalError, JSON.stringify(plain));
    assert.equal(plain.error.message, 'test/plain failed: disk on fire');
    assert.ok(logs.some((l) => l.startsWith('error ') && l.includes('test/plain failed')), logs.join('\n'));
    const own = await c.request(Own.method, {});
    assert.equal(own.error?.code, HearthErrorCodes.NotFound);
    assert.equal(own.error.message, 'built by the handler');
    c.destroy();
  });
});
