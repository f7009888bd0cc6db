// A new user's Neovim: an empty HOME, no `hearth` on PATH, and `require('hearth').setup{}` with no
// options. The plugin must find the CLI of the checkout it came from and serve ghost text.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  HEARTH_BIN, ROOT, SEED_CODE, existsSync, ghostMarks, makeWorld, skipBecause, startNeovim, typeKeys, waitAttached, waitFor,
  which, writeWorkspace, type HearthWorld, type Nvim,
} from './helpers.js';

/** PATH without any directory that holds a `hearth` (so only the plugin's own fallback can find it). */
function pathWithoutHearth(p: string | undefined): string {
  return (p ?? '').split(':').filter((d) => d && !existsSync(path.join(d, 'hearth'))).join(':');
}

describe('e2e: Neovim setup{} with no cmd, on an empty HOME, hearth not on PATH', function () {
  this.timeout(120_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (HEARTH_BIN !== path.join(ROOT, 'bin', 'hearth')) skipBecause(this, 'HEARTH_E2E_CLI points at another build; this test is about the checkout\'s own CLI');
    world = makeWorld('nvim-setup');
    const home = path.join(world.dir, 'user-home');
    mkdirSync(home, { mode: 0o700 });
    world.env = { ...world.env, HOME: home, PATH: pathWithoutHearth(world.env.PATH) };
    delete world.env.XDG_CONFIG_HOME;
    delete world.env.XDG_DATA_HOME;
    const ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'invoice.ts': SEED_CODE, 'main.ts': '\n' });
    nv = await startNeovim(world.env, ws);
  });

  after(async function () {
    await nv?.quit();
    await world?.dispose();
  });

  it('finds the checkout\'s bin/hearth, attaches and shows ghost text', async () => {
    const nvim = nv!.nvim;
    assert.equal(await nvim.call('executable', ['hearth']), 0, 'the test PATH must not have hearth on it');
    const cmd = await nvim.lua(`return require('hearth').default_cmd()`) as string[];
    assert.deepEqual(cmd, [path.join(ROOT, 'bin', 'hearth'), 'lsp', '--stdio']);
    await nvim.command('edit invoice.ts');
    await nvim.command('edit main.ts');
    const id = await nvim.lua(`return require('hearth').setup{}`);
    assert.equal(typeof id, 'number', `setup{} returned ${String(id)}`);
    await waitAttached(nv!);
    await nvim.command('normal! G');
    await typeKeys(nv!, 'iexport function computeInvoiceTotal12(items: LineItem[], ta');
    await waitFor('ghost text', async () => ((await ghostMarks(nv!)).length > 0 ? true : undefined), 20_000);
    const marks = await ghostMarks(nv!);
    assert.match(marks[0]!.firstLine, /^xRate/);
    // The daemon it started keeps its state in the world's HEARTH_HOME: the user HOME holds only
    // what Neovim itself writes (its LSP log under ~/.cache/nvim).
    const written = readdirSync(world.env.HOME!, { recursive: true }).map(String)
      .filter((f) => f !== '.cache' && f !== path.join('.cache', 'nvim') && !f.startsWith(path.join('.cache', 'nvim') + path.sep));
    assert.deepEqual(written, []);
  });
});
