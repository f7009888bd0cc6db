export { Store, DEFAULT_SNAPSHOT_BYTES, type Statement, type StoreOptions, type StoreLog } from './store.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { MIGRATIONS, CURRENT_SCHEMA_VERSION, type Migration } from './migrations.js';
export { EXPORT_FORMAT, EXPORT_VERSION, validateExport, type HearthExport, type ExportedTable } from './export.js';
export type { Finding } from './check.js';
export type { RecoverReport } from './recover.js';
export type { SqlValue, JsonSqlValue } from './values.js';
