// One memory for every editor, kept in the store on this machine. Items are written durably (the
// write resolves after fdatasync), indexed for full-text search (FTS4, ranked by BM25 in JS) and,
// in the background, embedded for vector search (an in-memory matrix of unit vectors); the two
// rankings are fused with reciprocal rank fusion. Every item records which client wrote it; a
// client's writes can be paused; forgetting removes an item from the table, the FTS index and the
// vectors in one write.
import { createHash, randomBytes } from 'node:crypto';
import type { Provider } from '../engines/types.js';
import type { ContextPiece } from '../routing/plan.js';
import type { SqlValue, Statement, Store } from '../store/index.js';
import { BackgroundQueue, type EmbeddingProgress } from './background.js';
import { BM25_MATCHINFO, bm25FromMatchinfo, documentFrequencies, documentTerms, ftsMatchExpression, queryTerms, reciprocalRankFusion, topK } from './ranking.js';
import { MEMORY_KINDS, MemoryError, type MemoryItem, type MemoryKind, type MemoryRange, type MemoryWriter, type NewMemoryItem } from './types.js';
import { VectorIndex, decodeVector, encodeVector, normalizeInPlace } from './vectors.js';

export const DEFAULT_MAX_TEXT_BYTES = 64 * 1024;
export const DEFAULT_EMBED_BATCH = 32;
const MAX_LIMIT = 1000;
/** Most FTS rows ranked per query (each costs a matchinfo blob and a BM25 in JS). */
export const FULL_TEXT_ROW_BUDGET = 800;
/** Terms in more than this fraction of all items are treated as stop words when rarer ones exist. */
const COMMON_TERM_FRACTION = 0.25;
/** Cached document frequencies kept at most (the cache is cleared when it grows past this). */
const DF_CACHE_MAX = 50_000;

export interface MemoryOptions {
  /** Local embedding provider (capability `embeddings`); without one, search is full-text only. */
  embedder?: Provider;
  /** Items per `embed()` call and per vector write (default 32). */
  embedBatchSize?: number;
  /** Largest item text in UTF-8 bytes (default 64 KiB). */
  maxTextBytes?: number;
  /** Clock for `createdAt` and pause times (tests). */
  now?: () => Date;
  log?: (level: 'warning' | 'info', message: string) => void;
}

export interface ListOptions {
  /** only items written by this client name (e.g. "neovim") */
  client?: string;
  /** only items of this workspace (null: only items not tied to a workspace) */
  workspace?: string | null;
  kind?: MemoryKind;
  /** default 50, at most 1000 */
  limit?: number;
  /** paging: only items older than this seq */
  beforeSeq?: number;
}

export type SearchMode = 'hybrid' | 'full-text' | 'vector';

export interface SearchOptions {
  /** search this workspace's items plus items tied to no workspace; required unless allWorkspaces */
  workspace?: string | null;
  allWorkspaces?: boolean;
  /** default 10, at most 1000 */
  limit?: number;
  /** default 'hybrid' (falls back to 'full-text' when no embeddings are available) */
  mode?: SearchMode;
}

export interface SearchHit {
  item: MemoryItem;
  /** fused RRF score in hybrid mode; BM25 in full-text mode; cosine similarity in vector mode */
  score: number;
  fullText: { rank: number; bm25: number } | null;
  vector: { rank: number; similarity: number } | null;
}

export interface SearchResult {
  hits: SearchHit[];
  /** what actually ran */
  mode: SearchMode;
  /** why the mode differs from the one asked for, e.g. no embedding model */
  note?: string;
  /** background embedding state: items not yet embedded are found by full-text only */
  embedding: EmbeddingProgress | null;
}

/** One memory item ready for context assembly: a route-plan ContextPiece plus its score and item. */
export interface RelevantMemory {
  source: { kind: 'memory'; id: string; uri: string; client: string };
  text: string;
  dataClass: 'memory';
  /** UTF-8 bytes of `text` */
  bytes: number;
  score: number;
  item: MemoryItem;
}

export interface RelevantOptions {
  workspace: string | null;
  /** default 5 */
  limit?: number;
  /** stop adding items once their texts would pass this many bytes */
  maxBytes?: number;
}

export interface MemoryExport {
  format: 'hearth-memory';
  version: 1;
  exportedAt: string;
  items: MemoryItem[];
}

export interface PausedClient {
  name: string;
  pausedAt: string;
}

interface ItemRow {
  seq: number;
  id: string;
  kind: string;
  text: string;
  workspace: string | null;
  file_uri: string | null;
  range_start_line: number | null;
  range_start_character: number | null;
  range_end_line: number | null;
  range_end_character: number | null;
  client_id: string;
  client_name: string;
  client_version: string;
  created_at: string;
}

const ITEM_COLUMNS =
  'seq, id, kind, text, workspace, file_uri, range_start_line, range_start_character, range_end_line, range_end_character, ' +
  'client_id, client_name, client_version, created_at';
