// IPC overhead of the daemon against the floor: a raw vscode-jsonrpc echo server over a Unix
// socket, measured in the same run, interleaved in blocks so both see the same machine noise.
//
// The daemon has no no-op method, so three daemon requests are measured (all over the same
// authenticated vscode-jsonrpc connection a CLI or test uses, one request in flight):
//   - textDocument/inlineCompletion on an empty document: the headline (what an editor sends);
//     after the first call it is answered from the completion cache, and it also emits a
//     hearth/route/current notification, as for any completion;
//   - hearth/status: builds the status object (clients, documents, store schema);
//   - an unknown method: the pure boundary (framing, envelope check, hello gate, vscode-jsonrpc
//     dispatch, router lookup) with no handler, answered with MethodNotFound.
// The echo server is a separate node process, as the daemon is.
//
//   node --import tsx bench/ipc.ts [iterations]        (--profile writes a CPU profile of the daemon)
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { connectClient, type HearthClient } from '../server/client.js';
import { Status } from '../server/protocol.js';
import { HEARTH_BIN, makeHome, waitFor, type HearthHome } from '../test/helpers/daemon.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Dist { p50Us: number; p99Us: number; meanUs: number; n: number }
export interface IpcBenchResult {
  iterations: number;
  echo: Dist;
  /** Headline: textDocument/inlineCompletion on an empty document. */
  daemon: Dist;
  daemonStatus: Dist;
  daemonUnknownMethod: Dist;
  /** daemon p50 / echo p50 (target <= 1.5). */
  ratioP50: number;
  ratioP99: number;
  statusRatioP50: number;
  unknownMethodRatioP50: number;
  targetRatioP50: number;
  lines: string[];
}

function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50Us: at(0.5), p99Us: at(0.99), meanUs: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

const ECHO_SERVER = `
import net from 'node:net';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
const server = net.createServer((socket) => {
  const c = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  c.onRequest('echo', (params) => params);
  c.onClose(() => c.dispose());
  socket.on('error', () => {});
  c.listen();
});
server.listen(process.argv[1], () => process.stdout.write('ready\\n'));
`;

async function startEcho(socketPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', ECHO_SERVER, socketPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`echo server exited (${code})`)));
  });
  return child;
}

async function connectEcho(socketPath: string): Promise<{ c: MessageConnection; s: net.Socket }> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
  const c = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
  c.listen();
  return { c, s };
}

async function timeBlock(n: number, fn: () => Promise<unknown>, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    into.push(Number(process.hrtime.bigint() - t) / 1000);
  }
}

export async function run(opts: { iterations?: number; profile?: boolean; log?: (line: string) => void } = {}): Promise<IpcBenchResult> {
  const N = opts.iterations ?? 4000;
  const log = opts.log ?? ((l: string) => console.log(l));
  const home: HearthHome = makeHome('bench-ipc');
  const echoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-echo-'));
  const echoPath = path.join(echoDir, 'echo.sock');
  let echo: ChildProcess | undefined;
  let daemonChild: ChildProcess | undefined;
  let client: HearthClient | undefined;
  let echoConn: { c: MessageConnection; s: net.Socket } | undefined;
  const profDir = path.join(os.tmpdir(), 'hearth-ipc-profiles');
  try {
    echo = await startEcho(echoPath);
    echoConn = await connectEcho(echoPath);
    if (opts.profile) {
      fs.mkdirSync(profDir, { recursive: true });
      daemonChild = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, HEARTH_BIN, 'daemon'], { env: home.env, stdio: 'ignore' });
      home.seenPids.add(daemonChild.pid!);
      await waitFor('the profiled daemon', async () => {
        const s = await new Promise<net.Socket>((res, rej) => net.createConnection(home.paths.socket).once('connect', function (this: net.Socket) { res(this); }).once('error', rej));
        s.destroy();
        return true;
      });
    } else {
      daemonChild = (await home.spawnDaemon()).child;
    }
    client = await connectClient({ name: 'bench-ipc', version: '1', kind: 'test' }, { paths: home.paths });
    const conn = client.connection;
    const uri = 'file:///bench/empty.ts';
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: '' } });
    const ec = echoConn.c;
    const payload = { textDocument: { uri }, position: { line: 0, character: 0 }, context: { triggerKind: 1 } };
    const calls = {
      echo: () => ec.sendRequest('echo', payload),
      inline: () => conn.sendRequest('textDocument/inlineCompletion', payload),
      status: () => conn.sendRequest(Status.method),
      unknown: () => conn.sendRequest('bench/no-such-method', {}).catch(() => undefined),
    };
    const samples: Record<keyof typeof calls, number[]> = { echo: [], inline: [], status: [], unknown: [] };
    // Warm-up (JIT, caches), then interleaved blocks.
    for (const fn of Object.values(calls)) await timeBlock(300, fn, []);
    const BLOCK = 200;
    for (let done = 0; done < N; done += BLOCK) {
      for (const k of Object.keys(calls) as Array<keyof typeof calls>) await timeBlock(Math.min(BLOCK, N - done), calls[k], samples[k]);
    }
    const e = dist(samples.echo);
    const d = dist(samples.inline);
    const st = dist(samples.status);
    const un = dist(samples.unknown);
    const r = (x: Dist) => x.p50Us / e.p50Us;
    const f = (x: number) => x.toFixed(0).padStart(5);
    const lines = [
      `ipc bench (${N} sequential requests each, interleaved in blocks of ${BLOCK})`,
      `  raw vscode-jsonrpc echo server (UDS)          p50 ${f(e.p50Us)} µs  p99 ${f(e.p99Us)} µs`,
      `  daemon textDocument/inlineCompletion (empty)  p50 ${f(d.p50Us)} µs  p99 ${f(d.p99Us)} µs  -> p50 ratio ${r(d).toFixed(2)} (target <= 1.5), p99 ratio ${(d.p99Us / e.p99Us).toFixed(2)}`,
      `  daemon hearth/status                          p50 ${f(st.p50Us)} µs  p99 ${f(st.p99Us)} µs  -> p50 ratio ${r(st).toFixed(2)}`,
      `  daemon unknown method (boundary only)         p50 ${f(un.p50Us)} µs  p99 ${f(un.p99Us)} µs  -> p50 ratio ${r(un).toFixed(2)}`,
    ];
    for (const l of lines) log(l);
    return {
      iterations: N, echo: e, daemon: d, daemonStatus: st, daemonUnknownMethod: un,
      ratioP50: r(d), ratioP99: d.p99Us / e.p99Us, statusRatioP50: r(st), unknownMethodRatioP50: r(un), targetRatioP50: 1.5, lines,
    };
  } finally {
    client?.close();
    echoConn?.c.dispose();
    echoConn?.s.destroy();
    echo?.kill('SIGKILL');
    if (daemonChild && opts.profile && daemonChild.exitCode === null) {
      daemonChild.kill('SIGTERM'); // the profile is written on a clean exit
      await new Promise((r) => daemonChild!.once('exit', r));
      log(`  daemon CPU profile written to ${profDir}`);
    }
    await home.dispose();
    fs.rmSync(echoDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = process.argv.slice(2).find((a) => /^\d+$/.test(a));
  await run({ ...(n ? { iterations: Number(n) } : {}), profile: process.argv.includes('--profile') });
}
