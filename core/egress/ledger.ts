// The egress ledger (one row per attempt to send bytes off the machine, sent or not) and the
// persistent "always" grants, with adapters onto the store. The store owner runs
// migration 3 (core/store/migrations.ts); these classes only need `write` and `all`.
import type { Action, Feature, Location } from '../policy/types.js';
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

export class StoreLedger implements EgressLedger {
  constructor(private readonly store: LedgerStore) {}

  async append(e: EgressLedgerEntry): Promise<void> {
    await this.store.write([
      {
        sql: `INSERT INTO egress_ledger (time, client, feature, provider, model, location, host, decision, outcome, grant_kind, rule, bytes, sha256, status, error, redactions, sources)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [e.time, e.client, e.feature, e.provider, e.model, e.location, e.host, e.decision, e.outcome, e.grant, e.rule, e.bytes, e.sha256, e.status, e.error, e.redactions, JSON.stringify(e.sources)],
      },
    ]);
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
