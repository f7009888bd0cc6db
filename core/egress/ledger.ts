// The egress ledger (one row per attempt to send bytes off the machine, sent or not) and the
// persistent "always" grants, with adapters onto the store. The store owner runs
// migrations 3 and 6 (core/store/migrations.ts); these classes only need `write` and `all`.
// The ledger is hash-chained like the audit log (core/anchor/chain.ts): row `id` is the sequence
// number, the hashed record is the row's own columns as canonical JSON (ledgerRecordText), and
// `egress_head` remembers the last id and hash; UPDATE and DELETE are refused by triggers.
import type { Action, Feature, Location } from '../policy/types.js';
import {
  GENESIS_HASH,
  chainHash,
  ledgerRecordText,
  type AnchorableLog,
  type ChainHead,
  type VerifyProblem,
  type VerifyResult,
} from '../anchor/chain.js';
import type { RedactionCount } from './redact.js';
import type { SourceRef } from '../routing/plan.js';

export type EgressOutcome = 'sent' | 'denied' | 'declined' | 'failed' | 'cancelled';
export type GrantKind = 'once' | 'session' | 'always';

export interface LedgerSource {
  source: SourceRef;
  bytes: number;
  sentBytes: number;
  dataClass: string;
  redactions: RedactionCount[];
}

export interface EgressLedgerEntry {
  /** ISO 8601. */
  time: string;
  client: string | null;
  feature: Feature;
  provider: string;
  model: string | null;
  location: Location | null;
  /** host[:port] the request was (or would have been) sent to. */
  host: string;
  /** Policy decision from the route plan. */
  decision: Action;
  /** What happened: sent; denied by policy; declined by the user; failed; cancelled. */
  outcome: EgressOutcome;
  /** How an `ask` was answered, or reused ("session"/"always" grants skip the prompt). */
  grant: GrantKind | null;
  /** The policy rule or default behind the decision. */
  rule: string;
  /** Bytes of the HTTP request body written to the connection (0 when nothing was sent). */
  bytes: number;
  /** sha256 (hex) of the request body that was sent or would have been sent. */
  sha256: string;
  status: number | null;
  error: string | null;
  redactions: number;
  sources: LedgerSource[];
}

export interface EgressLedger {
  append(entry: EgressLedgerEntry): Promise<void>;
}

export interface GrantKey {
  provider: string;
  feature: Feature;
  /** Workspace root the grant applies to; '' for requests outside any workspace. */
  workspace: string;
}
export interface GrantStore {
  has(key: GrantKey): Promise<boolean>;
  add(key: GrantKey, meta: { client: string | null; time: string }): Promise<void>;
  remove?(key: GrantKey): Promise<void>;
}

/** The part of the store these adapters use. */
export interface LedgerStore {
  write(tx: { sql: string; params?: unknown[] }[]): Promise<void>;
  all<T>(sql: string, params?: unknown[]): T[];
}

interface LedgerRow {
  id: number;
  prev_hash: string | null;
  hash: string | null;
  time: string;
  client: string | null;
  feature: string;
  provider: string;
  model: string | null;
  location: string | null;
  host: string;
  decision: string;
  outcome: string;
  grant_kind: string | null;
  rule: string;
  bytes: number;
  sha256: string;
  status: number | null;
  error: string | null;
  redactions: number;
  sources: string;
}

const OUTCOMES: readonly string[] = ['sent', 'denied', 'declined', 'failed', 'cancelled'];
const DECISIONS: readonly string[] = ['allow', 'ask', 'deny'];
const GRANTS: readonly (string | null)[] = ['once', 'session', 'always', null];

/**
 * Checks what the table's CHECK constraints would refuse, before a sequence number and hash are
 * given out: a write refused by the store after later appends were chained onto it would leave a
 * hole in the chain that looks like a deleted entry.
 */
