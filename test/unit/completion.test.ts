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
