// `hearth mcp --stdio` backed by the real daemon (issue 6, "Must show" 6): an MCP client
// (@modelcontextprotocol/sdk Client + StdioClientTransport) launches `bin/hearth mcp --stdio` with
// the test home in its environment, lists the tools and calls them. Each call goes through the
// daemon: checked against the policy (rm -rf / denied, nothing asked), approved (by an attached
// editor answering hearth/tool/approve, or with no editor by `hearth approve --answer once`), run
// in bwrap, and audited with requester kind mcp and the MCP client's name (with no editor, the
// daemon answers an MCP call after 4 s, so these tests keep an editor attached; the no-approver
// answer itself is in mcp-approvals.test.ts). An MCP client that
// cancels a call while its approval is open withdraws it (before the fix, `hearth mcp` did not pass
// the cancellation on, the approval stayed pending and a late answer ran the action). Closing the
// client ends the `hearth mcp` process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { HEARTH_BIN, isAlive } from '../helpers/daemon.js';
import { cliJson, makeHome, makeWorkspace, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, auditRecord, waitPending } from '../helpers/tools-harness.js';
import { McpMeta } from '../../server/protocol.js';

type TextResult = { isError?: boolean; content: { type: string; text: string }[]; _meta?: Record<string, unknown> };

describe('hearth mcp --stdio through the daemon (SDK client, real bwrap)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let ws: string;
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';

  before(async () => {
    h = makeHome('mcp-daemon');
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    execFileSync('git', ['init', '-q', ws]);
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [HEARTH_BIN, 'mcp', '--stdio', '--workspace', ws],
      env: Object.fromEntries(Object.entries(h.env).filter((e): e is [string, string] => e[1] !== undefined)),
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    client = new Client({ name: 'test-agent', version: '2.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.dispose();
  });

  it('lists Hearth’s tools', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['fs_edit', 'fs_read', 'http_fetch', 'memory_write', 'shell_run'], stderr);
    const shell = tools.find((t) => t.name === 'shell_run')!;
    assert.ok((shell.inputSchema.required as string[]).includes('argv'));
  });

  it('a destructive call is denied by the policy, with no prompt to anyone', async () => {
    const ed = await attachToolEditor(h, 'vscode-mcp', ws);
    try {
      const r = (await client.callTool({ name: 'shell_run', arguments: { argv: ['rm', '-rf', '/'] } })) as TextResult;
      assert.equal(r.isError, true);
      assert.match(r.content[0]!.text, /^Denied: denied by built-in/);
      assert.equal(ed.approvals.length, 0);
      assert.equal(r._meta?.[McpMeta.status.key], 'denied');
      const rec = await auditRecord(h, r._meta![McpMeta.actionId.key] as string);
      assert.equal(rec.interface.kind, 'mcp');
      assert.equal(rec.decision.by, 'policy');
    } finally {
      await ed.dispose();
    }
  });

  it('a call approved by an attached editor runs sandboxed and is audited as the MCP client’s', async () => {
    const ed = await attachToolEditor(h, 'vscode-mcp', ws);
    try {
      ed.answers.push('once');
      const r = (await client.callTool({
        name: 'shell_run',
        arguments: { argv: ['sh', '-c', 'touch mcp-made && env'] },
        _meta: { [McpMeta.proposer.key]: { model: 'claude-sonnet-4-5', provider: 'anthropic' } },
      })) as TextResult;
      assert.equal(r.isError, false, r.content[0]?.text + stderr);
      const out = JSON.parse(r.content[0]!.text) as { exitCode: number; stdout: string };
      assert.equal(out.exitCode, 0);
      assert.doesNotMatch(out.stdout, /HEARTH_HOME|XDG_RUNTIME_DIR/, 'the command does not see the environment of hearth mcp or the daemon');
      assert.ok(fs.existsSync(path.join(ws, 'mcp-made')));

      assert.equal(ed.approvals.length, 1);
      const a = ed.approvals[0]!;
      assert.deepEqual(a.argv, ['sh', '-c', 'touch mcp-made && env']);
      assert.equal(a.requester.kind, 'mcp');
      assert.match(a.requester.name, /test-agent/);
      assert.deepEqual(a.proposer, { model: 'claude-sonnet-4-5', provider: 'anthropic' });

      const rec = await auditRecord(h, r._meta![McpMeta.actionId.key] as string);
      assert.equal(rec.interface.kind, 'mcp');
      assert.match(rec.interface.name, /test-agent/);
      assert.deepEqual(rec.proposer, { model: 'claude-sonnet-4-5', provider: 'anthropic' });
      assert.equal(rec.decision.outcome, 'allowed');
      assert.equal(rec.decision.by, 'user');
      assert.equal(rec.decision.grant, 'once');
      assert.equal(rec.sandbox.kind, 'bwrap');
      assert.equal(rec.sandbox.network, false);
      assert.equal(rec.exitCode, 0);
      assert.equal(rec.seq, r._meta![McpMeta.auditSeq.key]);
    } finally {
      await ed.dispose();
    }
  });

  it('while an editor shows the prompt, `hearth approve --answer once` answers it instead, then it runs', async () => {
    const ed = await attachToolEditor(h, 'vscode-mcp-watching', ws);
    ed.fallback = 'hang'; // an approver is attached, so the call waits (with none, it is answered after 4 s: mcp-approvals.test.ts)
    const call = client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'mcp-cli-approved'] } }) as Promise<TextResult>;
    const [p] = await waitPending(h, 1);
    assert.equal(p.request.requester.kind, 'mcp');
    assert.match(p.request.requester.name, /test-agent/);
    assert.deepEqual(p.request.argv, ['touch', 'mcp-cli-approved']);
    assert.equal(fs.existsSync(path.join(ws, 'mcp-cli-approved')), false, 'nothing runs before the answer');
    const ans = await h.cli(['approve', '--answer', 'once']);
    assert.equal(ans.code, 0, ans.stderr);
    await waitFor('the editor’s prompt to be withdrawn', () => ed.withdrawn.includes(p.actionId));
    await ed.dispose();
    const r = await call;
    assert.equal(r.isError, false, r.content[0]?.text);
    assert.ok(fs.existsSync(path.join(ws, 'mcp-cli-approved')));
    const rec = await auditRecord(h, r._meta![McpMeta.actionId.key] as string);
    assert.equal(rec.interface.kind, 'mcp');
    assert.match(rec.interface.name, /test-agent/);
    assert.equal(rec.decision.by, 'user');
    assert.equal(rec.decision.approval.via, 'hearth approve');
    assert.equal(rec.sandbox.kind, 'bwrap');
    assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), []);
  });

  it('a denied approval runs nothing and tells the MCP client', async () => {
    const ed = await attachToolEditor(h, 'vscode-mcp-deny', ws);
    ed.fallback = 'hang';
    const call = client.callTool({ name: 'fs_edit', arguments: { path: 'new.txt', content: 'hello\n' } }) as Promise<TextResult>;
    const [p] = await waitPending(h, 1);
    assert.equal(p.request.tool, 'fs.edit');
    assert.match(p.request.diff, /^\+hello$/m);
    assert.equal(p.request.requester.kind, 'mcp');
    assert.match(p.request.requester.name, /test-agent/);
    const ans = await h.cli(['approve', '--answer', 'deny']);
    assert.equal(ans.code, 0, ans.stderr);
    const r = await call;
    await ed.dispose();
    assert.equal(r.isError, true);
    assert.match(r.content[0]!.text, /^Denied: declined by the user/);
    assert.equal(fs.existsSync(path.join(ws, 'new.txt')), false);
  });

  it('a call the MCP client cancels while its approval is open is withdrawn and runs nothing', async () => {
    const ed = await attachToolEditor(h, 'vscode-mcp-cancel', ws);
    ed.fallback = 'hang'; // an approver is attached: the approval waits (no 4 s no-approver answer)
    try {
      const abort = new AbortController();
      const call = client.callTool({ name: 'shell_run', arguments: { argv: ['touch', 'mcp-cancelled'] } }, undefined, { signal: abort.signal })
        .then(() => 'resolved', (e: Error) => e.message);
      const [p] = await waitPending(h, 1);
      abort.abort();
      assert.match(await call, /abort/i, 'the SDK rejects the cancelled call');
      await waitFor('the approval to be withdrawn', async () => (await cliJson<any[]>(h, ['approve', '--json'])).length === 0, 20_000, 100);
      const late = await h.cli(['approve', '--answer', 'once']);
      assert.match(late.stdout, /no approvals are waiting/);
      const rec = await waitFor('the audit record', async () => (await cliJson<any[]>(h, ['audit', 'show', p.actionId, '--json']))[0]);
      assert.equal(rec.decision.outcome, 'denied');
      assert.equal(rec.decision.by, 'withdrawn');
      assert.match(rec.result.error, /withdrawn: the requester cancelled/);
      await waitFor('the editor’s prompt to be withdrawn too', () => ed.withdrawn.includes(p.actionId));
      assert.equal(fs.existsSync(path.join(ws, 'mcp-cancelled')), false);
    } finally {
      await ed.dispose();
    }
  });

  it('closing the MCP client ends `hearth mcp`', async () => {
    const pid = transport.pid;
    assert.ok(pid, 'the transport knows the pid of hearth mcp');
    await client.close();
    await waitFor('hearth mcp to exit', () => !isAlive(pid));
  });
});
