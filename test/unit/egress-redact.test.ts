import assert from 'node:assert/strict';
import { redactJson, redactKnown, redactText } from '../../core/egress/redact.js';

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
