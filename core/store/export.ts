import type { Database, SqlJsStatic } from 'sql.js';
import { StoreError, messageOf } from './errors.js';
import { applyMigration, schemaTooNew, type Migration } from './migrations.js';
import { configureConnection, queryAll, runStatement, withWritable } from './sqljs.js';
import { fromJsonValue, toJsonValue, type JsonSqlValue, type SqlValue } from './values.js';

/** The one file all Hearth state exports to; documented in FORMAT.md. */
export interface HearthExport {
  format: 'hearth-export';
  version: 1;
  schemaVersion: number;
  exportedAt: string;
  tables: Record<string, ExportedTable>;
  /**
   * The signed checkpoint of the exporting home when the export was made (core/anchor): what its
   * audit log and egress ledger had reached. Checked on import, never imported into the store.
   */
  anchor?: unknown;
}
export interface ExportedTable {
  columns: string[];
  rows: JsonSqlValue[][];
  /**
   * The table's CREATE statement and its indexes' (from sqlite_master). Import uses them only for
   * a table that the migrations do not create, i.e. one a feature created with a write.
   */
  create?: string;
  indexes?: string[];
}

export const EXPORT_FORMAT = 'hearth-export';
export const EXPORT_VERSION = 1;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Tables holding user state: ordinary and virtual tables; not SQLite's own or FTS shadow tables. */
export function userTables(db: Database): string[] {
  return queryAll<{ name: string; type: string }>(db, "SELECT name, type FROM pragma_table_list WHERE schema = 'main'", [])
    .filter((t) => (t.type === 'table' || t.type === 'virtual') && !t.name.startsWith('sqlite_'))
    .map((t) => t.name)
    .sort();
}

export function tableColumns(db: Database, table: string): string[] {
  return queryAll<{ name: string }>(db, 'SELECT name FROM pragma_table_info(?)', [table]).map((c) => c.name);
}

export function dumpDatabase(db: Database, schemaVersion: number, now: Date): HearthExport {
  const tables: Record<string, ExportedTable> = {};
  for (const name of userTables(db)) {
    const stmt = db.prepare(`SELECT * FROM ${quoteIdent(name)}`);
    try {
      const columns = stmt.getColumnNames();
      const rows: JsonSqlValue[][] = [];
      while (stmt.step()) rows.push(stmt.get().map((v) => toJsonValue(v as SqlValue)));
      const create = queryAll<{ sql: string }>(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [name])[0]?.sql;
      const indexes = queryAll<{ sql: string }>(db, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", [
        name,
      ]).map((r) => r.sql);
      tables[name] = { columns, rows, ...(create ? { create } : {}), ...(indexes.length ? { indexes } : {}) };
    } finally {
      stmt.free();
    }
  }
  return { format: EXPORT_FORMAT, version: EXPORT_VERSION, schemaVersion, exportedAt: now.toISOString(), tables };
}

function invalid(what: string): StoreError {
  return new StoreError('IMPORT_INVALID', `import refused, nothing was changed: ${what}`);
}

