// `hearth store recover`: what to do after the store refused to open because its snapshot is
// corrupt or missing (CORRUPT_SNAPSHOT, SNAPSHOT_MISSING) or a journal record cannot be applied
// (REPLAY_FAILED). It keeps what can be kept and never deletes anything:
//   1. the base: the snapshot if it is valid; else whatever sql.js can still read from the damaged
//      one (the `snapshot` file, or the newest `snapshot.corrupt-*` Hearth set aside), table by
//      table, row sets that no longer fit the schema dropped; else an empty store;
//   2. the journal records newer than the base, replayed one by one (a record that cannot be
//      applied is skipped and counted);
//   3. the damaged snapshot is moved aside as snapshot.corrupt-<time>, the journal as
//      journal.recovered-<time>, and a new snapshot is written atomically.
// Afterwards the daemon starts and `hearth import FILE` works (with --force when the recovered
// store holds data). Runs with the store lock held, so never beside a running daemon.
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import { messageOf } from './errors.js';
import { buildImportedDatabase, tableColumns, userTables, type ExportedTable, type HearthExport } from './export.js';
import { asideName, ensurePrivateDir, fsyncDir, readIfExists, writeFileSynced } from './fsutil.js';
import { JOURNAL_FILE, scanJournal } from './journal.js';
import { acquireLock } from './lock.js';
import { MIGRATIONS, readSchemaVersion, validateMigrations, type Migration } from './migrations.js';
import { SNAPSHOT_FILE, SNAPSHOT_TMP_FILE, decodeSnapshot, decodeSnapshotHeader, encodeSnapshot } from './snapshot.js';
import { configureConnection, loadSqlJs, queryAll, runStatement, withWritable } from './sqljs.js';
import { fromJsonValue, toJsonValue, type JsonSqlValue, type SqlValue } from './values.js';

export interface RecoverReport {
  /** What the base came from. */
  base: 'snapshot' | 'salvaged' | 'empty';
  /** The file the base was read or salvaged from (none for an empty base). */
  source?: string;
  /** Why the snapshot could not be used as it is. */
  damage?: string;
  tablesKept: string[];
  rowsKept: number;
  /** Tables that could not be read or no longer fit; their rows are only in the files set aside. */
  tablesLost: Array<{ table: string; why: string }>;
  journalApplied: number;
  journalSkipped: number;
  /** Files moved aside (never deleted). */
  setAside: string[];
  schemaVersion: number;
  /** Nothing needed recovering: the snapshot is valid and the whole journal applies. */
  healthy: boolean;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

interface Base {
  db: Database;
  seq: number;
  kind: RecoverReport['base'];
  source?: string;
  damage?: string;
  tablesKept: string[];
  rowsKept: number;
  tablesLost: Array<{ table: string; why: string }>;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Reads every table sql.js can still read from a damaged image into an export; records the rest. */
function salvageImage(SQL: SqlJsStatic, image: Uint8Array, headerSchema: number | undefined): { data: HearthExport; lost: Array<{ table: string; why: string }> } | undefined {
  let db: Database;
  try {
    db = new SQL.Database(image);
    // A damaged CREATE statement in sqlite_master would make every table unreadable; with
    // writable_schema SQLite skips the entries it cannot parse and loads the rest.
    db.exec('PRAGMA writable_schema = ON');
  } catch {
    return undefined;
  }
  try {
    let tables: string[];
    try {
      tables = userTables(db);
    } catch {
      return undefined; // the schema itself is unreadable
    }
    let schemaVersion = headerSchema;
    try {
      schemaVersion = readSchemaVersion(db) || headerSchema;
    } catch {
      // the header's value, if any
    }
    if (!schemaVersion) return undefined;
    const lost: Array<{ table: string; why: string }> = [];
    const out: Record<string, ExportedTable> = {};
    for (const name of tables) {
      try {
        const columns = tableColumns(db, name);
        const rows: JsonSqlValue[][] = [];
        const stmt = db.prepare(`SELECT * FROM ${quoteIdent(name)}`);
        try {
          while (stmt.step()) rows.push(stmt.get().map((v) => toJsonValue(v as SqlValue)));
        } finally {
          stmt.free();
        }
        const create = queryAll<{ sql: string }>(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [name])[0]?.sql;
        if (columns.length) out[name] = { columns, rows, ...(create ? { create } : {}) };
      } catch (e) {
        lost.push({ table: name, why: `unreadable (${messageOf(e)})` });
      }
    }
    return { data: { format: 'hearth-export', version: 1, schemaVersion, exportedAt: new Date().toISOString(), tables: out }, lost };
  } finally {
    db.close();
  }
}

/** Builds a database from the salvaged tables, dropping the ones that do not fit (one at a time). */
function rebuild(SQL: SqlJsStatic, data: HearthExport, migrations: readonly Migration[], dir: string, lost: Array<{ table: string; why: string }>): Database {
  const tables = { ...data.tables };
  for (;;) {
    try {
      return buildImportedDatabase(SQL, { ...data, tables }, migrations, dir);
    } catch (e) {
      const msg = messageOf(e);
      const culprit = /tables\.([^.\s]+)|table "([^"]+)"/.exec(msg);
      const name = culprit?.[1] ?? culprit?.[2];
      if (name && name in tables) {
        delete tables[name];
        lost.push({ table: name, why: msg.replace(/^import refused, nothing was changed: /, '') });
        continue;
      }
      // Not one table's fault (e.g. foreign keys across tables): keep none rather than guess.
      for (const t of Object.keys(tables)) lost.push({ table: t, why: msg });
      return buildImportedDatabase(SQL, { ...data, tables: {} }, migrations, dir);
    }
  }
}

