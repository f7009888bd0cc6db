// Keystroke-to-ghost-text latency in real Neovim (0.7.2, the Lua plugin) with the daemon's embedded
// n-gram engine, split into where the time goes; and the completion cache's hit rate when a
// recorded editing session (typing, typos, backspacing, retyping) is replayed through Neovim and
// the daemon (read from the daemon's `completion` counters in hearth/status).
//
//   node --import tsx bench/keystroke.ts          (needs nvim: test/e2e/setup.sh installs it)
//
// Timestamps come from inside Neovim (vim.loop.hrtime): the keystroke (TextChangedI), the request
// sent after the plugin's debounce, the answer received, the extmark drawn. So the figures are
// Neovim's own view, not the polling of this script. Baseline measured in the same run: the same
// n-gram engine computing suggestions for the same prefixes in-process (no editor, no IPC).
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { NgramProvider } from '../core/engines/ngram.js';
import {
  SEED_CODE, makeWorld, setupPlugin, startNeovim, waitAttached, which, writeWorkspace, type Nvim,
} from '../test/e2e/helpers.js';

export interface Dist { p50: number; p95: number; mean: number; n: number }
export interface KeystrokeBenchResult {
  debounceMs: number;
  keystrokes: number;
  ghostShown: number;
  /** keystroke → ghost text drawn, as the user sees it (includes the debounce). */
  keyToGhost: Dist;
  /** request sent → answer received: the bridge, the socket, the daemon and the engine. */
  daemonRoundTrip: Dist;
  /** keystroke → ghost minus the debounce: the part Hearth can make faster. */
  keyToGhostAfterDebounce: Dist;
  /** Share of keystroke→ghost (p50) spent waiting for the daemon. */
  daemonShareP50: number;
  /** Share of the post-debounce time (p50) spent waiting for the daemon. */
  daemonShareAfterDebounceP50: number;
  /** Baseline: the n-gram engine alone on the same prefixes, in-process, no editor and no IPC. */
  inProcess: Dist;
  /** The daemon's cache counters over the replayed session; undefined when hearth/status does not report them. */
  replay: { requests: number; cacheHits: number; hitRate: number; superseded: number } | undefined;
}

function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), n: s.length };
}

/**
 * A recorded editing session: what a user typed into main.ts, including a typo fixed with
 * backspaces and a line deleted and typed again. `\b` is one backspace.
 */
export const RECORDED_SESSION: string[] = [
  'export function computeInvoiceTotal12(items: LineItem[], taxRate: number): number {\n',
  '  const subtotal = items.reduce((sum, item) => sum + item.pirce',
  '\b\b\b\b', 'rice * item.quantity, 0);\n',
  '  return Math.round(subtotal * (1 + taxRate) * 100) / 100;\n',
  '}\n\n',
  'export function computeInvoiceTotal13(items: LineItem[], taxRate: number): number {\n',
  '  const subtotal = items.red',
  '\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b',
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);\n',
  '  return Math.round(subtotal * (1 + taxRate) * 100) / 100;\n',
  '}\n',
];

/** The session as single keystrokes (Neovim key notation). */
function keystrokes(): string[] {
  const out: string[] = [];
  for (const chunk of RECORDED_SESSION) {
    for (const ch of chunk) out.push(ch === '\b' ? '<BS>' : ch === '\n' ? '<CR>' : ch === '<' ? '<lt>' : ch);
  }
  return out;
}

/** Baseline: the embedded engine alone, on the same sequence of prefixes, no editor and no IPC. */
function engineBaseline(): number[] {
  const ngram = new NgramProvider();
  ngram.learn('file:///ws/invoice.ts', SEED_CODE);
  let text = 'import { LineItem } from "./types";\n\n';
  const times: number[] = [];
  for (const chunk of RECORDED_SESSION) {
    for (const ch of chunk) {
      text = ch === '\b' ? text.slice(0, -1) : text + ch;
      ngram.learn('file:///ws/main.ts', text);
      const t = performance.now();
      ngram.suggest(text, '', 48);
      times.push(performance.now() - t);
    }
  }
  return times;
}

interface CompletionStats { requests: number; cacheHits: number; superseded?: number }

/** The daemon's completion counters, when hearth/status reports them (field `completion`). */
async function daemonCompletionStats(nv: Nvim): Promise<CompletionStats | undefined> {
  const s = await nv.nvim.lua(`
    local done, out = false, nil
    require('hearth').status(function(err, st) out = (not err) and st or nil; done = true end)
    vim.wait(10000, function() return done end, 10)
    return out and out.completion or vim.NIL`) as CompletionStats | null;
  return s && typeof s.requests === 'number' ? s : undefined;
}

