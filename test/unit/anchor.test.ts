// Tamper evidence in core/: the egress ledger's hash chain, migration 6 chaining rows already
// there, and the device-key anchor (signed checkpoints outside the store) catching what a chain
// inside the store cannot: the tail cut together with the head row, emptied tables, a chain
// rewritten with fresh hashes, a key others can read, a torn checkpoint slot.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog, type AuditRecordInput } from '../../core/audit/index.js';
import { StoreLedger, type EgressLedgerEntry } from '../../core/egress/ledger.js';
import { MIGRATIONS, Store } from '../../core/store/index.js';
import {
  AnchorError, DeviceAnchor, GENESIS_HASH, anchorPath, assessImport, chainHash, checkLog, keyPaths, ledgerRecordText, readAnchor, readDeviceKey,
} from '../../core/anchor/index.js';

function entry(i: number): EgressLedgerEntry {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), client: 'vscode', feature: 'completion', provider: 'scripted', model: 'm',
    location: 'cloud', host: '127.0.0.1:9', decision: 'deny', outcome: 'denied', grant: null, rule: 'built-in: cloud deny', bytes: 0,
    sha256: 'ab'.repeat(32), status: null, error: null, redactions: 0, sources: [],
  };
}
function record(i: number): AuditRecordInput {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), actionId: `a-${i}`, interface: { kind: 'cli', name: 'cli', clientId: 'c' },
    proposer: { model: 'none', provider: 'cli' }, tool: 'fs.read', args: { path: 'x' },
    decision: { policy: 'allow', rule: 'built-in', outcome: 'allowed', by: 'policy', grant: null, approvedBy: null },
    sandbox: null, result: { status: 'ok' }, exitCode: null, filesChanged: [],
  };
}
const UNGUARD = ['audit_log_no_update', 'audit_log_no_delete', 'egress_ledger_no_update', 'egress_ledger_no_delete'].map((t) => ({ sql: `DROP TRIGGER IF EXISTS ${t}` }));

