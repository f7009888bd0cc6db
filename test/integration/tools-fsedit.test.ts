// fs.edit through the real daemon (issue 6, "Must show" 3): an editor (real bridge) sends
// `hearth/tool/run` with a unified diff, and a scripted model proposes a search/replace edit through
// `hearth/task`. The approval the editor receives shows the diff; deny leaves the file alone;
// approving changes it; `hearth audit show ACTION --json` holds the diff; `hearth tool undo ACTION`
// restores the file byte for byte (and is recorded), refuses a second undo, and refuses to throw
// away changes made after the edit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { makeHome, makeWorkspace, type HearthHome } from '../helpers/routing-harness.js';
import {
  attachToolEditor, auditAll, auditRecord, openAIToolCalls, toolsUserPolicy, writeUserPolicy, type ToolEditor,
} from '../helpers/tools-harness.js';

const ORIGINAL = [
  'export function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  '',
  'export const answer = 42;',
  '',
].join('\n');

const DIFF = [
  '--- a/src/math.ts',
  '+++ b/src/math.ts',
  '@@ -1,3 +1,4 @@',
  ' export function add(a: number, b: number): number {',
  '-  return a + b;',
  '+  // checked by the daemon',
  '+  return b + a;',
  ' }',
  '',
].join('\n');

const EDITED = ORIGINAL.replace('  return a + b;\n', '  // checked by the daemon\n  return b + a;\n');

describe('fs.edit through the daemon: diff in the approval, audit, undo', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let ws: string;
  let file: string;
  let ed: ToolEditor;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('fsedit');
    await writeUserPolicy(h, toolsUserPolicy(server));
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    file = path.join(ws, 'src', 'math.ts');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, ORIGINAL, { mode: 0o640 });
    fs.chmodSync(file, 0o640);
    ed = await attachToolEditor(h, 'vscode-edit', ws);
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  it('the approval shows the diff; deny leaves the file as it was', async () => {
    ed.answers.push('deny');
    const r = await ed.run('fs.edit', { path: 'src/math.ts', diff: DIFF });
    assert.equal(r.status, 'denied');
    const a = ed.approvals.at(-1)!;
    assert.equal(a.tool, 'fs.edit');
    assert.equal(a.path, file);
    assert.ok(a.diff, 'the approval carries the diff');
    assert.match(a.diff, /^-  return a \+ b;$/m);
    assert.match(a.diff, /^\+  return b \+ a;$/m);
    assert.match(a.diff, /^\+  \/\/ checked by the daemon$/m);
    assert.match(a.diff, /src\/math\.ts/);
    assert.equal(fs.readFileSync(file, 'utf8'), ORIGINAL);
    const rec = await auditRecord(h, r.actionId);
    assert.deepEqual(rec.filesChanged, [], 'a denied edit changed nothing');
  });

  it('approving changes the file; the audit record holds the diff; undo restores it byte for byte', async () => {
    ed.answers.push('once');
    const r = await ed.run('fs.edit', { path: 'src/math.ts', diff: DIFF });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const shown = ed.approvals.at(-1)!.diff!;
    assert.equal(fs.readFileSync(file, 'utf8'), EDITED);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');

    const rec = await auditRecord(h, r.actionId);
    assert.equal(rec.tool, 'fs.edit');
    assert.equal(rec.decision.outcome, 'allowed');
    assert.equal(rec.decision.grant, 'once');
    assert.equal(rec.interface.name, 'vscode-edit');
    assert.equal(rec.filesChanged.length, 1);
    assert.equal(rec.filesChanged[0].path, file);
    assert.equal(rec.filesChanged[0].diff, shown, 'the audit holds exactly the diff the user approved');

    const u = await h.cli(['tool', 'undo', r.actionId]);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.match(u.stdout, /^ok \(fs\.undo/);
    assert.equal(fs.readFileSync(file, 'utf8'), ORIGINAL, 'undo restored the file');
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    const all = await auditAll(h);
    const undoRec = all.at(-1);
    assert.equal(undoRec.tool, 'fs.undo');
    assert.deepEqual(undoRec.args, { actionId: r.actionId });
    assert.equal(undoRec.interface.kind, 'cli');
    assert.match(undoRec.filesChanged[0].diff, /^\+  return a \+ b;$/m, 'the undo record holds the reverse diff');

    const again = await h.cli(['tool', 'undo', r.actionId]);
    assert.notEqual(again.code, 0);
    assert.match(again.stdout + again.stderr, /already undone/);
    assert.equal(fs.readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('undo refuses when the file changed after the edit, and keeps those changes', async () => {
    ed.answers.push('once');
    const r = await ed.run('fs.edit', { path: 'src/math.ts', diff: DIFF });
    assert.equal(r.status, 'ok');
    const later = `${EDITED}// the user's own change\n`;
    fs.writeFileSync(file, later);
    const u = await h.cli(['tool', 'undo', r.actionId]);
    assert.notEqual(u.code, 0);
    assert.match(u.stdout + u.stderr, /has changed since/);
    assert.equal(fs.readFileSync(file, 'utf8'), later);
    fs.writeFileSync(file, ORIGINAL);
  });

  it('a model-proposed edit (hearth/task, search/replace) shows its diff, applies, and undoes', async () => {
    ed.answers.push('once');
    server.script(openAIToolCalls([{ tool: 'fs.edit', args: { path: 'src/math.ts', edits: [{ search: 'answer = 42', replace: 'answer = 43' }] } }]));
    const t = await ed.task('bump the answer');
    const [c] = t.toolCalls;
    assert.equal(c!.status, 'ok', JSON.stringify(c));
    const a = ed.approvals.at(-1)!;
    assert.deepEqual(a.proposer, { model: 'scripted-agent-2025', provider: 'scripted' });
    assert.match(a.diff!, /^-export const answer = 42;$/m);
    assert.match(a.diff!, /^\+export const answer = 43;$/m);
    assert.equal(fs.readFileSync(file, 'utf8'), ORIGINAL.replace('42', '43'));
    const rec = await auditRecord(h, c!.actionId);
    assert.equal(rec.filesChanged[0].diff, a.diff);
    assert.deepEqual(rec.proposer, { model: 'scripted-agent-2025', provider: 'scripted' });
    const u = await h.cli(['tool', 'undo', c!.actionId]);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.equal(fs.readFileSync(file, 'utf8'), ORIGINAL);
  });
});