/** Checks an untrusted parsed JSON value; errors name the failing path. */
export function validateExport(data: unknown, knownSchema: number, source = 'the import file'): HearthExport {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw invalid(`${source} is not a Hearth export (expected a JSON object with "format": "hearth-export")`);
  }
  const d = data as Record<string, unknown>;
  if (d.format !== EXPORT_FORMAT) {
    throw invalid(`${source} is not a Hearth export: "format" is ${JSON.stringify(d.format ?? null)}, expected "${EXPORT_FORMAT}"`);
  }
  if (typeof d.version !== 'number' || !Number.isInteger(d.version) || d.version < 1) {
    throw invalid(`${source} has "version" ${JSON.stringify(d.version ?? null)}; expected ${EXPORT_VERSION}`);
  }
  if (d.version > EXPORT_VERSION) {
    throw invalid(`${source} uses export format version ${d.version}, but this Hearth reads version ${EXPORT_VERSION}: upgrade Hearth to import it`);
  }
  const sv = d.schemaVersion;
  if (typeof sv !== 'number' || !Number.isSafeInteger(sv) || sv < 1) {
    throw invalid(`${source} has "schemaVersion" ${JSON.stringify(sv ?? null)}; expected a positive integer`);
  }
  if (sv > knownSchema) {
    throw new StoreError(
      'SCHEMA_TOO_NEW',
      `import refused, nothing was changed: ${source} has schema version ${sv}, but this Hearth understands up to ${knownSchema}: upgrade Hearth to import it`,
    );
  }
  if (typeof d.exportedAt !== 'string') throw invalid(`${source} lacks "exportedAt" (an ISO-8601 time string)`);
  if (typeof d.tables !== 'object' || d.tables === null || Array.isArray(d.tables)) throw invalid(`${source} lacks a "tables" object`);
  for (const [name, t] of Object.entries(d.tables as Record<string, unknown>)) {
    const at = `tables.${name}`;
    if (typeof t !== 'object' || t === null) throw invalid(`${at} is not an object with "columns" and "rows"`);
    const { columns, rows } = t as Record<string, unknown>;
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === 'string')) {
      throw invalid(`${at}.columns must be a non-empty array of column names`);
    }
    if (new Set(columns).size !== columns.length) throw invalid(`${at}.columns names a column twice`);
    if (!Array.isArray(rows)) throw invalid(`${at}.rows must be an array`);
    const { create, indexes } = t as Record<string, unknown>;
    if (create !== undefined && (typeof create !== 'string' || !/^\s*CREATE\s+(VIRTUAL\s+)?TABLE\b/i.test(create))) {
      throw invalid(`${at}.create must be a CREATE TABLE statement`);
    }
    if (indexes !== undefined && (!Array.isArray(indexes) || !indexes.every((x) => typeof x === 'string' && /^\s*CREATE\s+(UNIQUE\s+)?INDEX\b/i.test(x)))) {
      throw invalid(`${at}.indexes must be an array of CREATE INDEX statements`);
    }
    rows.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== columns.length) {
        throw invalid(`${at}.rows[${i}] must be an array of ${columns.length} values (one per column)`);
      }
      row.forEach((v, j) => {
        if (fromJsonValue(v) === undefined) {
          throw invalid(`${at}.rows[${i}][${j}] is not a SQL value (number, string, null or {"$base64": "..."})`);
        }
      });
    });
  }
  return data as HearthExport;
}

/**
 * Builds a database holding the export's rows at the current schema: migrations up to the
 * export's schema version, the rows, then the remaining migrations. That is how an export from an
 * older Hearth is brought forward.
 */
export function buildImportedDatabase(SQL: SqlJsStatic, data: HearthExport, migrations: readonly Migration[], dir: string): Database {
  const known = migrations.at(-1)?.version ?? 0;
  if (data.schemaVersion > known) throw schemaTooNew(dir, data.schemaVersion, known);
  const db = new SQL.Database();
  try {
    configureConnection(db);
    for (const m of migrations) if (m.version <= data.schemaVersion) applyMigration(db, m);
    const present = new Set(userTables(db));
    withWritable(db, () => {
      db.exec('PRAGMA foreign_keys = OFF'); // rows arrive table by table; checked as a whole below
      db.exec('BEGIN');
      try {
        for (const [name, table] of Object.entries(data.tables)) {
          if (!present.has(name) && table.create) {
            // A table a feature created with a write rather than a migration.
            try {
              runStatement(db, table.create, []);
              for (const ix of table.indexes ?? []) runStatement(db, ix, []);
            } catch (e) {
              throw invalid(`tables.${name}.create cannot be run: ${messageOf(e)}`);
            }
            if (!userTables(db).includes(name)) throw invalid(`tables.${name}.create does not create a table named "${name}"`);
          } else if (!present.has(name)) {
            throw invalid(`table "${name}" does not exist in schema version ${data.schemaVersion} and the export has no "create" for it`);
          }
          const cols = new Set(tableColumns(db, name));
          const unknown = table.columns.filter((c) => !cols.has(c));
          if (unknown.length) throw invalid(`table "${name}" has no column(s) ${unknown.join(', ')} in schema version ${data.schemaVersion}`);
          const sql = `INSERT INTO ${quoteIdent(name)} (${table.columns.map(quoteIdent).join(', ')}) VALUES (${table.columns.map(() => '?').join(', ')})`;
          const keyCol = name === 'meta' ? table.columns.indexOf('key') : -1;
          const stmt = db.prepare(sql);
          try {
            table.rows.forEach((row, i) => {
              if (keyCol >= 0 && row[keyCol] === 'schema_version') return; // set by the migrations
              try {
                stmt.run(row.map((v) => fromJsonValue(v) as SqlValue));
              } catch (e) {
                throw invalid(`tables.${name}.rows[${i}] cannot be inserted: ${messageOf(e)}`);
              }
            });
          } finally {
            stmt.free();
          }
        }
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
      const broken = db.exec('PRAGMA foreign_key_check');
      if (broken.length > 0) throw invalid(`the rows break ${broken[0]?.values.length} foreign key reference(s)`);
      db.exec('PRAGMA foreign_keys = ON');
    });
    for (const m of migrations) if (m.version > data.schemaVersion) applyMigration(db, m);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}
