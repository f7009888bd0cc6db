// Real Neovim (Debian's 0.7.2) with the Lua plugin, against the real bridge and daemon:
// attach, ghost text from the embedded n-gram engine, accept with Tab, :checkhealth hearth.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  HEARTH_BIN, PLUGIN_DIR, SCREENSHOTS, SEED_CODE, attachScreen, existsSync, ghostMarks, htmlToPng, makeWorld, refuseADownload,
  setupPlugin, skipBecause, startNeovim, typeKeys, waitAttached, waitFor, which, writeWorkspace,
  type HearthWorld, type Nvim, type ScreenGrid,
} from './helpers.js';
import { Lsp, Status } from '../../server/protocol.js';

describe('e2e: Neovim plugin (real nvim, real daemon)', function () {
  this.timeout(120_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;
  let grid: ScreenGrid;
  let ws: string;

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    world = makeWorld('nvim');
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'invoice.ts': SEED_CODE, 'main.ts': 'import { LineItem } from "./types";\n\n' });
    nv = await startNeovim(world.env, ws);
    grid = await attachScreen(nv, 100, 24);
    await nv.nvim.command('edit invoice.ts');
    await nv.nvim.command('edit main.ts');
    await setupPlugin(nv);
    await waitAttached(nv);
  });

  after(async function () {
    await nv?.quit();
    await world?.dispose();
  });

  it('loads the method table generated from server/protocol.ts (test/unit/protocol-generated.test.ts checks its content)', async () => {
    const lua = await nv!.nvim.lua(`local m = require('hearth.protocol'); return { status = m.status, inline = m.lsp.inline_completion }`) as Record<string, string>;
    assert.deepEqual(lua, { status: Status.method, inline: Lsp.inlineCompletion.method });
  });

  it('attaches both buffers to one Hearth client', async () => {
    const attached = await nv!.nvim.lua(`
      local id = require('hearth').client_id()
      local n = 0
      for _, b in ipairs(vim.api.nvim_list_bufs()) do if vim.lsp.buf_is_attached(b, id) then n = n + 1 end end
      return n`) as number;
    assert.equal(attached, 2);
  });

  it('typing shows ghost text from the embedded engine; Tab inserts it', async () => {
    const nvim = nv!.nvim;
    await nvim.command('normal! G');
    await nvim.input('o');
    const typed = 'export function computeInvoiceTotal12(items: LineItem[], taxRate: number): number {\n  const subtotal = items.red';
    await typeKeys(nv!, typed);
    const mark = await waitFor('ghost text extmarks after typing', async () => {
      const marks = await ghostMarks(nv!);
      return marks.find((m) => m.firstLine.length > 0);
    }, 30_000);
    const line = await nvim.line;
    assert.equal(line, '  const subtotal = items.red');
    // The engine learned from invoice.ts (open in another buffer): the suggestion continues it.
    assert.ok(SEED_CODE.includes(`items.red${mark.firstLine}`),
      `ghost text ${JSON.stringify(mark.firstLine)} does not continue the seeded code after "items.red"`);
    assert.equal(mark.col, line.length, 'ghost text is anchored at the cursor');

    // Screenshot while the ghost text is on screen.
    await waitFor('the ghost text to be drawn on the screen', () => grid.text().includes(mark.firstLine.trim().slice(0, 10)), 10_000);
    if (which('chromium')) {
      await htmlToPng(grid.html('Hearth ghost text in Neovim'), path.join(SCREENSHOTS, 'neovim-ghost-text.png'), { width: 960, height: 600 });
    }

    await nvim.input('<Tab>');
    const after = await waitFor('Tab to insert the ghost text', async () => {
      const l = await nvim.line;
      return l !== line ? l : undefined;
    }, 10_000);
    assert.equal(after, line + mark.firstLine);
    assert.equal((await ghostMarks(nv!)).length, 0, 'ghost text is cleared after accepting');
    const cursor = await nvim.window.cursor;
    const lines = mark.moreLines.length;
    if (lines === 0) assert.equal(cursor[1], after.length, 'cursor ends after the inserted text');
  });

  it('moving the cursor or leaving insert mode dismisses the ghost text', async () => {
    const nvim = nv!.nvim;
    await typeKeys(nv!, '\n  return Math.ro');
    await waitFor('ghost text', async () => (await ghostMarks(nv!)).length > 0 || undefined, 30_000);
    await nvim.input('<Left>');
    await waitFor('the ghost text to disappear after <Left>', async () => (await ghostMarks(nv!)).length === 0 || undefined, 5_000);
    await nvim.input('<End>');
    await typeKeys(nv!, 'u');
    await waitFor('ghost text', async () => (await ghostMarks(nv!)).length > 0 || undefined, 30_000);
    await nvim.input('<Esc>');
    await waitFor('the ghost text to disappear after <Esc>', async () => (await ghostMarks(nv!)).length === 0 || undefined, 5_000);
    // Tab in insert mode without ghost text stays a Tab.
    await nvim.command('normal! G');
    await nvim.input('o<Tab>x<Esc>');
    const literal = await waitFor('the new line to be complete', async () => {
      const mode = await nvim.mode;
      return mode.mode === 'n' ? await nvim.line : undefined;
    }, 5_000);
    assert.match(literal, /^ *\tx$/, 'Tab without ghost text inserts a tab');
  });

  it('reports the route of the last completion (hearth/route/current) and :Hearth status works', async () => {
    const route = await nv!.nvim.lua(`return require('hearth').route()`) as { location: string; provider: string; model: string } | null;
    assert.ok(route, 'no hearth/route/current notification arrived');
    assert.equal(route.location, 'local');
    const status = await nv!.nvim.lua(`
      local done, out = false, nil
      require('hearth').status(function(err, s) out = err and { error = err.message } or s; done = true end)
      vim.wait(10000, function() return done end, 20)
      return out`) as { clients?: unknown[]; error?: string };
    assert.ok(!status.error, status.error);
    assert.ok(Array.isArray(status.clients) && status.clients.length >= 1);
  });

  it(':Hearth explain: the route plan lists the other open buffer as a context piece', async () => {
    const nvim = nv!.nvim;
    const res = await nvim.lua(`
      local done, out = false, nil
      require('hearth').explain(function(err, plan) out = err and { error = err.message } or plan; done = true end)
      vim.wait(10000, function() return done end, 20)
      if out and not out.error then
        out.lines = require('hearth').format_plan(out, vim.lsp.util.make_position_params())
      end
      return out`) as { error?: string; route: { location: string }; pieces: { source: { uri?: string; role?: string } }[]; lines: string[]; text?: string[] };
    assert.ok(!res.error, res.error);
    assert.equal(res.route.location, 'local');
    const seedUri = `file://${path.join(ws, 'invoice.ts')}`;
    assert.ok(res.pieces.some((p) => p.source.uri === seedUri), JSON.stringify(res.pieces));
    assert.ok(res.lines.some((l) => /^\s+\d+ B\s+code\s+other buffer\s+file:/.test(l) && l.includes('invoice.ts')), res.lines.join('\n'));
    // What Neovim shows under its heading is the daemon's rendering, line for line (issue 12: clients only render).
    assert.ok(Array.isArray(res.text) && res.text.length > 3, 'the daemon sends the plan as text');
    assert.deepEqual(res.lines.slice(1), res.text);
    // The command form opens the plan in a scratch split.
    await nvim.command('Hearth explain');
    const shown = await waitFor('the plan buffer', async () => {
      const name = await nvim.buffer.name;
      return name.endsWith('hearth://route-plan') ? await nvim.buffer.lines : undefined;
    }, 10_000);
    assert.match(shown[0] ?? '', /^Hearth route plan for file:/);
    await nvim.command('close');
  });

  it(':Hearth egress: the egress ledger in a split, each attempt on a line as `hearth egress log` prints it', async () => {
    const nvim = nv!.nvim;
    // Something for the ledger: a download the user policy refuses (the host is never contacted).
    await refuseADownload(world, 'http://127.0.0.1:9/nvim-blocked.gguf');
    const cli = spawnSync(HEARTH_BIN, ['egress', 'log'], { env: world.env, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    await nvim.command('Hearth egress');
    const shown = await waitFor('the egress log buffer', async () => {
      const name = await nvim.buffer.name;
      return name.endsWith('hearth://egress-log') ? await nvim.buffer.lines : undefined;
    }, 10_000);
    assert.match(shown[0] ?? '', /^Hearth egress log: [1-9]\d* attempt\(s\), newest first/);
    const line = shown.find((l) => l.includes('download:127.0.0.1:9'));
    assert.ok(line, shown.join('\n'));
    assert.match(line, /denied\s+model-download -> download:127\.0\.0\.1:9 /);
    // The same words as the CLI: the plugin's formatter and server/format.ts agree.
    assert.deepEqual(shown.slice(2), cli.stdout.trimEnd().split('\n'));
    await nvim.command('close');
  });

  it(':checkhealth hearth reports OK for the CLI, the daemon, the socket directory', async () => {
    const nvim = nv!.nvim;
    await nvim.command('checkhealth hearth');
    const text = (await nvim.buffer.lines).join('\n');
    assert.doesNotMatch(text, /ERROR/, text);
    for (const expect of [/OK:? .*CLI: /, /OK:? .*daemon /, /OK:? .*this Neovim is attached/, /OK:? .*socket directory .* mode 700/, /OK:? .*last completion: local/]) {
      assert.match(text, expect, text);
    }
  });

  it('the plugin source uses no API newer than Neovim 0.7.2', () => {
    const files = ['lua/hearth/init.lua', 'lua/hearth/health.lua', 'lua/hearth/protocol.lua', 'lua/hearth/ask.lua', 'plugin/hearth.lua'];
    for (const f of files) {
      const src = readFileSync(path.join(PLUGIN_DIR, f), 'utf8').split('\n').filter((l) => !l.trim().startsWith('--')).join('\n');
      for (const banned of [/vim\.lsp\.start\s*\(/, /LspAttach/, /vim\.fs\./, /vim\.uv\./, /vim\.system\s*\(/, /'inline'/]) {
        assert.doesNotMatch(src, banned, `${f} uses ${banned}`);
      }
    }
  });
});
