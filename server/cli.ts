// `hearth`: the command line. Every command that needs state talks to the daemon and starts it when
// none runs (only status and stop do not); daemon, import, doctor, and export when no daemon runs,
// work on the files without it.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Daemon, DaemonStartError, type DaemonOptions } from './daemon.js';
import { FEATURES, writeExportFile } from './features.js';
import { Bridge } from './bridge.js';
import { connectClient, connectSocket, startDaemon, type HearthClient } from './client.js';
import { resolvePaths } from './paths.js';
import { SecurityError } from './security.js';
import { ExportState, Shutdown, Status, type Result } from './protocol.js';
import { runDoctor } from './doctor.js';
import { runDemo } from './demo.js';
import { CommandError, egressCommand, modelsCommand, policyCommand, routeCommand } from './commands.js';
import { memoryCommand } from './commands-memory.js';
import { secretsCommand } from './commands-secrets.js';
import { storeCommand } from './commands-store.js';
import { approveCommand, auditCommand, grantsCommand, mcpCommand, toolCommand } from './commands-tools.js';
import { anchorCommand, importCommand } from './commands-anchor.js';
import { askCommand, historyCommand } from './commands-ask.js';
import { readAnchor, readDeviceKey } from '../core/anchor/index.js';
import { Store } from '../core/store/index.js';
import { VERSION } from './version.js';

const USAGE = `hearth ${VERSION}: one local AI core for all your editors

usage: hearth <command> [options]

  start                 start the per-user daemon in the background (no-op when running)
  stop                  flush the store and stop the daemon
  status [--json] [--all]  daemon version, protocol, store schema, uptime, attached clients (--all: every open document)
  daemon                run the daemon in the foreground (SIGTERM/SIGINT stop it cleanly)
  lsp --stdio           the language server editors launch (starts the daemon when needed)
  export FILE           write all state to FILE (format: core/store/FORMAT.md)
  import FILE [--force] [--accept-rollback] [--accept-altered]
                        load state from FILE into an empty home (--force: replace what is there); an
                        export older than, or altered since, what this home's signed checkpoint saw
                        is refused unless you accept it with the flag the message names
  route explain FILE[:LINE[:COL]] [--json]
                        where a completion there would run, why, and every piece of data it would use
  egress log [--json]   every attempt to send data off this machine (the egress ledger)
  egress verify         check the egress ledger's hash chain against the signed checkpoint
  models list|add|remove|check
                        local models: add PATH-or-URL [--purpose completion|embedding] [--sha256 HEX]
  policy check [FILE]   validate a policy file (default ~/.config/hearth/policy.yaml)
  secrets set NAME | list [--json] | remove NAME
                        provider keys the daemon holds ($HEARTH_HOME/secrets.json, 0600); set reads the
                        value from the terminal (not shown) or stdin, never the command line
  store recover         after a corrupt snapshot: keep what can be read, set the damaged files aside
                        (timestamped), so the daemon starts and \`hearth import FILE\` works again
  tool list | run TOOL 'JSON' | undo ACTION
                        run a tool action through permissions, approval, sandbox and audit
  grants [list|revoke ID]  tool grants (session / always, with expiry)
  approve [--answer CHOICE]  answer approvals no editor is showing
  audit show|verify|export  the hash-chained audit log of tool actions
  anchor reset          (daemon stopped) sign a checkpoint for the audit log and egress ledger as the
                        store holds them now, after a verify failure you have looked into
  memory add|list|search|show|forget|pause|resume|export
                        the shared memory: who wrote what; --all for every workspace
  ask "QUESTION" [--file F]... [--selection F:L1-L2] [--workspace DIR] [--no-tools] [--yes] [--json]
                        ask a model with files and a selection as context: the route plan first, the
                        answer streamed (Ctrl-C stops it), proposed edits approved here; with no chat
                        model, what Hearth finds locally (docs/ask.md); --history [WORDS] lists past asks
  history list|search WORDS|show ID|delete ID|delete --all
                        past asks, kept on this machine only
  mcp --stdio           an MCP server exposing Hearth's tools to external agents
  doctor                check permissions, store integrity and versions, and say how to fix problems
  demo                  start Hearth and show it working (what \`npm start\` runs)
  version               print the version

Commands that need the daemon start it when none runs, except status (it reports that none runs) and
stop; export reads the store directly when no daemon runs, and import needs it stopped.

environment: HEARTH_HOME (state, default ~/.local/share/hearth), XDG_RUNTIME_DIR (socket directory),
  HEARTH_MAX_MESSAGE_BYTES (default 8388608), HEARTH_MAX_IN_FLIGHT (requests per connection, default 64),
  HEARTH_CLIENT_HISTORY (past connections kept in the store, default 1000)`;