export async function run(opts: { debounceMs?: number; log?: (line: string) => void } = {}): Promise<KeystrokeBenchResult> {
  const log = opts.log ?? ((s: string) => { process.stdout.write(`${s}\n`); });
  const debounceMs = opts.debounceMs ?? 75;
  if (!which('nvim')) throw new Error('bench/keystroke.ts needs nvim (Neovim 0.7.2+); run test/e2e/setup.sh');

  const engineTimes = engineBaseline();
  let replay: KeystrokeBenchResult['replay'];
  const world = makeWorld('bench');
  const ws = path.join(world.dir, 'ws');
  writeWorkspace(ws, { 'invoice.ts': SEED_CODE, 'main.ts': 'import { LineItem } from "./types";\n\n' });
  let nv: Nvim | undefined;
  let nvimVersion = '?';
  const total: number[] = [];
  const rtt: number[] = [];
  const afterDebounce: number[] = [];
  const keys = keystrokes();
  try {
    nv = await startNeovim(world.env, ws);
    const nvim = nv.nvim;
    await nvim.command('edit invoice.ts');
    await nvim.command('edit main.ts');
    await setupPlugin(nv, `, debounce_ms = ${debounceMs}`);
    await waitAttached(nv);
    nvimVersion = await nvim.lua(`local v = vim.version() return v.major .. '.' .. v.minor .. '.' .. v.patch`) as string;
    // The keystroke's timestamp: TextChangedI fires once the key has changed the buffer.
    await nvim.lua(`
      _G.hearth_bench = { key_ns = 0, samples = {} }
      vim.api.nvim_create_autocmd('TextChangedI', { callback = function() _G.hearth_bench.key_ns = vim.loop.hrtime() end })
      vim.api.nvim_create_autocmd('User', { pattern = 'HearthGhostShown', callback = function()
        local t = require('hearth').last_timing()
        table.insert(_G.hearth_bench.samples, { key = _G.hearth_bench.key_ns, sent = t.sent_ns, received = t.received_ns, shown = t.shown_ns })
      end })`);
    const statsBefore = await daemonCompletionStats(nv);
    await nvim.command('normal! G');
    await nvim.input('A');
    for (const key of keys) {
      const before = await nvim.lua('return #_G.hearth_bench.samples') as number;
      await nvim.input(key);
      // Wait for this keystroke's ghost text, or give up when none comes (the engine had nothing).
      const deadline = Date.now() + debounceMs + 400;
      while (Date.now() < deadline) {
        if ((await nvim.lua('return #_G.hearth_bench.samples') as number) > before) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await nvim.input('<Esc>');
    const statsAfter = await daemonCompletionStats(nv);
    if (statsBefore && statsAfter) {
      const requests = statsAfter.requests - statsBefore.requests;
      const cacheHits = statsAfter.cacheHits - statsBefore.cacheHits;
      replay = { requests, cacheHits, hitRate: cacheHits / (requests || 1), superseded: (statsAfter.superseded ?? 0) - (statsBefore.superseded ?? 0) };
    }
    const samples = await nvim.lua('return _G.hearth_bench.samples') as Array<{ key: number; sent: number; received: number; shown: number }>;
    for (const s of samples) {
      if (s.sent < s.key) continue; // the answer to an earlier keystroke
      total.push((s.shown - s.key) / 1e6);
      rtt.push((s.received - s.sent) / 1e6);
      afterDebounce.push((s.shown - s.key) / 1e6 - debounceMs);
    }
  } finally {
    await nv?.quit();
    await world.dispose();
  }

  const keyToGhost = dist(total);
  const daemonRoundTrip = dist(rtt);
  const keyToGhostAfterDebounce = dist(afterDebounce);
  const inProcess = dist(engineTimes);
  const result: KeystrokeBenchResult = {
    debounceMs, keystrokes: keys.length, ghostShown: total.length, keyToGhost, daemonRoundTrip, keyToGhostAfterDebounce,
    daemonShareP50: daemonRoundTrip.p50 / keyToGhost.p50,
    daemonShareAfterDebounceP50: daemonRoundTrip.p50 / keyToGhostAfterDebounce.p50,
    inProcess, replay,
  };
  const f = (x: number) => x.toFixed(2);
  log(`keystroke bench: Neovim ${nvimVersion} + Lua plugin + daemon (embedded n-gram), ${keys.length} keystrokes, ghost text after ${total.length}, debounce ${debounceMs} ms`);
  log(`  keystroke -> ghost text drawn        p50 ${f(keyToGhost.p50)} ms  p95 ${f(keyToGhost.p95)} ms`);
  log(`    of which after the debounce        p50 ${f(keyToGhostAfterDebounce.p50)} ms  p95 ${f(keyToGhostAfterDebounce.p95)} ms`);
  log(`  request -> answer (bridge+daemon)    p50 ${f(daemonRoundTrip.p50)} ms  p95 ${f(daemonRoundTrip.p95)} ms`);
  log(`  daemon share: ${(result.daemonShareP50 * 100).toFixed(1)}% of keystroke->ghost p50, ${(result.daemonShareAfterDebounceP50 * 100).toFixed(1)}% of the post-debounce p50`);
  log(`  baseline: n-gram engine in-process   p50 ${f(inProcess.p50)} ms  p95 ${f(inProcess.p95)} ms  -> round trip / engine p50 ratio ${(daemonRoundTrip.p50 / inProcess.p50).toFixed(1)}x`);
  log(replay
    ? `  recorded session replayed through the daemon: ${replay.requests} requests, ${replay.cacheHits} cache hits (${(replay.hitRate * 100).toFixed(1)}%), ${replay.superseded} superseded`
    : '  cache hit rate: not available (hearth/status reports no `completion` counters)');
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
