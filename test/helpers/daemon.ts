// Test harness for the real daemon: private homes (HEARTH_HOME + XDG_RUNTIME_DIR, 0700), running
// `bin/hearth` commands, a foreground daemon child, authenticated vscode-jsonrpc clients, raw
// socket connections that speak the wire format byte by byte, and LSP clients that launch
// `bin/hearth lsp --stdio` the way editors do.
//
// Every process a home starts (directly, or indirectly through autostart by a bridge or the CLI)
// is found by pid and ended in `dispose()`; a process-exit hook SIGKILLs whatever a failed test
// left behind, so no daemon outlives the test run.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection,
} from 'vscode-jsonrpc/node';
import { resolvePaths, type HearthPaths } from '../../server/paths.js';
import { connectClient, type HearthClient } from '../../server/client.js';
import { Hello, PROTOCOL_MAX, PROTOCOL_MIN, Status, type ClientIdentity, type Result } from '../../server/protocol.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HEARTH_BIN = path.join(ROOT, 'bin', 'hearth');

export type StatusResult = Result<typeof Status>;

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns something other than undefined/false; fails with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * `bin/hearth ARGS` on a real pseudo-terminal (util-linux `script` relays our pipe to it as keyboard
 * input): for commands that prompt only when stdin is a terminal. `screen()` is what it printed,
 * ANSI sequences removed; `waitScreen(re)` waits for the terminal to show `re`.
 */
