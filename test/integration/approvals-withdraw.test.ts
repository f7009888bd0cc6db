// Approvals and egress confirmations belong to a live requester (issue 11): through the real daemon,
// real bridges and the real CLI.
//   - `hearth tool run` (no terminal: its approval goes to the attached editor) is killed with
//     SIGKILL while the approval is open: the editor's prompt gets $/cancelRequest, `hearth approve`
//     no longer lists it, `hearth approve --answer once` finds nothing, a late "once" from the
//     editor's panel runs nothing, and the audit says "withdrawn: requester disconnected"
//     (decision.by withdrawn) — before, the approval stayed pending and answering it ran the command;
//   - an editor whose completion waits for an egress confirmation detaches: nothing reaches the
//     (scripted, 127.0.0.1) provider and the ledger says cancelled "withdrawn: requester
//     disconnected" — before, it was recorded as "declined by the user".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HEARTH_BIN, sleep } from '../helpers/daemon.js';
import { attachEditor, cliJson, makeHome, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { attachToolEditor } from '../helpers/tools-harness.js';

describe('approvals and egress confirmations are withdrawn when their requester goes away', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let ws: string;

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('withdraw');
    // A cloud provider for completions (the scripted server on 127.0.0.1); workspaces below say ask.
    writeFileAtomic(userPolicyFile(h), [
      'version: 1',
      'default:',
      '  cloud: allow',
      'providers:',
      '  - id: scripted',
      '    kind: openai',
      `    baseUrl: ${server.url}`,
      '    model: scripted-coder',
      '    location: cloud',
      '    features: [completion]',
      'routes:',
      '  completion: [scripted, ngram]',
      '',
    ].join('\n'));
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    await h.spawnDaemon();
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  it('`hearth tool run` killed while its approval is open: withdrawn everywhere, the stale id runs nothing', async () => {
    const ed = await attachToolEditor(h, 'vscode-watching', ws);
    try {
      ed.fallback = 'hang';
      const cli = spawn(process.execPath, [HEARTH_BIN, 'tool', 'run', 'shell.run', '{"argv":["touch","killed-marker"]}', '--workspace', ws], { env: h.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise((r) => cli.once('exit', r));
      await waitFor('the approval to reach the editor', () => ed.hanging === 1, 20_000);
      const actionId = ed.approvals[0]!.actionId;
      assert.equal(ed.approvals[0]!.requester.kind, 'cli');
      assert.deepEqual((await cliJson<any[]>(h, ['approve', '--json'])).map((p) => p.actionId), [actionId]);

      const t0 = Date.now();
      cli.kill('SIGKILL');
      await exited;
      await waitFor('the editor’s prompt to be withdrawn', () => ed.withdrawn.includes(actionId), 5000, 10);
      assert.ok(Date.now() - t0 < 1000, `withdrawn ${Date.now() - t0} ms after the requester died (limit 1000)`);
      assert.deepEqual(await cliJson<any[]>(h, ['approve', '--json']), []);
      const late = await h.cli(['approve', '--answer', 'once']);
      assert.match(late.stdout, /no approvals are waiting/);
      ed.release('once'); // a late click in a panel that was still on screen

      const rec = await waitFor('the audit record', async () => (await cliJson<any[]>(h, ['audit', 'show', actionId, '--json']))[0], 20_000);
      assert.equal(rec.interface.kind, 'cli');
      assert.equal(rec.decision.outcome, 'denied');
      assert.equal(rec.decision.by, 'withdrawn');
      assert.equal(rec.decision.approvedBy, null);
      assert.match(rec.result.error, /^withdrawn: requester disconnected; nothing was run/);
      await sleep(500);
      assert.equal(fs.existsSync(path.join(ws, 'killed-marker')), false, 'nothing ran');
    } finally {
      await ed.dispose();
    }
  });

  it('an editor that detaches with an egress confirmation open: nothing is sent, the ledger says withdrawn, not declined', async () => {
    const root = makeWorkspace(h, 'ask-ws');
    writeFileAtomic(path.join(root, '.hearth', 'policy.yaml'), 'version: 1\nrules:\n  - location: cloud\n    action: ask\n');
    const file = path.join(root, 'app.ts');
    const text = '// ask-ws\nexport function add(a: number, b: number): number {\n  \n}\n';
    fs.writeFileSync(file, text);
    const ed = await attachEditor(h, 'vscode-leaving', root);
    ed.fallback = 'hang';
    await ed.open(file, text);
    const requests = server.requests.length;
    const before = (await cliJson<any[]>(h, ['egress', 'log', '--json', '--limit', '1000'])).length;
    void ed.complete(file, 2, 2).catch(() => undefined);
    await waitFor('the confirmation to reach the editor', () => ed.pendingConfirms === 1, 20_000);
    await ed.lsp.dispose();
    const entry = await waitFor('the ledger entry', async () => {
      const entries = await cliJson<Array<{ outcome: string; error: string | null; bytes: number; client: string }>>(h, ['egress', 'log', '--json', '--limit', '1000']);
      return entries.length > before ? entries[0] : undefined;
    }, 20_000);
    assert.equal(entry.outcome, 'cancelled', JSON.stringify(entry));
    assert.match(entry.error ?? '', /withdrawn: requester disconnected/);
    assert.doesNotMatch(entry.error ?? '', /declined by the user/);
    assert.equal(entry.bytes, 0);
    ed.release('once'); // too late: nothing can use it
    await sleep(500);
    assert.equal(server.requests.length, requests, 'nothing was sent');
  });
});
