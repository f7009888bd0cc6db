// The store's `clients` table is a connection history (every CLI call is one connection), so the
// daemon keeps only the newest HEARTH_CLIENT_HISTORY rows. Real daemon, real connections, the
// table read back through `hearth export`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeHome, type HearthHome } from '../helpers/daemon.js';
import type { HearthExport } from '../../core/store/index.js';

describe('daemon: connection history is bounded', function () {
  this.timeout(60_000);
  let h: HearthHome;
  after(async () => {
    await h?.dispose();
  });

  it('keeps the newest HEARTH_CLIENT_HISTORY connections and prunes older ones as clients attach', async () => {
    h = makeHome('clients-history');
    await h.spawnDaemon(20_000, { env: { HEARTH_CLIENT_HISTORY: '3' } });
    for (let i = 1; i <= 6; i++) {
      const c = await h.connect({ name: `client-${i}`, version: '1', kind: 'test' });
      c.close();
    }
    const file = path.join(h.dir, 'state.json');
    const r = await h.cli(['export', file]);
    assert.equal(r.code, 0, r.stderr);
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as HearthExport;
    const t = state.tables['clients']!;
    const names = t.rows.map((row) => row[t.columns.indexOf('name')]);
    // The export's own connection attached last.
    assert.deepEqual(names.sort(), ['client-5', 'client-6', 'hearth-cli'].sort());
  });

  it('refuses a HEARTH_CLIENT_HISTORY that is not a positive integer, naming it', async () => {
    const bad = makeHome('clients-history-bad');
    try {
      const d = await bad.spawnDaemon(20_000, { env: { HEARTH_CLIENT_HISTORY: 'lots' }, wait: false });
      const exit = await d.exited;
      assert.notEqual(exit.code, 0);
      assert.match(d.output(), /HEARTH_CLIENT_HISTORY must be an integer >= 1, got "lots"/);
    } finally {
      await bad.dispose();
    }
  });
});
