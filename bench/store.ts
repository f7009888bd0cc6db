/**
 * Store commit throughput with fdatasync, against the raw fdatasync rate of the same disk measured
 * in the same run: `node --import tsx bench/store.ts [writes]`.
 *   raw       append 100 bytes + fdatasync, in a loop (the ceiling for one-at-a-time durability)
 *   single    one writer awaiting each Store.write (one fdatasync per write)
 *   8 writers eight concurrent writers; group commit shares each fdatasync among queued writes
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Store } from '../core/store/index.js';

export interface StoreBenchResult {
  writes: number;
  rawFdatasyncPerSec: number;
  rawFdatasyncP50Us: number;
  singleWriterPerSec: number;
  concurrentWriters: number;
  concurrentPerSec: number;
  /** Writes per journal append (fdatasync) with concurrent writers. */
  concurrentWritesPerFdatasync: number;
  singleVsRaw: number;
  concurrentVsRaw: number;
  lines: string[];
}

async function rawFdatasync(dir: string, n: number): Promise<{ perSec: number; p50Us: number }> {
  const h = await open(path.join(dir, 'raw'), 'a', 0o600);
  const buf = Buffer.alloc(100, 1);
  const lat: number[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await h.write(buf);
      await h.datasync();
      lat.push(performance.now() - t);
    }
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { perSec: n / secs, p50Us: (lat[Math.floor(n / 2)] ?? 0) * 1000 };
  } finally {
    await h.close();
  }
}

async function storeThroughput(dir: string, n: number, writers: number): Promise<{ perSec: number; perFsync: number }> {
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
  const n = opts.writes ?? 2000;
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = await mkdtemp(path.join(tmpdir(), 'hearth-bench-store-'));
  try {
    await rawFdatasync(root, Math.min(200, n)); // warm up the disk path
    const raw = await rawFdatasync(root, n);
    const single = await storeThroughput(path.join(root, 'single'), n, 1);
    const concurrent = await storeThroughput(path.join(root, 'concurrent'), n, 8);
    const fmt = (x: number) => x.toFixed(0).padStart(7);
    const lines = [
      `store bench (${n} writes each, dir ${root})`,
      `  raw append+fdatasync     ${fmt(raw.perSec)} /s   (p50 ${raw.p50Us.toFixed(0)} µs)`,
      `  store, 1 writer          ${fmt(single.perSec)} /s   ratio to raw fdatasync ${(single.perSec / raw.perSec).toFixed(2)}`,
      `  store, 8 writers         ${fmt(concurrent.perSec)} /s   ratio to raw fdatasync ${(concurrent.perSec / raw.perSec).toFixed(2)}` +
        `   (${concurrent.perFsync.toFixed(1)} writes per fdatasync)`,
    ];
    for (const l of lines) log(l);
    return {
      writes: n,
      rawFdatasyncPerSec: raw.perSec,
      rawFdatasyncP50Us: raw.p50Us,
      singleWriterPerSec: single.perSec,
      concurrentWriters: 8,
      concurrentPerSec: concurrent.perSec,
      concurrentWritesPerFdatasync: concurrent.perFsync,
      singleVsRaw: single.perSec / raw.perSec,
      concurrentVsRaw: concurrent.perSec / raw.perSec,
      lines,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv[2];
  await run(arg ? { writes: Number(arg) } : {});
}
