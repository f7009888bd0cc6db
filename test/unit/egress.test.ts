import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import initSqlJs, { type Database } from 'sql.js';
import { EngineError } from '../../core/engines/types.js';
import { MIGRATIONS } from '../../core/store/migrations.js';
import {
  EgressGate,
  EgressRefusedError,
  MemoryLedger,
  StoreGrants,
  StoreLedger,
  type ConfirmAnswer,
  type ConfirmRequest,
  type EgressLedgerEntry,
  type LedgerStore,
} from '../../core/egress/index.js';
import { applyWorkspacePolicy, compileUserPolicy, parsePolicyText, type Policy } from '../../core/policy/index.js';
import { AnthropicProvider, OpenAICompatibleProvider, createHttpProviders } from '../../core/providers/index.js';
import { descriptorsFromPolicy, planRoute, renderContext, type ContextPiece, type ProviderDescriptor, type RouteRequest } from '../../core/routing/index.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';

// Secrets planted in the context. None of them may ever reach the server.
const AWS_KEY = 'AKIA' + 'Q3EGRT7VXPJ2NMZK';
const KEY_BODY = Array.from({ length: 8 }, (_, i) => `MIIEpAIBAAKCAQEA${String(i).repeat(4)}u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0`).join('\n');
const PRIVATE_KEY = `-----BEGIN RSA PRIVATE KEY-----\n${KEY_BODY}\n-----END RSA PRIVATE KEY-----`;
const ENV_FILE = 'DATABASE_URL=postgres://admin:s3cr3t-pw@db.internal/prod\nSTRIPE_KEY=sk_live_51Habcdefghijklmnopqrstuv\nFEATURE_FLAG_SALT=plain-looking-value-9431\n';
const SECRET_FRAGMENTS = [AWS_KEY, 'MIIEpAIBAAKCAQEA', 's3cr3t-pw', 'sk_live_51Habcdefghijklmnopqrstuv', 'plain-looking-value-9431', 'BEGIN RSA PRIVATE KEY'];

const pieces: ContextPiece[] = [
  { source: { kind: 'buffer', uri: 'file:///ws/src/deploy.ts', client: 'vscode' }, text: `export const region = "eu-west-1";\nconst accessKeyId = "${AWS_KEY}";\n` },
  { source: { kind: 'file', uri: 'file:///ws/keys/notes.txt' }, text: `deploy key:\n${PRIVATE_KEY}\n` },
  { source: { kind: 'file', uri: 'file:///ws/.env', client: 'neovim' }, text: ENV_FILE },
];

function userPolicy(serverUrl: string, cloudAction: 'allow' | 'ask'): Policy {
  return compileUserPolicy(
    parsePolicyText(
      `providers:
  - id: scripted
    kind: openai
    baseUrl: ${serverUrl}
    model: scripted-model
    location: cloud
    apiKeyEnv: SCRIPTED_KEY
  - id: claude
    kind: anthropic
    baseUrl: ${serverUrl}
    model: claude-test
    location: cloud
    apiKeyEnv: SCRIPTED_KEY
default:
  cloud: ${cloudAction}
`,
      '/home/u/.config/hearth/policy.yaml',
    ),
  );
}

const env = { SCRIPTED_KEY: 'test-key-not-secret' };

class Confirmer {
  calls: ConfirmRequest[] = [];
  answers: ConfirmAnswer[] = [];
  waiting: ((r: ConfirmRequest) => void)[] = [];
  private pending: ((a: ConfirmAnswer) => void) | null = null;
  /** Answers in order; when none is queued, the call waits for answer(). */
  confirm = (r: ConfirmRequest): Promise<ConfirmAnswer> => {
    this.calls.push(r);
    for (const w of this.waiting.splice(0)) w(r);
    const next = this.answers.shift();
    if (next) return Promise.resolve(next);
    return new Promise((resolve) => (this.pending = resolve));
  };
  nextCall(): Promise<ConfirmRequest> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  answer(a: ConfirmAnswer): void {
    const p = this.pending;
    this.pending = null;
    assert.ok(p, 'no confirmation is pending');
    p(a);
  }
}

