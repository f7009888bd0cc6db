import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { redactJson, redactKnown, redactText, redactTexts } from '../../core/egress/redact.js';
import { CompletionService } from '../../core/completion.js';
import { DocumentRegistry } from '../../core/documents.js';
import { EgressGate, MemoryLedger } from '../../core/egress/index.js';
import { defaultPolicy } from '../../core/policy/index.js';
import { ModelRouter } from '../../core/routing/service.js';
import { planRoute } from '../../core/routing/index.js';
import { Gen, KINDS, leakedFragment, makeBenign, makeSecrets, seededRng } from '../helpers/secret-corpus.js';

describe('redaction', () => {
  it('uses the maintained rule names where secretlint knows the secret', async () => {
    const r = await redactText(`const gh = "ghp_${'a1B2'.repeat(9)}";\nconst aws = "AKIA${'Q3EGRT7VXPJ2NMZK'}";\n`);
    assert.deepEqual(r.redactions.map((x) => x.rule).sort(), ['aws-access-key-id', 'github-token']);
    assert.ok(!r.text.includes('ghp_'));
  });

  it('redacts a private key block cut off by the end of a completion prefix', async () => {
    const prefix = 'const pem = `\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ';
    const r = await redactText(prefix);
    assert.equal(r.text, 'const pem = `\n[REDACTED:private-key]');
  });

  it('redacts dotenv-style and quoted secret assignments but leaves ordinary code alone', async () => {
    const r = await redactText('export DB_PASSWORD=hunter2hunter2\nconst cfg = { "apiKey": "0123456789abcdef" };\n');
    assert.equal(r.text, 'export DB_PASSWORD=[REDACTED:secret-assignment]\nconst cfg = { "apiKey": "[REDACTED:secret-assignment]" };\n');
    const code = 'const tokenizer = new Tokenizer(options);\nfunction getSecretName(id: string) { return `secret-${id}`; }\nconst password = readPassword();\n';
    const untouched = await redactText(code);
    assert.equal(untouched.text, code);
    assert.equal(untouched.count, 0);
  });

  it('is idempotent: a redacted text has nothing left to redact', async () => {
    const once = await redactText('TOKEN=abcdefghijkl\nconst k = "password": "abcdefghijk";\n-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n');
    assert.equal(once.count, 3);
    const twice = await redactText(once.text);
    assert.equal(twice.text, once.text);
    assert.equal(twice.count, 0);
  });

  it('redacts every string value of a JSON body, and known deny-listed text', async () => {
    const { value, count } = await redactJson(
      { model: 'm', messages: [{ role: 'user', content: 'key AKIAQ3EGRT7VXPJ2NMZK and PLAIN=visible-value' }], n: 1 },
      (s) => redactKnown(s, ['PLAIN=visible-value']),
    );
    assert.deepEqual(value, { model: 'm', messages: [{ role: 'user', content: 'key [REDACTED:aws-access-key-id] and [REDACTED:deny-listed-path]' }], n: 1 });
    assert.equal(count, 2);
  });
});

describe('redaction by kind (own rules, without secretlint)', () => {
  const own = async (text: string) => (await redactTexts([{ text }], { secretlint: false }))[0]!;

  it('catches every generated kind by itself, and leaves the benign corpus unchanged', async () => {
    const seed = Number(process.env.HEARTH_CORPUS_SEED) || 4242;
    const g = new Gen(seededRng(seed));
    const secrets = makeSecrets(g, KINDS.length * 3);
    const leaks: string[] = [];
    for (const s of secrets) {
      const r = await own(s.text);
      const f = leakedFragment(s.values, r.text);
      if (f) leaks.push(`${s.kind}: ${JSON.stringify(f)} in ${JSON.stringify(r.text.slice(0, 120))}`);
    }
    assert.deepEqual(leaks, [], `seed ${seed}`);
    const changed: string[] = [];
    for (const b of makeBenign(g, 300)) if ((await own(b)).text !== b) changed.push(b.slice(0, 120));
    assert.deepEqual(changed, [], `seed ${seed}`);
  });

  it('redacts key body lines when the text starts below BEGIN (END present) and when it has neither line', async () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const lines = privateKey.trim().split('\n');
    const tail = `${lines.slice(4).join('\n')}\nconst after = 1;\n`;
    const r1 = await own(tail);
    assert.equal(r1.text, '[REDACTED:private-key]\nconst after = 1;\n');
    const middle = `${lines.slice(3, 9).join('\n')}\n`;
    const r2 = await own(middle);
    assert.equal(leakedFragment(lines.slice(3, 9), r2.text), null, r2.text);
    // A certificate's body is public and stays.
    const cert = `-----BEGIN CERTIFICATE-----\n${lines.slice(1, -1).join('\n')}\n-----END CERTIFICATE-----`;
    assert.equal((await own(cert)).text, cert);
  });

  it('knows secret-named values from code that merely mentions them', async () => {
    for (const [text, want] of [
      ['client_secret: Zx8kQ2vLm9Np4Rt7Wy1B', 'client_secret: [REDACTED:secret-assignment]'],
      ['url: redis://default:s3cr3tP4ss@cache:6379/0', 'url: redis://default:[REDACTED:url-password]@cache:6379/0'],
      ['AccountKey=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8xMjM0NTY3OD==;EndpointSuffix=x', 'AccountKey=[REDACTED:secret-assignment];EndpointSuffix=x'],
      ['const password: string = "Tr0ub4dor&3";', 'const password: string = "[REDACTED:secret-assignment]";'],
      ['key = os.getenv("API_KEY", "q8Zt4Lr7Vn2Xc9Bm1Kd6")', 'key = os.getenv("API_KEY", "[REDACTED:secret-assignment]")'],
    ] as const) assert.equal((await own(text)).text, want);
    for (const code of ['const max_tokens = 4096;', 'password: string;', 'token = getToken()', '"password": "Password",', 'apiKeyEnv: OPENAI_API_KEY', 'primary_key: user_id']) {
      assert.equal((await own(code)).text, code);
    }
  });
});

