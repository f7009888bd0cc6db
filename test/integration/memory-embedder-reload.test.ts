// The memory's embedding model follows the model registry while the daemon runs, and background
// embedding shows as LSP work-done progress:
//   - MemoryStore.setEmbedder on a real store with the tiny-bert model: items written without a
//     model get vectors after the switch, a switch back to none is full-text only, the previous
//     provider is disposed only after the search that was using it finished (that search answers,
//     full-text only, saying why), and re-adding a model loads its stored vectors instead of
//     embedding again;
//   - a real daemon started without an embedding model: `hearth models add tiny-bert --purpose
//     embedding` switches memory search to hybrid without a restart (searches made meanwhile all
//     answer), the items get vectors in the store, `hearth models remove` goes back to full-text;
//     an editor (through `hearth lsp --stdio`) that declared window.workDoneProgress gets
//     window/workDoneProgress/create and $/progress begin, report(s), end for the embedding run;
//     one that did not declare it gets neither.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
type ProgressParams<T> = { token: string | number; value: T };
import { Store } from '../../core/store/index.js';
import { MemoryStore, type SearchResult } from '../../core/memory/index.js';
import { TransformersEmbeddingProvider, type Provider } from '../../core/engines/index.js';
import { Lsp, MemoryAdd, MemorySearch, type Params, type Result } from '../../server/protocol.js';
import { makeHome, waitFor, type HearthHome, type LspClient } from '../helpers/daemon.js';
import { ok, okJson, rowsOf, storeDump, type Item } from '../helpers/memory-harness.js';

const TINY_BERT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'models', 'tiny-bert');
// A workspace scope label only: no such folder is read or written.
const WS = 'file:///ws/reload';
const writer = { id: 'w-1', name: 'reload-test', version: '1' };

/** A real embedding provider whose query embeddings can be held, and which records its disposal. */
class HeldProvider implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities;
  disposed = false;
  disposedWhileEmbedding = false;
  #inFlight = 0;
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;
  #entered: (() => void) | undefined;
  constructor(private readonly inner: Provider) {
    this.id = inner.id;
    this.capabilities = inner.capabilities;
  }
  /** The next embed() calls wait until release(); resolves when one of them has started. */
  hold(): Promise<void> {
    this.#hold = new Promise((r) => (this.#release = r));
    return new Promise((r) => (this.#entered = r));
  }
  release(): void {
    this.#hold = undefined;
    this.#release?.();
  }
  complete: Provider['complete'] = (req) => this.inner.complete(req);
  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    this.#inFlight++;
    try {
      this.#entered?.();
      if (this.#hold) await this.#hold;
      return await this.inner.embed(texts, signal);
    } finally {
      this.#inFlight--;
    }
  }
  async dispose(): Promise<void> {
    if (this.#inFlight > 0) this.disposedWhileEmbedding = true;
    this.disposed = true;
    await this.inner.dispose();
  }
}

const tiny = (id = 'transformers:tiny-bert'): TransformersEmbeddingProvider => new TransformersEmbeddingProvider({ modelDir: TINY_BERT, id });

describe('memory: switching the embedding model at run time (MemoryStore.setEmbedder)', function () {
  this.timeout(120_000);
  let root: string;
  before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-embedder-switch-'))));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('embeds items written without a model, answers searches during a switch, disposes the old model after its last search, and reloads stored vectors', async () => {
    const store = await Store.open(path.join(root, 'store'));
    const mem = await MemoryStore.open(store);
    try {
      const texts = Array.from({ length: 20 }, (_, i) => `note ${i} about the ${i % 2 ? 'parser arena' : 'invoice rounding'} number${i}`);
      await mem.addMany(texts.map((text) => ({ text, workspace: WS })), writer);
      const before = await mem.search('parser arena', { workspace: WS, mode: 'hybrid' });
      assert.equal(before.mode, 'full-text');
      assert.match(before.note ?? '', /no embedding model/);
      assert.ok(before.hits.length > 0);

      const progress: Array<{ done: number; total: number; model: string }> = [];
      mem.onEmbeddingProgress((p) => progress.push(p));
      const first = new HeldProvider(tiny());
      await mem.setEmbedder(first);
      assert.equal(mem.embedder, first);
      await mem.embeddingIdle();
      assert.equal(mem.embeddedCount, 20);
      assert.deepEqual(progress.at(-1), { done: 20, total: 20, model: 'transformers:tiny-bert' });
      assert.equal(store.get<{ n: number }>("SELECT count(*) AS n FROM memory_vectors WHERE model = 'transformers:tiny-bert'")?.n, 20);
      const hybrid = await mem.search('parser arena', { workspace: WS, mode: 'hybrid' });
      assert.equal(hybrid.mode, 'hybrid', hybrid.note);
      assert.ok(hybrid.hits.some((h) => h.vector !== null));

      // A search holds the model's query embedding while the model is switched off.
      const entered = first.hold();
      const during = mem.search('parser arena', { workspace: WS, mode: 'hybrid' });
      await entered;
      const switching = mem.setEmbedder(undefined);
      const meanwhile = await mem.search('invoice rounding', { workspace: WS, mode: 'hybrid' });
      assert.equal(meanwhile.mode, 'full-text');
      assert.match(meanwhile.note ?? '', /being switched/);
      assert.ok(meanwhile.hits.length > 0);
      assert.equal(first.disposed, false, 'the model is not disposed while a search still uses it');
      first.release();
      const held: SearchResult = await during;
      assert.equal(held.mode, 'full-text');
      assert.match(held.note ?? '', /changed during this search/);
      assert.ok(held.hits.length > 0, 'the full-text results still come back');
      await switching;
      assert.equal(first.disposed, true);
      assert.equal(first.disposedWhileEmbedding, false);
      assert.equal(mem.embedder, undefined);
      assert.equal(mem.embeddedCount, 0);
      assert.equal(mem.embeddingProgress(), null);
      const none = await mem.search('parser arena', { workspace: WS, mode: 'vector' });
      assert.deepEqual(none.hits, []);
      assert.match(none.note ?? '', /no embedding model/);

      // An item written while no model is in use; then the same model again: the 20 stored
      // vectors are loaded, only the new item is embedded.
      await mem.add({ text: 'the parser arena is freed per file', workspace: WS }, writer);
      progress.length = 0;
      await mem.setEmbedder(tiny());
      await mem.embeddingIdle();
      assert.equal(mem.embeddedCount, 21);
      assert.deepEqual(progress.at(-1), { done: 1, total: 1, model: 'transformers:tiny-bert' });
      const again = await mem.search('parser arena', { workspace: WS, mode: 'vector' });
      assert.equal(again.mode, 'vector');
      assert.equal(again.hits.length, 10);

      await assert.rejects(mem.setEmbedder({ ...tiny('x'), capabilities: { fim: true, chat: false, embeddings: false, tools: false } } as Provider), /cannot compute embeddings/);
    } finally {
      const current = mem.embedder;
      await mem.close();
      await current?.dispose();
      await store.close();
    }
  });
});

