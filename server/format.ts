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
