// Memory (issue 7) in the daemon: one MemoryStore over the daemon's store, written by every
// editor, the CLI, tasks and MCP (memory.write), searched full-text + vector, used as context for
// completions (each item used appears in the route plan), and pausable/forgettable per client.
// The embedding model follows the model registry while the daemon runs (`hearth models add|remove`
// send hearth/models/reload), and background embedding shows as LSP work-done progress in editors
// that support it.
import { ResponseError } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import { workspaceOf, type Session } from './session.js';
import {
  HearthErrorCodes, Lsp, MemoryAdd, MemoryDidChange, MemoryExport, MemoryForget, MemoryGet, MemoryList, MemoryPause, MemorySearch, type Params,
} from './protocol.js';
import { MemoryStore, type EmbeddingProgress, type MemoryWriter } from '../core/memory/index.js';
import { ModelRegistry, type ModelEntry } from '../core/models/index.js';
import { TransformersEmbeddingProvider } from '../core/engines/transformers.js';
import type { Provider } from '../core/engines/types.js';

function writerOf(s: Session): MemoryWriter {
  return { id: s.id, name: s.identity.name, version: s.identity.version };
}

/** At most this many $/progress reports per second per run. */
const PROGRESS_REPORTS_PER_SECOND = 4;
/** A run with fewer items than this is shown only if it is still going after PROGRESS_DELAY_MS (a single add does not flash a progress bar). */
const PROGRESS_MIN_ITEMS = 16;
const PROGRESS_DELAY_MS = 1000;

type ProgressValue = Params<typeof Lsp.progress>['value'];

interface ProgressRun {
  token: string;
  /** items done when the run began: the run counts from there */
  base: number;
  latest: EmbeddingProgress;
  /** per client, a chain of sends that holds them until the client answered create (false: it refused) */
  clients: Map<Session, Promise<boolean>>;
  lastReport: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Background embedding as standard LSP work-done progress: for each run (from work queued to queue
 * empty, stopped on an error, or the model switched), every client whose initialize declared
 * `capabilities.window.workDoneProgress` gets window/workDoneProgress/create, then $/progress
 * begin, throttled reports and end on that token. Clients without the capability get nothing.
 */
class EmbeddingProgressReporter {
  readonly #capable = new Set<Session>();
  #runs = 0;
  #run: ProgressRun | undefined;
  #delayed: NodeJS.Timeout | undefined;
  #latest: EmbeddingProgress | null = null;

  constructor(private readonly log: (message: string) => void) {}

  /** A client finished LSP initialize; joins a run under way when it declared the capability. */
  initialized(s: Session, params: Params<typeof Lsp.initialize>): void {
    const window = (params.capabilities as { window?: { workDoneProgress?: unknown } }).window;
    if (window?.workDoneProgress !== true) {
      this.#capable.delete(s);
      return;
    }
    this.#capable.add(s);
    if (this.#run && !this.#run.clients.has(s)) this.#join(s);
  }

  detached(s: Session): void {
    this.#capable.delete(s);
    this.#run?.clients.delete(s);
  }

  update(p: EmbeddingProgress | null): void {
    this.#latest = p;
    if (!p) return this.stop('no embedding model');
    if (p.error !== undefined) return this.stop(`stopped: ${p.error}`);
    const remaining = p.total - p.done;
    if (!this.#run) {
      if (remaining <= 0) {
        clearTimeout(this.#delayed);
        this.#delayed = undefined;
      } else if (remaining >= PROGRESS_MIN_ITEMS) {
        this.#begin(p);
      } else {
        this.#delayed ??= setTimeout(() => {
          this.#delayed = undefined;
          const q = this.#latest;
          if (q && q.error === undefined && q.total > q.done && !this.#run) this.#begin(q);
        }, PROGRESS_DELAY_MS);
      }
      return;
    }
    const run = this.#run;
    run.latest = p;
    if (remaining <= 0) return this.stop(`embedded ${this.#counts(p).text}`);
    if (run.timer) return; // a report is already scheduled; it sends the latest figures
    const wait = run.lastReport + 1000 / PROGRESS_REPORTS_PER_SECOND - Date.now();
    if (wait <= 0) this.#report();
    else run.timer = setTimeout(() => this.#report(), wait);
  }

  /** Ends the run under way (if any) with `message`. */
  stop(message: string): void {
    clearTimeout(this.#delayed);
    this.#delayed = undefined;
    const run = this.#run;
    if (!run) return;
    if (run.timer) {
      // The throttled report still due goes out first (a short run gets its figures too).
      clearTimeout(run.timer);
      this.#report();
    }
    this.#run = undefined;
    for (const s of run.clients.keys()) this.#send(run, s, { kind: 'end', message });
  }

  #counts(p: EmbeddingProgress): { text: string; percentage: number } {
    const base = this.#run?.base ?? p.done;
    const done = Math.max(0, p.done - base);
    const total = Math.max(done, p.total - base);
    return { text: `${done}/${total} memory items`, percentage: total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : 0 };
  }

  #begin(p: EmbeddingProgress): void {
    clearTimeout(this.#delayed);
    this.#delayed = undefined;
    this.#run = { token: `hearth-memory-embedding-${process.pid}-${++this.#runs}`, base: p.done, latest: p, clients: new Map(), lastReport: Date.now(), timer: undefined };
    for (const s of this.#capable) this.#join(s);
  }

  #join(s: Session): void {
    const run = this.#run!;
    const created = s.sendRequest<null>(Lsp.workDoneProgressCreate.method, { token: run.token }).then(
      () => true,
      (err: unknown) => {
        this.log(`${s.label} refused ${Lsp.workDoneProgressCreate.method}: ${(err as Error).message}`);
        return false;
      },
    );
    run.clients.set(s, created);
    const { text, percentage } = this.#counts(run.latest);
    this.#send(run, s, { kind: 'begin', title: `Hearth: embedding memory (${run.latest.model})`, cancellable: false, message: text, percentage });
  }

  #report(): void {
    const run = this.#run;
    if (!run) return;
    run.timer = undefined;
    run.lastReport = Date.now();
    const { text, percentage } = this.#counts(run.latest);
    for (const s of run.clients.keys()) this.#send(run, s, { kind: 'report', message: text, percentage });
  }

  /** Sends in order, after the client answered create; nothing to a client that refused it. */
  #send(run: ProgressRun, s: Session, value: ProgressValue): void {
    const chain = run.clients.get(s);
    if (!chain) return;
    run.clients.set(s, chain.then((ok) => {
      if (ok) s.sendNotification(Lsp.progress.method, { token: run.token, value });
      return ok;
    }));
  }

