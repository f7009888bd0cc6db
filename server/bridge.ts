// `hearth lsp --stdio`: what an editor launches. Relays LSP between the editor (stdio) and the
// daemon (Unix socket), saying hello with the token first. It keeps the editor's initialize params
// and open documents so that, if the daemon dies, it can start or reconnect to one, replay them and
// resend the requests in flight: the editor never notices.
//
// Lifecycle (docs/secrets.md has the credentials, this the rest):
// - a deliberate stop (`hearth stop`, SIGTERM) arrives as hearth/daemon/stopping before the
//   connection closes: the bridge then does NOT start a daemon. It tells the editor
//   (window/showMessage), answers requests with an error saying so, keeps tracking the documents,
//   and reconnects (replaying the session) only when a daemon appears that someone else started
//   (`hearth start`, another editor opened). A daemon lost without that notice crashed: the
//   bridge starts a new one, as before.
// - a start that fails for a lasting reason (the daemon exited at start: an unsafe home or token,
//   a damaged store) is reported at once: as the error of the editor's pending initialize, or as
//   window/showMessage, with the daemon's own words (cause and fix). It retries every few seconds.
// - after the editor's `exit` the bridge never reconnects.
import type net from 'node:net';
import {
  StreamMessageReader, SocketMessageReader,
  type Message, type RequestMessage, type ResponseMessage, type NotificationMessage,
} from 'vscode-jsonrpc/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { randomUUID } from 'node:crypto';
import { DaemonStopping, Hello, Lsp, MemoryAdd, PROTOCOL_MAX, PROTOCOL_MIN } from './protocol.js';
import { DaemonStartFailed, connectSocket, startDaemon } from './client.js';
import { FramedSocketWriter } from './wire.js';
import { resolvePaths, type HearthPaths } from './paths.js';
import { SecurityError, readToken } from './security.js';
import { VERSION } from './version.js';

type Id = string | number;

const isRequest = (m: Message): m is RequestMessage => 'method' in m && 'id' in m && (m as RequestMessage).id !== undefined;
const isNotification = (m: Message): m is NotificationMessage => 'method' in m && !('id' in m && (m as RequestMessage).id !== undefined);

export interface BridgeOptions {
  paths?: HearthPaths;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  log?: (msg: string) => void;
}

export class Bridge {
  private readonly paths: HearthPaths;
  private readonly editorWriter: FramedSocketWriter;
  private readonly log: (msg: string) => void;
  private socket: net.Socket | undefined;
  private daemonWriter: FramedSocketWriter | undefined;
  private connected = false;
  private connecting: Promise<void> | undefined;
  private initialize: RequestMessage | undefined;
  private initialized = false;
  private readonly docs = new Map<string, TextDocument>();
  /** Editor requests the daemon has not answered yet, to resend after a reconnect. */
  private readonly pending = new Map<Id, RequestMessage>();
  /** Messages from the editor waiting for a connection. */
  private queue: Message[] = [];
  /** Responses the bridge itself waits for (hello, replayed initialize). */
  private readonly own = new Map<Id, (m: ResponseMessage) => void>();
  private seq = 0;
  /**
   * Order in which editor messages were tracked. A document notification tracked before a replay
   * snapshot is already in the replayed text and must not be sent again; one tracked after it must.
   */
  private readonly order = new WeakMap<Message, number>();
  private tracked = 0;
  private exiting = false;
  /** The editor sent `exit`: whatever happens to the connection now, never reconnect. */
  private exitRequested = false;
  /** The daemon announced a deliberate stop: do not start another one; wait for one to appear. */
  private stopped: string | undefined;
  /** How many hearth/daemon/stopping notices arrived (a stop during a reconnect is seen by it). */
  private stops = 0;
  /** waitForRestart is polling (one poller at a time). */
  private waiting = false;
  /** The last start failure reported to the editor (reported once per distinct failure). */
  private reportedFailure: string | undefined;
  /** The last connection attempt failed for a lasting reason (see reportFailure). */
  private failedToStart = false;

  constructor(opts: BridgeOptions = {}) {
    this.paths = opts.paths ?? resolvePaths();
    this.log = opts.log ?? ((m) => process.stderr.write(`hearth-bridge: ${m}\n`));
    const reader = new StreamMessageReader(opts.input ?? process.stdin);
    // One write per message (header + body), in both directions: the stock writers make two
    // writes behind an async lock, which costs a relay hop on every request.
    this.editorWriter = new FramedSocketWriter(opts.output ?? process.stdout);
    reader.listen((m) => this.fromEditor(m));
    reader.onClose(() => this.exit(0));
  }