class UsageError extends Error {}

/** Daemon limits from the environment (HEARTH_MAX_MESSAGE_BYTES, HEARTH_MAX_IN_FLIGHT, HEARTH_CLIENT_HISTORY). */
export function daemonOptionsFromEnv(env: NodeJS.ProcessEnv): DaemonOptions {
  const int = (name: string, min: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
  const opts: DaemonOptions = {};
  const maxMessageBytes = int('HEARTH_MAX_MESSAGE_BYTES', 1024);
  const maxInFlight = int('HEARTH_MAX_IN_FLIGHT', 1);
  const clientHistory = int('HEARTH_CLIENT_HISTORY', 1);
  if (clientHistory !== undefined) opts.clientHistory = clientHistory;
  if (maxMessageBytes !== undefined) opts.limits = { maxMessageBytes };
  if (maxInFlight !== undefined) opts.maxInFlight = maxInFlight;
  const helloTimeoutMs = int('HEARTH_HELLO_TIMEOUT_MS', 100);
  const maxUnauthenticated = int('HEARTH_MAX_UNAUTHENTICATED', 1);
  const maxDocuments = int('HEARTH_MAX_DOCUMENTS', 1);
  const maxDocumentBytes = int('HEARTH_MAX_DOCUMENT_BYTES', 1024);
  if (helloTimeoutMs !== undefined) opts.helloTimeoutMs = helloTimeoutMs;
  if (maxUnauthenticated !== undefined) opts.maxUnauthenticated = maxUnauthenticated;
  if (maxDocuments !== undefined || maxDocumentBytes !== undefined) {
    opts.documentLimits = { ...(maxDocuments !== undefined ? { maxDocuments } : {}), ...(maxDocumentBytes !== undefined ? { maxBytes: maxDocumentBytes } : {}) };
  }
  return opts;
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}

/** Every command that needs the daemon starts it when none runs; only `status` and `stop` do not. */
async function withClient<T>(fn: (c: HearthClient) => Promise<T>, autostart = true): Promise<T> {
  const c = await connectClient({ name: 'hearth-cli', version: VERSION, kind: 'cli' }, { autostart });
  try {
    return await fn(c);
  } catch (err) {
    if (/connection got disposed|connection is closed|Connection is disposed/i.test((err as Error).message)) {
      throw new Error(`the daemon closed the connection before answering (it may have crashed or been stopped); see ${resolvePaths().logs}/daemon.log`);
    }
    throw err;
  } finally {
    c.close();
  }
}

function formatStatus(s: Result<typeof Status>): string {
  const lines = [
    `hearth daemon ${s.version} (pid ${s.pid}), up ${Math.round(s.uptimeMs / 1000)} s`,
    `  protocol ${s.protocol.min}..${s.protocol.max}, store schema ${s.store.schemaVersion}`,
    `  home   ${s.home}`,
    `  socket ${s.socket}`,
    `  clients: ${s.clients.length}`,
  ];
  for (const c of s.clients) {
    const count = c.documentCount ?? c.documents.length;
    lines.push(`    ${c.name} ${c.version} (${c.kind}) since ${c.connectedAt}, ${count} open document(s)`);
    for (const d of c.documents) lines.push(`      ${d.uri} v${d.version} ${d.bytes} B`);
    if (count > c.documents.length) lines.push(`      … and ${count - c.documents.length} more (\`hearth status --all\`)`);
  }
  return lines.join('\n');
}

async function daemonRunning(): Promise<boolean> {
  try {
    (await connectSocket(resolvePaths().socket, 500)).destroy();
    return true;
  } catch {
    return false;
  }
}

/** The USAGE entry of one command (its line and the indented lines under it), for `hearth CMD --help`. */
export function commandHelp(command: string): string | undefined {
  const lines = USAGE.split('\n');
  const out: string[] = [];
  // Every entry of the command (`egress log` and `egress verify` are two), each with its indented lines.
  lines.forEach((l, start) => {
    if (!(l.startsWith(`  ${command} `) || l === `  ${command}`)) return;
    let end = start + 1;
    while (end < lines.length && /^ {4,}\S/.test(lines[end]!)) end++;
    out.push(`usage: hearth ${l.trim()}`, ...lines.slice(start + 1, end).map((x) => `  ${x.trim()}`));
  });
  return out.length ? out.join('\n') : undefined;
}

/** `hearth daemon`: runs the daemon in this process until SIGTERM or SIGINT. */
async function daemonCommand(): Promise<number> {
  const daemon = new Daemon(daemonOptionsFromEnv(process.env));
  try {
    await daemon.start(FEATURES);
  } catch (err) {
    if (err instanceof DaemonStartError) {
      process.stderr.write(`hearth daemon: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  const stop = (sig: string) => void daemon.stop(sig).then(() => process.exit(0));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => undefined);
}

async function startCommand(): Promise<number> {
  const paths = resolvePaths();
  if (!(await daemonRunning())) await startDaemon(paths);
  const s = await withClient((c) => c.connection.sendRequest(Status.method) as Promise<Result<typeof Status>>);
  out(`hearth daemon running (pid ${s.pid}) on ${s.socket}`);
  return 0;
}

async function stopCommand(): Promise<number> {
  if (!(await daemonRunning())) {
    out('no daemon is running');
    return 0;
  }
  await withClient((c) => c.connection.sendRequest(Shutdown.method), false);
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && (await daemonRunning())) await new Promise((r) => setTimeout(r, 50));
  out('hearth daemon stopped');
  return 0;
}

async function statusCommand(rest: string[]): Promise<number> {
  const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, all: { type: 'boolean' } } });
  const s = await withClient((c) => c.connection.sendRequest(Status.method, values.all ? { documents: 'all' } : {}) as Promise<Result<typeof Status>>, false);
  out(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  return 0;
}

/** `hearth lsp --stdio`: the bridge an editor starts; it runs until the editor goes. */
function lspCommand(rest: string[]): Promise<number> {
  const { values } = parseArgs({ args: rest, options: { stdio: { type: 'boolean' } } });
  if (!values.stdio) throw new UsageError('hearth lsp needs --stdio (the only transport editors use)');
  new Bridge();
  return new Promise<number>(() => undefined);
}

/** `hearth export FILE`: through the daemon when it runs, else straight from the store. */
async function exportCommand(rest: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: rest, allowPositionals: true });
  const file = positionals[0];
  if (!file) throw new UsageError('hearth export FILE');
  const target = path.resolve(file);
  if (await daemonRunning()) {
    const r = await withClient((c) => c.connection.sendRequest(ExportState.method, { path: target }) as Promise<Result<typeof ExportState>>);
    out(`exported ${r.tables} tables (${r.rows} rows, ${r.bytes} bytes) to ${target}`);
    return 0;
  }
  const paths = resolvePaths();
  const store = await Store.open(paths.store);
  try {
    // The export carries this home's signed checkpoint (core/anchor), checked on import.
    const reading = readAnchor(paths.home, readDeviceKey(paths.home));
    const r = writeExportFile(target, { ...store.exportState(), ...(reading.state === 'ok' ? { anchor: reading.checkpoint } : {}) });
    out(`exported ${r.tables} tables (${r.rows} rows, ${r.bytes} bytes) to ${target}`);
  } finally {
    await store.close();
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command && (rest.includes('--help') || rest.includes('-h'))) {
    const help = commandHelp(command);
    if (!help) throw new UsageError(`unknown command "${command}"`);
    out(help);
    return 0;
  }
  switch (command) {
    case 'daemon':
      return daemonCommand();
    case 'start':
      return startCommand();
    case 'stop':
      return stopCommand();
    case 'status':
      return statusCommand(rest);
    case 'lsp':
      return lspCommand(rest);
    case 'export':
      return exportCommand(rest);
    case 'import':
      return importCommand(rest, out, daemonRunning);
    case 'anchor':
      return anchorCommand(rest, out, daemonRunning);
    case 'doctor':
      return runDoctor(out);
    case 'models':
      return modelsCommand(rest, out, withClient, daemonRunning);
    case 'route':
      return routeCommand(rest, out, withClient);
    case 'egress':
      return egressCommand(rest, out, withClient);
    case 'policy':
      return policyCommand(rest, out);
    case 'secrets':
      return secretsCommand(rest, out);
    case 'store':
      return storeCommand(rest, out, daemonRunning);
    case 'grants':
      return grantsCommand(rest, out, withClient);
    case 'audit':
      return auditCommand(rest, out, withClient);
    case 'approve':
      return approveCommand(rest, out, withClient);
    case 'tool':
      return toolCommand(rest, out, withClient);
    case 'mcp':
      return mcpCommand(rest);
    case 'memory':
      return memoryCommand(rest, out, withClient);
    case 'ask':
      return askCommand(rest, out, withClient);
    case 'history':
      return historyCommand(rest, out, withClient);
    case 'demo':
      return runDemo(out);
    case 'version':
    case '--version':
      out(VERSION);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// `hearth egress log | head`: the reader went away; that is the end of the output, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`hearth: ${err.message}\n\n${USAGE}\n`);
      process.exit(64);
    }
    if (err instanceof CommandError) {
      process.stderr.write(`hearth: ${err.message}\n`);
      process.exit(64);
    }
    const msg = err instanceof SecurityError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`hearth: ${msg}\n`);
    process.exit(err instanceof SecurityError ? 2 : 1);
  },
);
