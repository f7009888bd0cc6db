// Another local user against the daemon (issue 11, must-show 3): a real second account, created
// here with useradd and removed with userdel -r, runs its attempts with runuser. Before the daemon
// starts it squats every name it can compute (the abstract-namespace names the old lock used, for
// the home, the socket and the lock files) and tries to create the directories and lock files
// itself; the daemon must start anyway, also after a SIGKILL. Then it must fail to connect to the
// socket and to open any file or directory of the home or the runtime directory.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeHome, waitFor, type HearthHome } from '../helpers/daemon.js';

// What the attacker runs (plain JavaScript, so it needs nothing from this repository).
const ATTACKER = String.raw`
const fs = require('fs'); const net = require('net'); const crypto = require('crypto');
const [mode, json] = process.argv.slice(2); const t = JSON.parse(json);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const code = (f) => { try { f(); return 'OK'; } catch (e) { return e.code || String(e); } };
if (mode === 'squat') {
  process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
  const servers = [];
  let pending = 0;
  const done = () => { if (--pending === 0) out({ pid: process.pid, ready: true }); };
  for (const key of t.keys) {
    // The old daemon lock: '\0hearth-' + sha256(path)[0..32), and the full digest for good measure.
    const h = crypto.createHash('sha256').update(key).digest('hex');
    for (const name of ['\0hearth-' + h.slice(0, 32), '\0hearth-' + h, '\0' + key]) {
      pending++;
      const s = net.createServer(() => undefined);
      s.once('error', (e) => { out({ bind: JSON.stringify(name), result: e.code }); done(); });
      s.listen(name, () => { servers.push(s); out({ bind: JSON.stringify(name), result: 'OK' }); done(); });
    }
  }
  for (const d of t.dirs) out({ mkdir: d, result: code(() => fs.mkdirSync(d, { mode: 0o777 })) });
  for (const f of t.files) out({ create: f, result: code(() => fs.closeSync(fs.openSync(f, 'wx', 0o666))) });
} else {
  const results = [];
  for (const p of t.paths) {
    results.push({ path: p, open: code(() => fs.closeSync(fs.openSync(p, 'r'))), list: code(() => fs.readdirSync(p)), stat: code(() => fs.statSync(p)) });
  }
  for (const d of t.dirs) results.push({ path: d, create: code(() => fs.closeSync(fs.openSync(d + '/planted', 'wx', 0o666))) });
  const s = net.createConnection(t.socket);
  s.once('connect', () => { out({ results, connect: 'OK' }); process.exit(0); });
  s.once('error', (e) => { out({ results, connect: e.code }); process.exit(0); });
}
`;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Every path under `root` (itself included), as root sees them. */
function walk(root: string): string[] {
  const out = [root];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

describe('daemon isolation from another local user (real second account)', function () {
  this.timeout(120_000);
  const user = `hearth-attacker-${crypto.randomBytes(3).toString('hex')}`;
  let h: HearthHome;
  let scripts: string;
  let created = false;
  let squatter: ChildProcess | undefined;
  let squatterPid: number | undefined;

  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root to create a second local user with useradd');
      this.skip();
    }
    if (!has('useradd') || !has('userdel') || !has('runuser')) {
      console.log('      skipped: useradd, userdel or runuser is missing (Debian: passwd and util-linux)');
      this.skip();
    }
    const r = spawnSync('useradd', ['-m', user], { encoding: 'utf8' });
    assert.equal(r.status, 0, `useradd ${user}: ${r.stderr}`);
    created = true;
    scripts = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-attacker-js-'));
    fs.chmodSync(scripts, 0o755);
    fs.writeFileSync(path.join(scripts, 'attacker.cjs'), ATTACKER, { mode: 0o644 });
    h = makeHome('isolation');
    // Make everything up to Hearth's own directories reachable by others, so what stops the
    // attacker is what Hearth creates: HEARTH_HOME (created by the daemon) and XDG_RUNTIME_DIR/hearth.
    fs.chmodSync(h.dir, 0o755);
    fs.chmodSync(h.runtime, 0o755);
    fs.rmdirSync(h.home);
  });

  after(async () => {
    if (squatterPid !== undefined) {
      try {
        process.kill(squatterPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    squatter?.kill('SIGKILL');
    await h?.dispose();
    if (scripts) fs.rmSync(scripts, { recursive: true, force: true });
    if (created) {
      const r = spawnSync('userdel', ['-r', user], { encoding: 'utf8' });
      if (r.status !== 0) console.log(`      warning: userdel -r ${user} exited ${r.status}: ${r.stderr}`);
    }
  });

  function runAsAttacker(mode: 'probe', target: unknown): Record<string, any> {
    const r = spawnSync('runuser', ['-u', user, '--', process.execPath, path.join(scripts, 'attacker.cjs'), mode, JSON.stringify(target)],
      { encoding: 'utf8', timeout: 30_000, cwd: '/' });
    assert.equal(r.status, 0, `attacker ${mode}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }

  it('cannot keep the daemon from starting, nor from restarting after SIGKILL', async () => {
    const p = h.paths;
    const keys = [p.home, p.socket, p.runDir, p.homeLock, p.socketLock, p.pidFile, p.store, h.runtime, p.home + '/'];
    const lines: Array<Record<string, any>> = [];
    squatter = spawn('runuser', ['-u', user, '--', process.execPath, path.join(scripts, 'attacker.cjs'), 'squat',
      JSON.stringify({ keys, dirs: [p.home, p.runDir], files: [p.homeLock, p.socketLock, p.socket, p.token] })],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    let buf = '';
    squatter.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    const ready = await waitFor('the attacker to squat every name', () => lines.find((l) => l.ready), 30_000);
    squatterPid = ready.pid;
    const binds = lines.filter((l) => 'bind' in l);
    assert.equal(binds.length, keys.length * 3);
    // The old lock's names were free for anyone to take: the attacker holds all of them now.
    assert.ok(binds.every((b) => b.result === 'OK'), `the attacker could not bind some names: ${JSON.stringify(binds)}`);
    // It cannot create Hearth's directories (their parents are not its own), nor anything in them.
    for (const l of lines.filter((x) => 'mkdir' in x)) assert.equal(l.result, 'EACCES', JSON.stringify(l));
    for (const l of lines.filter((x) => 'create' in x)) assert.ok(['EACCES', 'ENOENT'].includes(l.result), JSON.stringify(l));

    const d1 = await h.spawnDaemon(30_000);
    const s1 = await h.status();
    assert.equal(s1.pid, d1.pid, 'the daemon started and serves, with every computable abstract name taken by another user');
    assert.equal(fs.statSync(p.home).mode & 0o777, 0o700, 'HEARTH_HOME created 0700');
    assert.equal(fs.statSync(p.runDir).mode & 0o777, 0o700, 'socket directory created 0700');

    // SIGKILL: nothing is cleaned up, the lock files stay with the dead pid, and a new daemon
    // takes over without anyone deleting anything.
    d1.child.kill('SIGKILL');
    await d1.exited;
    assert.ok(fs.existsSync(p.homeLock) && fs.existsSync(p.socketLock), 'the lock files are still there');
    assert.equal(fs.readFileSync(p.homeLock, 'utf8').trim(), String(d1.pid), 'the home lock still names the dead daemon');
    const d2 = await h.spawnDaemon(30_000);
    assert.equal((await h.status()).pid, d2.pid, 'a new daemon took over the dead one\'s lock');
    assert.equal(fs.readFileSync(p.homeLock, 'utf8').trim(), String(d2.pid));
    assert.equal(squatter.exitCode, null, 'the attacker still held every name meanwhile');
  });

  it('cannot connect to the socket nor open, list or stat anything of the home or the runtime directory', async () => {
    const p = h.paths;
    await h.status(); // the daemon of the previous test is up; make sure it wrote its files
    const paths = [...walk(p.home), ...walk(p.runDir)];
    assert.ok(paths.includes(p.token) && paths.includes(p.socket) && paths.includes(p.homeLock) && paths.includes(p.socketLock), paths.join('\n'));
    assert.ok(paths.some((x) => x.startsWith(p.store + path.sep)), 'the store files are among them');
    const r = runAsAttacker('probe', { paths, dirs: [p.home, p.runDir, p.store], socket: p.socket });
    assert.equal(r.connect, 'EACCES', `the attacker's connect to ${p.socket}: ${r.connect}`);
    const leaks: string[] = [];
    for (const x of r.results as Array<Record<string, string>>) {
      for (const k of ['open', 'list', 'stat', 'create'] as const) {
        // The two roots sit in directories anyone may traverse (set up so above): their own mode
        // and owner can be stat'ed; nothing inside them can.
        if (k === 'stat' && (x.path === p.home || x.path === p.runDir)) continue;
        if (x[k] !== undefined && x[k] !== 'EACCES') leaks.push(`${k} ${x.path}: ${x[k]}`);
      }
    }
    assert.deepEqual(leaks, [], `the other user reached files of the home:\n${leaks.join('\n')}`);
    assert.ok((r.results as unknown[]).length >= paths.length, 'every path was tried');
    assert.equal((await h.status()).clients.some((c) => c.name !== 'it-status'), false, 'no connection of the attacker was ever accepted');
  });
});
