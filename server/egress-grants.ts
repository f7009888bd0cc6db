// Egress grants for `hearth grants` (issue 13): the "always" answers kept in the store's
// egress_grants table, and what the egress gate holds for this daemon's lifetime (session grants,
// declines, asks still waiting for an answer, unused "once" answers). Listed beside the tool
// grants through hearth/grants/list (kind: 'egress') and revoked by id through hearth/grants/revoke.
import crypto from 'node:crypto';
import { StoreGrants, type GrantKey, type LedgerStore } from '../core/egress/index.js';
import type { EgressGate, HeldEgressGrant } from '../core/egress/gate.js';
import type { Feature } from '../core/policy/types.js';

export interface EgressGrantRow {
  kind: 'egress';
  id: string;
  /** always: kept in the store; session: until the daemon stops; declined: not asked again until then; pending: asked, no answer yet; once: one request may go. */
  grant: 'always' | HeldEgressGrant['grant'];
  provider: string;
  feature: string;
  /** The workspace root it applies to, null for requests outside any workspace. */
  workspace: string | null;
  client: string | null;
  grantedAt: string;
  expiresAt: string | null;
}

/** A short, stable id for a grant: its kind and key hashed (a workspace path can be long). */
function idOf(grant: EgressGrantRow['grant'], k: GrantKey): string {
  return `egress-${grant}-${crypto.createHash('sha256').update(JSON.stringify([grant, k.provider, k.feature, k.workspace])).digest('hex').slice(0, 12)}`;
}

interface Row { provider: string; feature: string; workspace: string; client: string | null; granted_at: string }

/** Every egress grant: the stored "always" ones first, then what the gate holds in memory. */
export function listEgressGrants(store: LedgerStore, gate: EgressGate | undefined): EgressGrantRow[] {
  const out: EgressGrantRow[] = [];
  for (const r of store.all<Row>('SELECT provider, feature, workspace, client, granted_at FROM egress_grants ORDER BY granted_at, provider')) {
    const key: GrantKey = { provider: r.provider, feature: r.feature as Feature, workspace: r.workspace };
    out.push({ kind: 'egress', id: idOf('always', key), grant: 'always', provider: r.provider, feature: r.feature, workspace: r.workspace || null, client: r.client, grantedAt: r.granted_at, expiresAt: null });
  }
  for (const g of gate?.heldGrants() ?? []) {
    out.push({
      kind: 'egress', id: idOf(g.grant, g.key), grant: g.grant, provider: g.key.provider, feature: g.key.feature,
      workspace: g.key.workspace || null, client: g.client, grantedAt: g.time, expiresAt: g.expires ?? null,
    });
  }
  return out;
}

/** Revokes the egress grant with this id; false when there is none (it may be a tool grant). */
export async function revokeEgressGrant(store: LedgerStore, gate: EgressGate | undefined, id: string): Promise<boolean> {
  if (!id.startsWith('egress-')) return false;
  const g = listEgressGrants(store, gate).find((x) => x.id === id);
  if (!g) return false;
  const key: GrantKey = { provider: g.provider, feature: g.feature as Feature, workspace: g.workspace ?? '' };
  if (g.grant === 'always') {
    await new StoreGrants(store).remove(key);
    return true;
  }
  return gate?.revokeHeld(key, g.grant) ?? false;
}
