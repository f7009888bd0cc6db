// `hearth ask` through the real daemon (issue 13, "Must show" 6; docs/ask.md). The scripted model
// server on 127.0.0.1 plays a cloud chat provider whose answer streams over SSE with an fs.edit
// tool call in delta.tool_calls fragments. The CLI runs on a real pseudo-terminal:
//   - the route plan is printed before anything leaves: when the egress confirmation shows the
//     payload, the model server has received nothing yet;
//   - the answer streams to the terminal; the proposed fs.edit is shown with its diff and approved
//     on the terminal, then applied to the file and audited (requested by hearth-cli, proposed by
//     the scripted model);
//   - Ctrl-C stops a slow stream: the model connection is closed before its end, the CLI exits 130
//     and the history keeps what arrived as cancelled; nothing proposed later runs;
//   - with no chat model (a fresh home: the embedded default) the answer is labelled local
//     retrieval from memory and the workspace, and nothing is sent;
//   - the history lists, searches and deletes every exchange.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { cliIn, cliJson, makeHome, makeWorkspace, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { hearthOnPty } from '../helpers/daemon.js';
import { auditRecord, writeUserPolicy } from '../helpers/tools-harness.js';
import { askUserPolicy, renameEdit, streamedAnswer } from '../helpers/ask-harness.js';

const GREET = 'export function greet(name) {\n  return "hello " + name;\n}\n';

function scriptAvailable(): boolean {
  try {
    return fs.existsSync('/usr/bin/script') || fs.existsSync('/bin/script');
  } catch {
    return false;
  }
}

