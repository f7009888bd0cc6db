// Runs every benchmark in bench/ in turn (each file's exported `run()`), in one process, one after
// the other so they do not disturb each other, and prints a summary. A benchmark that throws (for
// example bench/keystroke.ts without Neovim) is reported and the others still run; the exit code
// is non-zero when any failed.
//
//   node --import tsx bench/run.ts [name ...] [--json FILE]     (names: store, routing, ipc, ...)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The order the issues list them in; any other bench file runs after these, alphabetically. */
const PREFERRED = ['store', 'routing', 'infill', 'ipc', 'keystroke'];

export interface BenchOutcome { name: string; ok: boolean; ms: number; result?: unknown; error?: string }

export function benchNames(): string[] {
  const all = fs.readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3));
  const rank = (n: string) => (PREFERRED.includes(n) ? PREFERRED.indexOf(n) : PREFERRED.length);
  return all.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export async function runAll(names = benchNames(), log: (line: string) => void = (l) => console.log(l)): Promise<BenchOutcome[]> {
  const outcomes: BenchOutcome[] = [];
  for (const name of names) {
    const file = path.join(here, `${name}.ts`);
    if (!fs.existsSync(file)) {
      outcomes.push({ name, ok: false, ms: 0, error: `no such benchmark: ${file}` });
      continue;
    }
    log(`\n=== bench/${name}.ts`);
    const t = performance.now();
    try {
      const mod = (await import(pathToFileURL(file).href)) as { run?: (opts?: { log?: (l: string) => void }) => Promise<unknown> };
      if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts exports no run()`);
      const result = await mod.run({ log });
      outcomes.push({ name, ok: true, ms: performance.now() - t, result });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`bench/${name}.ts failed: ${error}`);
      outcomes.push({ name, ok: false, ms: performance.now() - t, error });
    }
  }
  log('\n=== summary');
  for (const o of outcomes) log(`  ${o.ok ? 'ok    ' : 'FAILED'} ${o.name.padEnd(14)} ${(o.ms / 1000).toFixed(1).padStart(6)} s${o.error ? `  ${o.error.split('\n')[0]}` : ''}`);
  return outcomes;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const j = args.indexOf('--json');
  const jsonFile = j >= 0 ? args[j + 1] : undefined;
  const names = args.filter((_, i) => j < 0 || (i !== j && i !== j + 1));
  const outcomes = await runAll(names.length ? names : benchNames());
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(outcomes, null, 2));
  // Benchmarks may leave timers or handles (servers they closed lazily): exit explicitly.
  process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
}
