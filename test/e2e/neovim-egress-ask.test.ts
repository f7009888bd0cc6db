// Real Neovim (0.7.2) with the Lua plugin, a real daemon and the scripted OpenAI-compatible server
// on 127.0.0.1 as the "cloud" (issue 13, "Must show" 5): the egress ask for completions does not
// block. It appears in a float while typing goes on (ghost text from the n-gram engine meanwhile,
// the statusline says why), no keystroke answers it, `:Hearth allow once` lets exactly the next
// completion go to the cloud, and after `:Hearth deny` it does not come back on the next pauses.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  HEARTH_BIN, SEED_CODE, attachScreen, existsSync, ghostMarks, makeWorld, setupPlugin, skipBecause, startNeovim, typeKeys,
  waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim, type ScreenGrid,
} from './helpers.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';

describe('e2e: Neovim egress ask without blocking (real nvim, real daemon, scripted cloud)', function () {
  this.timeout(180_000);
  let world: HearthWorld;
  let server: ScriptedServer;
  let nv: Nvim | undefined;
  let grid: ScreenGrid;

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    server = await startScriptedServer();
    world = makeWorld('nvim-ask');
    const config = path.join(world.env.HEARTH_HOME!, 'config');
    mkdirSync(config, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(config, 'policy.yaml'), [
      'version: 1',
      'default:',
      '  cloud: ask',
      'providers:',
      '  - id: cloud',
      '    kind: openai',
      `    baseUrl: ${server.url}`,
      '    model: scripted-coder',
      '    location: cloud',
      '    features: [completion]',
      'routes:',
      '  completion: [cloud]',
      '',
    ].join('\n'));
    const ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'invoice.ts': SEED_CODE, 'main.ts': 'import { LineItem } from "./types";\n\n' });
    nv = await startNeovim(world.env, ws);
    grid = await attachScreen(nv, 120, 30);
    await nv.nvim.command('edit invoice.ts');
    await nv.nvim.command('edit main.ts');
    await setupPlugin(nv);
    await waitAttached(nv);
    await nv.nvim.command("autocmd User HearthAskShown let g:hearth_asks = get(g:, 'hearth_asks', 0) + 1");
  });

  after(async function () {
    await nv?.quit();
    await world?.dispose();
    await server?.close();
  });

  const asks = async (): Promise<number> => (await nv!.nvim.lua("return vim.g.hearth_asks or 0")) as number;
  const pending = async (): Promise<{ id: string; shown: boolean } | null> =>
    (await nv!.nvim.lua("return require('hearth').pending_ask() or vim.NIL")) as { id: string; shown: boolean } | null;
  const statusline = async (): Promise<string> => (await nv!.nvim.lua("return require('hearth').statusline()")) as string;
  const ghost = async (what: string, pred: (text: string) => boolean): Promise<string> => waitFor(what, async () => {
    const m = (await ghostMarks(nv!)).find((g) => g.firstLine.length > 0 && pred(g.firstLine));
    return m?.firstLine;
  }, 30_000);

  it('the ask shows in a float while typing goes on; the n-gram engine serves meanwhile; a keystroke does not answer it', async () => {
    const nvim = nv!.nvim;
    await nvim.command('normal! G');
    await nvim.input('o');
    await typeKeys(nv!, 'export function computeInvoiceTotal12(items: LineItem[], taxRate: number): number {\n  const subtotal = items.red');
    const ask = await waitFor('the egress ask float', async () => {
      const p = await pending();
      return p?.shown ? p : undefined;
    }, 30_000);
    assert.ok(ask.id, 'the ask has the daemon\'s id');
    await waitFor('the ask on the screen', () => grid.text().includes('Hearth: send') && grid.text().includes(':Hearth allow once') || undefined, 10_000);
    assert.match(grid.text(), /to cloud \(127\.0\.0\.1:\d+\) for completion\?/);
    // Still typing: insert mode, nothing blocking (no inputlist, no "Press ENTER").
    assert.deepEqual(await nvim.mode, { mode: 'i', blocking: false });
    // Ghost text from the local engine while the ask waits; the statusline says why.
    const local = await ghost('ghost text from the n-gram engine while the ask waits', (t) => SEED_CODE.includes(`items.red${t}`));
    assert.ok(local.length > 0);
    await waitFor('the statusline to say the cloud waits for an answer', async () => (await statusline()).includes('local · ngram/ngram-4 (cloud waiting for your answer)') || undefined, 10_000);
    assert.match(await statusline(), /ask waiting: :Hearth allow once \| :Hearth deny$/);

    // A stray keystroke types; it does not answer, and no second ask comes.
    await typeKeys(nv!, 'u');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await pending())?.id, ask.id, 'the ask still waits for an answer');
    assert.equal(await asks(), 1, 'asked once, not on every pause');
    assert.equal(await nvim.line, '  const subtotal = items.redu');
    assert.equal(server.requests.length, 0, 'nothing reached the cloud');
  });

  it(':Hearth allow once lets the next completion go to the cloud, and only that one', async () => {
    const nvim = nv!.nvim;
    await nvim.input('<Esc>');
    await nvim.command('Hearth allow once');
    await waitFor('the float to close after the answer', async () => (await pending()) === null || undefined, 10_000);
    await nvim.input('A');
    await typeKeys(nv!, 'c');
    const cloud = await ghost('ghost text from the cloud after allow once', (t) => t === 'return a + b;');
    assert.equal(cloud, 'return a + b;');
    assert.equal(server.requests.length, 1, 'exactly one request reached the cloud');
    await waitFor('the statusline to show the cloud route', async () => (await statusline()).startsWith('cloud · cloud/scripted-coder') || undefined, 10_000);

    // "once" is used up: the next pause asks again (in the float, still not blocking).
    await typeKeys(nv!, 'e');
    await waitFor('a second ask', async () => ((await asks()) === 2 && (await pending())?.shown) || undefined, 30_000);
    assert.deepEqual(await nvim.mode, { mode: 'i', blocking: false });
    assert.equal(server.requests.length, 1);
  });

  it(':Hearth deny: the n-gram engine serves, the statusline says "cloud declined", and the ask does not come back', async () => {
    const nvim = nv!.nvim;
    await nvim.input('<Esc>');
    await nvim.command('Hearth deny');
    await waitFor('the float to close after the decline', async () => (await pending()) === null || undefined, 10_000);
    await nvim.input('A');
    await typeKeys(nv!, '(');
    const local = await ghost('ghost text from the n-gram engine after the decline', (t) => t !== 'return a + b;');
    assert.ok(local.length > 0);
    await waitFor('the statusline to say the cloud was declined', async () => (await statusline()).includes('local · ngram/ngram-4 (cloud declined)') || undefined, 10_000);
    // More pauses: no ask comes back, nothing is sent.
    for (const ch of ['(', 's']) {
      await typeKeys(nv!, ch);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(await asks(), 2, 'a declined ask does not come back on the next pauses');
    assert.equal(await pending(), null);
    assert.equal(server.requests.length, 1, 'nothing more reached the cloud');
    assert.deepEqual(await nvim.mode, { mode: 'i', blocking: false });
    // `hearth grants` shows the decline (the daemon decided; Neovim only rendered).
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(HEARTH_BIN, ['grants', 'list', '--json'], { env: world.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const grants = JSON.parse(r.stdout) as Array<{ kind: string; grant: string; provider: string; client: string }>;
    assert.deepEqual(grants.filter((g) => g.kind === 'egress').map((g) => [g.grant, g.provider]), [['declined', 'cloud']]);
  });

  it('messages wait for insert mode to end instead of interrupting typing with "Press ENTER"', async () => {
    const nvim = nv!.nvim;
    assert.deepEqual(await nvim.mode, { mode: 'i', blocking: false });
    // A daemon message (what hearth/log carries) arrives while typing, through the plugin's handler.
    await nvim.lua(`
      local c = vim.lsp.get_client_by_id(require('hearth').client_id())
      c.handlers[require('hearth.protocol').log](nil, { level = 'warning', message = 'policy reloaded from the user policy file' })`);
    assert.deepEqual(await nvim.mode, { mode: 'i', blocking: false }, 'typing is not interrupted');
    const held = await nvim.lua("return require('hearth').deferred_messages()") as string[];
    assert.equal(held.length, 1);
    assert.match(held[0]!, /^\[hearth\] policy reloaded/);
    await nvim.input('<Esc>');
    await waitFor('the message after insert mode ends', async () => ((await nvim.lua("return #require('hearth').deferred_messages()")) === 0) || undefined, 10_000);
    const messages = await nvim.commandOutput('messages');
    assert.match(messages, /\[hearth\] policy reloaded/);
  });
});
