// Real VS Code (code-server 4.100.3 = VS Code 1.100.3) with the packed .vsix, driven by
// playwright-core in Debian's headless Chromium: ghost text, Tab, the route in the status bar;
// tool approvals asked by the CLI answered in the approval panel (Once runs it, Deny runs
// nothing); then Neovim joins the same daemon: a buffer open only there shows up in the route plan
// of a completion requested from VS Code, and a selection remembered in Neovim shows up in VS
// Code's memory view (written by Neovim) and as a memory piece of VS Code's route plan.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { FrameLocator } from 'playwright-core';
import {
  CHROMIUM, CHROMIUM_ARGS, HEARTH_BIN, ROOT, SCREENSHOTS, SEED_CODE, TOOLS, auditShow, cliTool, cliToolRun, existsSync, makeWorld, refuseADownload,
  setupPlugin, skipBecause, startNeovim, waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim,
} from './helpers.js';

const CODE_SERVER = path.join(TOOLS, 'code-server', 'node_modules', '.bin', 'code-server');
const VSCE = path.join(TOOLS, 'vsce', 'node_modules', '.bin', 'vsce');
const EXT_DIR = path.join(ROOT, 'extensions', 'vscode');
const manifest = JSON.parse(readFileSync(path.join(EXT_DIR, 'package.json'), 'utf8')) as { name: string; version: string; publisher: string };
const VSIX = path.join(EXT_DIR, `${manifest.name}-${manifest.version}.vsix`);

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.minimap.enabled': false,
  'chat.commandCenter.enabled': false,
  // The repository's CLI, the same one Neovim launches (the .vsix's packed CLI is the default for users).
  'hearth.path': HEARTH_BIN,
};

function codeServerEnv(world: HearthWorld, dir: string): NodeJS.ProcessEnv {
  return { ...world.env, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data') };
}

async function startCodeServer(env: NodeJS.ProcessEnv, userData: string, extensions: string, folder: string): Promise<{ proc: ChildProcess; url: string; log: () => string }> {
  const proc = spawn(CODE_SERVER, ['--bind-addr', '127.0.0.1:0', '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override',
    '--user-data-dir', userData, '--extensions-dir', extensions, folder], { env, detached: true });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  proc.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`code-server exited (${code}): ${log}`))));
  exited.catch(() => undefined);
  const url = await Promise.race([exited,
    waitFor('code-server to listen', () => /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(log)?.[1], 60_000)]);
  return { proc, url, log: () => log };
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
}

async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tab.active', { hasText: name }).waitFor({ state: 'visible', timeout: 15_000 });
}

/** The rendered lines of every visible editor, with Monaco's non-breaking spaces made plain. */
async function visibleLines(page: Page): Promise<string[]> {
  return await page.locator('.monaco-editor .view-line').evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\u00a0/g, ' ')));
}

/** The approval panel's document: the webview iframe, then its active content frame. */
function approvalPanel(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

/** The rows of the Hearth Memory tree view: label and description as rendered. */
async function memoryRows(page: Page): Promise<Array<{ label: string; description: string }>> {
  const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Hearth Memory' }) });
  return await pane.locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => ({
    label: (r.querySelector('.label-name')?.textContent ?? '').trim(),
    description: (r.querySelector('.label-description')?.textContent ?? '').trim(),
  })));
}