/** The store interface the ledger adapters use, over a real sql.js database. */
function sqlStore(db: Database): LedgerStore {
  return {
    async write(tx) {
      db.run('BEGIN');
      try {
        for (const s of tx) db.run(s.sql, (s.params ?? []) as never);
        db.run('COMMIT');
      } catch (e) {
        db.run('ROLLBACK');
        throw e;
      }
    },
    all<T>(sql: string, params: unknown[] = []): T[] {
      const st = db.prepare(sql);
      st.bind(params as never);
      const rows: T[] = [];
      while (st.step()) rows.push(st.getAsObject() as T);
      st.free();
      return rows;
    },
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('egress gate against a scripted OpenAI-compatible server', () => {
  let server: ScriptedServer;
  let ledger: MemoryLedger;
  let confirmer: Confirmer;
  let gate: EgressGate;

  beforeEach(async () => {
    server = await startScriptedServer();
    ledger = new MemoryLedger();
    confirmer = new Confirmer();
    gate = new EgressGate({ ledger, confirm: confirmer.confirm });
  });
  afterEach(async () => {
    await server.close();
  });

  async function plan(policy: Policy, req: Partial<RouteRequest> = {}, extra: ProviderDescriptor[] = []) {
    const providers = [...extra, ...descriptorsFromPolicy(policy)];
    return planRoute({ feature: 'chat', pieces, client: 'vscode', workspaceRoot: '/ws', ...req }, policy, { providers });
  }
  const providersOf = (policy: Policy) => createHttpProviders(policy, gate, env);

  it('with a local-only workspace policy the server receives nothing at all', async () => {
    const user = userPolicy(server.url, 'allow');
    const localOnly = applyWorkspacePolicy(user, parsePolicyText('rules:\n  - location: [lan, cloud]\n    action: deny\n', '/ws/.hearth/policy.yaml'), '/ws');
    const gguf: ProviderDescriptor = { id: 'gguf', kind: 'gguf', location: 'local', features: ['completion', 'chat'] };

    const routed = await plan(localOnly, {}, [gguf]);
    assert.equal(routed.provider?.id, 'gguf', 'the router picks the local engine');

    // Even a client that insists on the cloud provider gets a refusal, not a connection.
    const insisted = await plan(localOnly, { provider: 'scripted' });
    assert.equal(insisted.decision, 'deny');
    const scripted = providersOf(localOnly).get('scripted')!;
    await assert.rejects(scripted.forPlan(insisted).chat({ messages: [{ role: 'user', content: renderContext(insisted) }], maxTokens: 8 }), (e: unknown) => {
      assert.ok(e instanceof EgressRefusedError);
      assert.equal(e.outcome, 'denied');
      assert.match(e.message, /\/ws\/.hearth\/policy.yaml:2:5/);
      return true;
    });
    assert.equal(server.connections(), 0);
    assert.equal(server.requests.length, 0);
    assert.equal(ledger.entries.length, 1);
    assert.deepEqual([ledger.entries[0]!.outcome, ledger.entries[0]!.bytes, ledger.entries[0]!.host], ['denied', 0, server.host]);
  });

  it('with ask, sends nothing until the client approves, and nothing after a deny', async () => {
    const policy = userPolicy(server.url, 'ask');
    const p = await plan(policy);
    assert.equal(p.decision, 'ask');
    const provider = providersOf(policy).get('scripted')!.forPlan(p);

    const asked = confirmer.nextCall();
    const call = provider.chat({ messages: [{ role: 'user', content: renderContext(p) }], maxTokens: 16 });
    const shown = await asked;
    // The prompt shows the exact payload; nothing has been sent while it waits.
    assert.equal(server.connections(), 0);
    assert.equal(shown.provider.id, 'scripted');
    assert.equal(shown.client, 'vscode');
    assert.equal(shown.bytes, Buffer.byteLength(shown.payload));
    assert.deepEqual(shown.options, ['once', 'session', 'always', 'deny']);
    assert.deepEqual(shown.sources.map((s) => s.source.uri), pieces.map((x) => x.source.uri));
    confirmer.answer('once');
    const result = await call;
    assert.equal(result.text, 'Hello there');
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.body.toString('utf8'), shown.payload, 'the server received exactly what was shown');

    confirmer.answers.push('deny');
    await assert.rejects(provider.chat({ messages: [{ role: 'user', content: 'again' }], maxTokens: 16 }), (e: unknown) => e instanceof EgressRefusedError && e.outcome === 'declined');
    assert.equal(server.requests.length, 1, 'nothing after a deny');
    assert.equal(server.connections(), 1);
    assert.deepEqual(ledger.entries.map((e) => [e.outcome, e.grant]), [['sent', 'once'], ['declined', null]]);
    assert.equal(ledger.entries[1]!.bytes, 0);
  });

  it('a session grant skips the next prompt; once does not', async () => {
    const policy = userPolicy(server.url, 'ask');
    const p = await plan(policy);
    const provider = providersOf(policy).get('scripted')!.forPlan(p);
    const ask = () => provider.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 });

    confirmer.answers.push('once', 'session');
    await ask();
    assert.equal(confirmer.calls.length, 1);
    await ask();
    assert.equal(confirmer.calls.length, 2, 'once does not carry over to the next request');
    await ask();
    await ask();
    assert.equal(confirmer.calls.length, 2, 'the session grant covers the following requests');
    assert.deepEqual(ledger.entries.map((e) => e.grant), ['once', 'session', 'session', 'session']);
    assert.equal(server.requests.length, 4);

    gate.clearSessionGrants();
    confirmer.answers.push('deny');
    await assert.rejects(ask(), EgressRefusedError);
    assert.equal(confirmer.calls.length, 3);
  });

  it('an always grant is persisted and outlives the gate', async () => {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    // The tables exactly as the store's migration creates them.
    for (const m of MIGRATIONS.filter((x) => x.name === 'egress ledger and grants' || x.name === 'egress ledger hash chain')) {
      db.exec(m.up);
      m.transform?.(db);
      if (m.then) db.exec(m.then);
    }
    const store = sqlStore(db);
    const policy = userPolicy(server.url, 'ask');
    const p = await plan(policy);
    const g1 = new EgressGate({ ledger: new StoreLedger(store), confirm: confirmer.confirm, grants: new StoreGrants(store) });
    confirmer.answers.push('always');
    await createHttpProviders(policy, g1, env).get('scripted')!.forPlan(p).chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 4 });
    const g2 = new EgressGate({ ledger: new StoreLedger(store), confirm: confirmer.confirm, grants: new StoreGrants(store) });
    await createHttpProviders(policy, g2, env).get('scripted')!.forPlan(p).chat({ messages: [{ role: 'user', content: 'y' }], maxTokens: 4 });
    assert.equal(confirmer.calls.length, 1);
    const rows = new StoreLedger(store).list();
    assert.deepEqual(rows.map((r) => [r.outcome, r.grant]), [['sent', 'always'], ['sent', 'always']]);
    assert.equal(rows[0]!.sources.length, 3);
    assert.equal(rows.reduce((a, r) => a + r.bytes, 0), server.bodyBytes());
    db.close();
  });

  it('planted secrets never reach the server, and the ledger counts exactly what it received', async () => {
    const policy = userPolicy(server.url, 'allow');
    const p = await plan(policy);
    const providers = providersOf(policy);
    const chat = providers.get('scripted')!.forPlan(p);
    await chat.chat({ messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: renderContext(p) }], maxTokens: 32 });

    // A caller that bypasses the plan's redacted text and sends raw buffer text is caught too.
    const completion = await planRoute({ feature: 'completion', pieces, client: 'neovim', workspaceRoot: '/ws' }, policy, { providers: descriptorsFromPolicy(policy) });
    assert.equal(completion.provider?.id, 'scripted');
    const raw = pieces.map((x) => x.text).join('\n');
    const streamed: string[] = [];
    const fim = await providers.get('scripted')!.forPlan(completion).complete({ prefix: raw, suffix: `\n${ENV_FILE}`, maxTokens: 16, onText: (t) => streamed.push(t) });
    assert.equal(fim.text, 'return a + b;');
    assert.deepEqual(streamed, ['return ', 'a + b;']);

    const emb = await providers.get('scripted')!.forPlan(completion).embed([raw, 'short']);
    assert.equal(emb.length, 2);

    const claudePlan = await plan(policy, { provider: 'claude' });
    const claude = await providers.get('claude')!.forPlan(claudePlan).chat({ messages: [{ role: 'user', content: raw }], maxTokens: 8, onText: () => undefined });
    assert.equal(claude.text, 'Hi from Claude');

    assert.equal(server.requests.length, 4);
    const everything = server.everything();
    for (const s of SECRET_FRAGMENTS) assert.ok(!everything.includes(s), `the server received ${s}`);
    assert.match(everything, /\[REDACTED:aws-access-key-id\]/);
    assert.match(everything, /\[REDACTED:private-key\]|\[REDACTED:private-key-[a-z-]+\]/);
    assert.match(everything, /\[REDACTED:deny-listed-path\]/);

    // Ledger: one entry per request, byte counts and hashes equal to what the server received.
    const sent = ledger.entries.filter((e: EgressLedgerEntry) => e.outcome === 'sent');
    assert.equal(sent.length, 4);
    assert.deepEqual(sent.map((e) => e.bytes), server.requests.map((r) => r.body.length));
    assert.deepEqual(sent.map((e) => e.sha256), server.requests.map((r) => sha(r.body)));
    assert.equal(sent.reduce((a, e) => a + e.bytes, 0), server.bodyBytes());
    assert.deepEqual(sent.map((e) => e.client), ['vscode', 'neovim', 'neovim', 'vscode']);
    assert.ok(sent.every((e) => e.redactions > 0));
    // The key from the environment went in the header the API expects, and only there.
    assert.equal(server.requests[0]!.headers.authorization, 'Bearer test-key-not-secret');
    assert.equal(server.requests[3]!.headers['x-api-key'], 'test-key-not-secret');
    assert.equal(server.requests[3]!.headers['anthropic-version'], '2023-06-01');
  });

  it('resolves a host name once and connects to that address; a cloud name resolving inside the machine is refused (DNS rebinding)', async () => {
    // Names only this resolver knows (the network is closed): reaching the scripted server through
    // them proves the gate connects to the address it checked, not to a second lookup's answer.
    const port = new URL(server.url).port;
    const names: Record<string, string> = { 'rebind.example.com': '127.0.0.1', 'llm.office.lan': '127.0.0.1' };
    const lookups: string[] = [];
    const pinnedGate = new EgressGate({
      ledger, confirm: confirmer.confirm,
      lookup: async (h) => {
        lookups.push(h);
        if (!names[h]) throw new Error(`no such host ${h}`);
        return [{ address: names[h]!, family: 4 }];
      },
    });
    const policyFor = (host: string, location: string) => compileUserPolicy(parsePolicyText(
      `providers:\n  - id: named\n    kind: openai\n    baseUrl: http://${host}:${port}\n    model: m\n    location: ${location}\n    apiKeyEnv: SCRIPTED_KEY\ndefault:\n  cloud: allow\n  lan: allow\n`,
      '/home/u/.config/hearth/policy.yaml'));
    const send = async (host: string, location: string) => {
      const policy = policyFor(host, location);
      const p = await planRoute({ feature: 'chat', pieces: [], client: 'vscode' }, policy, { providers: descriptorsFromPolicy(policy) });
      return pinnedGate.send({ plan: p, url: `http://${host}:${port}/v1/chat/completions`, body: { messages: [] } });
    };

    await assert.rejects(send('rebind.example.com', 'cloud'), (e: unknown) =>
      e instanceof EgressRefusedError && /rebind\.example\.com is treated as a cloud host but resolves to 127\.0\.0\.1 \(local\).*DNS rebinding/.test(e.message));
    assert.equal(server.connections(), 0, 'nothing reached the address behind the name');
    assert.equal(ledger.entries.at(-1)!.outcome, 'denied');

    // Declared as LAN, the same kind of name is used, and the connection goes to the checked address.
    server.script({ json: { choices: [{ message: { role: 'assistant', content: 'hi' } }] } });
    const res = await send('llm.office.lan', 'lan');
    assert.equal(res.status, 200);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.headers.host, `llm.office.lan:${port}`, 'the Host header keeps the name');
    assert.deepEqual(lookups, ['rebind.example.com', 'llm.office.lan']);
    await assert.rejects(send('unknown.example.com', 'cloud'), /cannot resolve unknown\.example\.com: no such host/);
    assert.equal(ledger.entries.at(-1)!.outcome, 'failed');
  });

  it('refuses a URL that is not the planned provider host, without connecting', async () => {
    const other = await startScriptedServer();
    try {
      const policy = userPolicy(server.url, 'allow');
      const p = await plan(policy);
      await assert.rejects(gate.send({ plan: p, url: `${other.url}/v1/chat/completions`, body: { x: 1 } }), /is not the host of the planned provider/);
      assert.equal(other.connections(), 0);
      assert.equal(server.connections(), 0);
    } finally {
      await other.close();
    }
  });

  it('cancellation and timeouts stop the request and are recorded', async () => {
    const policy = userPolicy(server.url, 'allow');
    const p = await plan(policy);
    const provider = providersOf(policy).get('scripted')!.forPlan(p);
    server.script({ delayMs: 10_000, json: {} });
    const ctl = new AbortController();
    const call = provider.chat({ messages: [{ role: 'user', content: 'slow' }], maxTokens: 4, signal: ctl.signal });
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    ctl.abort();
    await assert.rejects(call, (e: unknown) => e instanceof EngineError && e.code === 'cancelled');

    server.script({ delayMs: 10_000, json: {} });
    await assert.rejects(provider.chat({ messages: [{ role: 'user', content: 'slow' }], maxTokens: 4, timeoutMs: 150 }), (e: unknown) => e instanceof EngineError && e.code === 'timeout');
    assert.deepEqual(ledger.entries.map((e) => e.outcome), ['cancelled', 'failed']);
    // The body had been delivered before the stop: the ledger still counts what the server got.
    assert.deepEqual(ledger.entries.map((e) => e.bytes), server.requests.map((r) => r.body.length));
  });

  it("the provider's timeout starts when the gate sends, not while the user reads the prompt", async () => {
    const policy = userPolicy(server.url, 'ask');
    const p = await plan(policy);
    const provider = providersOf(policy).get('scripted')!.forPlan(p);
    const asked = confirmer.nextCall();
    const call = provider.chat({ messages: [{ role: 'user', content: 'think it over' }], maxTokens: 4, timeoutMs: 200 });
    await asked;
    // The user takes three times the provider's timeout to answer: the request must still go.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(server.connections(), 0);
    confirmer.answer('once');
    assert.equal((await call).text, 'Hello there');
    assert.deepEqual(ledger.entries.map((e) => e.outcome), ['sent']);

    // Once sent, the same timeout still stops a server that does not answer.
    confirmer.answers.push('once');
    server.script({ delayMs: 10_000, json: {} });
    await assert.rejects(provider.chat({ messages: [{ role: 'user', content: 'slow' }], maxTokens: 4, timeoutMs: 200 }), (e: unknown) => e instanceof EngineError && e.code === 'timeout');
  });

  it('HTTP providers refuse to run without a route plan, and report a missing key variable', async () => {
    const policy = userPolicy(server.url, 'allow');
    const cfg = policy.providers[0]!;
    const bare = new OpenAICompatibleProvider({ config: cfg, gate, env });
    await assert.rejects(bare.complete({ prefix: 'a', suffix: '', maxTokens: 4 }), /need.*route plan|under a route plan/);
    const p = await plan(policy);
    const noKey = new OpenAICompatibleProvider({ config: cfg, gate, env: {} });
    await assert.rejects(noKey.forPlan(p).chat({ messages: [{ role: 'user', content: 'x' }], maxTokens: 4 }), /SCRIPTED_KEY .* is not set/);
    const claude = new AnthropicProvider({ config: policy.providers[1]!, gate, env });
    assert.equal(claude.capabilities.fim, false);
    await assert.rejects(claude.complete({ prefix: 'a', suffix: '', maxTokens: 4 }), (e: unknown) => e instanceof EngineError && e.code === 'unsupported');
    assert.equal(server.connections(), 0);
  });
});
