// The daemon's boundary: LSP base-protocol framing (Content-Length headers) with a size cap, and
// JSON-RPC 2.0 envelope validation. vscode-jsonrpc has no size limit, answers invalid JSON with
// nothing, and accepts "jsonrpc": "1.0"; this reader closes those gaps before a message reaches
// the connection. Errors it can answer (bad JSON, bad envelope) are written straight back;
// errors that lose the framing (bad headers, oversized bodies) close the connection.
import type { Socket } from 'node:net';
import { AbstractMessageReader, AbstractMessageWriter, type DataCallback, type Disposable, type Message, type MessageWriter } from 'vscode-jsonrpc';

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

export interface WireLimits {
  /** Largest message body in bytes. */
  maxMessageBytes: number;
  /** Largest header block in bytes. */
  maxHeaderBytes: number;
  /**
   * Largest message body before the connection is authenticated (a hello is a few hundred bytes):
   * what an unauthenticated connection can make the daemon buffer.
   */
  maxHelloBytes: number;
}

export const DEFAULT_LIMITS: WireLimits = { maxMessageBytes: 8 * 1024 * 1024, maxHeaderBytes: 4096, maxHelloBytes: 64 * 1024 };

type Id = string | number | null;

export interface EnvelopeError { code: number; message: string; id: Id }

/** Checks a parsed value is a JSON-RPC 2.0 request, notification or response. */
export function checkEnvelope(value: unknown): EnvelopeError | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { code: ErrorCodes.InvalidRequest, message: Array.isArray(value) ? 'batch requests are not supported' : 'a JSON-RPC message must be an object', id: null };
  }
  const m = value as Record<string, unknown>;
  const rawId = m.id;
  const idOk = rawId === undefined || rawId === null || typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId));
  const id: Id = idOk && rawId !== undefined ? (rawId as Id) : null;
  if (m.jsonrpc !== '2.0') return { code: ErrorCodes.InvalidRequest, message: 'jsonrpc must be "2.0"', id };
  if (!idOk) return { code: ErrorCodes.InvalidRequest, message: 'id must be a string, a number or null', id: null };
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) return { code: ErrorCodes.InvalidRequest, message: 'method must be a non-empty string', id };
    if ('result' in m || 'error' in m) return { code: ErrorCodes.InvalidRequest, message: 'a request cannot carry result or error', id };
    // "params": null is what some clients send for a method without params (Emacs Eglot's
    // shutdown/exit); it means the same as no params (deliver() drops it).
    if (m.params !== undefined && m.params !== null && typeof m.params !== 'object') return { code: ErrorCodes.InvalidRequest, message: 'params must be an object or an array', id };
    if (rawId === null) return { code: ErrorCodes.InvalidRequest, message: 'a request id cannot be null', id: null };
    // vscode-jsonrpc reads `params.id` of a `$/cancelRequest` notification before any handler runs
    // and throws on a missing params object or a null/undefined id; uncaught, that killed the
    // daemon (found by test/integration/fuzz.test.ts). Check it here, where a reply is possible.
    if (m.method === '$/cancelRequest' && rawId === undefined) {
      const p = m.params as Record<string, unknown> | undefined;
      const cid = p && !Array.isArray(p) ? p.id : undefined;
      if (!(typeof cid === 'string' || (typeof cid === 'number' && Number.isFinite(cid)))) {
        return { code: ErrorCodes.InvalidParams, message: '$/cancelRequest needs params.id (the string or number id of the request to cancel)', id: null };
      }
    }
    return undefined;
  }
  // A response to one of our server→client requests.
  if (rawId === undefined) return { code: ErrorCodes.InvalidRequest, message: 'message has neither method nor id', id: null };
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) return { code: ErrorCodes.InvalidRequest, message: 'a response needs exactly one of result or error', id };
  if (hasError) {
    const e = m.error as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || typeof e.code !== 'number' || typeof e.message !== 'string') {
      return { code: ErrorCodes.InvalidRequest, message: 'error must be an object with a numeric code and a message', id };
    }
  }
  return undefined;
}

