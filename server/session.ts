// One client connection to the daemon. The first message must be a valid `hearth/hello` with the
// token; anything else closes the connection. After hello, messages go through vscode-jsonrpc
// (cancellation, server→client requests) and the daemon's Router (schema-checked params).
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import {
  createMessageConnection, ResponseError, CancellationTokenSource, type MessageConnection, type Message,
  type CancellationToken, type RequestMessage,
} from 'vscode-jsonrpc/node';
import { Ajv, type ValidateFunction } from 'ajv';
import { FramedSocketWriter, GuardedMessageReader, type EnvelopeError, type WireLimits, ErrorCodes } from './wire.js';
import { Hello, HearthErrorCodes, PROTOCOL_MAX, PROTOCOL_MIN, type ClientIdentity, type Params, type Result } from './protocol.js';
import { clientError, type Router } from './router.js';
import { rpcErrorOf } from './errors.js';
import { tokenMatches } from './security.js';
import { DAEMON_DEFAULTS, type DaemonSettings } from './settings.js';

export interface SessionHost {
  readonly token: string;
  readonly version: string;
  readonly limits: WireLimits;
  readonly maxInFlight: number;
  /** A connection that has not completed hearth/hello by then is closed (default 5000 ms). */
  readonly helloTimeoutMs?: number;
  /** Called once when a connection leaves the hello state (authenticated, or closed before). */
  helloSettled?(session: Session): void;
  readonly router: Router<Session>;
  /** Called once hello succeeded; may persist the connection. */
  attached(session: Session): Promise<void>;
  detached(session: Session): void;
  log(level: 'info' | 'warning' | 'error', message: string): void;
}

// validateSchema off: the schema is ours (TypeBox); checking it against the meta-schema cost start-up time.
// Compiled on first use (every CLI command loads this module; only the daemon checks hellos).
let helloValidator: ValidateFunction | undefined;
const validateHelloFn = (): ValidateFunction => (helloValidator ??= new Ajv({ strict: false, validateSchema: false }).compile(Hello.params));

export class Session {
  readonly id = randomUUID();
  readonly connectedAt = new Date();
  identity: ClientIdentity = { name: 'unknown', version: '', kind: 'editor' };
  protocol = PROTOCOL_MAX;
  capabilities: Record<string, boolean> = {};
  /** Set by LSP initialize. */
  rootUri: string | null = null;
  /** The daemon's settings for this session (server/config-feature.ts: defaults, initializationOptions, workspace/configuration). */
  settings: DaemonSettings = DAEMON_DEFAULTS;
  private state: 'hello' | 'ready' | 'closed' = 'hello';
  private inFlight = 0;
  private ended = false;
  private readonly writer: FramedSocketWriter;
  private readonly connection: MessageConnection;
  private readonly gone = new AbortController();
  /**
   * Aborts, with the reason 'requester disconnected' (or 'the daemon stopped'), when this connection ends: what it asked for
   * (approvals, egress confirmations) is withdrawn, since nobody is waiting for the answer. Every
   * request still in flight on the connection is cancelled at the same moment.
   */
  get closedSignal(): AbortSignal {
    return this.gone.signal;
  }