describe('e2e: VS Code extension (code-server + Chromium, real daemon)', function () {
  this.timeout(240_000);
  let world: HearthWorld;
  let server: { proc: ChildProcess; url: string; log: () => string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let nv: Nvim | undefined;
  let nv2: Nvim | undefined;
  let ws: string;
  const running: ChildProcess[] = [];
  const typed = '  const subtotal = items.red';

  before(async function () {
    if (!existsSync(CODE_SERVER)) skipBecause(this, `code-server is not installed in ${path.dirname(path.dirname(CODE_SERVER))}`);
    if (!which('chromium') && !existsSync(CHROMIUM)) skipBecause(this, 'chromium is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    // Test the current sources: re-pack when vsce is there (4 s), else use the .vsix setup.sh made.
    if (existsSync(VSCE)) {
      const r = spawnSync(process.execPath, [path.join(EXT_DIR, 'package.mjs')], { env: { ...process.env, VSCE }, encoding: 'utf8' });
      assert.equal(r.status, 0, `packing the .vsix failed:\n${r.stdout}\n${r.stderr}`);
    }
    if (!existsSync(VSIX)) skipBecause(this, `${VSIX} is missing`);

    world = makeWorld('vscode');
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'rates.ts': 'export const TAX_RATE = 0.2;\nexport const CURRENCY = "EUR";\n', 'invoice.ts': SEED_CODE, 'main.ts': 'import { LineItem } from "./types";\n\nexport function computeInvoiceTotal12(items: LineItem[], taxRate: number): number {\n' });
    const cs = path.join(world.dir, 'code-server');
    const userData = path.join(cs, 'user-data');
    const extensions = path.join(cs, 'extensions');
    mkdirSync(path.join(userData, 'User'), { recursive: true });
    writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
    const env = codeServerEnv(world, cs);
    const install = spawnSync(CODE_SERVER, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', VSIX],
      { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(install.status, 0, `installing ${VSIX} failed:\n${install.stdout}\n${install.stderr}`);
    assert.match(install.stdout, /was successfully installed/);

    server = await startCodeServer(env, userData, extensions, ws);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${server.url}?folder=${encodeURIComponent(ws)}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    // The extension activates on startup and shows its status bar item once the bridge is connected.
    await page.locator('.statusbar-item', { hasText: 'Hearth' }).first().waitFor({ state: 'visible', timeout: 90_000 });
    await openFile(page, 'invoice.ts');
    await openFile(page, 'main.ts');
  });

  after(async function () {
    await browser?.close().catch(() => undefined);
    if (server?.proc.pid) {
      try { process.kill(-server.proc.pid, 'SIGTERM'); } catch { /* already gone */ }
    }
    for (const p of running) if (p.exitCode === null) p.kill();
    await nv?.quit();
    await nv2?.quit();
    await world?.dispose();
  });

  it('the packed extension is installed with the CLI inside it', () => {
    const installed = path.join(world.dir, 'code-server', 'extensions', `${manifest.publisher}.${manifest.name}-${manifest.version}`);
    assert.ok(existsSync(path.join(installed, 'dist', 'extension.js')), `${installed}/dist/extension.js missing`);
    assert.ok(existsSync(path.join(installed, 'dist', 'hearth.mjs')), 'the .vsix does not carry the CLI');
  });

  it('typing shows ghost text (.ghost-text-decoration), Tab accepts it, the status bar shows the route', async () => {
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(typed, { delay: 40 });
    const ghost = page.locator('.ghost-text-decoration').first();
    await ghost.waitFor({ state: 'visible', timeout: 60_000 }).catch(async (e: unknown) => {
      // Leave evidence: the screen, and the route plan the daemon would use at the cursor.
      await page.screenshot({ path: path.join(world.dir, 'failure.png') }).catch(() => undefined);
      await runCommand(page, 'Hearth: Explain Route').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
      const log = (await visibleLines(page).catch(() => [])).join('\n');
      throw new Error(`${(e as Error).message}\nscreen: ${path.join(world.dir, 'failure.png')}\nvisible text:\n${log}`);
    });
    // Monaco splits the ghost text of one line into one span per token colour.
    const ghostText = (await page.locator('.ghost-text-decoration').allTextContents()).join('').replace(/\u00a0/g, ' ');
    assert.ok(ghostText.length > 0);
    // The suggestion continues code the engine learned from invoice.ts.
    assert.ok(SEED_CODE.includes(`items.red${ghostText}`), `ghost text ${JSON.stringify(ghostText)} does not continue the seeded code`);

    const status = page.locator('.statusbar-item', { hasText: /Hearth: local · / }).first();
    await status.waitFor({ state: 'visible', timeout: 15_000 });
    const statusText = (await status.textContent()) ?? '';
    assert.match(statusText, /Hearth: local · \S+\/\S+/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'vscode-ghost-text.png') });

    await page.keyboard.press('Tab');
    const accepted = `${typed}${ghostText}`;
    await waitFor(`the line "${accepted}" after Tab`, async () => (await visibleLines(page)).includes(accepted) || undefined, 10_000);
    assert.equal(await page.locator('.ghost-text-decoration').count(), 0);
  });

  it('an approval asked by the CLI opens the approval panel; "Once" runs the action and the audit records it', async () => {
    const target = path.join(ws, 'approved.txt');
    const run = cliToolRun(world, ws, ['touch', 'approved.txt']);
    running.push(run.proc);
    const panel = approvalPanel(page);
    const once = panel.locator('button#choice-once');
    await once.waitFor({ state: 'visible', timeout: 60_000 });
    const text = (await panel.locator('body').innerText()).replace(/\u00a0/g, ' ');
    assert.match(text, /Hearth: allow shell\.run\?/, text);
    assert.match(text, /Command\s+\$ touch approved\.txt/, text);
    assert.match(text, /argv\s+\["touch","approved\.txt"\]/, text);
    assert.match(text, /Proposed by\s+none · cli:\S+/, text);
    assert.match(text, /Requested by\s+\S+ \(cli\)/, text);
    assert.match(text, /Why asked\s+.*ask/, text);
    for (const b of ['Once', 'Session', 'Always', 'Deny']) assert.ok(await panel.locator('button', { hasText: b }).isVisible(), `no ${b} button`);
    assert.ok(await page.locator('.tab.active', { hasText: 'Hearth: approve shell.run' }).isVisible(), 'the panel is the active tab');
    assert.equal(existsSync(target), false, 'nothing runs before the answer');

    await once.click();
    const r = await run.done;
    assert.equal(r.code, 0, `hearth tool run exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(target), `${target} was not created:\n${r.stdout}\n${r.stderr}`);
    await page.locator('.tab', { hasText: 'Hearth: approve shell.run' }).waitFor({ state: 'detached', timeout: 10_000 });
    const rec = auditShow(world).find((x) => JSON.stringify(x.args.argv) === '["touch","approved.txt"]');
    assert.ok(rec, 'no audit record');
    assert.equal(rec.decision.grant, 'once');
    assert.equal(rec.decision.by, 'user');
    assert.equal(rec.interface.kind, 'cli');
    assert.equal(rec.result.status, 'ok');
  });

  it('an fs.edit approval shows the diff and the path; "Once" applies it', async () => {
    const file = path.join(ws, 'rates.ts');
    const run = cliTool(world, ws, 'fs.edit', { path: 'rates.ts', edits: [{ search: 'TAX_RATE = 0.2;', replace: 'TAX_RATE = 0.25;' }] });
    running.push(run.proc);
    const panel = approvalPanel(page);
    await panel.locator('pre#diff').waitFor({ state: 'visible', timeout: 60_000 });
    const diff = (await panel.locator('pre#diff').innerText()).split('\n');
    assert.ok(diff.includes('-export const TAX_RATE = 0.2;'), diff.join('\n'));
    assert.ok(diff.includes('+export const TAX_RATE = 0.25;'), diff.join('\n'));
    assert.equal(await panel.locator('pre#diff .add').count(), 1);
    assert.equal(await panel.locator('pre#diff .del').count(), 1);
    assert.match(await panel.locator('body').innerText(), new RegExp(`Path\\s+${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.equal(readFileSync(file, 'utf8'), 'export const TAX_RATE = 0.2;\nexport const CURRENCY = "EUR";\n', 'nothing changes before the answer');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'approval-vscode.png') });
    await panel.locator('button#choice-once').click();
    const r = await run.done;
    assert.equal(r.code, 0, `hearth tool run exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    assert.equal(readFileSync(file, 'utf8'), 'export const TAX_RATE = 0.25;\nexport const CURRENCY = "EUR";\n');
    await page.locator('.tab', { hasText: 'Hearth: approve fs.edit' }).waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('"Deny" in the approval panel runs nothing', async () => {
    const target = path.join(ws, 'denied.txt');
    const run = cliToolRun(world, ws, ['touch', 'denied.txt']);
    running.push(run.proc);
    const deny = approvalPanel(page).locator('button#choice-deny');
    await deny.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await approvalPanel(page).locator('body').innerText(), /\$ touch denied\.txt/);
    await deny.click();
    const r = await run.done;
    assert.match(`${r.stdout}${r.stderr}`, /denied/i);
    assert.equal(existsSync(target), false, 'a denied action must not run');
    await page.locator('.tab', { hasText: 'Hearth: approve shell.run' }).waitFor({ state: 'detached', timeout: 10_000 });
    const rec = auditShow(world).find((x) => JSON.stringify(x.args.argv) === '["touch","denied.txt"]');
    assert.equal(rec?.decision.grant, 'deny', JSON.stringify(rec));
    assert.equal(rec?.result.status, 'denied');
  });

  it('honest prompts (issue 11): an argv with U+202E, zero-width joiners and a look-alike ɡit is shown escaped in the panel, under a warning banner; never raw', async () => {
    const forged = ['\u0261it', 'push', 'origin\u200D\u200D', '\u202Eniam'];
    const run = cliToolRun(world, ws, forged);
    running.push(run.proc);
    const panel = approvalPanel(page);
    const banner = panel.locator('#warnings');
    await banner.waitFor({ state: 'visible', timeout: 60_000 });
    const items = (await banner.locator('li').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(items, [
      `argv[0] contains U+0261 LATIN SMALL LETTER SCRIPT G, looks like 'g' (in "\\u{0261}it")`,
      'argv[2] contains U+200D ZERO WIDTH JOINER, an invisible character (2 times)',
      'argv[3] contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control that reorders how the text around it is shown',
    ]);
    assert.match(await banner.innerText(), /3 things in this request can disguise what it does/);
    assert.equal((await panel.locator('#argv').innerText()).trim(), '["\\u{0261}it","push","origin\\u{200D}\\u{200D}","\\u{202E}niam"]');
    assert.equal((await panel.locator('#command').innerText()).trim(), "$ '\\u{0261}it' push 'origin\\u{200D}\\u{200D}' '\\u{202E}niam'");
    // Nothing raw anywhere in the panel's text or markup, nor in the tab title.
    const body = await panel.locator('body').innerText();
    const html = await panel.locator('html').innerHTML();
    assert.doesNotMatch(body, /[\u0261\u200D\u202E]/u, body);
    assert.doesNotMatch(html, /[\u0261\u200D\u202E]/u);
    // The banner comes first, above the request's table, and is drawn as an error box.
    const [bannerBox, tableBox] = [await banner.boundingBox(), await panel.locator('table').boundingBox()];
    assert.ok(bannerBox && tableBox && bannerBox.y < tableBox.y, 'the warnings are not above the request');
    const border = await banner.evaluate((e) => getComputedStyle(e).borderTopStyle + ' ' + getComputedStyle(e).borderTopWidth);
    assert.equal(border, 'solid 2px');
    assert.ok(await page.locator('.tab.active', { hasText: 'Hearth: approve shell.run ⚠' }).isVisible(), 'the tab title does not flag the warnings');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'approval-vscode-forged.png') });
    await panel.locator('button#choice-deny').click();
    const r = await run.done;
    assert.match(`${r.stdout}${r.stderr}`, /denied/i);
    await page.locator('.tab', { hasText: 'Hearth: approve shell.run' }).waitFor({ state: 'detached', timeout: 10_000 });
    const rec = auditShow(world).find((x) => JSON.stringify(x.args?.argv) === JSON.stringify(forged));
    assert.equal(rec?.decision.grant, 'deny', JSON.stringify(rec));
  });

  it('an approval with normal Unicode shows no warning banner and the text as typed', async () => {
    const run = cliToolRun(world, ws, ['touch', 'café-日本語-Привет.txt']);
    running.push(run.proc);
    const panel = approvalPanel(page);
    const deny = panel.locator('button#choice-deny');
    await deny.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(await panel.locator('#warnings').count(), 0, 'normal Unicode was flagged');
    assert.equal((await panel.locator('#argv').innerText()).trim(), '["touch","café-日本語-Привет.txt"]');
    await deny.click();
    await run.done;
    await page.locator('.tab', { hasText: 'Hearth: approve shell.run' }).waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('an approval answered elsewhere (`hearth approve`) closes the panel: the daemon cancels the request', async () => {
    const target = path.join(ws, 'answered-elsewhere.txt');
    const run = cliToolRun(world, ws, ['touch', 'answered-elsewhere.txt']);
    running.push(run.proc);
    await approvalPanel(page).locator('button#choice-once').waitFor({ state: 'visible', timeout: 60_000 });
    const ans = spawnSync(HEARTH_BIN, ['approve', '--answer', 'deny'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(ans.status, 0, ans.stderr);
    assert.match(ans.stdout, /answered: deny/);
    await page.locator('.tab', { hasText: 'Hearth: approve shell.run' }).waitFor({ state: 'detached', timeout: 15_000 });
    const r = await run.done;
    assert.match(`${r.stdout}${r.stderr}`, /denied/i);
    assert.equal(existsSync(target), false);
  });

  it('one daemon serves both editors: a buffer open only in Neovim is a context piece of a VS Code route plan', async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    const elsewhere = path.join(world.dir, 'nvim-only');
    writeWorkspace(elsewhere, {
      'only-in-neovim.ts': 'export function discountedSubtotal(items: LineItem[], taxRate: number): number {\n' +
        '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);\n  return subtotal * (1 - taxRate);\n}\n',
    });
    nv = await startNeovim(world.env, elsewhere);
    await nv.nvim.command('edit only-in-neovim.ts');
    await setupPlugin(nv);
    await waitAttached(nv);
    const nvimUri = `file://${path.join(elsewhere, 'only-in-neovim.ts')}`;

    // Put the VS Code cursor back into main.ts and ask for the plan of a completion there.
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
    await runCommand(page, 'Hearth: Explain Route');
    const planLine = await waitFor('the route plan to list the Neovim-only buffer', async () =>
      (await visibleLines(page)).find((l) => l.includes('only-in-neovim.ts')), 30_000);
    // The daemon's rendering (server/format.ts planLines), as `hearth route explain` prints it.
    assert.match(planLine, /^\s+\d+ B\s+code\s+other buffer\s+file:\/\/.*\(open in Neovim\)/, planLine);
    assert.ok(planLine.includes(nvimUri), `${planLine} does not name ${nvimUri}`);
    const lines = await visibleLines(page);
    assert.ok(lines.some((l) => /^\s*location\s+local$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^\s*decision\s+allow by /.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('Hearth route plan for ') && l.includes(`file://${path.join(ws, 'main.ts')}`)), lines.join('\n'));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'vscode-route-plan.png') });
  });

  it('memory across editors: a selection remembered in Neovim is in the memory view (written by Neovim) and a memory piece of the route plan', async function () {
    if (!which('nvim')) skipBecause(this, 'nvim is not installed');
    // Neovim in the same workspace as VS Code (memory is scoped to the workspace).
    writeWorkspace(ws, {
      'rounding.ts': '// Round totals with taxRate to cents\n' +
        'export const roundCents = (subtotal: number, taxRate: number) => Math.round(subtotal * (1 + taxRate) * 100) / 100;\n',
    });
    nv2 = await startNeovim(world.env, ws);
    await nv2.nvim.command('edit rounding.ts');
    await setupPlugin(nv2);
    await waitAttached(nv2);
    await nv2.nvim.input('ggVj');
    await nv2.nvim.input(':Hearth remember<CR>');
    const item = await waitFor('Neovim\'s hearth/memory/add', async () => {
      const items = await nv2!.nvim.lua(`
        local done, out = false, nil
        require('hearth').memory(nil, { open = false }, function(err, items) out = items or {}; done = true end)
        vim.wait(10000, function() return done end, 20)
        return out`) as Array<{ id: string; text: string; client: { name: string } }>;
      return items.find((i) => i.text.includes('roundCents'));
    }, 20_000, 200);
    assert.equal(item.client.name, 'Neovim');

    // The memory view (explorer) shows it, with Neovim as the writer.
    await runCommand(page, 'Hearth: Show Memory');
    const row = await waitFor('the memory view to list the item written in Neovim', async () =>
      (await memoryRows(page)).find((r) => r.label === '// Round totals with taxRate to cents'), 30_000, 250);
    assert.match(row.description, /^Neovim · \d{4}-\d\d-\d\d \d\d:\d\d$/, JSON.stringify(row));

    // A completion in main.ts (whose last lines mention subtotal and taxRate): its route plan
    // lists the remembered item as a context piece of kind memory, written by Neovim.
    const firstGroup = page.locator('.editor-group-container').first();
    await firstGroup.locator('.tab', { hasText: 'main.ts' }).click();
    await firstGroup.locator('.monaco-editor .view-lines').click();
    await page.keyboard.press('Control+End');
    await runCommand(page, 'Hearth: Explain Route');
    const planLine = await waitFor('the route plan to list the memory item', async () =>
      (await visibleLines(page)).find((l) => l.includes(`memory:${item.id}`)), 30_000);
    assert.match(planLine, /^\s*\d+ B\s+memory\s+memory item\s+memory:\S+ \(written in Neovim\)/, planLine);

    // Screenshot: the memory view (sidebar widened so the writer and time show, the item's
    // tooltip open) beside the route plan with its memory piece.
    const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Hearth Memory' }) });
    const rowEl = pane.locator('.monaco-list-row', { hasText: '// Round totals with taxRate to cents' });
    const sidebar = await page.locator('.part.sidebar').boundingBox();
    if (sidebar) {
      const edge = sidebar.x + sidebar.width;
      await page.mouse.move(edge - 1, sidebar.y + 200);
      await page.mouse.down();
      await page.mouse.move(edge + 220, sidebar.y + 200, { steps: 8 });
      await page.mouse.up();
    }
    await rowEl.hover();
    await page.locator('.monaco-hover', { hasText: 'written by' }).first().waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'memory-vscode.png') });

    // Search narrows the view; forget (context menu) removes the item everywhere.
    await runCommand(page, 'Hearth: Search Memory');
    const box = page.locator('.quick-input-widget input');
    await box.waitFor({ state: 'visible' });
    await box.fill('no-such-word-anywhere');
    await page.keyboard.press('Enter');
    await waitFor('the search to empty the view', async () => (await memoryRows(page)).length === 0 || undefined, 15_000, 250);
    await runCommand(page, 'Hearth: Clear Memory Search');
    await rowEl.waitFor({ state: 'visible', timeout: 15_000 });
    await rowEl.click({ button: 'right' });
    const forget = page.locator('.context-view .action-item', { hasText: 'Forget' });
    await forget.waitFor({ state: 'visible', timeout: 10_000 });
    // The workbench ignores a click that lands right after the menu opened (a right-click's own
    // mouseup must not pick an item); choose it with the keyboard, as a user may.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await rowEl.waitFor({ state: 'detached', timeout: 15_000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: '/tmp/dbg/forget-failure.png' }).catch(() => undefined);
      const toasts = await page.locator('.notification-toast').allInnerTexts().catch(() => []);
      throw new Error(`${(e as Error).message}\nscreen: ${'/tmp/dbg/forget-failure.png'}\nnotifications: ${toasts.join(' | ')}`);
    });
    const left = await nv2.nvim.lua(`
      local done, out = false, nil
      require('hearth').memory(nil, { open = false }, function(err, items) out = items or {}; done = true end)
      vim.wait(10000, function() return done end, 20)
      return #out`) as number;
    assert.equal(left, 0, 'forgotten in VS Code, gone for Neovim too');
  });

  it('"Hearth: Remember Selection" in VS Code: Neovim\'s :Hearth memory lists it, written by the VS Code client, with file and range', async () => {
    const firstGroup = page.locator('.editor-group-container').first();
    await firstGroup.locator('.tab', { hasText: 'main.ts' }).click();
    await firstGroup.locator('.monaco-editor .view-lines').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+End');
    await runCommand(page, 'Hearth: Remember Selection');
    const row = await waitFor('the memory view to list the selection', async () =>
      (await memoryRows(page)).find((r) => r.label === 'import { LineItem } from "./types";'), 30_000, 250);
    const fromNvim = await nv2!.nvim.lua(`
      local done, out = false, nil
      require('hearth').memory('LineItem', { open = false }, function(err, items) out = items or {}; done = true end)
      vim.wait(10000, function() return done end, 20)
      return out`) as Array<{ text: string; kind: string; client: { name: string }; file: { uri: string; range: unknown } }>;
    const item = fromNvim.find((i) => i.text === 'import { LineItem } from "./types";');
    assert.ok(item, JSON.stringify(fromNvim));
    assert.equal(item.kind, 'snippet');
    assert.equal(item.file.uri, `file://${path.join(ws, 'main.ts')}`);
    assert.deepEqual(item.file.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 35 } });
    // The writer is the name VS Code's language client gives itself (code-server's app name here).
    assert.notEqual(item.client.name, 'Neovim');
    assert.ok(row.description.startsWith(`${item.client.name} · `), JSON.stringify(row));
  });

  it('"Hearth: Show Egress Log" lists what the daemon refused to send: a download denied by policy', async () => {
    await refuseADownload(world, 'http://127.0.0.1:9/blocked-model.gguf');
    await runCommand(page, 'Hearth: Show Egress Log');
    const line = await waitFor('the egress log to show the refused download', async () =>
      (await visibleLines(page)).find((l) => l.includes('model-download -> download:127.0.0.1:9')), 30_000, 250);
    assert.match(line, /denied\s+model-download -> download:127\.0\.0\.1:9 127\.0\.0\.1:9\s+0 B .*client hearth-cli#\w+ .*policy\.yaml:3:\d+/, line);
    const lines = await visibleLines(page);
    assert.ok(lines.some((l) => /^Hearth egress log: \d+ attempt\(s\), newest first/.test(l)), lines.join('\n'));
  });
});