export interface GuardedReaderEvents {
  /** A message the reader answered itself (bad JSON / envelope). */
  reject(error: EnvelopeError): void;
  /** Framing is lost or a limit was hit: the connection must close. */
  fatal(reason: string, error?: EnvelopeError): void;
  /** Decides whether a well-formed message reaches the connection (the hello gate). */
  admit?(message: Message): boolean;
}

const CRLF2 = Buffer.from('\r\n\r\n');
/** Shared: decode() without `stream` keeps no state between calls, and one decoder per message cost ~3 µs. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CONTENT_LENGTH = Buffer.from('Content-Length: ', 'latin1');

/**
 * The length in `Content-Length: <1-12 digits>` when that is the whole header block
 * `buf[0, end)`, else undefined (the general parser decides: other fields, case, spacing, errors).
 */
function fastContentLength(buf: Buffer, end: number): number | undefined {
  const from = CONTENT_LENGTH.length;
  if (end <= from || end - from > 12 || buf.compare(CONTENT_LENGTH, 0, from, 0, from) !== 0) return undefined;
  let n = 0;
  for (let i = from; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

export class GuardedMessageReader extends AbstractMessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** Chunks of a message body still arriving, and the buffer length at which it is complete. */
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private want = 0;
  private callback: DataCallback | undefined;
  private dead = false;
  /**
   * The largest body accepted now: maxHelloBytes until the session says the connection is
   * authenticated (setAuthenticated), then maxMessageBytes. So what this reader buffers for one
   * connection is at most maxHeaderBytes + cap + one socket read.
   */
  private cap: number;

  constructor(private readonly socket: Socket, private readonly limits: WireLimits, private readonly events: GuardedReaderEvents) {
    super();
    this.cap = Math.min(limits.maxHelloBytes ?? limits.maxMessageBytes, limits.maxMessageBytes);
  }

  setAuthenticated(): void {
    this.cap = this.limits.maxMessageBytes;
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer): void => this.onData(chunk);
    const onClose = (): void => this.fireClose();
    const onError = (err: Error): void => this.fireError(err);
    this.socket.on('data', onData);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    return {
      dispose: () => {
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
        this.socket.off('error', onError);
      },
    };
  }

  private fail(reason: string, error?: EnvelopeError): undefined {
    this.dead = true;
    this.buffer = Buffer.alloc(0);
    this.chunks = [];
    this.events.fatal(reason, error);
    return undefined;
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    // A large body arrives in many reads: keep them aside and join them once it is complete
    // (joining on every read copied an 8 MiB message ~100 times over).
    if (this.want > 0) {
      this.chunks.push(chunk);
      this.chunkBytes += chunk.length;
      if (this.chunkBytes < this.want) return;
      this.buffer = Buffer.concat(this.chunks, this.chunkBytes);
      this.chunks = [];
      this.chunkBytes = 0;
      this.want = 0;
    } else {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    }
    while (!this.dead) {
      const headerEnd = this.buffer.indexOf(CRLF2);
      if (headerEnd < 0) {
        if (this.buffer.length > this.limits.maxHeaderBytes) this.fail(`header block exceeds ${this.limits.maxHeaderBytes} bytes`);
        return;
      }
      if (headerEnd > this.limits.maxHeaderBytes) return this.fail(`header block exceeds ${this.limits.maxHeaderBytes} bytes`);
      // Fast path: the header block every vscode-jsonrpc client sends, `Content-Length: <digits>`
      // alone, read straight from the bytes; anything else takes the general parser below.
      let length = fastContentLength(this.buffer, headerEnd);
      if (length === undefined) {
        const parsed = this.parseHeader(this.buffer.subarray(0, headerEnd).toString('ascii'));
        if (parsed === undefined) return;
        length = parsed;
      }
      if (length > this.cap) {
        const what = this.cap < this.limits.maxMessageBytes
          ? `message of ${length} bytes before hearth/hello exceeds the ${this.cap}-byte cap for unauthenticated connections`
          : `message of ${length} bytes exceeds the ${this.cap}-byte cap`;
        return this.fail(what, { code: ErrorCodes.InvalidRequest, message: what, id: null });
      }
      const start = headerEnd + 4;
      if (this.buffer.length < start + length) {
        if (start + length - this.buffer.length > 65536) {
          this.want = start + length;
          this.chunks = [this.buffer];
          this.chunkBytes = this.buffer.length;
          this.buffer = Buffer.alloc(0);
        }
        return;
      }
      const body = this.buffer.subarray(start, start + length);
      this.buffer = this.buffer.subarray(start + length);
      this.deliver(body);
    }
  }

  /** The Content-Length of a header block; undefined after failing the connection. */
  private parseHeader(header: string): number | undefined {
    let length: number | undefined;
    for (const line of header.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) return this.fail(`malformed header line ${JSON.stringify(line.slice(0, 80))}`, { code: ErrorCodes.ParseError, message: 'malformed message header', id: null });
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,12}$/.test(value)) return this.fail('Content-Length is not a number', { code: ErrorCodes.ParseError, message: 'Content-Length is not a number', id: null });
        length = Number(value);
      } else if (name === 'content-type') {
        if (!/charset=utf-?8/i.test(value) && /charset=/i.test(value)) return this.fail('unsupported charset', { code: ErrorCodes.ParseError, message: 'only utf-8 is supported', id: null });
      }
    }
    if (length === undefined) return this.fail('missing Content-Length', { code: ErrorCodes.ParseError, message: 'missing Content-Length header', id: null });
    return length;
  }

  private deliver(body: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(UTF8.decode(body));
    } catch (err) {
      this.events.reject({ code: ErrorCodes.ParseError, message: `invalid JSON: ${(err as Error).message}`, id: null });
      return;
    }
    const bad = checkEnvelope(value);
    if (bad) {
      this.events.reject(bad);
      return;
    }
    if ((value as { params?: unknown }).params === null) delete (value as { params?: unknown }).params;
    if (this.events.admit && !this.events.admit(value as Message)) return;
    this.callback?.(value as Message);
  }
}

