// hearth/task through the real daemon (issue 6, "Must show" 1). The scripted model server on
// 127.0.0.1 is both an OpenAI-compatible provider (`scripted`, answers with `tool_calls`) and an
// Anthropic provider (`claude`, answers with `tool_use` blocks), routed for feature task by the user
// policy. Editors are real `hearth lsp --stdio` bridges; commands run in real bubblewrap. Shown:
//   - `shell.run ["rm","-rf","/"]` is denied by the built-in policy and no hearth/tool/approve is sent;
//   - `["git","status"]` (built-in: ask) reaches the requesting editor (not the other attached one)
//     with tool, argv, cwd, proposing model + provider, requester; deny → nothing runs (a `touch`
//     in the same answer leaves no file);
//   - once → it runs in bwrap and the next identical proposal asks again;
//   - always → after `hearth stop` and a new daemon the same proposal runs with no prompt, while a
//     different command still asks;
//   - the same with the Anthropic tool_use format, and the selection reaches the model.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { cliJson, makeHome, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { isAlive } from '../helpers/daemon.js';
import {
  anthropicToolUse, attachToolEditor, auditRecord, clientIdOf, gitWorkspace, openAIToolCalls, toolsUserPolicy, writeUserPolicy,
  type ToolEditor,
} from '../helpers/tools-harness.js';

const GIT_STATUS = { tool: 'shell.run', args: { argv: ['git', 'status'] } };
const touch = (name: string) => ({ tool: 'shell.run', args: { argv: ['touch', name] } });

