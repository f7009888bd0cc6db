// Grants and policy layers through the real daemon (issue 6, capabilities): an editor (real bridge)
// runs `shell.run` through `hearth/tool/run` and answers the prompts. Shown:
//   - session: the identical call then runs without a prompt (and a different one still asks);
//     after `hearth stop` and a new daemon it asks again;
//   - always: listed by `hearth grants list --json`; `hearth grants revoke ID` makes it ask again;
//     revoking an unknown id fails with a message;
//   - a workspace `.hearth/policy.yaml` can only tighten: its deny rule beats an always grant with
//     no prompt, its allow rule is ignored (the call still asks);
//   - a session grant ends with the session that made it (issue 11, "Must show" 8): it covers only
//     the editor that answered for its own call, and once that editor detaches it is gone from
//     `hearth grants list` and the same call, from another editor or from the same editor attached
//     again (a new session), asks again. Before, ToolExecutor.endSession had no caller and the grant
//     lived until the daemon stopped.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from '../helpers/daemon.js';
import { cliJson, makeHome, makeWorkspace, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';
import { attachToolEditor, clientIdOf, type ToolEditor } from '../helpers/tools-harness.js';

describe('tool grants and workspace policies through the daemon', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let ws: string;
  let ed: ToolEditor;
  let pid: number;

  before(async () => {
    h = makeHome('grants');
    pid = (await h.spawnDaemon()).pid;
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    ed = await attachToolEditor(h, 'vscode-grants', ws);
  });
  after(async () => {
    await h?.dispose();
  });

  const touch = (name: string) => ed.run('shell.run', { argv: ['touch', name] });

  it('session: the identical call runs without a prompt until the daemon restarts', async () => {
    ed.answers.push('session');
    const first = await touch('s1');
    assert.equal(first.status, 'ok');
    const asked = ed.approvals.length;
    const second = await touch('s1');
    assert.equal(second.status, 'ok');
    assert.equal(second.decision.by, 'grant');
    assert.equal(second.decision.grant, 'session');
    assert.equal(ed.approvals.length, asked, 'no prompt for the identical call');
    ed.answers.push('deny');
    assert.equal((await touch('s2')).status, 'denied', 'a different call still asks');
    assert.equal(ed.approvals.length, asked + 1);
    const grants = await cliJson<any[]>(h, ['grants', 'list', '--json']);
    assert.deepEqual(grants.map((g) => g.scope), ['session']);

    await ed.dispose();
    assert.equal((await h.cli(['stop'])).code, 0);
    await waitFor('the daemon to exit', () => !isAlive(pid));
    pid = (await h.spawnDaemon()).pid;
    ed = await attachToolEditor(h, 'vscode-grants', ws);
    assert.deepEqual(await cliJson<any[]>(h, ['grants', 'list', '--json']), [], 'session grants end with the daemon');
    ed.answers.push('deny');
    const after = await touch('s1');
    assert.equal(after.status, 'denied');
    assert.equal(ed.approvals.length, 1, 'it asked again');
  });

  it('always: listed, and `hearth grants revoke` makes it ask again', async () => {
    ed.answers.push('always');
    assert.equal((await touch('a1')).status, 'ok');
    const grants = await cliJson<any[]>(h, ['grants', 'list', '--json']);
    assert.equal(grants.length, 1);
    const g = grants[0];
    assert.equal(g.scope, 'always');
    assert.equal(g.workspace, ws);
    assert.ok(Date.parse(g.expiresAt) > Date.now() + 80 * 86_400_000, `always grants last grantDays (built-in 90): ${g.expiresAt}`);
    const asked = ed.approvals.length;
    assert.equal((await touch('a1')).decision.by, 'grant');
    assert.equal(ed.approvals.length, asked);

    const bad = await h.cli(['grants', 'revoke', 'no-such-grant']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /no grant no-such-grant/);
    const rv = await h.cli(['grants', 'revoke', g.id]);
    assert.equal(rv.code, 0, rv.stderr);
    assert.deepEqual(await cliJson<any[]>(h, ['grants', 'list', '--json']), []);
    ed.answers.push('always');
    const again = await touch('a1');
    assert.equal(again.decision.by, 'user');
    assert.equal(ed.approvals.length, asked + 1, 'it asked again after the revoke');
  });

  it('a workspace policy only tightens: its deny beats an always grant, its allow is ignored', async () => {
    // a1 holds an always grant from the previous test.
    writeFileAtomic(path.join(ws, '.hearth', 'policy.yaml'), [
      'version: 1',
      'tools:',
      '  rules:',
      '    - name: this repo forbids touching a1',
      '      tool: shell.run',
      '      argv: [touch, a1]',
      '      action: deny',
      '    - name: this repo would like to allow everything',
      '      tool: shell.run',
      '      argv: ["**"]',
      '      action: allow',
      '',
    ].join('\n'));
    fs.rmSync(path.join(ws, 'a1'));
    const asked = ed.approvals.length;
    const denied = await touch('a1');
    assert.equal(denied.status, 'denied');
    assert.equal(denied.decision.by, 'policy');
    assert.match(denied.decision.rule, /this repo forbids touching a1/);
    assert.equal(ed.approvals.length, asked, 'a deny rule is not asked about, and no grant overrides it');
    assert.equal(fs.existsSync(path.join(ws, 'a1')), false);

    ed.answers.push('deny');
    const still = await touch('w1');
    assert.equal(still.status, 'denied');
    assert.equal(still.decision.by, 'user', 'the workspace allow rule was ignored: the call asked');
    assert.equal(ed.approvals.length, asked + 1);
  });
  it('a session grant made from one editor is gone after that editor detaches; the same call asks again', async () => {
    const root = fs.realpathSync(makeWorkspace(h, 'ws-session'));
    const x = await attachToolEditor(h, 'vscode-x', root);
    const y = await attachToolEditor(h, 'nvim-y', root);
    try {
      const run = (e: ToolEditor) => e.run('shell.run', { argv: ['touch', 'session-made'] });
      x.answers.push('session');
      const first = await run(x);
      assert.equal(first.status, 'ok', JSON.stringify(first));
      assert.equal(first.decision.grant, 'session');
      const xId = await clientIdOf(h, 'vscode-x');
      const again = await run(x);
      assert.equal(again.decision.by, 'grant', 'X’s identical call runs on its session grant');
      assert.equal(x.approvals.length, 1);
      const grants = await cliJson<any[]>(h, ['grants', 'list', '--json']);
      const session = grants.filter((g) => g.scope === 'session' && g.workspace === root);
      assert.equal(session.length, 1, JSON.stringify(grants));
      assert.equal(session[0].client, xId);
      assert.equal(session[0].requester, xId);

      // Another editor's identical request is not covered by X's session: it asks (Y denies).
      y.answers.push('deny');
      assert.equal((await run(y)).status, 'denied');
      assert.equal(y.approvals.length, 1);

      await x.dispose();
      await waitFor('X to detach', async () => !(await cliJson<{ clients: { name: string }[] }>(h, ['status', '--json'])).clients.some((c) => c.name === 'vscode-x'));
      assert.deepEqual((await cliJson<any[]>(h, ['grants', 'list', '--json'])).filter((g) => g.scope === 'session' && g.workspace === root), [], 'the session grant ended with X’s session');

      y.answers.push('deny');
      const fromY = await run(y);
      assert.equal(fromY.status, 'denied');
      assert.equal(fromY.decision.by, 'user', 'Y was asked again');
      assert.equal(y.approvals.length, 2);

      // X attached again (as after an editor restart or a bridge reconnect) is a new session: it asks again.
      const x2 = await attachToolEditor(h, 'vscode-x', root);
      try {
        x2.answers.push('deny');
        const fromX2 = await run(x2);
        assert.equal(fromX2.decision.by, 'user');
        assert.equal(x2.approvals.length, 1, 'asked again');
      } finally {
        await x2.dispose();
      }
    } finally {
      await x.dispose();
      await y.dispose();
    }
  });
});
