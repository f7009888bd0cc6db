// Approvals of MCP calls through the real daemon (issue 11, "Must show" 5): real MCP clients
// (@modelcontextprotocol/sdk Client over stdio) launch `bin/hearth mcp --stdio`; editors are real
// bridges (`hearth lsp --stdio`); `hearth approve` is the real CLI. Shown:
//   - an MCP client that disconnects with an approval pending: within 1 s the approval is gone from
//     hearth/approvals/pending (and `hearth approve`) and the attached editor receives the
//     $/cancelRequest of its hearth/tool/approve; answering the stale id is refused with a clear
//     error, a late "once" from the editor's panel runs nothing (the command's side-effect file never
//     appears) and the audit says "withdrawn: requester disconnected" (decision.by withdrawn), not a
//     user's denial. Before, the approval stayed listed and answering it ran the command;
//   - with nobody to approve, an MCP call is answered within 5 s with "needs approval: attach an
//     editor, run `hearth approve`, or add an allow rule", audited as decision.by nobody (before, it
//     got no answer for 10 minutes);
//   - with an editor attached the call waits, and the MCP client receives progress and log
//     notifications every 5 s: a client whose request timeout is 7 s (reset on progress) is still
//     waiting at 11 s, when the editor's "once" lets it run;
//   - an MCP client declaring `elicitation` gets elicitation/create (argv in the message; no
//     `always`): accept runs the tool, decline denies it; the audit says via elicitation.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, LoggingMessageNotificationSchema, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { ResponseError } from 'vscode-jsonrpc';
import { HEARTH_BIN, sleep } from '../helpers/daemon.js';
import { cliJson, makeHome, makeWorkspace, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, auditRecord, clientIdOf } from '../helpers/tools-harness.js';
import { ApprovalsAnswer, ApprovalsPending, HearthErrorCodes, McpMeta, type Result } from '../../server/protocol.js';
import type { HearthClient } from '../../server/client.js';

type TextResult = { isError?: boolean; content: { type: string; text: string }[]; _meta?: Record<string, unknown> };
const NEEDS_APPROVAL = 'needs approval: attach an editor, run `hearth approve`, or add an allow rule';

