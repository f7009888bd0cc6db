// CLI for tamper evidence (issue 11): how `hearth audit verify` and `hearth egress verify` report,
// `hearth import` judged against the anchor, `hearth anchor reset`, and the offline check that
// `hearth doctor` runs when no daemon holds the store. Threat model: docs/tamper-evidence.md.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog } from '../core/audit/index.js';
import { StoreLedger } from '../core/egress/ledger.js';
import { Store } from '../core/store/index.js';
import {
  LOG_TABLE, anchorPath, assessImport, checkLog, readAnchor, readDeviceKey, reanchor, short, type ChainedLog, type VerifyResult,
} from '../core/anchor/index.js';
import { CommandError } from './commands.js';
import { resolvePaths } from './paths.js';

type Out = (s: string) => void;

/** Lines for one verify result; the exit code is non-zero when it is not ok. */
export function formatVerify(log: ChainedLog, r: VerifyResult): { lines: string[]; code: number } {
  const t = LOG_TABLE[log];
  if (r.ok) {
    const a = r.anchor;
    const anchored = a
      ? `; signed checkpoint #${a.counter} (${a.time}, device ${a.device}) pins ${t.noun} ${a.seq} (${short(a.hash)})` +
        (r.unanchored ? `, ${r.unanchored} newer ${t.noun}(s) not in a checkpoint yet` : '')
      : '; no signed checkpoint yet (this home has not been anchored: start the daemon once)';
    return { lines: [`${t.title} intact: ${r.records} ${log === 'audit' ? 'record(s)' : 'entries'}, hash chain verified${anchored}`], code: 0 };
  }
  const p = r.problem;
  const head = p?.kind === 'anchor' ? `${t.title} NOT VERIFIED (anchor)` : `${t.title} TAMPERED at ${t.noun} #${p?.seq ?? '?'} (${p?.kind ?? 'unknown'})`;
  return { lines: [`${head}: ${p?.message ?? ''}`], code: 1 };
}

/** Both logs of a stopped home, checked without a daemon (for `hearth doctor`). */
export async function verifyOffline(home: string, storeDir: string): Promise<Record<ChainedLog, VerifyResult>> {
  const store = await Store.open(storeDir);
  try {
    const key = readDeviceKey(home);
    const reading = readAnchor(home, key);
    return { audit: checkLog(new AuditLog(store), reading, key), egress: checkLog(new StoreLedger(store), reading, key) };
  } finally {
    await store.close();
  }
}

/** `hearth import FILE [--force] [--accept-rollback] [--accept-altered]`, with the daemon stopped. */
export async function importCommand(args: string[], out: Out, daemonRunning: () => Promise<boolean>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean' }, 'accept-rollback': { type: 'boolean' }, 'accept-altered': { type: 'boolean' } },
  });
  const file = positionals[0];
  if (!file) throw new CommandError('hearth import FILE [--force] [--accept-rollback] [--accept-altered]');
  if (await daemonRunning()) throw new Error('the daemon is running; stop it first with `hearth stop`, then import');
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(path.resolve(file), 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const paths = resolvePaths();
  fs.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  const a = await assessImport(paths.home, data, file);
  const kinds = new Set(a.problems.map((p) => p.kind));
  const needRollback = (kinds.has('older') || kinds.has('diverged')) && !values['accept-rollback'];
  const needAltered = kinds.has('altered') && !values['accept-altered'];
  if (needRollback || needAltered) {
    const flags = ['--force', ...(kinds.has('older') || kinds.has('diverged') ? ['--accept-rollback'] : []), ...(kinds.has('altered') ? ['--accept-altered'] : [])];
    const what = [
      kinds.has('altered') ? 'was altered after it was exported' : '',
      kinds.has('older') ? 'is older than what this home has already seen (importing it would roll its logs back)' : '',
      kinds.has('diverged') ? "holds another history than the one this home's signed checkpoint pins (an export of another home or device, or a rewritten one)" : '',
    ].filter(Boolean).join(', and ');
    throw new Error(
      `import refused, nothing was changed: ${file} ${what}:\n` +
        a.problems.map((p) => `  - ${p.message}`).join('\n') +
        `\nThe store and the anchor (${anchorPath(paths.home)}) are as they were. If you want this state anyway, the decision is recorded ` +
        `in the next signed checkpoint; run:\n  hearth import ${file} ${flags.join(' ')}`,
    );
  }
  await Store.importState(paths.store, data, { force: values.force ?? false });
  const store = await Store.open(paths.store);
  try {
    const r = reanchor(paths.home, store, a.event);
    out(`imported ${file} into ${paths.home}`);
    for (const n of a.notes) out(`  ${n}`);
    for (const p of a.problems) out(`  accepted: ${p.message}`);
    const b = r.checkpoint.body;
    out(`  anchored: signed checkpoint #${b.counter} (device ${b.device}): audit log at record ${b.logs.audit.seq}, egress ledger at entry ${b.logs.egress.seq}`);
  } finally {
    await store.close();
  }
  return 0;
}

/** `hearth anchor reset`: sign a checkpoint for the store as it is now (the user's decision). */
export async function anchorCommand(args: string[], out: Out, daemonRunning: () => Promise<boolean>): Promise<number> {
  const [sub] = args;
  if (sub !== 'reset') throw new CommandError('hearth anchor reset   (daemon stopped: anchor the audit log and egress ledger as the store holds them now)');
  if (await daemonRunning()) throw new Error('the daemon is running; stop it first with `hearth stop`, then run `hearth anchor reset`');
  const paths = resolvePaths();
  const before = await verifyOffline(paths.home, paths.store).catch(() => null);
  const store = await Store.open(paths.store);
  try {
    const r = reanchor(paths.home, store, { kind: 'reset', detail: 'hearth anchor reset: the user accepted the store as it was' });
    if (before) {
      for (const log of ['audit', 'egress'] as const) {
        const f = formatVerify(log, before[log]);
        if (f.code) out(`before: ${f.lines.join(' ')}`);
      }
    }
    const b = r.checkpoint.body;
    if (r.keyCreated) out(`created a new device key ${r.key.fingerprint} (${r.key.file})`);
    out(
      `anchored the store as it is: signed checkpoint #${b.counter} (device ${b.device}): audit log at record ${b.logs.audit.seq}, ` +
        `egress ledger at entry ${b.logs.egress.seq}` +
        (r.previous ? ` (before: #${r.previous.counter} at record ${r.previous.logs.audit.seq} / entry ${r.previous.logs.egress.seq})` : ''),
    );
  } finally {
    await store.close();
  }
  return 0;
}
