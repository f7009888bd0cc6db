import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, cpSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CURRENT_SCHEMA_VERSION, MIGRATIONS, Store, StoreError, type HearthExport, type Migration } from '../../core/store/index.js';

const roots: string[] = [];
function newDir(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hearth-store-'));
  roots.push(root);
  return path.join(root, 'store');
}
/** The files as a crash would leave them: a copy taken while the store is open. */
function crashImage(dir: string): string {
  const copy = newDir();
  mkdirSync(copy, { mode: 0o700 });
  for (const f of ['snapshot', 'journal']) cpSync(path.join(dir, f), path.join(copy, f));
  return copy;
}
async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof StoreError, `expected StoreError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}
const insertEvent = (id: string, data = '{}') => [
  { sql: 'INSERT INTO events (id, time, kind, data) VALUES (?, ?, ?, ?)', params: [id, '2025-01-01T00:00:00.000Z', 'test', data] },
];

after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('store: basics', () => {
  it('writes, reads, closes and reopens with every row intact; dir 0700, files 0600', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    assert.equal(s.schemaVersion, CURRENT_SCHEMA_VERSION);
    assert.ok(s.isEmpty());
    await s.write([
      { sql: 'INSERT INTO clients (id, name, version, kind, connected_at) VALUES (?, ?, ?, ?, ?)', params: ['c1', 'nvim', '0.7.2', 'editor', '2025-01-01T00:00:00Z'] },
      { sql: "INSERT INTO meta (key, value) VALUES ('owner', ?)", params: ['me'] },
    ]);
    await s.write(insertEvent('e1', '{"a":1}'));
    assert.equal(s.isEmpty(), false);
    assert.deepEqual(s.get('SELECT name, kind FROM clients WHERE id = ?', ['c1']), { name: 'nvim', kind: 'editor' });
    assert.equal(s.lastSequence, 2);
    await s.close();
    await s.close(); // idempotent
    assert.throws(() => s.all('SELECT 1'), /closed/);
    await rejectsWith(s.write(insertEvent('late')), 'CLOSED');

    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of ['snapshot', 'journal']) assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600, f);

    const r = await Store.open(dir);
    assert.deepEqual(r.all('SELECT id, data FROM events'), [{ id: 'e1', data: '{"a":1}' }]);
    assert.deepEqual(r.get("SELECT value FROM meta WHERE key = 'owner'"), { value: 'me' });
    assert.equal(r.lastSequence, 2);
    await r.close();
  });

  it('group commit: 200 concurrent writes are all durable, in submission order, with fewer fdatasyncs than writes', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write([{ sql: 'CREATE TABLE seqtest (n INTEGER NOT NULL)' }]);
    const before = s.stats;
    const acks: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, n) => s.write([{ sql: 'INSERT INTO seqtest (n) VALUES (?)', params: [n] }]).then(() => acks.push(n))),
    );
    const stats = s.stats;
    assert.equal(stats.writes - before.writes, 200);
    assert.ok(stats.batches - before.batches < 200, `expected batching, got ${stats.batches - before.batches} appends`);
    assert.deepEqual(acks, [...Array(200).keys()], 'acknowledged in submission order');
    const order = (st: Store) => st.all<{ n: number }>('SELECT n FROM seqtest ORDER BY rowid').map((r) => r.n);
    assert.deepEqual(order(s), [...Array(200).keys()]);
    const image = crashImage(dir); // journal replay, not the close snapshot
    await s.close();
    for (const d of [dir, image]) {
      const r = await Store.open(d);
      assert.deepEqual(order(r), [...Array(200).keys()]);
      await r.close();
    }
  });

  it('an invalid write is rejected alone, atomically, and never journaled', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    const results = await Promise.allSettled([
      s.write(insertEvent('a')),
      s.write([...insertEvent('half'), { sql: 'INSERT INTO no_such_table VALUES (1)' }]),
      s.write(insertEvent('a')), // duplicate primary key
      s.write(insertEvent('b')),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason as StoreError;
    assert.equal(err.code, 'INVALID_WRITE');
    assert.match(err.message, /no such table: no_such_table/);
    assert.match(((results[2] as PromiseRejectedResult).reason as Error).message, /UNIQUE constraint failed/);
    assert.equal(s.lastSequence, 2);

    await rejectsWith(s.write([]), 'INVALID_WRITE', /non-empty array/);
    await rejectsWith(s.write([{ sql: 'INSERT INTO events VALUES (?, ?, ?, ?)', params: ['x', 't', 'k', NaN] }]), 'INVALID_WRITE', /NaN/);
    await rejectsWith(s.write([{ sql: 'INSERT INTO events VALUES (?)', params: [undefined as never] }]), 'INVALID_WRITE', /undefined/);
    await rejectsWith(s.write([{ sql: ' /* sneaky */ COMMIT' }]), 'INVALID_WRITE', /COMMIT statements are not allowed/);
    await rejectsWith(s.write([{ sql: 'PRAGMA foreign_keys = OFF' }]), 'INVALID_WRITE', /PRAGMA/);
    await rejectsWith(s.write([{ sql: "DELETE FROM events; DELETE FROM clients" }]), 'INVALID_WRITE', /one SQL statement per entry/);
    assert.throws(() => s.all("DELETE FROM events WHERE id = 'a'"), /readonly/);
    assert.throws(() => s.all('ROLLBACK'), /ROLLBACK statements are not allowed/);

    const image = crashImage(dir);
    await s.close();
    const r = await Store.open(image);
    assert.deepEqual(r.all('SELECT id FROM events ORDER BY id').map((x) => x.id), ['a', 'b']);
    assert.equal(r.lastSequence, 2);
    assert.deepEqual(r.warnings, []);
    await r.close();
  });

  it('blobs, nulls and floats survive the journal and the snapshot', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write([{ sql: 'CREATE TABLE vals (b BLOB, n, f REAL)' }]);
    const blob = new Uint8Array([0, 1, 2, 255, 254]);
    await s.write([{ sql: 'INSERT INTO vals VALUES (?, ?, ?)', params: [blob, null, 3.25] }]);
    blob[0] = 99; // the store copied the value when the write was made
    const image = crashImage(dir);
    await s.close();
    for (const d of [dir, image]) {
      const r = await Store.open(d);
      const row = r.get<{ b: Uint8Array; n: null; f: number }>('SELECT * FROM vals');
      assert.deepEqual(row && [Array.from(row.b), row.n, row.f], [[0, 1, 2, 255, 254], null, 3.25]);
      await r.close();
    }
  });

  it('when the journal cannot be written, the batch is rolled back and rejected, and the store refuses further writes', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write(insertEvent('durable'));
    // Swap the journal's file handle for one on /dev/full: every write to it fails with ENOSPC.
    const internals = s as unknown as { journal: FileHandle };
    const realJournal = internals.journal;
    internals.journal = await open('/dev/full', 'a');
    const e = await rejectsWith(s.write(insertEvent('lost')), 'FAILED', /ENOSPC.*accepts no more writes.*restart Hearth/s);
    assert.equal(s.get("SELECT id FROM events WHERE id = 'lost'"), undefined, 'rolled back in memory');
    assert.deepEqual(s.all('SELECT id FROM events'), [{ id: 'durable' }]);
    assert.equal(await s.write(insertEvent('later')).catch((x: unknown) => x), e);
    await s.close(); // closes the /dev/full handle; no snapshot is attempted
    await realJournal.close();
    const r = await Store.open(dir);
    assert.deepEqual(r.all('SELECT id FROM events'), [{ id: 'durable' }]);
    await r.close();
  });

  it('a second opener of the same directory is refused while the first holds it', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await rejectsWith(Store.open(dir), 'LOCKED', /in use by process \d+/);
    await s.close();
    await (await Store.open(dir)).close();
  });
});

describe('store: snapshots', () => {
  it('snapshot restarts the journal; writes after it replay on reopen', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    for (let i = 0; i < 5; i++) await s.write(insertEvent(`a${i}`));
    assert.ok(statSync(path.join(dir, 'journal')).size > 0);
    await s.snapshot();
    assert.equal(statSync(path.join(dir, 'journal')).size, 0);
    for (let i = 0; i < 3; i++) await s.write(insertEvent(`b${i}`));
    const image = crashImage(dir);
    await s.close();
    const r = await Store.open(image);
    assert.equal(r.get<{ n: number }>('SELECT count(*) AS n FROM events')?.n, 8);
    assert.equal(r.lastSequence, 8);
    await r.close();
  });

  it('snapshots automatically past the size threshold', async () => {
    const dir = newDir();
    const s = await Store.open(dir, { snapshotBytes: 2000 });
    const first = s.stats.snapshots;
    for (let i = 0; i < 40; i++) await s.write(insertEvent(`e${i}`, JSON.stringify({ pad: 'x'.repeat(100) })));
    assert.ok(s.stats.snapshots - first >= 2, `snapshots: ${s.stats.snapshots - first}`);
    assert.ok(statSync(path.join(dir, 'journal')).size < 2000 + 400);
    const image = crashImage(dir);
    await s.close();
    const r = await Store.open(image);
    assert.equal(r.get<{ n: number }>('SELECT count(*) AS n FROM events')?.n, 40);
    await r.close();
  });

  it('a crash between snapshot rename and journal restart replays nothing twice; a stale snapshot.tmp is ignored', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write([{ sql: 'CREATE TABLE dup (n INTEGER)' }]); // no unique key: a double replay would show
    for (let i = 0; i < 10; i++) await s.write([{ sql: 'INSERT INTO dup VALUES (?)', params: [i] }]);
    const oldJournal = readFileSync(path.join(dir, 'journal'));
    await s.snapshot();
    const image = crashImage(dir);
    await s.close();
    writeFileSync(path.join(image, 'journal'), oldJournal); // the journal as it was before the restart
    writeFileSync(path.join(image, 'snapshot.tmp'), 'half a snapshot');
    const r = await Store.open(image);
    assert.deepEqual(r.all<{ n: number }>('SELECT n FROM dup ORDER BY n').map((x) => x.n), [...Array(10).keys()]);
    assert.deepEqual(r.warnings, []);
    await r.write([{ sql: 'INSERT INTO dup VALUES (10)' }]); // sequence continues after the snapshot's
    assert.equal(r.lastSequence, 12);
    await r.close();
    assert.equal(existsSync(path.join(image, 'snapshot.tmp')), false);
  });
});

describe('store: schema migrations', () => {
  const v1Only: Migration[] = [MIGRATIONS[0]!];

  it('migrates a schema-1 store (snapshot and journal) to the current schema with rows intact', async () => {
    const dir = newDir();
    const s = await Store.open(dir, { migrations: v1Only });
    assert.equal(s.schemaVersion, 1);
    await s.write([{ sql: 'INSERT INTO clients VALUES (?, ?, ?, ?, ?)', params: ['c1', 'code', '1.100', 'editor', '2025-01-01T00:00:00Z'] }]);
    await s.snapshot();
    await s.write([{ sql: 'INSERT INTO clients VALUES (?, ?, ?, ?, ?)', params: ['c2', 'cli', '0.1.0', 'cli', '2025-01-02T00:00:00Z'] }]);
    const image = crashImage(dir); // c2 lives only in the journal, written under schema 1
    await s.close();
    assert.equal(s.schemaVersion, 1);

    for (const d of [dir, image]) {
      const infos: string[] = [];
      const r = await Store.open(d, { log: (level, msg) => level === 'info' && infos.push(msg) });
      assert.equal(r.schemaVersion, CURRENT_SCHEMA_VERSION);
      assert.ok(infos.some((m) => /migrated schema 1 -> 2/.test(m)), infos.join('\n'));
      assert.deepEqual(r.all('SELECT id FROM clients ORDER BY id').map((x) => x.id), ['c1', 'c2']);
      await r.write(insertEvent('after-migration'));
      await r.close();
      const again = await Store.open(d);
      assert.equal(again.schemaVersion, CURRENT_SCHEMA_VERSION);
      assert.equal(again.get<{ n: number }>('SELECT count(*) AS n FROM events')?.n, 1);
      await again.close();
    }
  });

  it('refuses a store with a newer schema, naming both versions, and changes nothing', async () => {
    const dir = newDir();
    const future: Migration[] = [...MIGRATIONS, { version: CURRENT_SCHEMA_VERSION + 1, name: 'future', up: 'CREATE TABLE future (x)' }];
    const s = await Store.open(dir, { migrations: future });
    await s.write([{ sql: 'INSERT INTO future VALUES (1)' }]);
    await s.close();
    const before = readFileSync(path.join(dir, 'snapshot'));
    const e = await rejectsWith(Store.open(dir), 'SCHEMA_TOO_NEW');
    assert.ok(e.message.includes(`has schema version ${CURRENT_SCHEMA_VERSION + 1}, but this Hearth understands up to ${CURRENT_SCHEMA_VERSION}`), e.message);
    assert.match(e.message, /upgrade Hearth/);
    assert.deepEqual(readFileSync(path.join(dir, 'snapshot')), before);
    // and the lock was released: the newer Hearth still opens it
    await (await Store.open(dir, { migrations: future })).close();
  });

  it('rejects a migration list with gaps', async () => {
    await assert.rejects(Store.open(newDir(), { migrations: [MIGRATIONS[1]!] }), /expected 1/);
  });
});

describe('store: export and import', () => {
  async function populated(dir: string, migrations?: readonly Migration[]): Promise<Store> {
    const s = await Store.open(dir, migrations ? { migrations } : {});
    await s.write([
      { sql: 'INSERT INTO clients VALUES (?, ?, ?, ?, ?)', params: ['c1', 'nvim', '0.7.2', 'editor', '2025-01-01T00:00:00Z'] },
      { sql: "INSERT INTO meta (key, value) VALUES ('note', ?)", params: ['ünïcødé "quoted"'] },
      { sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY, b BLOB, f REAL, n)' },
      { sql: 'INSERT INTO extra (b, f, n) VALUES (?, ?, ?)', params: [new Uint8Array([1, 2, 3]), 0.5, null] },
    ]);
    if (s.schemaVersion >= 2) await s.write(insertEvent('e1', '{"x":[1,2]}'));
    return s;
  }
  const comparable = (x: HearthExport) => ({ ...x, exportedAt: '' });

  it('export -> JSON -> import into an empty directory restores everything', async () => {
    const src = await populated(newDir());
    const exported = src.exportState();
    await src.close();
    assert.equal(exported.format, 'hearth-export');
    assert.equal(exported.version, 1);
    assert.equal(exported.schemaVersion, CURRENT_SCHEMA_VERSION);
    for (const t of ['clients', 'events', 'extra', 'meta']) assert.ok(t in exported.tables, `export lacks ${t}`);
    assert.deepEqual(exported.tables.extra?.rows, [[1, { $base64: 'AQID' }, 0.5, null]]);
    assert.match(exported.tables.extra?.create ?? '', /^CREATE TABLE extra/);

    const dest = newDir();
    await Store.importState(dest, JSON.parse(JSON.stringify(exported)));
    const r = await Store.open(dest);
    assert.deepEqual(comparable(r.exportState()), comparable(exported));
    assert.equal(r.warnings.length, 0);
    await r.close();
  });

  it('refuses to import over a non-empty store unless forced, and keeps the replaced snapshot', async () => {
    const src = await populated(newDir());
    const exported = src.exportState();
    await src.close();
    const dest = newDir();
    const d = await Store.open(dest);
    await d.write(insertEvent('precious'));
    await d.close();
    const e = await rejectsWith(Store.importState(dest, exported), 'IMPORT_NOT_EMPTY', /already holds data, and nothing was changed/);
    assert.match(e.message, /force/);
    const still = await Store.open(dest);
    assert.deepEqual(still.all('SELECT id FROM events').map((x) => x.id), ['precious']);
    await still.close();

    await Store.importState(dest, exported, { force: true });
    const r = await Store.open(dest);
    assert.deepEqual(comparable(r.exportState()), comparable(exported));
    await r.close();
    const kept = readdirSync(dest).filter((n) => n.startsWith('snapshot.before-import-'));
    assert.equal(kept.length, 1);
    // the kept snapshot is a whole store: it still holds the replaced row
    const probe = newDir();
    mkdirSync(probe, { mode: 0o700 });
    cpSync(path.join(dest, kept[0]!), path.join(probe, 'snapshot'));
    const old = await Store.open(probe);
    assert.deepEqual(old.all('SELECT id FROM events').map((x) => x.id), ['precious']);
    await old.close();
  });

  it('imports an export from schema 1 by migrating it', async () => {
    const src = await populated(newDir(), [MIGRATIONS[0]!]);
    const exported = src.exportState();
    await src.close();
    assert.equal(exported.schemaVersion, 1);
    const dest = newDir();
    await Store.importState(dest, exported);
    const r = await Store.open(dest);
    assert.equal(r.schemaVersion, CURRENT_SCHEMA_VERSION);
    assert.deepEqual(r.all('SELECT id, name FROM clients'), [{ id: 'c1', name: 'nvim' }]);
    assert.deepEqual(r.all('SELECT count(*) AS n FROM events'), [{ n: 0 }]);
    await r.close();
  });

  it('rejects bad import files with a clear error and touches nothing', async () => {
    const dest = newDir();
    const good: HearthExport = { format: 'hearth-export', version: 1, schemaVersion: 2, exportedAt: 'x', tables: {} };
    const cases: [unknown, string, RegExp][] = [
      ['just a string', 'IMPORT_INVALID', /not a Hearth export/],
      [{ ...good, format: 'something-else' }, 'IMPORT_INVALID', /"format" is "something-else", expected "hearth-export"/],
      [{ ...good, version: 2 }, 'IMPORT_INVALID', /export format version 2, but this Hearth reads version 1/],
      [{ ...good, version: 'one' }, 'IMPORT_INVALID', /"version" "one"/],
      [{ ...good, schemaVersion: 99 }, 'SCHEMA_TOO_NEW', new RegExp(`schema version 99, but this Hearth understands up to ${CURRENT_SCHEMA_VERSION}`)],
      [{ ...good, tables: { clients: { columns: ['id'], rows: [[1, 2]] } } }, 'IMPORT_INVALID', /tables\.clients\.rows\[0\] must be an array of 1 values/],
      [{ ...good, tables: { clients: { columns: ['id'], rows: [[{ nope: 1 }]] } } }, 'IMPORT_INVALID', /tables\.clients\.rows\[0\]\[0\] is not a SQL value/],
      [{ ...good, tables: { nosuch: { columns: ['id'], rows: [] } } }, 'IMPORT_INVALID', /table "nosuch" does not exist in schema version 2 and the export has no "create"/],
      [{ ...good, tables: { clients: { columns: ['id'], rows: [['c1']] } } }, 'IMPORT_INVALID', /rows\[0\] cannot be inserted: NOT NULL constraint failed/],
    ];
    for (const [data, code, re] of cases) {
      await rejectsWith(Store.importState(dest, data), code, re);
      assert.equal(existsSync(dest), false, 'no store was created by a refused import');
    }
  });
});

describe('store: integrity check', () => {
  it('reports a healthy store as ok, and names problems with a fix', async () => {
    const dir = newDir();
    const s = await Store.open(dir);
    await s.write(insertEvent('e1'));
    const live = await Store.check(dir); // while open: read-only, no lock taken
    assert.deepEqual(live.filter((f) => f.level !== 'ok'), []);
    assert.ok(live.some((f) => /integrity_check: ok/.test(f.message)));
    assert.ok(live.some((f) => /1 valid record/.test(f.message)));
    await s.close();

    chmodSync(dir, 0o755);
    const j = path.join(dir, 'journal');
    writeFileSync(j, Buffer.from('HRJ1 torn'));
    const findings = await Store.check(dir);
    const dirWarn = findings.find((f) => /has mode 755/.test(f.message));
    assert.equal(dirWarn?.level, 'warning');
    assert.match(dirWarn?.fix ?? '', /chmod 700/);
    const tail = findings.find((f) => /invalid data at byte offset 0/.test(f.message));
    assert.equal(tail?.level, 'warning');
    assert.match(tail?.fix ?? '', /journal\.corrupt/);

    const snap = readFileSync(path.join(dir, 'snapshot'));
    const at = snap.length - 100;
    snap[at] = snap[at]! ^ 0x10;
    writeFileSync(path.join(dir, 'snapshot'), snap);
    const bad = await Store.check(dir);
    const err = bad.find((f) => f.level === 'error');
    assert.match(err?.message ?? '', /snapshot .* is corrupt \(database CRC mismatch\)/);
    assert.match(err?.fix ?? '', /hearth import/);
  });
});
