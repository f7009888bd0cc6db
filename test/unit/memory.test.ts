import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TransformersEmbeddingProvider, type Provider } from '../../core/engines/index.js';
import {
  FULL_TEXT_ROW_BUDGET,
  MemoryError,
  MemoryStore,
  VectorIndex,
  bm25FromMatchinfo,
  normalizeInPlace,
  reciprocalRankFusion,
  topK,
  type EmbeddingProgress,
  type MemoryWriter,
} from '../../core/memory/index.js';
import { Store } from '../../core/store/index.js';

const TINY_BERT = fileURLToPath(new URL('../fixtures/models/tiny-bert', import.meta.url));
const nvim: MemoryWriter = { id: 'c-nvim-1', name: 'neovim', version: '0.7.2' };
const vscode: MemoryWriter = { id: 'c-vscode-1', name: 'vscode', version: '1.100.3' };
const WS = 'file:///ws/project';

/** A real embedding provider whose embed() waits until the test opens the gate. */
class GatedProvider implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities;
  calls = 0;
  #open!: () => void;
  #gate = new Promise<void>((r) => (this.#open = r));
  constructor(private readonly inner: Provider) {
    this.id = inner.id;
    this.capabilities = inner.capabilities;
  }
  open(): void {
    this.#open();
  }
  complete: Provider['complete'] = (req) => this.inner.complete(req);
  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    this.calls++;
    await this.#gate;
    return this.inner.embed(texts, signal);
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

