// core/secrets: the home's secrets file (0600, refused when others can read it, atomic replace),
// and an HTTP provider reading its key by name on each use (a key set after the provider was
// built is used; apiKeyEnv still works), against a scripted server on 127.0.0.1. A server echoing
// the key back in an error never gets it into the error message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EgressGate, MemoryLedger } from '../../core/egress/index.js';
import { compileUserPolicy, parsePolicyText, PolicyError } from '../../core/policy/index.js';
import { createHttpProviders } from '../../core/providers/index.js';
import { descriptorsFromPolicy, planRoute } from '../../core/routing/index.js';
import { SecretStore, SecretsError, providerKeyFindings } from '../../core/secrets/index.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';

describe('secrets (core/secrets) and provider keys by name', () => {
  let dir: string;
  let store: SecretStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-secrets-'));
    store = new SecretStore(dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('set / get / list / remove; the file is 0600 and list never carries a value', () => {
    assert.equal(store.get('openai'), undefined);
    assert.equal(store.set('openai', 'sk-one'), false);
    assert.equal(store.set('openai', 'sk-two'), true);
    store.set('anthropic', 'sk-ant');
    assert.equal(store.get('openai'), 'sk-two');
    assert.equal(fs.statSync(store.file).mode & 0o777, 0o600);
    const list = store.list();
    assert.deepEqual(list.map((s) => s.name), ['anthropic', 'openai']);
    assert.ok(!JSON.stringify(list).includes('sk-'), 'list() leaks a value');
    assert.equal(store.remove('openai'), true);
    assert.equal(store.remove('openai'), false);
    assert.equal(store.get('openai'), undefined);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['secrets.json'], 'a temp file was left behind');
  });

  it('refuses bad names, empty values and values with line breaks (nothing stored)', () => {
    assert.throws(() => store.set('../x', 'v'), SecretsError);
    assert.throws(() => store.set('ok', ''), /empty/);
    assert.throws(() => store.set('ok', 'a\nb'), /line break/);
    assert.equal(fs.existsSync(store.file), false);
  });

  it('a file group or others can read is refused, naming chmod 600; a malformed one does not quote its text', () => {
    store.set('openai', 'sk-visible');
    fs.chmodSync(store.file, 0o644);
    assert.throws(() => store.get('openai'), (e: Error) => e instanceof SecretsError && /mode 0644/.test(e.message) && /chmod 600/.test(e.message));
    fs.chmodSync(store.file, 0o600);
    fs.writeFileSync(store.file, '{"format":"hearth-secrets", sk-broken-json-value');
    assert.throws(() => store.get('openai'), (e: Error) => /not valid JSON/.test(e.message) && !e.message.includes('sk-broken'));
  });

  it('the policy names a secret with apiKeySecret; never a key', () => {
    const p = compileUserPolicy(parsePolicyText('providers:\n  - id: o\n    kind: openai\n    model: m\n    apiKeySecret: openai\n', '/p.yaml'));
    assert.equal(p.providers[0]!.apiKeySecret, 'openai');
    assert.throws(() => compileUserPolicy(parsePolicyText('providers:\n  - id: o\n    kind: openai\n    model: m\n    apiKeySecret: "sk live key"\n', '/p.yaml')),
      (e: Error) => e instanceof PolicyError && /apiKeySecret must be the NAME of a secret/.test(e.message));
  });

  it('providerKeyFindings: a missing named secret is an error, a key only in the environment a warning', () => {
    const providers = [
      { id: 'a', apiKeySecret: 'sa' },
      { id: 'b', apiKeyEnv: 'B_KEY' },
      { id: 'c', apiKeyEnv: 'C_KEY' },
      { id: 'd' },
    ];
    store.set('other', 'x');
    const f = providerKeyFindings(providers, store, { B_KEY: 'set' });
    assert.deepEqual(f.map((x) => [x.provider, x.level]), [['a', 'error'], ['b', 'warning'], ['c', 'warning']]);
    assert.equal(f[0]!.fix, 'hearth secrets set sa');
    store.set('sa', 'v');
    assert.equal(providerKeyFindings(providers, store, {})[0]!.level, 'ok');
  });

  describe('an HTTP provider against a scripted server', () => {
    let server: ScriptedServer;
    beforeEach(async () => {
      server = await startScriptedServer();
    });
    afterEach(async () => server.close());

    const setup = async (extra: string, env: Record<string, string> = {}) => {
      const policy = compileUserPolicy(parsePolicyText(
        `default:\n  cloud: allow\nproviders:\n  - id: s\n    kind: openai\n    baseUrl: ${server.url}\n    model: m\n    location: cloud\n${extra}`, '/p.yaml'));
      const gate = new EgressGate({ ledger: new MemoryLedger(), confirm: async () => 'deny' });
      const provider = createHttpProviders(policy, gate, env, store).get('s')!;
      const plan = await planRoute({ feature: 'chat', pieces: [{ source: { kind: 'buffer', uri: 'file:///ws/a.ts', client: 'vscode' }, text: 'hi' }] }, policy, { providers: descriptorsFromPolicy(policy) });
      return provider.forPlan(plan);
    };
    const chat = (p: Awaited<ReturnType<typeof setup>>) => p.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 });

    it('reads the secret on each use: set after the provider was built, it is sent; missing, the error names the command', async () => {
      const p = await setup('    apiKeySecret: s-key\n');
      await assert.rejects(chat(p), /the secret "s-key" \(apiKeySecret in the policy\) is not set; run `hearth secrets set s-key`/);
      assert.equal(server.requests.length, 0);
      store.set('s-key', 'sk-late-but-used');
      await chat(p);
      assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer sk-late-but-used');
    });

    it('apiKeyEnv still works, and the secret wins when both are there', async () => {
      await chat(await setup('    apiKeyEnv: S_KEY\n', { S_KEY: 'sk-from-env' }));
      assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer sk-from-env');
      store.set('s-key', 'sk-from-secret');
      await chat(await setup('    apiKeyEnv: S_KEY\n    apiKeySecret: s-key\n', { S_KEY: 'sk-from-env' }));
      assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer sk-from-secret');
    });

    it('a server echoing the key in an error: the message says [credential], never the key', async () => {
      const key = 'sk-echoed-' + 'x'.repeat(40);
      store.set('s-key', key);
      server.script({ status: 401, json: { error: { message: `Incorrect API key provided: ${key}` } } });
      await assert.rejects(chat(await setup('    apiKeySecret: s-key\n')), (e: Error) => {
        assert.match(e.message, /HTTP 401.*Incorrect API key provided: \[credential\]/);
        assert.ok(!e.message.includes(key));
        return true;
      });
    });
  });
});