  private fromEditor(m: Message): void {
    // hearth/memory/add is not idempotent: a resend after a reconnect could store the item twice
    // when the first attempt was durable but its reply was lost. A request key makes the daemon
    // answer the resend with the stored item.
    if (isRequest(m) && m.method === MemoryAdd.method && typeof m.params === 'object' && m.params !== null && !('requestKey' in m.params)) {
      (m.params as Record<string, unknown>).requestKey = randomUUID();
    }
    if (isNotification(m) && m.method === Lsp.exit.method) this.exitRequested = true;
    this.order.set(m, ++this.tracked);
    if (this.stopped !== undefined && !this.connected) return this.whileStopped(m);
    if (!this.connected && this.failedToStart && isRequest(m) && m.method === Lsp.shutdown.method) {
      // The editor gives up after a start failure: answer at once so it can send exit and move on.
      return void this.editorWriter.write({ jsonrpc: '2.0', id: m.id, result: null } as ResponseMessage).catch(() => undefined);
    }
    this.track(m);
    if (this.connected) this.daemonWriter!.write(m).catch(() => this.queue.push(m));
    else {
      this.queue.push(m);
      void this.ensureConnected();
    }
    if (isNotification(m) && m.method === Lsp.exit.method) setTimeout(() => this.exit(0), 50);
  }

  /** Remembers what must be replayed after a reconnect. */
  private track(m: Message): void {
    if (isRequest(m)) {
      if (m.method === Lsp.initialize.method) this.initialize = m;
      this.pending.set(m.id!, m);
      return;
    }
    if (!isNotification(m)) return;
    const p = m.params as Record<string, any> | undefined;
    try {
      if (m.method === Lsp.initialized.method) this.initialized = true;
      else if (m.method === Lsp.didOpen.method && p) {
        const d = p.textDocument;
        this.docs.set(d.uri, TextDocument.create(d.uri, d.languageId, d.version, d.text));
      } else if (m.method === Lsp.didChange.method && p) {
        const doc = this.docs.get(p.textDocument.uri);
        if (doc) this.docs.set(doc.uri, TextDocument.update(doc, p.contentChanges, p.textDocument.version));
      } else if (m.method === Lsp.didClose.method && p) this.docs.delete(p.textDocument.uri);
    } catch (err) {
      this.log(`could not track ${m.method}: ${(err as Error).message}`);
    }
  }

  /**
   * An editor message while the daemon is stopped on purpose: documents are tracked (replayed
   * when a daemon appears), requests are answered at once (shutdown succeeds, the rest fail with
   * the reason), nothing is queued and no daemon is started.
   */
  private whileStopped(m: Message): void {
    if (isRequest(m)) {
      if (m.method === Lsp.shutdown.method) return void this.editorWriter.write({ jsonrpc: '2.0', id: m.id, result: null } as ResponseMessage).catch(() => undefined);
      if (m.method === Lsp.initialize.method) this.initialize = m;
      return void this.editorWriter.write({
        jsonrpc: '2.0', id: m.id, error: { code: -32803 /* RequestFailed */, message: this.stoppedMessage() },
      } as ResponseMessage).catch(() => undefined);
    }
    if (isNotification(m)) {
      if (m.method === Lsp.exit.method) return void setTimeout(() => this.exit(0), 50);
      this.track(m);
    }
  }

  private stoppedMessage(): string {
    return `Hearth was stopped (${this.stopped}); run \`hearth start\` or reopen the editor`;
  }

  private showMessage(type: 1 | 2 | 3, message: string): void {
    this.editorWriter.write({ jsonrpc: '2.0', method: 'window/showMessage', params: { type, message } } as NotificationMessage).catch(() => undefined);
  }

