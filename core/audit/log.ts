// The tool audit log: append-only, hash-chained records in the store. Each record is canonical
// JSON (RFC 8785) holding its own sequence number; its hash is sha256(canonical record + prev_hash),
// and prev_hash is the previous record's hash (64 zeros for the first). `audit_head` remembers the
// last sequence number and hash, so deleting the newest records is detected too. What the store
// alone cannot show (the tail cut together with the head row, the tables emptied, an older copy
// restored) is caught against the signed checkpoint outside the store (core/anchor).
import {
  GENESIS_HASH,
  canonicalJson,
  chainHash,
  type AnchorableLog,
  type ChainHead,
  type VerifyProblem,
  type VerifyResult,
} from '../anchor/chain.js';

export { GENESIS_HASH, canonicalJson, type VerifyProblem, type VerifyResult };

export interface AuditInterface {
  /** Interface kind: editor, cli, mcp, task, ... */
  kind: string;
  name: string;
  clientId: string | null;
}

export interface AuditRecordInput {
  time: string;
  actionId: string;
  interface: AuditInterface;
  proposer: { model: string; provider: string };
  tool: string;
  args: unknown;
  decision: {
    /** What the policy said. */
    policy: 'allow' | 'ask' | 'deny';
    /** The rule or default behind it (`file:line:col name` or `built-in: ...`). */
    rule: string;
    /** What was finally decided. */
    outcome: 'allowed' | 'denied';
    /**
     * policy: no prompt; grant: an earlier session/always grant; user: answered now; withdrawn: the
     * prompt was taken back unanswered (requester disconnected or cancelled, daemon stopped);
     * nobody: no one could or did answer (no approver attached, timeout). Neither of the last two
     * is a user's denial.
     */
    by: 'policy' | 'grant' | 'user' | 'withdrawn' | 'nobody';
    grant: 'once' | 'session' | 'always' | 'deny' | null;
    /** Who answered the prompt (client id / name), or whose grant was reused. */
    approvedBy: string | null;
    /** How the prompt went (only when one was needed): who was asked, how the answer came, why there was none. */
    approval?: { asked: string[]; via: string | null; note: string | null };
  };
  sandbox: unknown;
  result: { status: 'ok' | 'error' | 'denied'; error?: string; [k: string]: unknown };
  exitCode: number | null;
  filesChanged: { path: string; diff: string }[];
}

export interface AuditRecord extends AuditRecordInput {
  seq: number;
}

export interface AuditRow {
  seq: number;
  time: string;
  tool: string;
  client_id: string | null;
  record: string;
  prev_hash: string;
  hash: string;
}

/** The part of the store the audit log uses (core/store's Store fits). */
export interface AuditStore {
  write(tx: { sql: string; params?: (string | number | null)[] }[]): Promise<void>;
  all<T>(sql: string, params?: (string | number | null)[]): T[];
}

export function recordHash(canonicalRecord: string, prevHash: string): string {
  return chainHash(canonicalRecord, prevHash);
}

export class AuditLog implements AnchorableLog {
  readonly log = 'audit' as const;
  #head: { seq: number; hash: string } | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  #appended: Array<(head: ChainHead) => Promise<void>> = [];

  constructor(private readonly store: AuditStore) {}

  /** `fn` runs after each append is durable (the anchor's checkpoint); the append resolves after it. */
  onAppended(fn: (head: ChainHead) => Promise<void>): void {
    this.#appended.push(fn);
  }

  hashAt(seq: number): string | undefined {
    return this.store.all<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = ?', [seq])[0]?.hash;
  }

  lastRecord(): ChainHead {
    return this.store.all<ChainHead>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')[0] ?? { seq: 0, hash: GENESIS_HASH };
  }

  private head(): { seq: number; hash: string } {
    if (!this.#head) {
      const row = this.store.all<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1')[0];
      this.#head = row ?? { seq: 0, hash: GENESIS_HASH };
    }
    return this.#head;
  }