describe('deny list and context windows', () => {
  it('deny-lists sensitive files by name under any URI scheme, and credential files by content', async () => {
    const policy = defaultPolicy();
    const ctx = { providers: [{ id: 'cloud', kind: 'openai' as const, location: 'cloud' as const, features: ['completion' as const] }] };
    const uris = ['file:///w/.envrc', 'file:///w/config/credentials.json', 'vscode-remote://ssh-remote%2Bbox/home/u/app/.env', 'vscode-vfs://github/o/r/.env.production', 'untitled:/home/u/.pgpass', 'vscode-remote://wsl%2Bubuntu/home/u/.kube/config', 'file:///w/deploy/ID_ED25519'];
    const plan = await planRoute({ feature: 'completion', pieces: [...uris.map((uri) => ({ source: { kind: 'buffer' as const, uri }, text: 'HINT=visible-value-123' })), { source: { kind: 'buffer', uri: 'file:///w/src/app.ts' }, text: 'const ok = 1;' }] }, { ...policy, defaults: { ...policy.defaults, cloud: { ...policy.defaults.cloud, action: 'allow' } } }, ctx);
    for (const p of plan.pieces.slice(0, -1)) assert.equal(p.text, '[REDACTED:deny-listed-path]', p.source.uri);
    assert.equal(plan.pieces.at(-1)!.text, 'const ok = 1;');
    const sa = JSON.stringify({ type: 'service_account', private_key_id: 'abc', private_key: 'x', region: 'visible-value-123' }, null, 2);
    const p2 = await planRoute({ feature: 'completion', pieces: [{ source: { kind: 'buffer', uri: 'file:///w/ops/deployer.json' }, text: sa }] }, { ...policy, defaults: { ...policy.defaults, cloud: { ...policy.defaults.cloud, action: 'allow' } } }, ctx);
    assert.equal(p2.pieces[0]!.text, '[REDACTED:gcp-service-account]');
  });
});

describe('context windows never start or end inside a private key', () => {
  it('cuts snippet windows and the prefix at key block boundaries of the whole document', () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const key = privateKey.trim().split('\n');
    const docs = new DocumentRegistry();
    const router = new ModelRouter({ gate: new EgressGate({ ledger: new MemoryLedger(), confirm: async () => 'deny' }), policyFor: () => defaultPolicy() });
    const service = new CompletionService(docs, router, { prefixChars: 600 });
    const other = ['// deploy', 'export const PEM = `', ...key, '`;', 'export const vaultKappa = vaultLambda;', ''].join('\n');
    docs.open('vim', 'nvim', 'file:///w/keys.ts', 'typescript', 1, other);
    docs.open('code', 'vscode', 'file:///w/a.ts', 'typescript', 1, 'const v = vaultKappa + vaultLambda;');
    const snippets = service.assemble('code', 'file:///w/a.ts', 0, 35).pieces.filter((p) => p.source.role === 'snippet');
    assert.ok(snippets.length > 0);
    const body = key.slice(1, -1);
    for (const s of snippets) {
      const hasBody = body.some((l) => s.text.includes(l));
      // Body lines only with their BEGIN and END lines (for the redaction to see the whole block).
      if (hasBody) assert.ok(s.text.includes(key[0]!) && s.text.includes(key.at(-1)!), `a window holds key body lines without the block's ends:\n${s.text}`);
    }
    // The buffer being completed: a prefix whose 600 characters would start inside the key starts after it.
    docs.open('code', 'vscode', 'file:///w/keys2.ts', 'typescript', 1, other);
    const lines = other.split('\n');
    const c = service.assemble('code', 'file:///w/keys2.ts', lines.length - 2, 20);
    assert.ok(!body.some((l) => c.prefix.includes(l)), `the prefix starts inside the key:\n${c.prefix}`);
    assert.ok(c.prefix.endsWith('export const vaultKa'));
  });
});
