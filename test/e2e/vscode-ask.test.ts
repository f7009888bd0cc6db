// Real VS Code (code-server 4.100.3 = VS Code 1.100.3) with the packed .vsix, driven by
// playwright-core in Debian's headless Chromium (issue 13, "Must show" 6; docs/ask.md): the Hearth
// Chat view asks the real daemon, which routes to the scripted model server on 127.0.0.1 (a cloud
// chat provider under an `ask` rule, whose SSE answer carries an fs.edit in delta.tool_calls):
//   - the route plan is in the chat view while the egress prompt is up, and the model server has
//     received nothing yet; "Allow for this session" releases it;
//   - the answer streams into the view; the proposed fs.edit opens the approval panel with its
//     diff; "Once" applies it to the file, and the view shows the result;
//   - "Stop" cancels a slow stream: the model connection is cut before its end, the view says
//     stopped, the history keeps it as cancelled.
// code-server start-up follows test/e2e/vscode.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import {
  CHROMIUM, CHROMIUM_ARGS, HEARTH_BIN, ROOT, SCREENSHOTS, TOOLS, auditShow, existsSync, makeWorld, skipBecause, waitFor, which,
  writeWorkspace, type HearthWorld,
} from './helpers.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { askUserPolicy, renameEdit, streamedAnswer } from '../helpers/ask-harness.js';

const CODE_SERVER = path.join(TOOLS, 'code-server', 'node_modules', '.bin', 'code-server');
const VSCE = path.join(TOOLS, 'vsce', 'node_modules', '.bin', 'vsce');
const EXT_DIR = path.join(ROOT, 'extensions', 'vscode');
const manifest = JSON.parse(readFileSync(path.join(EXT_DIR, 'package.json'), 'utf8')) as { name: string; version: string };
const VSIX = path.join(EXT_DIR, `${manifest.name}-${manifest.version}.vsix`);
const GREET = 'export function greet(name: string): string {\n  return "hello " + name;\n}\n';

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': false,
  'editor.minimap.enabled': false,
  'chat.commandCenter.enabled': false,
  'hearth.path': HEARTH_BIN,
};

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** The content frame of a webview whose document has `selector` (the chat view, the approval panel). */
async function webviewFrame(page: Page, what: string, selector: string, timeoutMs = 60_000): Promise<Frame> {
  return waitFor(what, async () => {
    for (const f of page.frames()) {
      if (await f.locator(selector).count().catch(() => 0)) return f;
    }
    return undefined;
  }, timeoutMs, 200);
}

