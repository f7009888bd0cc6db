/**
 * Every failure the store reports to a caller is a StoreError with a stable `code`, so the daemon
 * and the CLI can react to the kind of failure (for example print import instructions for
 * CORRUPT_SNAPSHOT) without parsing messages. Messages say what happened, what was kept, and what
 * to do next.
 */
export type StoreErrorCode =
  | 'INVALID_WRITE' // the write's shape or SQL is invalid; nothing was stored
  | 'CLOSED' // the store is closed or closing
  | 'FAILED' // the journal could not be made durable; the store stopped accepting writes
  | 'LOCKED' // another live process holds the store
  | 'CORRUPT_SNAPSHOT' // the snapshot is unreadable; it was moved aside
  | 'SNAPSHOT_MISSING' // there is a journal or a moved-aside snapshot but no snapshot
  | 'SCHEMA_TOO_NEW' // the store was written by a newer Hearth
  | 'REPLAY_FAILED' // a valid journal record could not be applied
  | 'MIGRATION_FAILED'
  | 'IMPORT_INVALID' // the import file is not a usable Hearth export
  | 'IMPORT_NOT_EMPTY'; // the import target holds data and `force` was not given

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
