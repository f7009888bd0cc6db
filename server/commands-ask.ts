// `hearth ask` and `hearth history` (issue 13): ask a question or give an instruction from the
// terminal, with files and a selection as context. The route plan is printed before anything
// leaves; where policy says ask, the payload is shown and confirmed here; the answer streams to
// stdout; Ctrl-C stops it ($/cancelRequest). Tool actions the model proposes are approved on this
// terminal (as `hearth tool run` does) or, without one, in an attached editor or `hearth approve`.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import { CancellationTokenSource, type CancellationToken } from 'vscode-jsonrpc';
import { connectClient, type HearthClient } from './client.js';
import { Ask, AskProgress, EgressConfirm, HistoryDelete, HistoryList, HistorySearch, ToolApprove, type Params, type Result } from './protocol.js';
import { CommandError } from './commands.js';
import { approveOnTerminal } from './commands-tools.js';
import { VERSION } from './version.js';

type Out = (s: string) => void;
type WithClient = <T>(fn: (c: HearthClient) => Promise<T>, autostart?: boolean) => Promise<T>;
type Plan = NonNullable<Params<typeof AskProgress>['plan']>;
type Entry = Result<typeof HistoryList>['entries'][number] & { toolCalls?: Array<{ actionId: string; tool: string; status: string }> };

const ASK_USAGE = 'hearth ask "QUESTION" [--file F]... [--selection F:L1-L2] [--workspace DIR] [--no-tools] [--yes] [--json] | --history [QUERY]';

/** The route plan as people read it: where it runs, who decided, and every piece of data with its bytes. */
export function formatAskPlan(plan: Plan): string[] {
  const lines: string[] = [];
  if (plan.route) {
    const r = plan.route;
    lines.push(`route: ${r.location} · ${r.provider} (model ${r.model}), ${plan.decision} by ${plan.rule}`);
    lines.push(`  reason: ${plan.reason === 'local' ? 'a local model can do it; nothing leaves this machine' : plan.reason}`);
    if (r.fallback) lines.push(`  fell back: ${r.fallback}`);
  } else {
    lines.push(`route: local · no chat model (${plan.reason}); Hearth answers from what it finds on this machine, nothing is sent`);
  }
  lines.push('  data:');
  for (const p of plan.pieces as Array<{ source: { kind: string; uri?: string; role?: string; client?: string }; bytes: number; sentBytes?: number; dataClass: string }>) {
    const sent = p.sentBytes !== undefined && p.sentBytes !== p.bytes ? `, ${p.sentBytes} B after redaction` : '';
    lines.push(`    ${String(p.bytes).padStart(6)} B  ${p.dataClass.padEnd(6)} ${(p.source.role ?? p.source.kind).padEnd(12)} ${p.source.uri ?? ''}${sent}`);
  }
  return lines;
}

/** `F:L1-L2` (1-based, inclusive) → the file, its range and the text of those lines. */
function parseSelection(spec: string): { file: string; start: number; end: number } {
  const m = /^(.*):(\d+)(?:-(\d+))?$/.exec(spec);
  if (!m) throw new CommandError(`--selection takes FILE:LINE or FILE:FIRST-LAST (lines from 1), got "${spec}"`);
  const start = Number(m[2]);
  const end = m[3] ? Number(m[3]) : start;
  if (start < 1 || end < start) throw new CommandError(`--selection ${spec}: lines count from 1 and the last is not before the first`);
  return { file: path.resolve(m[1]!), start, end };
}

