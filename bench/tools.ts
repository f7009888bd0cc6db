/**
 * Tool-action overheads, with their baselines measured in the same run:
 * `node --import tsx bench/tools.ts [iterations]`.
 *   permission check   evaluateCapability on a shell.run argv against a policy with 50 rules
 *   audit append       AuditLog.append (canonical JSON + sha256 + one durable store write),
 *                      against a bare Store.write of the same bytes (the fdatasync floor)
 *   anchored append    the same with the device anchor attached, as in the daemon: a signed
 *                      checkpoint (Ed25519 + one pwrite + fdatasync outside the store) before
 *                      the append resolves; one at a time, and 16 concurrent (checkpoints batched)
 *   sandbox start      `true` under bubblewrap (SandboxRunner) against spawning `true` directly
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditLog, type AuditRecordInput } from '../core/audit/index.js';
import { DeviceAnchor } from '../core/anchor/index.js';
import { SandboxRunner, findBwrap } from '../core/sandbox/index.js';
import { Store } from '../core/store/index.js';
import { evaluateCapability, toolPolicyFromText } from '../core/tools/index.js';

export interface ToolsBenchResult {
  permissionP50Us: number;
  permissionP99Us: number;
  auditAppendP50Us: number;
  auditAppendP99Us: number;
  bareWriteP99Us: number;
  auditVsBareWriteP99: number;
  anchoredAppendP50Us: number;
  anchoredAppendP99Us: number;
  anchoredVsBareWriteP99: number;
  /** 16 concurrent anchored appends: wall time per append, and checkpoints written per append. */
  anchoredConcurrentUsPerAppend: number;
  checkpointsPerAppendConcurrent: number;
  sandboxP50Ms: number;
  directP50Ms: number;
  sandboxOverheadMs: number;
  sandboxVsDirectP50: number;
  lines: string[];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('/usr/bin/true', [], { stdio: 'ignore' });
    c.once('error', reject);
    c.once('close', () => resolve());
  });
}

function record(i: number): AuditRecordInput {
  return {
    time: new Date().toISOString(),
    actionId: `bench-${i}`,
    interface: { kind: 'editor', name: 'bench', clientId: 'c1' },
    proposer: { model: 'm', provider: 'p' },
    tool: 'shell.run',
    args: { argv: ['git', 'status', `--n=${i}`] },
    decision: { policy: 'allow', rule: 'bench', outcome: 'allowed', by: 'policy', grant: null, approvedBy: null },
    sandbox: { kind: 'bwrap', network: false, writable: ['/ws'] },
    result: { status: 'ok', stdoutHead: 'On branch main\nnothing to commit, working tree clean\n' },
    exitCode: 0,
    filesChanged: [],
  };
}

