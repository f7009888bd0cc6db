// SIGKILL the real daemon again and again while clients connect. Each hello writes a `clients` row
// and the daemon answers the hello only after that write is durable, so every client that got a
// hello reply must be in the store after any number of crashes (read back with `hearth export`).
// The store's own 50-kill test (store-crash.test.ts) covers the journal in isolation; this one
// covers the daemon's use of it. The connection history is made large enough to keep every row
// (the daemon prunes it to HEARTH_CLIENT_HISTORY, default 1000; daemon-clients.test.ts tests that).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectClient } from '../../server/client.js';
import { makeHome, RawConn, sleep, type HearthHome } from '../helpers/daemon.js';

const KILLS = 24;
const KEEP_ALL = { HEARTH_CLIENT_HISTORY: '1000000' };

describe('daemon crash test (SIGKILL while clients say hello)', function () {
  this.timeout(240_000);
  let h: HearthHome;
  before(() => {
    h = makeHome('crash');
  });
  after(async () => {
    await h.dispose();
  });

  it(`keeps every acknowledged client across ${KILLS} kills`, async () => {
    const acked = new Set<string>();
    let refusedOrCut = 0;
    let runsWithAcks = 0;
    for (let run = 0; run < KILLS; run++) {
      const early = run % 6 === 5; // these kills land while the daemon opens or replays the store
      const d = await h.spawnDaemon(30_000, { wait: !early, env: KEEP_ALL });
      if (early) {
        await sleep(50 + Math.random() * 400);
        process.kill(d.pid, 'SIGKILL');
        await d.exited;
        continue;
      }
      const token = h.token();
      let stop = false;
      let n = 0;
      const before = acked.size;
      // Six concurrent client loops: raw connections and vscode-jsonrpc (the CLI's client code).
      const loops = Array.from({ length: 6 }, async (_, loop) => {
        while (!stop) {
          const name = `crash-${run}-${loop}-${n++}`;
          try {
            if (loop % 2 === 0) {
              const c = await RawConn.open(h.paths.socket);
              try {
                const r = await c.hello(token, { name, version: String(run), kind: 'test' });
                if (r.result) acked.add(name);
              } finally {
                c.destroy();
              }
            } else {
              const c = await connectClient({ name, version: String(run), kind: 'cli' }, { paths: h.paths });
              acked.add(name); // connectClient resolves only on a successful hello reply
              c.close();
            }
          } catch {
            refusedOrCut++; // the kill cut this connection before its hello was answered
            await sleep(5);
          }
        }
      });
      await sleep(30 + Math.random() * 300);
      process.kill(d.pid, 'SIGKILL');
      const exit = await d.exited;
      assert.equal(exit.signal, 'SIGKILL', `run ${run}: the daemon ended by itself:\n${d.output()}`);
      stop = true;
      await Promise.all(loops);
      if (acked.size > before) runsWithAcks++;
    }
    assert.ok(runsWithAcks >= KILLS / 2, `only ${runsWithAcks} runs acknowledged a hello before the kill`);

    // Read the store back without a daemon: the CLI opens it directly (and replays the journal).
    const file = path.join(h.dir, 'after-crashes.json');
    const ex = await h.cli(['export', file]);
    assert.equal(ex.code, 0, ex.stderr);
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { tables: { clients: { columns: string[]; rows: unknown[][] } } };
    const col = data.tables.clients.columns.indexOf('name');
    const stored = new Set(data.tables.clients.rows.map((r) => r[col] as string));
    const lost = [...acked].filter((name) => !stored.has(name));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged clients were lost`);
    process.stderr.write(`      ${acked.size} acknowledged hellos over ${KILLS} kills, all in the store (${refusedOrCut} connections cut by a kill)\n`);

    // And a daemon starts cleanly on the crashed store.
    const d = await h.spawnDaemon(20_000, { env: KEEP_ALL });
    const s = await h.status();
    assert.equal(s.pid, d.pid);
  });
});
