// Shared pieces of the end-to-end editor tests: isolated Hearth homes, a real Neovim driven over
// its msgpack API, a Neovim screen renderer (for screenshots), and polling with clear failures.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attach, type NeovimClient } from 'neovim';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI every editor launches; HEARTH_E2E_CLI points the tests at another build of it. */
export const HEARTH_BIN = process.env['HEARTH_E2E_CLI'] ?? path.join(ROOT, 'bin', 'hearth');
export const PLUGIN_DIR = path.join(ROOT, 'extensions', 'neovim');
export const TOOLS = path.join(ROOT, 'test', 'e2e', '.tools');
/**
 * Where e2e tests save screenshots: a temp folder, so a test run never rewrites tracked files.
 * Refresh the committed ones with `HEARTH_SCREENSHOTS_DIR=docs/screenshots npm test -- --grep e2e`.
 */
export const SCREENSHOTS = path.resolve(ROOT, process.env.HEARTH_SCREENSHOTS_DIR ?? path.join(tmpdir(), 'hearth-screenshots'));
export const SETUP_HINT = 'run `sudo test/e2e/setup.sh` (installs Neovim, Chromium, code-server and packs the .vsix)';

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

export function skipBecause(ctx: Mocha.Context, what: string): never {
  process.stderr.write(`      skipped: ${what}; ${SETUP_HINT}\n`);
  ctx.skip();
}

/** A private Hearth world: its own HEARTH_HOME and XDG_RUNTIME_DIR, so its daemon is its own. */
export interface HearthWorld {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Stops the daemon of this world (if any) and removes its directories. */
  dispose(): Promise<void>;
}

