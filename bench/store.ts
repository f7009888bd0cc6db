/**
 * Durable-write latency against raw append + fdatasync on the same disk, measured in the same run
 * and interleaved (one of each per round, so both see the same machine load):
 * `node --import tsx bench/store.ts [writes]`.
 *   raw            append 100 bytes + fdatasync with fs.promises (write, then datasync): the baseline
 *   raw (sync wr)  the same with the append done by writeSync and only the fdatasync in the pool:
 *                  the tightest durable append Node can make without blocking its event loop
 *   store          one writer awaiting each Store.write (journal append + fdatasync before the ack)
 *   anchored       one writer awaiting each egress-ledger append with the device anchor attached, as
 *                  in the daemon: journal append + fdatasync, then the signed checkpoint written
 *                  before the ack (its own fdatasync overlapped, see docs/tamper-evidence.md)
 *   8 writers      eight concurrent writers: group commit shares each fdatasync among queued writes
 * The target (issue 12): store p50 / raw p50 <= 1.5.
 */
import { writeSync } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeviceAnchor } from '../core/anchor/index.js';
import { StoreLedger, type EgressLedgerEntry } from '../core/egress/index.js';
import { Store } from '../core/store/index.js';

export interface LatencyStats {
  p50Us: number;
  p99Us: number;
}
export interface StoreBenchResult {
  writes: number;
  raw: LatencyStats;
  rawSyncWrite: LatencyStats;
  store: LatencyStats;
  anchored: LatencyStats;
  /** store p50 / raw p50: the issue-12 target is <= 1.5. */
  storeVsRaw: number;
  storeVsRawSyncWrite: number;
  anchoredVsRaw: number;
  /** Median over rounds of store / raw within the same round (robust to load drifting). */
  pairedStoreVsRaw: number;
  pairedAnchoredVsRaw: number;
  concurrentWriters: number;
  concurrentPerSec: number;
  /** Writes per journal append (fdatasync) with concurrent writers. */
  concurrentWritesPerFdatasync: number;
  lines: string[];
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const statsOf = (us: number[]): LatencyStats => ({ p50Us: pct(us, 50), p99Us: pct(us, 99) });

function entry(i: number): EgressLedgerEntry {
  return {
    time: new Date().toISOString(), client: 'bench', feature: 'completion', provider: 'stub', model: 'bench', location: 'cloud',
    host: '127.0.0.1:1', decision: 'allow', outcome: 'sent', grant: null, rule: 'default.cloud', bytes: 100 + i, sha256: 'e'.repeat(64),
    status: 200, error: null, redactions: 0, sources: [],
  };
}

async function concurrent(dir: string, n: number, writers: number): Promise<{ perSec: number; perFsync: number }> {
  const store = await Store.open(dir);
  try {
    await store.write([{ sql: 'CREATE TABLE bench (id INTEGER PRIMARY KEY, writer INTEGER, body TEXT)' }]);
    const before = store.stats;
    const body = 'x'.repeat(60);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        while (next < n) {
          const id = next++;
          await store.write([{ sql: 'INSERT INTO bench (id, writer, body) VALUES (?, ?, ?)', params: [id, w, body] }]);
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const after = store.stats;
    return { perSec: n / secs, perFsync: (after.writes - before.writes) / (after.batches - before.batches) };
  } finally {
    await store.close();
  }
}

export async function run(opts: { writes?: number; log?: (line: string) => void } = {}): Promise<StoreBenchResult> {
  const n = opts.writes ?? 1000;
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = await mkdtemp(path.join(tmpdir(), 'hearth-bench-store-'));
  let rawH: FileHandle | undefined;
  let rawS: FileHandle | undefined;
  let store: Store | undefined;
  let astore: Store | undefined;
  let anchor: DeviceAnchor | undefined;
  try {
    rawH = await open(path.join(root, 'raw'), 'a', 0o600);
    rawS = await open(path.join(root, 'raw-sync'), 'a', 0o600);
    const buf = Buffer.alloc(100, 1);
    const raw = async () => {
      await rawH!.write(buf);
      await rawH!.datasync();
    };
    const rawSync = async () => {
      writeSync(rawS!.fd, buf);
      await rawS!.datasync();
    };
    store = await Store.open(path.join(root, 'single'));
    await store.write([{ sql: 'CREATE TABLE bench (id INTEGER PRIMARY KEY, body TEXT)' }]);
    const body = 'x'.repeat(60);
    let id = 0;
    const storeWrite = () => store!.write([{ sql: 'INSERT INTO bench (id, body) VALUES (?, ?)', params: [++id, body] }]);
    // The daemon's shape: the store with migrations, the egress ledger, the anchor attached.
    const home = path.join(root, 'home');
    astore = await Store.open(path.join(home, 'store'));
    anchor = await DeviceAnchor.open(home, astore);
    const ledger = new StoreLedger(astore);
    anchor.attach(ledger);
    let k = 0;
    const anchoredWrite = () => ledger.append(entry(k++));

    const sides: Array<[string, () => Promise<void>, number[]]> = [
      ['raw', raw, []],
      ['rawSync', rawSync, []],
      ['store', storeWrite, []],
      ['anchored', anchoredWrite, []],
    ];
    for (let i = 0; i < 50; i++) for (const [, fn] of sides) await fn(); // warm up
    // Blocks of BLOCK writes per side, the sides in a rotating order, so every side sees the same
    // load and a writer's steady state is measured (the anchor overlaps a checkpoint's fdatasync
    // with the next append's). Between blocks, untimed, the anchor's last fdatasync is awaited so
    // it does not run into the next side's measurement.
    const BLOCK = 10;
    for (let i = 0; i < n / BLOCK; i++) {
      for (let j = 0; j < sides.length; j++) {
        const [, fn, out] = sides[(i + j) % sides.length]!;
        for (let b = 0; b < BLOCK; b++) {
          const t = performance.now();
          await fn();
          out.push((performance.now() - t) * 1000);
        }
        await anchor.flush();
      }
    }
    const [rawUs, rawSyncUs, storeUs, anchoredUs] = sides.map((s) => s[2]) as [number[], number[], number[], number[]];
    if (!(await anchor.verify('egress')).ok) throw new Error('bench: the anchored egress ledger does not verify');
    const paired = (a: number[], b: number[]) => pct(a.map((x, i) => x / b[i]!), 50);
    const conc = await concurrent(path.join(root, 'concurrent'), n * 2, 8);

    const r = statsOf(rawUs);
    const rs = statsOf(rawSyncUs);
    const s = statsOf(storeUs);
    const a = statsOf(anchoredUs);
    const res: StoreBenchResult = {
      writes: n,
      raw: r,
      rawSyncWrite: rs,
      store: s,
      anchored: a,
      storeVsRaw: s.p50Us / r.p50Us,
      storeVsRawSyncWrite: s.p50Us / rs.p50Us,
      anchoredVsRaw: a.p50Us / r.p50Us,
      pairedStoreVsRaw: paired(storeUs, rawUs),
      pairedAnchoredVsRaw: paired(anchoredUs, rawUs),
      concurrentWriters: 8,
      concurrentPerSec: conc.perSec,
      concurrentWritesPerFdatasync: conc.perFsync,
      lines: [],
    };
    const f = (x: LatencyStats) => `p50 ${x.p50Us.toFixed(0).padStart(5)} µs   p99 ${x.p99Us.toFixed(0).padStart(6)} µs`;
    const met = (x: number) => (x <= 1.5 ? 'met' : 'MISSED');
    res.lines.push(
      `store bench (${n} writes per side, in interleaved blocks of 10; dir ${root})`,
      `  raw append + fdatasync (baseline)       ${f(r)}`,
      `  raw writeSync + fdatasync               ${f(rs)}   (${(rs.p50Us / r.p50Us).toFixed(2)}x the baseline)`,
      `  Store.write, 1 writer                   ${f(s)}   -> ${res.storeVsRaw.toFixed(2)}x the baseline p50 (paired ${res.pairedStoreVsRaw.toFixed(2)}x; ` +
        `${res.storeVsRawSyncWrite.toFixed(2)}x writeSync+fdatasync)  (target <= 1.5: ${met(res.storeVsRaw)})`,
      `  anchored ledger append, 1 writer        ${f(a)}   -> ${res.anchoredVsRaw.toFixed(2)}x the baseline p50 (paired ${res.pairedAnchoredVsRaw.toFixed(2)}x)  (target <= 1.5: ${met(res.anchoredVsRaw)})`,
      `  Store.write, 8 writers                  ${conc.perSec.toFixed(0)} /s   (${conc.perFsync.toFixed(1)} writes per fdatasync)`,
    );
    for (const l of res.lines) log(l);
    return res;
  } finally {
    await anchor?.close();
    await astore?.close();
    await store?.close();
    await rawH?.close();
    await rawS?.close();
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv[2];
  await run(arg ? { writes: Number(arg) } : {});
}
