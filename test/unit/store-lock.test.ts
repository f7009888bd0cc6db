// The store lock under a race: many real processes at a lock left by a SIGKILLed holder. Exactly
// one may win; every other one is told who holds it, and nobody is told to delete a file.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireLock, readLockPid } from '../../core/store/lock.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const contender = path.join(repo, 'test/helpers/lock-contender.ts');
const CONTENDERS = 12;

function start(args: string[]): { child: ChildProcess; lines: string[]; line(re: RegExp, timeoutMs: number): Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', contender, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return {
    child,
    lines,
    async line(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        if (child.exitCode !== null) throw new Error(`contender ${child.pid} exited (${child.exitCode}) without printing ${re}: ${err}`);
        if (Date.now() > deadline) throw new Error(`contender ${child.pid} printed no ${re} within ${timeoutMs} ms: ${lines.join(' | ')} ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

describe('store lock: takeover race', function () {
  this.timeout(120_000);
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-lockrace-'));
  });
  afterEach(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.length = 0;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${CONTENDERS} processes racing at a lock left by a SIGKILLed holder: exactly one wins`, async () => {
    // A real stale lock: its holder is killed with SIGKILL while it holds the store lock.
    const holder = start([dir, path.join(dir, 'unused'), path.join(dir, 'unused'), 'hold']);
    children.push(holder.child);
    const held = await holder.line(/^held \d+$/, 30_000);
    const deadPid = Number(held.split(' ')[1]);
    assert.equal(await readLockPid(dir), deadPid, 'the lock file records its holder');
    holder.child.kill('SIGKILL');
    await new Promise((r) => holder.child.once('exit', r));
    assert.equal(await readLockPid(dir), deadPid, 'the dead holder\'s record is still there (a stale lock)');

    const go = path.join(dir, 'go');
    const done = path.join(dir, 'done');
    const racers = Array.from({ length: CONTENDERS }, () => start([dir, go, done]));
    children.push(...racers.map((r) => r.child));
    await Promise.all(racers.map((r) => r.line(/^ready$/, 60_000)));
    fs.writeFileSync(go, '');
    // Each prints its outcome at once; the winner keeps holding until `done`, so every loser
    // tried while the lock was held by the winner.
    const outcomes = await Promise.all(racers.map((r) => r.line(/^(won|lost) /, 30_000)));
    const winners = outcomes.filter((o) => o.startsWith('won '));
    assert.equal(winners.length, 1, `exactly one winner expected, got:\n${outcomes.join('\n')}`);
    const winnerPid = Number(winners[0]!.split(' ')[1]);
    assert.equal(await readLockPid(dir), winnerPid, 'the lock file names the winner');
    for (const o of outcomes.filter((x) => x.startsWith('lost '))) {
      assert.match(o, new RegExp(`in use by process ${winnerPid}\\b`));
      assert.match(o, /hearth stop/);
      assert.doesNotMatch(o, /delete/i, 'a dead holder is taken over; nobody is told to delete the lock file');
    }
    fs.writeFileSync(done, '');
    await Promise.all(racers.map((r) => new Promise((res) => (r.child.exitCode !== null ? res(null) : r.child.once('exit', res)))));
    // Released on exit: this process can take it now, and the record is ours.
    const lock = await acquireLock(dir);
    assert.equal(await readLockPid(dir), process.pid);
    await lock.release();
    assert.equal(await readLockPid(dir), undefined, 'a released lock records nobody');
  });

  it('a lock held by a live process is refused, and free again once it is released', async () => {
    const a = await acquireLock(dir);
    await assert.rejects(acquireLock(dir), (e: Error & { code?: string }) => e.code === 'LOCKED' && new RegExp(`in use by process ${process.pid}`).test(e.message));
    await a.release();
    await (await acquireLock(dir)).release();
  });
});
