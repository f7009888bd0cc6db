// Text the daemon, the CLI and the VS Code extension show alike. The egress ledger, one attempt per
// line: what `hearth egress log` prints and what the editors show ("Hearth: Show Egress Log",
// `:Hearth egress`), so every interface says the same.

/** An entry as `hearth/egress/log` returns it (core/egress/ledger.ts EgressLedgerEntry, as JSON). */
export type LedgerLine = Record<string, unknown>;

export const EMPTY_LEDGER = 'nothing has left this machine: the egress ledger is empty';

export function formatLedgerEntry(e: LedgerLine): string {
  const status = typeof e.status === 'number' ? ` HTTP ${e.status}` : '';
  const error = typeof e.error === 'string' && e.error ? `  (${e.error})` : '';
  return `${String(e.time)}  ${String(e.outcome).padEnd(9)} ${String(e.feature)} -> ${String(e.provider)} ${String(e.host)}  ` +
    `${String(e.bytes)} B  sha256 ${String(e.sha256).slice(0, 12)}  client ${String(e.client ?? '-')}  rule ${String(e.rule)}${status}${error}`;
}

export function formatLedger(entries: readonly LedgerLine[]): string[] {
  return entries.length ? entries.map(formatLedgerEntry) : [EMPTY_LEDGER];
}

/** A byte count in MiB, one decimal ('?' when unknown). */
export function mib(n: number | undefined): string {
  return n === undefined ? '?' : `${(n / 1048576).toFixed(1)} MiB`;
}

/** A route-plan piece's source, as `hearth/route/explain` returns it. */
export interface PlanPieceSource { kind: string; uri?: string; client?: string; role?: string }

/**
 * What a route-plan piece is, by its role: the text before or after the cursor, another open
 * buffer, a memory item, a workspace file (and the rest by their kind).
 */
export function pieceRole(source: PlanPieceSource): string {
  switch (source.role) {
    case 'prefix':
      return 'prefix';
    case 'suffix':
      return 'suffix';
    case 'snippet':
      return 'other buffer';
    case 'memory':
      return 'memory item';
    default:
      break;
  }
  switch (source.kind) {
    case 'memory':
      return 'memory item';
    case 'workspace':
    case 'file':
      return 'workspace file';
    case 'buffer':
      return 'other buffer';
    case 'tool-output':
      return 'tool output';
    default:
      return source.kind;
  }
}

/** One line per route-plan piece: bytes, class, role, source and whose it is (`hearth route explain`). */
export function formatPlanPieces(pieces: ReadonlyArray<{ source: PlanPieceSource; bytes: number; sentBytes?: number; dataClass: string }>): string[] {
  return pieces.map((p) => {
    const role = pieceRole(p.source);
    const who = p.source.client
      ? role === 'memory item' ? ` (written in ${p.source.client})`
        : role === 'other buffer' ? ` (open in ${p.source.client})`
          : role === 'prefix' || role === 'suffix' ? ` (buffer of ${p.source.client})` : ` (from ${p.source.client})`
      : '';
    const sent = p.sentBytes !== undefined && p.sentBytes !== p.bytes ? `, ${p.sentBytes} B after redaction` : '';
    return `    ${String(p.bytes).padStart(6)} B  ${p.dataClass.padEnd(6)} ${role.padEnd(14)} ${p.source.uri ?? ''}${who}${sent}`;
  });
}

/** A route as the status line shows it (`local · ngram/ngram-4 (cloud declined)`), with its tooltip. */
export interface RouteLike { location: string; provider: string; model: string; reason: string; fallback?: string }

export function routeStatus(r: RouteLike): { text: string; tooltip: string } {
  return {
    text: `${r.location} · ${r.provider}/${r.model}${r.fallback ? ` (${r.fallback})` : ''}`,
    tooltip: `Last completion ran ${r.location} on ${r.provider} (${r.model})${r.fallback ? `: ${r.fallback}` : ''}.\n${r.reason}`,
  };
}

/** What `hearth/route/explain` returns, as far as its text rendering reads it. */
export interface ExplainedPlan {
  route: RouteLike;
  decision: string;
  rule: string;
  reason: string;
  routedBy?: string;
  considered?: ReadonlyArray<{ provider: string; skipped?: string }>;
  pieces: ReadonlyArray<{ source: PlanPieceSource; bytes: number; sentBytes?: number; dataClass: string }>;
}

/**
 * The route plan as text, the one rendering every interface shows under its own heading (the
 * position it was asked about): `hearth route explain`, VS Code's "Hearth: Explain Route" and
 * Neovim's `:Hearth explain` (the daemon sends these lines as the result's `text`).
 */
export function planLines(p: ExplainedPlan): string[] {
  const lines = [
    `  provider  ${p.route.provider} (model ${p.route.model})`,
    `  location  ${p.route.location}`,
    `  decision  ${p.decision} by ${p.rule}`,
    `  reason    ${p.reason === 'local' ? 'a local engine can do it; nothing leaves this machine' : p.reason}`,
  ];
  if (p.routedBy) lines.push(`  picked by ${p.routedBy}`);
  if (p.route.fallback) lines.push(`  fell back ${p.route.fallback}`);
  for (const c of p.considered ?? []) if (c.skipped) lines.push(`  skipped   ${c.provider}: ${c.skipped}`);
  lines.push('  data:', ...formatPlanPieces(p.pieces));
  return lines;
}
