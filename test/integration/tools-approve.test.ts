// Where an approval goes when the requesting editor cannot answer (issue 6, "Must show" 6 and the
// approval routing): through the real daemon, real bridges and the real CLI.
//   - no editor attached: a pending approval is listed by `hearth approve --json` (tool, argv,
//     requester) and answered by `hearth approve --answer deny` → nothing runs; `--answer once` →
//     it runs; the audit says who decided;
//   - the requesting editor leaves while its approval is open: the approval is withdrawn (before,
//     the next attached editor was asked and its answer ran an action for a client that was gone);
//     the other editor is never asked, the audit says "withdrawn: requester disconnected";
//   - an editor attached but not the requester (a CLI-style client asked): the editor is asked;
//   - the requester cancels while its approval is open: the prompt is withdrawn (the editor gets
//     $/cancelRequest, `hearth approve` no longer lists it), the request is answered, and a late
//     answer runs nothing (before the fix the action stayed pending and a late "once" ran it);
//   - `hearth tool run` on a terminal (a real pty, through util-linux `script`) answers its own
//     approval: the prompt shows the argv and why it asks, "once" runs it, the audit names the CLI;
//   - `hearth stop` while an approval is open: the call is recorded as denied (the daemon stopped)
//     before the store closes (before the fix it left no audit record).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cliJson, makeHome, makeWorkspace, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, auditRecord, waitPending, type ToolResult } from '../helpers/tools-harness.js';
import { ToolRun } from '../../server/protocol.js';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { spawn } from 'node:child_process';
import { HEARTH_BIN, hearthOnPty, isAlive, sleep } from '../helpers/daemon.js';

