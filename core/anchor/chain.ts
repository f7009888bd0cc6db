// Hash chains shared by the tool audit log and the egress ledger: each record is canonical JSON
// (RFC 8785, `canonicalize`) holding its own sequence number; its hash is
// sha256(canonical record + prev_hash), prev_hash being the previous record's hash (64 zeros for
// the first). A chain alone only proves the records agree with each other: whoever can write the
// store can rewrite all of it. The signed checkpoints of core/anchor/checkpoint.ts pin its head
// outside the store.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

export const GENESIS_HASH = '0'.repeat(64);

/** The two chained logs of a home. */
export type ChainedLog = 'audit' | 'egress';
export const CHAINED_LOGS: readonly ChainedLog[] = ['audit', 'egress'];

/** Where a log's records live, for messages that say where a problem is. */
export const LOG_TABLE: Record<ChainedLog, { table: string; head: string; noun: string; title: string }> = {
  audit: { table: 'audit_log', head: 'audit_head', noun: 'record', title: 'audit log' },
  egress: { table: 'egress_ledger', head: 'egress_head', noun: 'entry', title: 'egress ledger' },
};

export interface ChainHead {
  /** Sequence number of the last record (0: empty). */
  seq: number;
  /** Its hash (GENESIS_HASH when empty). */
  hash: string;
}
export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

export function canonicalJson(value: unknown): string {
  const s = canonicalize(value);
  if (s === undefined) throw new Error('a chained record must be JSON-serializable');
  return s;
}

export function chainHash(canonicalRecord: string, prevHash: string): string {
  return createHash('sha256').update(canonicalRecord).update(prevHash).digest('hex');
}

export type VerifyProblemKind =
  | 'edited'
  | 'deleted'
  | 'reordered'
  | 'chain-broken'
  | 'head-mismatch'
  | 'malformed'
  /** The store holds fewer records than the signed checkpoint saw (tail cut, older copy restored or imported). */
  | 'truncated'
  /** The store holds no records although the signed checkpoint saw some. */
  | 'emptied'
  /** The record the checkpoint pinned has another hash: the history up to it was rewritten. */
  | 'rewritten'
  /** The anchor (device key or checkpoint file) is missing, unreadable or does not verify. */
  | 'anchor';

export interface VerifyProblem {
  /** The first record that fails (by sequence number); 0 when the problem is the anchor itself. */
  seq: number;
  kind: VerifyProblemKind;
  message: string;
}

export interface AnchorSummary {
  counter: number;
  time: string;
  device: string;
  seq: number;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  problem: VerifyProblem | null;
  /** The signed checkpoint the log was checked against (absent: the chain alone was checked). */
  anchor?: AnchorSummary | null;
  /** Records newer than the checkpoint (written since; normally 0 once the daemon has flushed). */
  unanchored?: number;
}

/** What the anchor needs from a chained log (AuditLog and StoreLedger provide it). */
export interface AnchorableLog {
  readonly log: ChainedLog;
  /** The chain alone: every record, the in-store head row. */
  verify(): VerifyResult;
  /** The stored hash of record `seq`, or undefined when there is no such record. */
  hashAt(seq: number): string | undefined;
  /** The last stored record (EMPTY_HEAD for none), from the records themselves. */
  lastRecord(): ChainHead;
  /** Called after each append is durable in the store; the append resolves when `fn` has. */
  onAppended(fn: (head: ChainHead) => Promise<void>): void;
}

export function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

/**
 * The egress ledger's hashed columns, in the order of migration 3. `sources` is hashed as the
 * JSON text stored, so what is verified is exactly what `hearth egress log` shows.
 */
export const LEDGER_HASHED_COLUMNS = [
  'id', 'time', 'client', 'feature', 'provider', 'model', 'location', 'host', 'decision', 'outcome', 'grant_kind', 'rule', 'bytes',
  'sha256', 'status', 'error', 'redactions', 'sources',
] as const;

/** One ledger row as the canonical JSON its hash covers (columns missing from `row` count as null). */
export function ledgerRecordText(row: { [k: string]: unknown }): string {
  const rec: Record<string, unknown> = {};
  for (const c of LEDGER_HASHED_COLUMNS) {
    const v = row[c] ?? null;
    if (v !== null && typeof v !== 'string' && typeof v !== 'number') throw new Error(`egress ledger column ${c} holds a ${typeof v}, not text or a number`);
    rec[c] = v;
  }
  return canonicalJson(rec);
}