  /**
   * Append one record; resolves (with the stored record) when it is durable. Sequence numbers and
   * hashes are assigned in call order, so concurrent appends chain correctly.
   */
  append(input: AuditRecordInput): Promise<AuditRecord & { hash: string; prevHash: string }> {
    const head = this.head();
    const seq = head.seq + 1;
    const record: AuditRecord = { seq, ...input };
    const text = canonicalJson(record);
    const hash = recordHash(text, head.hash);
    const prevHash = head.hash;
    this.#head = { seq, hash };
    const p = this.store
      .write([
        {
          sql: 'INSERT INTO audit_log (seq, time, tool, client_id, record, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
          params: [seq, input.time, input.tool, input.interface.clientId, text, prevHash, hash],
        },
        {
          sql: 'INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
          params: [seq, hash],
        },
      ])
      .then(
        async () => {
          for (const fn of this.#appended) await fn({ seq, hash });
          return { ...record, hash, prevHash };
        },
        (e: unknown) => {
          this.#head = null; // re-read from the store: this record was not stored
          throw e;
        },
      );
    this.#tail = p.catch(() => undefined);
    return p;
  }

  /** Resolves when every append issued so far has settled. */
  async flushed(): Promise<void> {
    await this.#tail;
  }

  /** Records in sequence order (all, or a window). */
  list(opts: { afterSeq?: number; limit?: number; tool?: string } = {}): (AuditRecord & { hash: string; prevHash: string })[] {
    const rows = this.store.all<AuditRow>(
      `SELECT * FROM audit_log WHERE seq > ? ${opts.tool ? 'AND tool = ?' : ''} ORDER BY seq LIMIT ?`,
      opts.tool ? [opts.afterSeq ?? 0, opts.tool, opts.limit ?? -1] : [opts.afterSeq ?? 0, opts.limit ?? -1],
    );
    return rows.map((r) => ({ ...(JSON.parse(r.record) as AuditRecord), hash: r.hash, prevHash: r.prev_hash }));
  }

  get(actionId: string): (AuditRecord & { hash: string; prevHash: string }) | undefined {
    const rows = this.store.all<AuditRow>(`SELECT * FROM audit_log WHERE json_extract(record, '$.actionId') = ? ORDER BY seq`, [actionId]);
    const r = rows[0];
    return r ? { ...(JSON.parse(r.record) as AuditRecord), hash: r.hash, prevHash: r.prev_hash } : undefined;
  }

  /**
   * Check the whole chain. Returns the first bad record (by sequence number) and why: a changed
   * byte (hash mismatch), a deleted record (sequence gap, or the head names a later record), or
   * records swapped or moved (a record holding another sequence number, or a broken chain).
   */
  verify(): VerifyResult {
    const rows = this.store.all<AuditRow>('SELECT * FROM audit_log ORDER BY seq');
    let prevHash = GENESIS_HASH;
    let expected = 1;
    const fail = (seq: number, kind: VerifyProblem['kind'], message: string): VerifyResult => ({
      ok: false,
      records: rows.length,
      problem: { seq, kind, message: `audit record ${seq}: ${message} (table audit_log)` },
    });
    for (const row of rows) {
      if (row.seq !== expected) {
        return fail(expected, 'deleted', `is missing (the log jumps from record ${expected - 1} to ${row.seq}); records were deleted`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(row.record);
      } catch {
        return fail(row.seq, 'edited', 'is not valid JSON any more; it was edited');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return fail(row.seq, 'malformed', 'is not a JSON object; it was edited');
      }
      const text = canonicalJson(parsed);
      const inner = (parsed as { seq?: unknown }).seq;
      if (row.prev_hash !== prevHash) {
        return fail(
          row.seq,
          inner !== row.seq ? 'reordered' : 'chain-broken',
          inner !== row.seq
            ? `holds the content of record ${String(inner)}; records were swapped or moved`
            : `its prev_hash does not match record ${row.seq - 1}'s hash; a record before it was replaced or removed`,
        );
      }
      if (text !== row.record || recordHash(text, prevHash) !== row.hash) {
        if (inner !== row.seq) {
          return fail(row.seq, 'reordered', `holds the content of record ${String(inner)}; records were swapped or moved`);
        }
        return fail(row.seq, 'edited', 'its content does not match its hash; it was edited');
      }
      if (inner !== row.seq) return fail(row.seq, 'reordered', `holds the content of record ${String(inner)}; records were swapped or moved`);
      const rec = parsed as AuditRecord;
      if (row.time !== rec.time || row.tool !== rec.tool || row.client_id !== rec.interface?.clientId) {
        return fail(row.seq, 'edited', 'its indexed columns (time, tool, client_id) differ from the hashed record; it was edited');
      }
      prevHash = row.hash;
      expected++;
    }
    const head = this.store.all<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1')[0];
    const last = rows.length;
    if (head && (head.seq !== last || head.hash !== prevHash)) {
      if (head.seq > last) return fail(last + 1, 'deleted', `is missing: the log's head says it ends at record ${head.seq}, but the last record is ${last}; records were deleted`);
      return fail(head.seq, 'head-mismatch', `the log's head (record ${head.seq}, hash ${head.hash.slice(0, 12)}…) does not match the last record; it was edited`);
    }
    if (!head && last > 0) return fail(last, 'head-mismatch', "the log's head row is missing; it was deleted");
    return { ok: true, records: last, problem: null };
  }

  /** The log as JSON lines: one `{"seq", ..., "hash", "prevHash"}` object per record, in order. */
  *exportLines(): Generator<string> {
    const rows = this.store.all<AuditRow>('SELECT * FROM audit_log ORDER BY seq');
    for (const r of rows) yield JSON.stringify({ ...(JSON.parse(r.record) as object), prevHash: r.prev_hash, hash: r.hash });
  }

  export(): string {
    let out = '';
    for (const line of this.exportLines()) out += line + '\n';
    return out;
  }
}