describe('MCP approvals: withdrawn with their requester, answered when nobody can approve, progress while waiting, elicitation', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let ws: string;
  let watcher: HearthClient;
  const clients: Client[] = [];

  before(async () => {
    h = makeHome('mcp-approvals');
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    execFileSync('git', ['init', '-q', ws]);
    // A long-lived connection reads hearth/approvals/pending (what `hearth approve` lists) without a process start per poll.
    watcher = await h.connect({ name: 'it-watcher', version: '1', kind: 'test' });
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await h?.dispose();
  });

  /** An MCP client (the SDK's) running `hearth mcp --stdio` in the test home. */
  async function mcpClient(name: string, opts: { elicit?: (message: string, schema: unknown) => ElicitResult } = {}): Promise<{ client: Client; transport: StdioClientTransport; logs: string[]; stderr: () => string }> {
    let stderr = '';
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [HEARTH_BIN, 'mcp', '--stdio', '--workspace', ws],
      env: Object.fromEntries(Object.entries(h.env).filter((e): e is [string, string] => e[1] !== undefined)),
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name, version: '1.0.0' }, { capabilities: opts.elicit ? { elicitation: {} } : {} });
    const logs: string[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    if (opts.elicit) {
      const elicit = opts.elicit;
      client.setRequestHandler(ElicitRequestSchema, (req) => elicit(req.params.message, (req.params as { requestedSchema?: unknown }).requestedSchema));
    }
    await client.connect(transport);
    clients.push(client);
    return { client, transport, logs, stderr: () => stderr };
  }

  const pending = async (): Promise<Array<{ actionId: string }>> =>
    ((await watcher.connection.sendRequest(ApprovalsPending.method)) as Result<typeof ApprovalsPending>).pending as Array<{ actionId: string }>;

  it('an MCP client that disconnects with an approval pending: withdrawn everywhere within 1 s; the stale id runs nothing', async () => {
    const ed = await attachToolEditor(h, 'vscode-watching', ws);
    try {
      ed.fallback = 'hang';
      const { client } = await mcpClient('agent-leaves');
      const marker = path.join(ws, 'stale-marker');
      const call = client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'stale-marker'] } }).then(() => 'answered', (e: Error) => e.message);
      await waitFor('the approval to reach the editor', () => ed.hanging === 1, 20_000);
      const actionId = ed.approvals[0]!.actionId;
      assert.equal(ed.approvals[0]!.requester.kind, 'mcp');
      assert.deepEqual((await pending()).map((p) => p.actionId), [actionId]);
      assert.deepEqual((await cliJson<any[]>(h, ['approve', '--json'])).map((p) => p.actionId), [actionId], '`hearth approve` lists it while the agent is there');

      const t0 = Date.now();
      const closing = client.close();
      await waitFor('the editor to receive the cancellation of its hearth/tool/approve', () => ed.withdrawn.includes(actionId), 5000, 10);
      const cancelledAfter = Date.now() - t0;
      await waitFor('hearth/approvals/pending to drop it', async () => (await pending()).length === 0, 5000, 10);
      const goneAfter = Date.now() - t0;
      assert.ok(cancelledAfter < 1000, `the editor's prompt was withdrawn ${cancelledAfter} ms after the MCP client left (limit 1000)`);
      assert.ok(goneAfter < 1000, `the approval left hearth/approvals/pending ${goneAfter} ms after the MCP client left (limit 1000)`);
      await closing;
      await call;
      assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), [], '`hearth approve` no longer lists it');

      // Answering the stale id: refused, with why; the CLI says nothing is waiting; a late click in the editor's panel.
      const stale = await watcher.connection.sendRequest(ApprovalsAnswer.method, { actionId, choice: 'once' }).then(() => null, (e: unknown) => e);
      assert.ok(stale instanceof ResponseError, `answering the stale id is an error, got ${JSON.stringify(stale)}`);
      assert.equal(stale.code, HearthErrorCodes.NotFound);
      assert.match(stale.message, new RegExp(`approval ${actionId} was withdrawn: requester disconnected; nothing was run`));
      const late = await h.cli(['approve', '--answer', 'once']);
      assert.equal(late.code, 0, late.stderr);
      assert.match(late.stdout, /no approvals are waiting/);
      ed.release('once');

      const rec = await waitFor('the audit record', async () => (await cliJson<any[]>(h, ['audit', 'show', actionId, '--json']))[0], 20_000);
      assert.equal(rec.interface.kind, 'mcp');
      assert.match(rec.interface.name, /agent-leaves/);
      assert.equal(rec.decision.outcome, 'denied');
      assert.equal(rec.decision.by, 'withdrawn', 'not a user’s denial');
      assert.equal(rec.decision.grant, null);
      assert.equal(rec.decision.approvedBy, null);
      assert.equal(rec.decision.approval.note, 'withdrawn: requester disconnected');
      assert.deepEqual(rec.decision.approval.asked.map((l: string) => l.split('#')[0]), ['vscode-watching']);
      assert.match(rec.result.error, /^withdrawn: requester disconnected; nothing was run/);
      const shown = await h.cli(['audit', 'show']);
      assert.match(shown.stdout, new RegExp(`denied \\(withdrawn — withdrawn: requester disconnected\\).*action ${actionId}`));
      await sleep(500);
      assert.equal(fs.existsSync(marker), false, 'the command never ran');
    } finally {
      await ed.dispose();
    }
  });

  it('with nobody to approve, an MCP call is answered within 5 s with the reason, and runs nothing', async () => {
    await waitFor('no editor attached', async () => !(await cliJson<{ clients: { kind: string }[] }>(h, ['status', '--json'])).clients.some((c) => c.kind === 'editor'));
    const { client } = await mcpClient('agent-alone');
    const t0 = Date.now();
    const r = (await client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'alone-marker'] } })) as TextResult;
    const took = Date.now() - t0;
    assert.ok(took < 5000, `answered after ${took} ms (limit 5000)`);
    assert.equal(r.isError, true);
    assert.equal(r._meta?.[McpMeta.status.key], 'denied');
    assert.ok(r.content[0]!.text.startsWith(`Denied: ${NEEDS_APPROVAL}; nothing was run`), r.content[0]!.text);
    assert.deepEqual(await pending(), [], 'nothing is left waiting');
    const rec = await auditRecord(h, r._meta![McpMeta.actionId.key] as string);
    assert.equal(rec.interface.kind, 'mcp');
    assert.equal(rec.decision.outcome, 'denied');
    assert.equal(rec.decision.by, 'nobody');
    assert.equal(rec.decision.approvedBy, null);
    assert.equal(rec.decision.approval.note, NEEDS_APPROVAL);
    assert.deepEqual(rec.decision.approval.asked, []);
    assert.equal(fs.existsSync(path.join(ws, 'alone-marker')), false);
    // The reason names commands that exist.
    assert.equal((await h.cli(['approve', '--json'])).code, 0);
    await client.close();
  });

  it('with an editor attached, the call waits and reports progress and log messages; the editor’s answer lets it run', async () => {
    const ed = await attachToolEditor(h, 'nvim-slow', ws);
    try {
      ed.fallback = 'hang';
      const { client, logs } = await mcpClient('agent-waits');
      const progress: Array<{ progress: number; message?: string }> = [];
      // A request timeout of 7 s that each progress notification resets: without reports every 5 s the SDK would give up.
      const call = client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'waited-marker'] } }, undefined, {
        timeout: 7000,
        resetTimeoutOnProgress: true,
        onprogress: (p) => void progress.push({ progress: p.progress, ...(p.message ? { message: p.message } : {}) }),
      }) as Promise<TextResult>;
      await waitFor('the approval to reach the editor', () => ed.hanging === 1, 20_000);
      await waitFor('a first progress notification', () => progress.length >= 1, 5000, 20);
      assert.match(progress[0]!.message ?? '', /waiting for the user to approve shell\.run .*the prompt is open in nvim-slow#/);
      await sleep(11_000);
      assert.ok(progress.length >= 2, `progress notifications while waiting 11 s: ${progress.length}`);
      assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1]!.progress), 'progress increases');
      assert.ok(logs.filter((l) => /waiting for the user to approve shell\.run/.test(l)).length >= 2, `log notifications: ${JSON.stringify(logs)}`);
      assert.equal(fs.existsSync(path.join(ws, 'waited-marker')), false, 'nothing ran while it waited');
      assert.equal(ed.release('once'), 1);
      const r = await call;
      assert.equal(r.isError, false, r.content[0]?.text);
      assert.ok(fs.existsSync(path.join(ws, 'waited-marker')));
      const rec = await auditRecord(h, r._meta![McpMeta.actionId.key] as string);
      assert.equal(rec.decision.by, 'user');
      assert.equal(rec.decision.grant, 'once');
      assert.equal(rec.decision.approvedBy, await clientIdOf(h, 'nvim-slow'));
      assert.equal(rec.decision.approval.via, 'prompt');
      await client.close();
    } finally {
      await ed.dispose();
    }
  });

  it('an MCP client declaring elicitation is asked in its own UI: accept runs the tool, decline denies it', async () => {
    const asked: Array<{ message: string; schema: any }> = [];
    let reply: ElicitResult = { action: 'accept', content: { choice: 'once' } };
    const { client } = await mcpClient('agent-elicits', { elicit: (message, schema) => (asked.push({ message, schema }), reply) });

    const ok = (await client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'elicited-marker'] } })) as TextResult;
    assert.equal(ok.isError, false, ok.content[0]?.text);
    assert.ok(fs.existsSync(path.join(ws, 'elicited-marker')));
    assert.equal(asked.length, 1);
    assert.match(asked[0]!.message, /allow shell\.run requested by hearth-mcp \(agent-elicits\)/);
    assert.match(asked[0]!.message, /argv: \["touch","elicited-marker"\]/);
    assert.deepEqual(asked[0]!.schema.properties.choice.enum, ['once', 'session', 'deny'], 'no `always` from an agent’s UI');
    const rec = await auditRecord(h, ok._meta![McpMeta.actionId.key] as string);
    assert.equal(rec.decision.by, 'user');
    assert.equal(rec.decision.grant, 'once');
    assert.equal(rec.decision.approval.via, 'elicitation');
    assert.match(rec.decision.approvedBy, /^[0-9a-f-]{36}$/, 'the hearth mcp connection that elicited');

    const ed = await attachToolEditor(h, 'vscode-bystander', ws);
    try {
      reply = { action: 'decline' };
      const no = (await client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'declined-marker'] } })) as TextResult;
      assert.equal(no.isError, true);
      assert.match(no.content[0]!.text, /^Denied: declined by the user; nothing was run/);
      assert.equal(asked.length, 2);
      assert.equal(ed.approvals.length, 0, 'the requester’s own UI answered; the editor was not asked');
      assert.equal(fs.existsSync(path.join(ws, 'declined-marker')), false);
      const rec2 = await auditRecord(h, no._meta![McpMeta.actionId.key] as string);
      assert.equal(rec2.decision.by, 'user');
      assert.equal(rec2.decision.grant, 'deny');
      assert.equal(rec2.decision.approval.via, 'elicitation');
    } finally {
      await ed.dispose();
    }
    await client.close();
  });
});
