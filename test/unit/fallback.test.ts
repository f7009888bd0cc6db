// Routing with fallback (issue 13) in the planner and the gate, and the route-plan text the CLI
// prints: the routes list is the chain, the n-gram engine ends every completion chain, each
// provider passed over is in plan.fallbacks with its cause; pieces are labelled by role; positions
// are checked against their document.
import assert from 'node:assert/strict';
import { compileUserPolicy, defaultPolicy, parsePolicyText } from '../../core/policy/index.js';
import { fallbackSummary, planRoute, type ContextPiece, type ProviderDescriptor } from '../../core/routing/index.js';
import { fallbackOf, routeOf } from '../../core/completion.js';
import { EgressGate, EgressRefusedError, MemoryLedger } from '../../core/egress/index.js';
import { ProviderHttpError } from '../../core/providers/index.js';
import { EngineError } from '../../core/engines/types.js';
import { PositionError, checkPosition } from '../../core/position.js';
import { formatPlanPieces, pieceRole } from '../../server/format.js';

const ngram: ProviderDescriptor = { id: 'ngram', kind: 'ngram', location: 'local', features: ['completion'] };
const lan: ProviderDescriptor = { id: 'lan-box', kind: 'openai', location: 'lan', features: ['completion'], host: '192.168.1.9:8080', model: 'qwen' };
const cloud: ProviderDescriptor = { id: 'cloud', kind: 'openai', location: 'cloud', features: ['completion', 'chat'], host: 'api.example.com', model: 'big' };
const pieces: ContextPiece[] = [
  { source: { kind: 'buffer', uri: 'file:///ws/a.ts', client: 'neovim', role: 'prefix' }, text: 'const a = ' },
  { source: { kind: 'buffer', uri: 'file:///ws/a.ts', client: 'neovim', role: 'suffix' }, text: ';\n' },
];
const policy = (text: string) => compileUserPolicy(parsePolicyText(text, '/home/u/.config/hearth/policy.yaml'));
const CHAIN = 'default:\n  cloud: allow\n  lan: allow\nroutes:\n  completion: [cloud, lan-box]\n';