describe('hearth/task through the daemon: a scripted model proposes tool calls (real bridges, real bwrap)', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let ws: string;
  let ed: ToolEditor;
  let other: ToolEditor;
  let daemonPid: number;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('task');
    await writeUserPolicy(h, toolsUserPolicy(server));
    daemonPid = (await h.spawnDaemon()).pid;
    ws = gitWorkspace(h, 'ws');
    ed = await attachToolEditor(h, 'vscode-task', ws);
    other = await attachToolEditor(h, 'nvim-other', ws);
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  /** The JSON body of the last request the scripted server got at `url`. */
  function lastBody(url: string): any {
    const r = [...server.requests].reverse().find((x) => x.url === url);
    assert.ok(r, `the scripted server got no request at ${url}`);
    return JSON.parse(r.body.toString('utf8'));
  }

  it('rm -rf / is denied by the built-in policy without any prompt (OpenAI tool_calls)', async () => {
    server.script(openAIToolCalls([{ tool: 'shell.run', args: { argv: ['rm', '-rf', '/'] } }]));
    const sent = server.requests.length;
    const r = await ed.task('clean up the disk');
    assert.equal(server.requests.length, sent + 1, 'the task reached the model once');
    const body = lastBody('/v1/chat/completions');
    const offered = body.tools.map((t: any) => t.function.name).sort();
    assert.deepEqual(offered, ['fs_edit', 'fs_read', 'http_fetch', 'memory_write', 'shell_run']);
    assert.match(JSON.stringify(body.messages), /clean up the disk/);

    assert.equal(r.toolCalls.length, 1);
    const [c] = r.toolCalls;
    assert.equal(c!.status, 'denied', JSON.stringify(c));
    assert.equal(c!.decision.policy, 'deny');
    assert.equal(c!.decision.by, 'policy');
    assert.match(c!.decision.rule, /built-in/);
    assert.equal(ed.approvals.length + other.approvals.length, 0, 'no hearth/tool/approve was sent for a denied command');
    assert.equal(ed.egressConfirms.length, 0, 'the policy allows the task egress: nothing was asked');

    const rec = await auditRecord(h, c!.actionId);
    assert.deepEqual(rec.proposer, { model: 'scripted-agent-2025', provider: 'scripted' });
    assert.equal(rec.interface.kind, 'editor');
    assert.equal(rec.interface.name, 'vscode-task');
    assert.deepEqual(rec.args, { argv: ['rm', '-rf', '/'] });
    assert.equal(rec.decision.outcome, 'denied');
    assert.equal(rec.sandbox, null, 'nothing was started');
    assert.equal(rec.exitCode, null);
  });

  it('git status under ask reaches the requesting editor only; deny → nothing runs', async () => {
    ed.answers.push('deny', 'deny');
    server.script(openAIToolCalls([GIT_STATUS, touch('denied-marker')], 'scripted-agent-2025', 'Checking the tree.'));
    const r = await ed.task('what changed?');
    const edId = await clientIdOf(h, 'vscode-task');

    assert.equal(ed.approvals.length, 2, 'one approval per proposed command, sent to the requesting editor');
    assert.equal(other.approvals.length, 0, 'the requesting editor answered; the other editor was never asked');
    const a = ed.approvals[0]!;
    assert.equal(a.tool, 'shell.run');
    assert.deepEqual(a.argv, ['git', 'status']);
    assert.deepEqual(a.args, { argv: ['git', 'status'] });
    assert.equal(a.cwd, ws);
    assert.equal(a.workspaceRoot, ws);
    assert.deepEqual(a.proposer, { model: 'scripted-agent-2025', provider: 'scripted' });
    assert.deepEqual(a.requester, { clientId: edId, name: 'vscode-task', kind: 'editor' });
    assert.deepEqual([...a.choices].sort(), ['always', 'deny', 'once', 'session']);
    assert.match(a.reason, /ask/);
    assert.equal(a.rationale, 'Checking the tree.');
    assert.equal(a.sandbox?.network, false);
    assert.deepEqual(ed.approvals[1]!.argv, ['touch', 'denied-marker']);

    assert.deepEqual(r.toolCalls.map((c) => c.status), ['denied', 'denied']);
    for (const c of r.toolCalls) {
      assert.equal(c.decision.by, 'user');
      assert.equal(c.decision.grant, 'deny');
      assert.equal(c.exitCode, null);
      const rec = await auditRecord(h, c.actionId);
      assert.equal(rec.sandbox, null);
      assert.equal(rec.decision.approvedBy, edId);
    }
    assert.equal(fs.existsSync(path.join(ws, 'denied-marker')), false, 'the denied touch did not run');
  });

  it('once → runs sandboxed (bwrap); the next identical proposal asks again', async () => {
    ed.answers.push('once', 'once');
    server.script(openAIToolCalls([GIT_STATUS, touch('once-marker')]));
    const asked = ed.approvals.length;
    const r = await ed.task('status please');
    assert.equal(ed.approvals.length, asked + 2);
    const [git, t] = r.toolCalls;
    assert.equal(git!.status, 'ok', JSON.stringify(git));
    assert.equal(git!.exitCode, 0);
    assert.match(git!.output.stdout, /On branch|No commits yet|nothing to commit/);
    assert.equal(t!.status, 'ok', JSON.stringify(t));
    assert.ok(fs.existsSync(path.join(ws, 'once-marker')), 'the approved touch ran in the workspace');

    const rec = await auditRecord(h, git!.actionId);
    assert.equal(rec.sandbox.kind, 'bwrap');
    assert.equal(rec.sandbox.network, false);
    assert.deepEqual(rec.decision, { ...rec.decision, outcome: 'allowed', by: 'user', grant: 'once' });
    assert.equal(rec.exitCode, 0);
    assert.equal(rec.result.status, 'ok');
    const grants = await cliJson<any[]>(h, ['grants', 'list', '--json']);
    assert.equal(grants.length, 0, `once leaves no grant: ${JSON.stringify(grants)}`);

    ed.answers.push('deny');
    server.script(openAIToolCalls([GIT_STATUS]));
    const again = await ed.task('status again');
    assert.equal(ed.approvals.length, asked + 3, 'the identical proposal asked again');
    assert.deepEqual(ed.approvals.at(-1)!.argv, ['git', 'status']);
    assert.equal(again.toolCalls[0]!.status, 'denied');
  });

  it('Anthropic tool_use: denied without a prompt, ask reaches the editor, once runs; the selection reaches the model', async () => {
    const file = path.join(ws, 'src', 'app.ts');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const text = 'export const unused = 1;\nexport function selectedFunction() { return 42; }\n';
    fs.writeFileSync(file, text);
    await ed.open(file, text);
    ed.answers.push('once', 'deny');
    server.script(anthropicToolUse([
      { tool: 'shell.run', args: { argv: ['rm', '-rf', '/'] } },
      { tool: 'shell.run', args: { argv: ['git', 'log', '--oneline'] } },
      touch('claude-denied-marker'),
    ]));
    const asked = ed.approvals.length;
    const r = await ed.task('explain this', {
      provider: 'claude',
      textDocument: { uri: pathToFileURL(file).href },
      range: { start: { line: 1, character: 0 }, end: { line: 1, character: 49 } },
    });
    const req = [...server.requests].reverse().find((x) => x.url === '/v1/messages');
    assert.ok(req, 'the task went to the Anthropic endpoint');
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
    const body = JSON.parse(req.body.toString('utf8'));
    assert.deepEqual(body.tools.map((t: any) => t.name).sort(), ['fs_edit', 'fs_read', 'http_fetch', 'memory_write', 'shell_run']);
    assert.ok(body.tools.every((t: any) => t.input_schema?.type === 'object'), 'Anthropic tool definitions carry input_schema');
    const sentText = JSON.stringify(body.messages);
    assert.match(sentText, /selectedFunction/, 'the selection was sent');
    assert.doesNotMatch(sentText, /unused/, 'only the selection, not the whole file');

    assert.equal(r.text, 'I will run these.');
    assert.deepEqual(r.toolCalls.map((c) => c.status), ['denied', 'ok', 'denied']);
    assert.equal(r.toolCalls[0]!.decision.by, 'policy');
    assert.equal(ed.approvals.length, asked + 2, 'rm -rf / was not asked about; the other two were');
    const a = ed.approvals[asked]!;
    assert.deepEqual(a.argv, ['git', 'log', '--oneline']);
    assert.deepEqual(a.proposer, { model: 'scripted-claude-2025', provider: 'claude' });
    assert.equal(a.requester.name, 'vscode-task');
    assert.equal(r.toolCalls[1]!.exitCode, 0);
    assert.match(r.toolCalls[1]!.output.stdout, /init/);
    const rec = await auditRecord(h, r.toolCalls[1]!.actionId);
    assert.equal(rec.sandbox.kind, 'bwrap');
    assert.deepEqual(rec.proposer, { model: 'scripted-claude-2025', provider: 'claude' });
    assert.equal(fs.existsSync(path.join(ws, 'claude-denied-marker')), false);
  });

  it('always → after `hearth stop` and a new daemon the same proposal runs without a prompt; another command still asks', async () => {
    ed.answers.push('always');
    server.script(openAIToolCalls([GIT_STATUS]));
    const r = await ed.task('status, and remember');
    assert.equal(r.toolCalls[0]!.status, 'ok', JSON.stringify(r.toolCalls[0]));
    assert.equal(r.toolCalls[0]!.decision.grant, 'always');
    const grants = await cliJson<any[]>(h, ['grants', 'list', '--json']);
    assert.equal(grants.length, 1);
    assert.equal(grants[0].scope, 'always');
    assert.equal(grants[0].tool, 'shell.run');
    assert.match(grants[0].subject, /"git","status"/);

    // Editors detach first, so no bridge autostarts a daemon of its own while this one is down.
    await ed.dispose();
    await other.dispose();
    const stop = await h.cli(['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    await waitFor('the first daemon to exit', () => !isAlive(daemonPid));
    daemonPid = (await h.spawnDaemon()).pid;
    ed = await attachToolEditor(h, 'vscode-task', ws);
    ed.fallback = 'deny';

    server.script(openAIToolCalls([GIT_STATUS, touch('after-restart-marker')]));
    const after = await ed.task('status after restart');
    assert.equal(ed.approvals.length, 1, 'only the touch asked');
    assert.deepEqual(ed.approvals[0]!.argv, ['touch', 'after-restart-marker']);
    const [git, t] = after.toolCalls;
    assert.equal(git!.status, 'ok', JSON.stringify(git));
    assert.equal(git!.exitCode, 0);
    assert.equal(git!.decision.by, 'grant');
    assert.equal(git!.decision.grant, 'always');
    assert.equal(t!.status, 'denied');
    assert.equal(fs.existsSync(path.join(ws, 'after-restart-marker')), false);
    const rec = await auditRecord(h, git!.actionId);
    assert.equal(rec.sandbox.kind, 'bwrap');
    assert.equal(rec.decision.by, 'grant');

    const v = await h.cli(['audit', 'verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /intact/);
  });
});
