// CLI commands for tool actions (issue 6): grants, audit, approvals, direct tool runs, undo, and
// `hearth mcp --stdio`, an MCP server whose every call goes through the daemon's permission,
// approval, sandbox and audit path.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ProgressType, ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { connectClient, type HearthClient } from './client.js';
import {
  ApprovalsAnswer, ApprovalsPending, AuditExport, AuditShow, AuditVerify, GrantsList, GrantsRevoke,
  Lsp, ToolApprove, ToolList, ToolRun, ToolUndo, type Params, type Result,
} from './protocol.js';
import { CommandError } from './commands.js';
import { formatVerify } from './commands-anchor.js';
import type { VerifyResult } from '../core/anchor/index.js';
import type { ApprovalDisplay } from '../core/text/display.js';
import { VERSION } from './version.js';

type Out = (s: string) => void;
type WithClient = <T>(fn: (c: HearthClient) => Promise<T>, autostart?: boolean) => Promise<T>;

function printResult(r: Result<typeof ToolRun>, out: Out): number {
  out(`${r.status} (${r.tool}, action ${r.actionId}, audit record ${r.auditSeq}${r.exitCode !== null ? `, exit ${r.exitCode}` : ''})`);
  if (r.error) out(`  ${r.error}`);
  if (r.output !== null && r.output !== undefined) out(typeof r.output === 'string' ? r.output : JSON.stringify(r.output, null, 2));
  return r.status === 'ok' ? 0 : 1;
}

export async function grantsCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub = 'list', ...rest] = args;
  if (sub === 'list') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, all: { type: 'boolean' } } });
    const r = await withClient((c) => c.connection.sendRequest(GrantsList.method, { includeExpired: values.all ?? false }) as Promise<Result<typeof GrantsList>>);
    if (values.json) out(JSON.stringify(r.grants, null, 2));
    else if (!r.grants.length) out('no grants: every ask-rule prompts (tool actions and data leaving the machine)');
    else {
      for (const g of r.grants as Array<Record<string, unknown>>) {
        if (g.kind === 'egress') {
          // Egress grants: which provider may receive which feature's data, for which workspace.
          const until = g.expiresAt ? `  until ${String(g.expiresAt)}` : g.grant === 'always' ? '' : '  until the daemon stops';
          out(`${String(g.id)}  egress ${String(g.grant)}  ${String(g.feature)} -> ${String(g.provider)}  workspace ${String(g.workspace ?? '-')}  by ${String(g.client ?? '-')} at ${String(g.grantedAt)}${until}`);
        } else out(`${String(g.id)}  ${String(g.scope)}  ${String(g.tool)}  ${String(g.subject)}  until ${String(g.expiresAt ?? '-')}${g.expired ? ' (expired)' : ''}`);
      }
    }
    return 0;
  }
  if (sub === 'revoke') {
    const id = rest[0];
    if (!id) throw new CommandError('hearth grants revoke ID');
    const r = await withClient((c) => c.connection.sendRequest(GrantsRevoke.method, { id }) as Promise<Result<typeof GrantsRevoke>>);
    if (!r.revoked) throw new CommandError(`no grant ${id} (see \`hearth grants list\`)`);
    out(`revoked ${id}`);
    return 0;
  }
  throw new CommandError('hearth grants [list [--json] [--all] | revoke ID]');
}

export async function auditCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, limit: { type: 'string' } } });
  switch (sub) {
    case 'show': {
      const params = positionals[0] ? { actionId: positionals[0] } : { limit: Number(values.limit ?? 1000) };
      const r = await withClient((c) => c.connection.sendRequest(AuditShow.method, params) as Promise<Result<typeof AuditShow>>);
      if (values.json) {
        out(JSON.stringify(r.records, null, 2));
        return 0;
      }
      if (!r.records.length) out('the audit log is empty');
      for (const x of r.records as Array<Record<string, any>>) {
        out(`#${x.seq} ${x.time} ${x.tool} ${x.decision?.outcome ?? '?'} (${x.decision?.by ?? '?'}${x.decision?.grant ? ': ' + x.decision.grant : ''}${x.decision?.approval?.note ? ' — ' + x.decision.approval.note : ''}${x.decision?.approval?.via && x.decision.approval.via !== 'prompt' ? ' via ' + x.decision.approval.via : ''}) requested by ${x.interface?.name ?? '?'} (${x.interface?.kind ?? '?'}), proposed by ${x.proposer?.model ?? '?'}@${x.proposer?.provider ?? '?'}, exit ${x.exitCode ?? '-'}${x.filesChanged?.length ? `, changed ${x.filesChanged.map((f: { path: string }) => f.path).join(', ')}` : ''}  action ${x.actionId}`);
      }
      return 0;
    }
    case 'verify': {
      const r = await withClient((c) => c.connection.sendRequest(AuditVerify.method) as Promise<Result<typeof AuditVerify>>);
      const f = formatVerify('audit', r as unknown as VerifyResult); // the chain and the signed checkpoint outside the store
      for (const line of f.lines) out(line);
      return f.code;
    }
    case 'export': {
      const r = await withClient((c) => c.connection.sendRequest(AuditExport.method) as Promise<Result<typeof AuditExport>>);
      if (positionals[0]) {
        fs.writeFileSync(path.resolve(positionals[0]), r.jsonl, { mode: 0o600 });
        out(`wrote ${r.jsonl.split('\n').filter(Boolean).length} record(s) to ${positionals[0]}`);
      } else out(r.jsonl.trimEnd());
      return 0;
    }
    default:
      throw new CommandError('hearth audit show [ACTION] [--json] | verify | export [FILE]');
  }
}

