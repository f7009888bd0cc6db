// Grants: answers to an approval prompt that are reused. "once" is used by the call that asked and
// never stored; "session" lives in memory, covers only later calls of the client session whose call
// it approved, and ends when that session ends (endSession, called when a client detaches; also
// when the answering editor detaches), when the daemon stops, or when it expires; "always" is
// stored in the store (table tool_grants) until it expires or is revoked.
// A grant only answers an `ask`: a `deny` from the policy is never overridden by a grant.
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.js';
import type { ToolName } from './schema.js';

export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface Grant {
  id: string;
  scope: 'session' | 'always';
  tool: ToolName;
  /** What exactly was granted: the argv + cwd, the file, the host (see `grantSubject`). */
  subject: string;
  /** Real path of the workspace root the grant applies to; '' outside any workspace. */
  workspace: string;
  /** The client that answered the prompt. */
  client: string | null;
  /** Session grants: the client session whose calls it covers (null: any; always grants cover every client). */
  requester: string | null;
  createdAt: string;
  /** ISO time; null = never (not given out by Hearth, but accepted from the store). */
  expiresAt: string | null;
}

interface GrantRow {
  id: string;
  tool: string;
  subject: string;
  workspace: string;
  client: string | null;
  created_at: string;
  expires_at: string | null;
}

export class GrantStore {
  readonly #session = new Map<string, Grant>();
  /** Session grant id → the client sessions whose end drops it. */
  readonly #endsWith = new Map<string, string[]>();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private live(g: Grant): boolean {
    return g.expiresAt === null || g.expiresAt > this.now().toISOString();
  }

  /** A live grant for exactly this tool, subject and workspace (session grants: given to this requester), or null. */
  find(tool: ToolName, subject: string, workspace: string, requester: string | null = null): Grant | null {
    for (const g of this.#session.values()) {
      if (g.tool === tool && g.subject === subject && g.workspace === workspace && (g.requester === null || g.requester === requester) && this.live(g)) return g;
    }
    const row = this.store.all<GrantRow>('SELECT * FROM tool_grants WHERE tool = ? AND subject = ? AND workspace = ?', [tool, subject, workspace])[0];
    if (!row) return null;
    const g = fromRow(row);
    return this.live(g) ? g : null;
  }

  async add(scope: 'session' | 'always', g: { tool: ToolName; subject: string; workspace: string; client: string | null; requester?: string | null; endsWith?: string[]; ttlMs: number }): Promise<Grant> {
    const created = this.now();
    const grant: Grant = {
      id: randomUUID(),
      scope,
      tool: g.tool,
      subject: g.subject,
      workspace: g.workspace,
      client: g.client,
      requester: scope === 'session' ? g.requester ?? null : null,
      createdAt: created.toISOString(),
      expiresAt: new Date(created.getTime() + g.ttlMs).toISOString(),
    };
    if (scope === 'session') {
      this.#session.set(grant.id, grant);
      this.#endsWith.set(grant.id, g.endsWith ?? [g.requester, g.client].filter((x): x is string => !!x));
      return grant;
    }
    await this.store.write([
      {
        sql: `INSERT INTO tool_grants (id, tool, subject, workspace, client, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT (tool, subject, workspace) DO UPDATE SET id = excluded.id, client = excluded.client, created_at = excluded.created_at, expires_at = excluded.expires_at`,
        params: [grant.id, grant.tool, grant.subject, grant.workspace, grant.client, grant.createdAt, grant.expiresAt],
      },
    ]);
    return grant;
  }

  /** Every grant, session and always, newest first; expired ones are left out unless asked for. */
  list(opts: { includeExpired?: boolean } = {}): (Grant & { expired: boolean })[] {
    const all: Grant[] = [...this.#session.values(), ...this.store.all<GrantRow>('SELECT * FROM tool_grants').map(fromRow)];
    return all
      .map((g) => ({ ...g, expired: !this.live(g) }))
      .filter((g) => opts.includeExpired || !g.expired)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  }

  /** Remove one grant; false when no grant has that id. */
  async revoke(id: string): Promise<boolean> {
    if (this.#session.delete(id)) {
      this.#endsWith.delete(id);
      return true;
    }
    const exists = this.store.all<{ id: string }>('SELECT id FROM tool_grants WHERE id = ?', [id]).length > 0;
    if (!exists) return false;
    await this.store.write([{ sql: 'DELETE FROM tool_grants WHERE id = ?', params: [id] }]);
    return true;
  }

  /** Forget session grants (all, or those bound to one client's session), e.g. when an editor disconnects. */
  endSession(client?: string): void {
    for (const id of this.#session.keys()) {
      if (client === undefined || (this.#endsWith.get(id) ?? []).includes(client)) {
        this.#session.delete(id);
        this.#endsWith.delete(id);
      }
    }
  }
}

function fromRow(r: GrantRow): Grant {
  return {
    id: r.id,
    scope: 'always',
    tool: r.tool as ToolName,
    subject: r.subject,
    workspace: r.workspace,
    client: r.client,
    requester: null,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}
