// `hearth doctor`: checks what can go wrong on a user's machine and says how to fix each problem.
import fs from 'node:fs';
import path from 'node:path';
import { resolvePaths } from './paths.js';
import { inspectPrivateDir, inspectSecretFile } from './security.js';
import { connectClient } from './client.js';
import { PROTOCOL_MAX, PROTOCOL_MIN, Status, type Result } from './protocol.js';
import { Store } from '../core/store/index.js';
import { VERSION } from './version.js';
import { SecretStore, providerKeyFindings } from '../core/secrets/index.js';
import { loadUserPolicy } from '../core/policy/index.js';
import { AuditVerify, EgressVerify } from './protocol.js';
import { formatVerify, verifyOffline } from './commands-anchor.js';
import { AnchorError, CHAINED_LOGS, LOG_TABLE, anchorPath, readAnchor, readDeviceKey, type ChainedLog, type VerifyResult } from '../core/anchor/index.js';

interface Check { level: 'ok' | 'warning' | 'error'; message: string; fix?: string | undefined }

export async function runDoctor(out: (s: string) => void): Promise<number> {
  const p = resolvePaths();
  const checks: Check[] = [];
  const add = (level: Check['level'], message: string, fix?: string): void => void checks.push({ level, message, fix });

  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  if (major > 20 || (major === 20 && minor >= 15)) add('ok', `node ${process.versions.node}`);
  else add('error', `node ${process.versions.node} is too old`, 'install Node.js 20.15 or later');

  for (const dir of [p.home, p.runDir]) {
    const f = inspectPrivateDir(dir);
    add(f.ok ? 'ok' : fs.existsSync(dir) ? 'error' : 'warning', f.message, f.fix);
  }
  const t = inspectSecretFile(p.token);
  add(t.ok ? 'ok' : fs.existsSync(p.token) ? 'error' : 'warning', `token: ${t.message}`, t.fix);

  // Provider keys (docs/secrets.md): the secrets file is private, and every key the policy names is there.
  const secrets = new SecretStore(p.home);
  try {
    const n = secrets.list().length;
    if (n || fs.existsSync(secrets.file)) add('ok', `secrets: ${secrets.file} is private (0600), ${n} stored`);
  } catch (err) {
    add('error', `secrets: ${(err as Error).message}`);
  }
  const policyFile = path.join(p.configDir, 'policy.yaml');
  if (fs.existsSync(policyFile)) {
    try {
      const policy = await loadUserPolicy(policyFile);
      for (const f of providerKeyFindings(policy.providers, secrets)) add(f.level, f.message, f.fix);
    } catch (err) {
      add('error', `policy ${policyFile}: ${(err as Error).message.split('\n')[0]}`, `hearth policy check`);
    }
  }

  if (fs.existsSync(p.socket)) {
    const st = fs.lstatSync(p.socket);
    const mode = st.mode & 0o777;
    if (!st.isSocket()) add('error', `${p.socket} is not a socket`, `hearth stop; rm ${p.socket}`);
    else if (mode & 0o077) add('error', `socket ${p.socket} has mode ${mode.toString(8)}`, 'hearth stop && hearth start (the daemon creates it 0600)');
    else add('ok', `socket ${p.socket} is 0600`);
    try {
      const c = await connectClient({ name: 'hearth-doctor', version: VERSION, kind: 'cli' });
      try {
        const s = await c.connection.sendRequest(Status.method) as Result<typeof Status>;
        add('ok', `daemon ${s.version} (pid ${s.pid}) answers; protocol ${s.protocol.min}..${s.protocol.max}; store schema ${s.store.schemaVersion}`);
        if (s.version !== VERSION) add('warning', `the daemon runs version ${s.version}, this CLI is ${VERSION}`, 'hearth stop && hearth start');
        if (s.protocol.max < PROTOCOL_MIN || s.protocol.min > PROTOCOL_MAX) add('error', 'the daemon and this CLI share no protocol version', 'hearth stop && hearth start');
      } finally {
        c.close();
      }
    } catch (err) {
      add('error', `the daemon does not answer: ${(err as Error).message}`, 'hearth stop; hearth start, and see the log in $HEARTH_HOME/logs/daemon.log');
    }
  } else {
    add('warning', 'no daemon is running', 'hearth start (editors start it on demand too)');
  }

  if (fs.existsSync(p.store)) {
    for (const f of await Store.check(p.store)) add(f.level, `store: ${f.message}`, f.fix);
  } else {
    add('warning', `no store yet at ${p.store}`, 'it is created on the first `hearth start`');
  }

  await tamperEvidence(p, add, fs.existsSync(p.socket));

  for (const c of checks) {
    out(`${c.level === 'ok' ? 'ok     ' : c.level === 'warning' ? 'warning' : 'ERROR  '} ${c.message}`);
    if (c.level !== 'ok' && c.fix) out(`        fix: ${c.fix}`);
  }
  const errors = checks.filter((c) => c.level === 'error').length;
  out(errors ? `${errors} problem(s) found` : 'no problems found');
  return errors ? 1 : 0;
}

