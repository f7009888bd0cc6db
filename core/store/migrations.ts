import type { Database } from 'sql.js';
import { StoreError, messageOf } from './errors.js';
import { queryAll, withWritable } from './sqljs.js';
import { GENESIS_HASH, chainHash, ledgerRecordText } from '../anchor/chain.js';

/**
 * Numbered schema migrations. Append new ones; never edit or reorder a released one, since stores
 * and export files record the version they were written under. `up` is plain SQL run in one
 * transaction together with the `meta.schema_version` update, so a migration applies fully or not
 * at all. Times are ISO-8601 UTC strings passed in by callers (writes must be deterministic).
 */
export interface Migration {
  version: number;
  name: string;
  up: string;
  /**
   * Data that SQL cannot compute (hashes), run after `up` in the same transaction; deterministic,
   * from the rows alone. `then` is SQL run after it (triggers that would refuse its updates).
   */
  transform?: (db: Database) => void;
  then?: string;
}

/**
 * Migration 6: chains the egress ledger rows already there, in id order, exactly as
 * StoreLedger.append chains new ones. These rows are only as trustworthy as the store was before
 * the migration: they are chained as found.
 */
function chainExistingLedger(db: Database): void {
  const rows = queryAll<Record<string, unknown> & { id: number }>(db, 'SELECT * FROM egress_ledger ORDER BY id', []);
  let prev = GENESIS_HASH;
  const update = db.prepare('UPDATE egress_ledger SET prev_hash = ?, hash = ? WHERE id = ?');
  try {
    for (const r of rows) {
      const hash = chainHash(ledgerRecordText(r), prev);
      update.run([prev, hash, r.id]);
      prev = hash;
    }
  } finally {
    update.free();
  }
  const last = rows.at(-1);
  if (last) db.run('INSERT INTO egress_head (id, seq, hash) VALUES (1, ?, ?)', [last.id, prev]);
}

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'meta and clients',
    up: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE clients (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        connected_at TEXT NOT NULL
      );`,
  },
  {
    version: 2,
    name: 'events',
    up: `
      CREATE TABLE events (
        id   TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
      );
      CREATE INDEX events_by_time ON events (time);`,
  },
  {
    version: 3,
    name: 'egress ledger and grants',
    // The tables core/egress/ledger.ts reads and writes.
    up: `
      CREATE TABLE egress_ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        client TEXT,
        feature TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT,
        location TEXT,
        host TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('allow','ask','deny')),
        outcome TEXT NOT NULL CHECK (outcome IN ('sent','denied','declined','failed','cancelled')),
        grant_kind TEXT CHECK (grant_kind IS NULL OR grant_kind IN ('once','session','always')),
        rule TEXT NOT NULL,
        bytes INTEGER NOT NULL CHECK (bytes >= 0),
        sha256 TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        redactions INTEGER NOT NULL DEFAULT 0,
        sources TEXT NOT NULL
      );
      CREATE INDEX egress_ledger_time ON egress_ledger(time);
      CREATE TABLE egress_grants (
        provider TEXT NOT NULL,
        feature TEXT NOT NULL,
        workspace TEXT NOT NULL DEFAULT '',
        client TEXT,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (provider, feature, workspace)
      );`,
  },
  {
    version: 4,
    name: 'memory items, full-text index, vectors, paused clients',
    // core/memory/: items (seq orders them; id is the stable public id), an FTS4 index whose docid
    // is the item's seq, one embedding per item (Float32 little-endian) and clients whose memory
    // writes are paused.
    up: `
      CREATE TABLE memory_items (
        seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
        id                    TEXT NOT NULL UNIQUE,
        kind                  TEXT NOT NULL CHECK (kind IN ('note', 'decision', 'snippet', 'preference')),
        text                  TEXT NOT NULL CHECK (length(text) > 0),
        workspace             TEXT,
        file_uri              TEXT,
        range_start_line      INTEGER,
        range_start_character INTEGER,
        range_end_line        INTEGER,
        range_end_character   INTEGER,
        client_id             TEXT NOT NULL,
        client_name           TEXT NOT NULL,
        client_version        TEXT NOT NULL,
        created_at            TEXT NOT NULL
      );
      CREATE INDEX memory_items_by_workspace ON memory_items (workspace, seq);
      CREATE INDEX memory_items_by_client ON memory_items (client_name, seq);
      CREATE VIRTUAL TABLE memory_fts USING fts4(text, tokenize=unicode61);
      CREATE TABLE memory_vectors (
        seq   INTEGER PRIMARY KEY REFERENCES memory_items (seq) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim   INTEGER NOT NULL CHECK (dim > 0),
        vec   BLOB NOT NULL CHECK (length(vec) = 4 * dim)
      );
      CREATE TABLE memory_paused_clients (
        client_name TEXT PRIMARY KEY,
        paused_at   TEXT NOT NULL
      );`,
  },
  {
    version: 5,
    name: 'tool audit log, tool grants, tool undo data',
    // core/audit/ and core/tools/: the hash-chained audit log (record = canonical JSON, hash =
    // sha256(record + prev_hash)), its head (last seq and hash, so deleting the newest records is
    // detected), "always" tool grants, and the before/after bytes that let fs.edit be undone.
    // The triggers keep the log append-only for ordinary writes; verify() catches the rest.
    up: `
      CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY,
        time      TEXT NOT NULL,
        tool      TEXT NOT NULL,
        client_id TEXT,
        record    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
      );
      CREATE INDEX audit_log_by_time ON audit_log (time);
      CREATE TABLE audit_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TABLE tool_grants (
        id         TEXT PRIMARY KEY,
        tool       TEXT NOT NULL,
        subject    TEXT NOT NULL,
        workspace  TEXT NOT NULL DEFAULT '',
        client     TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        UNIQUE (tool, subject, workspace)
      );
      CREATE TABLE tool_undo (
        action_id  TEXT PRIMARY KEY,
        path       TEXT NOT NULL,
        before     BLOB,
        after      BLOB NOT NULL,
        created_at TEXT NOT NULL,
        undone_at  TEXT
      );`,
  },
  {
    version: 6,
    name: 'egress ledger hash chain',
    // core/egress/ledger.ts: each row's hash = sha256(canonical JSON of its columns + prev_hash),
    // egress_head remembers the last id and hash, and the ledger becomes append-only like the
    // audit log. Rows written before this migration are chained as they are found.
    up: `
      ALTER TABLE egress_ledger ADD COLUMN prev_hash TEXT;
      ALTER TABLE egress_ledger ADD COLUMN hash TEXT;
      CREATE TABLE egress_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT NOT NULL
      );`,
    transform: chainExistingLedger,
    then: `
      CREATE TRIGGER egress_ledger_no_update BEFORE UPDATE ON egress_ledger
        BEGIN SELECT RAISE(ABORT, 'the egress ledger is append-only'); END;
      CREATE TRIGGER egress_ledger_no_delete BEFORE DELETE ON egress_ledger
        BEGIN SELECT RAISE(ABORT, 'the egress ledger is append-only'); END;`,
  },
  {
    version: 7,
    name: 'ask history',
    // server/ask-feature.ts: every `hearth ask` / editor chat exchange, kept on this machine only
    // (nothing syncs it); the user lists, searches and deletes it (`hearth history`). tool_calls is
    // JSON: each proposed action's id, tool, status (the audit log holds the rest).
    up: `
      CREATE TABLE ask_history (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        time        TEXT NOT NULL,
        client      TEXT NOT NULL,
        workspace   TEXT,
        prompt      TEXT NOT NULL,
        answer      TEXT NOT NULL,
        provider    TEXT,
        location    TEXT,
        status      TEXT NOT NULL CHECK (status IN ('answered', 'offline', 'cancelled', 'failed')),
        tool_calls  TEXT NOT NULL
      );
      CREATE INDEX ask_history_by_time ON ask_history (time);`,
  },
]);

export const CURRENT_SCHEMA_VERSION: number = MIGRATIONS.length;

/** Checks that versions run 1, 2, 3, ... with no gaps; returns the list for chaining. */
export function validateMigrations(list: readonly Migration[]): readonly Migration[] {
  if (list.length === 0) throw new Error('migrations: the list is empty; schema 1 must create the meta table');
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations: entry ${i} has version ${m.version}, expected ${i + 1} (versions must be 1, 2, 3, ...)`);
    if (!m.name || !m.up.trim()) throw new Error(`migrations: version ${m.version} needs a name and SQL`);
  });
  return list;
}

