/**
 * SQL values as they travel through JSON (journal records and export files). SQLite values map to
 * JSON directly except blobs, which become `{ "$base64": "..." }`. Non-finite numbers are refused
 * because JSON cannot carry them and SQLite would silently turn them into NULL.
 */
export type SqlValue = number | string | Uint8Array | null;
export type JsonSqlValue = number | string | null | { $base64: string };

export function isSqlValue(v: unknown): v is SqlValue {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || v instanceof Uint8Array;
}

export function describeBadValue(v: unknown): string {
  if (typeof v === 'number') return `the number ${String(v)} (only finite numbers can be stored)`;
  if (v === undefined) return 'undefined (use null)';
  if (typeof v === 'bigint') return 'a bigint (pass a number or a string)';
  if (typeof v === 'boolean') return 'a boolean (pass 0/1)';
  return `a value of type ${v === null ? 'null' : typeof v}${Array.isArray(v) ? ' (array)' : ''}`;
}

export function toJsonValue(v: SqlValue): JsonSqlValue {
  if (v instanceof Uint8Array) return { $base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  return v;
}

/** Returns undefined when `v` is not a valid encoded value. */
export function fromJsonValue(v: unknown): SqlValue | undefined {
  if (v === null || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const b64 = (v as { $base64?: unknown }).$base64;
    if (keys.length === 1 && typeof b64 === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      return new Uint8Array(Buffer.from(b64, 'base64'));
    }
  }
  return undefined;
}
