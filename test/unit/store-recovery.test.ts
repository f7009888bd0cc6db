import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Store, StoreError } from '../../core/store/index.js';
import { decodeSnapshotHeader, encodeSnapshot } from '../../core/store/snapshot.js';
import { FRAME_HEADER_BYTES, scanJournal } from '../../core/store/journal.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
function newDir(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hearth-recovery-'));
  roots.push(root);
  return path.join(root, 'store');
}

const RECORDS = 6;

/**
 * A store image as a crash leaves it: a snapshot at schema 2 and a journal holding RECORDS
 * writes (row n = 0..RECORDS-1), copied while the store is open so the journal is not restarted.
 */
async function journalFixture(): Promise<{ snapshot: Buffer; journal: Buffer; offsets: number[] }> {
  const dir = newDir();
  const s = await Store.open(dir);
  await s.write([{ sql: 'CREATE TABLE r (n INTEGER NOT NULL, pad TEXT)' }]);
  await s.snapshot();
  for (let n = 0; n < RECORDS; n++) await s.write([{ sql: 'INSERT INTO r (n, pad) VALUES (?, ?)', params: [n, `row ${n} `.repeat(4)] }]);
  const snapshot = readFileSync(path.join(dir, 'snapshot'));
  const journal = readFileSync(path.join(dir, 'journal'));
  await s.close();
  const scan = scanJournal(journal, decodeSnapshotHeader(snapshot).header.seq);
  assert.equal(scan.records.length, RECORDS);
  assert.equal(scan.invalid, undefined);
  return { snapshot, journal, offsets: scan.records.map((r) => r.offset) };
}

function imageDir(snapshot: Buffer, journal: Buffer): string {
  const dir = newDir();
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(path.join(dir, 'snapshot'), snapshot, { mode: 0o600 });
  writeFileSync(path.join(dir, 'journal'), journal, { mode: 0o600 });
  return dir;
}

async function rows(dir: string, logged?: string[]): Promise<{ ns: number[]; warnings: string[] }> {
  const s = await Store.open(dir, logged ? { log: (level, m) => level === 'warning' && logged.push(m) } : {});
  try {
    return { ns: s.all<{ n: number }>('SELECT n FROM r ORDER BY rowid').map((x) => x.n), warnings: [...s.warnings] };
  } finally {
    await s.close();
  }
}
const range = (k: number) => [...Array(k).keys()];
const asideFiles = (dir: string, prefix: string) => readdirSync(dir).filter((n) => n.startsWith(prefix));

describe('store recovery: journal damage', () => {
  let fx: Awaited<ReturnType<typeof journalFixture>>;
  before(async () => {
    fx = await journalFixture();
  });

  it('truncated at every byte offset of its last record: all earlier records recovered, the torn tail cut with a warning and kept aside', async () => {
    const lastStart = fx.offsets.at(-1)!;
    assert.ok(fx.journal.length - lastStart > FRAME_HEADER_BYTES + 20);
    for (let len = lastStart; len < fx.journal.length; len++) {
      const cut = fx.journal.subarray(0, len);
      const dir = imageDir(fx.snapshot, cut);
      const logged: string[] = [];
      const { ns, warnings } = await rows(dir, logged);
      assert.deepEqual(ns, range(RECORDS - 1), `truncated to ${len}`);
      if (len === lastStart) {
        assert.deepEqual(warnings, [], 'a journal that ends on a record boundary is not damaged');
        continue;
      }
      assert.equal(warnings.length, 1, `truncated to ${len}: ${warnings.join('|')}`);
      assert.deepEqual(logged, warnings, 'warnings also go to the log callback');
      assert.match(warnings[0]!, new RegExp(`at byte offset ${lastStart} .*dropped ${len - lastStart} bytes`));
      const aside = asideFiles(dir, 'journal.corrupt-');
      assert.equal(aside.length, 1);
      assert.deepEqual(readFileSync(path.join(dir, aside[0]!)), cut.subarray(lastStart), 'the dropped bytes are kept');
      assert.match(warnings[0]!, new RegExp(aside[0]!));
    }
  });

  it('after a cut, new writes append cleanly and survive another crash', async () => {
    const lastStart = fx.offsets.at(-1)!;
    const dir = imageDir(fx.snapshot, fx.journal.subarray(0, lastStart + 7));
    const s = await Store.open(dir);
    assert.equal(s.warnings.length, 1);
    assert.equal(statSync(path.join(dir, 'journal')).size, lastStart);
    await s.write([{ sql: 'INSERT INTO r (n) VALUES (?)', params: [100] }]);
    const image = imageDir(readFileSync(path.join(dir, 'snapshot')), readFileSync(path.join(dir, 'journal')));
    await s.close();
    const again = await rows(image);
    assert.deepEqual(again.ns, [...range(RECORDS - 1), 100]);
    assert.deepEqual(again.warnings, []);
  });

  it('bit flips anywhere in the last record (magic, length, CRC, payload) keep every earlier record', async () => {
    const lastStart = fx.offsets.at(-1)!;
    const end = fx.journal.length;
    const positions = [0, 3, 4, 6, 8, 11, 12, 13, Math.floor((lastStart + end) / 2) - lastStart, end - lastStart - 2, end - lastStart - 1];
    for (const rel of positions) {
      for (const bit of [0, 5, 7]) {
        const damaged = Buffer.from(fx.journal);
        const at = lastStart + rel;
        damaged[at] = damaged[at]! ^ (1 << bit);
        const dir = imageDir(fx.snapshot, damaged);
        const { ns, warnings } = await rows(dir);
        assert.deepEqual(ns, range(RECORDS - 1), `flip bit ${bit} at byte ${at}`);
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, new RegExp(`at byte offset ${lastStart} `));
      }
    }
  });

  it('a bit flip in a middle record cuts there with a warning; the records after it are kept aside, not destroyed', async () => {
    const k = 2; // damage record index 2 of 0..5
    const start = fx.offsets[k]!;
    const damaged = Buffer.from(fx.journal);
    const at = start + FRAME_HEADER_BYTES + 10;
    damaged[at] = damaged[at]! ^ 0x01;
    const dir = imageDir(fx.snapshot, damaged);
    const { ns, warnings } = await rows(dir);
    assert.deepEqual(ns, range(k));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`at byte offset ${start} is invalid \\(CRC mismatch\\).*dropped ${fx.journal.length - start} bytes`));
    const aside = asideFiles(dir, 'journal.corrupt-');
    assert.equal(aside.length, 1);
    const kept = readFileSync(path.join(dir, aside[0]!));
    assert.deepEqual(kept, damaged.subarray(start));
    // the intact records after the damaged one are in the kept bytes, readable by hand
    assert.equal(scanJournal(kept.subarray(fx.offsets[k + 1]! - start), Number.MAX_SAFE_INTEGER).records.length, RECORDS - k - 1);
  });

  it('a journal that skips sequence numbers after the snapshot is cut, not replayed out of order', async () => {
    const second = fx.offsets[1]!;
    const dir = imageDir(fx.snapshot, fx.journal.subarray(second)); // first record missing
    const { ns, warnings } = await rows(dir);
    assert.deepEqual(ns, []);
    assert.match(warnings[0] ?? '', /sequence gap/);
  });
});