type Search = Result<typeof MemorySearch> & { note?: string; embedding: { done: number; total: number; model: string; error?: string } | null };
type ProgressValue = Params<typeof Lsp.progress>['value'];

/** An editor through `hearth lsp --stdio` that records progress and answers window/workDoneProgress/create. */
async function editor(h: HearthHome, name: string, workDoneProgress: boolean): Promise<{ lsp: LspClient; creates: unknown[]; progress: ProgressParams<ProgressValue>[] }> {
  const lsp = h.lsp();
  const creates: unknown[] = [];
  const progress: ProgressParams<ProgressValue>[] = [];
  lsp.connection.onRequest(Lsp.workDoneProgressCreate.method, (p: unknown) => {
    creates.push(p);
    return null;
  });
  // vscode-jsonrpc hands $/progress for tokens nobody registered here.
  lsp.connection.onUnhandledProgress((p) => progress.push(p as ProgressParams<ProgressValue>));
  await lsp.connection.sendRequest(Lsp.initialize.method, {
    processId: process.pid, clientInfo: { name, version: '1.0.0' }, rootUri: null,
    capabilities: workDoneProgress ? { window: { workDoneProgress: true } } : {},
  });
  await lsp.connection.sendNotification(Lsp.initialized.method, {});
  return { lsp, creates, progress };
}