describe('hearth ask: route plan first, streamed answer, approved fs.edit, cancel, history (real daemon, real pty)', function () {
  this.timeout(180_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let ws: string;

  before(async function () {
    if (!scriptAvailable()) this.skip(); // util-linux `script` gives the CLI a terminal; test/e2e/setup.sh installs it
    server = await startScriptedServer();
    h = makeHome('ask');
    await writeUserPolicy(h, askUserPolicy(server, 'ask'));
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    fs.writeFileSync(path.join(ws, 'greet.js'), GREET);
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  it('shows the route plan before anything leaves, streams the answer, and applies the fs.edit approved on the terminal', async () => {
    server.script(streamedAnswer(['I will rename ', 'the greeting ', 'for you.'], [renameEdit('greet.js', '"hello "', '"welcome "')], 40));
    const pty = hearthOnPty(['ask', 'rename the greeting to welcome', '--file', path.join(ws, 'greet.js'), '--selection', `${path.join(ws, 'greet.js')}:2-2`, '--workspace', ws], h.env);
    try {
      await pty.waitScreen('the egress confirmation', /send it: \[o\]nce/);
      const screen = pty.screen();
      assert.equal(server.requests.length, 0, 'nothing reached the model before the user confirmed');
      const plan = screen.indexOf('route: cloud · scripted (model scripted-chat), ask by');
      assert.ok(plan >= 0, `the route plan names the provider, location and decision:\n${screen}`);
      assert.ok(plan < screen.indexOf('policy asks before this leaves the machine'), `the plan comes before the confirmation:\n${screen}`);
      for (const role of ['prompt', 'selection', 'file']) assert.match(screen, new RegExp(`\\d+ B  \\w+\\s+${role}\\s`), `the plan lists the ${role} piece:\n${screen}`);
      assert.match(screen, /payload \(\d+ B\):[\s\S]*rename the greeting to welcome/, 'the exact payload is shown before it leaves');
      pty.type('o\r');
      await pty.waitScreen('the streamed answer and the approval prompt', /once \/ session \/ always \/ deny\? /);
      const asked = pty.screen();
      assert.ok(asked.includes('I will rename the greeting for you.'), asked);
      assert.ok(asked.indexOf('I will rename') < asked.indexOf('proposed: fs.edit'), 'the answer streamed before the proposal');
      assert.match(asked, /Hearth: approve fs\.edit\?/);
      assert.match(asked, /requested by hearth-cli \(cli\)/);
      assert.match(asked, /proposed by +scripted-chat-2025 \(scripted\)/);
      assert.match(asked, /-\s+return "hello " \+ name;/);
      assert.match(asked, /\+\s+return "welcome " \+ name;/);
      assert.equal(fs.readFileSync(path.join(ws, 'greet.js'), 'utf8'), GREET, 'nothing is written before the approval');
      pty.type('once\r');
      assert.equal(await pty.exited, 0, pty.screen());
    } finally {
      pty.kill();
    }
    assert.equal(fs.readFileSync(path.join(ws, 'greet.js'), 'utf8'), GREET.replace('"hello "', '"welcome "'), 'the approved edit was applied');
    const body = JSON.parse(server.requests[0]!.body.toString('utf8'));
    assert.equal(body.stream, true, 'the chat was streamed');
    assert.ok(body.tools.some((t: { function: { name: string } }) => t.function.name === 'fs_edit'), 'fs.edit was offered');
    assert.match(JSON.stringify(body.messages), /return \\"hello \\" \+ name;/, 'the selection and the file reached the model');
    const actionId = /fs\.edit ok \(.*greet\.js\)\s+action ([0-9a-f-]{36})/.exec(pty.screen())?.[1];
    assert.ok(actionId, pty.screen());
    const rec = await auditRecord(h, actionId);
    assert.equal(rec.interface.name, 'hearth-cli');
    assert.deepEqual(rec.proposer, { model: 'scripted-chat-2025', provider: 'scripted' });
    assert.equal(rec.decision.by, 'user');
    assert.equal(rec.decision.grant, 'once');

    const [last] = await cliJson<any[]>(h, ['history', 'list', '--json']);
    assert.equal(last.prompt, 'rename the greeting to welcome');
    assert.equal(last.answer, 'I will rename the greeting for you.');
    assert.equal(last.status, 'answered');
    assert.equal(last.provider, 'scripted');
    assert.deepEqual(last.toolCalls, [{ actionId, tool: 'fs.edit', status: 'ok' }]);
    const ledger = await cliJson<any[]>(h, ['egress', 'log', '--json']);
    assert.ok(ledger.some((e) => e.feature === 'chat' && e.provider === 'scripted'), 'the ask is in the egress ledger');
  });

  it('Ctrl-C stops the stream: the model connection is cut before its end, nothing proposed runs, the history says cancelled', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i} `);
    server.script(streamedAnswer(words, [renameEdit('greet.js', 'welcome', 'never')], 250));
    const sent = server.requests.length;
    const pty = hearthOnPty(['ask', 'write a long essay', '--workspace', ws, '--yes'], h.env);
    try {
      await pty.waitScreen('the first streamed words', /word2 /);
      pty.type('\x03');
      assert.equal(await pty.exited, 130, pty.screen());
    } finally {
      pty.kill();
    }
    const screen = pty.screen();
    assert.match(screen, /cancelling the answer/);
    assert.doesNotMatch(screen, /word39/, 'the stream stopped before its end');
    assert.doesNotMatch(screen, /proposed: fs\.edit/);
    const req = server.requests[sent]!;
    await waitFor('the model connection closed early', () => req.cut === true || undefined, 10_000);
    assert.ok(fs.readFileSync(path.join(ws, 'greet.js'), 'utf8').includes('welcome'), 'the edit proposed after the cut never ran');
    const [last] = await cliJson<any[]>(h, ['history', 'list', '--json']);
    assert.equal(last.prompt, 'write a long essay');
    assert.equal(last.status, 'cancelled');
    assert.match(last.answer, /^word0 word1 word2 /);
    assert.doesNotMatch(last.answer, /word39/);
  });

  it('history: list, search and delete (one entry, then all)', async () => {
    const all = await cliJson<any[]>(h, ['history', 'list', '--json']);
    assert.equal(all.length, 2);
    const found = await cliJson<any[]>(h, ['history', 'search', 'GREETING', 'welcome', '--json']);
    assert.deepEqual(found.map((e) => e.prompt), ['rename the greeting to welcome']);
    assert.deepEqual(await cliJson<any[]>(h, ['history', 'search', 'nothing-like-this', '--json']), []);
    const viaAsk = await h.cli(['ask', '--history', 'essay']);
    assert.equal(viaAsk.code, 0, viaAsk.stderr);
    assert.match(viaAsk.stdout, /Q: write a long essay/);
    const del = await h.cli(['history', 'delete', found[0].id]);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /deleted 1 ask from the history/);
    const again = await h.cli(['history', 'delete', found[0].id]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /no ask .* in the history; nothing was deleted \(`hearth history list` shows the ids\)/);
    assert.deepEqual((await cliJson<any[]>(h, ['history', 'list', '--json'])).map((e) => e.prompt), ['write a long essay']);
    const wipe = await h.cli(['history', 'delete', '--all']);
    assert.match(wipe.stdout, /deleted 1 ask/);
    assert.deepEqual(await cliJson<any[]>(h, ['history', 'list', '--json']), []);
  });
});

describe('hearth ask with the embedded default (no chat model): a labelled local answer from memory and the workspace', function () {
  this.timeout(120_000);
  let h: HearthHome;

  before(async () => {
    h = makeHome('ask-offline');
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
  });

  it('answers from the workspace files and memory, says no model answered and how to add one, sends nothing', async () => {
    const ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    fs.mkdirSync(path.join(ws, 'src'));
    fs.writeFileSync(path.join(ws, 'src', 'retry.ts'), 'export const DEFAULTS = {\n  retryLimit: 5,\n  backoffMs: 200,\n};\n');
    fs.writeFileSync(path.join(ws, 'src', 'other.ts'), 'export const colour = "blue";\n');
    fs.writeFileSync(path.join(ws, '.env'), 'RETRY_TOKEN=sk-live-should-never-show-retry\n');
    const mem = await cliIn(h, ['memory', 'add', 'We raised the retry limit to 5 after the outage'], ws);
    assert.equal(mem.code, 0, mem.stderr);
    const r = await cliIn(h, ['ask', 'where is the retry limit set?'], ws);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /route: local · no chat model/, 'the plan says where it runs');
    assert.match(r.stdout, /No chat model answered this \(no chat model is configured\), so nothing was sent anywhere: here is what Hearth found locally/);
    assert.match(r.stdout, /src\/retry\.ts:2: retryLimit: 5,/);
    assert.match(r.stdout, /memory:[0-9a-f-]+ \(hearth-cli\): We raised the retry limit to 5/);
    assert.doesNotMatch(r.stdout, /other\.ts/, 'a file without the words is not listed');
    assert.doesNotMatch(r.stdout, /sk-live/, 'a deny-listed file (.env) is never read');
    assert.match(r.stdout, /add a local chat model: .*Ollama/s);
    assert.match(r.stdout, /`hearth policy check` validates the file/);
    const ledger = await cliJson<any[]>(h, ['egress', 'log', '--json']);
    assert.deepEqual(ledger, [], 'nothing was sent anywhere');
    const [entry] = await cliJson<any[]>(h, ['history', 'list', '--json']);
    assert.equal(entry.status, 'offline');
    assert.equal(entry.provider, null);
  });
});