const INSERT_ITEM = `INSERT INTO memory_items (${ITEM_COLUMNS}) VALUES (${ITEM_COLUMNS.split(',').map(() => '?').join(', ')})`;
const INSERT_FTS = 'INSERT INTO memory_fts (docid, text) VALUES (?, ?)';
// Forgetting must erase the text from the index's pages too, not only mark it deleted: FTS4 keeps a
// deleted document's terms in older segments until they are merged, so a forget merges them.
const OPTIMIZE_FTS: Statement = { sql: "INSERT INTO memory_fts (memory_fts) VALUES ('optimize')" };
const INSERT_VECTOR =
  'INSERT OR REPLACE INTO memory_vectors (seq, model, dim, vec) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM memory_items WHERE seq = ?)';

function rowToItem(r: ItemRow): MemoryItem {
  const range: MemoryRange | null =
    r.range_start_line !== null && r.range_start_character !== null && r.range_end_line !== null && r.range_end_character !== null
      ? { start: { line: r.range_start_line, character: r.range_start_character }, end: { line: r.range_end_line, character: r.range_end_character } }
      : null;
  return {
    id: r.id,
    seq: r.seq,
    kind: r.kind as MemoryKind,
    text: r.text,
    workspace: r.workspace,
    file: r.file_uri !== null ? { uri: r.file_uri, range } : null,
    client: { id: r.client_id, name: r.client_name, version: r.client_version },
    createdAt: r.created_at,
  };
}

function invalid(what: string): MemoryError {
  return new MemoryError('invalid', `${what}; nothing was stored`);
}

function checkString(v: unknown, what: string, max: number, allowEmpty = false): string {
  if (typeof v !== 'string') throw invalid(`${what} must be a string`);
  if (!allowEmpty && v.trim() === '') throw invalid(`${what} is empty`);
  if (v.length > max) throw invalid(`${what} is ${v.length} characters; the limit is ${max}`);
  return v;
}

function checkWriter(w: unknown): MemoryWriter {
  if (typeof w !== 'object' || w === null) throw invalid('the writer must be { id, name, version } of the client that writes');
  const { id, name, version } = w as Record<string, unknown>;
  return {
    id: checkString(id, 'writer.id', 256),
    name: checkString(name, 'writer.name', 128),
    version: checkString(version, 'writer.version', 64, true),
  };
}

function checkPosition(p: unknown, what: string): { line: number; character: number } {
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  const { line, character } = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
  if (!ok(line) || !ok(character)) throw invalid(`${what} must be { line, character } with non-negative integers`);
  return { line, character };
}

function checkLimit(limit: unknown, dflt: number): number {
  if (limit === undefined) return dflt;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new MemoryError('invalid', `limit must be a positive integer, got ${JSON.stringify(limit)}`);
  }
  return Math.min(limit, MAX_LIMIT);
}

