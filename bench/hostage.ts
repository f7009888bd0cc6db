// A socket that cannot be held hostage (issue 11, must-show 6): a real daemon with 500 idle
// connections that never say hello, 3,000 open documents and two near-cap (8 MiB) documents
// written by one client all at once, while a well-behaved client calls `hearth/status` in a loop.
// Prints the status latency before the load (baseline) and under it, their p99 ratio, when the
// idle connections were closed (the hello deadline), and the daemon's peak RSS.
//
//   node --import tsx bench/hostage.ts [idle] [documents]
import { pathToFileURL } from 'node:url';
import { hostageScenario, type HostageResult } from '../test/helpers/hostage.js';

export async function run(opts: { log?: (line: string) => void; idle?: number; documents?: number } = {}): Promise<HostageResult & { p99Ratio: number }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = await hostageScenario({ idle: opts.idle ?? 500, documents: opts.documents ?? 3000, big: 2, helloTimeoutMs: 5000, baselineCalls: 200 });
  const f = (n: number): string => n.toFixed(1);
  log(`idle connections: ${r.idleClosed}/${r.idle} closed ${f(r.idleClosedAfterMs.min)}..${f(r.idleClosedAfterMs.max)} ms after opening (hello deadline ${r.helloTimeoutMs} ms): "${r.idleReason}"`);
  log(`documents: ${r.documentsOpen} open (${r.documents} + ${r.big} of ${r.bigBytes} B) ${f(r.openAllMs)} ms after the first didOpen`);
  log(`hearth/status baseline   p50 ${f(r.baseline.p50Ms)} ms  p99 ${f(r.baseline.p99Ms)} ms  max ${f(r.baseline.maxMs)} ms  (${r.baseline.calls} calls)`);
  log(`hearth/status under load p50 ${f(r.underLoad.p50Ms)} ms  p99 ${f(r.underLoad.p99Ms)} ms  max ${f(r.underLoad.maxMs)} ms  (${r.underLoad.calls} calls)`);
  const p99Ratio = r.underLoad.p99Ms / r.baseline.p99Ms;
  log(`p99 ratio under load / baseline: ${p99Ratio.toFixed(2)}; daemon RSS peak ${f(r.maxRssMb)} MB, at end ${f(r.rssAtEndMb)} MB`);
  return { ...r, p99Ratio };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [idle, documents] = process.argv.slice(2).map(Number);
  await run({ ...(idle ? { idle } : {}), ...(documents ? { documents } : {}) });
  process.exit(0);
}