/**
 * Writes each message as ONE socket write (header and body in one buffer), synchronously.
 * vscode-jsonrpc's StreamMessageWriter writes the header and the body separately (two syscalls)
 * after a semaphore and an async encoder; on the daemon's small replies that was most of its cost
 * over a bare vscode-jsonrpc server (bench/ipc.ts). Messages keep their order: socket.write queues.
 */
export class FramedSocketWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  /** Any writable byte stream: the daemon's sockets, and the bridge's socket and stdout. */
  constructor(private readonly socket: Socket | NodeJS.WritableStream & { destroyed?: boolean; writable?: boolean; end(): void }) {
    super();
    socket.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.reject(new Error('the connection is closed'));
    let bytes: Buffer;
    try {
      bytes = frame(message);
    } catch (err) {
      this.fireError(err as Error, message, ++this.errors);
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err?: Error | null) => {
        if (!err) return resolve();
        this.fireError(err, message, ++this.errors);
        reject(err);
      });
    });
  }

  end(): void {
    this.socket.end();
  }
}

/** Frames one JSON-RPC message for the wire. */
export function frame(message: unknown): Buffer {
  const json = JSON.stringify(message);
  const length = Buffer.byteLength(json, 'utf8');
  const header = `Content-Length: ${length}\r\n\r\n`;
  const out = Buffer.allocUnsafe(header.length + length);
  out.write(header, 0, 'latin1');
  out.write(json, header.length, 'utf8');
  return out;
}