function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}; nothing was asked`);
  }
}

function printEntry(e: Entry, out: Out, full: boolean): void {
  const where = e.provider ? `${e.location} · ${e.provider}` : 'local (no model)';
  const tools = e.toolCalls?.length ? `, ${e.toolCalls.map((t) => `${t.tool} ${t.status}`).join(', ')}` : '';
  out(`${e.id}  ${e.time}  ${e.client}  ${e.status}  ${where}${tools}`);
  const first = (s: string): string => s.replace(/\s+/g, ' ').trim().slice(0, 120);
  if (full) {
    out(`  Q: ${e.prompt.split('\n').join('\n     ')}`);
    out(`  A: ${e.answer.split('\n').join('\n     ')}`);
  } else {
    out(`  Q: ${first(e.prompt)}`);
    out(`  A: ${first(e.answer)}`);
  }
}

/** `hearth history list|search|show|delete`: the asks kept on this machine (nothing syncs them). */
export async function historyCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub = 'list', ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, limit: { type: 'string' }, all: { type: 'boolean' } } });
  const limit = values.limit ? Number(values.limit) : 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new CommandError('--limit takes a whole number from 1 to 1000');
  const show = (entries: Entry[], none: string): number => {
    if (values.json) out(JSON.stringify(entries, null, 2));
    else if (!entries.length) out(none);
    else for (const e of entries) printEntry(e, out, false);
    return 0;
  };
  switch (sub) {
    case 'list': {
      const r = await withClient((c) => c.connection.sendRequest(HistoryList.method, { limit }) as Promise<Result<typeof HistoryList>>);
      return show(r.entries as Entry[], 'no asks in the history (`hearth ask "QUESTION"` adds one)');
    }
    case 'search': {
      const query = positionals.join(' ').trim();
      if (!query) throw new CommandError('hearth history search WORDS');
      const r = await withClient((c) => c.connection.sendRequest(HistorySearch.method, { query, limit }) as Promise<Result<typeof HistorySearch>>);
      return show(r.entries as Entry[], `no ask in the history mentions ${query}`);
    }
    case 'show': {
      const id = positionals[0];
      if (!id) throw new CommandError('hearth history show ID');
      const r = await withClient((c) => c.connection.sendRequest(HistoryList.method, { limit: 1000 }) as Promise<Result<typeof HistoryList>>);
      const e = (r.entries as Entry[]).find((x) => x.id === id);
      if (!e) throw new CommandError(`no ask ${id} in the history (\`hearth history list\` shows the ids)`);
      if (values.json) out(JSON.stringify(e, null, 2));
      else printEntry(e, out, true);
      return 0;
    }
    case 'delete': {
      const id = positionals[0];
      if (!id && !values.all) throw new CommandError('hearth history delete ID | delete --all');
      const r = await withClient((c) => c.connection.sendRequest(HistoryDelete.method, values.all ? { all: true } : { id }) as Promise<Result<typeof HistoryDelete>>);
      if (!values.all && r.deleted === 0) throw new CommandError(`no ask ${id} in the history; nothing was deleted (\`hearth history list\` shows the ids)`);
      out(`deleted ${r.deleted} ask${r.deleted === 1 ? '' : 's'} from the history`);
      return 0;
    }
    default:
      throw new CommandError('hearth history list [--json] [--limit N] | search WORDS | show ID | delete ID | delete --all');
  }
}

/** The files and the selection to send with the ask, read here (the daemon may not see this directory). */
function askContext(file: string[] | undefined, selectionSpec: string | undefined): Pick<Params<typeof Ask>, 'files' | 'selection'> {
  const files = (file ?? []).map((f) => {
    const abs = path.resolve(f);
    return { uri: pathToFileURL(abs).href, text: readFile(abs) };
  });
  let selection: Params<typeof Ask>['selection'];
  if (selectionSpec) {
    const sel = parseSelection(selectionSpec);
    const lines = readFile(sel.file).split('\n');
    if (sel.end > lines.length) throw new CommandError(`--selection ${selectionSpec}: ${sel.file} has ${lines.length} lines; nothing was asked`);
    selection = {
      uri: pathToFileURL(sel.file).href,
      text: lines.slice(sel.start - 1, sel.end).join('\n'),
      range: { start: { line: sel.start - 1, character: 0 }, end: { line: sel.end - 1, character: lines[sel.end - 1]!.length } },
    };
  }
  return { ...(files.length ? { files } : {}), ...(selection ? { selection } : {}) };
}

/** hearth/egress/confirm on this terminal: the daemon's display form, then once / session / always / deny. */
async function confirmEgress(q: Params<typeof EgressConfirm>, yes: boolean, rl: readline.Interface | undefined, err: Out): Promise<Result<typeof EgressConfirm>> {
  // The daemon's display form (escaped, with warnings), never the raw fields.
  const d = q.display;
  err(d
    ? `policy asks before this leaves the machine: ${d.feature} to ${d.provider} (${d.host}), rule ${d.rule ?? '-'}\n  ${d.reason}\n${d.warnings.map((w) => `  !! WARNING: ${w.message}\n`).join('')}  payload (${q.bytes} B):\n${d.payload.split('\n').map((l) => `  | ${l}`).join('\n')}`
    : `policy asks before ${q.bytes} B leave the machine for ${q.provider}; this daemon sends no display form, so the payload is not shown: declined`);
  if (!d) return { decision: 'deny' };
  if (yes) {
    err('  answered once (--yes)');
    return { decision: 'once' };
  }
  if (!rl) {
    err('  no terminal to ask on: declined (pass --yes to send it once)');
    return { decision: 'deny' };
  }
  const a = (await rl.question('  send it: [o]nce, for this [s]ession, [a]lways, or [d]eny? ')).trim().toLowerCase();
  return { decision: a.startsWith('a') ? 'always' : a.startsWith('s') ? 'session' : a.startsWith('o') || a.startsWith('y') ? 'once' : 'deny' };
}