describe('fallback chains: planner', () => {
  it('the routes list is the chain and the n-gram engine its implicit last resort', async () => {
    const plan = await planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws' }, policy(CHAIN), { providers: [ngram, lan, cloud] });
    assert.equal(plan.provider?.id, 'cloud');
    assert.deepEqual(plan.fallbacks, []);
    assert.match(plan.route, /^routes\.completion \(.*policy\.yaml:5:15\), then ngram \(the embedded last resort\)$/);
    // Not for other features: a chat chain is exactly what the policy says.
    const chat = await planRoute({ feature: 'chat', pieces }, policy('default:\n  cloud: deny\nroutes:\n  chat: [cloud]\n'), { providers: [ngram, cloud] });
    assert.equal(chat.decision, 'deny');
  });

  it('run-time failures fall through cloud → LAN → local, each with its cause, and the status line says why', async () => {
    const failed = [{ provider: 'cloud', location: 'cloud' as const, cause: 'http-error' as const, reason: 'provider cloud: /v1/completions answered HTTP 503: busy' }];
    const toLan = await planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws', failed }, policy(CHAIN), { providers: [ngram, lan, cloud] });
    assert.equal(toLan.provider?.id, 'lan-box');
    assert.deepEqual(toLan.fallbacks.map((f) => [f.provider, f.cause]), [['cloud', 'http-error']]);
    assert.equal(fallbackSummary(toLan), 'cloud HTTP 503');
    const both = [...failed, { provider: 'lan-box', location: 'lan' as const, cause: 'timeout' as const, reason: 'timed out after 100 ms' }];
    const toLocal = await planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws', failed: both }, policy(CHAIN), { providers: [ngram, lan, cloud] });
    assert.equal(toLocal.provider?.id, 'ngram');
    assert.equal(toLocal.location, 'local');
    const route = routeOf(toLocal);
    assert.equal(route.fallback, 'cloud HTTP 503; lan-box timed out');
    assert.match(route.reason, /^local engine \(default\.local = allow \(built-in default\)\); cloud HTTP 503; lan-box timed out$/);
    assert.equal(toLocal.redactions, 0, 'a local route redacts nothing');
  });

  it('a denial, a missing key and a declined ask are passed over at planning time', async () => {
    const denied = await planRoute({ feature: 'completion', pieces }, policy('routes:\n  completion: [cloud]\nrules:\n  - location: cloud\n    action: deny\n'), { providers: [ngram, cloud] });
    assert.equal(denied.provider?.id, 'ngram');
    assert.equal(denied.decision, 'allow');
    assert.deepEqual(denied.fallbacks.map((f) => [f.provider, f.cause]), [['cloud', 'denied']]);
    assert.equal(fallbackSummary(denied), 'cloud denied by policy');

    const keyless = await planRoute({ feature: 'completion', pieces }, policy(CHAIN), {
      providers: [ngram, lan, { ...cloud, available: 'provider cloud: no API key: …', unavailableCause: 'no-key' }],
    });
    assert.equal(keyless.provider?.id, 'lan-box');
    assert.equal(fallbackSummary(keyless), 'cloud has no API key');

    const ask = policy('routes:\n  completion: [cloud]\nrules:\n  - location: cloud\n    action: ask\n');
    const blocked = await planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws' }, ask, {
      providers: [ngram, cloud],
      askBlocked: (p, f, root) => (p.id === 'cloud' && f === 'completion' && root === '/ws' ? { cause: 'declined', reason: 'declined by you this session' } : null),
    });
    assert.equal(blocked.provider?.id, 'ngram');
    assert.equal(fallbackSummary(blocked), 'cloud declined');
    // askBlocked is consulted only where policy asks: an allowed route is not held up by it.
    const allowed = await planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws' }, policy(CHAIN), {
      providers: [ngram, cloud], askBlocked: () => ({ cause: 'declined', reason: 'x' }),
    });
    assert.equal(allowed.provider?.id, 'cloud');
  });

  it('local first with no routes: no fallbacks at all', async () => {
    const plan = await planRoute({ feature: 'completion', pieces }, defaultPolicy(), { providers: [cloud, ngram] });
    assert.equal(plan.provider?.id, 'ngram');
    assert.deepEqual(plan.fallbacks, []);
    assert.equal(routeOf(plan).fallback, undefined);
  });

  it('failures are classified by what happened', async () => {
    const plan = await planRoute({ feature: 'completion', pieces, client: 'neovim#1' }, policy(CHAIN), { providers: [ngram, cloud] });
    const entry = {} as never;
    assert.equal(fallbackOf(plan, new ProviderHttpError(500, 'provider cloud: /v1/completions answered HTTP 500: boom')).cause, 'http-error');
    assert.equal(fallbackOf(plan, new EngineError('timeout', 'provider cloud timed out after 100 ms')).cause, 'timeout');
    assert.equal(fallbackOf(plan, new EngineError('bad-request', 'provider cloud: no API key: the secret "k" is not set')).cause, 'no-key');
    assert.equal(fallbackOf(plan, new EgressRefusedError('declined', 'declined', entry)).cause, 'declined');
    assert.equal(fallbackOf(plan, new EgressRefusedError('waits', 'cancelled', entry, 'pending')).cause, 'pending');
    assert.equal(fallbackOf(plan, new EgressRefusedError('denied', 'denied', entry)).cause, 'denied');
    assert.equal(fallbackOf(plan, new Error('ECONNREFUSED')).cause, 'failed');
  });
});