function rowCount(db: Database): number {
  let n = 0;
  for (const t of userTables(db)) {
    if (t === 'meta') continue;
    n += Number(db.exec(`SELECT count(*) FROM ${quoteIdent(t)}`)[0]?.values[0]?.[0] ?? 0);
  }
  return n;
}

async function loadBase(SQL: SqlJsStatic, dir: string, migrations: readonly Migration[]): Promise<Base> {
  const snapPath = path.join(dir, SNAPSHOT_FILE);
  let source: string | undefined = snapPath;
  let buf = await readIfExists(snapPath);
  let damage: string | undefined;
  if (buf) {
    try {
      const { header, db: image } = decodeSnapshot(buf);
      const db = new SQL.Database(image);
      try {
        db.exec('SELECT count(*) FROM sqlite_master');
        const v = readSchemaVersion(db);
        if (v !== header.schemaVersion) throw new Error(`database schema version ${v} differs from the header's ${header.schemaVersion}`);
      } catch (e) {
        db.close();
        throw e;
      }
      return { db, seq: header.seq, kind: 'snapshot', source: snapPath, tablesKept: userTables(db), rowsKept: rowCount(db), tablesLost: [] };
    } catch (e) {
      damage = messageOf(e);
    }
  } else {
    // The daemon already moved a corrupt snapshot aside: salvage from the newest one.
    const aside = (await readdir(dir)).filter((n) => n.startsWith(`${SNAPSHOT_FILE}.corrupt-`)).sort();
    const newest = aside.at(-1);
    source = newest ? path.join(dir, newest) : undefined;
    buf = source ? await readIfExists(source) : null;
    damage = source ? `${source} was set aside as corrupt` : 'there is no snapshot';
  }
  const lost: Array<{ table: string; why: string }> = [];
  let salvaged: ReturnType<typeof salvageImage>;
  let seq = 0;
  if (buf) {
    let image: Uint8Array | undefined;
    let headerSchema: number | undefined;
    try {
      const { header, dbOffset } = decodeSnapshotHeader(buf);
      seq = header.seq;
      headerSchema = header.schemaVersion;
      image = new Uint8Array(buf.subarray(dbOffset));
    } catch {
      const at = buf.indexOf(SQLITE_MAGIC);
      if (at >= 0) image = new Uint8Array(buf.subarray(at));
    }
    if (image) salvaged = salvageImage(SQL, image, headerSchema);
  }
  const known = migrations.length;
  if (salvaged && salvaged.data.schemaVersion <= known) {
    lost.push(...salvaged.lost);
    const db = rebuild(SQL, salvaged.data, migrations, dir, lost);
    const kept = Object.keys(salvaged.data.tables).filter((t) => !lost.some((l) => l.table === t));
    return { db, seq, kind: 'salvaged', ...(source ? { source } : {}), ...(damage ? { damage } : {}), tablesKept: kept, rowsKept: rowCount(db), tablesLost: lost };
  }
  if (salvaged) lost.push({ table: '(all)', why: `the damaged snapshot has schema ${salvaged.data.schemaVersion}, newer than this Hearth's ${known}` });
  else if (buf) lost.push({ table: '(all)', why: 'nothing in the damaged snapshot is readable as a database' });
  const db = buildImportedDatabase(SQL, { format: 'hearth-export', version: 1, schemaVersion: known, exportedAt: new Date().toISOString(), tables: {} }, migrations, dir);
  return { db, seq: 0, kind: 'empty', ...(source ? { source } : {}), ...(damage ? { damage } : {}), tablesKept: [], rowsKept: 0, tablesLost: lost };
}

