// Completion quality of the embedded default engine, with and without the workspace index, in the
// same run (issue 13, must-show 7). Real source files the project did not write — one package
// under node_modules (default ajv/lib: TypeScript sources) — are copied into a temporary
// workspace. At sampled positions (seeded RNG; the seed is printed) the rest of the line is
// hidden: the file is opened in an editor through the bridge (`hearth lsp --stdio`) with that
// text removed, and textDocument/inlineCompletion is asked at the cut. Two daemons of the same
// build answer the same samples:
//   - open buffers only: the editor names no workspace (rootUri null), only the edited file is open;
//   - workspace index: the editor names the workspace; the daemon has indexed the package's other
//     files (the edited file itself is learned from the buffer, not from disk, while it is open).
// Printed for each: exact-match rate (suggestion = hidden text, over all positions), accepted
// characters (the longest word-by-word prefix of the suggestion that matches the hidden text, as a
// user accepting word by word gets it) per suggestion shown and per position, and the share of
// suggestions that keep the file parseable (typescript's parser: accepting the whole suggestion
// adds no parse diagnostic to the file as it was at the cut; also the strict share: no
// diagnostic at all), and the ratios index / open buffers only.
//
//   node --import tsx bench/quality.ts [samples]     (HEARTH_QUALITY_PACKAGE=yaml/dist, HEARTH_QUALITY_SEED=N)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { makeHome, prng, waitFor, type HearthHome, type LspClient } from '../test/helpers/daemon.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface QualityFigures {
  positions: number;
  suggestions: number;
  exact: number;
  exactRate: number;
  acceptedChars: number;
  acceptedPerSuggestion: number;
  acceptedPerPosition: number;
  /** suggestions after which the file has no more parse diagnostics than at the cut */
  parseable: number;
  parseableShare: number;
  /** of the suggestions a user accepted at least a word of */
  accepted: number;
  acceptedParseableShare: number;
  /** suggestions after which the file has no parse diagnostic at all */
  strictParseableShare: number;
  p50Ms: number;
}

export interface QualityResult {
  package: string;
  files: number;
  seed: number;
  openBuffers: QualityFigures;
  index: QualityFigures;
  ratios: { exactRate: number; acceptedPerSuggestion: number; acceptedPerPosition: number };
}

interface Sample {
  rel: string;
  line: number;
  column: number;
  /** the file with the rest of the line removed */
  text: string;
  hidden: string;
}

const SOURCE = /\.(ts|js|mjs|cjs)$/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && SOURCE.test(e.name) && !e.name.endsWith('.min.js') && fs.statSync(p).size < 200_000) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function sample(files: Map<string, string>, n: number, rnd: () => number): Sample[] {
  const names = [...files.keys()];
  const out: Sample[] = [];
  for (let guard = 0; out.length < n && guard < n * 200; guard++) {
    const rel = names[Math.floor(rnd() * names.length)]!;
    const lines = files.get(rel)!.split('\n');
    const line = Math.floor(rnd() * lines.length);
    const text = lines[line]!.replace(/\r$/, '');
    const body = text.trim();
    // Lines of code: not blank, not a comment, long enough to have something left to complete.
    if (body.length < 8 || /^(\/\/|\/\*|\*)/.test(body)) continue;
    const indent = text.length - text.trimStart().length;
    const column = indent + 1 + Math.floor(rnd() * (text.trimEnd().length - indent - 1));
    const hidden = text.slice(column).trimEnd();
    if (!hidden) continue;
    const cut = [...lines];
    cut[line] = text.slice(0, column);
    out.push({ rel, line, column, text: cut.join('\n'), hidden });
  }
  return out;
}

/** What a user accepting word by word takes of `suggestion`: the longest run of whole words that matches `hidden`. */
export function acceptedPrefix(suggestion: string, hidden: string): number {
  let n = 0;
  for (const unit of suggestion.match(/\s*(?:[\p{L}\p{N}_$]+|[^\s\p{L}\p{N}_$]+)|\s+/gu) ?? []) {
    if (!hidden.startsWith(suggestion.slice(0, n + unit.length))) break;
    n += unit.length;
  }
  return n;
}

