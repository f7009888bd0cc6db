// `hearth demo` (what `npm start` runs): starts the daemon on the embedded default, attaches an LSP
// client through the same bridge editors use, asks for a ghost-text completion, and prints what
// happened and where it ran. No model download, no account.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { cliCommand, connectClient, startDaemon, connectSocket } from './client.js';
import { resolvePaths } from './paths.js';
import { Lsp, RouteCurrent, RouteExplain, Status, type Result } from './protocol.js';
import { VERSION } from './version.js';

const SAMPLE = `export function add(a: number, b: number): number {
  return a + b;
}

export function sub(a: number, b: number): number {
  return a - b;
}

export function mul(a: number, b: number): number {
  return a * b;
}

export function div(a`;

export async function runDemo(out: (s: string) => void): Promise<number> {
  const paths = resolvePaths();
  let running = true;
  try {
    (await connectSocket(paths.socket, 500)).destroy();
  } catch {
    running = false;
  }
  if (!running) {
    out(`starting the hearth daemon (home ${paths.home}) ...`);
    await startDaemon(paths);
  }
  out(`daemon up on ${paths.socket}`);

  const [cmd, ...args] = cliCommand();
  const child = spawn(cmd!, [...args, 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  let route: unknown;
  conn.onNotification(RouteCurrent.method, (r) => (route = r));
  conn.listen();
  const uri = pathToFileURL(path.join(process.cwd(), 'demo', 'math.ts')).href;
  await conn.sendRequest(Lsp.initialize.method, { processId: process.pid, clientInfo: { name: 'hearth-demo', version: VERSION }, rootUri: null, capabilities: {} });
  await conn.sendNotification(Lsp.initialized.method, {});
  await conn.sendNotification(Lsp.didOpen.method, { textDocument: { uri, languageId: 'typescript', version: 1, text: SAMPLE } });
  const lines = SAMPLE.split('\n');
  const position = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
  const result = await conn.sendRequest(Lsp.inlineCompletion.method, { textDocument: { uri }, position, context: { triggerKind: 1 } }) as Result<typeof Lsp.inlineCompletion>;
  const plan = await conn.sendRequest(RouteExplain.method, { textDocument: { uri }, position }) as Result<typeof RouteExplain>;

  out('\nan editor typed:   ' + lines[lines.length - 1]);
  out('ghost text:        ' + (result.items[0]?.insertText ?? '(none)'));
  out('route:             ' + JSON.stringify(route ?? plan.route));
  out('context pieces:');
  for (const p of plan.pieces) out(`  ${p.source.kind} ${p.source.uri ?? ''} (${p.source.client ?? ''}) ${p.bytes} B ${p.dataClass}`);

  const c = await connectClient({ name: 'hearth-demo-status', version: VERSION, kind: 'cli' });
  const s = await c.connection.sendRequest(Status.method) as Result<typeof Status>;
  c.close();
  out(`\nattached clients: ${s.clients.map((x) => `${x.name} (${x.kind}, ${x.documentCount ?? x.documents.length} docs)`).join(', ')}`);
  conn.dispose();
  child.kill();
  const bin = path.resolve(path.dirname(args[0] ?? ''), '..', 'bin', 'hearth');
  const onPath = fs.existsSync(bin) && whichIs('hearth', bin);
  const hearth = onPath || !fs.existsSync(bin) ? 'hearth' : bin;
  out(`\nHearth is running (pid ${s.pid}). Editors launch \`${hearth} lsp --stdio\` (see extensions/README.md);`);
  out(`see the state with \`${hearth} status\`, stop it with \`${hearth} stop\`.`);
  if (!onPath && fs.existsSync(bin)) {
    out(`\`hearth\` is not on your PATH: \`npm install -g --prefix ~/.local ${path.dirname(path.dirname(bin))}\` links it into ~/.local/bin (add that folder to PATH if your shell does not).`);
  }
  return 0;
}

/** Whether NAME on PATH is the file TARGET (after resolving links). */
function whichIs(name: string, target: string): boolean {
  const want = fs.realpathSync(target);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      const candidate = path.join(dir, name);
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.realpathSync(candidate) === want; // the first hit is the one a shell runs
    } catch { /* not in this folder */ }
  }
  return false;
}
