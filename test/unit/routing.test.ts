import assert from 'node:assert/strict';
import { compileUserPolicy, defaultPolicy, parsePolicyText } from '../../core/policy/index.js';
import { explainPlan, planRoute, type ContextPiece, type ProviderDescriptor } from '../../core/routing/index.js';

const AWS_KEY = 'AKIA' + 'Q3EGRT7VXPJ2NMZK';

const ngram: ProviderDescriptor = { id: 'ngram', kind: 'ngram', location: 'local', features: ['completion'] };
const gguf: ProviderDescriptor = { id: 'gguf', kind: 'gguf', location: 'local', features: ['completion', 'chat'] };
const lanBox: ProviderDescriptor = { id: 'lan-box', kind: 'openai', location: 'lan', features: ['completion', 'chat'], host: '192.168.1.9:8080', model: 'qwen' };
const cloud: ProviderDescriptor = { id: 'cloud-gpt', kind: 'openai', location: 'cloud', features: ['completion', 'chat', 'embeddings'], host: 'api.example.com', model: 'gpt-test' };

const pieces: ContextPiece[] = [
  { source: { kind: 'buffer', uri: 'file:///ws/src/main.ts', client: 'vscode' }, text: `const key = "${AWS_KEY}";\nexport const x = 1;\n` },
  { source: { kind: 'file', uri: 'file:///ws/README.md' }, text: '# Project\nDocs — with a non-ASCII dash.\n' },
  { source: { kind: 'file', uri: 'file:///ws/.env' }, text: 'PLAIN=hello-world\nAPI_TOKEN=abcdef123456\n' },
  { source: { kind: 'memory', uri: 'memory:42' }, text: 'The user prefers tabs.' },
  { source: { kind: 'file', uri: 'file:///ws/config/app.yaml', client: 'neovim' }, text: 'port: 8080\n' },
];

const policy = (text: string) => compileUserPolicy(parsePolicyText(text, '/home/u/.config/hearth/policy.yaml'));