describe('memory: hearth models add/remove switch the embedding model of a running daemon', function () {
  this.timeout(180_000);
  let h: HearthHome;
  before(() => (h = makeHome('memreload')));
  after(async () => h.dispose());

  it('goes hybrid after `models add` and back to full-text after `models remove`, without a restart, showing progress to editors that asked for it', async () => {
    const d = await h.spawnDaemon();
    const ws = path.join(h.dir, 'ws');
    fs.mkdirSync(ws);
    const search = (query: string, mode = 'hybrid'): Promise<Search> => okJson<Search>(h, ['memory', 'search', query, '--workspace', ws, '--mode', mode, '--json']);

    // 40 items (more than one embedding batch of 32), written without any embedding model.
    const c = await h.connect({ name: 'reload-writer', version: '1', kind: 'test' });
    const topics = ['the build cache lives in dot cache', 'invoice totals round half to even', 'the parser uses an arena allocator', 'deploys go out on friday mornings'];
    for (let i = 0; i < 40; i++) {
      await c.connection.sendRequest(MemoryAdd.method, { text: `${topics[i % 4]} (note ${i})`, workspace: ws } satisfies Params<typeof MemoryAdd>);
    }
    const plain = await search('parser arena allocator');
    assert.equal(plain.mode, 'full-text');
    assert.match(plain.note ?? '', /no embedding model/);
    assert.equal(plain.embedding, null);
    assert.ok(plain.hits.length > 0);

    const withProgress = await editor(h, 'progress-editor', true);
    const without = await editor(h, 'plain-editor', false);

    // Searches keep coming while the model is added; every one must answer.
    let adding = true;
    const during: Search[] = [];
    const searching = (async () => {
      while (adding) {
        during.push(await c.connection.sendRequest(MemorySearch.method, { query: 'parser arena', workspace: ws, mode: 'hybrid' }) as Search);
      }
    })();
    const added = await ok(h, ['models', 'add', TINY_BERT, '--purpose', 'embedding']);
    adding = false;
    await searching;
    assert.match(added, /added tiny-bert \(embedding/);
    assert.ok(during.length > 0);
    for (const r of during) assert.ok(r.hits.length > 0, `a search during the switch came back empty (${r.mode}: ${r.note ?? ''})`);

    // No restart: the same daemon embeds the 40 items and searches with vectors.
    const embedded = await waitFor('the 40 items to be embedded by the model added at run time', async () => {
      const r = await search('parser arena allocator', 'vector');
      return r.mode === 'vector' && r.embedding && r.embedding.done === r.embedding.total && r.hits.length === 10 ? r : undefined;
    }, 60_000, 200);
    assert.equal(embedded.embedding!.error, undefined);
    assert.equal(embedded.embedding!.model, 'transformers:tiny-bert');
    const hybrid = await search('parser arena allocator');
    assert.equal(hybrid.mode, 'hybrid', hybrid.note);
    assert.equal(hybrid.note, undefined);
    const hybridHits = hybrid.hits as unknown as Array<{ item: Item; vector: unknown; fullText: unknown }>;
    assert.ok(hybridHits.some((x) => x.vector !== null && x.fullText !== null), 'hybrid hits carry both ranks');
    assert.match(hybridHits[0]!.item.text, /parser uses an arena allocator/);
    const { dump } = await storeDump(h, 'after-add');
    const vectors = rowsOf(dump, 'memory_vectors');
    assert.equal(vectors.filter((r) => r.model === 'transformers:tiny-bert').length, 40, 'every item has a stored vector of the new model');
    assert.equal(d.child.exitCode, null, 'the daemon was not restarted');
    assert.deepEqual((await h.status()).pid, d.pid);

    // The editor that declared window.workDoneProgress saw the run: create, then begin, report(s), end on that token.
    const done = await waitFor('the end of the embedding progress', () => withProgress.progress.find((p) => p.value.kind === 'end'), 30_000);
    assert.equal(withProgress.creates.length, 1, JSON.stringify(withProgress.creates));
    const token = (withProgress.creates[0] as { token: string | number }).token;
    const run = withProgress.progress.filter((p) => p.token === token);
    assert.equal(run.length, withProgress.progress.length, 'no $/progress on a token the editor was not asked to create');
    const kinds = run.map((p) => p.value.kind);
    assert.equal(kinds[0], 'begin');
    assert.equal(kinds.at(-1), 'end');
    assert.equal(kinds.filter((k) => k === 'begin').length, 1);
    assert.equal(kinds.filter((k) => k === 'end').length, 1);
    assert.ok(kinds.includes('report'), `no report between begin and end: ${kinds.join(', ')}`);
    assert.match(run[0]!.value.title ?? '', /embedding memory \(transformers:tiny-bert\)/);
    const pcts = run.filter((p) => p.value.kind === 'report').map((p) => p.value.percentage ?? -1);
    assert.deepEqual(pcts, [...pcts].sort((a, b) => a - b), 'percentages only grow');
    assert.ok(pcts.every((x) => x >= 0 && x <= 100), pcts.join(', '));
    assert.match(done.value.message ?? '', /40\/40 memory items/);
    // The editor that did not declare it got nothing of the kind.
    assert.deepEqual(without.creates, []);
    assert.deepEqual(without.progress, []);

    // Remove the model: back to full-text, no errors, items still found.
    const removed = await ok(h, ['models', 'remove', 'tiny-bert']);
    assert.match(removed, /removed tiny-bert/);
    const after = await search('parser arena allocator');
    assert.equal(after.mode, 'full-text');
    assert.match(after.note ?? '', /no embedding model/);
    assert.equal(after.embedding, null);
    assert.match((after.hits[0]!.item as Item).text, /parser uses an arena allocator/);
    const vec = await search('parser arena allocator', 'vector');
    assert.deepEqual(vec.hits, []);
    assert.match(vec.note ?? '', /no embedding model/);
    const text = await ok(h, ['memory', 'search', 'invoice totals', '--workspace', ws]);
    assert.match(text, /hit\(s\), full-text/);
    assert.equal(withProgress.creates.length, 1, 'removing the model starts no progress');
    assert.doesNotMatch(d.output(), / error .*memory|memory: .*failed/, d.output());
    assert.equal(d.child.exitCode, null);
  });
});
