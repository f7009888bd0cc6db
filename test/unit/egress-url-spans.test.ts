// The URL userinfo rules of core/egress/secret-rules.ts try their regex only before each `://`
// (schemeMatches). This checks, on seeded random texts built from the characters that matter,
// that it finds exactly what matchAll over the whole text finds.
import assert from 'node:assert/strict';
import { URL_TOKEN_USER, URL_USERINFO, schemeMatches } from '../../core/egress/secret-rules.js';

describe('egress redaction: URL rules anchored at ://', () => {
  it('finds the same matches as matchAll on 50,000 seeded random texts', () => {
    const seed0 = Number(process.env.HEARTH_TEST_SEED ?? 12);
    console.log(`      seed ${seed0} (HEARTH_TEST_SEED=${seed0} repeats it)`);
    let seed = seed0;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const parts = ['://', ':', '@', '/', 'a', 'Z', '9', '+', '.', '-', ' ', '\n', 'redis', 'abcdefghijklmnopqrstuvwxyz0123', 'user', 'p@ss', '#', '?', 'x'.repeat(30), 'https', '"', '[REDACTED:x]'];
    let matches = 0;
    for (let i = 0; i < 50_000; i++) {
      let t = '';
      const len = 1 + Math.floor(rnd() * 25);
      for (let j = 0; j < len; j++) t += parts[Math.floor(rnd() * parts.length)];
      for (const re of [URL_USERINFO, URL_TOKEN_USER]) {
        const want = [...t.matchAll(re)].map((m) => [m.index, m[0], m.indices]);
        const got = schemeMatches(t, new RegExp(re.source, 'dy')).map((m) => [m.index, m[0], m.indices]);
        assert.deepEqual(got, want, `text ${JSON.stringify(t)}`);
        matches += want.length;
      }
    }
    assert.ok(matches > 100, `only ${matches} matches: the generator no longer makes URLs with userinfo`);
  });
  it('still finds a password and a token user in a long text', () => {
    const text = `${'const x = 1;\n'.repeat(2000)}url = "redis://admin:S3cr3tPassw0rd@cache.internal:6379/0"\nhttps://ghp1234567890abcdefghijklmnop@github.com/x\n`;
    const a = schemeMatches(text, new RegExp(URL_USERINFO.source, 'dy'));
    assert.equal(a.length, 1);
    assert.equal(a[0]![2], 'S3cr3tPassw0rd');
    const b = schemeMatches(text, new RegExp(URL_TOKEN_USER.source, 'dy'));
    assert.equal(b[0]![1], 'ghp1234567890abcdefghijklmnop');
  });
});