function parseErrors(name: string, text: string): number {
  const sf = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, false, name.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  return ((sf as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics ?? []).length;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : 0;
}

async function measure(editor: LspClient, work: string, samples: Sample[]): Promise<QualityFigures> {
  let suggestions = 0;
  let exact = 0;
  let acceptedChars = 0;
  let parseable = 0;
  let strict = 0;
  let accepted = 0;
  let acceptedParseable = 0;
  const times: number[] = [];
  let version = 0;
  for (const s of samples) {
    const file = path.join(work, s.rel);
    const uri = pathToFileURL(file).href;
    await editor.open(uri, s.text, ++version, s.rel.endsWith('.ts') ? 'typescript' : 'javascript');
    const t0 = performance.now();
    const r = await editor.inlineCompletion(uri, s.line, s.column);
    times.push(performance.now() - t0);
    await editor.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    const text = r.items[0]?.insertText ?? '';
    if (!text) continue;
    suggestions++;
    if (text.trimEnd() === s.hidden) exact++;
    const a = acceptedPrefix(text, s.hidden);
    acceptedChars += a;
    const lines = s.text.split('\n');
    const before = parseErrors(s.rel, s.text);
    lines[s.line] = lines[s.line]! + text;
    const after = parseErrors(s.rel, lines.join('\n'));
    const ok = after <= before;
    if (process.env.HEARTH_QUALITY_DEBUG) console.log(JSON.stringify({ line: lines[s.line]!.slice(0, s.column).slice(-60), hidden: s.hidden, text, accepted: a, ok }));
    if (ok) parseable++;
    if (after === 0) strict++;
    if (a > 0) {
      accepted++;
      if (ok) acceptedParseable++;
    }
  }
  const n = samples.length;
  return {
    positions: n, suggestions, exact, exactRate: exact / n, acceptedChars,
    acceptedPerSuggestion: suggestions ? acceptedChars / suggestions : 0, acceptedPerPosition: acceptedChars / n,
    parseable, parseableShare: suggestions ? parseable / suggestions : 1,
    accepted, acceptedParseableShare: accepted ? acceptedParseable / accepted : 1,
    strictParseableShare: suggestions ? strict / suggestions : 1,
    p50Ms: percentile(times, 50),
  };
}

async function editorFor(home: HearthHome, root: string | null): Promise<LspClient> {
  const editor = home.lsp();
  const rootUri = root ? pathToFileURL(root).href : null;
  await editor.connection.sendRequest('initialize', {
    processId: process.pid, clientInfo: { name: 'bench-quality', version: '1' }, rootUri,
    ...(rootUri ? { workspaceFolders: [{ uri: rootUri, name: path.basename(root!) }] } : {}),
    capabilities: { window: { workDoneProgress: true } },
  });
  await editor.connection.sendNotification('initialized', {});
  return editor;
}

export async function run(opts: { log?: (line: string) => void; samples?: number; seed?: number; pkg?: string } = {}): Promise<QualityResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const pkg = opts.pkg ?? process.env.HEARTH_QUALITY_PACKAGE ?? 'ajv/lib';
  const seed = opts.seed ?? (process.env.HEARTH_QUALITY_SEED ? Number(process.env.HEARTH_QUALITY_SEED) : Date.now() % 2 ** 31);
  const n = opts.samples ?? (Number(process.argv[2]) || 200);
  const src = path.join(ROOT, 'node_modules', pkg);
  if (!fs.existsSync(src)) throw new Error(`node_modules/${pkg} is missing; run npm install`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-quality-'));
  const files = new Map<string, string>();
  for (const f of sourceFiles(src)) {
    const rel = path.relative(src, f);
    const text = fs.readFileSync(f, 'utf8');
    files.set(rel, text);
    fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
    fs.writeFileSync(path.join(work, rel), text);
  }
  const samples = sample(files, n, prng(seed));
  log(`package node_modules/${pkg}: ${files.size} source files; ${samples.length} positions, seed ${seed} (HEARTH_QUALITY_SEED=${seed} repeats it)`);

  const homes = [makeHome('bench-quality-open'), makeHome('bench-quality-index')];
  try {
    await Promise.all(homes.map((h) => h.spawnDaemon()));
    // Open buffers only: no workspace named, only the edited file open.
    const plain = await editorFor(homes[0]!, null);
    const openBuffers = await measure(plain, work, samples);
    await plain.dispose();

    // Workspace index: the editor names the workspace; wait until the daemon has indexed it.
    const editor = await editorFor(homes[1]!, work);
    const t0 = performance.now();
    const st = await waitFor('the workspace index to be ready', async () => {
      const s = await homes[1]!.status();
      const r = s.workspaceIndex?.roots.find((x) => x.root === work);
      return r?.state === 'ready' ? s.workspaceIndex : undefined;
    }, 120_000);
    log(`workspace indexed: ${st!.files} files, ${(st!.bytes / 1024).toFixed(0)} KiB in ${((performance.now() - t0) / 1000).toFixed(1)} s; $/progress notifications: ${editor.notifications.filter((x) => x.method === '$/progress').length}`);
    const index = await measure(editor, work, samples);
    await editor.dispose();

    const ratio = (a: number, b: number): number => (b > 0 ? a / b : a > 0 ? Infinity : 1);
    const ratios = {
      exactRate: ratio(index.exactRate, openBuffers.exactRate),
      acceptedPerSuggestion: ratio(index.acceptedPerSuggestion, openBuffers.acceptedPerSuggestion),
      acceptedPerPosition: ratio(index.acceptedPerPosition, openBuffers.acceptedPerPosition),
    };
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
    const row = (name: string, f: QualityFigures): string =>
      `${name.padEnd(18)} shown ${String(f.suggestions).padStart(4)}/${f.positions}  exact ${pct(f.exactRate).padStart(7)}  accepted chars/suggestion ${f.acceptedPerSuggestion.toFixed(2).padStart(6)}  /position ${f.acceptedPerPosition.toFixed(2).padStart(6)}  parseable ${pct(f.parseableShare)} (accepted ${pct(f.acceptedParseableShare)}, strict ${pct(f.strictParseableShare)})  p50 ${f.p50Ms.toFixed(1)} ms`;
    log(row('open buffers only', openBuffers));
    log(row('workspace index', index));
    log(`ratios index / open buffers: exact-match ${ratios.exactRate.toFixed(2)}x, accepted chars per suggestion ${ratios.acceptedPerSuggestion.toFixed(2)}x, per position ${ratios.acceptedPerPosition.toFixed(2)}x (target >= 1.5x; parseable >= 95 %)`);
    return { package: pkg, files: files.size, seed, openBuffers, index, ratios };
  } finally {
    await Promise.all(homes.map((h) => h.dispose()));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  run().then(() => process.exit(0), (err: Error) => {
    console.error(`bench/quality.ts failed: ${err.message}`);
    process.exit(1);
  });
}
