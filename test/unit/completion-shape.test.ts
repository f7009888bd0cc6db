import assert from 'node:assert/strict';
import { shapeCompletion } from '../../core/engines/shape.js';
import { LanguageNgram } from '../../core/engines/ngram-family.js';
import { guessLanguage, memoryFits } from '../../core/workspace/context.js';

describe('completion shape: syntactic stops and the partial-identifier rule (core/engines/shape.ts)', () => {
  const known = (words: Record<string, number>) => ({ occurrences: (w: string) => words[w] ?? 0 });

  it('does not run past a bracket the text after the cursor closes (users: U → User[], not User[] {)', () => {
    assert.equal(shapeCompletion('function f(users: U', ') {', 'ser[] {', known({ User: 4 })), 'ser[]');
    assert.equal(shapeCompletion('call(a', ')', ', b)', known({ a: 3 })), ', b');
  });

  it('closes a bracket opened before the cursor only when it is of that kind and the suffix leaves it open', () => {
    assert.equal(shapeCompletion('function g() {\n  run(a, b', '\n}\n', ');', known({ b: 3 })), ');');
    assert.equal(shapeCompletion('const x = list[i', '\n', '));', known({ i: 3 })), '');
    assert.equal(shapeCompletion('const x = ', '\n', '1; }', {}), '1;');
  });

  it('stops after an opening bracket that ends the line, and never leaves its own brackets or quotes open', () => {
    assert.equal(shapeCompletion('export function run(', '\n', 'input: number): number {', {}), 'input: number): number {');
    assert.equal(shapeCompletion('const s = ', '\n', 'fmt("abc', {}), 'fmt');
    assert.equal(shapeCompletion('const o = ', '\n', 'make({ a: 1 }, [2', {}), 'make');
    assert.equal(shapeCompletion('x = ', '\n', 'f(a) // comment (', {}), 'f(a)');
  });

  it('completes half a word only into a word seen with that prefix, else offers nothing', () => {
    assert.equal(shapeCompletion('const v = comp', '\n', 'ute(x);', known({ compute: 2 })), 'ute(x);');
    assert.equal(shapeCompletion('const v = comp', '\n', 'ute(x);', known({})), '');
    // Not extended: the word as typed must be known from elsewhere than the cursor (it counts itself once).
    assert.equal(shapeCompletion('users: U', '\n', '[] {', known({ U: 1 })), '');
    assert.equal(shapeCompletion('const total = sum', '\n', '(a, b);', known({ sum: 3 })), '(a, b);');
    // The cursor inside a word: nothing (it would split the identifier).
    assert.equal(shapeCompletion('const v = co', 'mpute(x);', 'unt', known({ count: 5 })), '');
  });

  it('the embedded engine: a Python buffer is completed from Python, not from TypeScript', async () => {
    const ngram = new LanguageNgram();
    ngram.learn('file:///w/a.ts', 'function handle(request) {\n  return request.body;\n}\n'.repeat(5));
    ngram.learn('file:///w/b.py', 'def handle(request):\n    return request.json()\n'.repeat(5));
    assert.equal(ngram.suggest('def other(request):\n    return request', '', 'python'), '.json()');
    assert.equal(ngram.suggest('function other(request) {\n  return request', '', 'typescript'), '.body;');
    // A language nothing was learned for gets nothing (not another language's n-grams).
    assert.equal(ngram.suggest('fn handle(request) {\n  return request', '', 'rust'), '');
    ngram.forget('file:///w/b.py');
    assert.equal(ngram.suggest('def other(request):\n    return request', '', 'python'), '');
    await ngram.dispose();
  });
});

describe('context assembly: memory filtered by language and relevance (core/workspace/context.ts)', () => {
  const ts = 'export function parseUser(input: string): User {\n  const user = JSON.parse(input);\n  return user;\n}';
  const py = 'def parse_user(payload):\n    if payload is None:\n        return None\n    return User(**payload)';

  it('a TypeScript memory item stays out of a Python completion, by its file or by its text', () => {
    const query = 'def load(payload): user = parse_user(payload)';
    assert.equal(memoryFits(query, 'python', { text: ts, fileUri: 'file:///w/user.ts' }), false);
    assert.equal(memoryFits(query, 'python', { text: ts }), false);
    assert.equal(guessLanguage(ts), 'js');
    assert.equal(guessLanguage(py), 'python');
    assert.equal(memoryFits(query, 'python', { text: py, fileUri: 'file:///w/user.py' }), true);
    assert.equal(memoryFits(query, 'python', { text: py }), true);
  });

  it('an item of the same language that shares no identifier with what is being written is left out', () => {
    assert.equal(memoryFits('const total = prices.reduce', 'js', { text: ts, fileUri: 'file:///w/user.ts' }), false);
    assert.equal(memoryFits('const user = parseUser(raw)', 'js', { text: ts, fileUri: 'file:///w/user.ts' }), true);
    // A note of no particular language joins when relevant.
    assert.equal(memoryFits('const user = parseUser(raw)', 'js', { text: 'parseUser must never throw; it returns null' }), true);
  });
});