  /**
   * Polls for a daemon someone else started (never starts one), then reconnects and replays. The
   * probe and the connection are separate moments: a daemon seen by the probe may be stopping
   * again (a script that starts and stops one), so the connection never starts a daemon either;
   * if it fails the bridge stays stopped and polls on. Before this, a failed connection fell
   * through to the crash path and started a daemon of its own, racing whoever starts the next
   * one (CI: "another Hearth daemon already runs", test/integration/bridge.test.ts has the race).
   */
  private async waitForRestart(): Promise<void> {
    if (this.waiting) return;
    this.waiting = true;
    try {
      while (this.stopped !== undefined && !this.exiting) {
        await new Promise((r) => setTimeout(r, 1000));
        if (this.stopped === undefined || this.exiting) return;
        const stops = this.stops;
        try {
          await this.connectOnce(false);
        } catch (err) {
          this.log(`a daemon appeared but the connection failed (${(err as Error).message}); still stopped`);
          continue;
        }
        if (this.stops !== stops) continue; // it announced another stop while we connected
        // Someone started a daemon on purpose: from here on it is the normal connection.
        this.stopped = undefined;
        this.log('a daemon was started again; reconnected and replayed the session');
        this.showMessage(3, 'Hearth is running again');
        return;
      }
    } finally {
      this.waiting = false;
    }
  }

  /**
   * A start failure the editor must hear about: the pending initialize is answered with it (the
   * editor shows it as the server's start error), otherwise window/showMessage. Once per cause.
   */
  private reportFailure(err: Error): void {
    const lasting = err instanceof DaemonStartFailed || err instanceof SecurityError;
    const text = err instanceof DaemonStartFailed ? err.output.replace(/^hearth(?: daemon)?: /gm, '') : err.message;
    const message = `Hearth could not start${lasting ? '' : ' yet'}: ${text}`;
    if (message === this.reportedFailure) return;
    this.reportedFailure = message;
    // The message first: an editor may stop listening once its initialize has failed.
    this.showMessage(lasting ? 1 : 2, message);
    const init = this.initialize;
    if (lasting && init && this.pending.has(init.id!)) {
      this.pending.delete(init.id!);
      this.queue = this.queue.filter((q) => q !== init);
      this.editorWriter.write({ jsonrpc: '2.0', id: init.id, error: { code: -32603, message, data: { retry: false } } } as ResponseMessage).catch(() => undefined);
    }
  }