describe('memory', function () {
  this.timeout(120_000);
  let root: string;
  let n = 0;
  const newDir = () => path.join(root, `s${n++}`);
  before(() => (root = mkdtempSync(path.join(tmpdir(), 'hearth-memory-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  async function withMemory<T>(fn: (mem: MemoryStore, store: Store) => Promise<T>, dir = newDir(), opts: Parameters<typeof MemoryStore.open>[1] = {}): Promise<T> {
    const store = await Store.open(dir);
    const mem = await MemoryStore.open(store, opts);
    try {
      return await fn(mem, store);
    } finally {
      await mem.close();
      await store.close();
    }
  }

  describe('items', () => {
    it('stores an item durably with its writer, kind, workspace and file range, and reads it back after reopening', async () => {
      const dir = newDir();
      const added = await withMemory(async (mem) => {
        const item = await mem.add(
          { text: 'Use the arena allocator for parser nodes', kind: 'decision', workspace: WS, file: { uri: `${WS}/src/parse.ts`, range: { start: { line: 3, character: 0 }, end: { line: 9, character: 2 } } } },
          nvim,
        );
        assert.match(item.id, /^[0-9a-f]{16}$/);
        assert.deepEqual(mem.get(item.id), item);
        return item;
      }, dir);
      await withMemory(async (mem) => {
        const again = mem.get(added.id);
        assert.deepEqual(again, added);
        assert.equal(again?.client.name, 'neovim');
        assert.equal(again?.kind, 'decision');
        assert.deepEqual(again?.file?.range, { start: { line: 3, character: 0 }, end: { line: 9, character: 2 } });
        const next = await mem.add({ text: 'second' }, vscode);
        assert.ok(next.seq > added.seq, 'seq keeps increasing across reopen');
        assert.equal(next.kind, 'note');
        assert.equal(next.workspace, null);
      }, dir);
    });

    it('refuses bad items with a clear message and stores nothing', async () => {
      await withMemory(async (mem) => {
        await assert.rejects(mem.add({ text: '  ' }, nvim), (e: unknown) => e instanceof MemoryError && e.code === 'invalid' && /text is empty; nothing was stored/.test(e.message));
        await assert.rejects(mem.add({ text: 'x', kind: 'gossip' as never }, nvim), /kind "gossip" is not one of note, decision, snippet, preference/);
        await assert.rejects(mem.add({ text: 'x', file: { uri: 'f', range: { start: { line: 5, character: 0 }, end: { line: 1, character: 0 } } } }, nvim), /ends before it starts/);
        await assert.rejects(mem.add({ text: 'x'.repeat(70_000) }, nvim), /70000 bytes; the limit is 65536/);
        await assert.rejects(mem.add({ text: 'x' }, { id: 'c', name: '', version: '1' }), /writer.name is empty/);
        await assert.rejects(mem.search('x', {}), /scoped to a workspace/);
        assert.equal(mem.count(), 0);
      });
    });
  });

  describe('eight concurrent writers', () => {
    it('stores 8 x 1,000 items exactly once, in one consistent order that keeps each writer\'s own order', async () => {
      const dir = newDir();
      const writers = Array.from({ length: 8 }, (_, w) => ({ id: `c${w}`, name: `client-${w}`, version: '1.0' }));
      await withMemory(async (mem, store) => {
        const acked: string[][] = writers.map(() => []);
        await Promise.all(
          writers.map(async (wr, w) => {
            for (let i = 0; i < 1000; i++) {
              const item = await mem.add({ text: `writer ${w} item ${i} token${w}x${i}`, workspace: WS }, wr);
              acked[w]!.push(item.id);
            }
          }),
        );
        assert.ok(store.stats.batches < store.stats.writes, 'group commit shared fdatasyncs among writers');
      }, dir);
      await withMemory(async (mem, store) => {
        const all = mem.exportItems().items;
        assert.equal(all.length, 8000);
        assert.equal(new Set(all.map((i) => i.id)).size, 8000, 'every id once');
        assert.equal(new Set(all.map((i) => i.text)).size, 8000, 'every item once');
        for (let k = 1; k < all.length; k++) assert.ok(all[k]!.seq > all[k - 1]!.seq, 'strictly increasing seq');
        for (const wr of writers) {
          const mine = all.filter((i) => i.client.name === wr.name).map((i) => Number(/item (\d+)/.exec(i.text)![1]));
          assert.deepEqual(mine, Array.from({ length: 1000 }, (_, i) => i), `${wr.name}'s items appear in the order it wrote them`);
        }
        const listed = mem.list({ client: 'client-3', limit: 1000 });
        assert.equal(listed.length, 1000);
        assert.ok(listed.every((i) => i.client.name === 'client-3'));
        assert.equal(store.get<{ n: number }>('SELECT count(*) AS n FROM memory_fts')?.n, 8000);
        const hit = await mem.search('token5x777', { workspace: WS });
        assert.deepEqual(hit.hits.map((h) => h.item.text), ['writer 5 item 777 token5x777']);
      }, dir);
    });
  });

  describe('pause', () => {
    it('refuses a paused client\'s writes with a clear message, lets others continue, persists, and resumes', async () => {
      const dir = newDir();
      await withMemory(async (mem) => {
        await mem.add({ text: 'from neovim before pause', workspace: WS }, nvim);
        await mem.pause('neovim');
        await assert.rejects(
          mem.add({ text: 'from neovim while paused', workspace: WS }, nvim),
          (e: unknown) =>
            e instanceof MemoryError && e.code === 'paused' && /memory writes from "neovim" are paused .*nothing was stored.*hearth memory resume neovim/.test(e.message),
        );
        await mem.add({ text: 'from vscode while neovim is paused', workspace: WS }, vscode);
      }, dir);
      await withMemory(async (mem) => {
        assert.deepEqual(mem.pausedClients().map((p) => p.name), ['neovim'], 'the pause survives a restart');
        await assert.rejects(mem.add({ text: 'still paused' }, { ...nvim, id: 'another-session' }), /paused/);
        const who = mem.list().map((i) => [i.client.name, i.text]);
        assert.deepEqual(who, [
          ['vscode', 'from vscode while neovim is paused'],
          ['neovim', 'from neovim before pause'],
        ]);
        assert.equal(await mem.resume('neovim'), true);
        assert.equal(await mem.resume('neovim'), false);
        await mem.add({ text: 'from neovim after resume' }, nvim);
        assert.equal(mem.list({ client: 'neovim' }).length, 2);
      }, dir);
    });
  });

  describe('full-text search without an embedding model', () => {
    it('ranks by BM25, stays in the workspace by default, and says it ran full-text only', async () => {
      await withMemory(async (mem) => {
        await mem.add({ text: 'The tokenizer splits identifiers on camelCase boundaries', workspace: WS }, nvim);
        await mem.add({ text: 'tokenizer tokenizer tokenizer: always run the tokenizer tests before release', workspace: WS }, nvim);
        await mem.add({ text: 'Prefer tabs over spaces', kind: 'preference' }, vscode); // no workspace: visible everywhere
        await mem.add({ text: 'The tokenizer in the other project is hand-written', workspace: 'file:///other' }, vscode);
        const r = await mem.search('tokenizer release', { workspace: WS });
        assert.equal(r.mode, 'full-text');
        assert.match(r.note ?? '', /no embedding model/);
        assert.equal(r.embedding, null);
        assert.deepEqual(r.hits.map((h) => h.item.text.slice(0, 24)), ['tokenizer tokenizer toke', 'The tokenizer splits ide']);
        assert.ok(r.hits[0]!.score > r.hits[1]!.score);
        const everywhere = await mem.search('tokenizer', { allWorkspaces: true });
        assert.equal(everywhere.hits.length, 3);
        const global = await mem.search('tabs', { workspace: WS });
        assert.deepEqual(global.hits.map((h) => h.item.kind), ['preference'], 'items tied to no workspace are seen from every workspace');
        const syntax = await mem.search('NEAR OR "* -tokenizer:', { workspace: WS });
        assert.equal(syntax.hits.length, 2, 'FTS syntax in the query is treated as words');
        const relevant = await mem.relevant('camelCase tokenizer', { workspace: WS, limit: 1 });
        assert.equal(relevant.length, 1);
        const piece = relevant[0]!;
        assert.deepEqual(piece.source, { kind: 'memory', id: piece.item.id, uri: `memory:${piece.item.id}`, client: 'neovim' });
        assert.equal(piece.dataClass, 'memory');
        assert.equal(piece.bytes, Buffer.byteLength(piece.text));
        assert.equal(piece.text, 'The tokenizer splits identifiers on camelCase boundaries');
      });
    });

    it('keeps its term statistics right as items come and go, and bounds the rows ranked for common terms', async () => {
      await withMemory(async (mem) => {
        assert.deepEqual((await mem.search('quagga', { workspace: WS })).hits, [], 'the term is unknown (and its frequency 0 is now cached)');
        const q = await mem.add({ text: 'the quagga is extinct', workspace: WS }, nvim);
        assert.deepEqual((await mem.search('quagga', { workspace: WS })).hits.map((h) => h.item.id), [q.id]);
        await mem.forget(q.id);
        assert.deepEqual((await mem.search('quagga', { workspace: WS })).hits, []);
        const again = await mem.add({ text: 'a quagga again', workspace: WS }, nvim);
        assert.deepEqual((await mem.search('quagga', { workspace: WS })).hits.map((h) => h.item.id), [again.id]);

        // More items hold "common" than FULL_TEXT_ROW_BUDGET: the newest matches are ranked, with "common" required.
        await mem.addMany(Array.from({ length: FULL_TEXT_ROW_BUDGET + 100 }, (_, i) => ({ text: `common word ${i}${i % 2 ? ' odd' : ''}`, workspace: WS })), vscode);
        const r = await mem.search('common', { workspace: WS, limit: 5 });
        assert.equal(r.hits.length, 5);
        assert.ok(r.hits.every((h) => h.item.text.startsWith('common word')));
        const rare = await mem.search('common quagga', { workspace: WS });
        assert.equal(rare.hits[0]?.item.id, again.id, 'the rare term decides when both are asked for');
      });
    });

    it('keeps the FTS4 index through snapshots and rebuilds it after an export/import gives its rows new docids', async () => {
      const dir = newDir();
      const ids = await withMemory(async (mem, store) => {
        const a = await mem.add({ text: 'alpha zebra', workspace: WS }, nvim);
        const b = await mem.add({ text: 'beta zebra', workspace: WS }, nvim);
        const c = await mem.add({ text: 'gamma zebra', workspace: WS }, nvim);
        await mem.forget(a.id); // leaves a gap: seqs no longer match fresh docids
        await store.snapshot();
        return [b.id, c.id];
      }, dir);
      const exported = await withMemory(async (mem, store) => {
        const r = await mem.search('zebra', { workspace: WS });
        assert.deepEqual(r.hits.map((h) => h.item.id).sort(), [...ids].sort(), 'the FTS index survived the snapshot and reopen');
        const ex = store.exportState();
        assert.deepEqual(ex.tables.memory_fts?.rows, [['beta zebra'], ['gamma zebra']], 'the virtual table is exported through its columns');
        assert.ok(!Object.keys(ex.tables).some((t) => t.startsWith('memory_fts_')), 'FTS shadow tables are not exported');
        return ex;
      }, dir);
      const target = newDir();
      await Store.importState(target, JSON.parse(JSON.stringify(exported)));
      const warnings: string[] = [];
      await withMemory(
        async (mem, store) => {
          assert.match(warnings.join('\n'), /rebuilding it from the items/);
          const docids = store.all<{ docid: number }>('SELECT docid FROM memory_fts ORDER BY docid').map((r) => r.docid);
          const seqs = store.all<{ seq: number }>('SELECT seq FROM memory_items ORDER BY seq').map((r) => r.seq);
          assert.deepEqual(docids, seqs);
          const r = await mem.search('gamma', { workspace: WS });
          assert.deepEqual(r.hits.map((h) => h.item.id), [ids[1]], 'the same item, with the same id, is found after import');
          const fresh = await mem.add({ text: 'delta zebra', workspace: WS }, vscode);
          assert.ok(fresh.seq > Math.max(...seqs));
        },
        target,
        { log: (_l, m) => warnings.push(m) },
      );
    });
  });

  describe('hybrid search with the tiny transformers.js model', () => {
    it('embeds in the background without holding up add, reports progress, then fuses full-text and vector ranks', async () => {
      const real = new TransformersEmbeddingProvider({ modelDir: TINY_BERT });
      const gated = new GatedProvider(real);
      const dir = newDir();
      try {
        await withMemory(
          async (mem, store) => {
            const events: EmbeddingProgress[] = [];
            mem.onEmbeddingProgress((p) => events.push(p));
            const texts = Array.from({ length: 40 }, (_, i) => `note ${i}: ${['parser arena', 'vector cosine', 'release checklist', 'tabs spaces'][i % 4]} topic${i}`);
            for (const text of texts) await mem.add({ text, workspace: WS }, nvim); // resolves while embed() is held at the gate
            const before = mem.embeddingProgress()!;
            assert.equal(before.done, 0);
            assert.equal(before.total, 40);
            assert.ok(gated.calls <= 1, 'at most the first batch was started');
            const early = await mem.search('parser arena', { workspace: WS });
            assert.equal(early.mode, 'full-text', 'before any embedding exists search is full-text');
            assert.ok(early.hits.length > 0);

            gated.open();
            await mem.embeddingIdle();
            const last = events.at(-1)!;
            assert.deepEqual({ done: last.done, total: last.total }, { done: 40, total: 40 });
            assert.ok(events.some((e) => e.done > 0 && e.done < 40), 'intermediate progress was reported (batches of 8)');
            for (let k = 1; k < events.length; k++) assert.ok(events[k]!.done >= events[k - 1]!.done);
            assert.equal(mem.embeddedCount, 40);
            assert.equal(store.get<{ n: number }>('SELECT count(*) AS n FROM memory_vectors')?.n, 40);

            const r = await mem.search('parser arena topic8', { workspace: WS, limit: 5 });
            assert.equal(r.mode, 'hybrid');
            assert.equal(r.hits[0]!.item.text, texts[8], 'the item matching every term ranks first');
            assert.ok(r.hits.every((h) => h.vector !== null || h.fullText !== null));
            assert.ok(r.hits.some((h) => h.vector !== null && h.fullText !== null), 'some hits come from both rankings');
            const vec = await mem.search('zzzz unmatched words', { workspace: WS, mode: 'vector', limit: 3 });
            assert.equal(vec.hits.length, 3, 'vector search returns neighbours even without shared words');
          },
          dir,
          { embedder: gated, embedBatchSize: 8 },
        );
        // Reopen: the vectors come back from the store into the in-memory matrix; nothing is re-embedded.
        const calls = gated.calls;
        await withMemory(
          async (mem) => {
            assert.equal(mem.embeddedCount, 40);
            assert.deepEqual(mem.embeddingProgress(), { done: 0, total: 0, model: real.id });
            const r = await mem.search('release checklist', { workspace: WS });
            assert.equal(r.mode, 'hybrid');
            assert.equal(gated.calls, calls + 1, 'only the query was embedded');
          },
          dir,
          { embedder: gated },
        );
      } finally {
        await real.dispose();
      }
    });

    it('cancels background embedding and resumes it later', async () => {
      const real = new TransformersEmbeddingProvider({ modelDir: TINY_BERT });
      const gated = new GatedProvider(real);
      try {
        await withMemory(
          async (mem) => {
            await mem.addMany(Array.from({ length: 20 }, (_, i) => ({ text: `item ${i}` })), nvim);
            await new Promise((r) => setImmediate(r));
            const cancelling = mem.cancelEmbedding();
            gated.open();
            await cancelling;
            assert.equal(mem.embeddingProgress()!.total, 20);
            assert.ok(mem.embeddingProgress()!.done < 20, 'cancel stopped the queue');
            mem.resumeEmbedding();
            await mem.embeddingIdle();
            assert.deepEqual(mem.embeddingProgress(), { done: 20, total: 20, model: real.id });
            assert.equal(mem.embeddedCount, 20);
          },
          newDir(),
          { embedder: gated, embedBatchSize: 4 },
        );
      } finally {
        await real.dispose();
      }
    });
  });

  describe('forget', () => {
    it('removes the item from search (full-text and vector), the FTS table, the vectors and a later export', async () => {
      const real = new TransformersEmbeddingProvider({ modelDir: TINY_BERT });
      try {
        await withMemory(
          async (mem, store) => {
            const keep = await mem.add({ text: 'keep this note about the build cache', workspace: WS }, nvim);
            const secret = await mem.add({ text: 'the staging password hint is platypus', workspace: WS }, vscode);
            await mem.embeddingIdle();
            assert.equal(mem.embeddedCount, 2);
            const ft = await mem.search('platypus', { workspace: WS, mode: 'full-text' });
            assert.deepEqual(ft.hits.map((h) => h.item.id), [secret.id]);
            const vec = await mem.search('the staging password hint is platypus', { workspace: WS, mode: 'vector' });
            assert.equal(vec.hits[0]?.item.id, secret.id);
            assert.match(JSON.stringify(store.exportState()), /platypus/);

            const gone = await mem.forget(secret.id);
            assert.equal(gone.id, secret.id);
            assert.equal(mem.get(secret.id), undefined);
            assert.deepEqual((await mem.search('platypus', { workspace: WS, mode: 'full-text' })).hits, []);
            const after = await mem.search('the staging password hint is platypus', { workspace: WS, mode: 'vector' });
            assert.deepEqual(after.hits.map((h) => h.item.id), [keep.id], 'only the kept item is left in the vectors');
            assert.deepEqual((await mem.search('the staging password hint is platypus', { workspace: WS })).hits.map((h) => h.item.id), [keep.id]);
            assert.deepEqual(store.all("SELECT docid FROM memory_fts WHERE memory_fts MATCH 'platypus'"), [], 'not in the FTS index');
            assert.deepEqual(store.all('SELECT docid FROM memory_fts WHERE docid = ?', [secret.seq]), []);
            assert.deepEqual(store.all('SELECT seq FROM memory_vectors WHERE seq = ?', [secret.seq]), [], 'no stored vector');
            assert.equal(mem.embeddedCount, 1, 'not in the in-memory matrix');
            const exported = JSON.stringify(store.exportState());
            assert.doesNotMatch(exported, /platypus/);
            assert.doesNotMatch(exported, new RegExp(secret.id));
            assert.match(exported, /build cache/);
            // Nor in the files: the next snapshot holds no trace of it (secure_delete + an FTS merge),
            // and the journal that still held the original write is restarted.
            await store.snapshot();
            for (const f of readdirSync(store.dir)) {
              const bytes = readFileSync(path.join(store.dir, f));
              assert.equal(bytes.includes('platypus'), false, `${f} still holds the forgotten text`);
            }
            await assert.rejects(mem.forget(secret.id), (e: unknown) => e instanceof MemoryError && e.code === 'not-found' && /hearth memory list/.test(e.message));
          },
          newDir(),
          { embedder: real },
        );
      } finally {
        await real.dispose();
      }
    });
  });

  describe('ranking pieces', () => {
    it('BM25 from matchinfo ranks a rarer term, a shorter document and more hits higher', () => {
      // 'pcnaly' for p=1 c=1 n=10: a=[10] l=[len] y=[tf]; df is the caller's
      const mi = (len: number, tf: number) => new Uint8Array(new Uint32Array([1, 1, 10, 10, len, tf]).buffer);
      assert.ok(bm25FromMatchinfo(mi(10, 1), [1]) > bm25FromMatchinfo(mi(10, 1), [5]), 'rarer term scores higher');
      assert.ok(bm25FromMatchinfo(mi(5, 1), [2]) > bm25FromMatchinfo(mi(20, 1), [2]), 'shorter document scores higher');
      assert.ok(bm25FromMatchinfo(mi(10, 3), [2]) > bm25FromMatchinfo(mi(10, 1), [2]), 'more hits score higher');
      assert.equal(bm25FromMatchinfo(mi(10, 0), [2]), 0);
      // two phrases: only the one present in the row counts
      const two = new Uint8Array(new Uint32Array([2, 1, 10, 10, 10, 0, 2]).buffer);
      assert.equal(bm25FromMatchinfo(two, [3, 3]), bm25FromMatchinfo(mi(10, 2), [3]));
    });

    it('reciprocal rank fusion rewards agreement between lists', () => {
      const fused = reciprocalRankFusion([
        ['a', 'b', 'c'],
        ['d', 'b', 'c'],
      ]);
      assert.equal(fused[0]!.key, 'b');
      assert.deepEqual(fused[0]!.ranks, [2, 2]);
      assert.deepEqual(fused.map((f) => f.key), ['b', 'c', 'a', 'd'], 'c (ranks 3 and 3) beats a and d (one list each)');
      assert.ok(Math.abs(fused[0]!.score - 2 / 62) < 1e-12);
    });

    it('topK and the vector index agree with a naive full sort, also after deletes', () => {
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
      const scores = Array.from({ length: 500 }, rnd);
      assert.deepEqual(topK(scores, 10).map((t) => t.index), scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 10).map((x) => x[1]));
      const dim = 8;
      const idx = new VectorIndex(dim, 4);
      const vecs = new Map<number, Float32Array>();
      for (let s = 1; s <= 300; s++) {
        const v = Float32Array.from({ length: dim }, rnd);
        normalizeInPlace(v);
        vecs.set(s, v);
        idx.set(s, v, s % 3);
      }
      for (let s = 1; s <= 300; s += 7) {
        idx.delete(s);
        vecs.delete(s);
      }
      const q = Float32Array.from({ length: dim }, rnd);
      normalizeInPlace(q);
      const naive = [...vecs]
        .filter(([s]) => s % 3 !== 1)
        .map(([s, v]) => [s, v.reduce((acc, x, i) => acc + x * q[i]!, 0)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map((x) => x[0]);
      assert.deepEqual(idx.search(q, 15, new Set([0, 2])).map((h) => h.seq), naive);
      assert.equal(idx.size, vecs.size);
    });
  });
});