  dispose(): void {
    clearTimeout(this.#delayed);
    clearTimeout(this.#run?.timer);
    this.#run = undefined;
  }
}

const keyOf = (m: ModelEntry | undefined): string | undefined => (m ? `${m.id}\u0000${m.path}` : undefined);
const embedderFor = (m: ModelEntry): TransformersEmbeddingProvider => new TransformersEmbeddingProvider({ modelDir: m.path, id: `transformers:${m.id}` });

/** The first registered embedding model and its registry key; none (full-text search alone) when there is none or the registry cannot be read. */
async function firstEmbedder(d: Daemon, registry: ModelRegistry): Promise<{ embedder?: Provider; key?: string }> {
  try {
    const entry = (await registry.list()).find((m) => m.purpose === 'embedding');
    const key = keyOf(entry);
    return { ...(entry ? { embedder: embedderFor(entry) } : {}), ...(key ? { key } : {}) };
  } catch (err) {
    d.log('warning', `memory: no embedding model (${(err as Error).message}); full-text search only`);
    return {};
  }
}

/** Background embedding as progress in the editors that can show it, and now and then in the log. */
function reportEmbedding(d: Daemon, memory: MemoryStore, reporter: EmbeddingProgressReporter): void {
  d.onInitialize((s, params) => {
    reporter.initialized(s, params);
    reporter.update(memory.embeddingProgress());
  });
  d.onDetach((s) => reporter.detached(s));
  let lastReport = 0;
  memory.onEmbeddingProgress((p) => {
    reporter.update(p);
    const now = Date.now();
    if (p.done === p.total || now - lastReport > 2000) {
      lastReport = now;
      d.log('info', `memory: embedded ${p.done}/${p.total}`);
    }
  });
}

/**
 * The registry changed (hearth models add/remove, a download): switches the embedding model
 * without a restart. `inUse` is the registry key of the model memory starts with.
 */
function registryFollower(d: Daemon, registry: ModelRegistry, memory: MemoryStore, reporter: EmbeddingProgressReporter, inUse: string | undefined): () => Promise<void> {
  return async () => {
    let entry: ModelEntry | undefined;
    try {
      entry = (await registry.list()).find((m) => m.purpose === 'embedding');
    } catch (err) {
      d.log('warning', `memory: the model registry cannot be read (${(err as Error).message}); the embedding model stays as it was`);
      return;
    }
    const key = keyOf(entry);
    if (key === inUse) return;
    let next: TransformersEmbeddingProvider | undefined;
    if (entry) {
      next = embedderFor(entry);
      try {
        await next.load(); // a model that cannot load is not switched to: searches would only fail over to full-text one by one
      } catch (err) {
        await next.dispose().catch(() => undefined);
        next = undefined;
        const message = `memory: embedding model ${entry.id} cannot be loaded (${(err as Error).message}); memory search is full-text only until it is fixed (\`hearth models check ${entry.id}\`)`;
        d.log('warning', message);
        d.broadcast('warning', message);
      }
    }
    reporter.stop('stopped: the embedding model changed');
    await memory.setEmbedder(next);
    inUse = next ? key : undefined;
    reporter.update(memory.embeddingProgress());
    d.log('info', next ? `memory: embedding model is now ${entry!.id}; items without its vectors are embedded in the background` : 'memory: no embedding model; search is full-text only');
  };
}

/** The hearth/memory/* methods; every change is announced to every client. */
function memoryMethods(d: Daemon, memory: MemoryStore): void {
  const changed = (change: 'add' | 'forget' | 'pause', id?: string, client?: string): void => {
    for (const s of d.sessions.values()) s.sendNotification(MemoryDidChange.method, { change, ...(id ? { id } : {}), ...(client ? { client } : {}) });
  };
  const scope = (s: Session, workspace: string | null | undefined): string | null => (workspace === undefined ? workspaceOf(s) : workspace);

  d.router.onRequest(MemoryAdd, async (p, s) => {
    const item = await memory.add({
      text: p.text,
      ...(p.kind ? { kind: p.kind } : {}),
      workspace: scope(s, p.workspace),
      ...(p.file ? { file: { uri: p.file.uri, range: p.file.range ?? null } } : {}),
      ...(p.requestKey ? { requestKey: p.requestKey } : {}),
    }, writerOf(s));
    changed('add', item.id, s.identity.name);
    return item;
  });
  d.router.onRequest(MemorySearch, async (p, s) => {
    const r = await memory.search(p.query, {
      ...(p.allWorkspaces ? { allWorkspaces: true } : { workspace: scope(s, p.workspace) }),
      ...(p.limit ? { limit: p.limit } : {}),
      ...(p.mode ? { mode: p.mode } : {}),
    });
    return r;
  });
  d.router.onRequest(MemoryList, (p, s) => {
    const items = memory.list({
      ...(p?.client ? { client: p.client } : {}),
      ...(p?.allWorkspaces ? {} : p?.workspace !== undefined || workspaceOf(s) ? { workspace: scope(s, p?.workspace) } : {}),
      ...(p?.limit ? { limit: p.limit } : {}),
    });
    return { items, paused: memory.pausedClients() };
  });
  d.router.onRequest(MemoryGet, ({ id }) => {
    const item = memory.get(id);
    if (!item) throw new ResponseError(HearthErrorCodes.NotFound, `no memory item ${id}`);
    return item;
  });
  d.router.onRequest(MemoryForget, async ({ id }) => {
    const item = await memory.forget(id);
    // Whatever the completion engine learned from it goes too.
    (d.models?.localEngine('ngram')?.provider as { forget?: (uri: string) => void } | undefined)?.forget?.(`memory:${id}`);
    changed('forget', id);
    return item;
  });
  d.router.onRequest(MemoryPause, async ({ client, pause }) => {
    if (pause) await memory.pause(client);
    else await memory.resume(client);
    changed('pause', undefined, client);
    return { client, paused: memory.isPaused(client) };
  });
  d.router.onRequest(MemoryExport, () => memory.exportItems());
}

export const memoryFeature: Feature = async (d: Daemon) => {
  // The first registered embedding model computes vectors in the background; without one,
  // full-text search alone works.
  const registry = new ModelRegistry(d.paths.home);
  const { embedder, key } = await firstEmbedder(d, registry);
  const memory = await MemoryStore.open(d.store, { ...(embedder ? { embedder } : {}), log: (level, m) => d.log(level, `memory: ${m}`) });
  d.memory = memory;

  const reporter = new EmbeddingProgressReporter((m) => d.log('warning', `memory: ${m}`));
  reportEmbedding(d, memory, reporter);
  // Reloads run one after another; the reload request waits for the switch.
  const followRegistry = registryFollower(d, registry, memory, reporter, key);
  let following: Promise<void> = Promise.resolve();
  d.onModelsChanged(() => (following = following.then(followRegistry, followRegistry)));

  d.onDispose(async () => {
    reporter.dispose();
    await following.catch(() => undefined);
    await memory.close();
    await memory.embedder?.dispose();
  });
  memoryMethods(d, memory);
};
