// The embedded engines, run for real and offline: the n-gram completer, node-llama-cpp on the committed
// tiny LLaMA GGUF, and transformers.js + ONNX Runtime on the committed tiny BERT encoder.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { NgramProvider, stopAtSuffix, tokenize } from '../../core/engines/ngram.js';
import { GgufProvider } from '../../core/engines/gguf.js';
import { TransformersEmbeddingProvider } from '../../core/engines/transformers.js';
import { EngineError, type ProgressEvent } from '../../core/engines/types.js';

const fixtures = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const GOOD_GGUF = fixtures + 'tiny-llama-fim.gguf';
const NOFIM_GGUF = fixtures + 'tiny-llama-nofim.gguf';
const TINY_BERT = fixtures + 'tiny-bert';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected an EngineError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

describe('engines: NgramProvider', () => {
  const source = [
    'function greet(name) {',
    "  console.log('hello ' + name);",
    '}',
    'const total = add(first, second);',
    'const other = add(first, second);',
    '',
  ].join('\n');

  it('tokenizes without losing a character', () => {
    assert.equal(tokenize(source).join(''), source);
  });

  it('suggests the learned multi-token continuation, finishing a partial word and stopping at the line end', async () => {
    const p = new NgramProvider();
    p.learn('file:///a.ts', source);
    const res = await p.complete({ prefix: 'function f() {\n  cons', suffix: '\n}\n', maxTokens: 32 });
    assert.equal(res.text, "ole.log('hello ' + name);");
    assert.match(res.model, /^ngram/);
  });

  it('learnLater: a scheduled version is learned before the next suggestion, the newest wins, forget cancels it', async () => {
    const p = new NgramProvider();
    p.learnLater('file:///a.ts', 'const x = nothing;\n');
    p.learnLater('file:///a.ts', source);
    p.learnLater('file:///b.ts', 'zebra crossing striped\nzebra crossing striped\n');
    p.forget('file:///b.ts');
    const res = await p.complete({ prefix: 'function f() {\n  cons', suffix: '\n}\n', maxTokens: 32 });
    assert.equal(res.text, "ole.log('hello ' + name);");
    assert.equal(p.documentCount, 1, 'the forgotten document was never learned');
    assert.equal(p.suggest('zebra '), '');
    await p.dispose();
  });

  it('does not repeat what the suffix already has', async () => {
    const p = new NgramProvider();
    p.learn('file:///a.ts', source);
    const withSuffix = await p.complete({ prefix: 'const z = add(', suffix: ');\n', maxTokens: 32 });
    assert.equal(withSuffix.text, 'first, second');
    const without = await p.complete({ prefix: 'const z = add(', suffix: '\n', maxTokens: 32 });
    assert.equal(without.text, 'first, second);');
  });

  it('respects maxTokens', async () => {
    const p = new NgramProvider();
    p.learn('file:///a.ts', source);
    const res = await p.complete({ prefix: 'const z = add(', suffix: '', maxTokens: 2 });
    assert.equal(res.text, 'first,');
  });

  it('forgets a document and re-learns a changed one', async () => {
    const p = new NgramProvider();
    p.learn('file:///a.ts', 'alpha.beta(gamma);\n');
    assert.equal(p.suggest('alpha.'), 'beta(gamma);');
    p.learn('file:///a.ts', 'alpha.delta(epsilon);\n');
    assert.equal(p.suggest('alpha.'), 'delta(epsilon);');
    p.forget('file:///a.ts');
    assert.equal(p.suggest('alpha.'), '');
    assert.equal(p.documentCount, 0);
  });

  it('says nothing about text it has never seen', () => {
    const p = new NgramProvider();
    p.learn('file:///a.ts', source);
    assert.equal(p.suggest('zebra quagga '), '');
  });

  it('cuts a suggestion where the suffix takes over', () => {
    assert.equal(stopAtSuffix('a, b);', ');'), 'a, b');
    assert.equal(stopAtSuffix('a, b);', ''), 'a, b);');
    assert.equal(stopAtSuffix(');', ');'), '');
  });

  it('refuses embeddings and malformed requests with a clear error', async () => {
    const p = new NgramProvider();
    await rejectsWith(p.embed(), 'unsupported');
    await rejectsWith(p.complete({ prefix: 'x', suffix: '', maxTokens: 0 }), 'bad-request');
  });
});