/** 0 for a database without the meta table (nothing migrated yet). */
export function readSchemaVersion(db: Database): number {
  const hasMeta = db.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (hasMeta.length === 0) return 0;
  const rows = db.exec("SELECT value FROM meta WHERE key = 'schema_version'");
  const value = rows[0]?.values[0]?.[0];
  const version = typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new Error(`meta.schema_version is ${JSON.stringify(value ?? null)}, not a schema version`);
  }
  return version;
}

export function applyMigration(db: Database, m: Migration): void {
  withWritable(db, () => {
    db.exec('BEGIN');
    try {
      db.exec(m.up);
      m.transform?.(db);
      if (m.then) db.exec(m.then);
      db.run(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(m.version)],
      );
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw new StoreError('MIGRATION_FAILED', `schema migration ${m.version} (${m.name}) failed: ${messageOf(e)}; nothing on disk was changed`, {
        cause: e,
      });
    }
  });
}

export function schemaTooNew(dir: string, found: number, known: number): StoreError {
  return new StoreError(
    'SCHEMA_TOO_NEW',
    `store at ${dir} has schema version ${found}, but this Hearth understands up to ${known}: ` +
      `upgrade Hearth, or export the data with the newer version (\`hearth export FILE\`) and import it here. Nothing was changed.`,
  );
}
