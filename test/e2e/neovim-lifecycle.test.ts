// Real Neovim 0.7.2 with the plugin, against the real bridge and daemon (issue 13, must show 3):
//   - `hearth stop` while Neovim is attached: no daemon 10 s later (the bridge used to start a new
//     one within ~4 s), Neovim shows why (the message is read back from :messages), and
//     `hearth import` then works;
//   - a daemon that cannot start (0755 home): Neovim shows the cause and the fix, and
//     `:checkhealth hearth` names the same cause instead of "no daemon running".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import {
  HEARTH_BIN, existsSync, makeWorld, processesWithEnv, setupPlugin, skipBecause, startNeovim, waitAttached, waitFor, which,
  writeWorkspace, type HearthWorld, type Nvim,
} from './helpers.js';

const hearth = (world: HearthWorld, args: string[]) => spawnSync(process.execPath, [HEARTH_BIN, ...args], { env: world.env, encoding: 'utf8', timeout: 30_000 });

describe('e2e: Neovim and the daemon lifecycle (hearth stop, a start failure)', function () {
  this.timeout(120_000);
  const worlds: HearthWorld[] = [];
  const nvims: Nvim[] = [];

  before(function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
  });
  after(async () => {
    for (const n of nvims) await n.quit();
    for (const w of worlds) await w.dispose();
  });

  async function open(label: string, before?: (w: HearthWorld) => void): Promise<{ world: HearthWorld; nv: Nvim }> {
    const world = makeWorld(label);
    worlds.push(world);
    before?.(world);
    const ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'main.ts': 'export const answer = 42;\n' });
    const nv = await startNeovim(world.env, ws);
    nvims.push(nv);
    await nv.nvim.command('edit main.ts');
    await setupPlugin(nv);
    return { world, nv };
  }

  const messages = async (nv: Nvim): Promise<string> => String(await nv.nvim.call('execute', ['messages']));

  it('`hearth stop` with Neovim attached: no daemon 10 s later, Neovim says why, `hearth import` works', async () => {
    const { world, nv } = await open('nvim-stop');
    await waitAttached(nv);
    const home = world.env.HEARTH_HOME!;
    const exported = path.join(world.dir, 'state.json');
    const exp = hearth(world, ['export', exported]);
    assert.equal(exp.status, 0, exp.stderr);

    const stop = hearth(world, ['stop']);
    assert.equal(stop.status, 0, stop.stderr);
    const said = await waitFor('Neovim to show why Hearth went away', async () => {
      const m = await messages(nv);
      return /Hearth was stopped/.test(m) ? m : undefined;
    }, 10_000, 200);
    assert.match(said, /\[hearth\] Hearth was stopped \([^)]*\); run `hearth start` or reopen the editor/);

    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      const daemons = processesWithEnv('HEARTH_HOME', home).filter((pid) => {
        try {
          return spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout.split('\0').includes('daemon');
        } catch {
          return false;
        }
      });
      assert.deepEqual(daemons, [], `a daemon runs ${Date.now() - t0} ms after hearth stop`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const status = hearth(world, ['status']);
    assert.notEqual(status.status, 0, `a daemon answers after hearth stop:\n${status.stdout}`);
    const imp = hearth(world, ['import', '--force', exported]);
    assert.equal(imp.status, 0, `hearth import after hearth stop failed:\n${imp.stdout}\n${imp.stderr}`);
    // The LSP client is still alive in Neovim (it was not torn down by the stop).
    const alive = await nv.nvim.lua(`local c = vim.lsp.get_client_by_id(require('hearth').client_id()); return c ~= nil and not c.is_stopped()`);
    assert.equal(alive, true);
  });

  it('a daemon that cannot start (0755 home): Neovim shows the cause and the fix, and :checkhealth hearth names it', async () => {
    const { nv, world } = await open('nvim-0755', (w) => chmodSync(w.env.HEARTH_HOME!, 0o755));
    const home = world.env.HEARTH_HOME!;
    const said = await waitFor('Neovim to show the start failure', async () => {
      const m = await messages(nv);
      return /Hearth could not start/.test(m) ? m : undefined;
    }, 10_000, 200);
    assert.match(said, new RegExp(`${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has mode 0755`));
    assert.match(said, /chmod 700/);
    await nv.nvim.command('checkhealth hearth');
    const text = (await nv.nvim.buffer.lines).join('\n');
    assert.match(text, /ERROR:? .*has mode 0755; group or others can reach it/, text);
    assert.match(text, /chmod 700/, text);
    assert.doesNotMatch(text, /no Hearth daemon is running/, text);
  });
});