describe('engines: GgufProvider (real node-llama-cpp, tiny LLaMA with FIM tokens)', function () {
  this.timeout(120_000);
  let provider: GgufProvider;
  before(() => { provider = new GgufProvider({ modelPath: GOOD_GGUF, threads: 1 }); });
  after(async () => { await provider.dispose(); });

  it('loads lazily with progress, then infills through the model\'s FIM tokens', async () => {
    assert.equal(provider.loaded, false);
    const progress: ProgressEvent[] = [];
    const chunks: string[] = [];
    const res = await provider.complete({
      prefix: 'function add(a, b) {\n  return ', suffix: ';\n}\n', maxTokens: 8,
      onProgress: (p) => progress.push(p), onText: (c) => chunks.push(c),
    });
    assert.equal(typeof res.text, 'string');
    assert.ok(res.text.length > 0, 'the model generated no text');
    assert.equal(chunks.join(''), res.text);
    assert.equal(res.model, 'tiny-llama-fim');
    const stages = progress.map((p) => p.stage);
    for (const s of ['checking-model', 'loading-engine', 'loading-model', 'creating-context', 'generating']) {
      assert.ok(stages.includes(s), `missing progress stage ${s} in ${stages.join(',')}`);
    }
    // greedy decoding on the same loaded model: same input, same text
    const again = await provider.complete({ prefix: 'function add(a, b) {\n  return ', suffix: ';\n}\n', maxTokens: 8 });
    assert.equal(again.text, res.text);
  });

  it('stops a generation when the signal fires', async () => {
    const ctl = new AbortController();
    let chunks = 0;
    const p = provider.complete({
      prefix: 'let x = ', suffix: '\n', maxTokens: 200, signal: ctl.signal,
      onText: () => { if (++chunks === 2) ctl.abort(); },
    });
    await rejectsWith(p, 'cancelled');
    assert.equal(chunks, 2, 'generation went on after the abort');
  });

  it('rejects at once when the signal has already fired', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await rejectsWith(provider.complete({ prefix: 'a', suffix: 'b', maxTokens: 4, signal: ctl.signal }), 'cancelled');
  });

  it('times out a request that runs too long', async () => {
    let chunks = 0;
    const p = provider.complete({
      prefix: 'let y = ', suffix: '\n', maxTokens: 10_000, timeoutMs: 50,
      // make each token slow so the 50 ms limit is reached long before 10 000 tokens
      onText: () => { chunks++; const until = Date.now() + 20; while (Date.now() < until) { /* busy */ } },
    });
    await rejectsWith(p, 'timeout');
    assert.ok(chunks < 10_000);
  });

  it('keeps serving after a cancelled request', async () => {
    const res = await provider.complete({ prefix: 'x = ', suffix: '\n', maxTokens: 4 });
    assert.ok(res.text.length > 0);
  });

  it('refuses a model without FIM tokens before loading it', async () => {
    const bad = new GgufProvider({ modelPath: NOFIM_GGUF });
    const err = await rejectsWith(bad.complete({ prefix: 'a', suffix: 'b', maxTokens: 4 }), 'incompatible-model');
    assert.match(err.message, /fill-in-the-middle/);
    assert.equal(bad.loaded, false);
  });
});

describe('engines: TransformersEmbeddingProvider (real transformers.js + onnxruntime-node, tiny BERT)', function () {
  this.timeout(60_000);
  let provider: TransformersEmbeddingProvider;
  before(() => { provider = new TransformersEmbeddingProvider({ modelDir: TINY_BERT, batchSize: 2 }); });
  after(async () => { await provider.dispose(); });

  it('returns one normalized 32-dimensional vector per text, deterministic per text', async () => {
    const texts = ['function add(a, b) { return a + b; }', 'the quick brown fox', 'x', 'function add(a, b) { return a + b; }'];
    const vectors = await provider.embed(texts);
    assert.equal(vectors.length, texts.length);
    for (const v of vectors) {
      assert.equal(v.length, 32);
      assert.ok(v.every(Number.isFinite));
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4, `norm is ${Math.hypot(...v)}`);
    }
    // same text in a different batch gives the same vector; different texts differ
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(vectors[0]![i]! - vectors[3]![i]!) < 1e-5);
    assert.ok(vectors[0]!.some((x, i) => Math.abs(x - vectors[1]![i]!) > 1e-3));
  });

  it('stops between batches when the signal fires', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await rejectsWith(provider.embed(['a', 'b', 'c'], ctl.signal), 'cancelled');
  });

  it('does not complete text', async () => {
    await rejectsWith(provider.complete(), 'unsupported');
  });

  it('refuses a directory that is not an embedding model', async () => {
    const bad = new TransformersEmbeddingProvider({ modelDir: fixtures });
    const err = await rejectsWith(bad.embed(['a']), 'incompatible-model');
    assert.match(err.message, /config\.json/);
  });
});

describe('engines: GgufProvider lifecycle', function () {
  this.timeout(120_000);

  it('serves concurrent requests one at a time, and reloads after dispose', async () => {
    const provider = new GgufProvider({ modelPath: GOOD_GGUF, threads: 1 });
    try {
      const req = { prefix: 'const a = ', suffix: ';\n', maxTokens: 6 };
      const [a, b] = await Promise.all([provider.complete(req), provider.complete(req)]);
      assert.equal(a.text, b.text);
      await provider.dispose();
      assert.equal(provider.loaded, false);
      const c = await provider.complete(req);
      assert.equal(c.text, a.text);
      assert.equal(provider.loaded, true);
    } finally {
      await provider.dispose();
    }
  });
});