describe('approvals without the requesting editor: other editors, then `hearth approve`', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let ws: string;
  let pid: number;

  before(async () => {
    h = makeHome('approve');
    pid = (await h.spawnDaemon()).pid;
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
  });
  after(async () => {
    await h?.dispose();
  });

  /** A non-editor client sends hearth/tool/run; `result` settles once the action was decided. */
  async function agentRun(name: string, argv: string[]): Promise<{ result: Promise<ToolResult> }> {
    const c = await h.connect({ name, version: '1', kind: 'test' });
    return { result: c.connection.sendRequest(ToolRun.method, { tool: 'shell.run', args: { argv }, workspaceRoot: ws }) as Promise<ToolResult> };
  }

  it('with no editor attached, `hearth approve --json` lists the approval and `--answer deny` denies it', async () => {
    const none = await cliJson<any[]>(h, ['approve', '--json']);
    assert.deepEqual(none, [], 'nothing is pending at the start');
    const marker = path.join(ws, 'cli-denied');
    const run = (await agentRun('agent-deny', ['touch', 'cli-denied'])).result;
    const [p] = await waitPending(h, 1);
    assert.equal(p.request.tool, 'shell.run');
    assert.deepEqual(p.request.argv, ['touch', 'cli-denied']);
    assert.equal(p.request.cwd, ws);
    assert.equal(p.request.requester.name, 'agent-deny');
    assert.equal(p.request.requester.kind, 'test');
    assert.deepEqual([...p.request.choices].sort(), ['always', 'deny', 'once', 'session']);
    assert.equal(typeof p.actionId, 'string');

    const ans = await h.cli(['approve', '--answer', 'deny']);
    assert.equal(ans.code, 0, ans.stderr);
    assert.match(ans.stdout, /Hearth: approve shell\.run\?/);
    assert.match(ans.stdout, /requested by agent-deny \(test\)/);
    assert.match(ans.stdout, /argv +\["touch", "cli-denied"\]/);
    assert.match(ans.stdout, /sandbox +writes .*; network none; env /, 'the prompt shows the sandbox profile');
    assert.match(ans.stdout, /answered: deny/);
    const r = await run;
    assert.equal(r.status, 'denied');
    assert.equal(r.actionId, p.actionId);
    assert.equal(fs.existsSync(marker), false, 'nothing ran');
    assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), []);
    const rec = await auditRecord(h, r.actionId);
    assert.equal(rec.decision.by, 'user');
    assert.equal(rec.decision.grant, 'deny');
  });

  it('`hearth tool run` with no terminal says on stderr that it waits and how to answer, then runs once answered', async () => {
    const child = spawn(process.execPath, [HEARTH_BIN, 'tool', 'run', 'shell.run', JSON.stringify({ argv: ['touch', 'cli-piped'] }), '--workspace', ws],
      { env: h.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitFor('the waiting message on stderr', () => /waiting for the user to approve shell\.run/.test(stderr) || undefined, 15_000);
      assert.match(stderr, /`hearth approve` can answer it/);
      assert.equal(fs.existsSync(path.join(ws, 'cli-piped')), false);
      const ans = await h.cli(['approve', '--answer', 'once']);
      assert.equal(ans.code, 0, ans.stderr);
      assert.equal(await exited, 0, `${stdout}\n${stderr}`);
      assert.match(stdout, /^ok \(shell\.run/m);
      assert.ok(fs.existsSync(path.join(ws, 'cli-piped')));
    } finally {
      child.kill();
    }
  });

  it('`hearth approve --answer once` runs it, sandboxed', async () => {
    const run = (await agentRun('agent-once', ['touch', 'cli-once'])).result;
    await waitPending(h, 1);
    const ans = await h.cli(['approve', '--answer', 'once']);
    assert.equal(ans.code, 0, ans.stderr);
    assert.match(ans.stdout, /answered: once/);
    const r = await run;
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.ok(fs.existsSync(path.join(ws, 'cli-once')));
    assert.equal((await auditRecord(h, r.actionId)).sandbox.kind, 'bwrap');
  });

  it('an attached editor is asked about a non-editor client’s action', async () => {
    const ed = await attachToolEditor(h, 'vscode-watcher', ws);
    try {
      ed.answers.push('once');
      const r = await (await agentRun('agent-with-editor', ['touch', 'editor-approved'])).result;
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.equal(ed.approvals.length, 1);
      assert.equal(ed.approvals[0]!.requester.name, 'agent-with-editor');
      assert.ok(fs.existsSync(path.join(ws, 'editor-approved')));
    } finally {
      await ed.dispose();
    }
  });

  it('when the requesting editor leaves with its approval open, the approval is withdrawn, not handed to the other editor', async () => {
    const a = await attachToolEditor(h, 'vscode-leaves', ws);
    const b = await attachToolEditor(h, 'nvim-stays', ws);
    try {
      a.fallback = 'hang';
      b.answers.push('once');
      void a.run('shell.run', { argv: ['touch', 'handed-over'] }).catch(() => undefined);
      await waitFor('the approval to reach the requesting editor', () => a.hanging === 1);
      assert.equal(b.approvals.length, 0, 'the other editor is not asked while the requester may still answer');
      const actionId = a.approvals[0]!.actionId;
      await a.dispose();
      const rec = await waitFor('the audit record', async () => (await cliJson<any[]>(h, ['audit', 'show', actionId, '--json']))[0]);
      assert.equal(rec.decision.outcome, 'denied');
      assert.equal(rec.decision.by, 'withdrawn');
      assert.equal(rec.decision.grant, null);
      assert.equal(rec.decision.approvedBy, null);
      assert.match(rec.result.error, /withdrawn: requester disconnected/);
      assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), []);
      assert.equal(b.approvals.length, 0, 'the other editor was never asked about an action of a client that is gone');
      await sleep(300);
      assert.equal(fs.existsSync(path.join(ws, 'handed-over')), false);
    } finally {
      await b.dispose();
    }
  });

  it('cancelling the request while its approval is open withdraws the prompt; a late answer runs nothing', async () => {
    const ed = await attachToolEditor(h, 'vscode-cancels', ws);
    try {
      ed.fallback = 'hang';
      const cts = new CancellationTokenSource();
      const reply = ed.lsp.connection.sendRequest(ToolRun.method, { tool: 'shell.run', args: { argv: ['touch', 'cancelled-marker'] } }, cts.token)
        .then((r) => ({ r: r as ToolResult }), (e: Error) => ({ e }));
      await waitFor('the approval to reach the editor', () => ed.hanging === 1);
      const actionId = ed.approvals[0]!.actionId;
      assert.equal((await cliJson<any[]>(h, ['approve', '--json'])).length, 1);
      cts.cancel();
      const settled = await Promise.race([reply, sleep(15_000).then(() => 'no reply' as const)]);
      assert.notEqual(settled, 'no reply', 'the cancelled request was answered');
      assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), [], 'the approval is no longer pending');
      await waitFor('the prompt to be withdrawn from the editor', () => ed.withdrawn.includes(actionId));
      ed.release('once'); // a late answer from a prompt that was still on screen
      const rec = await waitFor('the audit record', async () => (await cliJson<any[]>(h, ['audit', 'show', actionId, '--json']))[0]);
      assert.equal(rec.decision.outcome, 'denied');
      assert.match(rec.result.error, /cancel/);
      await sleep(500);
      assert.equal(fs.existsSync(path.join(ws, 'cancelled-marker')), false, 'nothing ran');
    } finally {
      await ed.dispose();
    }
  });

  it('`hearth tool run` on a terminal answers its own approval: the prompt shows argv and reason, "once" runs it', async () => {
    const marker = path.join(ws, 'tty-once');
    const pty = hearthOnPty(['tool', 'run', 'shell.run', JSON.stringify({ argv: ['touch', 'tty-once'] }), '--workspace', ws], h.env);
    try {
      await pty.waitScreen('the approval prompt on the terminal', /once \/ session \/ always \/ deny\? /);
      assert.match(pty.screen(), /requested by hearth-cli \(cli\)/);
      assert.match(pty.screen(), /argv +\["touch", "tty-once"\]/);
      assert.match(pty.screen(), /reason +\S/);
      assert.equal(fs.existsSync(marker), false, 'nothing ran before the answer');
      pty.type('once\r');
      assert.equal(await pty.exited, 0, pty.screen());
    } finally {
      pty.kill();
    }
    assert.equal(fs.existsSync(marker), true, 'the approved command ran');
    const actionId = /action ([0-9a-f-]{36})/.exec(pty.screen())?.[1];
    assert.ok(actionId, pty.screen());
    const rec = await auditRecord(h, actionId);
    assert.equal(rec.decision.grant, 'once');
    assert.equal(rec.interface.name, 'hearth-cli');
    assert.equal(rec.interface.kind, 'cli');
  });

  it('`hearth stop` while an approval is open: the call is audited as denied, nothing runs', async () => {
    const run = (await agentRun('agent-stopped', ['touch', 'stopped-marker'])).result.then((r) => r, (e: Error) => e);
    const [p] = await waitPending(h, 1);
    const stop = await h.cli(['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    await waitFor('the daemon to exit', () => !isAlive(pid));
    await run;
    pid = (await h.spawnDaemon()).pid;
    const rec = await auditRecord(h, p.actionId);
    assert.equal(rec.decision.outcome, 'denied');
    assert.match(rec.result.error, /the daemon stopped/);
    assert.equal(fs.existsSync(path.join(ws, 'stopped-marker')), false);
    const v = await h.cli(['audit', 'verify']);
    assert.equal(v.code, 0, v.stdout);
  });
});