function checkEntry(e: EgressLedgerEntry): void {
  const bad = (what: string) => new Error(`egress ledger: entry refused, nothing was stored: ${what}`);
  if (!DECISIONS.includes(e.decision)) throw bad(`decision ${JSON.stringify(e.decision)} is not allow, ask or deny`);
  if (!OUTCOMES.includes(e.outcome)) throw bad(`outcome ${JSON.stringify(e.outcome)} is not one of ${OUTCOMES.join(', ')}`);
  if (!GRANTS.includes(e.grant)) throw bad(`grant ${JSON.stringify(e.grant)} is not once, session, always or null`);
  if (!Number.isSafeInteger(e.bytes) || e.bytes < 0) throw bad(`bytes ${e.bytes} is not a non-negative integer`);
  if (!Number.isSafeInteger(e.redactions)) throw bad(`redactions ${e.redactions} is not an integer`);
  if (e.status !== null && !Number.isSafeInteger(e.status)) throw bad(`status ${e.status} is not an integer`);
  for (const [k, v] of Object.entries({ time: e.time, feature: e.feature, provider: e.provider, host: e.host, rule: e.rule, sha256: e.sha256 })) {
    if (typeof v !== 'string') throw bad(`${k} is not a string`);
  }
}

export class StoreLedger implements EgressLedger, AnchorableLog {
  readonly log = 'egress' as const;
  #head: ChainHead | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  #appended: Array<(head: ChainHead) => Promise<void>> = [];

  constructor(private readonly store: LedgerStore) {}

  private head(): ChainHead {
    this.#head ??= this.store.all<ChainHead>('SELECT seq, hash FROM egress_head WHERE id = 1')[0] ?? { seq: 0, hash: GENESIS_HASH };
    return this.#head;
  }

  onAppended(fn: (head: ChainHead) => Promise<void>): void {
    this.#appended.push(fn);
  }

  hashAt(seq: number): string | undefined {
    return this.store.all<{ hash: string }>('SELECT hash FROM egress_ledger WHERE id = ?', [seq])[0]?.hash;
  }

  lastRecord(): ChainHead {
    return this.store.all<ChainHead>('SELECT id AS seq, hash FROM egress_ledger ORDER BY id DESC LIMIT 1')[0] ?? { seq: 0, hash: GENESIS_HASH };
  }

  /** Resolves when every append issued so far has settled. */
  async flushed(): Promise<void> {
    await this.#tail;
  }