/**
 * The device key, the anchor file and both chained logs against it (docs/tamper-evidence.md):
 * through the daemon when it runs (it holds the store), otherwise on the stopped store.
 */
async function tamperEvidence(p: ReturnType<typeof resolvePaths>, add: (level: Check['level'], message: string, fix?: string) => void, daemonMayRun: boolean): Promise<void> {
  let key;
  try {
    key = readDeviceKey(p.home);
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    add('error', `device key: ${e.message.split('\n')[0]}`, e.fix);
    return;
  }
  const reading = readAnchor(p.home, key);
  if (!key) add('warning', 'no device key yet: the audit log and egress ledger are anchored from the first `hearth start`', 'hearth start');
  else if (reading.state === 'ok') {
    const b = reading.checkpoint.body;
    add('ok', `device key ${key.fingerprint} (${key.file}, 0600); anchor ${reading.file}: signed checkpoint #${b.counter} of ${b.time}`);
    for (const n of reading.notes) add('warning', `anchor: ${n}`, 'nothing to do if Hearth was killed while writing; the next append rewrites that slot');
  }
  let results: Record<ChainedLog, VerifyResult> | null = null;
  let answered = false;
  if (daemonMayRun) {
    try {
      const c = await connectClient({ name: 'hearth-doctor', version: VERSION, kind: 'cli' });
      try {
        results = {
          audit: (await c.connection.sendRequest(AuditVerify.method)) as VerifyResult,
          egress: (await c.connection.sendRequest(EgressVerify.method)) as VerifyResult,
        };
        answered = true;
      } finally {
        c.close();
      }
    } catch {
      // no daemon to ask: checked on the stopped store below
    }
  }
  if (!answered && fs.existsSync(p.store)) {
    try {
      results = await verifyOffline(p.home, p.store);
    } catch (e) {
      add('warning', `audit log and egress ledger not checked: the store cannot be opened (${(e as Error).message.split('\n')[0]})`, 'see the store findings above');
    }
  }
  if (!results) return;
  for (const log of CHAINED_LOGS) {
    const f = formatVerify(log, results[log]);
    const kind = results[log].problem?.kind;
    const fix =
      kind === 'anchor'
        ? `find out why the anchor (${anchorPath(p.home)}) or key changed; to accept the store as it is: hearth stop && hearth anchor reset`
        : kind === 'truncated' || kind === 'emptied' || kind === 'rewritten'
          ? `the store holds less than, or other than, what was signed: restore the newer store or export if you have one (hearth stop && hearth import FILE --force); to accept the store as it is: hearth stop && hearth anchor reset`
          : `the ${LOG_TABLE[log].title} was changed inside the store (table ${LOG_TABLE[log].table}); a broken chain cannot be repaired in place: keep a copy of ${p.store} for inspection, then restore an export from before the change (hearth stop && hearth import FILE --force)`;
    add(f.code ? 'error' : 'ok', f.lines.join(' '), f.code ? fix : undefined);
  }
}