describe('tamper evidence: egress ledger chain and the device-key anchor', () => {
  let home: string;
  let store: Store;
  let ledger: StoreLedger;
  let audit: AuditLog;
  let anchor: DeviceAnchor;

  beforeEach(async () => {
    home = fs.mkdtempSync(path.join(tmpdir(), 'hearth-anchor-'));
    store = await Store.open(path.join(home, 'store'));
    ledger = new StoreLedger(store);
    audit = new AuditLog(store);
    anchor = await DeviceAnchor.open(home, store);
    anchor.attach(ledger);
    anchor.attach(audit);
  });
  afterEach(async () => {
    await anchor.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('chains ledger entries in call order and verifies them; the ledger refuses UPDATE and DELETE', async () => {
    await Promise.all([1, 2, 3, 4].map((i) => ledger.append(entry(i))));
    const rows = store.all<Record<string, string | number | null>>('SELECT * FROM egress_ledger ORDER BY id');
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4]);
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.prev_hash, rows[i - 1]!.hash);
    assert.equal(rows[2]!.hash, chainHash(ledgerRecordText(rows[2]!), rows[2]!.prev_hash as string));
    assert.deepEqual(ledger.verify(), { ok: true, records: 4, problem: null });
    await assert.rejects(store.write([{ sql: 'DELETE FROM egress_ledger WHERE id = 4' }]), /append-only/);
    await assert.rejects(store.write([{ sql: "UPDATE egress_ledger SET host = 'x' WHERE id = 1" }]), /append-only/);
  });

  it('ledger: a deleted entry and a deleted newest entry (head row left) are named', async () => {
    for (const i of [1, 2, 3, 4]) await ledger.append(entry(i));
    await store.write([...UNGUARD, { sql: 'DELETE FROM egress_ledger WHERE id = 4' }]);
    assert.deepEqual([ledger.verify().problem?.seq, ledger.verify().problem?.kind], [4, 'deleted']);
    await store.write([{ sql: 'DELETE FROM egress_ledger WHERE id = 2' }]);
    assert.deepEqual([ledger.verify().problem?.seq, ledger.verify().problem?.kind], [2, 'deleted']);
  });

  it('ledger: an edited column is named', async () => {
    for (const i of [1, 2, 3, 4]) await ledger.append(entry(i));
    await store.write([...UNGUARD, { sql: "UPDATE egress_ledger SET bytes = 999 WHERE id = 2" }]);
    assert.deepEqual([ledger.verify().problem?.seq, ledger.verify().problem?.kind], [2, 'edited']);
    assert.match(ledger.verify().problem!.message, /egress ledger entry 2: .*\(table egress_ledger\)/);
  });

  it('migration 6 chains the ledger rows a schema-5 store already had', async () => {
    await anchor.close();
    await store.close();
    const dir = path.join(home, 'old');
    const old = await Store.open(dir, { migrations: MIGRATIONS.slice(0, 5) });
    for (const i of [1, 2, 3]) {
      await old.write([{
        sql: `INSERT INTO egress_ledger (time, client, feature, provider, model, location, host, decision, outcome, grant_kind, rule, bytes, sha256, status, error, redactions, sources)
              VALUES (?, 'nvim', 'completion', 'p', NULL, 'cloud', 'h:1', 'allow', 'sent', NULL, 'r', ?, 'x', 200, NULL, 0, '[]')`,
        params: [`2026-01-0${i}T00:00:00.000Z`, i * 10],
      }]);
    }
    await old.close();
    store = await Store.open(dir);
    const l = new StoreLedger(store);
    assert.deepEqual(l.verify(), { ok: true, records: 3, problem: null });
    await l.append(entry(4));
    assert.deepEqual(l.verify(), { ok: true, records: 4, problem: null });
    anchor = await DeviceAnchor.open(home, store); // so afterEach has one to close
  });

  it('signs a checkpoint per append; the tail cut with its head row, emptied tables and a rewritten chain are caught by the anchor only', async () => {
    for (const i of [1, 2, 3, 4, 5]) await audit.append(record(i));
    for (const i of [1, 2, 3]) await ledger.append(entry(i));
    const r = readAnchor(home, readDeviceKey(home));
    assert.equal(r.state, 'ok');
    if (r.state !== 'ok') return;
    assert.deepEqual([r.checkpoint.body.logs.audit.seq, r.checkpoint.body.logs.egress.seq], [5, 3]);
    assert.equal((await anchor.verify('audit')).ok, true);

    // Records 4 and 5 gone and the head moved back: the chain in the store agrees with itself.
    const h3 = store.get<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 3')!.hash;
    await store.write([...UNGUARD, { sql: 'DELETE FROM audit_log WHERE seq > 3' }, { sql: 'UPDATE audit_head SET seq = 3, hash = ?', params: [h3] }]);
    assert.equal(audit.verify().ok, true, 'the store alone cannot tell');
    const v = await anchor.verify('audit');
    assert.equal(v.ok, false);
    assert.equal(v.problem?.kind, 'truncated');
    assert.equal(v.problem?.seq, 4);
    assert.match(v.problem!.message, /ends at record 3 .*checkpoint #\d+ .*saw record 5.*records 4\.\.5 are missing/);

    await store.write([...UNGUARD, { sql: 'DELETE FROM egress_ledger' }, { sql: 'DELETE FROM egress_head' }]);
    assert.equal(ledger.verify().ok, true, 'an empty ledger is a valid chain');
    const e = await anchor.verify('egress');
    assert.deepEqual([e.ok, e.problem?.kind], [false, 'emptied']);
    assert.match(e.problem!.message, /egress ledger \(table egress_ledger\) is empty.*saw entry 3/);
  });

  it('a chain rewritten with recomputed hashes verifies alone but not against the checkpoint', async () => {
    for (const i of [1, 2, 3]) await ledger.append(entry(i));
    const rows = store.all<Record<string, string | number | null>>('SELECT * FROM egress_ledger ORDER BY id');
    let prev = GENESIS_HASH;
    const stmts = [...UNGUARD];
    for (const row of rows) {
      const changed = { ...row, host: 'evil.example:443' };
      const hash = chainHash(ledgerRecordText(changed), prev);
      stmts.push({ sql: 'UPDATE egress_ledger SET host = ?, prev_hash = ?, hash = ? WHERE id = ?', params: ['evil.example:443', prev, hash, row.id as number] } as never);
      prev = hash;
    }
    stmts.push({ sql: 'UPDATE egress_head SET hash = ?', params: [prev] } as never);
    await store.write(stmts);
    assert.equal(ledger.verify().ok, true);
    const v = await anchor.verify('egress');
    assert.deepEqual([v.ok, v.problem?.kind, v.problem?.seq], [false, 'rewritten', 3]);
  });

  it('a daemon restarted over a truncated store stays held: later appends sign nothing over the evidence', async () => {
    for (const i of [1, 2, 3, 4]) await audit.append(record(i));
    const h2 = store.get<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 2')!.hash;
    await store.write([...UNGUARD, { sql: 'DELETE FROM audit_log WHERE seq > 2' }, { sql: 'UPDATE audit_head SET seq = 2, hash = ?', params: [h2] }]);
    await anchor.close();
    anchor = await DeviceAnchor.open(home, store);
    const a2 = new AuditLog(store);
    anchor.attach(a2);
    assert.ok(anchor.held.audit, 'held');
    for (const i of [3, 4, 5]) await a2.append(record(i + 100)); // new records 3..5, not the old ones
    const v = await anchor.verify('audit');
    assert.deepEqual([v.ok, v.problem?.kind, v.problem?.seq], [false, 'rewritten', 4]);
  });

  it('refuses a device key that group or others can read, and a deleted anchor file is reported', async () => {
    await audit.append(record(1));
    const k = keyPaths(home).key;
    fs.chmodSync(k, 0o640);
    assert.throws(() => readDeviceKey(home), (e: unknown) => e instanceof AnchorError && /mode 0640/.test((e as Error).message) && /chmod 600/.test((e as Error).message));
    fs.chmodSync(k, 0o600);
    fs.rmSync(anchorPath(home));
    const v = checkLog(audit, readAnchor(home, readDeviceKey(home)), readDeviceKey(home));
    assert.deepEqual([v.ok, v.problem?.kind], [false, 'anchor']);
    assert.match(v.problem!.message, /anchor file .* is missing .*hearth anchor reset/);
  });

  it('a torn write of the newest slot falls back to the previous checkpoint; a forged slot is refused', async () => {
    for (const i of [1, 2, 3]) await audit.append(record(i));
    const file = anchorPath(home);
    const before = readAnchor(home, readDeviceKey(home));
    assert.equal(before.state, 'ok');
    if (before.state !== 'ok') return;
    const c = before.checkpoint.body.counter;
    const buf = fs.readFileSync(file);
    // Which slot holds checkpoint c (the running daemon's hot slot), and what the other one holds.
    const counterAt = (i: number): number => {
      const b = buf.subarray(i * 4096, i * 4096 + 4096);
      if (b.subarray(0, 8).toString() !== 'HEARTHA1') return -1;
      return (JSON.parse(b.subarray(16, 16 + b.readUInt32LE(8)).toString()) as { body: { counter: number } }).body.counter;
    };
    const newest = counterAt(0) === c ? 0 : 1;
    assert.equal(counterAt(newest), c);
    const older = counterAt(1 - newest);
    assert.ok(older >= 0 && older < c, `the other slot holds an older checkpoint (${older} < ${c})`);
    const torn = Buffer.from(buf);
    torn[newest * 4096 + 40] = torn[newest * 4096 + 40]! ^ 0xff;
    fs.writeFileSync(file, torn);
    const after = readAnchor(home, readDeviceKey(home));
    assert.equal(after.state === 'ok' && after.checkpoint.body.counter, older);
    // A valid CRC over a changed body: the signature catches it.
    const slot = buf.subarray(newest * 4096, newest * 4096 + 4096);
    const len = slot.readUInt32LE(8);
    const ck = JSON.parse(slot.subarray(16, 16 + len).toString());
    ck.body.logs.audit.seq = 99;
    const json = Buffer.from(JSON.stringify(ck));
    const { crc32 } = await import('node:zlib');
    const forged = Buffer.alloc(4096);
    slot.copy(forged, 0, 0, 8);
    forged.writeUInt32LE(json.length, 8);
    forged.writeUInt32LE(crc32(json), 12);
    json.copy(forged, 16);
    const out = Buffer.from(buf);
    forged.copy(out, newest * 4096);
    fs.writeFileSync(file, out);
    const r = readAnchor(home, readDeviceKey(home));
    assert.equal(r.state, 'invalid');
    assert.match(r.state === 'invalid' ? r.reason : '', /signature does not verify/);
  });

  it("an export of another device's history into a home with anchored records is 'diverged'; into an empty home it is adopted", async () => {
    for (const i of [1, 2]) await audit.append(record(i));
    const other = fs.mkdtempSync(path.join(tmpdir(), 'hearth-anchor-other-'));
    try {
      const os2 = await Store.open(path.join(other, 'store'));
      const a2 = await DeviceAnchor.open(other, os2);
      const l2 = new AuditLog(os2);
      a2.attach(l2);
      for (const i of [1, 2, 3]) await l2.append(record(i + 50));
      const exp = { ...os2.exportState(), anchor: await a2.checkpoint() };
      await a2.close();
      await os2.close();
      const into = await assessImport(home, exp, 'other.json');
      assert.equal(into.verdict, 'diverged');
      assert.match(into.problems[0]!.message, /the export's audit log \(table audit_log\) record 2 has hash .* was rewritten/);
      assert.match(into.notes.join('\n'), /other\.json was signed by device [0-9a-f]{16}, not by this home's key [0-9a-f]{16}$/m);
      const fresh = fs.mkdtempSync(path.join(tmpdir(), 'hearth-anchor-fresh-'));
      try {
        const adopt = await assessImport(fresh, exp, 'other.json');
        assert.deepEqual([adopt.verdict, adopt.problems], ['ok', []]);
        assert.match(adopt.notes.join('\n'), /adopts the imported logs/);
      } finally {
        fs.rmSync(fresh, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