/** The answer's end: the text if it did not stream, each tool call's outcome, and where a cancelled answer is kept. */
function printAskResult(r: Result<typeof Ask>, streamed: boolean, err: Out): void {
  if (!streamed && r.text) process.stdout.write(r.text);
  process.stdout.write('\n');
  for (const t of r.toolCalls as Array<{ tool: string; status: string; actionId: string; error: string | null; output?: unknown }>) {
    const changed = (t.output as { path?: string } | null)?.path;
    err(`${t.tool} ${t.status}${changed ? ` (${changed})` : ''}${t.error ? `: ${t.error}` : ''}  action ${t.actionId}${t.status === 'ok' && t.tool === 'fs.edit' ? ` (undo: hearth tool undo ${t.actionId})` : ''}`);
  }
  if (r.cancelled) err(`cancelled; what arrived is kept in the history as ${r.historyId} (\`hearth history show ${r.historyId}\`)`);
}

export async function askCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      file: { type: 'string', multiple: true }, selection: { type: 'string' }, workspace: { type: 'string' },
      'no-tools': { type: 'boolean' }, yes: { type: 'boolean' }, json: { type: 'boolean' }, history: { type: 'boolean' },
    },
  });
  if (values.history) return positionals.length ? historyCommand(['search', ...positionals], out, withClient) : historyCommand(['list'], out, withClient);
  const prompt = positionals.join(' ').trim();
  if (!prompt) throw new CommandError(ASK_USAGE);
  const workspaceRoot = path.resolve(values.workspace ?? process.cwd());
  const context = askContext(values.file, values.selection);
  const askId = `cli-${process.pid}-${randomUUID().slice(0, 8)}`;
  const tty = process.stdin.isTTY === true;
  // On a terminal this command answers its own approvals (hello capability `approvals`).
  const c = await connectClient({ name: 'hearth-cli', version: VERSION, kind: 'cli' }, { autostart: true, ...(tty ? { capabilities: { approvals: true } } : {}) });
  const rl = tty ? readline.createInterface({ input: process.stdin, output: process.stderr }) : undefined;
  const err = (s: string): void => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
  const cts = new CancellationTokenSource();
  let streamed = false;
  const onInt = (): void => {
    err('\nhearth: cancelling the answer (nothing more is read from the model; proposed actions are not run)');
    cts.cancel();
  };
  process.on('SIGINT', onInt);
  rl?.on('SIGINT', onInt); // a terminal in raw mode (readline) gives Ctrl-C to readline, not as a signal
  try {
    c.connection.onNotification(AskProgress.method, (p: Params<typeof AskProgress>) => {
      if (p.askId !== askId || values.json) return;
      if (p.kind === 'plan' && p.plan) {
        for (const l of formatAskPlan(p.plan)) err(l);
        err('');
      } else if (p.kind === 'text' && p.text) {
        streamed = true;
        process.stdout.write(p.text);
      } else if (p.kind === 'tool' && p.tool) {
        err(`\n\nproposed: ${p.tool.tool}${tty ? '' : ' (waiting for approval in an attached editor, or run `hearth approve`)'}`);
      }
    });
    c.connection.onRequest(EgressConfirm.method, (q: Params<typeof EgressConfirm>) => confirmEgress(q, values.yes === true, rl, err));
    if (rl) c.connection.onRequest(ToolApprove.method, (req: Params<typeof ToolApprove>, token: CancellationToken) => approveOnTerminal(req, token, rl, err));
    const params: Params<typeof Ask> = { askId, prompt, workspaceRoot, ...context, ...(values['no-tools'] ? { tools: false } : {}) };
    const r = await c.connection.sendRequest(Ask.method, params, cts.token) as Result<typeof Ask>;
    if (values.json) out(JSON.stringify(r, null, 2));
    else printAskResult(r, streamed, err);
    return r.cancelled ? 130 : 0;
  } finally {
    process.off('SIGINT', onInt);
    cts.dispose();
    rl?.close();
    c.close();
  }
}