function checkEmbedder(p: Provider): void {
  if (!p.capabilities.embeddings) {
    throw new MemoryError('invalid', `provider ${p.id} cannot compute embeddings; pass an embedding provider or none (full-text search still works)`);
  }
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

type Scope = { all: true } | { all: false; workspace: string | null };

/** One embedding model at work: its provider, its background queue and its in-memory vectors. */
interface Embedding {
  readonly provider: Provider;
  readonly queue: BackgroundQueue;
  vectors: VectorIndex | undefined;
  /** Query embeddings in flight: the provider is disposed only after they settle. */
  readonly queries: Set<Promise<unknown>>;
}

export class MemoryStore {
  #closed = false;
  #nextSeq: number;
  readonly #paused: Map<string, string>;
  /** Keyed adds not yet durable, by derived id: a concurrent resend waits for the same write. */
  readonly #keyed = new Map<string, Promise<MemoryItem>>();
  readonly #groups = new Map<string, number>();
  /** The embedding model in use; undefined without one (full-text search only) and while switching. */
  #emb: Embedding | undefined;
  /** setEmbedder() calls run one after another. */
  #switching: Promise<void> = Promise.resolve();
  #switchesPending = 0;
  readonly #progressListeners = new Set<(p: EmbeddingProgress) => void>();
  readonly #now: () => Date;
  readonly #maxTextBytes: number;
  /**
   * Document frequency per term, read from FTS4 (matchinfo 'x') the first time a query uses the
   * term and kept up to date on add and forget; with the item count it drives term selection.
   * An estimate is enough here: it only bounds the work, BM25 itself uses FTS4's exact figures.
   */
  readonly #df = new Map<string, number>();
  #dfTotal = -1;

  private constructor(
    private readonly store: Store,
    private readonly opts: MemoryOptions,
    nextSeq: number,
    paused: Map<string, string>,
  ) {
    this.#nextSeq = nextSeq;
    this.#paused = paused;
    this.#now = opts.now ?? (() => new Date());
    this.#maxTextBytes = opts.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  }

  /**
   * Opens the memory kept in `store` (which must be at schema 4 or later). Checks that the
   * full-text index matches the items and rebuilds it when not (an import gives FTS rows new
   * docids); with an embedder, loads its stored vectors into memory and queues the items that
   * have none for background embedding.
   */
  static async open(store: Store, opts: MemoryOptions = {}): Promise<MemoryStore> {
    const hasTable = store.get("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = 'memory_items'");
    if (!hasTable) {
      throw new MemoryError('invalid', `the store at ${store.dir} has no memory tables (schema ${store.schemaVersion}); open it with this Hearth's migrations`);
    }
    if (opts.embedder) checkEmbedder(opts.embedder);
    await MemoryStore.#repairFullText(store, opts.log);
    const seqRow = store.get<{ m: number | null }>(
      "SELECT max(coalesce((SELECT max(seq) FROM memory_items), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memory_items'), 0)) AS m",
    );
    const paused = new Map(
      store.all<{ client_name: string; paused_at: string }>('SELECT client_name, paused_at FROM memory_paused_clients').map((r) => [r.client_name, r.paused_at]),
    );
    const mem = new MemoryStore(store, opts, (seqRow?.m ?? 0) + 1, paused);
    if (opts.embedder) mem.#startEmbedding(opts.embedder);
    return mem;
  }

  static async #repairFullText(store: Store, log: MemoryOptions['log']): Promise<void> {
    const items = store.get<{ n: number }>('SELECT count(*) AS n FROM memory_items')?.n ?? 0;
    const indexed = store.get<{ n: number }>('SELECT count(*) AS n FROM memory_fts')?.n ?? 0;
    const missing = items === 0 ? 0 : (store.get<{ n: number }>('SELECT count(*) AS n FROM memory_items WHERE seq NOT IN (SELECT docid FROM memory_fts)')?.n ?? 0);
    if (items === indexed && missing === 0) return;
    log?.('warning', `memory: the full-text index holds ${indexed} rows for ${items} items (${missing} unindexed); rebuilding it from the items`);
    await store.write([
      { sql: 'DELETE FROM memory_fts' },
      { sql: 'INSERT INTO memory_fts (docid, text) SELECT seq, text FROM memory_items ORDER BY seq' },
    ]);
  }

  #group(workspace: string | null): number {
    if (workspace === null) return 0;
    let g = this.#groups.get(workspace);
    if (g === undefined) {
      g = this.#groups.size + 1;
      this.#groups.set(workspace, g);
    }
    return g;
  }

  /**
   * Makes `provider` the embedding model: loads its stored vectors into a new in-memory index and
   * queues every item that has none (or one of another dimension) for background embedding.
   */
  #startEmbedding(provider: Provider): void {
    const emb: Embedding = {
      provider,
      queue: new BackgroundQueue(provider.id, this.opts.embedBatchSize ?? DEFAULT_EMBED_BATCH, (seqs, signal) => this.#embedBatch(emb, seqs, signal)),
      vectors: undefined,
      queries: new Set(),
    };
    emb.queue.onProgress((p) => {
      if (this.#emb !== emb) return; // a model being replaced says nothing more
      for (const l of this.#progressListeners) {
        try {
          l(p);
        } catch {
          /* a listener's failure must not stop the queue */
        }
      }
    });
    const stmtRows = this.store.all<{ seq: number; dim: number; vec: Uint8Array; workspace: string | null }>(
      'SELECT v.seq AS seq, v.dim AS dim, v.vec AS vec, i.workspace AS workspace FROM memory_vectors v JOIN memory_items i ON i.seq = v.seq WHERE v.model = ? ORDER BY v.seq',
      [provider.id],
    );
    const stale: number[] = [];
    for (const r of stmtRows) {
      emb.vectors ??= new VectorIndex(r.dim, stmtRows.length);
      if (r.dim !== emb.vectors.dim) {
        stale.push(r.seq);
        continue;
      }
      emb.vectors.set(r.seq, decodeVector(r.vec, r.dim), this.#group(r.workspace));
    }
    const missing = this.store
      .all<{ seq: number }>('SELECT seq FROM memory_items WHERE seq NOT IN (SELECT seq FROM memory_vectors WHERE model = ?) ORDER BY seq', [provider.id])
      .map((r) => r.seq);
    this.#emb = emb;
    emb.queue.enqueue([...stale, ...missing].sort((a, b) => a - b));
  }

  /**
   * Switches the embedding model while the memory is in use (a model added or removed with
   * `hearth models`), or turns vector search off with `undefined`. The background queue of the
   * previous model is stopped (its batch in flight aborted) and its in-memory vectors dropped;
   * the new model's stored vectors are loaded and the items without one are queued. Searches made
   * meanwhile run full-text only and say so in their note. The previous provider is disposed once
   * no search uses it any more; `provider` belongs to the memory from now on (`close()` leaves the
   * current one to its owner, see `embedder`). Calls run one after another.
   */
  async setEmbedder(provider: Provider | undefined): Promise<void> {
    this.#assertOpen();
    if (provider) checkEmbedder(provider);
    if (this.#switchesPending === 0 && this.#emb?.provider === provider) return;
    // The model in use stops serving at once: a search that starts after this call runs full-text.
    const detached = this.#emb;
    this.#emb = undefined;
    this.#switchesPending++;
    const run = this.#switching.then(() => this.#switchTo(detached, provider)).finally(() => this.#switchesPending--);
    this.#switching = run.catch(() => undefined);
    return run;
  }

  async #switchTo(detached: Embedding | undefined, provider: Provider | undefined): Promise<void> {
    // `detached` was in use when this switch was asked for; an earlier switch may have started another since.
    const olds = [...new Set([detached, this.#emb])].filter((e): e is Embedding => e !== undefined);
    this.#emb = undefined; // searches are full-text only and new items wait for the next model
    for (const old of olds) {
      await old.queue.cancel();
      await Promise.allSettled([...old.queries]);
    }
    if (provider) {
      if (this.#closed) await provider.dispose().catch(() => undefined);
      else this.#startEmbedding(provider);
    }
    for (const old of olds) {
      if (old.provider === provider) continue;
      await old.provider.dispose().catch((e: unknown) => this.opts.log?.('warning', `disposing embedding model ${old.provider.id} failed: ${e instanceof Error ? e.message : String(e)}`));
    }
    this.opts.log?.('info', provider ? `embedding model is now ${provider.id}` : 'no embedding model: full-text search only');
  }

  /** The embedding model in use (undefined without one, and while a switch is under way). */
  get embedder(): Provider | undefined {
    return this.#emb?.provider;
  }

  #assertOpen(): void {
    if (this.#closed) throw new MemoryError('closed', 'memory is closed; reopen the store to use it');
  }

  // ------------------------------------------------------------------------------------------
  // Writing

  /** Checks an item without storing it; returns the statement parameters. */
  #prepare(input: unknown, writer: MemoryWriter, seq: number, id: string, createdAt: string): SqlValue[] {
    if (typeof input !== 'object' || input === null) throw invalid('a memory item must be an object with at least "text"');
    const it = input as Record<string, unknown>;
    const text = checkString(it.text, 'the item text', Number.MAX_SAFE_INTEGER);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.#maxTextBytes) {
      throw invalid(`the item text is ${bytes} bytes; the limit is ${this.#maxTextBytes} (remember a shorter excerpt, or a file reference with a range)`);
    }
    const kind = it.kind ?? 'note';
    if (typeof kind !== 'string' || !(MEMORY_KINDS as readonly string[]).includes(kind)) {
      throw invalid(`kind ${JSON.stringify(kind)} is not one of ${MEMORY_KINDS.join(', ')}`);
    }
    const workspace = it.workspace === undefined || it.workspace === null ? null : checkString(it.workspace, 'workspace', 4096);
    let fileUri: string | null = null;
    let range: [number, number, number, number] | [null, null, null, null] = [null, null, null, null];
    if (it.file !== undefined && it.file !== null) {
      if (typeof it.file !== 'object') throw invalid('file must be { uri, range? }');
      const f = it.file as Record<string, unknown>;
      fileUri = checkString(f.uri, 'file.uri', 4096);
      if (f.range !== undefined && f.range !== null) {
        const r = f.range as Record<string, unknown>;
        const start = checkPosition(r.start, 'file.range.start');
        const end = checkPosition(r.end, 'file.range.end');
        if (end.line < start.line || (end.line === start.line && end.character < start.character)) {
          throw invalid('file.range ends before it starts');
        }
        range = [start.line, start.character, end.line, end.character];
      }
    }
    return [seq, id, kind, text, workspace, fileUri, ...range, writer.id, writer.name, writer.version, createdAt];
  }

  #refuseIfPaused(writer: MemoryWriter): void {
    const since = this.#paused.get(writer.name);
    if (since !== undefined) {
      throw new MemoryError(
        'paused',
        `memory writes from "${writer.name}" are paused (since ${since}); nothing was stored. Resume them with \`hearth memory resume ${writer.name}\`.`,
      );
    }
  }

  /**
   * Stores one item. Resolves once it is durable (journaled and fdatasync'd); its embedding is
   * computed later in the background. Rejects with MemoryError 'paused' when the writer's client
   * name is paused and 'invalid' for a bad item.
   */
  async add(input: NewMemoryItem, writer: MemoryWriter): Promise<MemoryItem> {
    const key = typeof input === 'object' && input !== null ? (input as { requestKey?: unknown }).requestKey : undefined;
    if (key === undefined) {
      const [item] = await this.addMany([input], writer);
      return item!;
    }
    // With a request key (see NewMemoryItem.requestKey) the item's id is derived from the writer's
    // name and the key, so a resend finds what the first attempt stored. Before this, an add that
    // was durable when the daemon was killed, but whose reply was lost, was stored a second time
    // when the bridge resent it (test/integration/memory-daemon-crash.test.ts, "request key").
    // Everything up to the insert is synchronous, so seqs still follow call order.
    this.#assertOpen();
    const w = checkWriter(writer);
    const k = checkString(key, 'requestKey', 128);
    const id = createHash('sha256').update(w.name).update('\u0000').update(k).digest('hex').slice(0, 16);
    const same = (item: MemoryItem): MemoryItem => {
      if (item.text !== input.text || item.client.name !== w.name) {
        throw invalid(`requestKey ${JSON.stringify(k)} was already used by "${w.name}" for another item (${item.id}); use a new key for each item`);
      }
      return item;
    };
    const pending = this.#keyed.get(id);
    if (pending) return same(await pending);
    const stored = this.get(id);
    if (stored) return same(stored); // already stored (before a pause, too): the resend is answered, not refused
    this.#refuseIfPaused(w);
    const p = this.#insert([input], w, [id]).then((items) => items[0]!);
    this.#keyed.set(id, p);
    const done = (): void => void this.#keyed.delete(id);
    p.then(done, done);
    return p;
  }

  /**
   * Stores several items in one durable write (all or none); for imports and bulk loads. Items
   * get consecutive seqs in the order given.
   */
  async addMany(inputs: readonly NewMemoryItem[], writer: MemoryWriter): Promise<MemoryItem[]> {
    this.#assertOpen();
    const w = checkWriter(writer);
    this.#refuseIfPaused(w);
    if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('addMany takes a non-empty array of items');
    if (inputs.some((i) => typeof i === 'object' && i !== null && (i as { requestKey?: unknown }).requestKey !== undefined)) {
      throw invalid('requestKey is taken by add(), one item at a time');
    }
    return this.#insert(inputs, w);
  }

  /** Checks and stores items of a checked, unpaused writer; `ids` (derived from request keys) or random ids. */
  async #insert(inputs: readonly NewMemoryItem[], w: MemoryWriter, ids?: readonly string[]): Promise<MemoryItem[]> {
    const createdAt = this.#now().toISOString();
    const firstSeq = this.#nextSeq;
    const rows = inputs.map((input, i) => {
      try {
        return this.#prepare(input, w, firstSeq + i, ids?.[i] ?? randomBytes(8).toString('hex'), createdAt);
      } catch (e) {
        if (e instanceof MemoryError && inputs.length > 1) throw new MemoryError(e.code, `item ${i}: ${e.message}`);
        throw e;
      }
    });
    // Seqs are taken synchronously, in call order; the store applies writes in arrival order, so
    // seq order is commit order.
    this.#nextSeq += rows.length;
    const tx: Statement[] = [];
    for (const params of rows) {
      tx.push({ sql: INSERT_ITEM, params });
      tx.push({ sql: INSERT_FTS, params: [params[0]!, params[3]!] });
    }
    await this.store.write(tx);
    this.#countTerms(rows.map((p) => p[3] as string), 1);
    const items = rows.map((p) =>
      rowToItem({
        seq: p[0] as number, id: p[1] as string, kind: p[2] as string, text: p[3] as string, workspace: p[4] as string | null,
        file_uri: p[5] as string | null, range_start_line: p[6] as number | null, range_start_character: p[7] as number | null,
        range_end_line: p[8] as number | null, range_end_character: p[9] as number | null,
        client_id: w.id, client_name: w.name, client_version: w.version, created_at: createdAt,
      }),
    );
    if (!this.#closed) this.#emb?.queue.enqueue(items.map((i) => i.seq));
    return items;
  }

  /**
   * Removes the item from the table, the full-text index and the vectors in one durable write.
   * Rejects with MemoryError 'not-found' for an unknown id.
   */
  async forget(id: string): Promise<MemoryItem> {
    this.#assertOpen();
    const item = this.get(id);
    if (!item) throw new MemoryError('not-found', `no memory item has the id ${JSON.stringify(id)}; \`hearth memory list\` shows the ids`);
    await this.store.write([
      { sql: 'DELETE FROM memory_vectors WHERE seq = ?', params: [item.seq] },
      { sql: 'DELETE FROM memory_fts WHERE docid = ?', params: [item.seq] },
      { sql: 'DELETE FROM memory_items WHERE seq = ?', params: [item.seq] },
      OPTIMIZE_FTS,
    ]);
    this.#countTerms([item.text], -1);
    this.#emb?.vectors?.delete(item.seq);
    this.#emb?.queue.drop(item.seq);
    return item;
  }

  /** Refuses further writes from clients with this name (persisted); takes effect at once. */
  async pause(clientName: string): Promise<PausedClient> {
    this.#assertOpen();
    const name = checkString(clientName, 'the client name', 128);
    const existing = this.#paused.get(name);
    if (existing !== undefined) return { name, pausedAt: existing };
    const pausedAt = this.#now().toISOString();
    this.#paused.set(name, pausedAt); // before the write: no write from it slips in meanwhile
    try {
      await this.store.write([{ sql: 'INSERT OR REPLACE INTO memory_paused_clients (client_name, paused_at) VALUES (?, ?)', params: [name, pausedAt] }]);
    } catch (e) {
      this.#paused.delete(name);
      throw e;
    }
    return { name, pausedAt };
  }

  /** Allows writes from this client name again; returns false when it was not paused. */
  async resume(clientName: string): Promise<boolean> {
    this.#assertOpen();
    const name = checkString(clientName, 'the client name', 128);
    if (!this.#paused.has(name)) return false;
    await this.store.write([{ sql: 'DELETE FROM memory_paused_clients WHERE client_name = ?', params: [name] }]);
    this.#paused.delete(name);
    return true;
  }

  pausedClients(): PausedClient[] {
    return [...this.#paused].map(([name, pausedAt]) => ({ name, pausedAt })).sort((a, b) => a.name.localeCompare(b.name));
  }

  isPaused(clientName: string): boolean {
    return this.#paused.has(clientName);
  }

  // ------------------------------------------------------------------------------------------
  // Reading

  get(id: string): MemoryItem | undefined {
    this.#assertOpen();
    if (typeof id !== 'string') return undefined;
    const r = this.store.get<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM memory_items WHERE id = ?`, [id]);
    return r ? rowToItem(r) : undefined;
  }

  /** Newest first; every filter is optional. */
  list(opts: ListOptions = {}): MemoryItem[] {
    this.#assertOpen();
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (opts.client !== undefined) {
      where.push('client_name = ?');
      params.push(opts.client);
    }
    if (opts.workspace !== undefined) {
      where.push(opts.workspace === null ? 'workspace IS NULL' : 'workspace = ?');
      if (opts.workspace !== null) params.push(opts.workspace);
    }
    if (opts.kind !== undefined) {
      if (!(MEMORY_KINDS as readonly string[]).includes(opts.kind)) throw new MemoryError('invalid', `kind must be one of ${MEMORY_KINDS.join(', ')}`);
      where.push('kind = ?');
      params.push(opts.kind);
    }
    if (opts.beforeSeq !== undefined) {
      where.push('seq < ?');
      params.push(opts.beforeSeq);
    }
    params.push(checkLimit(opts.limit, 50));
    const sql = `SELECT ${ITEM_COLUMNS} FROM memory_items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return this.store.all<ItemRow>(sql, params).map(rowToItem);
  }

  count(): number {
    this.#assertOpen();
    return this.store.get<{ n: number }>('SELECT count(*) AS n FROM memory_items')?.n ?? 0;
  }

  /** Every item, oldest first, as one JSON-ready object (`hearth memory export`). */
  exportItems(): MemoryExport {
    this.#assertOpen();
    const items = this.store.all<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM memory_items ORDER BY seq`).map(rowToItem);
    return { format: 'hearth-memory', version: 1, exportedAt: this.#now().toISOString(), items };
  }

  #itemsBySeq(seqs: readonly number[]): Map<number, MemoryItem> {
    const out = new Map<number, MemoryItem>();
    for (let i = 0; i < seqs.length; i += 500) {
      const part = seqs.slice(i, i + 500);
      for (const r of this.store.all<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM memory_items WHERE seq IN (${placeholders(part.length)})`, [...part])) {
        out.set(r.seq, rowToItem(r));
      }
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Search

  #scope(opts: SearchOptions): Scope {
    if (opts.allWorkspaces === true) return { all: true };
    if (opts.workspace === undefined) {
      throw new MemoryError('invalid', 'search is scoped to a workspace: pass { workspace } (null for items tied to no workspace) or { allWorkspaces: true }');
    }
    if (opts.workspace !== null && typeof opts.workspace !== 'string') throw new MemoryError('invalid', 'workspace must be a string or null');
    return { all: false, workspace: opts.workspace };
  }

  /**
   * Full-text candidates, best first: BM25 (from matchinfo) over the matching rows in scope.
   * Ranking happens in JS, so the rows handed over are bounded: the query's terms are taken
   * rarest first while their summed document frequencies stay within FULL_TEXT_ROW_BUDGET (the
   * common ones left out add little to BM25). When even the rarest term is over the budget, all
   * terms must match (leaving out those in over a quarter of the items, like "the", unless nothing
   * else is left) and the newest matching rows are ranked.
   */
  #fullText(query: string, scope: Scope, depth: number): { seq: number; bm25: number }[] {
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    const df = this.#documentFrequencies(terms);
    const total = this.#dfTotal;
    const present = terms.filter((t) => (df.get(t) ?? 0) > 0);
    if (present.length === 0) return [];
    const byRarity = [...present].sort((a, b) => df.get(a)! - df.get(b)!);
    const chosen: string[] = [];
    let rows = 0;
    for (const t of byRarity) {
      if (rows + df.get(t)! > FULL_TEXT_ROW_BUDGET) break;
      chosen.push(t);
      rows += df.get(t)!;
    }
    let match: string;
    let tail = '';
    let phrases: string[];
    if (chosen.length > 0) {
      phrases = chosen;
      match = ftsMatchExpression(chosen)!;
    } else {
      // Even the rarest term is in more rows than the budget: all terms must match, newest first.
      // Terms in most items say little about any one item and are left out unless nothing else is left.
      const informative = byRarity.filter((t) => df.get(t)! <= total * COMMON_TERM_FRACTION);
      phrases = informative.length > 0 ? informative : byRarity;
      match = phrases.map((t) => `"${t.replace(/"/g, '""')}"`).join(' ');
      tail = ` ORDER BY memory_fts.docid DESC LIMIT ${FULL_TEXT_ROW_BUDGET}`;
    }
    let found: { seq: number; mi: Uint8Array }[];
    if (scope.all) {
      found = this.store.all(`SELECT docid AS seq, matchinfo(memory_fts, '${BM25_MATCHINFO}') AS mi FROM memory_fts WHERE memory_fts MATCH ?${tail}`, [match]);
    } else {
      // CROSS JOIN keeps the FTS scan outside: the other order runs one MATCH per item.
      const wsCond = scope.workspace === null ? 'i.workspace IS NULL' : '(i.workspace = ? OR i.workspace IS NULL)';
      found = this.store.all(
        `SELECT memory_fts.docid AS seq, matchinfo(memory_fts, '${BM25_MATCHINFO}') AS mi FROM memory_fts CROSS JOIN memory_items i ON i.seq = memory_fts.docid ` +
          `WHERE memory_fts MATCH ? AND ${wsCond}${tail}`,
        scope.workspace === null ? [match] : [match, scope.workspace],
      );
    }
    const scores = new Float64Array(found.length);
    const phraseDf = phrases.map((t) => df.get(t) ?? 1);
    found.forEach((r, i) => (scores[i] = bm25FromMatchinfo(r.mi, phraseDf)));
    return topK(scores, depth).map(({ index, score }) => ({ seq: found[index]!.seq, bm25: score }));
  }

  #documentFrequencies(terms: readonly string[]): Map<string, number> {
    if (this.#dfTotal < 0) this.#dfTotal = this.count();
    const missing = terms.filter((t) => !this.#df.has(t));
    if (missing.length > 0) {
      if (this.#df.size + missing.length > DF_CACHE_MAX) this.#df.clear();
      const stats = this.store.get<{ mi: Uint8Array }>("SELECT matchinfo(memory_fts, 'pcnx') AS mi FROM memory_fts WHERE memory_fts MATCH ? LIMIT 1", [
        ftsMatchExpression(missing)!,
      ]);
      const found = stats ? documentFrequencies(stats.mi) : [];
      missing.forEach((t, i) => this.#df.set(t, found[i] ?? 0));
    }
    return new Map(terms.map((t) => [t, this.#df.get(t) ?? 0]));
  }

  #countTerms(texts: readonly string[], delta: 1 | -1): void {
    if (this.#dfTotal >= 0) this.#dfTotal += delta * texts.length;
    if (this.#df.size === 0) return;
    for (const text of texts) {
      for (const t of documentTerms(text)) {
        const n = this.#df.get(t);
        if (n !== undefined) this.#df.set(t, Math.max(0, n + delta));
      }
    }
  }

  async #vectorSearch(emb: Embedding | undefined, query: string, scope: Scope, depth: number): Promise<{ seq: number; similarity: number }[] | string> {
    if (!emb) {
      return this.#switchesPending > 0 ? 'the embedding model is being switched: full-text search only' : 'no embedding model is configured: full-text search only';
    }
    const index = emb.vectors;
    if (!index || index.size === 0) return 'no item has an embedding yet: full-text search only';
    let q: Float32Array;
    const pending = emb.provider.embed([query]);
    emb.queries.add(pending);
    try {
      const [v] = await pending;
      q = Float32Array.from(v ?? []);
    } catch (e) {
      return `the embedding model failed (${e instanceof Error ? e.message : String(e)}): full-text search only`;
    } finally {
      emb.queries.delete(pending);
    }
    if (this.#emb !== emb) return 'the embedding model changed during this search: full-text search only';
    if (q.length !== index.dim || !normalizeInPlace(q)) return `the embedding model returned an unusable query vector: full-text search only`;
    let groups: Set<number> | undefined;
    if (!scope.all) {
      groups = new Set([0]);
      if (scope.workspace !== null) {
        const g = this.#groups.get(scope.workspace);
        if (g !== undefined) groups.add(g);
      }
    }
    return index.search(q, depth, groups);
  }

  /**
   * Searches this workspace's items (and items tied to no workspace) by full text and, when an
   * embedding model is available, by vector similarity, fused with reciprocal rank fusion.
   */
  async search(query: string, opts: SearchOptions): Promise<SearchResult> {
    this.#assertOpen();
    if (typeof query !== 'string') throw new MemoryError('invalid', 'the search query must be a string');
    const scope = this.#scope(opts);
    const limit = checkLimit(opts.limit, 10);
    const asked = opts.mode ?? 'hybrid';
    if (!['hybrid', 'full-text', 'vector'].includes(asked)) throw new MemoryError('invalid', `mode must be hybrid, full-text or vector, got ${JSON.stringify(asked)}`);
    const depth = Math.max(limit * 4, 50);
    const emb = this.#emb;
    const embedding = emb?.queue.progress() ?? null;

    const fullText = asked === 'vector' ? [] : this.#fullText(query, scope, depth);
    const vector = asked === 'full-text' ? [] : await this.#vectorSearch(emb, query, scope, depth);
    this.#assertOpen();
    let note: string | undefined;
    let mode: SearchMode = asked;
    let vectorHits: { seq: number; similarity: number }[] = [];
    if (typeof vector === 'string') {
      note = vector;
      mode = 'full-text';
      if (asked === 'vector') return { hits: [], mode: 'vector', note, embedding };
    } else {
      vectorHits = vector;
    }

    const ftRank = new Map(fullText.map((h, i) => [h.seq, { rank: i + 1, bm25: h.bm25 }]));
    const vRank = new Map(vectorHits.map((h, i) => [h.seq, { rank: i + 1, similarity: h.similarity }]));
    let ranked: { seq: number; score: number }[];
    if (mode === 'hybrid') {
      ranked = reciprocalRankFusion([fullText.map((h) => h.seq), vectorHits.map((h) => h.seq)]).map((f) => ({ seq: f.key, score: f.score }));
    } else if (mode === 'vector') {
      ranked = vectorHits.map((h) => ({ seq: h.seq, score: h.similarity }));
    } else {
      ranked = fullText.map((h) => ({ seq: h.seq, score: h.bm25 }));
    }
    ranked = ranked.slice(0, limit);
    const items = this.#itemsBySeq(ranked.map((r) => r.seq));
    const hits: SearchHit[] = [];
    for (const r of ranked) {
      const item = items.get(r.seq);
      if (!item) continue; // forgotten while the query embedding was computed
      hits.push({ item, score: r.score, fullText: ftRank.get(r.seq) ?? null, vector: vRank.get(r.seq) ?? null });
    }
    return { hits, mode, ...(note !== undefined ? { note } : {}), embedding };
  }

  /**
   * Memory for context assembly (completions, tasks): the best items for `query` in the
   * workspace, each shaped as a route-plan piece (source, bytes, data class 'memory', text).
   */
  async relevant(query: string, opts: RelevantOptions): Promise<RelevantMemory[]> {
    const { hits } = await this.search(query, { workspace: opts.workspace, limit: checkLimit(opts.limit, 5) });
    const out: RelevantMemory[] = [];
    let total = 0;
    for (const h of hits) {
      const bytes = Buffer.byteLength(h.item.text, 'utf8');
      if (opts.maxBytes !== undefined && total + bytes > opts.maxBytes) continue;
      total += bytes;
      const piece = {
        source: { kind: 'memory' as const, id: h.item.id, uri: `memory:${h.item.id}`, client: h.item.client.name },
        text: h.item.text,
        dataClass: 'memory' as const,
        bytes,
        score: h.score,
        item: h.item,
      } satisfies RelevantMemory & ContextPiece;
      out.push(piece);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Background embeddings

  /** Current progress, or null without an embedding model. */
  embeddingProgress(): EmbeddingProgress | null {
    return this.#emb?.queue.progress() ?? null;
  }

  /**
   * Progress events `{ done, total, model, error? }` when items are queued and after every batch,
   * from whichever embedding model is in use (each model counts from 0); returns an unsubscribe
   * function.
   */
  onEmbeddingProgress(listener: (p: EmbeddingProgress) => void): () => void {
    this.#progressListeners.add(listener);
    return () => void this.#progressListeners.delete(listener);
  }

  /** Resolves when pending model switches are done and the background queue is empty (or stopped). */
  async embeddingIdle(): Promise<void> {
    await this.#switching;
    await this.#emb?.queue.idle();
  }

  /** Stops background embedding (the batch in flight is aborted); queued items stay queued. */
  cancelEmbedding(): Promise<void> {
    return this.#emb?.queue.cancel() ?? Promise.resolve();
  }

  /** Restarts background embedding after `cancelEmbedding()` or an error. */
  resumeEmbedding(): void {
    this.#assertOpen();
    this.#emb?.queue.start();
  }

  /** Number of items whose vector is in the in-memory index. */
  get embeddedCount(): number {
    return this.#emb?.vectors?.size ?? 0;
  }

  async #embedBatch(emb: Embedding, seqs: number[], signal: AbortSignal): Promise<void> {
    const embedder = emb.provider;
    if (this.#closed) throw new Error('memory is closed');
    const rows = this.store.all<{ seq: number; text: string }>(`SELECT seq, text FROM memory_items WHERE seq IN (${placeholders(seqs.length)}) ORDER BY seq`, seqs);
    if (rows.length === 0) return;
    const raw = await embedder.embed(rows.map((r) => r.text), signal);
    if (signal.aborted) throw new Error('cancelled');
    if (!Array.isArray(raw) || raw.length !== rows.length) {
      throw new Error(`embedding model ${embedder.id} returned ${Array.isArray(raw) ? raw.length : 'no'} vectors for ${rows.length} texts`);
    }
    const vecs: (Float32Array | undefined)[] = raw.map((v) => {
      const f = Float32Array.from(v);
      return f.length > 0 && normalizeInPlace(f) ? f : undefined; // a zero vector cannot be compared; the item stays full-text only
    });
    const dim = emb.vectors?.dim ?? vecs.find((v) => v)?.length;
    if (dim === undefined) return;
    const bad = vecs.findIndex((v) => v && v.length !== dim);
    if (bad >= 0) throw new Error(`embedding model ${embedder.id} returned a ${vecs[bad]!.length}-dimensional vector; earlier ones have ${dim}`);
    const tx: Statement[] = [];
    rows.forEach((r, i) => {
      const v = vecs[i];
      if (v) tx.push({ sql: INSERT_VECTOR, params: [r.seq, embedder.id, dim, encodeVector(v), r.seq] });
    });
    if (tx.length === 0) return;
    await this.store.write(tx);
    // Closed, or the model was switched meanwhile: the stored rows stay (keyed by model), the
    // in-memory index in use is not this model's.
    if (this.#closed || this.#emb !== emb) return;
    // Items forgotten while this batch ran are not in the table any more: leave them out.
    const present = this.store.all<{ seq: number; workspace: string | null }>(
      `SELECT seq, workspace FROM memory_items WHERE seq IN (${placeholders(rows.length)})`,
      rows.map((r) => r.seq),
    );
    const byS = new Map(rows.map((r, i) => [r.seq, vecs[i]]));
    emb.vectors ??= new VectorIndex(dim);
    for (const p of present) {
      const v = byS.get(p.seq);
      if (v) emb.vectors.set(p.seq, v, this.#group(p.workspace));
    }
  }

  /**
   * Stops background embedding (after any model switch under way). The store stays open and the
   * current embedding provider undisposed (their owners close them).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#switching;
    await this.#emb?.queue.cancel();
  }
}