/** See the file comment. `dir` is the store directory ($HEARTH_HOME/store). */
export async function recoverStore(dir: string, opts: { migrations?: readonly Migration[]; now?: Date } = {}): Promise<RecoverReport> {
  const migrations = validateMigrations(opts.migrations ?? MIGRATIONS);
  const SQL = await loadSqlJs();
  await ensurePrivateDir(dir);
  const lock = await acquireLock(dir);
  try {
    await rm(path.join(dir, SNAPSHOT_TMP_FILE), { force: true });
    const base = await loadBase(SQL, dir, migrations);
    const db = base.db;
    try {
      configureConnection(db);
      const schema = readSchemaVersion(db);
      const journalPath = path.join(dir, JOURNAL_FILE);
      const journalBuf = (await readIfExists(journalPath)) ?? Buffer.alloc(0);
      const scan = scanJournal(journalBuf, base.seq);
      let applied = 0;
      let skipped = 0;
      let lastSeq = base.seq;
      for (const { record } of scan.records) {
        if (record.seq <= base.seq) continue;
        lastSeq = Math.max(lastSeq, record.seq);
        if (record.schema !== schema) {
          skipped++;
          continue;
        }
        try {
          const tx = record.tx.map((s) => ({ sql: s.sql, params: s.params.map((p) => {
            const v = fromJsonValue(p);
            if (v === undefined) throw new Error('a parameter is not a SQL value');
            return v;
          }) }));
          withWritable(db, () => {
            db.exec('BEGIN');
            try {
              for (const s of tx) runStatement(db, s.sql, s.params);
              db.exec('COMMIT');
            } catch (e) {
              db.exec('ROLLBACK');
              throw e;
            }
          });
          applied++;
        } catch {
          skipped++;
        }
      }
      const healthy = base.kind === 'snapshot' && skipped === 0 && !scan.invalid;
      const report: RecoverReport = {
        base: base.kind,
        ...(base.source ? { source: base.source } : {}),
        ...(base.damage ? { damage: base.damage } : {}),
        tablesKept: base.tablesKept,
        rowsKept: base.kind === 'snapshot' ? rowCount(db) : base.rowsKept,
        tablesLost: base.tablesLost,
        journalApplied: applied,
        journalSkipped: skipped,
        setAside: [],
        schemaVersion: schema,
        healthy,
      };
      if (healthy) return report; // nothing to do; the store opens as it is
      const snapPath = path.join(dir, SNAPSHOT_FILE);
      const exists = async (f: string): Promise<boolean> => stat(f).then(() => true, () => false);
      if (base.kind !== 'snapshot' && (await exists(snapPath))) {
        const aside = await asideName(dir, SNAPSHOT_FILE, 'corrupt');
        await rename(snapPath, aside);
        report.setAside.push(aside);
      }
      if (journalBuf.length > 0) {
        const aside = await asideName(dir, JOURNAL_FILE, 'recovered');
        await rename(journalPath, aside);
        report.setAside.push(aside);
      }
      await fsyncDir(dir);
      const image = db.export();
      const tmp = path.join(dir, SNAPSHOT_TMP_FILE);
      await writeFileSynced(tmp, encodeSnapshot(image, lastSeq, schema, opts.now ?? new Date()));
      await rename(tmp, snapPath);
      await writeFileSynced(journalPath, new Uint8Array(0));
      await fsyncDir(dir);
      return report;
    } finally {
      db.close();
    }
  } finally {
    await lock.release();
  }
}
