// The per-user daemon: one process per HEARTH_HOME, listening on a private Unix socket. It owns the
// store, the shared document view and every feature; editors and the CLI are clients.
import fs from 'node:fs';
import net from 'node:net';
import { Store } from '../core/store/index.js';
import { readLockFilePid, tryLockFile, type FileLock } from '../core/store/lock.js';
import { DocumentLimitError, DocumentRegistry, type DocumentLimits } from '../core/documents.js';
import type { CompletionService } from '../core/completion.js';
import type { EgressGate } from '../core/egress/gate.js';
import type { ModelRouter } from '../core/routing/service.js';
import type { ToolExecutor } from '../core/tools/index.js';
import type { MemoryStore } from '../core/memory/index.js';
import type { DeviceAnchor } from '../core/anchor/index.js';
import { resolvePaths, type HearthPaths } from './paths.js';
import { ensurePrivateDir, ensureToken } from './security.js';
import { Router } from './router.js';
import { Session, type SessionHost } from './session.js';
import { DEFAULT_LIMITS, type WireLimits } from './wire.js';
import { DaemonStopping, Lsp, Log, PROTOCOL_MAX, PROTOCOL_MIN, Shutdown, Status, type Params, type Result } from './protocol.js';
import { VERSION } from './version.js';

export interface DaemonOptions {
  paths?: HearthPaths;
  limits?: Partial<WireLimits>;
  maxInFlight?: number;
  /** Past connections kept in the store's `clients` table (default 1000; older ones are pruned on attach). */
  clientHistory?: number;
  /** A connection that has not completed hearth/hello by then is closed (default 5000 ms). */
  helloTimeoutMs?: number;
  /** Connections waiting for hello at most; one more closes the oldest of them (default 1024). */
  maxUnauthenticated?: number;
  /** Open documents per connection, and their bytes together (default 10000, 256 MiB). */
  documentLimits?: Partial<DocumentLimits>;
  log?: (level: 'info' | 'warning' | 'error', message: string) => void;
}

/** A feature plugs handlers into the daemon's router; wired in one place (features.ts). */
export type Feature = (daemon: Daemon) => void | Promise<void>;

export class DaemonStartError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * One daemon per home and per socket: an exclusive flock on a file inside the private (0700)
 * directory (core/store/lock.ts). Nobody else can open the file, so nobody else can hold or squat
 * the lock; the kernel drops it when the daemon dies, even on SIGKILL, so a dead daemon's lock is
 * simply free. (It was an abstract-namespace socket named after the path, which any local user
 * could compute and bind first: see docs/isolation.md.)
 */
async function acquireLock(what: string, key: string, file: string): Promise<FileLock> {
  const lock = await tryLockFile(file).catch((err: Error) => {
    throw new DaemonStartError(`cannot lock ${file}: ${err.message}`, 1);
  });
  if (!lock) {
    const pid = await readLockFilePid(file).catch(() => undefined);
    throw new DaemonStartError(`another Hearth daemon already runs for ${what} ${key}${pid ? ` (pid ${pid})` : ''}; \`hearth status\` shows it, \`hearth stop\` stops it`, 3);
  }
  return lock;
}

export class Daemon implements SessionHost {
  readonly paths: HearthPaths;
  readonly version = VERSION;
  readonly limits: WireLimits;
  readonly maxInFlight: number;
  private readonly clientHistory: number;
  readonly router = new Router<Session>();
  readonly documents: DocumentRegistry;
  readonly helloTimeoutMs: number;
  readonly maxUnauthenticated: number;
  /** Connections that have not said hello yet, oldest first. */
  private readonly unauthenticated = new Set<Session>();
  readonly sessions = new Map<string, Session>();
  readonly startedAt = Date.now();
  token = '';
  store!: Store;
  completions: CompletionService | undefined;
  gate: EgressGate | undefined;
  models: ModelRouter | undefined;
  /** Re-reads the model registry and (re)loads the local engines; set by the routing feature. */
  reloadModels: (() => Promise<string[]>) | undefined;
  tools: ToolExecutor | undefined;
  memory: MemoryStore | undefined;
  /** Signs checkpoints of the audit log and the egress ledger outside the store (anchor feature). */
  anchor: DeviceAnchor | undefined;
  /** The workspace index's figures for hearth/status (workspace feature). */
  workspaceIndex: { status(): NonNullable<Result<typeof Status>['workspaceIndex']> } | undefined;
  private readonly initializeHooks: Array<(s: Session, params: Params<typeof Lsp.initialize>) => void> = [];
  private readonly initializedHooks: Array<(s: Session) => void> = [];
  private readonly modelsChangedHooks: Array<() => void | Promise<void>> = [];
  private readonly detachHooks: Array<(s: Session) => void> = [];
  private server: net.Server | undefined;
  private locks: FileLock[] = [];
  private stopping: Promise<void> | undefined;
  private readonly disposers: Array<() => void | Promise<void>> = [];
  private readonly logFn: NonNullable<DaemonOptions['log']>;