export function makeWorld(label: string): HearthWorld {
  const dir = mkdtempSync(path.join(tmpdir(), `hearth-e2e-${label}-`));
  const home = path.join(dir, 'home');
  const runtime = path.join(dir, 'run');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  chmodSync(runtime, 0o700);
  const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_HOME: home, XDG_RUNTIME_DIR: runtime };
  return {
    dir,
    env,
    async dispose() {
      const stop = spawnSync(HEARTH_BIN, ['stop'], { env, timeout: 15_000, encoding: 'utf8' });
      // If `hearth stop` could not stop it, end the daemon(s) this world started: the processes
      // whose HEARTH_HOME is this world's unique temp directory, and only those.
      const left = processesWithEnv('HEARTH_HOME', home);
      if (left.length > 0) {
        if (stop.status !== 0) process.stderr.write(`      note: \`hearth stop\` failed (${(stop.stderr || stop.stdout || '').trim()}); sending SIGTERM to ${left.join(', ')}\n`);
        for (const pid of left) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
        await waitFor('the daemon to exit', () => processesWithEnv('HEARTH_HOME', home).length === 0 || undefined, 10_000)
          .catch(() => { for (const pid of processesWithEnv('HEARTH_HOME', home)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } });
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}

/** Pids of live processes whose environment has NAME=value exactly (Linux /proc). */
export function processesWithEnv(name: string, value: string): number[] {
  const want = `${name}=${value}`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (env.includes(want)) out.push(Number(entry));
    } catch { /* exited or not ours to read */ }
  }
  return out;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Repeated, distinctive code the n-gram engine learns from when this file is open in an editor. */
export const SEED_CODE = Array.from({ length: 12 }, (_, i) => [
  `export function computeInvoiceTotal${i}(items: LineItem[], taxRate: number): number {`,
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  '  return Math.round(subtotal * (1 + taxRate) * 100) / 100;',
  '}',
  '',
].join('\n')).join('\n');

// ---------------------------------------------------------------------------------------------
// Neovim

export interface Nvim {
  nvim: NeovimClient;
  proc: ChildProcess;
  stderr: () => string;
  quit(): Promise<void>;
}

/** `nvim --embed --headless -u NONE` with the plugin on the runtimepath, driven over msgpack-rpc. */
export async function startNeovim(env: NodeJS.ProcessEnv, cwd: string): Promise<Nvim> {
  const proc = spawn('nvim', ['--embed', '--headless', '-u', 'NONE', '-i', 'NONE', '-n',
    '--cmd', `set runtimepath^=${PLUGIN_DIR}`, '--cmd', 'set hidden noswapfile shortmess+=I'], { cwd, env });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  // Our own logger: without one the client library monkey-patches the global `console` (to keep
  // stdout free for a remote-plugin host), which would silence every later test's output.
  const debug = process.env['HEARTH_E2E_DEBUG'] ? (...a: unknown[]) => process.stderr.write(`[nvim-client] ${a.map(String).join(' ')}\n`) : () => undefined;
  const logger = { level: 'error', info: debug, warn: debug, error: debug, debug };
  const nvim = attach({ proc, options: { logger: logger as never } });
  await nvim.channelId;
  return {
    nvim,
    proc,
    stderr: () => err,
    async quit() {
      try {
        await Promise.race([nvim.command('qa!'), new Promise((r) => setTimeout(r, 2000))]);
      } catch { /* the process is exiting */ }
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

export async function setupPlugin(nv: Nvim, extra = ''): Promise<number> {
  const cmd = JSON.stringify([HEARTH_BIN, 'lsp', '--stdio']).replace(/^\[/, '{').replace(/\]$/, '}');
  const id = await nv.nvim.lua(`return require('hearth').setup{ cmd = ${cmd}, accept_key = '<Tab>', ghost = 'overlay' ${extra} }`) as number | null;
  if (typeof id !== 'number') throw new Error(`require('hearth').setup{} returned ${String(id)}; nvim stderr: ${nv.stderr()}`);
  return id;
}

/** Waits until the buffer is attached to an initialized Hearth client. */
export async function waitAttached(nv: Nvim, timeoutMs = 30_000): Promise<void> {
  await waitFor('the Hearth LSP client to initialize and attach the current buffer', async () => {
    const ok = await nv.nvim.lua(`
      local id = require('hearth').client_id()
      local c = id and vim.lsp.get_client_by_id(id)
      return c ~= nil and c.initialized == true and vim.lsp.buf_is_attached(0, id)`);
    return ok === true;
  }, timeoutMs, 200);
}

export interface GhostMark { row: number; col: number; firstLine: string; moreLines: string[] }

export async function ghostMarks(nv: Nvim): Promise<GhostMark[]> {
  return await nv.nvim.lua(`
    local ns = vim.api.nvim_create_namespace('hearth_ghost')
    local out = {}
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
      local d = m[4]
      local first = ''
      for _, chunk in ipairs(d.virt_text or {}) do first = first .. chunk[1] end
      local more = {}
      for _, vl in ipairs(d.virt_lines or {}) do
        local s = ''
        for _, chunk in ipairs(vl) do s = s .. chunk[1] end
        more[#more + 1] = s
      end
      out[#out + 1] = { row = m[2], col = m[3], firstLine = first, moreLines = more }
    end
    return out`) as GhostMark[];
}

/** Types like a user: one key at a time, so TextChangedI fires for each. */
export async function typeKeys(nv: Nvim, text: string, delayMs = 15): Promise<void> {
  for (const ch of text) {
    await nv.nvim.input(ch === '<' ? '<lt>' : ch);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
}

// ---------------------------------------------------------------------------------------------
// Neovim screen → image: attach as a UI (ext_linegrid), keep the grid, render it as HTML.

interface Cell { text: string; hl: number }
interface HlAttrs { foreground?: number; background?: number; italic?: boolean; bold?: boolean; reverse?: boolean; underline?: boolean }

export class ScreenGrid {
  cells: Cell[][] = [];
  attrs = new Map<number, HlAttrs>();
  fg = 0xd0d0d0;
  bg = 0x1c1c1c;
  cursor = { row: 0, col: 0 };

  constructor(readonly width: number, readonly height: number) {
    this.clear();
  }

  clear(): void {
    this.cells = Array.from({ length: this.height }, () => Array.from({ length: this.width }, () => ({ text: ' ', hl: 0 })));
  }

  apply(events: unknown[][]): void {
    for (const [name, ...calls] of events as [string, ...unknown[][]][]) {
      for (const args of calls) {
        switch (name) {
          case 'default_colors_set': {
            const [fg, bg] = args as number[];
            if (fg !== undefined && fg >= 0) this.fg = fg;
            if (bg !== undefined && bg >= 0) this.bg = bg;
            break;
          }
          case 'hl_attr_define': this.attrs.set(args[0] as number, args[1] as HlAttrs); break;
          case 'grid_clear': this.clear(); break;
          case 'grid_cursor_goto': this.cursor = { row: args[1] as number, col: args[2] as number }; break;
          case 'grid_line': {
            const [, row, colStart, cells] = args as [number, number, number, [string, number?, number?][]];
            const line = this.cells[row];
            if (!line) break;
            let col = colStart;
            let hl = 0;
            for (const [text, h, rep] of cells) {
              if (h !== undefined) hl = h;
              for (let i = 0; i < (rep ?? 1); i++) {
                if (col < this.width) line[col] = { text, hl };
                col++;
              }
            }
            break;
          }
          case 'grid_scroll': {
            const [, top, bot, left, right, rows] = args as number[];
            this.scroll(top!, bot!, left!, right!, rows!);
            break;
          }
          default: break;
        }
      }
    }
  }

  private scroll(top: number, bot: number, left: number, right: number, rows: number): void {
    const copy = this.cells.map((r) => r.map((c) => ({ ...c })));
    for (let r = top; r < bot; r++) {
      const src = r + rows;
      if (src < top || src >= bot) continue;
      for (let c = left; c < right; c++) this.cells[r]![c] = { ...copy[src]![c]! };
    }
  }

  text(): string {
    return this.cells.map((r) => r.map((c) => c.text).join('').replace(/\s+$/, '')).join('\n');
  }

  html(title: string): string {
    const hex = (n: number) => `#${n.toString(16).padStart(6, '0')}`;
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const rows = this.cells.map((r, ri) => r.map((c, ci) => {
      const a = this.attrs.get(c.hl) ?? {};
      let fg = a.foreground ?? this.fg;
      let bg = a.background ?? this.bg;
      if (a.reverse) [fg, bg] = [bg, fg];
      if (ri === this.cursor.row && ci === this.cursor.col) [fg, bg] = [bg, fg];
      const style = `color:${hex(fg)};background:${hex(bg)}${a.italic ? ';font-style:italic' : ''}${a.bold ? ';font-weight:bold' : ''}`;
      return `<span style="${style}">${esc(c.text || ' ')}</span>`;
    }).join('')).join('\n');
    return `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title>` +
      `<body style="margin:0;background:${hex(this.bg)}"><pre style="margin:0;padding:8px;font:14px/1.25 'DejaVu Sans Mono',monospace">${rows}</pre></body>`;
  }
}

export async function attachScreen(nv: Nvim, width = 100, height = 24): Promise<ScreenGrid> {
  const grid = new ScreenGrid(width, height);
  nv.nvim.on('notification', (method: string, args: unknown[]) => {
    if (method === 'redraw') grid.apply(args as unknown[][]);
  });
  await nv.nvim.uiAttach(width, height, { ext_linegrid: true, rgb: true } as never);
  return grid;
}

// ---------------------------------------------------------------------------------------------
// Chromium (headless, Debian's), flags that keep it off the closed network.

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** Renders HTML to a PNG with headless Chromium (used for the Neovim screenshot). */
export async function htmlToPng(html: string, file: string, size: { width: number; height: number }): Promise<void> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'hearth-e2e-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: size,
  });
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage();
    await page.setContent(html);
    mkdirSync(path.dirname(file), { recursive: true });
    await page.locator('pre').screenshot({ path: file });
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

export function writeWorkspace(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(dir, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
}

// ---------------------------------------------------------------------------------------------
// Tool actions requested by a client that is not an editor (the CLI), and the audit log.

export interface CliRun { proc: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> }

/** `hearth tool run shell.run '{"argv":[...]}' --workspace WS`: a CLI client, not an editor. */
export function cliToolRun(world: HearthWorld, ws: string, argv: string[]): CliRun {
  return cliTool(world, ws, 'shell.run', { argv });
}

/**
 * Puts an entry in the world's egress ledger without contacting anything: writes a user policy that
 * denies model downloads, then runs `hearth models add URL` until the daemon (hot-reloading the
 * policy) refuses it.
 */
export async function refuseADownload(world: HearthWorld, url: string): Promise<void> {
  const policyFile = path.join(String(world.env.HEARTH_HOME), 'config', 'policy.yaml');
  mkdirSync(path.dirname(policyFile), { recursive: true });
  writeFileSync(policyFile, 'version: 1\nrules:\n  - feature: [model-download]\n    action: deny\n');
  await waitFor('the CLI download to be refused by the new policy', () => {
    const r = spawnSync(HEARTH_BIN, ['models', 'add', url], { env: world.env, encoding: 'utf8', timeout: 20_000 });
    return r.status !== 0 && /download refused/.test(r.stderr) ? true : undefined;
  }, 20_000, 300);
}

/** `hearth tool run TOOL 'JSON-ARGS' --workspace WS`. */
export function cliTool(world: HearthWorld, ws: string, tool: string, args: unknown): CliRun {
  const proc = spawn(HEARTH_BIN, ['tool', 'run', tool, JSON.stringify(args), '--workspace', ws], { env: world.env, cwd: ws });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

/** The fields of a core/audit record the e2e tests read. */
export interface AuditRecord {
  seq: number;
  actionId: string;
  interface: { kind: string; name: string; clientId: string | null };
  proposer: { model: string; provider: string };
  tool: string;
  args: { argv?: string[] };
  decision: { grant: string; by: string; [k: string]: unknown };
  result: { status: 'ok' | 'error' | 'denied'; [k: string]: unknown };
  exitCode: number | null;
  [k: string]: unknown;
}

export function auditShow(world: HearthWorld): AuditRecord[] {
  const r = spawnSync(HEARTH_BIN, ['audit', 'show', '--json'], { env: world.env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `hearth audit show --json failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as AuditRecord[];
}

export { existsSync };