export async function run(opts: { iterations?: number; log?: (line: string) => void } = {}): Promise<ToolsBenchResult> {
  const n = opts.iterations ?? 500;
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = await mkdtemp(path.join(tmpdir(), 'hearth-bench-tools-'));
  try {
    // Permission check.
    const rules = Array.from({ length: 50 }, (_, i) => `    - { tool: shell.run, argv: [tool${i}, "*", "**"], action: ${i % 3 === 0 ? 'deny' : 'allow'} }`).join('\n');
    const policy = toolPolicyFromText(`tools:\n  rules:\n${rules}\n    - { tool: shell.run, argv: [git, status], action: allow }\n`);
    const perm: number[] = [];
    for (let i = 0; i < n * 20; i++) {
      const t = performance.now();
      evaluateCapability(policy, { tool: 'shell.run', argv: ['git', 'status'], path: { real: root, rel: '.' } });
      perm.push((performance.now() - t) * 1000);
    }

    // Audit append vs a bare durable write of the same size.
    const store = await Store.open(path.join(root, 'store'));
    await store.write([{ sql: 'CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, body TEXT NOT NULL)' }]);
    const audit = new AuditLog(store);
    const body = JSON.stringify(record(0));
    const bare: number[] = [];
    const appends: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await store.write([{ sql: 'INSERT INTO bench_bare (body) VALUES (?)', params: [body] }]);
      bare.push((performance.now() - t) * 1000);
      t = performance.now();
      await audit.append(record(i));
      appends.push((performance.now() - t) * 1000);
    }
    if (!audit.verify().ok) throw new Error('bench: the audit chain does not verify');
    await store.close();

    // The same append with the anchor attached (what the daemon does), against the same bare write.
    const home = path.join(root, 'home');
    const astore = await Store.open(path.join(home, 'store'));
    await astore.write([{ sql: 'CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, body TEXT NOT NULL)' }]);
    const anchor = await DeviceAnchor.open(home, astore);
    const alog = new AuditLog(astore);
    anchor.attach(alog);
    const bareA: number[] = [];
    const anchored: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await astore.write([{ sql: 'INSERT INTO bench_bare (body) VALUES (?)', params: [body] }]);
      bareA.push((performance.now() - t) * 1000);
      t = performance.now();
      await alog.append(record(i));
      anchored.push((performance.now() - t) * 1000);
    }
    const counterBefore = (await anchor.checkpoint())!.body.counter;
    const t0 = performance.now();
    const rounds = Math.max(10, Math.floor(n / 16));
    for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: 16 }, (_, j) => alog.append(record(n + r * 16 + j))));
    const concurrentUs = ((performance.now() - t0) * 1000) / (rounds * 16);
    const checkpoints = (await anchor.checkpoint())!.body.counter - counterBefore;
    if (!(await anchor.verify('audit')).ok) throw new Error('bench: the anchored audit log does not verify');
    await anchor.close();
    await astore.close();

    // Sandbox start vs direct spawn, interleaved so both see the same machine load.
    const lines: string[] = [];
    const sandbox: number[] = [];
    const direct: number[] = [];
    const runs = Math.max(20, Math.floor(n / 10));
    let sandboxP50 = NaN;
    let directP50 = NaN;
    if (findBwrap()) {
      const runner = new SandboxRunner();
      for (let i = 0; i < runs; i++) {
        let t = performance.now();
        await spawnTrue();
        direct.push(performance.now() - t);
        t = performance.now();
        const r = await runner.run({ argv: ['true'], cwd: root, readOnly: [root] });
        if (r.exitCode !== 0) throw new Error(`bench: sandboxed true failed: ${r.stderr}`);
        sandbox.push(performance.now() - t);
      }
      sandboxP50 = pct(sandbox, 50);
      directP50 = pct(direct, 50);
    }
    const res: ToolsBenchResult = {
      permissionP50Us: pct(perm, 50),
      permissionP99Us: pct(perm, 99),
      auditAppendP50Us: pct(appends, 50),
      auditAppendP99Us: pct(appends, 99),
      bareWriteP99Us: pct(bare, 99),
      auditVsBareWriteP99: pct(appends, 99) / pct(bare, 99),
      anchoredAppendP50Us: pct(anchored, 50),
      anchoredAppendP99Us: pct(anchored, 99),
      anchoredVsBareWriteP99: pct(anchored, 99) / pct(bareA, 99),
      anchoredConcurrentUsPerAppend: concurrentUs,
      checkpointsPerAppendConcurrent: checkpoints / (rounds * 16),
      sandboxP50Ms: sandboxP50,
      directP50Ms: directP50,
      sandboxOverheadMs: sandboxP50 - directP50,
      sandboxVsDirectP50: sandboxP50 / directP50,
      lines,
    };
    lines.push(
      `tools bench (${n} iterations)`,
      `  permission check (51 rules)   p50 ${res.permissionP50Us.toFixed(1)} µs   p99 ${res.permissionP99Us.toFixed(1)} µs`,
      `  audit append (durable)        p50 ${res.auditAppendP50Us.toFixed(0)} µs   p99 ${res.auditAppendP99Us.toFixed(0)} µs   ` +
        `vs bare store write p99 ${res.bareWriteP99Us.toFixed(0)} µs: ratio ${res.auditVsBareWriteP99.toFixed(2)}`,
      `  anchored append (checkpoint)  p50 ${res.anchoredAppendP50Us.toFixed(0)} µs   p99 ${res.anchoredAppendP99Us.toFixed(0)} µs   ` +
        `vs bare store write p99 ${pct(bareA, 99).toFixed(0)} µs (p50 ${pct(bareA, 50).toFixed(0)} µs): ratio p99 ${res.anchoredVsBareWriteP99.toFixed(2)}, p50 ${(pct(anchored, 50) / pct(bareA, 50)).toFixed(2)}`,
      `  anchored append, 16 at once   ${res.anchoredConcurrentUsPerAppend.toFixed(0)} µs per append, ${res.checkpointsPerAppendConcurrent.toFixed(2)} checkpoints per append (batched)`,
      findBwrap()
        ? `  sandbox start (bwrap, true)   p50 ${sandboxP50.toFixed(1)} ms   vs direct spawn p50 ${directP50.toFixed(1)} ms: ` +
            `ratio ${res.sandboxVsDirectP50.toFixed(1)}, overhead ${res.sandboxOverheadMs.toFixed(1)} ms (${runs} runs each)`
        : '  sandbox start: bwrap is not installed; skipped',
    );
    for (const l of lines) log(l);
    return res;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv[2];
  await run(arg ? { iterations: Number(arg) } : {});
}