describe('fallback chains: the gate remembers answers', () => {
  const key = { provider: 'cloud', feature: 'completion' as const, workspace: '/ws' };
  const askPlan = async () => planRoute({ feature: 'completion', pieces, workspaceRoot: '/ws', client: 'neovim#1' },
    policy('routes:\n  completion: [cloud]\nrules:\n  - location: cloud\n    action: ask\n'), { providers: [{ ...cloud, host: '127.0.0.1:9' }] });

  it('a declined completion ask is remembered for the session and can be revoked; a pending ask blocks until answered', async () => {
    const asked: string[] = [];
    let answer: 'deny' | 'pending' = 'deny';
    const gate = new EgressGate({ ledger: new MemoryLedger(), confirm: async (r) => (asked.push(r.id), answer) });
    await assert.rejects(gate.send({ plan: await askPlan(), url: 'http://127.0.0.1:9/v1/completions', body: { prompt: 'x' } }), /declined by the user/);
    assert.equal(asked.length, 1);
    assert.equal(gate.askBlocked(key)?.cause, 'declined');
    await assert.rejects(gate.send({ plan: await askPlan(), url: 'http://127.0.0.1:9/v1/completions', body: { prompt: 'y' } }), (e: EgressRefusedError) => e.detail === 'declined-earlier');
    assert.equal(asked.length, 1, 'not asked again');
    assert.deepEqual(gate.heldGrants().map((g) => [g.grant, g.key.provider, g.client]), [['declined', 'cloud', 'neovim#1']]);
    assert.equal(gate.revokeHeld(key, 'declined'), true);
    assert.equal(gate.askBlocked(key), null);

    answer = 'pending';
    await assert.rejects(gate.send({ plan: await askPlan(), url: 'http://127.0.0.1:9/v1/completions', body: { prompt: 'z' } }), (e: EgressRefusedError) => e.detail === 'pending');
    assert.equal(gate.askBlocked(key)?.cause, 'pending');
    const id = asked.at(-1)!;
    assert.equal(await gate.answer(id, 'once', 'vscode#2'), false, 'only the client that was asked may answer');
    assert.equal(await gate.answer(id, 'once', 'neovim#1'), true);
    assert.equal(await gate.answer(id, 'once', 'neovim#1'), false, 'answered already');
    assert.equal(gate.askBlocked(key), null);
    assert.deepEqual(gate.heldGrants().map((g) => g.grant), ['once']);
  });
});

describe('route plan text: pieces by role, positions checked', () => {
  it('labels prefix, suffix, other buffer, memory item and workspace file; prefix and suffix differ', () => {
    const lines = formatPlanPieces([
      { source: { kind: 'buffer', uri: 'file:///ws/a.ts', client: 'hearth-cli', role: 'prefix' }, bytes: 120, dataClass: 'code' },
      { source: { kind: 'buffer', uri: 'file:///ws/a.ts', client: 'hearth-cli', role: 'suffix' }, bytes: 120, dataClass: 'code' },
      { source: { kind: 'buffer', uri: 'file:///ws/b.ts', client: 'neovim', role: 'snippet' }, bytes: 80, dataClass: 'code' },
      { source: { kind: 'memory', uri: 'memory:m-42', client: 'vscode', role: 'memory' }, bytes: 22, sentBytes: 20, dataClass: 'memory' },
      { source: { kind: 'workspace', uri: 'file:///ws/lib/c.ts' }, bytes: 300, dataClass: 'code' },
    ]);
    assert.deepEqual(lines, [
      '       120 B  code   prefix         file:///ws/a.ts (buffer of hearth-cli)',
      '       120 B  code   suffix         file:///ws/a.ts (buffer of hearth-cli)',
      '        80 B  code   other buffer   file:///ws/b.ts (open in neovim)',
      '        22 B  memory memory item    memory:m-42 (written in vscode), 20 B after redaction',
      '       300 B  code   workspace file file:///ws/lib/c.ts',
    ]);
    assert.notEqual(lines[0], lines[1]);
    assert.equal(pieceRole({ kind: 'memory', uri: 'memory:1', client: 'neovim' }), 'memory item', 'a memory item is never a buffer');
    assert.equal(pieceRole({ kind: 'file', uri: 'file:///ws/x.ts' }), 'workspace file');
  });

  it('a position past the end of the file, or of its line, names the size', () => {
    const text = 'one\ntwo\nthree\n';
    checkPosition('f.ts', text, 0, 0);
    checkPosition('f.ts', text, 2, 5);
    checkPosition('f.ts', text, 3, 0); // the end of the file, after the last newline
    assert.throws(() => checkPosition('f.ts', text, 4, 0), (e: Error) => e instanceof PositionError && e.message === 'line 5 is past the end of f.ts: it has 3 lines');
    assert.throws(() => checkPosition('f.ts', text, 119, 0), /line 120 is past the end of f\.ts: it has 3 lines/);
    assert.throws(() => checkPosition('f.ts', text, 1, 4), /column 5 is past the end of line 2 of f\.ts: that line has 3 characters \(the last column is 4\)/);
    assert.throws(() => checkPosition('g.ts', 'x', 1, 0), /it has 1 line$/);
    checkPosition('crlf.ts', 'ab\r\ncd', 0, 2);
    assert.throws(() => checkPosition('crlf.ts', 'ab\r\ncd', 0, 3), /that line has 2 characters/);
  });
});
