import assert from 'node:assert/strict';
import { CompletionService, DocumentNotOpenError } from '../../core/completion.js';
import { DocumentRegistry } from '../../core/documents.js';
import { EgressGate, MemoryLedger } from '../../core/egress/index.js';
import { NgramProvider } from '../../core/engines/ngram.js';
import { defaultPolicy } from '../../core/policy/index.js';
import { ModelRouter } from '../../core/routing/service.js';

// The completion service on the real document registry, router (default policy) and n-gram engine.
function setup(): { docs: DocumentRegistry; service: CompletionService } {
  const docs = new DocumentRegistry();
  const router = new ModelRouter({
    gate: new EgressGate({ ledger: new MemoryLedger(), confirm: async () => 'deny' }),
    policyFor: () => defaultPolicy(),
  });
  router.setLocal([{ provider: new NgramProvider(), kind: 'ngram', features: ['completion'], model: 'ngram-4' }]);
  return { docs, service: new CompletionService(docs, router) };
}

const snippetTexts = (pieces: Array<{ source: { role?: string }; text: string }>): string[] =>
  pieces.filter((p) => p.source.role === 'snippet').map((p) => p.text);

describe('completion: context assembly', () => {
  it('takes snippets from another editor\'s buffer as it is now, after every edit (including one that keeps the version)', () => {
    const { docs, service } = setup();
    docs.open('vim', 'nvim', 'file:///w/b.ts', 'typescript', 1, 'function alphaBeta(gamma) {\n  return gamma;\n}\n');
    docs.open('code', 'vscode', 'file:///w/a.ts', 'typescript', 1, 'const x = alphaBeta(');
    assert.deepEqual(snippetTexts(service.assemble('code', 'file:///w/a.ts', 0, 20).pieces), ['function alphaBeta(gamma) {\n  return gamma;\n}\n']);

    docs.change('vim', 'file:///w/b.ts', 2, [{ text: 'function alphaBeta(delta) {\n  return delta * 2;\n}\n' }]);
    assert.deepEqual(snippetTexts(service.assemble('code', 'file:///w/a.ts', 0, 20).pieces), ['function alphaBeta(delta) {\n  return delta * 2;\n}\n']);

    docs.change('vim', 'file:///w/b.ts', 2, [{ text: 'unrelated();\n' }]);
    assert.deepEqual(snippetTexts(service.assemble('code', 'file:///w/a.ts', 0, 20).pieces), []);

    docs.close('vim', 'file:///w/b.ts');
    docs.open('vim', 'nvim', 'file:///w/b.ts', 'typescript', 1, 'alphaBeta(1);\n');
    assert.deepEqual(snippetTexts(service.assemble('code', 'file:///w/a.ts', 0, 20).pieces), ['alphaBeta(1);\n']);
  });

  it('refuses a document the editor has not opened with an error saying to open it', async () => {
    const { service } = setup();
    assert.throws(() => service.assemble('code', 'file:///w/none.ts', 0, 0), DocumentNotOpenError);
    await assert.rejects(service.complete('code', 'file:///w/none.ts', 0, 0, { client: 'vscode', workspaceRoot: null }),
      (err: Error) => err instanceof DocumentNotOpenError && /not open in this editor; send textDocument\/didOpen first/.test(err.message));
    assert.equal(service.stats.requests, 0);
  });
});

describe('completion: adaptive debounce (real GGUF engine on the tiny model)', function () {
  this.timeout(60_000);
  it('a newer request stops the engine work of the older one for the same document; isolated requests are never superseded', async () => {
    const { GgufProvider } = await import('../../core/engines/gguf.js');
    const modelPath = new URL('../fixtures/models/tiny-llama-fim.gguf', import.meta.url).pathname;
    const gguf = new GgufProvider({ modelPath, id: 'gguf:tiny' });
    try {
      const docs = new DocumentRegistry();
      const router = new ModelRouter({ gate: new EgressGate({ ledger: new MemoryLedger(), confirm: async () => 'deny' }), policyFor: () => defaultPolicy() });
      router.setLocal([{ provider: gguf, kind: 'gguf', features: ['completion'], model: 'tiny' }]);
      const service = new CompletionService(docs, router);
      const text = 'function add(a, b) {\n  return a + b;\n}\nfunction mul(a, b) {\n  return ';
      docs.open('code', 'vscode', 'file:///w/a.js', 'javascript', 1, text);
      const at = (n: number) => ({ line: 4, character: 9 + n });
      const opts = { client: 'vscode', workspaceRoot: null };
      // Warm up: load the model and learn its latency (isolated requests, never superseded).
      for (let i = 0; i < 3; i++) {
        docs.change('code', 'file:///w/a.js', 2 + i, [{ text: text + 'x'.repeat(i) }]);
        const r = await service.complete('code', 'file:///w/a.js', 4, 9 + i, opts);
        assert.equal(r.superseded, false);
        await new Promise((res) => setTimeout(res, 200));
      }
      // Two keystrokes 2 ms apart: the newer stops the older's engine work (superseded), and the burst
      // makes the newer wait about one engine latency before it runs.
      docs.change('code', 'file:///w/a.js', 10, [{ text: text + 'yy' }]);
      const first = service.complete('code', 'file:///w/a.js', at(2).line, at(2).character, opts);
      await new Promise((res) => setTimeout(res, 2));
      docs.change('code', 'file:///w/a.js', 11, [{ text: text + 'yyz' }]);
      const second = service.complete('code', 'file:///w/a.js', at(3).line, at(3).character, opts);
      assert.equal((await first).superseded, true, 'the older request ran although a newer one came within the engine latency');
      assert.equal((await second).superseded, false);
    } finally {
      await gguf.dispose();
    }
  });
});