  private readonly reader: GuardedMessageReader;
  private helloTimer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: Socket, private readonly host: SessionHost) {
    this.writer = new FramedSocketWriter(socket);
    const helloMs = host.helloTimeoutMs ?? 5000;
    this.helloTimer = setTimeout(() => void this.refuse({
      code: HearthErrorCodes.Unauthorized,
      message: `no hearth/hello within ${helloMs} ms: the connection is closed (clients send hearth/hello with the token first; connect again)`,
      id: null,
    }), helloMs);
    this.helloTimer.unref();
    const reader = this.reader = new GuardedMessageReader(socket, host.limits, {
      reject: (e) => void this.sendError(e),
      fatal: (reason, e) => this.close(reason, e),
      // Messages reach vscode-jsonrpc only after the hello gate.
      admit: (msg) => this.gate(msg),
    });
    this.connection = createMessageConnection(reader, this.writer, {
      error: (m) => host.log('error', `[${this.label}] ${m}`),
      warn: (m) => host.log('warning', `[${this.label}] ${m}`),
      info: () => undefined,
      log: () => undefined,
    });
    this.connection.onRequest((method: string, params: unknown, token: CancellationToken) => this.dispatch(method, params, token));
    this.connection.onNotification((method: string, params: unknown) => {
      void this.host.router.notify(method, params, this, (why) => host.log('warning', `[${this.label}] dropped notification: ${why}`))
        .catch((err: unknown) => host.log('error', `[${this.label}] ${method} failed: ${(err as Error).message}`));
    });
    this.connection.onClose(() => this.close('connection closed'));
    this.connection.onError(() => undefined);
    socket.on('error', () => this.close('socket error'));
    this.connection.listen();
  }

  get label(): string {
    return `${this.identity.name}#${this.id.slice(0, 8)}`;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Server→client request (egress confirmations, approvals). */
  sendRequest<R>(method: string, params: unknown, token?: CancellationToken): Promise<R> {
    return token ? this.connection.sendRequest(method, params, token) : this.connection.sendRequest(method, params);
  }

  sendNotification(method: string, params: unknown): void {
    if (this.state === 'ready') void this.connection.sendNotification(method, params).catch(() => undefined);
  }

  private async dispatch(method: string, params: unknown, token: CancellationToken): Promise<unknown> {
    if (this.inFlight >= this.host.maxInFlight) {
      throw clientError(HearthErrorCodes.ServerBusy, `more than ${this.host.maxInFlight} requests in flight on this connection; wait for replies before sending more`);
    }
    this.inFlight++;
    // vscode-jsonrpc does not cancel a request whose connection went away: do it here.
    const cts = new CancellationTokenSource();
    const onGone = (): void => cts.cancel();
    const sub = token.onCancellationRequested(onGone);
    this.gone.signal.addEventListener('abort', onGone, { once: true });
    try {
      return await this.host.router.request(method, params, this, cts.token);
    } catch (err) {
      if (err instanceof ResponseError) throw err;
      // A domain error gets its code by class (server/errors.ts); anything else is the daemon's fault.
      const mapped = rpcErrorOf(err);
      if (mapped) throw mapped;
      this.host.log('error', `[${this.label}] ${method} failed: ${(err as Error).stack ?? String(err)}`);
      throw clientError(ErrorCodes.InternalError, `${method} failed: ${(err as Error).message}`);
    } finally {
      this.inFlight--;
      sub.dispose();
      this.gone.signal.removeEventListener('abort', onGone);
      cts.dispose();
    }
  }

  /** Returns true when the message may pass to the connection. */
  private gate(msg: Message): boolean {
    if (this.state === 'ready') return true;
    if (this.state === 'closed') return false;
    const req = msg as RequestMessage;
    if (req.method !== Hello.method || req.id === undefined) {
      void this.refuse({ code: HearthErrorCodes.Unauthorized, message: 'the first message must be hearth/hello with the token', id: req.id ?? null });
      return false;
    }
    this.hello(req);
    return false;
  }

  private hello(req: RequestMessage): void {
    const id = req.id ?? null;
    const validateHello = validateHelloFn();
    if (!validateHello(req.params)) {
      const e = validateHello.errors?.[0];
      const hasToken = typeof (req.params as { token?: unknown } | undefined)?.token === 'string';
      if (!hasToken) return void this.refuse({ code: HearthErrorCodes.Unauthorized, message: 'hearth/hello without a token', id });
      return void this.refuse({ code: ErrorCodes.InvalidParams, message: `params${(e?.instancePath ?? '').replace(/\//g, '.')} ${e?.message ?? 'invalid'}`, id });
    }
    const p = req.params as Params<typeof Hello>;
    if (!tokenMatches(this.host.token, p.token)) return void this.refuse({ code: HearthErrorCodes.Unauthorized, message: 'wrong token', id });
    const lo = Math.max(p.protocol.min, PROTOCOL_MIN);
    const hi = Math.min(p.protocol.max, PROTOCOL_MAX);
    if (lo > hi) {
      return void this.refuse({ code: HearthErrorCodes.ProtocolMismatch, message: `no common protocol version: client speaks ${p.protocol.min}..${p.protocol.max}, daemon ${PROTOCOL_MIN}..${PROTOCOL_MAX}`, id });
    }
    this.identity = p.client;
    this.protocol = hi;
    this.capabilities = p.capabilities ?? {};
    this.state = 'ready';
    this.settleHello();
    this.reader.setAuthenticated();
    const result: Result<typeof Hello> = {
      clientId: this.id,
      protocol: hi,
      daemon: { version: this.host.version, pid: process.pid },
      capabilities: { completion: true, routeExplain: true, egressConfirm: true },
    };
    this.host.attached(this).then(
      () => this.writer.write({ jsonrpc: '2.0', id, result } as Message),
      (err: unknown) => this.refuse({ code: ErrorCodes.InternalError, message: `could not record the connection: ${(err as Error).message}`, id }),
    ).catch(() => undefined);
  }

  private async sendError(e: EnvelopeError): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'hello') return this.refuse(e);
    await this.writer.write({ jsonrpc: '2.0', id: e.id, error: { code: e.code, message: e.message } } as Message).catch(() => undefined);
  }

  private settleHello(): void {
    if (!this.helloTimer) return;
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.host.helloSettled?.(this);
  }

  /** Closes a connection that has not said hello yet, telling it why (the daemon's cap on such connections). */
  evictUnauthenticated(why: string): void {
    if (this.state === 'hello') void this.refuse({ code: HearthErrorCodes.ServerBusy, message: why, id: null });
  }

  /** Answers with an error, then closes the connection. */
  private async refuse(e: EnvelopeError): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.writer.write({ jsonrpc: '2.0', id: e.id, error: { code: e.code, message: e.message } } as Message).catch(() => undefined);
    this.close(e.message);
  }

  close(reason: string, e?: EnvelopeError): void {
    if (this.ended) return;
    this.ended = true;
    this.settleHello();
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    const finish = (): void => {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 200).unref();
    };
    if (e && !this.socket.destroyed) {
      this.writer.write({ jsonrpc: '2.0', id: e.id, error: { code: e.code, message: e.message } } as Message).catch(() => undefined).finally(finish);
    } else {
      finish();
    }
    this.gone.abort(reason === 'daemon stopping' ? 'the daemon stopped' : 'requester disconnected');
    if (wasReady) {
      this.host.log('info', `[${this.label}] detached: ${reason}`);
      this.host.detached(this);
    }
    this.connection.dispose();
  }
}

/** The path a file: URI names; null for another scheme or a URI that names no path. */
export function filePathOf(uri: string): string | null {
  if (!uri.startsWith('file:')) return null;
  try {
    return fileURLToPath(uri);
  } catch {
    return null;
  }
}

/** The workspace a session works in (from LSP initialize's rootUri), as a path. */
export function workspaceOf(s: Session): string | null {
  return s.rootUri ? filePathOf(s.rootUri) : null;
}
