// The audit log's hash chain against tampering with the store itself (issue 6, "Must show" 4).
// The daemon holds the store, so each tampering happens while it is stopped, the honest way a
// user could do it: `hearth export` the stopped home to JSON, change the audit_log rows,
// `hearth import --force` it back, start the daemon, run `hearth audit verify`. Shown:
//   - control: the untouched export round trip still verifies (exit 0), so failures below come
//     from the tampering, not from the import;
//   - one byte of a record changed → exit 1, names that record as edited;
//   - a record deleted (middle, and the newest) → exit 1, names the missing record;
//   - two records swapped → exit 1, names the first swapped record.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, makeWorkspace, waitFor, type HearthHome } from '../helpers/routing-harness.js';
import { isAlive } from '../helpers/daemon.js';
import { attachToolEditor } from '../helpers/tools-harness.js';

interface Table { columns: string[]; rows: unknown[][] }

describe('hearth audit verify after the store was tampered with (daemon stopped, export → edit → import)', function () {
  this.timeout(240_000);
  let h: HearthHome;
  let snapshot: { tables: Record<string, Table> };
  const snapFile = () => path.join(h.dir, 'snapshot.json');

  before(async () => {
    h = makeHome('audit-tamper');
    const { pid } = await h.spawnDaemon();
    const ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    fs.writeFileSync(path.join(ws, 'a.txt'), 'alpha\n');
    const ed = await attachToolEditor(h, 'vscode-audit', ws);
    ed.fallback = 'once';
    // Six records: reads (allowed by the built-in policy) and approved commands.
    for (let i = 0; i < 3; i++) {
      const r = await ed.run('fs.read', { path: 'a.txt' });
      assert.equal(r.status, 'ok');
      const c = await ed.run('shell.run', { argv: ['touch', `made-${i}`] });
      assert.equal(c.status, 'ok', JSON.stringify(c));
    }
    await ed.dispose();
    const v = await h.cli(['audit', 'verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /6 record\(s\)/);
    await stop(pid);
    const ex = await h.cli(['export', snapFile()]);
    assert.equal(ex.code, 0, ex.stdout + ex.stderr);
    snapshot = JSON.parse(fs.readFileSync(snapFile(), 'utf8'));
    assert.equal(snapshot.tables.audit_log!.rows.length, 6);
  });
  after(async () => {
    await h?.dispose();
  });

  async function stop(pid: number): Promise<void> {
    const s = await h.cli(['stop']);
    assert.equal(s.code, 0, s.stderr);
    await waitFor('the daemon to exit', () => !isAlive(pid));
  }

  /** Imports a changed copy of the snapshot, starts the daemon, runs `hearth audit verify`, stops it. */
  async function verifyWith(change: (log: Table) => void): Promise<{ code: number | null; out: string }> {
    const copy = JSON.parse(JSON.stringify(snapshot)) as typeof snapshot;
    change(copy.tables.audit_log!);
    const file = path.join(h.dir, 'tampered.json');
    fs.writeFileSync(file, JSON.stringify(copy));
    const imp = await h.cli(['import', file, '--force']);
    assert.equal(imp.code, 0, imp.stdout + imp.stderr);
    const { pid } = await h.spawnDaemon();
    try {
      const v = await h.cli(['audit', 'verify']);
      return { code: v.code, out: v.stdout + v.stderr };
    } finally {
      await stop(pid);
    }
  }

  const col = (log: Table, name: string): number => {
    const i = log.columns.indexOf(name);
    assert.ok(i >= 0, `audit_log has a ${name} column (${log.columns.join(', ')})`);
    return i;
  };
  const rowOf = (log: Table, seq: number): unknown[] => {
    const r = log.rows.find((x) => x[col(log, 'seq')] === seq);
    assert.ok(r, `record ${seq} is in the export`);
    return r;
  };

  it('control: the untouched export round trip verifies', async () => {
    const v = await verifyWith(() => undefined);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /intact: 6 record\(s\)/);
  });

  it('one byte of a record changed → exit 1, names that record', async () => {
    const v = await verifyWith((log) => {
      const r = rowOf(log, 3);
      const i = col(log, 'record');
      const text = r[i] as string;
      // One byte inside the action id (valid JSON, same length): the kind of edit nobody would notice.
      const at = text.indexOf('"actionId":"') + '"actionId":"'.length;
      const ch = text[at] === 'a' ? 'b' : 'a';
      r[i] = text.slice(0, at) + ch + text.slice(at + 1);
      assert.equal(Buffer.byteLength(r[i] as string), Buffer.byteLength(text));
    });
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, /TAMPERED at record #3 \(edited\)/);
  });

  it('a record deleted → exit 1, names the missing record', async () => {
    const v = await verifyWith((log) => {
      log.rows = log.rows.filter((x) => x[col(log, 'seq')] !== 4);
    });
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, /TAMPERED at record #4 \(deleted\)/);
  });

  it('the newest record deleted → exit 1, names it (the head remembers it)', async () => {
    const v = await verifyWith((log) => {
      log.rows = log.rows.filter((x) => x[col(log, 'seq')] !== 6);
    });
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, /TAMPERED at record #6 \(deleted\)/);
  });

  it('two records swapped → exit 1, names the first of them', async () => {
    const v = await verifyWith((log) => {
      const a = rowOf(log, 2);
      const b = rowOf(log, 5);
      // Swap everything but the sequence numbers: record 2's place now holds record 5 and vice versa.
      for (const name of log.columns) {
        if (name === 'seq') continue;
        const i = col(log, name);
        [a[i], b[i]] = [b[i], a[i]];
      }
    });
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, /TAMPERED at record #2 \(reordered\)/);
  });

  it('two records swapped by sequence number too → exit 1, names the first of them', async () => {
    const v = await verifyWith((log) => {
      const a = rowOf(log, 2);
      const b = rowOf(log, 3);
      const s = col(log, 'seq');
      [a[s], b[s]] = [b[s], a[s]];
    });
    assert.equal(v.code, 1, v.out);
    assert.match(v.out, /TAMPERED at record #2 \(/);
  });
});
