// The CLI against a real daemon on temp homes: the README's start command (`npm start` = `hearth
// demo`), status/stop, doctor, and export/import of all state.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connectClient } from '../../server/client.js';
import { HEARTH_BIN, isAlive, makeHome, sleep, waitFor, type HearthHome, type StatusResult } from '../helpers/daemon.js';
import { Status } from '../../server/protocol.js';

describe('hearth CLI (real processes)', function () {
  this.timeout(90_000);
  const homes: HearthHome[] = [];
  const home = (label: string): HearthHome => {
    const h = makeHome(label);
    homes.push(h);
    return h;
  };
  after(async () => {
    for (const h of homes) await h.dispose();
  });

  it('README contract: `hearth demo` shows ghost text and a route, `status --json` shows the daemon, `stop` stops it', async () => {
    const h = home('readme');
    const demo = await h.cli(['demo']);
    assert.equal(demo.code, 0, `hearth demo failed:\n${demo.stdout}\n${demo.stderr}`);
    const ghost = /^ghost text:\s+(.*)$/m.exec(demo.stdout);
    assert.ok(ghost, `no ghost text line in:\n${demo.stdout}`);
    assert.notEqual(ghost[1]!.trim(), '(none)', `the demo produced no completion:\n${demo.stdout}`);
    assert.ok(ghost[1]!.trim().length > 0);
    const route = /^route:\s+(\{.*\})$/m.exec(demo.stdout);
    assert.ok(route, `no route line in:\n${demo.stdout}`);
    const r = JSON.parse(route[1]!) as { location: string; provider: string };
    assert.equal(r.location, 'local');
    assert.ok(r.provider.length > 0);

    const st = await h.cli(['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const s = JSON.parse(st.stdout) as StatusResult;
    assert.ok(isAlive(s.pid), `status names pid ${s.pid}, which is not running`);
    h.seenPids.add(s.pid);
    assert.equal(s.home, h.home);
    assert.equal(s.socket, h.paths.socket);
    assert.ok(s.store.schemaVersion >= 1);
    assert.ok(s.protocol.min <= s.protocol.max);
    assert.ok(s.clients.some((c) => c.kind === 'cli' && c.name === 'hearth-cli'), 'status lists its own CLI connection');

    const stop = await h.cli(['stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopped/);
    await waitFor(`daemon pid ${s.pid} to exit`, () => !isAlive(s.pid), 10_000);
    assert.equal(fs.existsSync(h.paths.socket), false, 'the socket is removed on stop');
    const after = await h.cli(['status']);
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /no Hearth daemon is running.*hearth start/);
    const again = await h.cli(['stop']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /no daemon is running/);
  });

  it('every command that needs the daemon starts it; status and stop do not', async () => {
    const h = home('autostart');
    const st = await h.cli(['status']);
    assert.notEqual(st.code, 0);
    assert.match(st.stderr, /no Hearth daemon is running.*hearth start/);
    assert.match((await h.cli(['stop'])).stdout, /no daemon is running/);
    for (const argv of [['memory', 'list'], ['egress', 'log'], ['grants', 'list'], ['audit', 'verify'], ['approve']]) {
      const r = await h.cli(argv);
      assert.equal(r.code, 0, `${argv.join(' ')} with no daemon running: ${r.stderr}`);
      const s = await h.cli(['status', '--json']);
      assert.equal(s.code, 0, `${argv.join(' ')} left no daemon running`);
      h.seenPids.add((JSON.parse(s.stdout) as StatusResult).pid);
      assert.equal((await h.cli(['stop'])).code, 0);
    }
  });

  it('a command whose daemon dies mid-request fails with a message instead of hanging', async () => {
    const h = home('dies');
    const d = await h.spawnDaemon();
    process.kill(d.pid, 'SIGSTOP'); // connections still queue in the kernel; nothing answers
    try {
      const pending = h.cli(['status'], { timeoutMs: 20_000 });
      await sleep(3000); // the CLI boots, connects into the stopped daemon's backlog and waits
      process.kill(d.pid, 'SIGKILL');
      const r = await pending;
      assert.equal(r.signal, null, 'hearth status hung until the test killed it');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^hearth: .+/);
    } finally {
      try {
        process.kill(d.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('connectClient rejects a pending request when the daemon dies (it waited forever)', async () => {
    const h = home('dies-inproc');
    const d = await h.spawnDaemon();
    const c = await connectClient({ name: 'waiter', version: '0', kind: 'test' }, { paths: h.paths });
    try {
      process.kill(d.pid, 'SIGSTOP');
      const pending = c.connection.sendRequest(Status.method);
      await sleep(200);
      process.kill(d.pid, 'SIGKILL');
      const r = await Promise.race([pending.then(() => 'answered', (e: Error) => e.message), sleep(10_000).then(() => 'still waiting')]);
      assert.notEqual(r, 'still waiting');
      assert.notEqual(r, 'answered');
    } finally {
      c.close();
    }
  });

  it('creates the token 0600 and the socket 0600 in 0700 directories', async () => {
    const h = home('perms');
    const start = await h.cli(['start']);
    assert.equal(start.code, 0, start.stderr);
    const mode = (p: string) => fs.lstatSync(p).mode & 0o777;
    assert.equal(mode(h.paths.token), 0o600, 'token');
    assert.match(fs.readFileSync(h.paths.token, 'utf8').trim(), /^[0-9a-f]{64}$/, 'token is 256 bits of hex');
    assert.ok(fs.lstatSync(h.paths.socket).isSocket());
    assert.equal(mode(h.paths.socket), 0o600, 'socket');
    assert.equal(mode(h.paths.runDir), 0o700, 'socket directory');
    assert.equal(mode(h.paths.home), 0o700, 'HEARTH_HOME');
    assert.equal(mode(h.paths.logs), 0o700, 'logs directory');
    const s = await h.status();
    // `start` again is a no-op on the running daemon.
    const again = await h.cli(['start']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`pid ${s.pid}\\b`));
    assert.equal((await h.cli(['stop'])).code, 0);
  });

  describe('doctor', () => {
    it('exits 0 on a healthy home', async () => {
      const h = home('doctor-ok');
      assert.equal((await h.cli(['start'])).code, 0);
      const d = await h.cli(['doctor']);
      assert.equal(d.code, 0, `doctor on a healthy home:\n${d.stdout}\n${d.stderr}`);
      assert.match(d.stdout, /no problems found/);
      assert.match(d.stdout, /daemon .* answers/);
    });

    it('exits non-zero naming the problem and the fix when the token is 0644', async () => {
      const h = home('doctor-token');
      assert.equal((await h.cli(['start'])).code, 0);
      fs.chmodSync(h.paths.token, 0o644);
      const d = await h.cli(['doctor'], { timeoutMs: 20_000 });
      // Exactly 1: before client.ts closed the socket of a refused connection, doctor hung here.
      assert.equal(d.code, 1, `doctor on a 0644 token (code ${d.code}, signal ${d.signal}):\n${d.stdout}\n${d.stderr}`);
      assert.match(d.stdout, new RegExp(`${escape(h.paths.token)} has mode 0644`));
      assert.match(d.stdout, new RegExp(`fix: chmod 600 ${escape(h.paths.token)}`));
    });

    it('names a group-readable socket directory with `chmod 700`', async () => {
      const h = home('doctor-dir');
      assert.equal((await h.cli(['start'])).code, 0);
      fs.chmodSync(h.paths.runDir, 0o750);
      const d = await h.cli(['doctor'], { timeoutMs: 20_000 });
      assert.equal(d.code, 1, d.stdout);
      assert.match(d.stdout, new RegExp(`fix: chmod 700 ${escape(h.paths.runDir)}`));
    });
  });

  describe('export / import', () => {
    type Export = { format: string; version: number; schemaVersion: number; tables: Record<string, { columns: string[]; rows: unknown[][] }> };
    const readExport = (file: string): Export => JSON.parse(fs.readFileSync(file, 'utf8')) as Export;

    it('export then import into an empty home restores every table; a non-empty home needs --force; a running daemon refuses', async () => {
      const src = home('export-src');
      // Build state through the daemon: several clients, each recorded by hello.
      assert.equal((await src.cli(['start'])).code, 0);
      for (let i = 0; i < 5; i++) (await src.connect({ name: `exported-client-${i}`, version: `1.${i}`, kind: 'editor' })).close();
      const file = path.join(src.dir, 'state.json');
      // While the daemon runs, export goes through it.
      const live = await src.cli(['export', file]);
      assert.equal(live.code, 0, live.stderr);
      assert.match(live.stdout, /exported \d+ tables/);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the export file is private');
      assert.equal((await src.cli(['stop'])).code, 0);
      const viaDaemon = readExport(file);
      assert.equal(viaDaemon.format, 'hearth-export');
      assert.equal(viaDaemon.version, 1);
      const names = viaDaemon.tables.clients!.rows.map((r) => r[viaDaemon.tables.clients!.columns.indexOf('name')]);
      for (let i = 0; i < 5; i++) assert.ok(names.includes(`exported-client-${i}`), `clients table holds exported-client-${i}`);

      // With the daemon stopped, export opens the store directly. It holds everything the live
      // export held, plus the row of the `hearth stop` connection that came after it.
      const offline = path.join(src.dir, 'offline.json');
      assert.equal((await src.cli(['export', offline])).code, 0);
      const a = readExport(offline);
      for (const [t, v] of Object.entries(viaDaemon.tables)) {
        assert.deepEqual(a.tables[t]!.columns, v.columns);
        for (const row of v.rows) assert.ok(a.tables[t]!.rows.some((r) => JSON.stringify(r) === JSON.stringify(row)), `offline export of ${t} lacks ${JSON.stringify(row)}`);
      }
      assert.equal(a.tables.clients!.rows.length, viaDaemon.tables.clients!.rows.length + 1);

      const dst = home('export-dst');
      const imp = await dst.cli(['import', offline]);
      assert.equal(imp.code, 0, `import into an empty home:\n${imp.stdout}\n${imp.stderr}`);
      const back = path.join(dst.dir, 'back.json');
      assert.equal((await dst.cli(['export', back])).code, 0);
      const b = readExport(back);
      assert.equal(b.schemaVersion, a.schemaVersion);
      assert.deepEqual(b.tables, a.tables, 'import restores every table, column and row');

      // The imported home serves a daemon that still has the state.
      assert.equal((await dst.cli(['start'])).code, 0);
      const running = await dst.cli(['import', offline]);
      assert.notEqual(running.code, 0, 'import while the daemon runs must be refused');
      assert.match(running.stderr, /daemon is running.*hearth stop/);
      assert.equal((await dst.cli(['stop'])).code, 0);

      // Non-empty now: refused without --force, nothing changed; accepted with it.
      const refused = await dst.cli(['import', offline]);
      assert.notEqual(refused.code, 0, 'import into a non-empty home without --force must be refused');
      assert.match(refused.stderr, /already holds data/);
      assert.match(refused.stderr, /--force/);
      const forced = await dst.cli(['import', offline, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      const again = path.join(dst.dir, 'again.json');
      assert.equal((await dst.cli(['export', again])).code, 0);
      // --force replaced the rows the daemon added since the first import with the file's.
      assert.deepEqual(readExport(again).tables, a.tables);
    });

    it('refuses a file that is not an export, saying what is wrong', async () => {
      const h = home('import-bad');
      const bad = path.join(h.dir, 'bad.json');
      fs.writeFileSync(bad, '{"format":"something-else"}');
      const r = await h.cli(['import', bad]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /format|hearth-export/);
      const notJson = path.join(h.dir, 'not.json');
      fs.writeFileSync(notJson, 'not json');
      const r2 = await h.cli(['import', notJson]);
      assert.notEqual(r2.code, 0);
      assert.match(r2.stderr, /cannot read .* as JSON/);
    });
  });
});

describe('hearth CLI rough edges', function () {
  this.timeout(30_000);

  it('`--help` after any command prints that command\'s usage and exits 0; an unknown command is still an error', async () => {
    for (const argv of [['memory', 'add', '--help'], ['route', '--help'], ['models', 'add', '-h'], ['egress', 'log', '--help']]) {
      const r = spawnSync(process.execPath, [HEARTH_BIN, ...argv], { encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: hearth ${argv[0]}`), r.stdout);
      assert.equal(r.stderr, '');
    }
    const bad = spawnSync(process.execPath, [HEARTH_BIN, 'frobnicate', '--help'], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });

  it('`policy check` counts tool rules and reports what a workspace policy would loosen, with file:line:col', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-policy-check-'));
    try {
      const home = path.join(dir, 'home');
      fs.mkdirSync(path.join(home, 'config'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(home, 'config', 'policy.yaml'), [
        'default:', '  cloud: ask',
        'tools:', '  rules:', '    - tool: shell.run', '      argv: ["git", "status"]', '      action: allow',
        '    - tool: fs.read', '      paths: ["src/**"]', '      action: allow', '',
      ].join('\n'));
      const ws = path.join(dir, 'ws');
      fs.mkdirSync(path.join(ws, '.hearth'), { recursive: true });
      fs.writeFileSync(path.join(ws, '.hearth', 'policy.yaml'), ['default:', '  cloud: allow', 'tools:', '  default: allow', ''].join('\n'));
      const env = { ...process.env, HEARTH_HOME: home };
      const run = (args: string[], cwd: string) => spawnSync(process.execPath, [HEARTH_BIN, 'policy', 'check', ...args], { encoding: 'utf8', env, cwd, timeout: 15_000 });
      const user = run([], dir);
      assert.equal(user.status, 0, user.stderr);
      assert.match(user.stdout, /ok \(0 provider\(s\), 0 routing rule\(s\), 2 tool rule\(s\) besides the \d+ built in\)/);
      assert.doesNotMatch(user.stdout, /warning/);
      for (const r of [run([], ws), run(['--workspace', ws], dir), run([path.join(ws, '.hearth', 'policy.yaml')], dir)]) {
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /warning: .*\.hearth\/policy\.yaml:2:10: default\.cloud would loosen the user default for cloud \(ask → allow\)/);
        assert.match(r.stdout, /warning: .*\.hearth\/policy\.yaml:4:12: tools\.default would loosen the user default/);
      }
      const missing = run([path.join(dir, 'nope.yaml')], dir);
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /nope\.yaml does not exist/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reader that goes away (`hearth help | head -0`) ends the output quietly: exit 0, no stack trace', async () => {
    const c = spawn(process.execPath, [HEARTH_BIN, 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.destroy(); // the reader is gone before the CLI writes its first byte
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => c.on('exit', resolve));
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(code, 0);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