export function hearthOnPty(args: string[], env: NodeJS.ProcessEnv): {
  screen(): string;
  waitScreen(what: string, re: RegExp, timeoutMs?: number): Promise<void>;
  type(text: string): void;
  exited: Promise<number | null>;
  kill(): void;
} {
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, HEARTH_BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (raw += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (raw += d));
  const screen = (): string => raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
  return {
    screen,
    async waitScreen(what, re, timeoutMs = 20_000) {
      await waitFor(what, () => re.test(screen()) || undefined, timeoutMs)
        .catch((err: Error) => { throw new Error(`${err.message}; the terminal showed:\n${screen()}`); });
    },
    type: (text) => void child.stdin!.write(text),
    exited: new Promise((r) => child.once('close', (code) => r(code))),
    kill: () => void child.kill('SIGKILL'),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill 0.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Live processes whose environment holds NAME=value exactly (Linux /proc), optionally filtered by argv. */
export function processesWithEnv(name: string, value: string, argvIncludes?: string): number[] {
  const want = `${name}=${value}`;
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (!env.includes(want)) continue;
      if (argvIncludes !== undefined) {
        const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (!argv.includes(argvIncludes)) continue;
      }
      if (isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Raw wire connections

export type Frame = Record<string, any>;

/** Frames one message (object, string or bytes) with a correct Content-Length header. */
export function frameBytes(body: unknown): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`, 'ascii'), b]);
}

/**
 * A socket to the daemon that writes arbitrary bytes and parses what comes back frame by frame.
 * `next()` yields replies in arrival order, `'closed'` once the daemon closed the connection.
 */
export class RawConn {
  readonly received: Frame[] = [];
  closed = false;
  readonly whenClosed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private seq = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // EPIPE/ECONNRESET after the daemon closed: seen as 'close'
    this.whenClosed = new Promise((resolve) => socket.once('close', () => {
      this.closed = true;
      resolve();
      this.wake();
    }));
  }

  static open(socketPath: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const m = /Content-Length: (\d+)/i.exec(this.buf.subarray(0, end).toString('ascii'));
      if (!m) throw new Error(`the daemon sent a frame without Content-Length: ${this.buf.subarray(0, end).toString()}`);
      const len = Number(m[1]);
      if (this.buf.length < end + 4 + len) break;
      this.received.push(JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString('utf8')) as Frame);
      this.buf = this.buf.subarray(end + 4 + len);
    }
    this.wake();
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(message: unknown): void {
    this.write(frameBytes(message));
  }

  /** The next reply, `'closed'` when the daemon closed the connection, `'timeout'` after `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Frame | 'closed' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.shift();
      if (m) return m;
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a request and returns the reply with its id (replies without that id are kept). */
  async request(method: string, params?: unknown, timeoutMs = 5000): Promise<Frame> {
    const id = `raw-${++this.seq}`;
    this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((m) => m.id === id);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`the daemon closed the connection before answering ${method}`);
      if (Date.now() > deadline) throw new Error(`no reply to ${method} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  hello(token: string, client: ClientIdentity = { name: 'raw-test', version: '0', kind: 'test' }, timeoutMs = 10_000): Promise<Frame> {
    return this.request(Hello.method, { token, client, protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX } }, timeoutMs);
  }

  /** Resolves true when the daemon closes the connection within `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await Promise.race([this.whenClosed, sleep(timeoutMs)]);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// LSP clients through the bridge

export class LspClient {
  readonly connection: MessageConnection;
  readonly notifications: Array<{ method: string; params: unknown }> = [];
  private err = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    this.connection.onNotification((method: string, params: unknown) => void this.notifications.push({ method, params }));
    this.connection.onError(() => undefined);
    this.connection.listen();
  }

  get stderr(): string {
    return this.err;
  }

  async initialize(name: string, version = '1.0.0'): Promise<any> {
    const r = await this.connection.sendRequest('initialize', {
      processId: process.pid, clientInfo: { name, version }, rootUri: null, capabilities: {},
    });
    await this.connection.sendNotification('initialized', {});
    return r;
  }

  open(uri: string, text: string, version = 1, languageId = 'typescript'): Promise<void> {
    return this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, contentChanges: unknown[]): Promise<void> {
    return this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
  }

  inlineCompletion(uri: string, line: number, character: number): Promise<{ items: Array<{ insertText: string }> }> {
    return this.connection.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: { line, character }, context: { triggerKind: 1 } });
  }

  /** Closes stdin (what an editor does on exit) and waits; SIGKILL if the bridge lingers. */
  async dispose(): Promise<void> {
    this.connection.dispose();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const done = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!done && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.exited;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Homes

export interface DaemonProc {
  pid: number;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

const liveHomes = new Set<HearthHome>();
process.on('exit', () => {
  // Last resort when a suite's after hook never ran: no daemon may outlive the test process.
  for (const h of liveHomes) for (const pid of h.daemonPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export class HearthHome {
  readonly dir: string;
  readonly home: string;
  readonly runtime: string;
  readonly env: NodeJS.ProcessEnv;
  readonly paths: HearthPaths;
  /** Pids of daemons this home is known to have run (foreground children, status/hello answers). */
  readonly seenPids = new Set<number>();
  private readonly children = new Set<ChildProcess>();
  private readonly clients = new Set<{ close(): void }>();
  private readonly lsps = new Set<LspClient>();

  constructor(label: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-it-${label}-`));
    this.home = path.join(this.dir, 'home');
    this.runtime = path.join(this.dir, 'xdg-run');
    fs.mkdirSync(this.home, { mode: 0o700 });
    fs.mkdirSync(this.runtime, { mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    this.env = { ...process.env, HEARTH_HOME: this.home, XDG_RUNTIME_DIR: this.runtime };
    delete this.env.HEARTH_CLI;
    this.paths = resolvePaths(this.env);
    liveHomes.add(this);
  }

  /** Runs `bin/hearth ARGS` to completion. */
  cli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [HEARTH_BIN, ...args], { env: opts.env ?? this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** `hearth daemon` as a foreground child; resolves once its socket accepts connections (unless `wait: false`). */
  async spawnDaemon(timeoutMs = 20_000, opts: { wait?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<DaemonProc> {
    const child = spawn(process.execPath, [HEARTH_BIN, 'daemon'], { env: { ...this.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => {
      this.children.delete(child);
      resolve({ code, signal });
    }));
    const pid = child.pid!;
    this.seenPids.add(pid);
    if (opts.wait === false) return { pid, child, exited, output: () => output };
    await waitFor(`the daemon (pid ${pid}) to listen on ${this.paths.socket}`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}): ${output}`);
      const s = await RawConn.open(this.paths.socket);
      s.destroy();
      return true;
    }, timeoutMs);
    return { pid, child, exited, output: () => output };
  }

  token(): string {
    return fs.readFileSync(this.paths.token, 'utf8').trim();
  }

  /** An authenticated vscode-jsonrpc connection (closed in dispose). */
  async connect(identity: ClientIdentity = { name: 'it-client', version: '0', kind: 'test' }, autostart = false): Promise<HearthClient> {
    const c = await connectClient(identity, { paths: this.paths, autostart });
    this.seenPids.add(c.hello.daemon.pid);
    this.clients.add(c);
    return c;
  }

  async status(): Promise<StatusResult> {
    const c = await connectClient({ name: 'it-status', version: '0', kind: 'test' }, { paths: this.paths });
    try {
      const s = await c.connection.sendRequest(Status.method) as StatusResult;
      this.seenPids.add(s.pid);
      return s;
    } finally {
      c.close();
    }
  }

  async raw(): Promise<RawConn> {
    const r = await RawConn.open(this.paths.socket);
    this.clients.add({ close: () => r.destroy() });
    return r;
  }

  /** Launches `bin/hearth lsp --stdio` as an editor would. */
  lsp(): LspClient {
    const child = spawn(process.execPath, [HEARTH_BIN, 'lsp', '--stdio'], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const c = new LspClient(child);
    this.lsps.add(c);
    return c;
  }

  /** Every live daemon of this home: ones seen, plus any `hearth daemon` with this HEARTH_HOME. */
  daemonPids(): number[] {
    const pids = new Set<number>([...this.seenPids].filter(isAlive));
    for (const p of processesWithEnv('HEARTH_HOME', this.home, 'daemon')) pids.add(p);
    return [...pids];
  }

  /** Ends every process this home started: bridges, CLI runs and daemons (SIGTERM, then SIGKILL). */
  async dispose(): Promise<void> {
    for (const c of this.clients) c.close();
    this.clients.clear();
    await Promise.all([...this.lsps].map((l) => l.dispose()));
    for (const child of this.children) if (child.pid !== undefined && isAlive(child.pid)) child.kill('SIGKILL');
    const pids = this.daemonPids();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    try {
      await waitFor('daemons to exit after SIGTERM', () => pids.every((p) => !isAlive(p)), 5000);
    } catch {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    liveHomes.delete(this);
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

export function makeHome(label: string): HearthHome {
  return new HearthHome(label);
}

/** Deterministic PRNG (mulberry32) so a fuzz failure reproduces from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
