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
  dropPrepared(db); // export() freed them
  // secure_delete: forgotten data (memory items, ...) is overwritten in the database pages, so it
  // is not left behind in the next snapshot's free pages.
  // journal_mode MEMORY: SQLite's own rollback journal (used by ROLLBACK and savepoints) lives in
  // the heap instead of a file in sql.js's in-memory file system; the database is in memory anyway
  // and Hearth's journal is what makes writes durable. locking_mode EXCLUSIVE: this connection is
  // the file's only user, so SQLite keeps its page cache across transactions instead of re-reading
  // the file header (and dropping the cache) at each one. Together they cut a small write's CPU
  // from ~400 to ~60 µs (bench/store.ts).
  db.exec('PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; PRAGMA query_only = ON;');
}

/** Runs `fn` with query_only off; `lead` (BEGIN, COMMIT) runs in the same exec as the pragma. */
export function withWritable<T>(db: Database, fn: () => T, lead?: 'BEGIN' | 'COMMIT'): T {
  try {
    db.exec(lead ? `PRAGMA query_only = OFF; ${lead}` : 'PRAGMA query_only = OFF');
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

type Prepared = ReturnType<Database['prepare']>;
/**
 * Prepared statements by SQL text, per connection: compiling a statement cost about a third of a
 * small write's CPU. sql.js frees every statement on export() and close(), so configureConnection
 * (which runs after every export) drops the connection's cache. Bounded; the oldest is freed first.
 */
const prepared = new WeakMap<Database, Map<string, Prepared>>();
const MAX_PREPARED = 256;

function dropPrepared(db: Database): void {
  const cache = prepared.get(db);
  if (!cache) return;
  prepared.delete(db);
  for (const stmt of cache.values()) {
    try {
      stmt.free();
    } catch {
      /* already freed by export() */
    }
  }
}

function prepareOne(db: Database, sql: string): Prepared {
  let cache = prepared.get(db);
  const hit = cache?.get(sql);
  if (hit) return hit;
  const it = db.iterateStatements(sql);
  const first = it.next();
  if (first.done) throw new Error('the SQL text is empty');
  const stmt = first.value;
  // The iterator frees a statement when it advances, so look at the remaining text instead.
  const rest = leadingKeyword(it.getRemainingSQL());
  if (rest !== '') {
    stmt.free();
    throw new Error(`pass one SQL statement per entry; found more: ${rest.slice(0, 80)}`);
  }
  if (!cache) prepared.set(db, (cache = new Map()));
  if (cache.size >= MAX_PREPARED) {
    const [oldSql, old] = cache.entries().next().value!;
    cache.delete(oldSql);
    old.free();
  }
  cache.set(sql, stmt);
  return stmt;
}

/** Runs exactly one SQL statement; `fn` gets the prepared statement and must not free it. */
function withOneStatement<T>(db: Database, sql: string, params: readonly SqlValue[], fn: (stmt: Prepared) => T): T {
  const stmt = prepareOne(db, sql);
  try {
    stmt.bind(params as SqlValue[]);
    return fn(stmt);
  } finally {
    stmt.reset(); // releases what the statement holds; bind() resets again before the next use
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
