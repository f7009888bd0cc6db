// Real Neovim (Debian's 0.7.2) with the Lua plugin, against the real daemon, for the two things an
// editor does besides completing (issues 6 and 7):
//   - tool approvals: another client (the `hearth tool run` CLI) asks for shell.run in the
//     workspace while Neovim is the only attached editor, so the daemon asks Neovim: a diff split
//     shows the argv and vim.ui.select (the built-in inputlist, answered with keys) decides; the
//     action runs sandboxed and the audit log records it. A deny through a replaced vim.ui.select
//     (answering later, as UI plugins do) runs nothing.
//   - memory: `:Hearth remember` on a visual selection writes it with the file and range, and
//     `:Hearth memory [query]` lists it in the quickfix list with its writer and time; a write by
//     another client (the CLI) refreshes that list through hearth/memory/didChange.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  HEARTH_BIN, SCREENSHOTS, attachScreen, auditShow, cliToolRun, existsSync, htmlToPng, makeWorld, setupPlugin, skipBecause,
  startNeovim, waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim, type ScreenGrid,
} from './helpers.js';

describe('e2e: Neovim approves tool actions and shares memory (real nvim, real daemon)', function () {
  this.timeout(120_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;
  let grid: ScreenGrid;
  let ws: string;
  const running: ChildProcess[] = [];

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    world = makeWorld('nvim-actions');
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, {
      'shipping.ts': [
        'export function shippingCost(weightKg: number, zone: Zone): number {',
        '  const base = zone === "domestic" ? 4.5 : 12;',
        '  return Math.round((base + weightKg * 0.8) * 100) / 100;',
        '}',
        '',
      ].join('\n'),
    });
    nv = await startNeovim(world.env, ws);
    grid = await attachScreen(nv, 110, 36);
    await nv.nvim.command('edit shipping.ts');
    // The blocking vim.ui.select path (approval_ui = 'select'); the default split is
    // test/e2e/neovim-approval-split.test.ts.
    await setupPlugin(nv, ", approval_ui = 'select'");
    await waitAttached(nv);
  });

  after(async function () {
    for (const p of running) if (p.exitCode === null) p.kill();
    await nv?.quit();
    await world?.dispose();
  });

  it('an approval asked by the CLI reaches Neovim: diff split + vim.ui.select (inputlist), "once" runs it, the audit records it', async () => {
    const target = path.join(ws, 'approved.txt');
    const run = cliToolRun(world, ws, ['touch', 'approved.txt']);
    running.push(run.proc);
    // The built-in vim.ui.select is inputlist(): it blocks Neovim, so watch the screen (redraw
    // events keep coming) rather than asking Neovim over RPC.
    await waitFor('the approval split and the inputlist prompt on the Neovim screen', () => {
      const text = grid.text();
      return text.includes('$ touch approved.txt') && text.includes('1: Allow once') && text.includes('4: Deny') || undefined;
    }, 60_000, 100);
    const screen = grid.text();
    assert.match(screen, /Hearth: approve shell\.run\?/);
    assert.match(screen, /requested by .*\(cli\)/, screen);
    assert.match(screen, /argv\s+\["touch", ?"approved\.txt"\]/, screen);
    assert.equal(existsSync(target), false, 'nothing runs before the answer');
    if (which('chromium')) await htmlToPng(grid.html('Hearth approval in Neovim'), path.join(SCREENSHOTS, 'approval-neovim.png'), { width: 1000, height: 700 });

    await nv!.nvim.input('1<CR>');
    const r = await run.done;
    assert.equal(r.code, 0, `hearth tool run exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(target), `${target} was not created; CLI said:\n${r.stdout}\n${r.stderr}`);

    // The split is gone after the answer.
    const wins = await waitFor('the approval split to close', async () => {
      const names = await nv!.nvim.lua(`
        local out = {}
        for _, w in ipairs(vim.api.nvim_list_wins()) do out[#out + 1] = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w)) end
        return out`) as string[];
      return names.some((n) => n.includes('hearth://approval/')) ? undefined : names;
    }, 10_000);
    assert.equal(wins.length, 1, JSON.stringify(wins));

    const rec = auditShow(world).find((x) => x.tool === 'shell.run' && JSON.stringify(x.args?.argv) === '["touch","approved.txt"]');
    assert.ok(rec, 'no audit record for touch approved.txt');
    assert.equal(rec.decision.grant, 'once', JSON.stringify(rec.decision));
    assert.equal(rec.decision.by, 'user', JSON.stringify(rec.decision));
    assert.equal(rec.interface.kind, 'cli', 'the audit names the interface that requested it');
    // ... and who approved it: Neovim's connection, not the CLI that asked.
    const st = spawnSync(HEARTH_BIN, ['status', '--json'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
    const nvimClient = (JSON.parse(st.stdout) as { clients: Array<{ id: string; name: string }> }).clients.find((c) => c.name === 'Neovim');
    assert.ok(nvimClient, st.stdout);
    assert.equal(rec.decision.approvedBy, nvimClient.id, JSON.stringify(rec.decision));
    assert.notEqual(rec.decision.approvedBy, rec.interface.clientId);
    assert.equal(rec.result.status, 'ok');
    assert.equal(rec.exitCode, 0);
  });

  it('a replaced vim.ui.select that answers later: the split shows the argv meanwhile; "deny" runs nothing', async () => {
    const nvim = nv!.nvim;
    await nvim.lua(`
      _G.hearth_test_prompts = {}
      vim.ui.select = function(items, opts, on_choice)
        table.insert(_G.hearth_test_prompts, { items = items, prompt = opts.prompt, kind = opts.kind, on_choice = on_choice })
      end`);
    const target = path.join(ws, 'denied.txt');
    const run = cliToolRun(world, ws, ['touch', 'denied.txt']);
    running.push(run.proc);
    const prompt = await waitFor('the approval to reach the replaced vim.ui.select', async () => await nvim.lua(`
      local p = _G.hearth_test_prompts[1]
      if not p then return nil end
      local choices = {}
      for _, it in ipairs(p.items) do choices[#choices + 1] = it.choice end
      local split
      for _, w in ipairs(vim.api.nvim_list_wins()) do
        local b = vim.api.nvim_win_get_buf(w)
        if vim.api.nvim_buf_get_name(b):find('hearth://approval/', 1, true) then split = vim.api.nvim_buf_get_lines(b, 0, -1, false) end
      end
      return { prompt = p.prompt, kind = p.kind, choices = choices, split = split }`) as
      { prompt: string; kind: string; choices: string[]; split?: string[] } | null ?? undefined, 60_000, 100);
    assert.deepEqual(prompt.choices, ['once', 'session', 'always', 'deny']);
    assert.equal(prompt.kind, 'hearth.approval');
    assert.match(prompt.prompt, /^Hearth: allow shell\.run \["touch", ?"denied\.txt"\]\? requested by hearth-cli \(cli\)/, prompt.prompt);
    assert.ok(prompt.split, 'no approval split while the prompt is open');
    assert.ok(prompt.split.includes('$ touch denied.txt'), prompt.split.join('\n'));
    await nvim.lua(`
      local p = table.remove(_G.hearth_test_prompts, 1)
      for _, it in ipairs(p.items) do if it.choice == 'deny' then p.on_choice(it) end end`);
    const r = await run.done;
    assert.match(`${r.stdout}${r.stderr}`, /denied/i);
    assert.equal(existsSync(target), false, 'a denied action must not run');
    const rec = auditShow(world).find((x) => JSON.stringify(x.args?.argv) === '["touch","denied.txt"]');
    assert.equal(rec?.decision.grant, 'deny', JSON.stringify(rec));
  });

  it('honest prompts (issue 11): an argv with U+202E, zero-width joiners and a look-alike ɡit is shown escaped in the split, with highlighted warnings; never raw', async () => {
    const nvim = nv!.nvim;
    // A vim.ui.select that answers later (as UI plugins do), so the split can be read meanwhile.
    await nvim.lua(`
      _G.hearth_test_prompts = {}
      _G.hearth_test_orig_select = _G.hearth_test_orig_select or vim.ui.select
      vim.ui.select = function(items, opts, on_choice)
        table.insert(_G.hearth_test_prompts, { items = items, prompt = opts.prompt, on_choice = on_choice })
      end`);
    const forged = ['\u0261it', 'push', 'origin\u200D\u200D', '\u202Eniam'];
    const run = cliToolRun(world, ws, forged);
    running.push(run.proc);
    const seen = await waitFor('the forged approval in the split and the prompt', async () => await nvim.lua(`
      local p = _G.hearth_test_prompts[1]
      if not p then return nil end
      for _, w in ipairs(vim.api.nvim_list_wins()) do
        local b = vim.api.nvim_win_get_buf(w)
        if vim.api.nvim_buf_get_name(b):find('hearth://approval/', 1, true) then
          local ns = vim.api.nvim_create_namespace('hearth_approval_warnings')
          local hl = {}
          for _, m in ipairs(vim.api.nvim_buf_get_extmarks(b, ns, 0, -1, { details = true })) do hl[#hl + 1] = { row = m[2], group = m[4].hl_group } end
          return { prompt = p.prompt, split = vim.api.nvim_buf_get_lines(b, 0, -1, false), hl = hl }
        end
      end
      return nil`) as { prompt: string; split: string[]; hl: Array<{ row: number; group: string }> } | null ?? undefined, 60_000, 100);
    const shown = '["\\u{0261}it", "push", "origin\\u{200D}\\u{200D}", "\\u{202E}niam"]';
    const warnings = [
      `argv[0] contains U+0261 LATIN SMALL LETTER SCRIPT G, looks like 'g' (in "\\u{0261}it")`,
      'argv[2] contains U+200D ZERO WIDTH JOINER, an invisible character (2 times)',
      'argv[3] contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control that reorders how the text around it is shown',
    ];
    const split = seen.split;
    assert.equal(split[0], 'Hearth: approve shell.run?');
    assert.match(split[1]!, /^!! WARNING: 3 things in this request can disguise what it does/);
    assert.deepEqual(split.slice(2, 5), warnings.map((w) => `!!   ${w}`), split.join('\n'));
    assert.ok(split.includes(`  argv         ${shown}`), split.join('\n'));
    assert.ok(split.includes("$ '\\u{0261}it' push 'origin\\u{200D}\\u{200D}' '\\u{202E}niam'"), split.join('\n'));
    assert.doesNotMatch(split.join('\n'), /[\u0261\u200D\u202E]/u, 'a raw character reached the split');
    // The warning lines (and only they) are drawn in ErrorMsg.
    assert.deepEqual(seen.hl.map((h) => [h.row, h.group]), [[1, 'ErrorMsg'], [2, 'ErrorMsg'], [3, 'ErrorMsg'], [4, 'ErrorMsg']]);
    // The prompt says so too, and carries the escaped argv.
    assert.ok(seen.prompt.startsWith('!! 3 WARNINGS (see the split) !! Hearth: allow shell.run ' + shown + '?'), seen.prompt);
    assert.doesNotMatch(seen.prompt, /[\u0261\u200D\u202E]/u);
    // What the screen really shows: the escaped forms, in the error colour, and no raw character.
    await waitFor('the split on the screen', () => grid.text().includes('!! WARNING: 3 things') || undefined, 10_000);
    const screen = grid.text();
    assert.ok(screen.includes('\\u{0261}it'), screen);
    assert.ok(screen.includes('\\u{202E}niam'), screen);
    assert.ok(screen.includes("$ '\\u{0261}it' push"), `the command line is not on the screen:\n${screen}`);
    assert.doesNotMatch(screen, /[\u0261\u200D\u202E]/u, screen);
    const row = grid.cells.findIndex((r) => r.map((c) => c.text).join('').startsWith('!! WARNING'));
    const plain = grid.cells.findIndex((r) => r.map((c) => c.text).join('').startsWith('  proposed by'));
    assert.ok(row >= 0 && plain >= 0, screen);
    assert.notDeepEqual(grid.attrs.get(grid.cells[row]![0]!.hl) ?? {}, grid.attrs.get(grid.cells[plain]![2]!.hl) ?? {}, 'the warning line is drawn like any other line');
    if (which('chromium')) await htmlToPng(grid.html('Hearth approval in Neovim: a forged argv'), path.join(SCREENSHOTS, 'approval-neovim-forged.png'), { width: 1000, height: 700 });
    await nvim.lua(`
      local p = table.remove(_G.hearth_test_prompts, 1)
      for _, it in ipairs(p.items) do if it.choice == 'deny' then p.on_choice(it) end end
      vim.ui.select = _G.hearth_test_orig_select`);
    const r = await run.done;
    assert.match(`${r.stdout}${r.stderr}`, /denied/i);
    const rec = auditShow(world).find((x) => JSON.stringify(x.args?.argv) === JSON.stringify(forged));
    assert.equal(rec?.decision.grant, 'deny', JSON.stringify(rec));
  });

  it(':Hearth remember on a visual selection writes it with file and range; :Hearth memory lists it in the quickfix list', async () => {
    const nvim = nv!.nvim;
    await nvim.command('only');
    await nvim.command('edit shipping.ts');
    // Select "Math.round(...) / 100;" on line 3 (charwise, to the end of the line) and remember it.
    await nvim.callFunction('cursor', [3, 10]);
    await nvim.input('v');
    await nvim.input('$');
    await nvim.input(':Hearth remember<CR>');
    const item = await waitFor('hearth/memory/add to answer', async () => {
      const r = await nvim.lua(`
        local done, out = false, nil
        require('hearth').memory(nil, { open = false }, function(err, items) out = err and { error = err.message } or items; done = true end)
        vim.wait(10000, function() return done end, 20)
        return out`) as Array<{ text: string; kind: string; file: { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } }; client: { name: string } }> | { error: string };
      if (!Array.isArray(r)) throw new Error(r.error);
      return r[0];
    }, 20_000, 200);
    assert.equal(item.text, 'Math.round((base + weightKg * 0.8) * 100) / 100;');
    assert.equal(item.kind, 'snippet');
    assert.equal(item.file.uri, `file://${path.join(ws, 'shipping.ts')}`);
    const line3 = '  return Math.round((base + weightKg * 0.8) * 100) / 100;';
    assert.deepEqual(item.file.range, { start: { line: 2, character: 9 }, end: { line: 2, character: line3.length } });
    assert.equal(item.client.name, 'Neovim');

    // The current line without a selection, as a decision.
    await nvim.callFunction('cursor', [2, 1]);
    await nvim.command('Hearth remember decision');
    await nvim.command('Hearth memory');
    const qf = await waitFor('the quickfix list to hold both items', async () => {
      const info = await nvim.lua(`
        local l = vim.fn.getqflist({ title = 0, items = 0 })
        local out = { title = l.title, items = {} }
        for _, e in ipairs(l.items) do out.items[#out.items + 1] = { text = e.text, lnum = e.lnum, col = e.col, file = e.bufnr > 0 and vim.api.nvim_buf_get_name(e.bufnr) or '' } end
        return out`) as { title: string; items: Array<{ text: string; lnum: number; col: number; file: string }> };
      return info.items.length === 2 ? info : undefined;
    }, 20_000, 200);
    assert.equal(qf.title, 'Hearth memory');
    const [newest, older] = qf.items;
    assert.match(newest!.text, /^\[decision\] const base = zone === "domestic" \? 4\.5 : 12; — Neovim \S+, \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, newest!.text);
    assert.match(older!.text, /^\[snippet\] Math\.round\(\(base \+ weightKg \* 0\.8\) \* 100\) \/ 100; — Neovim /, older!.text);
    assert.equal(older!.file, path.join(ws, 'shipping.ts'));
    assert.deepEqual([older!.lnum, older!.col], [3, 10]);

    // Search narrows it to the matching item.
    await nvim.command('Hearth memory weightKg');
    const searched = await waitFor('the search results in the quickfix list', async () => {
      const l = await nvim.lua(`local l = vim.fn.getqflist({ title = 0, items = 0 }) return { title = l.title, n = #l.items, first = l.items[1] and l.items[1].text or '' }`) as { title: string; n: number; first: string };
      return l.title === 'Hearth memory: weightKg' ? l : undefined;
    }, 20_000, 200);
    assert.equal(searched.n, 1);
    assert.match(searched.first, /weightKg \* 0\.8/);

    // Another client's write (the CLI) reaches Neovim as hearth/memory/didChange and refreshes
    // the list on screen.
    await nvim.command('Hearth memory');
    await waitFor('the full list again', async () => (await nvim.lua('return #vim.fn.getqflist()')) === 2 || undefined, 20_000, 200);
    const add = spawnSync(HEARTH_BIN, ['memory', 'add', 'Zones other than domestic pay the international base rate', '--kind', 'decision', '--workspace', ws],
      { env: world.env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(add.status, 0, add.stderr);
    const refreshed = await waitFor('the quickfix list to refresh after the CLI wrote', async () => {
      const first = await nvim.lua(`local l = vim.fn.getqflist() return #l == 3 and l[1].text or nil`) as string | null;
      return first ?? undefined;
    }, 20_000, 200);
    assert.match(refreshed, /^\[decision\] Zones other than domestic pay the international base rate — hearth-cli /, refreshed);
  });
});
