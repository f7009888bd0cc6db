// Real Neovim (Debian's 0.7.2) with the plugin's default approval UI (approval_ui = 'split'),
// against the real daemon (issue 11, "approvals bound to a live requester"): the daemon's
// hearth/tool/approve says answerLater, the plugin answers `pending` at once and shows the split
// without blocking — Neovim keeps answering RPC and the user keeps typing — and:
//   - `:Hearth approve once` answers it: the action runs and the audit names Neovim as approver;
//   - the requester (the `hearth tool run` CLI) killed while the split shows: the daemon withdraws
//     the approval, hearth/approvals/settled closes the split within 1 s, `hearth approve` lists
//     nothing, answering the stale id runs nothing, and the audit says withdrawn, not a denial;
//   - answered elsewhere (`hearth approve --answer deny`): the split closes, nothing runs.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ApprovalsAnswer } from '../../server/protocol.js';
import {
  HEARTH_BIN, auditShow, cliToolRun, existsSync, makeWorld, setupPlugin, skipBecause,
  startNeovim, waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim,
} from './helpers.js';

interface Waiting { actionId: string; tool: string; split: boolean }

describe('e2e: Neovim approval split without blocking, closed when the approval settles (real nvim, real daemon)', function () {
  this.timeout(120_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;
  let ws: string;
  const running: ChildProcess[] = [];

  /** The approvals the plugin shows, and whether each one's split window is open. */
  async function waiting(): Promise<Waiting[]> {
    return await nv!.nvim.lua(`
      local out = {}
      local open = {}
      for _, w in ipairs(vim.api.nvim_list_wins()) do open[vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))] = true end
      for _, a in ipairs(require('hearth').waiting_approvals()) do
        local split = false
        for name in pairs(open) do if name:find('hearth://approval/' .. a.actionId, 1, true) then split = true end end
        out[#out + 1] = { actionId = a.actionId, tool = a.params.tool, split = split }
      end
      return out`) as Waiting[];
  }

  async function splitWindows(): Promise<number> {
    return await nv!.nvim.lua(`
      local n = 0
      for _, w in ipairs(vim.api.nvim_list_wins()) do
        if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w)):find('hearth://approval/', 1, true) then n = n + 1 end
      end
      return n`) as number;
  }

  function pendingInCli(): Array<{ actionId: string }> {
    const r = spawnSync(HEARTH_BIN, ['approve', '--json'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Array<{ actionId: string }>;
  }

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    world = makeWorld('nvim-approval-split');
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'notes.md': '# notes\n' });
    nv = await startNeovim(world.env, ws);
    await nv.nvim.command('edit notes.md');
    await setupPlugin(nv); // the default approval_ui
    await waitAttached(nv);
  });

  after(async function () {
    for (const p of running) if (p.exitCode === null) p.kill('SIGKILL');
    await nv?.quit();
    await world?.dispose();
  });

  it('the split shows without blocking (Neovim answers RPC, typing goes on); :Hearth approve once runs it', async () => {
    const target = path.join(ws, 'approved.txt');
    const run = cliToolRun(world, ws, ['touch', 'approved.txt']);
    running.push(run.proc);
    const [w] = await waitFor('the approval in the Neovim split', async () => {
      const list = await waiting();
      return list.length === 1 && list[0]!.split ? list : undefined;
    }, 60_000, 100);
    assert.equal(w!.tool, 'shell.run');
    // Not blocked: the RPC above answered; now type in insert mode in the user's buffer.
    await nv!.nvim.input('Gotyping goes on<Esc>');
    await waitFor('the typed line in notes.md', async () => ((await nv!.nvim.lua(`return vim.api.nvim_buf_get_lines(0, 0, -1, false)`) as string[]).includes('typing goes on') ? true : undefined), 10_000);
    assert.equal(await nv!.nvim.lua(`return vim.api.nvim_buf_get_name(0):match('notes%.md$') ~= nil`), true, 'the focus stays in the user\'s window');
    assert.equal(existsSync(target), false, 'nothing runs before the answer');
    assert.match(await nv!.nvim.lua(`return vim.g.hearth_route`) as string, /approval waiting: :Hearth approve/);
    const listed = pendingInCli();
    assert.deepEqual(listed.map((p) => p.actionId), [w!.actionId], '`hearth approve` lists the same approval');

    await nv!.nvim.command('Hearth approve once');
    const r = await run.done;
    assert.equal(r.code, 0, `hearth tool run exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(target), `${target} was not created; CLI said:\n${r.stdout}\n${r.stderr}`);
    await waitFor('the split to close after the answer', async () => ((await splitWindows()) === 0 ? true : undefined), 5_000);
    const rec = auditShow(world).find((x) => x.actionId === w!.actionId);
    assert.ok(rec, 'no audit record');
    assert.equal(rec.decision.grant, 'once', JSON.stringify(rec.decision));
    assert.equal(rec.decision.by, 'user', JSON.stringify(rec.decision));
    const st = spawnSync(HEARTH_BIN, ['status', '--json'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
    const nvimClient = (JSON.parse(st.stdout) as { clients: Array<{ id: string; name: string }> }).clients.find((c) => c.name === 'Neovim');
    assert.ok(nvimClient, st.stdout);
    assert.equal(rec.decision.approvedBy, nvimClient.id, 'the approver is Neovim\'s connection');
  });

  it('the requester killed while the split shows: withdrawn everywhere within 1 s, the stale id runs nothing, the audit says withdrawn', async () => {
    const target = path.join(ws, 'planted.txt');
    const run = cliToolRun(world, ws, ['touch', 'planted.txt']);
    running.push(run.proc);
    const [w] = await waitFor('the approval in the Neovim split', async () => {
      const list = await waiting();
      return list.length === 1 && list[0]!.split ? list : undefined;
    }, 60_000, 100);
    run.proc.kill('SIGKILL');
    const t0 = Date.now();
    await waitFor('the split to close once its requester is gone', async () => ((await splitWindows()) === 0 && (await waiting()).length === 0 ? true : undefined), 5_000, 20);
    const closedMs = Date.now() - t0;
    assert.ok(closedMs < 1000, `the split closed ${closedMs} ms after the requester died (must be under 1 s)`);
    assert.deepEqual(pendingInCli(), [], '`hearth approve` still lists the withdrawn approval');
    const msgs = await nv!.nvim.lua(`return require('hearth').deferred_messages()`) as string[];
    const shown = (await nv!.nvim.commandOutput('messages')) as string;
    assert.match(`${msgs.join('\n')}\n${shown}`, /approval for shell\.run withdrawn: .*nothing ran/, 'Neovim says why the split closed');

    // Answering the stale id (as a late keystroke in the split would): refused, nothing runs.
    const stale = await nv!.nvim.lua(`
      local c = vim.lsp.get_client_by_id(require('hearth').client_id())
      local done, out = false, nil
      c.request('${ApprovalsAnswer.method}', { actionId = '${w!.actionId}', choice = 'once' }, function(err, r) out = { err = err and err.message or nil, answered = r and r.answered or nil }; done = true end)
      vim.wait(10000, function() return done end, 20)
      return out`) as { err?: string; answered?: boolean };
    assert.match(String(stale.err), /withdrawn: .*nothing was run/, JSON.stringify(stale));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(target), false, 'answering a withdrawn approval ran the command');
    const rec = auditShow(world).find((x) => x.actionId === w!.actionId);
    assert.ok(rec, 'the withdrawn attempt is audited');
    assert.equal(rec.result.status, 'denied', JSON.stringify(rec.result));
    assert.match(JSON.stringify(rec.decision), /withdrawn/, JSON.stringify(rec.decision));
    assert.notEqual(rec.decision.by, 'user', 'a withdrawal is not a user\'s denial');
  });

  it('answered elsewhere (hearth approve --answer deny): the split closes and nothing runs', async () => {
    const target = path.join(ws, 'denied.txt');
    const run = cliToolRun(world, ws, ['touch', 'denied.txt']);
    running.push(run.proc);
    await waitFor('the approval in the Neovim split', async () => {
      const list = await waiting();
      return list.length === 1 && list[0]!.split ? list : undefined;
    }, 60_000, 100);
    const a = spawnSync(HEARTH_BIN, ['approve', '--answer', 'deny'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /answered: deny/);
    await waitFor('the split to close after the answer elsewhere', async () => ((await splitWindows()) === 0 && (await waiting()).length === 0 ? true : undefined), 5_000, 20);
    const r = await run.done;
    assert.notEqual(r.code, 0, 'a denied tool run exits non-zero');
    assert.equal(existsSync(target), false);
  });
});
