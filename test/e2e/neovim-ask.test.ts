// Real Neovim (Debian's 0.7.2) asking Hearth (issue 13, "Must show" 6; docs/ask.md): `:2Hearth ask
// {prompt}` on a line of greet.js, against the real daemon and the scripted model server on
// 127.0.0.1 (a cloud chat provider whose SSE answer carries an fs.edit in delta.tool_calls):
//   - the hearth://ask/1 scratch buffer shows the route plan (provider, location, rule, the data
//     pieces: prompt, selection, open buffer) above the answer, which streams in;
//   - the proposed fs.edit opens the approval split with its diff and the built-in vim.ui.select
//     (inputlist, answered with keys); "once" applies it to the file, and the audit names Neovim;
//   - `:Hearth cancel` stops a slow stream: the model connection is cut before the end, the buffer
//     says cancelled, the history keeps what arrived.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  HEARTH_BIN, SCREENSHOTS, attachScreen, auditShow, existsSync, htmlToPng, makeWorld, setupPlugin, skipBecause,
  startNeovim, waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim, type ScreenGrid,
} from './helpers.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { askUserPolicy, renameEdit, streamedAnswer } from '../helpers/ask-harness.js';

const GREET = 'export function greet(name: string): string {\n  return "hello " + name;\n}\n';

describe('e2e: :Hearth ask in Neovim streams the plan and the answer, the fs.edit is approved in the split, cancel stops it (real nvim, real daemon)', function () {
  this.timeout(150_000);
  let world: HearthWorld;
  let nv: Nvim | undefined;
  let grid: ScreenGrid;
  let ws: string;
  let server: ScriptedServer;

  before(async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    server = await startScriptedServer();
    world = makeWorld('nvim-ask');
    const config = path.join(world.env.HEARTH_HOME!, 'config');
    mkdirSync(config, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(config, 'policy.yaml'), askUserPolicy(server, 'allow'), { mode: 0o600 });
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'greet.ts': GREET });
    nv = await startNeovim(world.env, ws);
    grid = await attachScreen(nv, 110, 40);
    await nv.nvim.command('edit greet.ts');
    // The blocking vim.ui.select path (approval_ui = 'select'); the default split is
    // test/e2e/neovim-approval-split.test.ts.
    await setupPlugin(nv, ", approval_ui = 'select'");
    await waitAttached(nv);
  });

  after(async function () {
    await nv?.quit();
    await world?.dispose();
    await server?.close();
  });

  /** The lines of the ask's scratch buffer (hearth://ask/N), or null before it exists. */
  const askLines = async (): Promise<string[] | null> => (await nv!.nvim.lua(`
    local a = require('hearth.ask').get()
    if not a or not vim.api.nvim_buf_is_valid(a.buf) then return nil end
    return vim.api.nvim_buf_get_lines(a.buf, 0, -1, false)`)) as string[] | null;

  it(':2Hearth ask: the route plan above the streamed answer, the fs.edit approved in the split and applied', async () => {
    server.script(streamedAnswer(['I will rename ', 'the greeting ', 'for you.'], [renameEdit('greet.ts', '"hello "', '"welcome "')], 60));
    await nv!.nvim.command('2Hearth ask rename the greeting to welcome');
    // The built-in vim.ui.select is inputlist(): it blocks Neovim, so watch the screen.
    await waitFor('the approval split and the inputlist prompt on the Neovim screen', () => {
      const text = grid.text();
      return text.includes('1: Allow once') && text.includes('4: Deny') || undefined;
    }, 60_000, 100);
    const screen = grid.text();
    assert.match(screen, /Hearth: allow fs\.edit greet\.ts\? requested by Neovim|Hearth: allow fs\.edit .*greet\.ts\? requested by/i, screen);
    assert.match(screen, /-\s*return "hello " \+ name;/, screen);
    assert.match(screen, /\+\s*return "welcome " \+ name;/, screen);
    assert.match(screen, /rationale +I will rename the greeting for you\./, 'the approval split shows the streamed answer as the rationale');
    assert.equal(readFileSync(path.join(ws, 'greet.ts'), 'utf8'), GREET, 'nothing is written before the answer');
    if (which('chromium')) await htmlToPng(grid.html('Hearth ask in Neovim'), path.join(SCREENSHOTS, 'ask-neovim.png'), { width: 1000, height: 760 });
    await nv!.nvim.input('1<CR>');
    await waitFor('the edit on disk', () => readFileSync(path.join(ws, 'greet.ts'), 'utf8').includes('"welcome "') || undefined, 30_000);
    const lines = await waitFor('the result line in the ask buffer', async () => {
      const l = await askLines();
      return l && l.some((x) => /fs\.edit ok/.test(x)) ? l : undefined;
    }, 30_000, 100);
    const text = lines.join('\n');
    const route = lines.findIndex((l) => l.startsWith('Route: cloud · scripted (model scripted-chat), allow by'));
    const answer = lines.findIndex((l) => l.includes('I will rename the greeting for you.'));
    assert.ok(route >= 0, `the route plan is in the buffer:\n${text}`);
    assert.ok(route < answer, `the plan comes before the answer:\n${text}`);
    for (const role of ['prompt', 'selection', 'open buffer']) assert.match(text, new RegExp(`\\d+ B  \\w+\\s+${role}`), `the plan lists the ${role}:\n${text}`);
    assert.match(text, /Proposed: fs\.edit greet\.ts/);
    assert.match(text, /→ fs\.edit ok .*greet\.ts/);
    const body = JSON.parse(server.requests.at(-1)!.body.toString('utf8'));
    assert.equal(body.stream, true);
    assert.match(JSON.stringify(body.messages), /--- selection: greet\.ts\\n {2}return \\"hello \\" \+ name;/, 'the selected line went as the selection');
    const rec = auditShow(world).find((x) => x.tool === 'fs.edit');
    assert.ok(rec, 'no audit record for the fs.edit');
    assert.equal(rec.interface.kind, 'editor');
    assert.equal(rec.decision.grant, 'once');
  });

  it(':Hearth cancel stops a slow stream: the model connection is cut, the buffer says cancelled, the history keeps it', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i} `);
    server.script(streamedAnswer(words, [], 250));
    const sent = server.requests.length;
    await nv!.nvim.command('Hearth ask write a long essay');
    await waitFor('the first words in the ask buffer', async () => ((await askLines()) ?? []).join('\n').includes('word2 ') || undefined, 30_000, 50);
    await nv!.nvim.command('Hearth cancel');
    const lines = await waitFor('the cancelled line', async () => {
      const l = await askLines();
      return l && l.some((x) => x.includes('cancelled')) ? l : undefined;
    }, 20_000, 100);
    assert.doesNotMatch(lines.join('\n'), /word39/);
    const req = server.requests[sent]!;
    await waitFor('the model connection to close early', () => req.cut === true || undefined, 10_000);
    const hist = spawnSync(process.execPath, [HEARTH_BIN, 'history', 'list', '--json'], { env: world.env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(hist.status, 0, hist.stderr);
    const [last] = JSON.parse(hist.stdout);
    assert.equal(last.prompt, 'write a long essay');
    assert.equal(last.status, 'cancelled');
    assert.equal(last.client, 'Neovim');
  });
});
