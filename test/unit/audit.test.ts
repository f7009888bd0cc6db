import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, GENESIS_HASH, canonicalJson, recordHash, type AuditRecordInput } from '../../core/audit/index.js';
import { Store } from '../../core/store/index.js';

function input(i: number): AuditRecordInput {
  return {
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    actionId: `action-${i}`,
    interface: { kind: 'editor', name: 'nvim', clientId: `client-${i % 2}` },
    proposer: { model: 'qwen2.5-coder', provider: 'ollama' },
    tool: 'shell.run',
    args: { argv: ['echo', `hello ${i}`] },
    decision: { policy: 'ask', rule: 'built-in default', outcome: 'allowed', by: 'user', grant: 'once', approvedBy: 'client-0' },
    sandbox: { kind: 'bwrap', network: false },
    result: { status: 'ok', stdoutHead: `hello ${i}\n` },
    exitCode: 0,
    filesChanged: [],
  };
}

/** Direct SQL against the store, as an attacker with access to it would (triggers dropped first). */
async function tamper(store: Store, ...sql: { sql: string; params?: (string | number)[] }[]) {
  await store.write([{ sql: 'DROP TRIGGER IF EXISTS audit_log_no_update' }, { sql: 'DROP TRIGGER IF EXISTS audit_log_no_delete' }, ...sql]);
}

describe('audit log (hash chain)', () => {
  let dir: string;
  let store: Store;
  let log: AuditLog;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-audit-'));
    store = await Store.open(dir);
    log = new AuditLog(store);
    await Promise.all([1, 2, 3, 4, 5].map((i) => log.append(input(i)))); // concurrent appends chain in call order
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('chains records: hash = sha256(canonical record + prev_hash), first prev_hash is zeros', () => {
    const rows = store.all<{ seq: number; record: string; prev_hash: string; hash: string }>('SELECT seq, record, prev_hash, hash FROM audit_log ORDER BY seq');
    assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      assert.equal(r.record, canonicalJson(JSON.parse(r.record)));
      assert.equal(r.hash, recordHash(r.record, r.prev_hash));
      if (i > 0) assert.equal(r.prev_hash, rows[i - 1]!.hash);
      assert.equal((JSON.parse(r.record) as { seq: number }).seq, r.seq);
    }
    assert.deepEqual(log.verify(), { ok: true, records: 5, problem: null });
  });

  it('survives a reopen and keeps chaining', async () => {
    await store.close();
    store = await Store.open(dir);
    log = new AuditLog(store);
    await log.append(input(6));
    assert.deepEqual(log.verify(), { ok: true, records: 6, problem: null });
  });

  it('is append-only for ordinary writes', async () => {
    await assert.rejects(store.write([{ sql: "UPDATE audit_log SET tool = 'x' WHERE seq = 1" }]), /append-only/);
    await assert.rejects(store.write([{ sql: 'DELETE FROM audit_log WHERE seq = 1' }]), /append-only/);
  });

  it('names the record when one byte is changed', async () => {
    const before = store.all<{ record: string }>('SELECT record FROM audit_log WHERE seq = 3')[0]!.record;
    const at = before.indexOf('hello 3') + 'hello '.length;
    const edited = before.slice(0, at) + '8' + before.slice(at + 1); // one byte: "3" → "8"
    assert.equal(Buffer.byteLength(edited), Buffer.byteLength(before));
    await tamper(store, { sql: 'UPDATE audit_log SET record = ? WHERE seq = 3', params: [edited] });
    const v = log.verify();
    assert.equal(v.ok, false);
    assert.equal(v.problem?.seq, 3);
    assert.equal(v.problem?.kind, 'edited');
    assert.match(v.problem!.message, /audit record 3: .*edited/);
  });

  it('names the record when one byte breaks the JSON', async () => {
    await tamper(store, { sql: "UPDATE audit_log SET record = substr(record, 1, 10) || 'X' || substr(record, 12) WHERE seq = 2" });
    assert.equal(log.verify().problem?.seq, 2);
  });

  it('names the missing record when one is deleted', async () => {
    await tamper(store, { sql: 'DELETE FROM audit_log WHERE seq = 3' });
    const v = log.verify();
    assert.equal(v.problem?.seq, 3);
    assert.equal(v.problem?.kind, 'deleted');
    assert.match(v.problem!.message, /jumps from record 2 to 4/);
  });

  it('detects deleting the newest record (the head remembers it)', async () => {
    await tamper(store, { sql: 'DELETE FROM audit_log WHERE seq = 5' });
    const v = log.verify();
    assert.equal(v.problem?.seq, 5);
    assert.equal(v.problem?.kind, 'deleted');
  });

  it('detects deleting a record and renumbering the rest', async () => {
    await tamper(store, { sql: 'DELETE FROM audit_log WHERE seq = 2' }, { sql: 'UPDATE audit_log SET seq = seq - 1 WHERE seq > 2' });
    const v = log.verify();
    assert.equal(v.ok, false);
    assert.equal(v.problem?.seq, 2);
  });

  it('names the first of two swapped records', async () => {
    // Swap every column but seq between records 2 and 3.
    await tamper(
      store,
      { sql: 'UPDATE audit_log SET seq = -2 WHERE seq = 2' },
      { sql: 'UPDATE audit_log SET seq = 2 WHERE seq = 3' },
      { sql: 'UPDATE audit_log SET seq = 3 WHERE seq = -2' },
    );
    const v = log.verify();
    assert.equal(v.problem?.seq, 2);
    assert.equal(v.problem?.kind, 'reordered');
    assert.match(v.problem!.message, /holds the content of record 3/);
  });

  it('detects swapping only the record texts (hashes left in place)', async () => {
    const r2 = store.all<{ record: string }>('SELECT record FROM audit_log WHERE seq = 2')[0]!.record;
    const r4 = store.all<{ record: string }>('SELECT record FROM audit_log WHERE seq = 4')[0]!.record;
    await tamper(store, { sql: 'UPDATE audit_log SET record = ? WHERE seq = 2', params: [r4] }, { sql: 'UPDATE audit_log SET record = ? WHERE seq = 4', params: [r2] });
    assert.equal(log.verify().problem?.seq, 2);
  });

  it('detects a change to an indexed column', async () => {
    await tamper(store, { sql: "UPDATE audit_log SET tool = 'fs.read' WHERE seq = 4" });
    assert.equal(log.verify().problem?.seq, 4);
  });

  it('exports JSON lines that carry the chain', () => {
    const lines = log.export().trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string; prevHash: string; tool: string });
    assert.equal(lines.length, 5);
    assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3, 4, 5]);
    for (let i = 1; i < lines.length; i++) assert.equal(lines[i]!.prevHash, lines[i - 1]!.hash);
    const { hash, prevHash, ...record } = lines[2]!;
    assert.equal(recordHash(canonicalJson(record), prevHash), hash, 'each exported line can be re-verified on its own');
  });
});
