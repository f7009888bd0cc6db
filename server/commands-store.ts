// `hearth store recover`: the command the store's damage messages name (core/store/recover.ts).
// It works on the files, so the daemon must be stopped; it never deletes anything.
import { parseArgs } from 'node:util';
import { resolvePaths } from './paths.js';
import { CommandError } from './commands.js';
import { Store, type RecoverReport } from '../core/store/index.js';

type Out = (s: string) => void;

export function formatRecoverReport(r: RecoverReport): string[] {
  if (r.healthy) {
    return [`the store is healthy: its snapshot is valid and all ${r.journalApplied} journal record(s) apply; nothing was changed`];
  }
  const lines: string[] = [];
  if (r.damage) lines.push(`damage: ${r.damage}`);
  if (r.base === 'snapshot') lines.push(`kept the snapshot as it is (${r.tablesKept.length} tables, ${r.rowsKept} rows)`);
  else if (r.base === 'salvaged') lines.push(`salvaged ${r.rowsKept} row(s) in ${r.tablesKept.length} table(s) from ${r.source}`);
  else lines.push('nothing could be read from the snapshot: started from an empty store');
  for (const l of r.tablesLost) lines.push(`  not kept: ${l.table}: ${l.why}`);
  lines.push(`journal: ${r.journalApplied} record(s) replayed${r.journalSkipped ? `, ${r.journalSkipped} skipped (they did not apply to what was kept)` : ''}`);
  for (const f of r.setAside) lines.push(`set aside (not deleted): ${f}`);
  lines.push('the store opens again: `hearth start` starts the daemon, and `hearth import --force FILE` replaces what was kept with an export');
  return lines;
}

export async function storeCommand(args: string[], out: Out, daemonRunning: () => Promise<boolean>): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
  if (sub !== 'recover') throw new CommandError('usage: hearth store recover [--json]');
  if (await daemonRunning()) throw new CommandError('the daemon is running, so the store is in use; stop it first with `hearth stop`, then run `hearth store recover` again');
  const report = await Store.recover(resolvePaths().store);
  if (values.json) out(JSON.stringify(report, null, 2));
  else for (const l of formatRecoverReport(report)) out(l);
  return 0;
}