  constructor(opts: DaemonOptions = {}) {
    this.paths = opts.paths ?? resolvePaths();
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxInFlight = opts.maxInFlight ?? 64;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 5000;
    this.maxUnauthenticated = opts.maxUnauthenticated ?? 1024;
    this.documents = new DocumentRegistry(opts.documentLimits);
    this.clientHistory = opts.clientHistory ?? 1000;
    this.logFn = opts.log ?? ((level, message) => process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`));
  }

  log(level: 'info' | 'warning' | 'error', message: string): void {
    this.logFn(level, message);
  }

  /** Tells every attached client (editors show it in their log/notification area). */
  broadcast(level: 'info' | 'warning' | 'error', message: string): void {
    for (const s of this.sessions.values()) s.sendNotification(Log.method, { level, message });
  }

  onDispose(fn: () => void | Promise<void>): void {
    this.disposers.push(fn);
  }

  /** Runs when a client's connection ends. */
  onDetach(fn: (s: Session) => void): void {
    this.detachHooks.push(fn);
  }

  /** Runs after a client's LSP initialize (its workspace root is known then); `params` are the client's initialize params. */
  onInitialize(fn: (s: Session, params: Params<typeof Lsp.initialize>) => void): void {
    this.initializeHooks.push(fn);
  }

  /** Runs on a client's LSP `initialized` (the daemon may send it requests then: workspace/configuration). */
  onInitialized(fn: (s: Session) => void): void {
    this.initializedHooks.push(fn);
  }

  /** Runs after the model registry was re-read (`hearth/models/reload`, a finished download): features pick up added or removed models. */
  onModelsChanged(fn: () => void | Promise<void>): void {
    this.modelsChangedHooks.push(fn);
  }

  /** Called by whoever re-read the model registry; runs the hooks one after another (a failing hook is logged). */
  async modelsChanged(): Promise<void> {
    for (const hook of this.modelsChangedHooks) {
      await Promise.resolve().then(hook).catch((err: unknown) => this.log('error', `models changed: ${(err as Error).message}`));
    }
  }

  async start(features: Feature[] = []): Promise<void> {
    const p = this.paths;
    ensurePrivateDir(p.home);
    ensurePrivateDir(p.runDir);
    this.locks.push(await acquireLock('home', p.home, p.homeLock));
    try {
      this.locks.push(await acquireLock('socket', p.socket, p.socketLock));
    } catch (err) {
      await this.releaseLocks();
      throw err;
    }
    try {
      this.token = ensureToken(p.token);
      this.store = await Store.open(p.store, { log: (level, msg) => this.log(level, `store: ${msg}`) });
      this.registerCore();
      for (const f of features) await f(this);
      await this.listen();
      fs.writeFileSync(p.pidFile, `${process.pid}\n`, { mode: 0o600 });
    } catch (err) {
      await this.store?.close().catch(() => undefined);
      await this.releaseLocks();
      throw err;
    }
    this.log('info', `hearth daemon ${VERSION} (pid ${process.pid}) listening on ${p.socket}`);
  }

  private async listen(): Promise<void> {
    const sock = this.paths.socket;
    // We hold the lock, so a socket file left here belongs to a dead daemon.
    try {
      fs.unlinkSync(sock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const server = net.createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
    } finally {
      process.umask(oldMask);
    }
    fs.chmodSync(sock, 0o600);
    server.on('error', (err) => this.log('error', `socket server: ${err.message}`));
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    if (this.stopping) return void socket.destroy();
    socket.on('error', () => undefined);
    try {
      const session = new Session(socket, this);
      this.unauthenticated.add(session);
      // Over the cap, the oldest connection still without hello goes: a flood of idle connections
      // cannot lock out a client that says hello promptly (refusing the newest would).
      if (this.unauthenticated.size > this.maxUnauthenticated) {
        const oldest = this.unauthenticated.values().next().value as Session;
        this.unauthenticated.delete(oldest);
        oldest.evictUnauthenticated(`more than ${this.maxUnauthenticated} connections are waiting for hearth/hello; this one, the oldest, is closed (connect again and send hearth/hello first)`);
      }
    } catch (err) {
      this.log('error', `could not start a session: ${(err as Error).message}`);
      socket.destroy();
    }
  }

  helloSettled(session: Session): void {
    this.unauthenticated.delete(session);
  }

  /** Connections open now that have not said hello yet. */
  get unauthenticatedCount(): number {
    return this.unauthenticated.size;
  }

  async attached(session: Session): Promise<void> {
    this.sessions.set(session.id, session);
    this.documents.rename(session.id, session.identity.name);
    // The table is a connection history (every CLI call is one): keep the newest clientHistory rows.
    await this.store.write([{
      sql: 'INSERT INTO clients (id, name, version, kind, connected_at) VALUES (?, ?, ?, ?, ?)',
      params: [session.id, session.identity.name, session.identity.version, session.identity.kind, session.connectedAt.toISOString()],
    }, {
      sql: 'DELETE FROM clients WHERE rowid IN (SELECT rowid FROM clients ORDER BY connected_at DESC, rowid DESC LIMIT -1 OFFSET ?)',
      params: [this.clientHistory],
    }]);
    this.log('info', `[${session.label}] attached (${session.identity.kind} ${session.identity.version})`);
  }

  detached(session: Session): void {
    this.sessions.delete(session.id);
    for (const hook of this.detachHooks) hook(session);
    this.documents.dropClient(session.id);
  }

  /** Documents listed per client in hearth/status unless asked for more: the reply stays small with thousands open. */
  static readonly STATUS_DOCUMENTS = 100;

  status(params?: Params<typeof Status>): Result<typeof Status> {
    const listed = params?.documents === 'all' ? Infinity : params?.documents ?? Daemon.STATUS_DOCUMENTS;
    return {
      version: VERSION,
      pid: process.pid,
      protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX },
      store: { schemaVersion: this.store.schemaVersion, path: this.paths.store },
      home: this.paths.home,
      socket: this.paths.socket,
      uptimeMs: Date.now() - this.startedAt,
      ...(this.completions ? { completion: { ...this.completions.stats } } : {}),
      ...(this.workspaceIndex ? { workspaceIndex: this.workspaceIndex.status() } : {}),
      clients: [...this.sessions.values()].map((s) => ({
        id: s.id,
        name: s.identity.name,
        version: s.identity.version,
        kind: s.identity.kind,
        connectedAt: s.connectedAt.toISOString(),
        documents: this.documents.documentsOf(s.id, listed).map((d) => ({
          uri: d.uri, languageId: d.languageId, version: d.version, bytes: this.documents.bytesOf(s.id, d.uri),
        })),
        documentCount: this.documents.totalsOf(s.id).count,
        documentBytes: this.documents.totalsOf(s.id).bytes,
      })),
    };
  }

  private registerCore(): void {
    const r = this.router;
    r.onRequest(Status, (params) => this.status(params ?? undefined));
    r.onRequest(Shutdown, () => {
      setTimeout(() => void this.stop('shutdown requested').then(() => process.exit(0)), 10);
      return { ok: true };
    });

    // LSP lifecycle, per connection: shutdown/exit end the client's session, never the daemon.
    r.onRequest(Lsp.initialize, (params, s) => {
      if (params.clientInfo) {
        s.identity = { ...s.identity, name: params.clientInfo.name, version: params.clientInfo.version ?? s.identity.version };
        this.documents.rename(s.id, s.identity.name);
      }
      s.rootUri = params.rootUri ?? null;
      for (const hook of this.initializeHooks) hook(s, params);
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: 2 /* incremental */, save: { includeText: false } },
          inlineCompletionProvider: true,
          workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
          experimental: { hearth: { protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX } } },
        },
        serverInfo: { name: 'hearth', version: VERSION },
      };
    });
    r.onNotification(Lsp.initialized, (_p, s) => {
      for (const hook of this.initializedHooks) hook(s);
    });
    r.onRequest(Lsp.shutdown, () => null);
    r.onNotification(Lsp.exit, (_p, s) => s.close('exit'));

    // Over a per-connection document bound the notification is refused (it has no reply): the
    // client is told with hearth/log, the daemon and the client's other documents go on.
    const bounded = (s: Session, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        if (!(err instanceof DocumentLimitError)) throw err;
        const env = err.limit === 'maxDocuments' ? 'HEARTH_MAX_DOCUMENTS' : 'HEARTH_MAX_DOCUMENT_BYTES';
        const message = `${err.message} (${env} in the daemon's environment); close documents you do not need. Nothing else changed.`;
        this.log('warning', `[${s.label}] ${message}`);
        s.sendNotification(Log.method, { level: 'error', message });
      }
    };
    r.onNotification(Lsp.didOpen, ({ textDocument: d }, s) => bounded(s, () => this.documents.open(s.id, s.identity.name, d.uri, d.languageId, d.version, d.text)));
    r.onNotification(Lsp.didChange, ({ textDocument: d, contentChanges }, s) => bounded(s, () => this.documents.change(s.id, d.uri, d.version, contentChanges)));
    r.onNotification(Lsp.didClose, ({ textDocument: d }, s) => this.documents.close(s.id, d.uri));
    // didSave, didChangeWatchedFiles and didChangeWorkspaceFolders: the workspace feature (server/workspace-feature.ts).
  }

  /** Stops accepting, closes clients, flushes and snapshots the store. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log('info', `stopping: ${reason}`);
      const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
      // A deliberate stop: bridges that hear this do not start a new daemon (they do after a crash).
      for (const s of this.sessions.values()) s.sendNotification(DaemonStopping.method, { reason });
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const s of [...this.sessions.values()]) s.close('daemon stopping');
      await closed;
      for (const d of this.disposers.reverse()) await Promise.resolve(d()).catch(() => undefined);
      await this.store?.close().catch((err: unknown) => this.log('error', `store close: ${(err as Error).message}`));
      for (const f of [this.paths.socket, this.paths.pidFile]) fs.rmSync(f, { force: true });
      await this.releaseLocks();
    })();
    return this.stopping;
  }

  private async releaseLocks(): Promise<void> {
    for (const l of this.locks) l.release();
    this.locks = [];
  }
}