  /**
   * Appends one entry; ids and hashes are given out in call order (concurrent appends chain
   * correctly), and the promise resolves once the entry is durable (and anchored, see onAppended).
   */
  append(e: EgressLedgerEntry): Promise<void> {
    try {
      checkEntry(e);
    } catch (err) {
      return Promise.reject(err);
    }
    const head = this.head();
    const id = head.seq + 1;
    const values = [e.time, e.client, e.feature, e.provider, e.model, e.location, e.host, e.decision, e.outcome, e.grant, e.rule, e.bytes, e.sha256, e.status, e.error, e.redactions, JSON.stringify(e.sources)] as const;
    const text = ledgerRecordText({
      id, time: e.time, client: e.client, feature: e.feature, provider: e.provider, model: e.model, location: e.location, host: e.host,
      decision: e.decision, outcome: e.outcome, grant_kind: e.grant, rule: e.rule, bytes: e.bytes, sha256: e.sha256, status: e.status,
      error: e.error, redactions: e.redactions, sources: values[16],
    });
    const hash = chainHash(text, head.hash);
    this.#head = { seq: id, hash };
    const p = this.store
      .write([
        {
          sql: `INSERT INTO egress_ledger (id, time, client, feature, provider, model, location, host, decision, outcome, grant_kind, rule, bytes, sha256, status, error, redactions, sources, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          params: [id, ...values, head.hash, hash],
        },
        {
          sql: 'INSERT INTO egress_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
          params: [id, hash],
        },
      ])
      .then(
        async () => {
          for (const fn of this.#appended) await fn({ seq: id, hash });
        },
        (err: unknown) => {
          this.#head = null; // re-read from the store: this entry was not stored
          throw err;
        },
      );
    this.#tail = p.catch(() => undefined);
    return p;
  }

  /**
   * Checks the whole chain: the first bad entry and why (edited: its columns do not match its
   * hash; deleted: an id is missing or the head names a later entry; chain-broken: its prev_hash
   * is not the previous entry's hash).
   */
  verify(): VerifyResult {
    const rows = this.store.all<LedgerRow>('SELECT * FROM egress_ledger ORDER BY id');
    const fail = (seq: number, kind: VerifyProblem['kind'], message: string): VerifyResult => ({
      ok: false,
      records: rows.length,
      problem: { seq, kind, message: `egress ledger entry ${seq}: ${message} (table egress_ledger)` },
    });
    let prevHash = GENESIS_HASH;
    let expected = 1;
    for (const r of rows) {
      if (r.id !== expected) return fail(expected, 'deleted', `is missing (the ledger jumps from entry ${expected - 1} to ${r.id}); entries were deleted`);
      if (typeof r.hash !== 'string' || typeof r.prev_hash !== 'string') return fail(r.id, 'malformed', 'has no hash; it was inserted around the ledger');
      if (r.prev_hash !== prevHash) {
        return fail(r.id, 'chain-broken', `its prev_hash does not match entry ${r.id - 1}'s hash; an entry before it was replaced or removed`);
      }
      const { prev_hash: _p, hash: _h, ...cols } = r;
      if (chainHash(ledgerRecordText(cols), prevHash) !== r.hash) return fail(r.id, 'edited', 'its columns do not match its hash; it was edited');
      prevHash = r.hash;
      expected++;
    }
    const last = rows.length;
    const head = this.store.all<ChainHead>('SELECT seq, hash FROM egress_head WHERE id = 1')[0];
    if (head && (head.seq !== last || head.hash !== prevHash)) {
      if (head.seq > last) return fail(last + 1, 'deleted', `is missing: the ledger's head says it ends at entry ${head.seq}, but the last entry is ${last}; entries were deleted`);
      return fail(head.seq, 'head-mismatch', `the ledger's head (entry ${head.seq}, hash ${head.hash.slice(0, 12)}…) does not match the last entry; it was edited`);
    }
    if (!head && last > 0) return fail(last, 'head-mismatch', "the ledger's head row (table egress_head) is missing; it was deleted");
    return { ok: true, records: last, problem: null };
  }

  /** Newest first. */
  list(opts: { limit?: number; since?: string } = {}): (EgressLedgerEntry & { id: number })[] {
    const rows = this.store.all<LedgerRow>(
      `SELECT * FROM egress_ledger WHERE time >= ? ORDER BY id DESC LIMIT ?`,
      [opts.since ?? '', opts.limit ?? 100],
    );
    return rows.map((r) => ({
      id: r.id,
      time: r.time,
      client: r.client,
      feature: r.feature as Feature,
      provider: r.provider,
      model: r.model,
      location: r.location as Location | null,
      host: r.host,
      decision: r.decision as Action,
      outcome: r.outcome as EgressOutcome,
      grant: r.grant_kind as GrantKind | null,
      rule: r.rule,
      bytes: r.bytes,
      sha256: r.sha256,
      status: r.status,
      error: r.error,
      redactions: r.redactions,
      sources: JSON.parse(r.sources) as LedgerSource[],
    }));
  }
}

export class StoreGrants implements GrantStore {
  constructor(private readonly store: LedgerStore) {}
  async has(k: GrantKey): Promise<boolean> {
    return this.store.all(`SELECT 1 FROM egress_grants WHERE provider = ? AND feature = ? AND workspace = ?`, [k.provider, k.feature, k.workspace]).length > 0;
  }
  async add(k: GrantKey, meta: { client: string | null; time: string }): Promise<void> {
    await this.store.write([
      {
        sql: `INSERT OR REPLACE INTO egress_grants (provider, feature, workspace, client, granted_at) VALUES (?, ?, ?, ?, ?)`,
        params: [k.provider, k.feature, k.workspace, meta.client, meta.time],
      },
    ]);
  }
  async remove(k: GrantKey): Promise<void> {
    await this.store.write([{ sql: `DELETE FROM egress_grants WHERE provider = ? AND feature = ? AND workspace = ?`, params: [k.provider, k.feature, k.workspace] }]);
  }
}

/** In-process ledger (for tools and tests that have no store); keeps entries in order. */
export class MemoryLedger implements EgressLedger {
  readonly entries: EgressLedgerEntry[] = [];
  async append(entry: EgressLedgerEntry): Promise<void> {
    this.entries.push(structuredClone(entry));
  }
}