describe('e2e: the Hearth Chat view in VS Code (code-server + Chromium, real daemon, scripted model)', function () {
  this.timeout(240_000);
  let world: HearthWorld;
  let cs: { proc: ChildProcess; log: () => string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let ws: string;
  let model: ScriptedServer;

  before(async function () {
    if (!existsSync(CODE_SERVER)) skipBecause(this, `code-server is not installed in ${path.dirname(path.dirname(CODE_SERVER))}`);
    if (!which('chromium') && !existsSync(CHROMIUM)) skipBecause(this, 'chromium is not installed');
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    if (existsSync(VSCE)) {
      const r = spawnSync(process.execPath, [path.join(EXT_DIR, 'package.mjs')], { env: { ...process.env, VSCE }, encoding: 'utf8' });
      assert.equal(r.status, 0, `packing the .vsix failed:\n${r.stdout}\n${r.stderr}`);
    }
    if (!existsSync(VSIX)) skipBecause(this, `${VSIX} is missing`);
    model = await startScriptedServer();
    world = makeWorld('vscode-ask');
    const config = path.join(world.env.HEARTH_HOME!, 'config');
    mkdirSync(config, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(config, 'policy.yaml'), askUserPolicy(model, 'ask'), { mode: 0o600 });
    ws = path.join(world.dir, 'ws');
    writeWorkspace(ws, { 'greet.ts': GREET });
    const dir = path.join(world.dir, 'code-server');
    const userData = path.join(dir, 'user-data');
    const extensions = path.join(dir, 'extensions');
    mkdirSync(path.join(userData, 'User'), { recursive: true });
    writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
    const env = { ...world.env, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data') };
    const install = spawnSync(CODE_SERVER, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', VSIX], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(install.status, 0, `installing ${VSIX} failed:\n${install.stdout}\n${install.stderr}`);
    const proc = spawn(CODE_SERVER, ['--bind-addr', '127.0.0.1:0', '--auth', 'none', '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', '--disable-getting-started-override', '--user-data-dir', userData, '--extensions-dir', extensions, ws], { env, detached: true });
    let log = '';
    proc.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
    proc.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    cs = { proc, log: () => log };
    const url = await waitFor('code-server to listen', () => /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(log)?.[1], 60_000);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    // Tall enough for the egress prompt's payload preview (2,000 characters) and its buttons.
    page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    await page.goto(`${url}?folder=${encodeURIComponent(ws)}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: 'Hearth' }).first().waitFor({ state: 'visible', timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: 'Hearth: ready' }).first().waitFor({ state: 'visible', timeout: 90_000 });
    // greet.ts open, its second line selected: the selection goes as context.
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill('greet.ts');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'greet.ts' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tab.active', { hasText: 'greet.ts' }).waitFor({ state: 'visible', timeout: 15_000 });
    await page.locator('.monaco-editor .view-line').first().click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Home');
    await page.keyboard.press('Shift+End');
    await runCommand(page, 'Hearth Chat');
  });

  after(async function () {
    await browser?.close().catch(() => undefined);
    if (cs?.proc.pid) {
      try { process.kill(-cs.proc.pid, 'SIGTERM'); } catch { /* already gone */ }
    }
    await world?.dispose();
    await model?.close();
  });

  it('the route plan is shown before anything leaves; the streamed answer\'s fs.edit is approved in the panel and applied', async () => {
    model.script(streamedAnswer(['I will rename ', 'the greeting ', 'for you.'], [renameEdit('greet.ts', '"hello "', '"welcome "')], 60));
    const chat = await webviewFrame(page, 'the Hearth Chat view', '#hearth-chat');
    await chat.locator('#prompt').fill('rename the greeting to welcome');
    await chat.locator('#ask').click();
    // The egress prompt (modal): the plan is already in the view, and nothing has left.
    const dialog = page.locator('.monaco-dialog-box', { hasText: 'Hearth: send' });
    await dialog.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(model.requests.length, 0, 'nothing reached the model before the user answered the egress prompt');
    const plan = await chat.locator('.plan').first().innerText();
    assert.match(plan, /^Route: cloud · scripted \(model scripted-chat\), ask by .*policy\.yaml/);
    for (const role of ['prompt', 'selection', 'open buffer']) assert.match(plan, new RegExp(`\\d+ B  \\w+\\s+${role}`), `the plan lists the ${role}:\n${plan}`);
    assert.match(await chat.locator('.context').first().innerText(), /selection greet\.ts:2-2/);
    assert.match(await dialog.innerText(), /Exact payload:[\s\S]*rename the greeting to welcome/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ask-vscode-egress.png') });
    await dialog.locator('a.monaco-button, button', { hasText: 'Allow for this session' }).first().click();

    const panel = await webviewFrame(page, 'the approval panel', 'button#choice-once');
    const diff = (await panel.locator('pre#diff').innerText()).split('\n');
    assert.ok(diff.includes('-  return "hello " + name;'), diff.join('\n'));
    assert.ok(diff.includes('+  return "welcome " + name;'), diff.join('\n'));
    assert.match(await panel.locator('body').innerText(), /scripted-chat-2025/);
    await waitFor('the streamed answer in the chat view', async () => /I will rename the greeting for you\./.test(await chat.locator('#log').innerText()) || undefined, 20_000, 100);
    assert.match(await chat.locator('#log').innerText(), /Proposed: fs\.edit greet\.ts/);
    assert.equal(readFileSync(path.join(ws, 'greet.ts'), 'utf8'), GREET, 'nothing is written before the approval');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ask-vscode-approval.png') });
    await panel.locator('button#choice-once').click();
    await waitFor('the edit on disk', () => readFileSync(path.join(ws, 'greet.ts'), 'utf8').includes('"welcome "') || undefined, 30_000);
    await waitFor('the result in the chat view', async () => /→ fs\.edit ok/.test(await chat.locator('#log').innerText()) || undefined, 20_000, 100);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ask-vscode.png') });
    const body = JSON.parse(model.requests[0]!.body.toString('utf8'));
    assert.equal(body.stream, true);
    assert.match(JSON.stringify(body.messages), /--- selection: greet\.ts\\n *return \\"hello \\" \+ name;/, 'the selected line went as the selection');
    const rec = auditShow(world).find((x) => x.tool === 'fs.edit');
    assert.ok(rec, 'no audit record for the fs.edit');
    assert.equal(rec.interface.kind, 'editor');
    assert.equal(rec.decision.grant, 'once');
  });

  it('"Stop" cancels a slow stream: the model connection is cut, the view says stopped, the history says cancelled', async () => {
    model.script(streamedAnswer(Array.from({ length: 40 }, (_, i) => `word${i} `), [], 250));
    const sent = model.requests.length;
    const chat = await webviewFrame(page, 'the Hearth Chat view', '#hearth-chat');
    await chat.locator('#prompt').fill('write a long essay');
    await chat.locator('#ask').click();
    await waitFor('the first words', async () => /word2 /.test(await chat.locator('#log').innerText()) || undefined, 30_000, 100);
    await chat.locator('#stop').click();
    await waitFor('"Stopped" in the view', async () => /Stopped: the stream was cancelled/.test(await chat.locator('#log').innerText()) || undefined, 20_000, 100);
    assert.doesNotMatch(await chat.locator('#log').innerText(), /word39/);
    const req = model.requests[sent]!;
    await waitFor('the model connection to close early', () => req.cut === true || undefined, 10_000);
    const hist = spawnSync(process.execPath, [HEARTH_BIN, 'history', 'list', '--json'], { env: world.env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(hist.status, 0, hist.stderr);
    const [last] = JSON.parse(hist.stdout);
    assert.equal(last.prompt, 'write a long essay');
    assert.equal(last.status, 'cancelled');
  });
});
