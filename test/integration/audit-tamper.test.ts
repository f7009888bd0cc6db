// Tamper evidence of the audit log and the egress ledger against someone who can write the store
// (issue 6 "Must show" 4, issue 11 "Must show" 2). A real daemon writes six audit records (fs.read
// through the tool path) and five egress ledger entries (completions sent to a scripted cloud
// provider on 127.0.0.1); an export is taken after the fourth record and the third entry. Then,
// with the daemon stopped, the real store files are changed the way an attacker with write access
// to $HEARTH_HOME/store (but not to the device key) would: the sql.js snapshot is opened with
// sql.js, the append-only triggers dropped, rows changed, the image written back with a valid
// header and CRC. The daemon is started again and the real CLI must fail, naming what and where:
//   - control: the untouched store verifies (exit 0), so each failure below comes from the tampering;
//   - the tail cut with the head row moved back (what passed before: the chain agrees with itself);
//   - a row deleted in the middle; the tables emptied (records and head row);
//   - one byte of a record changed; the whole chain rewritten with recomputed hashes;
//   - an older export: `hearth import --force` refuses it, naming the flag; imported behind
//     Hearth's back (another home's store copied over this one) `verify` catches the rollback;
//   - an altered export is refused on import; an accepted rollback is recorded and then verifies;
//   - `hearth doctor` reports the same, with and without a running daemon;
//   - the original audit checks: records swapped, swapped by sequence number too.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import initSqlJs, { type Database } from 'sql.js';
import { attachEditor, makeHome, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';
import { isAlive } from '../helpers/daemon.js';
import { attachToolEditor } from '../helpers/tools-harness.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-openai.js';
import { decodeSnapshot, encodeSnapshot } from '../../core/store/snapshot.js';
import { GENESIS_HASH, chainHash, ledgerRecordText } from '../../core/anchor/chain.js';

interface Table { columns: string[]; rows: unknown[][] }
type Log = 'audit' | 'egress';
const T = {
  audit: { table: 'audit_log', head: 'audit_head', key: 'seq', noun: 'record', title: 'audit log', verify: ['audit', 'verify'] },
  egress: { table: 'egress_ledger', head: 'egress_head', key: 'id', noun: 'entry', title: 'egress ledger', verify: ['egress', 'verify'] },
} as const;
const TRIGGERS = ['audit_log_no_update', 'audit_log_no_delete', 'egress_ledger_no_update', 'egress_ledger_no_delete'];

describe('tamper evidence: audit log and egress ledger against a changed store (real files, real CLI)', function () {
  this.timeout(300_000);
  let h: HearthHome;
  let server: ScriptedServer;
  let pristine: Buffer;
  let older: string;
  const storeDir = () => h.paths.store;

  async function stop(pid: number): Promise<void> {
    const s = await h.cli(['stop']);
    assert.equal(s.code, 0, s.stderr);
    await waitFor('the daemon to exit', () => !isAlive(pid));
  }

  async function complete(ed: Awaited<ReturnType<typeof attachEditor>>, root: string, n: number): Promise<void> {
    const file = path.join(root, `f${n}.ts`);
    const text = `// file ${n}\nexport function f${n}(a: number): number {\n  \n}\n`;
    fs.writeFileSync(file, text);
    await ed.open(file, text);
    await ed.complete(file, 2, 2);
  }

  before(async () => {
    server = await startScriptedServer();
    h = makeHome('tamper');
    writeFileAtomic(userPolicyFile(h), [
      'version: 1', 'default:', '  cloud: allow', 'providers:', '  - id: scripted', '    kind: openai', `    baseUrl: ${server.url}`,
      '    model: scripted-coder', '    location: cloud', '    features: [completion]', 'routes:', '  completion: [scripted, ngram]', '',
    ].join('\n'));
    const { pid } = await h.spawnDaemon();
    const ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    fs.writeFileSync(path.join(ws, 'a.txt'), 'alpha\n');
    const tools = await attachToolEditor(h, 'vscode-audit', ws);
    const ed = await attachEditor(h, 'vscode', ws);
    for (let i = 0; i < 4; i++) assert.equal((await tools.run('fs.read', { path: 'a.txt' })).status, 'ok');
    for (let i = 0; i < 3; i++) await complete(ed, ws, i);
    await waitFor('3 ledger entries', async () => (await h.cli(['egress', 'verify'])).stdout.includes('intact: 3 entries'));
    older = path.join(h.dir, 'older.json');
    assert.equal((await h.cli(['export', older])).code, 0);
    for (let i = 0; i < 2; i++) assert.equal((await tools.run('fs.read', { path: 'a.txt' })).status, 'ok');
    for (let i = 3; i < 5; i++) await complete(ed, ws, i);
    await tools.dispose();
    const a = await h.cli(['audit', 'verify']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /audit log intact: 6 record\(s\), hash chain verified; signed checkpoint #\d+ .* pins record 6/);
    const e = await h.cli(['egress', 'verify']);
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /egress ledger intact: 5 entries, hash chain verified; signed checkpoint #\d+ .* pins entry 5/);
    await stop(pid);
    assert.equal(fs.statSync(path.join(storeDir(), 'journal')).size, 0, 'a stopped store has everything in its snapshot');
    pristine = fs.readFileSync(path.join(storeDir(), 'snapshot'));
  });
  after(async () => {
    await h?.dispose();
    await server?.close();
  });

  /** Puts the untouched snapshot back, changes it with sql.js (triggers dropped), writes it back valid. */
  async function tamper(change: (db: Database) => void): Promise<void> {
    const { header, db: image } = decodeSnapshot(pristine);
    const SQL = await initSqlJs();
    const db = new SQL.Database(new Uint8Array(image));
    try {
      for (const t of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
      change(db);
      fs.writeFileSync(path.join(storeDir(), 'snapshot'), encodeSnapshot(db.export(), header.seq, header.schemaVersion, new Date()));
      fs.writeFileSync(path.join(storeDir(), 'journal'), '');
    } finally {
      db.close();
    }
  }

  /** Starts the daemon, runs `hearth <log> verify`, stops it. */
  async function verify(log: Log): Promise<{ code: number | null; out: string }> {
    const { pid } = await h.spawnDaemon();
    try {
      const v = await h.cli([...T[log].verify]);
      return { code: v.code, out: v.stdout + v.stderr };
    } finally {
      await stop(pid);
    }
  }

  const hashOf = (db: Database, log: Log, seq: number): string =>
    String(db.exec(`SELECT hash FROM ${T[log].table} WHERE ${T[log].key} = ${seq}`)[0]!.values[0]![0]);

  for (const log of ['audit', 'egress'] as const) {
    const t = T[log];
    const last = log === 'audit' ? 6 : 5;
    describe(`${t.title} (table ${t.table})`, () => {
      it('control: the untouched store verifies', async () => {
        await tamper(() => undefined);
        const v = await verify(log);
        assert.equal(v.code, 0, v.out);
        assert.match(v.out, new RegExp(`${t.title} intact: ${last} `));
      });

      it('the tail cut and the head row moved back → exit 1: truncated, expected head vs found', async () => {
        await tamper((db) => {
          const keep = last - 2;
          const h2 = hashOf(db, log, keep);
          db.exec(`DELETE FROM ${t.table} WHERE ${t.key} > ${keep}`);
          db.run(`UPDATE ${t.head} SET seq = ?, hash = ?`, [keep, h2]);
        });
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`${t.title} TAMPERED at ${t.noun} #${last - 1} \\(truncated\\)`));
        assert.match(v.out, new RegExp(`table ${t.table}\\) ends at ${t.noun} ${last - 2} .*saw ${t.noun} ${last} .*${t.noun}s ${last - 1}\\.\\.${last} are missing \\(expected head ${last} [0-9a-f]{12}…, found ${last - 2} [0-9a-f]{12}…\\)`));
      });

      it('a row deleted in the middle → exit 1: names the missing one', async () => {
        await tamper((db) => db.exec(`DELETE FROM ${t.table} WHERE ${t.key} = 2`));
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`TAMPERED at ${t.noun} #2 \\(deleted\\).*jumps from ${t.noun} 1 to 3.*\\(table ${t.table}\\)`));
      });

      it('the tables emptied (rows and head row) → exit 1: emptied, how many were there', async () => {
        await tamper((db) => db.exec(`DELETE FROM ${t.table}; DELETE FROM ${t.head};`));
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`TAMPERED at ${t.noun} #1 \\(emptied\\): ${t.title} \\(table ${t.table}\\) is empty, but the signed checkpoint #\\d+ .*saw ${t.noun} ${last}`));
      });

      it('one byte of a record changed → exit 1: edited, names it', async () => {
        await tamper((db) => {
          if (log === 'audit') {
            const text = String(db.exec('SELECT record FROM audit_log WHERE seq = 3')[0]!.values[0]![0]);
            const at = text.indexOf('"actionId":"') + '"actionId":"'.length;
            db.run('UPDATE audit_log SET record = ? WHERE seq = 3', [text.slice(0, at) + (text[at] === 'a' ? 'b' : 'a') + text.slice(at + 1)]);
          } else {
            db.run('UPDATE egress_ledger SET bytes = bytes + 1 WHERE id = 3');
          }
        });
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`TAMPERED at ${t.noun} #3 \\(edited\\).*\\(table ${t.table}\\)`));
      });

      it('the chain rewritten with recomputed hashes (consistent inside the store) → exit 1: rewritten', async () => {
        await tamper((db) => {
          let prev = GENESIS_HASH;
          const rows = db.exec(`SELECT * FROM ${t.table} ORDER BY ${t.key}`)[0]!;
          for (const values of rows.values) {
            const row = Object.fromEntries(rows.columns.map((c, i) => [c, values[i]])) as Record<string, string | number | null>;
            let text: string;
            if (log === 'audit') {
              const rec = JSON.parse(String(row.record)) as { args: { path: string } };
              rec.args.path = 'hidden.txt';
              text = JSON.stringify(rec); // canonical: the record keys are already sorted, no spaces
              db.run('UPDATE audit_log SET record = ? WHERE seq = ?', [text, row.seq!]);
            } else {
              row.host = 'elsewhere.example:443';
              text = ledgerRecordText(row);
              db.run('UPDATE egress_ledger SET host = ? WHERE id = ?', [row.host, row.id!]);
            }
            const hash = chainHash(text, prev);
            db.run(`UPDATE ${t.table} SET prev_hash = ?, hash = ? WHERE ${t.key} = ?`, [prev, hash, row[t.key]!]);
            prev = hash;
          }
          db.run(`UPDATE ${t.head} SET hash = ?`, [prev]);
        });
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`TAMPERED at ${t.noun} #${last} \\(rewritten\\).*table ${t.table}.*was rewritten`));
      });
    });
  }

  describe('exports', () => {
    it('`hearth import` of the older export is refused, naming both logs, what is missing and the exact command', async () => {
      await tamper(() => undefined);
      const before = fs.readFileSync(path.join(storeDir(), 'snapshot'));
      const r = await h.cli(['import', older, '--force']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /import refused, nothing was changed: .*older\.json is older than what this home has already seen/);
      assert.match(r.stderr, /the export's audit log \(table audit_log\) ends at record 4 .*saw record 6/);
      assert.match(r.stderr, /the export's egress ledger \(table egress_ledger\) ends at entry 3 .*saw entry 5/);
      assert.match(r.stderr, new RegExp(`hearth import ${older.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --force --accept-rollback`));
      assert.ok(fs.readFileSync(path.join(storeDir(), 'snapshot')).equals(before), 'the snapshot is untouched');
      const v = await verify('audit');
      assert.equal(v.code, 0, `the refused import changed nothing: ${v.out}`);
    });

    it('the older export imported behind Hearth\'s back (its store copied over this one) → both verifies exit 1: truncated', async () => {
      const other = makeHome('tamper-other');
      try {
        // Another home adopts the export: checked against its own checkpoint, anchored with its own new key.
        const imp = await other.cli(['import', older]);
        assert.equal(imp.code, 0, imp.stdout + imp.stderr);
        assert.match(imp.stdout, /older\.json was signed by device [0-9a-f]{16}, not by this home's key: this home has no anchored records, so it adopts the imported logs/);
        assert.match(imp.stdout, /anchored: signed checkpoint #1 \(device [0-9a-f]{16}\): audit log at record 4, egress ledger at entry 3/);
        fs.copyFileSync(path.join(other.paths.store, 'snapshot'), path.join(storeDir(), 'snapshot'));
        fs.writeFileSync(path.join(storeDir(), 'journal'), '');
      } finally {
        await other.dispose();
      }
      const a = await verify('audit');
      assert.equal(a.code, 1, a.out);
      assert.match(a.out, /audit log TAMPERED at record #5 \(truncated\): audit log \(table audit_log\) ends at record 4 .*saw record 6/);
      const e = await verify('egress');
      assert.equal(e.code, 1, e.out);
      assert.match(e.out, /egress ledger TAMPERED at entry #4 \(truncated\): egress ledger \(table egress_ledger\) ends at entry 3 .*saw entry 5/);
    });

    it('`hearth doctor` reports it too, with the daemon stopped and running', async () => {
      await tamper((db) => db.exec('DELETE FROM egress_ledger; DELETE FROM egress_head;'));
      const off = await h.cli(['doctor']);
      assert.equal(off.code, 1, off.stdout);
      assert.match(off.stdout, /ERROR {3}egress ledger TAMPERED at entry #1 \(emptied\)/);
      assert.match(off.stdout, /fix: .*hearth anchor reset/);
      assert.match(off.stdout, /ok {6}audit log intact: 6 record\(s\)/);
      const { pid } = await h.spawnDaemon();
      try {
        const on = await h.cli(['doctor']);
        assert.equal(on.code, 1, on.stdout);
        assert.match(on.stdout, /ERROR {3}egress ledger TAMPERED at entry #1 \(emptied\)/);
      } finally {
        await stop(pid);
      }
    });

    it('an export altered after it was made is refused on import, naming the record and --accept-altered', async () => {
      await tamper(() => undefined);
      const { pid } = await h.spawnDaemon();
      const fresh = path.join(h.dir, 'fresh.json');
      try {
        assert.equal((await h.cli(['export', fresh])).code, 0);
      } finally {
        await stop(pid);
      }
      const data = JSON.parse(fs.readFileSync(fresh, 'utf8')) as { tables: Record<string, Table> };
      const led = data.tables.egress_ledger!;
      const row = led.rows.find((r) => r[led.columns.indexOf('id')] === 2)!;
      row[led.columns.indexOf('host')] = 'elsewhere.example:443';
      const altered = path.join(h.dir, 'altered.json');
      fs.writeFileSync(altered, JSON.stringify(data));
      const r = await h.cli(['import', altered, '--force']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /altered\.json was altered after it was exported/);
      assert.match(r.stderr, /egress ledger entry 2: its columns do not match its hash; it was edited \(table egress_ledger\)/);
      assert.match(r.stderr, /--force --accept-altered/);
      const ok = await h.cli(['import', fresh, '--force']);
      assert.equal(ok.code, 0, `the unaltered export imports: ${ok.stdout}${ok.stderr}`);
    });

    it('an accepted rollback (`--accept-rollback`) is the user\'s decision: recorded in the next checkpoint, and verify passes', async () => {
      const r = await h.cli(['import', older, '--force', '--accept-rollback']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /accepted: the export's audit log .* ends at record 4/);
      assert.match(r.stdout, /anchored: signed checkpoint #\d+ .*audit log at record 4, egress ledger at entry 3/);
      const a = await verify('audit');
      assert.equal(a.code, 0, a.out);
      assert.match(a.out, /audit log intact: 4 record\(s\)/);
      pristine = fs.readFileSync(path.join(storeDir(), 'snapshot')); // the state the swap tests below start from
    });
  });

  describe('audit log: records moved', () => {
    const col = (log: Table, name: string): number => log.columns.indexOf(name);
    it('two records swapped → exit 1, names the first of them', async () => {
      await tamper((db) => {
        const rows = db.exec('SELECT seq, time, tool, client_id, record, prev_hash, hash FROM audit_log WHERE seq IN (2, 3) ORDER BY seq')[0]!;
        const [a, b] = rows.values as unknown[][];
        const t: Table = { columns: rows.columns, rows: [a!, b!] };
        for (const [from, to] of [[b!, 2], [a!, 3]] as const) {
          db.run('UPDATE audit_log SET time = ?, tool = ?, client_id = ?, record = ?, prev_hash = ?, hash = ? WHERE seq = ?',
            [from[col(t, 'time')], from[col(t, 'tool')], from[col(t, 'client_id')], from[col(t, 'record')], from[col(t, 'prev_hash')], from[col(t, 'hash')], to] as never);
        }
      });
      const v = await verify('audit');
      assert.equal(v.code, 1, v.out);
      assert.match(v.out, /TAMPERED at record #2 \(reordered\)/);
    });
  });

  describe('the anchor itself', () => {
    it('the anchor file deleted → both verifies exit 1 (anchor), naming `hearth anchor reset`; after a reset they pass', async () => {
      await tamper(() => undefined);
      fs.rmSync(path.join(h.paths.home, 'anchor', 'checkpoint'));
      for (const log of ['audit', 'egress'] as const) {
        const v = await verify(log);
        assert.equal(v.code, 1, v.out);
        assert.match(v.out, new RegExp(`${T[log].title} NOT VERIFIED \\(anchor\\): .*anchor file .*checkpoint is missing although this home has a device key.*hearth anchor reset`));
      }
      const r = await h.cli(['anchor', 'reset']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /before: audit log NOT VERIFIED \(anchor\)/);
      assert.match(r.stdout, /anchored the store as it is: signed checkpoint #\d+ .*audit log at record 4, egress ledger at entry 3/);
      for (const log of ['audit', 'egress'] as const) assert.equal((await verify(log)).code, 0);
    });

    it('a device key that others can read is refused: the daemon does not start, doctor names the fix', async () => {
      const key = path.join(h.paths.home, 'keys', 'device.key');
      fs.chmodSync(key, 0o644);
      try {
        const d = await h.cli(['daemon']);
        assert.notEqual(d.code, 0, d.stdout + d.stderr);
        assert.match(d.stderr, /refusing to use .*device\.key: it has mode 0644, so group or others can read the device key/);
        const doc = await h.cli(['doctor']);
        assert.equal(doc.code, 1, doc.stdout);
        assert.match(doc.stdout, /ERROR {3}device key: refusing to use .*device\.key/);
        assert.match(doc.stdout, /fix: chmod 600 .*device\.key/);
      } finally {
        fs.chmodSync(key, 0o600);
      }
    });
  });
});