describe('store recovery: snapshot damage', () => {
  async function storeWithData(): Promise<string> {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write([{ sql: 'CREATE TABLE r (n INTEGER)' }, { sql: 'INSERT INTO r VALUES (1)' }]);
    await s.close();
    return dir;
  }

  const damages: [string, (b: Buffer) => Buffer][] = [
    ['bad magic', (b) => (b.write('X', 0), b)],
    ['header CRC', (b) => ((b[20] = b[20]! ^ 0x04), b)],
    ['database CRC', (b) => ((b[b.length - 1] = b[b.length - 1]! ^ 0x80), b)],
    ['truncated', (b) => b.subarray(0, b.length - 512)],
    ['valid frame around a non-database', () => encodeSnapshot(Buffer.from('this is not an SQLite database image at all'.repeat(20)), 1, 2, new Date())],
  ];
  for (const [what, damage] of damages) {
    it(`a corrupt snapshot (${what}) is moved aside and open refuses, naming where it was kept`, async () => {
      const dir = await storeWithData();
      const original = readFileSync(path.join(dir, 'snapshot'));
      const damaged = damage(Buffer.from(original));
      writeFileSync(path.join(dir, 'snapshot'), damaged);
      let err: unknown;
      await Store.open(dir).catch((e) => (err = e));
      assert.ok(err instanceof StoreError && err.code === 'CORRUPT_SNAPSHOT', String(err));
      const aside = asideFiles(dir, 'snapshot.corrupt-');
      assert.equal(aside.length, 1);
      assert.ok(err.message.includes(path.join(dir, aside[0]!)), err.message);
      assert.match(err.message, /hearth import/);
      assert.deepEqual(readFileSync(path.join(dir, aside[0]!)), damaged, 'kept byte for byte');
      assert.equal(existsSync(path.join(dir, 'snapshot')), false);

      // Opening again must not quietly start an empty store in its place.
      await assert.rejects(Store.open(dir), (e: unknown) => e instanceof StoreError && e.code === 'SNAPSHOT_MISSING' && e.message.includes(aside[0]!));
      const findings = await Store.check(dir);
      assert.ok(findings.some((f) => f.level === 'error' && /no snapshot/.test(f.message)));

      // Only an explicit decision starts over; the damaged file stays.
      const s = await Store.open(dir, { recoverFromCorruptSnapshot: true });
      assert.ok(s.isEmpty());
      await s.close();
      assert.ok(existsSync(path.join(dir, aside[0]!)));
      const r = await Store.open(dir); // and from then on it is a normal store
      await r.close();
    });
  }

  it('with recoverFromCorruptSnapshot, the journal that belonged to the corrupt snapshot is kept aside too', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write([{ sql: 'CREATE TABLE r (n INTEGER)' }]);
    const journal = readFileSync(path.join(dir, 'journal'));
    await s.close();
    writeFileSync(path.join(dir, 'journal'), journal);
    writeFileSync(path.join(dir, 'snapshot'), 'garbage');
    const r = await Store.open(dir, { recoverFromCorruptSnapshot: true });
    assert.equal(r.warnings.length, 2, r.warnings.join('\n'));
    await r.close();
    const orphan = asideFiles(dir, 'journal.orphaned-');
    assert.equal(orphan.length, 1);
    assert.deepEqual(readFileSync(path.join(dir, orphan[0]!)), journal);
  });

  it('a snapshot copied out of a live store reopens (the image is self-contained)', async () => {
    const dir = await storeWithData();
    const copy = newDir();
    mkdirSync(copy, { mode: 0o700 });
    cpSync(path.join(dir, 'snapshot'), path.join(copy, 'snapshot'));
    const s = await Store.open(copy);
    assert.deepEqual(s.all('SELECT n FROM r'), [{ n: 1 }]);
    await s.close();
  });
});
