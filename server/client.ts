// Connecting to the daemon: used by the bridge, the CLI and tests. Starts the daemon when none runs;
// concurrent starters race safely because the daemon itself holds an exclusive lock and the losers
// exit with code 3 while everyone polls the socket.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { Hello, PROTOCOL_MAX, PROTOCOL_MIN, type ClientIdentity, type Result } from './protocol.js';
import { resolvePaths, type HearthPaths } from './paths.js';
import { readToken } from './security.js';

export const EXIT_ALREADY_RUNNING = 3;

/** The command that runs this CLI: the bundle when bundled, else the repo's bin/hearth. */
export function cliCommand(): string[] {
  if (process.env.HEARTH_CLI) return [process.execPath, process.env.HEARTH_CLI];
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.mjs')) return [process.execPath, here];
  return [process.execPath, path.resolve(path.dirname(here), '..', 'bin', 'hearth')];
}

export function connectSocket(socketPath: string, timeoutMs = 2000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting to ${socketPath}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function tail(file: string, bytes = 2000): string {
  try {
    const buf = fs.readFileSync(file);
    return buf.subarray(Math.max(0, buf.length - bytes)).toString('utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The daemon process exited without serving: a lasting condition (an unsafe home or token, a
 * damaged store) that retrying will not fix; `output` is what it printed, naming cause and fix.
 */
export class DaemonStartFailed extends Error {
  constructor(readonly exitCode: number | null, readonly output: string) {
    super(`the daemon did not start (exit code ${exitCode}):\n${output}`);
    this.name = 'DaemonStartFailed';
  }
}

/** Spawns a detached daemon and waits until its socket accepts connections. */
export async function startDaemon(paths: HearthPaths, timeoutMs = 15000): Promise<void> {
  fs.mkdirSync(paths.logs, { recursive: true, mode: 0o700 });
  const logFile = path.join(paths.logs, 'daemon.log');
  const out = fs.openSync(logFile, 'a', 0o600);
  const before = fs.statSync(logFile).size;
  const [cmd, ...args] = cliCommand();
  const child = spawn(cmd!, [...args, 'daemon'], { detached: true, stdio: ['ignore', out, out], env: process.env });
  fs.closeSync(out);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const s = await connectSocket(paths.socket, 500);
      s.destroy();
      return;
    } catch {
      // not up yet
    }
    if (exited !== undefined && exited !== EXIT_ALREADY_RUNNING && exited !== 0) {
      const log = fs.readFileSync(logFile).subarray(before).toString('utf8').trim();
      throw new DaemonStartFailed(exited, log || tail(logFile));
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the daemon did not answer on ${paths.socket} within ${timeoutMs} ms; see ${logFile}`);
}

export interface HearthClient {
  connection: MessageConnection;
  socket: net.Socket;
  hello: Result<typeof Hello>;
  close(): void;
}

/** Connects (starting the daemon when `autostart`), says hello, and returns a JSON-RPC connection. */
export async function connectClient(
  identity: ClientIdentity,
  opts: { paths?: HearthPaths; autostart?: boolean; capabilities?: Record<string, boolean> } = {},
): Promise<HearthClient> {
  const paths = opts.paths ?? resolvePaths();
  let socket: net.Socket;
  try {
    socket = await connectSocket(paths.socket);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!opts.autostart || (code !== 'ENOENT' && code !== 'ECONNREFUSED')) {
      throw new Error(code === 'ENOENT' || code === 'ECONNREFUSED'
        ? `no Hearth daemon is running for ${paths.home} (socket ${paths.socket}); start one with \`hearth start\``
        : `cannot connect to ${paths.socket}: ${(err as Error).message}`);
    }
    await startDaemon(paths);
    socket = await connectSocket(paths.socket);
  }
  const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  // vscode-jsonrpc rejects pending requests only on dispose, not when the socket closes: without
  // this, a daemon that died mid-request left the CLI (or a hello) waiting forever
  // (test/integration/cli.test.ts "a command whose daemon dies mid-request", daemon-crash.test.ts).
  connection.onClose(() => connection.dispose());
  connection.listen();
  let hello: Result<typeof Hello>;
  try {
    hello = await connection.sendRequest(Hello.method, {
      token: readToken(paths.token),
      client: identity,
      protocol: { min: PROTOCOL_MIN, max: PROTOCOL_MAX },
      ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
    }) as Result<typeof Hello>;
  } catch (err) {
    // An unusable token or a refused hello must not leave the socket open: it kept `hearth doctor`
    // from ever exiting when the token was 0644 (test/integration/cli.test.ts, doctor).
    connection.dispose();
    socket.destroy();
    throw err;
  }
  return {
    connection,
    socket,
    hello,
    close: () => {
      connection.dispose();
      socket.destroy();
    },
  };
}
