import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic } from 'sql.js';
import type { SqlValue } from './values.js';

let loading: Promise<SqlJsStatic> | undefined;

/** sql.js is initialised once per process; every store shares the compiled wasm module. */
export function loadSqlJs(): Promise<SqlJsStatic> {
  if (!loading) {
    loading = (async () => {
      const wasmPath = createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm');
      const wasm = await readFile(wasmPath);
      return initSqlJs({ wasmBinary: wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer });
    })();
    loading.catch(() => {
      loading = undefined; // let a later call retry instead of caching the failure forever
    });
  }
  return loading;
}

/**
 * Connection settings. `db.export()` closes and reopens the sql.js connection, which resets
 * pragmas, so this runs after every export too. `query_only` stays on except while the store
 * itself applies a write, so a read can never change state without going through the journal.
 */
export function configureConnection(db: Database): void {
  // secure_delete: forgotten data (memory items, ...) is overwritten in the database pages, so it
  // is not left behind in the next snapshot's free pages.
  db.exec('PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA query_only = ON;');
}

export function withWritable<T>(db: Database, fn: () => T): T {
  db.exec('PRAGMA query_only = OFF');
  try {
    return fn();
  } finally {
    db.exec('PRAGMA query_only = ON');
  }
}

const FORBIDDEN = /^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|ATTACH|DETACH|VACUUM|PRAGMA)\b/i;

function leadingKeyword(sql: string): string {
  // Skip whitespace, comments and empty statements so `/* x */ COMMIT` cannot slip past the check.
  let rest = sql;
  for (;;) {
    const trimmed = rest.replace(/^[\s;]+/, '');
    if (trimmed.startsWith('--')) {
      const nl = trimmed.indexOf('\n');
      rest = nl < 0 ? '' : trimmed.slice(nl + 1);
    } else if (trimmed.startsWith('/*')) {
      const end = trimmed.indexOf('*/');
      rest = end < 0 ? '' : trimmed.slice(end + 2);
    } else {
      return trimmed;
    }
  }
}

/**
 * Transactions are the store's business (each write is one transaction, journaled as a unit), and
 * PRAGMAs/ATTACH would make replay depend on connection state, so callers may not issue them.
 */
export function checkStatementAllowed(sql: string): string | undefined {
  const m = FORBIDDEN.exec(leadingKeyword(sql));
  return m ? `${m[1]!.toUpperCase()} statements are not allowed here: the store runs each write as one transaction itself` : undefined;
}

/** Runs exactly one SQL statement; `fn` gets the prepared statement and must not free it. */
function withOneStatement<T>(db: Database, sql: string, params: readonly SqlValue[], fn: (stmt: ReturnType<Database['prepare']>) => T): T {
  const it = db.iterateStatements(sql);
  const first = it.next();
  if (first.done) throw new Error('the SQL text is empty');
  const stmt = first.value;
  try {
    // The iterator frees a statement when it advances, so look at the remaining text instead.
    const rest = leadingKeyword(it.getRemainingSQL());
    if (rest !== '') throw new Error(`pass one SQL statement per entry; found more: ${rest.slice(0, 80)}`);
    stmt.bind(params as SqlValue[]);
    return fn(stmt);
  } finally {
    stmt.free();
  }
}

export function runStatement(db: Database, sql: string, params: readonly SqlValue[]): void {
  withOneStatement(db, sql, params, (stmt) => {
    while (stmt.step()) {
      /* drain rows, e.g. from RETURNING */
    }
  });
}

export function queryAll<T>(db: Database, sql: string, params: readonly SqlValue[]): T[] {
  return withOneStatement(db, sql, params, (stmt) => {
    const rows: T[] = [];
    while (stmt.step()) rows.push(stmt.getAsObject() as T);
    return rows;
  });
}
