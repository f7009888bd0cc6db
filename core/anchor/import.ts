// What an import would do to this home's tamper evidence, decided before anything is replaced.
//
// An export carries the checkpoint that was current when it was made (`anchor`). On import:
//  - the export is checked against itself: each chain must verify and reach what its own
//    checkpoint pinned; if not, it was altered after it was made ("altered");
//  - it is checked against this home's anchor: each imported chain must still hold the record
//    this home's last checkpoint pinned, with the same hash. If it is shorter, the import would
//    roll the log back ("older"); if that record differs, it is another history ("diverged": an
//    export from another home or device, or a rewritten one).
// Either refuses unless the user passes the flag the message names. An export from another device
// into a home with no anchored records is adopted: checked against its own checkpoint (which proves
// it was not changed after signing, not who signed it), then anchored with this home's key.
import type { Database } from 'sql.js';
import { AuditLog } from '../audit/log.js';
import { StoreLedger } from '../egress/ledger.js';
import { buildImportedDatabase, validateExport, type HearthExport } from '../store/export.js';
import { MIGRATIONS } from '../store/migrations.js';
import { loadSqlJs, queryAll } from '../store/sqljs.js';
import type { SqlValue } from '../store/values.js';
import { divergence } from './anchor.js';
import { CHAINED_LOGS, LOG_TABLE, type AnchorableLog, type ChainedLog } from './chain.js';
import { checkpointProblem, readAnchor, type AnchorEvent, type SignedCheckpoint } from './checkpoint.js';
import { readDeviceKey } from './key.js';

export type ImportVerdict = 'ok' | 'older' | 'diverged' | 'altered';

export interface ImportAssessment {
  verdict: ImportVerdict;
  /** Why it is refused (verdict other than ok), naming what and where; one kind each. */
  problems: { kind: Exclude<ImportVerdict, 'ok'>; message: string }[];
  /** What happens to the anchor when it goes ahead. */
  notes: string[];
  /** The event the new checkpoint records once the import is done. */
  event: Omit<AnchorEvent, 'counter' | 'time'>;
}

function logsOf(db: Database): Record<ChainedLog, AnchorableLog> {
  const reader = {
    all: <T>(sql: string, params: unknown[] = []): T[] => queryAll<T>(db, sql, params as SqlValue[]),
    write: (): Promise<void> => Promise.reject(new Error('read-only')),
  };
  return { audit: new AuditLog(reader), egress: new StoreLedger(reader) };
}

/** Judges `data` (an untrusted parsed export) against itself and this home's anchor. Changes nothing. */
export async function assessImport(home: string, data: unknown, file: string): Promise<ImportAssessment> {
  const exp: HearthExport = validateExport(data, MIGRATIONS.length, file);
  const db = buildImportedDatabase(await loadSqlJs(), exp, MIGRATIONS, home);
  try {
    const logs = logsOf(db);
    const problems: ImportAssessment['problems'] = [];
    const notes: string[] = [];
    let verdict = 'ok' as ImportVerdict;
    const worse = (v: Exclude<ImportVerdict, 'ok'>, message: string): void => {
      const rank: ImportVerdict[] = ['ok', 'diverged', 'older', 'altered'];
      if (rank.indexOf(v) > rank.indexOf(verdict)) verdict = v;
      problems.push({ kind: v, message });
    };

    // 1. The export against itself.
    const raw = (exp as { anchor?: unknown }).anchor;
    let own: SignedCheckpoint | null = null;
    if (raw === undefined) {
      notes.push(`${file} carries no signed checkpoint (made before Hearth anchored its logs, or it was removed): only its hash chains were checked`);
    } else {
      const p = checkpointProblem(raw);
      if (p) worse('altered', `its signed checkpoint is not valid: ${p}`);
      else own = raw as SignedCheckpoint;
    }
    for (const log of CHAINED_LOGS) {
      const l = logs[log];
      const v = l.verify();
      if (!v.ok) {
        worse('altered', `in the export, ${v.problem?.message ?? `the ${LOG_TABLE[log].title} does not verify`}`);
        continue;
      }
      if (own) {
        const d = divergence(log, own.body, l.lastRecord(), (s) => l.hashAt(s));
        if (d) worse('altered', `the export does not match its own checkpoint: ${d.message}`);
      }
    }

    // 2. Against this home's anchor.
    const key = readDeviceKey(home);
    const reading = readAnchor(home, key);
    let event: ImportAssessment['event'] = { kind: 'adopted', detail: `imported ${file} (exported ${exp.exportedAt})` };
    const mine = reading.state === 'ok' ? reading.checkpoint.body : null;
    const seen = mine ? CHAINED_LOGS.some((log) => mine.logs[log].seq > 0) : false;
    if (mine) {
      for (const log of CHAINED_LOGS) {
        const l = logs[log];
        const d = divergence(log, mine, l.lastRecord(), (s) => l.hashAt(s));
        if (d) worse(d.kind === 'rewritten' ? 'diverged' : 'older', d.message.replace(/^(audit log|egress ledger) \(table (\w+)\)/, `the export's $1 (table $2)`));
      }
    } else if (reading.state !== 'ok' && key) {
      notes.push(`this home's anchor ${reading.file} is ${reading.state === 'missing' ? 'missing' : `not valid (${reading.reason})`}: the import cannot be compared with what this home saw, and a new checkpoint is signed for the imported state`);
    }
    if (own && (!key || own.body.device !== key.fingerprint)) {
      notes.push(
        `${file} was signed by device ${own.body.device}, not by this home's key${key ? ` ${key.fingerprint}` : ''}` +
          (seen ? '' : ': this home has no anchored records, so it adopts the imported logs (checked against their own checkpoint) and anchors them with its own key; the other device keeps its key, which never travels in an export'),
      );
    } else if (own && mine) {
      notes.push(`${file} holds checkpoint #${own.body.counter} of ${own.body.time}; this home is at checkpoint #${mine.counter} of ${mine.time}`);
    }
    if (!key) notes.push('this home has no device key yet: one is created and the imported logs are anchored with it');
    if (verdict === 'older' || verdict === 'diverged') event = { kind: 'rollback-accepted', detail: `imported ${file} (${verdict}): ${problems[0]?.message ?? ''}` };
    if (verdict === 'altered') event = { kind: 'altered-accepted', detail: `imported ${file} (altered): ${problems[0]?.message ?? ''}` };
    return { verdict, problems, notes, event };
  } finally {
    db.close();
  }
}
