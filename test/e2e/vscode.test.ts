// Real VS Code (code-server 4.100.3 = VS Code 1.100.3) with the packed .vsix, driven by
// playwright-core in Debian's headless Chromium: ghost text, Tab, the route in the status bar;
// then Neovim joins the same daemon and a buffer open only there shows up in the route plan of a
// completion requested from VS Code.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  CHROMIUM, CHROMIUM_ARGS, HEARTH_BIN, ROOT, SCREENSHOTS, SEED_CODE, TOOLS, existsSync, makeWorld, setupPlugin,
  skipBecause, startNeovim, waitAttached, waitFor, which, writeWorkspace, type HearthWorld, type Nvim,
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

describe('e2e: VS Code extension (code-server + Chromium, real daemon)', function () {
  this.timeout(240_000);
  let world: HearthWorld;
  let server: { proc: ChildProcess; url: string; log: () => string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let nv: Nvim | undefined;
  let ws: string;
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
    writeWorkspace(ws, { 'invoice.ts': SEED_CODE, 'main.ts': 'import { LineItem } from "./types";\n\nexport function computeInvoiceTotal12(items: LineItem[], taxRate: number): number {\n' });
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
    await nv?.quit();
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
    assert.match(planLine, /^\s*buffer\s+(snippet\s+)?\d+ B\s+code\s+\S+\s+file:\/\//, planLine);
    assert.ok(planLine.includes(nvimUri), `${planLine} does not name ${nvimUri}`);
    const lines = await visibleLines(page);
    assert.ok(lines.some((l) => /^location\s+local/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('Hearth route plan for ') && l.includes(`file://${path.join(ws, 'main.ts')}`)), lines.join('\n'));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'vscode-route-plan.png') });
  });
});
