// Real Neovim (0.7.2) and the real daemon: the settings the daemon owns, set in setup{}
// (issue 12, "configuration the daemon owns"). The plugin sends them as initializationOptions and
// answers the daemon's workspace/configuration with them; :Hearth explain then shows this editor's
// budgets. A bad value is refused by setup{}'s own type check for plugin options, and by the daemon
// (a warning through vim.notify) for daemon options.
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  HEARTH_BIN, existsSync, makeWorld, setupPlugin, skipBecause, startNeovim, waitAttached, waitFor, which, writeWorkspace,
  type HearthWorld, type Nvim,
} from './helpers.js';

interface Plan { error?: string; pieces: Array<{ bytes: number; source: { role?: string } }> }

describe('e2e: Neovim setup{} options the daemon reads (completion budgets)', function () {
  this.timeout(120_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    world = makeWorld('nvim-config');
    const ws = path.join(world.dir, 'ws');
    const main = Array.from({ length: 40 }, (_, i) => `const invoiceTotal${i} = computeInvoiceTotal(order${i});`).join('\n') + '\n';
    writeWorkspace(ws, { 'main.ts': main, 'other.ts': 'export function computeInvoiceTotal(order: Order): number { return 0; }\n' });
    nv = await startNeovim(world.env, ws);
    await nv.nvim.command('edit other.ts');
    await nv.nvim.command('edit main.ts');
  });

  after(async function () {
    await nv?.quit();
    await world?.dispose();
  });

  it('setup{ completion_prefix_chars = 150, completion_other_buffers = 0 }: the route plan uses them', async () => {
    await setupPlugin(nv!, ', completion_prefix_chars = 150, completion_other_buffers = 0');
    await waitAttached(nv!);
    await nv!.nvim.command('normal! G');
    const plan = await waitFor('a plan with the small prefix window', async () => {
      const p = await nv!.nvim.lua(`
        local done, out = false, nil
        require('hearth').explain(function(err, plan) out = err and { error = err.message } or plan; done = true end)
        vim.wait(10000, function() return done end, 20)
        return out`) as Plan;
      const prefix = p.pieces?.find((x) => x.source.role === 'prefix');
      return prefix && prefix.bytes <= 150 ? p : undefined;
    }, 20_000, 300);
    assert.ok(!plan.error, plan.error);
    assert.equal(plan.pieces.filter((x) => x.source.role === 'snippet').length, 0, 'completion_other_buffers = 0: no snippet of other.ts');
  });

  it('a daemon option of the wrong type: the daemon warns through vim.notify and keeps its default', async () => {
    await nv!.nvim.lua(`
      _G.hearth_test_notes = {}
      local orig = vim.notify
      vim.notify = function(msg, level) table.insert(_G.hearth_test_notes, tostring(msg)); return orig(msg, level) end`);
    await setupPlugin(nv!, ", completion_max_tokens = 'lots'");
    await waitAttached(nv!);
    const note = await waitFor('the daemon\'s warning about completion_max_tokens', async () => {
      const notes = await nv!.nvim.lua('return _G.hearth_test_notes') as string[];
      return notes.find((n) => n.includes('hearth.completion.maxTokens'));
    }, 20_000, 200);
    assert.match(note, /an integer from 1 to 512/);
    assert.match(note, /completion_max_tokens/, 'the warning names the Neovim option to fix');
  });

  it('a plugin option of the wrong type is refused by setup{} itself, naming the option and what it must be', async () => {
    const err = await nv!.nvim.lua(`
      local ok, e = pcall(require('hearth').setup, { ghost = 'sideways' })
      return ok and 'no error' or tostring(e)`) as string;
    assert.match(err, /hearth\.setup: ghost must be one of 'overlay', 'eol', got "sideways"/);
  });
});
