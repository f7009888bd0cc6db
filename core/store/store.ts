import { writeSync } from 'node:fs';
import { copyFile, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import { StoreError, messageOf } from './errors.js';
import { buildImportedDatabase, dumpDatabase, userTables, validateExport, type HearthExport } from './export.js';
import {
  FILE_MODE,
  asideName,
  ensurePrivateDir,
  fsyncDir,
  moveAside,
  readIfExists,
  tightenFile,
  writeFileSynced,
} from './fsutil.js';
import { JOURNAL_FILE, encodeFrame, scanJournal, type EncodedStatement, type JournalRecord } from './journal.js';
import { acquireLock, type StoreLock } from './lock.js';
import { checkStore, type Finding } from './check.js';
import { recoverStore, type RecoverReport } from './recover.js';
import { MIGRATIONS, applyMigration, readSchemaVersion, schemaTooNew, validateMigrations, type Migration } from './migrations.js';
import { SNAPSHOT_FILE, SNAPSHOT_TMP_FILE, decodeSnapshot, encodeSnapshot } from './snapshot.js';
import { checkStatementAllowed, configureConnection, loadSqlJs, queryAll, runStatement, withWritable } from './sqljs.js';
import { describeBadValue, fromJsonValue, isSqlValue, toJsonValue, type SqlValue } from './values.js';

export const DEFAULT_SNAPSHOT_BYTES = 8 * 1024 * 1024;

/** One SQL statement of a write. Pass times and ids as params: replay must reproduce the write. */
export interface Statement {
  sql: string;
  params?: SqlValue[];
}

export type StoreLog = (level: 'warning' | 'info', message: string) => void;

export interface StoreOptions {
  /** Receives every warning (also kept in `store.warnings`) and informational notes. */
  log?: StoreLog;
  /** Snapshot automatically once the journal has grown past this many bytes. */
  snapshotBytes?: number;
  /**
   * When the snapshot is corrupt or missing: move it (and the journal that belongs to it) aside
   * and start an empty store instead of refusing to open. Only for an explicit user decision.
   */
  recoverFromCorruptSnapshot?: boolean;
  /** Replaces MIGRATIONS (tests use this to create old-schema stores). */
  migrations?: readonly Migration[];
}

interface ValidatedStatement {
  sql: string;
  params: SqlValue[];
}

type QueueItem =
  | {
      kind: 'write';
      tx: ValidatedStatement[];
      encoded: EncodedStatement[];
      resolve: () => void;
      reject: (e: Error) => void;
    }
  | { kind: 'snapshot' | 'barrier'; resolve: () => void; reject: (e: Error) => void };
type WriteItem = Extract<QueueItem, { kind: 'write' }>;

/** Copies and checks a write before it is queued, so later mutation by the caller cannot leak in. */
function validateTx(tx: unknown): { tx: ValidatedStatement[]; encoded: EncodedStatement[] } {
  const bad = (what: string) => new StoreError('INVALID_WRITE', `write rejected, nothing was stored: ${what}`);
  if (!Array.isArray(tx) || tx.length === 0) throw bad('a write is a non-empty array of { sql, params } statements');
  const out: ValidatedStatement[] = [];
  const encoded: EncodedStatement[] = [];
  tx.forEach((s: unknown, i) => {
    if (typeof s !== 'object' || s === null || typeof (s as Statement).sql !== 'string') {
      throw bad(`statement ${i} must be an object with a string "sql"`);
    }
    const { sql, params = [] } = s as Statement;
    const forbidden = checkStatementAllowed(sql);
    if (forbidden) throw bad(`statement ${i}: ${forbidden}`);
    if (!Array.isArray(params)) throw bad(`statement ${i}: "params" must be an array`);
    const copied = params.map((p: unknown, j) => {
      if (!isSqlValue(p)) throw bad(`statement ${i}, param ${j} is ${describeBadValue(p)}`);
      return p instanceof Uint8Array ? new Uint8Array(p) : p;
    });
    out.push({ sql, params: copied });
    encoded.push({ sql, params: copied.map(toJsonValue) });
  });
  return { tx: out, encoded };
}

function decodeTx(tx: EncodedStatement[]): ValidatedStatement[] {
  return tx.map((s) => ({
    sql: s.sql,
    params: s.params.map((p) => {
      const v = fromJsonValue(p);
      if (v === undefined) throw new Error(`a parameter is not a SQL value: ${JSON.stringify(p).slice(0, 80)}`);
      return v;
    }),
  }));
}

function applyStatements(db: Database, tx: readonly ValidatedStatement[]): void {
  for (const s of tx) runStatement(db, s.sql, s.params);
}

/** Notes collected while opening, before the Store object exists. */
class Notes {
  readonly warnings: string[] = [];
  constructor(private readonly log: StoreLog | undefined) {}
  warn(msg: string): void {
    this.warnings.push(msg);
    this.log?.('warning', msg);
  }
  info(msg: string): void {
    this.log?.('info', msg);
  }
}

/**
 * Hearth's durable state: SQLite (sql.js) in memory, a CRC-framed journal that is fdatasync'd
 * before any write is acknowledged, and atomic snapshots. See FORMAT.md for the files.
 *
 * Writes go through one queue, applied in arrival order. While one batch is being made durable,
 * new writes wait; the next batch takes all of them at once (group commit: one append, one
 * fdatasync). Reads are synchronous and see every write that has been applied, including the
 * batch whose fdatasync is in flight; if that fdatasync fails, the batch is rolled back, its
 * writes are rejected and the store refuses further writes (disk state is then uncertain; a
 * restart recovers from the files).
 */
export class Store {
  readonly warnings: string[];
  #schemaVersion: number;
  #db: Database;
  #queue: QueueItem[] = [];
  #loopActive = false;
  #closing: Promise<void> | undefined;
  #closed = false;
  #failure: StoreError | undefined;
  #journalBytes: number;
  #nextAutoSnapshotAt: number;
  #stats = { writes: 0, batches: 0, snapshots: 0 };

  private constructor(
    readonly dir: string,
    private readonly notes: Notes,
    private readonly lock: StoreLock,
    private readonly journal: FileHandle,
    db: Database,
    schemaVersion: number,
    private lastSeq: number,
    journalBytes: number,
    private readonly snapshotBytes: number,
  ) {
    this.warnings = notes.warnings;
    this.#db = db;
    this.#schemaVersion = schemaVersion;
    this.#journalBytes = journalBytes;
    this.#nextAutoSnapshotAt = snapshotBytes;
  }

  get schemaVersion(): number {
    return this.#schemaVersion;
  }

  /** Counters since open: durable writes, journal appends (one fdatasync each), snapshots. */
  get stats(): { writes: number; batches: number; snapshots: number } {
    return { ...this.#stats };
  }

  /** Sequence number of the last durable write (0 for a new store). */
  get lastSequence(): number {
    return this.lastSeq;
  }

  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    const migrations = validateMigrations(opts.migrations ?? MIGRATIONS);
    const snapshotBytes = opts.snapshotBytes ?? DEFAULT_SNAPSHOT_BYTES;
    if (!(snapshotBytes > 0)) throw new Error(`snapshotBytes must be positive, got ${snapshotBytes}`);
    const notes = new Notes(opts.log);
    const SQL = await loadSqlJs();
    const dirNote = await ensurePrivateDir(dir);
    if (dirNote) notes.warn(dirNote);
    const lock = await acquireLock(dir);
    try {
      return await Store.load(SQL, dir, opts, migrations, snapshotBytes, notes, lock);
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  private static async load(
    SQL: SqlJsStatic,
    dir: string,
    opts: StoreOptions,
    migrations: readonly Migration[],
    snapshotBytes: number,
    notes: Notes,
    lock: StoreLock,
  ): Promise<Store> {
    const knownSchema = migrations.length;
    const snapPath = path.join(dir, SNAPSHOT_FILE);
    const journalPath = path.join(dir, JOURNAL_FILE);
    // A temp snapshot is by definition one that never got renamed into place: incomplete.
    await rm(path.join(dir, SNAPSHOT_TMP_FILE), { force: true });

    const snapBuf = await readIfExists(snapPath);
    let journalBuf = (await readIfExists(journalPath)) ?? Buffer.alloc(0);
    let db: Database | undefined;
    let snapSeq = 0;
    let fresh = false;

    const setJournalAside = async (why: string): Promise<void> => {
      if (journalBuf.length === 0) return;
      const aside = await moveAside(dir, JOURNAL_FILE, 'orphaned');
      notes.warn(`journal ${journalPath} (${journalBuf.length} bytes) belongs to ${why}; moved it to ${aside}`);
      journalBuf = Buffer.alloc(0);
    };

    if (snapBuf) {
      let reason: string | undefined;
      try {
        const { header, db: image } = decodeSnapshot(snapBuf);
        const candidate = new SQL.Database(image);
        try {
          candidate.exec('SELECT count(*) FROM sqlite_master'); // sql.js only notices a bad image when it is used
          const v = readSchemaVersion(candidate);
          if (v !== header.schemaVersion) throw new Error(`database schema version ${v} differs from the header's ${header.schemaVersion}`);
        } catch (e) {
          candidate.close();
          throw e;
        }
        db = candidate;
        snapSeq = header.seq;
      } catch (e) {
        reason = messageOf(e);
      }
      if (reason !== undefined) {
        const aside = await moveAside(dir, SNAPSHOT_FILE, 'corrupt');
        if (!opts.recoverFromCorruptSnapshot) {
          throw new StoreError(
            'CORRUPT_SNAPSHOT',
            `The store snapshot ${snapPath} is corrupt (${reason}). It was moved to ${aside}; nothing was deleted, and the journal ` +
              `${journalPath} was left as it is. Hearth will not replace it with an empty store on its own. To restore your data, ` +
              `run \`hearth store recover\`: it keeps what can still be read (tables of the damaged snapshot, journal records), ` +
              `sets the damaged files aside with a timestamp and lets Hearth start; then, to restore an export, \`hearth import --force FILE\`.`,
          );
        }
        notes.warn(`snapshot ${snapPath} is corrupt (${reason}); moved it to ${aside} and started an empty store as requested`);
        await setJournalAside('the corrupt snapshot');
        fresh = true;
      }
    } else {
      const asideSnapshots = (await readdir(dir)).filter((n) => n.startsWith(`${SNAPSHOT_FILE}.corrupt-`));
      if (journalBuf.length > 0 || asideSnapshots.length > 0) {
        const what = [
          journalBuf.length > 0 ? `its journal ${journalPath} holds ${journalBuf.length} bytes` : '',
          asideSnapshots.length > 0 ? `a damaged snapshot was kept aside as ${asideSnapshots.map((n) => path.join(dir, n)).join(', ')}` : '',
        ]
          .filter(Boolean)
          .join(' and ');
        if (!opts.recoverFromCorruptSnapshot) {
          throw new StoreError(
            'SNAPSHOT_MISSING',
            `The store at ${dir} has no snapshot, but ${what}. Hearth will not start an empty store over that data on its own. ` +
              `Run \`hearth store recover\`: it salvages what can still be read from those files, keeps them aside and lets ` +
              `Hearth start; then, to restore an export, \`hearth import --force FILE\`.`,
          );
        }
        await setJournalAside('a missing snapshot');
      }
      fresh = true;
    }
    db ??= new SQL.Database();

    try {
      configureConnection(db);
      let schema = readSchemaVersion(db);
      if (schema > knownSchema) throw schemaTooNew(dir, schema, knownSchema);

      // Replay at the schema the records were written under; migrations come after.
      const scan = scanJournal(journalBuf, snapSeq);
      let lastSeq = snapSeq;
      for (const { record, offset } of scan.records) {
        if (record.seq <= snapSeq) continue; // already in the snapshot (crash before the journal restarted)
        if (record.schema > knownSchema) throw schemaTooNew(dir, record.schema, knownSchema);
        if (record.schema !== schema) {
          throw new StoreError(
            'REPLAY_FAILED',
            `journal ${journalPath}: record ${record.seq} at byte ${offset} was written under schema ${record.schema}, but the snapshot ` +
              `is at schema ${schema}. Nothing was changed. \`hearth doctor\` shows the store's state; \`hearth store recover\` keeps ` +
              `every record that applies and sets the journal aside.`,
          );
        }
        try {
          const tx = decodeTx(record.tx);
          withWritable(db, () => {
            db.exec('BEGIN');
            try {
              applyStatements(db, tx);
              db.exec('COMMIT');
            } catch (e) {
              db.exec('ROLLBACK');
              throw e;
            }
          });
        } catch (e) {
          throw new StoreError(
            'REPLAY_FAILED',
            `journal ${journalPath}: record ${record.seq} at byte ${offset} is intact but cannot be applied (${messageOf(e)}). ` +
              `Nothing was changed on disk. \`hearth doctor\` shows the store's state; \`hearth store recover\` keeps every record ` +
              `that applies and sets the journal aside.`,
          );
        }
        lastSeq = record.seq;
      }

      if (scan.invalid) {
        const { offset, reason } = scan.invalid;
        const dropped = journalBuf.length - scan.validBytes;
        const aside = await asideName(dir, JOURNAL_FILE, 'corrupt');
        await writeFileSynced(aside, journalBuf.subarray(scan.validBytes));
        const h = await open(journalPath, 'r+');
        try {
          await h.truncate(scan.validBytes);
          await h.sync();
        } finally {
          await h.close();
        }
        await fsyncDir(dir);
        notes.warn(
          `journal ${journalPath}: the record at byte offset ${offset} is invalid (${reason}); cut the journal there and dropped ` +
            `${dropped} bytes (saved to ${aside}); the ${scan.records.length} records before it were recovered`,
        );
      }

      const journal = await open(journalPath, 'a', FILE_MODE);
      const store = new Store(dir, notes, lock, journal, db, schema, lastSeq, scan.validBytes, snapshotBytes);
      try {
        await fsyncDir(dir); // the journal's directory entry must be durable before any append counts
        await tightenFile(journalPath);
        let migrated = false;
        for (const m of migrations) {
          if (m.version <= schema) continue;
          applyMigration(db, m);
          notes.info(`store at ${dir}: migrated schema ${schema} -> ${m.version} (${m.name})`);
          schema = m.version;
          store.#schemaVersion = schema;
          migrated = true;
        }
        if (migrated || fresh) await store.writeSnapshot();
        await tightenFile(snapPath);
        return store;
      } catch (e) {
        await journal.close();
        throw e;
      }
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Resolves once the write is applied and its journal record is on disk; rejects with StoreError. */
  write(tx: Statement[]): Promise<void> {
    if (this.#closing) return Promise.reject(new StoreError('CLOSED', `store at ${this.dir} is closed; the write was not stored`));
    if (this.#failure) return Promise.reject(this.#failure);
    let item: { tx: ValidatedStatement[]; encoded: EncodedStatement[] };
    try {
      item = validateTx(tx);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: 'write', ...item, resolve, reject });
      this.kick();
    });
  }

  all<T = Record<string, SqlValue>>(sql: string, params: SqlValue[] = []): T[] {
    this.assertReadable();
    const forbidden = checkStatementAllowed(sql);
    if (forbidden) throw new StoreError('INVALID_WRITE', forbidden);
    return queryAll<T>(this.#db, sql, params);
  }

  get<T = Record<string, SqlValue>>(sql: string, params: SqlValue[] = []): T | undefined {
    return this.all<T>(sql, params)[0];
  }

  /** Writes a snapshot after every write queued before this call; the journal then restarts. */
  snapshot(): Promise<void> {
    if (this.#closing) return Promise.reject(new StoreError('CLOSED', `store at ${this.dir} is closed`));
    return this.enqueueSnapshot();
  }

  /** Flushes queued writes, snapshots, releases the files. Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#failure) {
        try {
          await this.enqueueSnapshot();
        } catch (e) {
          this.notes.warn(`store at ${this.dir}: final snapshot failed (${messageOf(e)}); every acknowledged write is still in the journal`);
        }
      } else {
        await this.enqueue('barrier').catch(() => undefined); // let queued writes be rejected first
      }
      this.#closed = true;
      await this.journal.close();
      this.#db.close();
      await this.lock.release();
    })();
    return this.#closing;
  }

  exportState(): HearthExport {
    this.assertReadable();
    return dumpDatabase(this.#db, this.#schemaVersion, new Date());
  }

  /** True when no table holds a row (the schema version in `meta` does not count). */
  isEmpty(): boolean {
    this.assertReadable();
    return userTables(this.#db).every((t) => {
      const sql = t === 'meta' ? "SELECT 1 FROM meta WHERE key <> 'schema_version' LIMIT 1" : `SELECT 1 FROM "${t.replace(/"/g, '""')}" LIMIT 1`;
      return queryAll(this.#db, sql, []).length === 0;
    });
  }

  /**
   * Imports an export (see FORMAT.md) into the store directory `dir`, which must not be open
   * elsewhere. Older-schema exports are migrated. A store that holds data is only replaced with
   * `force`, and then its previous snapshot is kept as `snapshot.before-import-<time>`.
   */
  static async importState(
    dir: string,
    data: unknown,
    opts: { force?: boolean; log?: StoreLog; migrations?: readonly Migration[] } = {},
  ): Promise<void> {
    const migrations = validateMigrations(opts.migrations ?? MIGRATIONS);
    const parsed = validateExport(data, migrations.length);
    const SQL = await loadSqlJs();
    const imported = buildImportedDatabase(SQL, parsed, migrations, dir);
    let store: Store;
    try {
      store = await Store.open(dir, { migrations, ...(opts.log ? { log: opts.log } : {}) });
    } catch (e) {
      imported.close();
      throw e;
    }
    try {
      const empty = store.isEmpty();
      if (!empty && !opts.force) {
        imported.close();
        throw new StoreError(
          'IMPORT_NOT_EMPTY',
          `import refused: the store at ${dir} already holds data, and nothing was changed. To replace it, import again with force ` +
            `(\`hearth import --force FILE\`); its current snapshot will be kept as snapshot.before-import-<time>.`,
        );
      }
      await store.replaceDatabase(imported, !empty);
    } finally {
      await store.close();
    }
  }

  /**
   * `hearth store recover`: rebuilds a store that refuses to open (corrupt or missing snapshot, a
   * journal record that cannot be applied) from what can still be read; see recover.ts.
   */
  static recover(dir: string, opts: { migrations?: readonly Migration[] } = {}): Promise<RecoverReport> {
    return recoverStore(dir, opts);
  }

  /** Read-only integrity check for `hearth doctor`; safe while another process has the store open. */
  static check(dir: string, opts: { migrations?: readonly Migration[] } = {}): Promise<Finding[]> {
    return checkStore(dir, validateMigrations(opts.migrations ?? MIGRATIONS));
  }

  private async replaceDatabase(db: Database, keepPrevious: boolean): Promise<void> {
    await this.enqueue('barrier'); // wait until no batch is in flight
    if (keepPrevious) {
      const aside = await asideName(this.dir, SNAPSHOT_FILE, 'before-import');
      await copyFile(path.join(this.dir, SNAPSHOT_FILE), aside);
      await tightenFile(aside);
      await fsyncDir(this.dir);
      this.notes.info(`previous snapshot kept as ${aside}`);
    }
    const old = this.#db;
    this.#db = db;
    this.#schemaVersion = readSchemaVersion(db);
    old.close();
    // Same seq as the journal's last record: those records are now superseded and skipped on open.
    await this.writeSnapshot();
  }

  private assertReadable(): void {
    if (this.#closed) throw new StoreError('CLOSED', `store at ${this.dir} is closed`);
  }

  private enqueueSnapshot(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.enqueue('snapshot');
  }

  private enqueue(kind: 'snapshot' | 'barrier'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.#loopActive) return;
    this.#loopActive = true;
    void this.runLoop();
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if (head.kind === 'barrier') {
          this.#queue.shift();
          head.resolve();
          continue;
        }
        if (head.kind === 'snapshot') {
          this.#queue.shift();
          if (this.#failure) {
            head.reject(this.#failure);
            continue;
          }
          try {
            await this.writeSnapshot();
            head.resolve();
          } catch (e) {
            head.reject(e instanceof Error ? e : new Error(String(e)));
          }
          continue;
        }
        let n = 0;
        while (n < this.#queue.length && this.#queue[n]!.kind === 'write') n++;
        const batch = this.#queue.splice(0, n) as WriteItem[];
        if (this.#failure) {
          for (const w of batch) w.reject(this.#failure);
          continue;
        }
        await this.commitBatch(batch);
        if (!this.#failure && this.#journalBytes >= this.#nextAutoSnapshotAt) {
          try {
            await this.writeSnapshot();
          } catch (e) {
            this.#nextAutoSnapshotAt = this.#journalBytes + this.snapshotBytes; // retry later, not after every batch
            this.notes.warn(`store at ${this.dir}: automatic snapshot failed (${messageOf(e)}); the journal keeps growing and stays valid`);
          }
        }
      }
    } finally {
      this.#loopActive = false;
    }
  }

  private async commitBatch(batch: WriteItem[]): Promise<void> {
    const db = this.#db;
    const applied: WriteItem[] = [];
    const frames: Buffer[] = [];
    // One exec for the pragma and BEGIN (each exec crosses into wasm and parses its text).
    // A batch of one needs no savepoint: if its write fails, nothing was applied and the whole
    // transaction is rolled back below.
    const savepoints = batch.length > 1;
    withWritable(db, () => {
      for (const w of batch) {
        if (savepoints) db.exec('SAVEPOINT hearth_write');
        try {
          applyStatements(db, w.tx);
          if (savepoints) db.exec('RELEASE hearth_write');
        } catch (e) {
          if (savepoints) db.exec('ROLLBACK TO hearth_write; RELEASE hearth_write');
          w.reject(new StoreError('INVALID_WRITE', `write rejected, nothing was stored: ${messageOf(e)}`, { cause: e }));
          continue;
        }
        applied.push(w);
        const record: JournalRecord = { seq: this.lastSeq + applied.length, schema: this.#schemaVersion, tx: w.encoded };
        frames.push(encodeFrame(record));
      }
    }, 'BEGIN');
    // COMMIT and ROLLBACK write too (FTS4 flushes its pending terms at COMMIT), so they run with
    // query_only off like the statements themselves.
    if (applied.length === 0) {
      withWritable(db, () => db.exec('ROLLBACK'));
      return;
    }
    const bytes = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    try {
      // The append goes to the page cache with writeSync (microseconds, and no round trip through
      // libuv's thread pool, which on a loaded machine costs a wake-up each way); only the
      // fdatasync, which waits for the disk, runs off the event loop. Durability is the same:
      // nothing is acknowledged before the fdatasync returns.
      let off = 0;
      while (off < bytes.length) off += writeSync(this.journal.fd, bytes, off, bytes.length - off);
      await this.journal.datasync();
    } catch (e) {
      withWritable(db, () => db.exec('ROLLBACK'));
      this.#failure = new StoreError(
        'FAILED',
        `store at ${this.dir}: the journal could not be written to disk (${messageOf(e)}). The last ${applied.length} write(s) were ` +
          `not acknowledged and the store accepts no more writes; everything acknowledged earlier is on disk. Free space or fix the ` +
          `disk, then restart Hearth: it recovers from the files.`,
        { cause: e },
      );
      for (const w of applied) w.reject(this.#failure);
      return;
    }
    withWritable(db, () => undefined, 'COMMIT');
    this.lastSeq += applied.length;
    this.#journalBytes += bytes.length;
    this.#stats.writes += applied.length;
    this.#stats.batches++;
    for (const w of applied) w.resolve();
  }

  /**
   * Snapshot protocol; a crash between any two steps recovers to the same state:
   * export -> snapshot.tmp, fsync -> rename over snapshot -> fsync dir -> truncate journal, fdatasync.
   * Until the journal is truncated it still holds records the new snapshot contains; their
   * sequence numbers are <= the snapshot's, so replay skips them.
   * Must run with no transaction open (sql.js export() reopens the connection).
   */
  private async writeSnapshot(): Promise<void> {
    const image = this.#db.export();
    configureConnection(this.#db);
    const buf = encodeSnapshot(image, this.lastSeq, this.#schemaVersion, new Date());
    const tmp = path.join(this.dir, SNAPSHOT_TMP_FILE);
    await writeFileSynced(tmp, buf);
    await rename(tmp, path.join(this.dir, SNAPSHOT_FILE));
    await fsyncDir(this.dir);
    await this.journal.truncate(0);
    await this.journal.datasync();
    this.#journalBytes = 0;
    this.#nextAutoSnapshotAt = this.snapshotBytes;
    this.#stats.snapshots++;
  }
}
