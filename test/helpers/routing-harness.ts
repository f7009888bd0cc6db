// Helpers for the routing / egress / models / offline integration tests: LSP clients (through
// `bin/hearth lsp --stdio`) that initialize with a workspace root and a client name, answer the
// daemon's `hearth/egress/confirm` requests, and wait for notifications; policy files; JSON CLI runs.
// Built on test/helpers/daemon.ts (homes, daemons, clean-up).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HEARTH_BIN, makeHome, sleep, waitFor, type CliResult, type HearthHome, type LspClient } from './daemon.js';
import { EgressConfirm, RouteExplain } from '../../server/protocol.js';

export { makeHome, sleep, waitFor, type HearthHome, type LspClient };

export const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'models');
export const FIM_MODEL = path.join(FIXTURES, 'tiny-llama-fim.gguf');
export const NOFIM_MODEL = path.join(FIXTURES, 'tiny-llama-nofim.gguf');
export const UNSUPPORTED_MODEL = path.join(FIXTURES, 'tiny-unsupported-arch.gguf');

export interface ConfirmParams {
  feature: string;
  provider: string;
  host: string;
  reason: string;
  bytes: number;
  payload: string;
  sources?: unknown[];
  options?: string[];
}

/** An editor: an LSP client with a name and workspace, recording confirm requests it was sent. */
export class Editor {
  readonly confirms: ConfirmParams[] = [];
  /** How the next confirm requests are answered (a queue; `fallback` when it is empty). */
  readonly answers: Array<'once' | 'session' | 'always' | 'deny'> = [];
  fallback: 'once' | 'session' | 'always' | 'deny' | 'hang' = 'deny';
  private hung: Array<(d: { decision: string }) => void> = [];

  constructor(readonly lsp: LspClient, readonly name: string) {
    lsp.connection.onRequest(EgressConfirm.method, (params: ConfirmParams): Promise<{ decision: string }> => {
      this.confirms.push(params);
      const a = this.answers.shift() ?? this.fallback;
      if (a === 'hang') return new Promise<{ decision: string }>((resolve) => this.hung.push(resolve));
      return Promise.resolve({ decision: a });
    });
  }

  /** Answers every confirm request left hanging. */
  release(decision: 'once' | 'session' | 'always' | 'deny'): number {
    const h = this.hung;
    this.hung = [];
    for (const f of h) f({ decision });
    return h.length;
  }

  get pendingConfirms(): number {
    return this.hung.length;
  }

  open(file: string, text: string, languageId = 'typescript'): Promise<void> {
    return this.lsp.open(pathToFileURL(file).href, text, 1, languageId);
  }

  complete(file: string, line: number, character: number): Promise<{ items: Array<{ insertText: string }> }> {
    return this.lsp.inlineCompletion(pathToFileURL(file).href, line, character);
  }

  explain(file: string, line: number, character: number): Promise<any> {
    return this.lsp.connection.sendRequest(RouteExplain.method, { textDocument: { uri: pathToFileURL(file).href }, position: { line, character } });
  }

  notificationsOf(method: string): any[] {
    return this.lsp.notifications.filter((n) => n.method === method).map((n) => n.params);
  }

  /** Waits for a notification of `method` (after the first `skip` ones) satisfying `pred`. */
  waitNotification(method: string, pred: (p: any) => boolean = () => true, timeoutMs = 15_000): Promise<any> {
    return waitFor(`a ${method} notification in ${this.name}`, () => this.notificationsOf(method).find(pred), timeoutMs);
  }
}

/** Launches `hearth lsp --stdio` in `home` and initializes it as editor `name` with workspace `root`. */
export async function attachEditor(home: HearthHome, name: string, root: string | null): Promise<Editor> {
  const lsp = home.lsp();
  const editor = new Editor(lsp, name);
  await lsp.connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name, version: '1.0.0' },
    rootUri: root ? pathToFileURL(root).href : null,
    capabilities: {},
  });
  await lsp.connection.sendNotification('initialized', {});
  return editor;
}

/** Writes a file atomically (write + rename, as editors save), creating its folder. */
export function writeFileAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The user policy file of a home (`$HEARTH_HOME/config/policy.yaml`). */
export function userPolicyFile(home: HearthHome): string {
  return path.join(home.paths.configDir, 'policy.yaml');
}

/** A fresh workspace folder inside the home's temp dir. */
export function makeWorkspace(home: HearthHome, name: string): string {
  const root = path.join(home.dir, name);
  fs.mkdirSync(root, { recursive: true });
  return root;
}

/** `bin/hearth ARGS` in `cwd` (route explain uses its working folder as the workspace root). */
export function cliIn(home: HearthHome, args: string[], cwd: string, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HEARTH_BIN, ...args], { cwd, env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the CLI and parses stdout as JSON, failing with the output when it does not parse. */
export async function cliJson<T = any>(home: HearthHome, args: string[], cwd?: string): Promise<T> {
  const r = cwd ? await cliIn(home, args, cwd) : await home.cli(args);
  if (r.code !== 0) throw new Error(`hearth ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`hearth ${args.join(' ')} printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

/** How to run a command without network access here: `unshare -n`, else bwrap, else why neither works. */
export function netIsolation(): { argv: string[]; how: string } | { skip: string } {
  const tries: Array<{ argv: string[]; how: string }> = [
    { argv: ['unshare', '-n'], how: 'unshare -n' },
    { argv: ['bwrap', '--unshare-net', '--bind', '/', '/', '--dev', '/dev', '--proc', '/proc'], how: 'bwrap --unshare-net' },
  ];
  const errors: string[] = [];
  for (const t of tries) {
    const r = spawnSync(t.argv[0]!, [...t.argv.slice(1), 'true'], { encoding: 'utf8' });
    if (r.status === 0) return t;
    errors.push(`${t.how}: ${r.error?.message ?? r.stderr.trim() ?? `exit ${r.status}`}`);
  }
  return { skip: `cannot cut the network for a child process here (${errors.join('; ')})` };
}

/**
 * `hearth daemon` of `home` inside a network namespace of its own (argv from netIsolation()).
 * Resolves with the pid of the daemon's node process once its socket accepts connections.
 */
export async function spawnIsolatedDaemon(home: HearthHome, isolation: string[], timeoutMs = 30_000): Promise<{ pid: number; output(): string }> {
  const child = spawn(isolation[0]!, [...isolation.slice(1), process.execPath, HEARTH_BIN, 'daemon'], { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  if (child.pid !== undefined) home.seenPids.add(child.pid);
  await waitFor(`the isolated daemon to listen on ${home.paths.socket}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}): ${output}`);
    await new Promise<void>((resolve, reject) => {
      const s = net.createConnection(home.paths.socket);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
    return true;
  }, timeoutMs);
  // bwrap forks: the daemon is the node process below it that has this home in its environment.
  const pid = await waitFor('the daemon pid', () => home.daemonPids().find((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(HEARTH_BIN)));
  home.seenPids.add(pid);
  return { pid, output: () => output };
}

/**
 * Waits until the daemon holds `file` open for the editor named `client`. Notifications from
 * different editors travel on different connections, so another editor's next request may
 * otherwise overtake this one's didOpen.
 */
export async function waitOpenIn(home: HearthHome, client: string, file: string): Promise<void> {
  const uri = pathToFileURL(file).href;
  await waitFor(`${client} to have ${uri} open in the daemon`, async () =>
    (await home.status()).clients.some((c) => c.name === client && c.documents.some((d) => d.uri === uri)));
}