describe('planRoute', () => {
  it('lists each data piece with its source, bytes and class, and picks a local provider first', async () => {
    const plan = await planRoute({ feature: 'completion', pieces, client: 'vscode', workspaceRoot: '/ws' }, defaultPolicy(), {
      providers: [cloud, ngram],
    });
    assert.equal(plan.provider?.id, 'ngram');
    assert.equal(plan.location, 'local');
    assert.equal(plan.reason, 'local');
    assert.equal(plan.decision, 'allow');
    assert.equal(plan.rule, 'default.local = allow (built-in default)');
    assert.deepEqual(
      plan.pieces.map((p) => [p.source.uri, p.source.client ?? null, p.bytes, p.dataClass]),
      [
        ['file:///ws/src/main.ts', 'vscode', Buffer.byteLength(pieces[0]!.text), 'code'],
        ['file:///ws/README.md', null, Buffer.byteLength(pieces[1]!.text), 'docs'],
        ['file:///ws/.env', null, Buffer.byteLength(pieces[2]!.text), 'secret'],
        ['memory:42', null, 22, 'memory'],
        ['file:///ws/config/app.yaml', 'neovim', 11, 'config'],
      ],
    );
    assert.ok(Buffer.byteLength(pieces[1]!.text) > pieces[1]!.text.length, 'bytes are UTF-8 bytes, not characters');
    // Nothing leaves the machine, so the engine sees the text as the editor has it.
    assert.equal(plan.redactions, 0);
    assert.equal(plan.pieces[0]!.text, pieces[0]!.text);
  });

  it('says why a cloud route was chosen and redacts what would leave', async () => {
    const p = policy('rules:\n  - feature: chat\n    location: cloud\n    action: allow\n');
    const plan = await planRoute({ feature: 'chat', pieces, workspaceRoot: '/ws' }, p, { providers: [ngram, cloud] });
    assert.equal(plan.provider?.id, 'cloud-gpt');
    assert.equal(plan.provider?.host, 'api.example.com');
    assert.equal(plan.location, 'cloud');
    assert.equal(plan.decision, 'allow');
    assert.equal(plan.rule, '/home/u/.config/hearth/policy.yaml:2:5 (user rule: allow)');
    assert.equal(plan.reason, 'no local provider can do chat');
    const [code, , env] = plan.pieces;
    assert.ok(!code!.text.includes(AWS_KEY));
    assert.match(code!.text, /\[REDACTED:aws-access-key-id\]/);
    assert.deepEqual(code!.redactions, [{ rule: 'aws-access-key-id', count: 1 }]);
    assert.equal(env!.text, '[REDACTED:deny-listed-path]');
    assert.equal(env!.sentBytes, Buffer.byteLength('[REDACTED:deny-listed-path]'));
    assert.equal(plan.redactions, 2);
    assert.equal(plan.sentBytes, plan.pieces.reduce((a, x) => a + x.sentBytes, 0));
    const shown = explainPlan(plan);
    assert.ok(!('text' in shown.pieces[0]!), 'explain shows sources and bytes, not the text');
  });

  it('names the local options that were not usable', async () => {
    const plan = await planRoute({ feature: 'chat', pieces: pieces.slice(0, 1) }, defaultPolicy(), {
      providers: [{ ...gguf, available: 'model not loaded' }, lanBox, cloud],
    });
    assert.equal(plan.provider?.id, 'lan-box');
    assert.equal(plan.decision, 'ask', 'the built-in default asks before anything goes to the LAN');
    assert.equal(plan.reason, 'local gguf: not available: model not loaded');

    const big = await planRoute({ feature: 'chat', pieces: pieces.slice(0, 1) }, defaultPolicy(), {
      providers: [{ ...gguf, maxContextBytes: 10 }, cloud],
    });
    assert.match(big.reason, /local gguf: context of \d+ bytes exceeds its 10/);
  });

  it('follows the routes of the policy and says so', async () => {
    const p = policy('routes:\n  completion: [cloud-gpt, ngram]\nrules:\n  - provider: cloud-gpt\n    action: allow\n');
    const plan = await planRoute({ feature: 'completion', pieces: pieces.slice(0, 1) }, p, { providers: [ngram, cloud] });
    assert.equal(plan.provider?.id, 'cloud-gpt');
    assert.match(plan.route, /^routes\.completion \(\/home\/u\/.config\/hearth\/policy.yaml:2:15\)$/);
    assert.equal(plan.reason, 'routes.completion puts cloud-gpt before local ngram');
  });

  it('deny wins over allow, and a denied provider falls through to the next', async () => {
    const p = policy(
      'routes:\n  chat: [cloud-gpt, gguf]\nrules:\n  - location: cloud\n    action: allow\n  - dataClass: secret\n    location: cloud\n    action: deny\n  - paths: ["src/**"]\n    location: cloud\n    action: ask\n',
    );
    const withSecret = await planRoute({ feature: 'chat', pieces, workspaceRoot: '/ws' }, p, { providers: [cloud, gguf] });
    assert.equal(withSecret.provider?.id, 'gguf');
    assert.equal(withSecret.considered[0]!.decision, 'deny');
    assert.match(withSecret.considered[0]!.skipped!, /policy.yaml:6:5 \(user rule: deny\)/);

    const onlyCloud = await planRoute({ feature: 'chat', pieces, workspaceRoot: '/ws' }, p, { providers: [cloud] });
    assert.equal(onlyCloud.decision, 'deny');
    assert.equal(onlyCloud.provider?.id, 'cloud-gpt', 'a denied plan still names what was refused');
    assert.equal(onlyCloud.redactions, 0, 'nothing is prepared for a route that is refused');

    // allow (location) and ask (paths) both match src/main.ts: the stricter one decides.
    const ask = await planRoute({ feature: 'chat', pieces: pieces.slice(0, 1), workspaceRoot: '/ws' }, p, { providers: [cloud] });
    assert.equal(ask.decision, 'ask');
    assert.match(ask.rule, /policy.yaml:9:5/);
  });

  it('refuses a provider the client asked for that does not exist', async () => {
    const plan = await planRoute({ feature: 'chat', pieces: [], provider: 'nope' }, defaultPolicy(), { providers: [cloud] });
    assert.equal(plan.decision, 'deny');
    assert.equal(plan.provider, null);
    assert.match(plan.reason, /nope: not configured/);
  });
});