/** What a person needs to decide on an approval: tool, who asked, which model proposed it, what it does, why. */
export function describeApproval(r: Record<string, any>, out: Out): void {
  // The daemon's display form (core/text/display.ts): bidi controls, invisible characters and
  // look-alikes arrive escaped as \u{XXXX} with a warning each; this prints it, never the raw fields.
  const d = r.display as ApprovalDisplay | undefined;
  if (!d) {
    out(`\n  (this daemon sends no display form: the fields below are raw; update the daemon with \`hearth stop\` and run the command again)`);
    out(`${asciiJson(r.tool)} requested by ${asciiJson(r.requester?.name)}`);
    out(`  args: ${asciiJson(r.args)}`);
    out(`  why asked: ${asciiJson(r.reason)}`);
    return;
  }
  const loud = (s: string): string => (process.stdout.isTTY ? `\x1b[1;31m${s}\x1b[0m` : s);
  if (d.lines) {
    // The daemon's one text rendering of the prompt (core/text/display.ts approvalLines).
    const warned = d.warned ?? 0;
    out('');
    d.lines.forEach((l, i) => out(i >= 1 && i <= warned ? loud(l) : l));
    // Again right before the question, where the eye is when answering (the top may have scrolled away).
    if (warned) for (const l of d.lines.slice(1, warned + 1)) out(loud(l));
    return;
  }
  const quoted = (a: string): string => `"${a.replace(/"/g, '\\"')}"`;
  out(`\n${d.tool} requested by ${d.requester.name} (${d.requester.kind}), proposed by ${d.proposer.model}@${d.proposer.provider}`);
  if (d.argv) out(`  argv: [${d.argv.map(quoted).join(',')}] in ${d.cwd ?? ''}`);
  if (d.path !== undefined && !d.diff) out(`  path: ${d.path}`);
  if (d.diff) out(d.diff.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n'));
  if (d.url !== undefined) out(`  url: ${d.url}`);
  if (d.text !== undefined) out(d.text.split('\n').map((l) => `  text | ${l}`).join('\n'));
  if (!d.argv && !d.diff && d.args !== undefined && d.text === undefined && d.path === undefined && d.url === undefined) out(d.args.split('\n').map((l) => `  ${l}`).join('\n'));
  if (d.rationale) out(d.rationale.split('\n').map((l) => `  rationale | ${l}`).join('\n'));
  out(`  why asked: ${d.reason}`);
  if (d.warnings.length) {
    out(loud(`  !! WARNING: ${d.warnings.length} thing${d.warnings.length === 1 ? '' : 's'} in this request can disguise what it does; Hearth shows such characters escaped as \\u{XXXX}:`));
    for (const w of d.warnings) out(loud(`  !!   ${w.message}`));
  }
}

/** hearth/tool/approve on this terminal (`hearth tool run`, `hearth ask`), until a listed choice is typed or the approval is settled elsewhere. */
export async function approveOnTerminal(req: Params<typeof ToolApprove>, token: CancellationToken, rl: readline.Interface, err: Out): Promise<Result<typeof ToolApprove>> {
  describeApproval(req as unknown as Record<string, unknown>, err);
  const ask = new AbortController();
  const sub = token.onCancellationRequested(() => ask.abort());
  try {
    for (;;) {
      const a = (await rl.question(`  ${req.choices.join(' / ')}? `, { signal: ask.signal })).trim();
      if ((req.choices as string[]).includes(a)) return { choice: a as Result<typeof ToolApprove>['choice'] };
    }
  } catch (e) {
    if (ask.signal.aborted) err('\n  answered elsewhere');
    throw e;
  } finally {
    sub.dispose();
  }
}

/** JSON with every non-ASCII character as a \\uXXXX escape: the same data, and nothing a terminal would reorder or hide. */
function asciiJson(v: unknown, indent?: number): string {
  return (JSON.stringify(v, null, indent) ?? 'null').replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Lists pending approvals and answers them at the terminal (or all at once with --answer). */
export async function approveCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const { values } = parseArgs({ args, options: { answer: { type: 'string' }, json: { type: 'boolean' } } });
  const choices = ['once', 'session', 'always', 'deny'] as const;
  if (values.answer && !choices.includes(values.answer as (typeof choices)[number])) throw new CommandError('--answer takes once, session, always or deny');
  return withClient(async (c) => {
    const { pending } = await c.connection.sendRequest(ApprovalsPending.method) as Result<typeof ApprovalsPending>;
    if (values.json) {
      out(asciiJson(pending, 2));
      return 0;
    }
    if (!pending.length) {
      out('no approvals are waiting');
      return 0;
    }
    const rl = values.answer ? undefined : readline.createInterface({ input: process.stdin, output: process.stdout });
    try {
      for (const p of pending as Array<{ actionId: string; request: Record<string, any> }>) {
        describeApproval(p.request, out);
        let choice = values.answer;
        while (!choice || !choices.includes(choice as (typeof choices)[number])) choice = (await rl!.question('  once / session / always / deny? ')).trim();
        try {
          const a = await c.connection.sendRequest(ApprovalsAnswer.method, { actionId: p.actionId, choice }) as Result<typeof ApprovalsAnswer>;
          out(a.answered ? `  answered: ${choice}` : '  already answered elsewhere');
        } catch (err) {
          // Withdrawn while it was shown here (its requester disconnected or cancelled): nothing runs.
          if (!(err instanceof ResponseError)) throw err;
          out(`  not answered: ${err.message}`);
        }
      }
    } finally {
      rl?.close();
    }
    return 0;
  });
}

export async function toolCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const r = await withClient((c) => c.connection.sendRequest(ToolList.method) as Promise<Result<typeof ToolList>>);
    for (const t of r.tools) out(`${t.name.padEnd(14)} ${t.description}`);
    return 0;
  }
  if (sub === 'run') {
    const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { workspace: { type: 'string' } } });
    const [tool, json] = positionals;
    if (!tool || !json) throw new CommandError(`hearth tool run TOOL 'JSON-ARGS' [--workspace DIR]   e.g. hearth tool run shell.run '{"argv":["git","status"]}'`);
    let argsValue: unknown;
    try {
      argsValue = JSON.parse(json);
    } catch (err) {
      throw new CommandError(`the arguments are not JSON: ${(err as Error).message}`);
    }
    const params = { tool, args: argsValue, workspaceRoot: path.resolve(values.workspace ?? process.cwd()) };
    if (!process.stdin.isTTY) {
      // No terminal to ask on: an approval goes to the attached editors or `hearth approve`. While
      // one waits, the daemon's progress messages say so on stderr (and how to answer it).
      const r = await withClient((c) => {
        const workDoneToken = `hearth-cli-tool-${process.pid}`;
        c.connection.onProgress(new ProgressType<Params<typeof Lsp.progress>['value']>(), workDoneToken, (v) => {
          if (v.kind !== 'end' && v.message) process.stderr.write(`hearth: ${v.message}\n`);
        });
        return c.connection.sendRequest(ToolRun.method, { ...params, workDoneToken }) as Promise<Result<typeof ToolRun>>;
      }, true);
      return printResult(r, out);
    }
    // On a terminal this command can answer its own approval (hello capability `approvals`): the
    // daemon asks it first, and an editor or `hearth approve` may still answer instead.
    const c = await connectClient({ name: 'hearth-cli', version: VERSION, kind: 'cli' }, { autostart: true, capabilities: { approvals: true } });
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    try {
      c.connection.onRequest(ToolApprove.method, (req: Params<typeof ToolApprove>, token: CancellationToken) => approveOnTerminal(req, token, rl, out));
      const r = await c.connection.sendRequest(ToolRun.method, params) as Result<typeof ToolRun>;
      return printResult(r, out);
    } finally {
      rl.close();
      c.close();
    }
  }
  if (sub === 'undo') {
    const actionId = rest[0];
    if (!actionId) throw new CommandError('hearth tool undo ACTION-ID');
    const r = await withClient((c) => c.connection.sendRequest(ToolUndo.method, { actionId }) as Promise<Result<typeof ToolUndo>>);
    return printResult(r, out);
  }
  throw new CommandError("hearth tool list | run TOOL 'JSON-ARGS' | undo ACTION-ID");
}

/** `hearth mcp --stdio`: MCP tools backed by the daemon (starts it when needed); server/mcp.ts runMcpOverDaemon. */
export async function mcpCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { stdio: { type: 'boolean' }, workspace: { type: 'string' } } });
  if (!values.stdio) throw new CommandError('hearth mcp needs --stdio');
  // Start the daemon (or fail with why) before serving MCP; the connection that carries the calls
  // is opened once the MCP client has said whether it can elicit.
  (await connectClient({ name: 'hearth-mcp', version: VERSION, kind: 'mcp' }, { autostart: true })).close();
  // Loaded here: the MCP SDK builds its schemas when loaded, which every other command would pay for.
  const { runMcpOverDaemon } = await import('./mcp.js');
  await runMcpOverDaemon({ workspaceRoot: path.resolve(values.workspace ?? process.cwd()) });
  return 0;
}