describe('engines: NgramProvider limits', () => {
  it('forgets the least recently learned document beyond maxDocuments', () => {
    const p = new NgramProvider({ maxDocuments: 2 });
    p.learn('a', 'alpha.one();\n');
    p.learn('b', 'beta.two();\n');
    p.learn('c', 'gamma.three();\n');
    assert.equal(p.documentCount, 2);
    assert.notEqual(p.suggest('alpha.'), 'one();');
    assert.equal(p.suggest('beta.'), 'two();');
    assert.equal(p.suggest('gamma.'), 'three();');
  });
});

describe('engines: NgramProvider re-learning after edits', () => {
  // The learned counts, in a comparable form (the engine keeps them in a private map).
  const counts = (p: NgramProvider): string[] => {
    const contexts = (p as unknown as { contexts: Map<string, { counts: Map<string, number>; total: number }> }).contexts;
    return [...contexts].map(([k, c]) => `${JSON.stringify(k)} ${c.total} ${JSON.stringify([...c.counts].sort())}`).sort();
  };
  // A small deterministic generator, so a failure names a reproducible edit.
  let seed = 42;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pieces = ['const ', 'x', ' = ', 'compute(', 'y', ', ', '1', ');', '\n', '  ', 'return ', 'x.y', '// note', 'alphaBeta', '\t', '42.5'];

  it('leaves the same counts as learning every version from scratch, edit after edit', () => {
    const incremental = new NgramProvider({ order: 3 });
    const other = 'return compute(x, 1);\nconst y = x.y;\n';
    incremental.learn('other', other);
    let text = 'export function add(a, b) {\n  return a + b;\n}\nconst total = add(first, second);\n';
    incremental.learn('doc', text);
    for (let step = 0; step < 400; step++) {
      // insert, delete or replace at a random place (including the very start and end), sometimes inside a token
      const at = rand(text.length + 1);
      const cut = rand(3) === 0 ? 0 : rand(Math.min(12, text.length - at) + 1);
      const insert = rand(4) === 0 ? '' : Array.from({ length: 1 + rand(3) }, () => pieces[rand(pieces.length)]!).join('');
      text = text.slice(0, at) + insert + text.slice(at + cut);
      if (step % 50 === 49) text = text.split('').reverse().join(''); // a wholesale change now and then
      incremental.learn('doc', text);
      const fresh = new NgramProvider({ order: 3 });
      fresh.learn('other', other);
      fresh.learn('doc', text);
      assert.deepEqual(counts(incremental), counts(fresh), `after edit ${step} (at ${at}, cut ${cut}, insert ${JSON.stringify(insert)})`);
    }
    incremental.forget('doc');
    incremental.forget('other');
    assert.deepEqual(counts(incremental), []);
  });

  it('handles the edge cases: same text again, emptied, refilled, one token', () => {
    const p = new NgramProvider();
    const check = (text: string): void => {
      p.learn('doc', text);
      const fresh = new NgramProvider();
      fresh.learn('doc', text);
      assert.deepEqual(counts(p), counts(fresh), JSON.stringify(text));
    };
    for (const t of ['alpha.beta(gamma);\n', 'alpha.beta(gamma);\n', '', 'x', 'x', 'xy', 'a b a b a b', 'a b a b', 'b a b a b a b', '']) check(t);
    assert.equal(p.documentCount, 1);
  });
});

describe('engines: GgufProvider queue', function () {
  this.timeout(120_000);

  it('rejects a request cancelled while it waits behind another, without waiting for its turn', async () => {
    const provider = new GgufProvider({ modelPath: GOOD_GGUF, threads: 1 });
    try {
      await provider.load();
      const settled: string[] = [];
      const ctl = new AbortController();
      let second: Promise<unknown> | undefined;
      const first = provider.complete({
        prefix: 'a = ', suffix: '\n', maxTokens: 32,
        // once the first request is generating, queue a second one and cancel it
        onText: () => {
          if (second) return;
          second = provider.complete({ prefix: 'b = ', suffix: '\n', maxTokens: 4, signal: ctl.signal });
          second.catch(() => settled.push('second'));
          setImmediate(() => ctl.abort());
        },
      }).then((r) => { settled.push('first'); return r; });
      const res = await first;
      assert.ok(second, 'the first request generated no text');
      await rejectsWith(second, 'cancelled');
      assert.ok(res.text.length > 0);
      assert.deepEqual(settled, ['second', 'first'], 'the cancelled request waited for the running one');
    } finally {
      await provider.dispose();
    }
  });
});
