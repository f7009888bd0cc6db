// A background work queue for embeddings: batched, cancellable, with progress, and never awaited
// by the code that feeds it (an item's write resolves before its embedding is even started).

export interface EmbeddingProgress {
  /** items handled since the memory store was opened (embedded, or gone before their turn) */
  done: number;
  /** done + still queued */
  total: number;
  /** the embedding model */
  model: string;
  /** set when the queue stopped on an error; the items stay queued until `start()` */
  error?: string;
}

export type BatchWorker = (keys: number[], signal: AbortSignal) => Promise<void>;

export class BackgroundQueue {
  readonly #pending: number[] = [];
  readonly #queued = new Set<number>();
  readonly #listeners = new Set<(p: EmbeddingProgress) => void>();
  readonly #idleWaiters: (() => void)[] = [];
  #done = 0;
  #running: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #error: string | undefined;
  #stopped = false;

  constructor(
    private readonly model: string,
    private readonly batchSize: number,
    private readonly worker: BatchWorker,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`embedding batch size must be a positive integer, got ${batchSize}`);
  }

  progress(): EmbeddingProgress {
    return {
      done: this.#done,
      total: this.#done + this.#queued.size,
      model: this.model,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
    };
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  onProgress(listener: (p: EmbeddingProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Queues keys (duplicates are ignored) and starts the worker unless it was cancelled or failed. */
  enqueue(keys: Iterable<number>): void {
    let added = false;
    for (const k of keys) {
      if (this.#queued.has(k)) continue;
      this.#queued.add(k);
      this.#pending.push(k);
      added = true;
    }
    if (!added) return;
    this.#emit();
    if (!this.#stopped && this.#error === undefined) this.#kick();
  }

  /** Drops a key that no longer needs work (e.g. a forgotten item); counts it as done. */
  drop(key: number): void {
    if (!this.#queued.delete(key)) return;
    const i = this.#pending.indexOf(key);
    if (i >= 0) this.#pending.splice(i, 1);
    this.#done++;
  }

  /** Restarts after `cancel()` or an error; queued keys are kept. */
  start(): void {
    this.#stopped = false;
    this.#error = undefined;
    if (this.#pending.length > 0) this.#kick();
  }

  /** Stops after aborting the batch in flight; queued keys stay queued until `start()`. */
  async cancel(): Promise<void> {
    this.#stopped = true;
    this.#abort?.abort();
    await this.#running;
  }

  /** Resolves when nothing is queued or the queue has stopped (cancelled or failed). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      this.#abort = undefined;
      for (const w of this.#idleWaiters.splice(0)) w();
    });
  }

  async #loop(): Promise<void> {
    // Start on a later turn: whoever enqueued (a write) finishes first.
    await new Promise((r) => setImmediate(r));
    while (!this.#stopped && this.#pending.length > 0) {
      const keys = this.#pending.splice(0, this.batchSize);
      const ctl = new AbortController();
      this.#abort = ctl;
      try {
        await this.worker(keys, ctl.signal);
      } catch (e) {
        // The batch goes back to the front (minus keys dropped meanwhile) and stays queued.
        this.#pending.unshift(...keys.filter((k) => this.#queued.has(k)));
        if (ctl.signal.aborted) break; // cancel()
        this.#error = e instanceof Error ? e.message : String(e);
        this.#emit();
        break;
      }
      for (const k of keys) {
        if (!this.#queued.delete(k)) continue; // dropped meanwhile, already counted
        this.#done++;
      }
      this.#emit();
      await new Promise((r) => setImmediate(r)); // let writes and searches in between batches
    }
  }

  #emit(): void {
    const p = this.progress();
    for (const l of this.#listeners) {
      try {
        l(p);
      } catch {
        /* a listener's failure must not stop the queue */
      }
    }
  }
}