  private ensureConnected(): Promise<void> {
    this.connecting ??= this.connectLoop().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    let delay = 25;
    for (let attempt = 1; !this.exiting; attempt++) {
      try {
        await this.connectOnce();
        this.reportedFailure = undefined;
        this.failedToStart = false;
        return;
      } catch (err) {
        this.log(`connecting to the daemon failed (attempt ${attempt}): ${(err as Error).message}`);
        const lasting = err instanceof DaemonStartFailed || err instanceof SecurityError;
        this.failedToStart = lasting;
        if (lasting || attempt === 8) this.reportFailure(err as Error);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, lasting ? 5000 : 1000);
      }
    }
  }

  /** One connection: hello, then the replay (or the queue). `autostart` starts a daemon if none answers. */
  private async connectOnce(autostart = true): Promise<void> {
    let socket: net.Socket;
    try {
      socket = await connectSocket(this.paths.socket, 1000);
    } catch (err) {
      if (!autostart) throw err;
      await startDaemon(this.paths);
      socket = await connectSocket(this.paths.socket, 1000);
    }
    const reader = new SocketMessageReader(socket);
    const writer = new FramedSocketWriter(socket);
    socket.on('error', () => undefined);
    reader.listen((m) => this.fromDaemon(m));
    const lost = (): void => this.lost(socket);
    socket.once('close', lost);
    const clientInfo = (this.initialize?.params as { clientInfo?: { name?: string; version?: string } } | undefined)?.clientInfo;
    const rpc = (method: string, params: unknown): Promise<ResponseMessage> => new Promise((resolve, reject) => {
      const id = `hearth-bridge:${++this.seq}`;
      const timer = setTimeout(() => reject(new Error(`${method} timed out`)), 10000);
      this.own.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      writer.write({ jsonrpc: '2.0', id, method, params } as RequestMessage).catch(reject);
      socket.once('close', () => reject(new Error('daemon closed the connection')));
    });
    const hello = await rpc(Hello.method, {
      token: readToken(this.paths.token),
      client: { name: clientInfo?.name ?? 'lsp-client', version: clientInfo?.version ?? VERSION, kind: 'editor' },
      protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX },
    });
    if (hello.error) {
      socket.destroy();
      throw new Error(`hello refused: ${hello.error.message}`);
    }
    const reconnect = this.daemonWriter !== undefined;
    this.socket = socket;
    this.daemonWriter = writer;
    if (reconnect) {
      await this.replay(writer, rpc);
    } else {
      for (const m of this.queue) await writer.write(m);
      this.queue = [];
    }
    this.connected = true;
  }

  /**
   * After a reconnect, replays the session the editor built: initialize (answered here, unless the
   * editor still waits for its answer), initialized, open documents, unanswered requests, then what queued.
   */
  private async replay(writer: FramedSocketWriter, rpc: (method: string, params: unknown) => Promise<ResponseMessage>): Promise<void> {
    const init = this.initialize;
    const initAnswered = init !== undefined && !this.pending.has(init.id!);
    if (init && initAnswered) await rpc(Lsp.initialize.method, init.params);
    // Everything below is decided in one synchronous step (the snapshot): editor messages that
    // arrive while the replay is written go to this.queue and are flushed after it. Before this
    // fix they went to a fresh queue that nothing flushed, so requests and edits sent during the
    // replay were lost (test/integration/bridge.test.ts, "edits and requests sent while ...").
    const toSend = this.queue;
    this.queue = [];
    const snapshot = this.tracked;
    const docMethods = [Lsp.didOpen.method, Lsp.didChange.method, Lsp.didClose.method, Lsp.initialized.method];
    const replayed = new Set<Id>();
    const replay: Message[] = [];
    if (init && !initAnswered) {
      replay.push(init);
      replayed.add(init.id!);
    }
    if (this.initialized) replay.push({ jsonrpc: '2.0', method: Lsp.initialized.method, params: {} } as NotificationMessage);
    for (const d of this.docs.values()) {
      replay.push({ jsonrpc: '2.0', method: Lsp.didOpen.method, params: { textDocument: { uri: d.uri, languageId: d.languageId, version: d.version, text: d.getText() } } } as NotificationMessage);
    }
    for (const r of this.pending.values()) {
      if (replayed.has(r.id!) || (r.method === Lsp.initialize.method && initAnswered)) continue;
      replay.push(r);
      replayed.add(r.id!);
    }
    /** True for a message the replay already covers: a sent request, or an edit in the replayed text. */
    const covered = (m: Message): boolean => {
      if (isRequest(m)) return replayed.has(m.id!);
      return isNotification(m) && docMethods.includes(m.method) && (this.order.get(m) ?? 0) <= snapshot;
    };
    for (const m of toSend) if (!covered(m)) replay.push(m);
    for (const m of replay) await writer.write(m);
    // Messages that arrived while the replay was written (a failed write may also re-queue one).
    while (this.queue.length > 0) {
      const m = this.queue.shift()!;
      if (!covered(m)) await writer.write(m);
    }
    this.log('reconnected to the daemon and replayed the session');
  }

  private fromDaemon(m: Message): void {
    const r = m as ResponseMessage;
    if ('method' in m && m.method === DaemonStopping.method) {
      const reason = (m as NotificationMessage).params as { reason?: unknown } | undefined;
      this.stopped = typeof reason?.reason === 'string' ? reason.reason : 'stopped';
      this.stops++;
      return;
    }
    if (!('method' in m) && r.id !== undefined && r.id !== null) {
      const mine = this.own.get(r.id);
      if (mine) {
        this.own.delete(r.id);
        return mine(r);
      }
      this.pending.delete(r.id);
    }
    this.editorWriter.write(m).catch(() => this.exit(1));
  }

  private lost(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.connected = false;
    if (this.exiting || this.exitRequested) return;
    if (this.stopped !== undefined) {
      // Stopped on purpose: say so, fail what waits, and start nothing.
      this.log(`the daemon was stopped (${this.stopped}); not restarting it`);
      this.showMessage(2, this.stoppedMessage());
      for (const [id, req] of this.pending) {
        if (req.method === Lsp.initialize.method) continue;
        this.editorWriter.write({ jsonrpc: '2.0', id, error: { code: -32803, message: this.stoppedMessage() } } as ResponseMessage).catch(() => undefined);
      }
      for (const [id, req] of [...this.pending]) if (req.method !== Lsp.initialize.method) this.pending.delete(id);
      this.queue = [];
      void this.waitForRestart();
      return;
    }
    this.log('lost the daemon; reconnecting');
    void this.ensureConnected();
  }

  private exit(code: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.socket?.end();
    setTimeout(() => process.exit(code), 20).unref();
  }
}
