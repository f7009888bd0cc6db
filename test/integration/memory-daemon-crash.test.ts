// Shared memory (issue 7) across SIGKILLs of the real daemon: eight clients pipeline
// `hearth/memory/add` (16 in flight each) until each has 1,000 acknowledged items; the daemon is
// killed -9 several times while writes are in flight and restarted. Every acknowledged item must be
// present exactly once afterwards, with the seq its acknowledgement named, in one strictly
// increasing order that keeps each client's own order. Items whose reply the kill cut may or may
// not be there (they were never acknowledged), but nothing else may appear.
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeHome, sleep, waitFor, type HearthHome } from '../helpers/daemon.js';
import { checkAcked, checkOrder, exportItems, ok, rowsOf, storeDump, MemoryWriterClient, type Ack } from '../helpers/memory-harness.js';

const KILLS = 4;
const PER_CLIENT = 1000;
const CLIENTS = 8;
const WINDOW = 16;

describe('memory through the daemon: SIGKILL while eight clients write', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('memcrash')));
  after(async () => h.dispose());

  it(`keeps every acknowledged item exactly once across ${KILLS} kills`, async () => {
    const ws = path.join(h.dir, 'ws');
    const names = Array.from({ length: CLIENTS }, (_, i) => `crash-writer-${i}`);
    const text = (name: string) => (n: number): string => `${name} item ${n} mark${name.replace(/-/g, '')}x${n}`;
    const acks = new Map<string, Ack[]>(names.map((n) => [n, []]));
    const sent = new Map<string, number>(names.map((n) => [n, 0]));

    for (let run = 0; run <= KILLS; run++) {
      const last = run === KILLS;
      const d = await h.spawnDaemon();
      const writers = await Promise.all(names.map(async (name) => new MemoryWriterClient(await h.connect({ name, version: String(run), kind: 'editor' }), name, ws)));
      const done = Promise.all(writers.map((w) => w.write(text(w.name), sent.get(w.name)!, last ? PER_CLIENT - acks.get(w.name)!.length : 1_000_000, WINDOW)));
      if (!last) {
        // Kill once a random number of this run's writes were acknowledged, with writes in flight.
        const threshold = 200 + Math.floor(Math.random() * 1200);
        await waitFor(`${threshold} acknowledgements in run ${run}`, () => writers.reduce((n, w) => n + w.acks.length, 0) >= threshold, 60_000, 2);
        await sleep(Math.random() * 15);
        process.kill(d.pid, 'SIGKILL');
        const exit = await d.exited;
        assert.equal(exit.signal, 'SIGKILL', `run ${run}: the daemon ended by itself:\n${d.output()}`);
      }
      await done;
      for (const w of writers) {
        acks.get(w.name)!.push(...w.acks);
        sent.set(w.name, w.next);
        if (last) assert.equal(w.error, undefined, `${w.name} failed with no kill: ${String(w.error)}`);
      }
      if (!last) {
        const inFlight = writers.reduce((n, w) => n + (w.error !== undefined ? 1 : 0), 0);
        assert.ok(inFlight > 0, `run ${run}: no write was in flight when the daemon was killed`);
      }
      for (const w of writers) w.client.close();
    }
    for (const name of names) assert.equal(acks.get(name)!.length, PER_CLIENT, `${name} has ${acks.get(name)!.length} acknowledged items`);

    const reader = await h.connect({ name: 'reader', version: '0', kind: 'test' });
    const items = await exportItems(reader);
    const byId = checkOrder(items);
    for (const name of names) checkAcked(byId, name, acks.get(name)!, text(name));
    // Whatever else is there is an item a writer sent whose reply the kill cut: nothing foreign.
    const ackedIds = new Set([...acks.values()].flat().map((a) => a.id));
    const unacked = items.filter((it) => !ackedIds.has(it.id));
    for (const it of unacked) {
      const m = /^(crash-writer-\d) item (\d+) /.exec(it.text);
      assert.ok(m && it.client.name === m[1], `unexpected item ${it.id}: ${it.text} by ${it.client.name}`);
      assert.ok(Number(m[2]) < sent.get(m[1]!)!, `item ${it.text} was never sent`);
      assert.ok(!acks.get(m[1]!)!.some((a) => a.n === Number(m[2])), `${it.text} is stored twice`);
    }
    assert.ok(unacked.length <= KILLS * CLIENTS * WINDOW, `${unacked.length} unacknowledged items: more than could have been in flight`);
    assert.equal(items.length, CLIENTS * PER_CLIENT + unacked.length);

    // The store read back from its files (no daemon): the full-text index covers exactly the items.
    await ok(h, ['stop']);
    const { dump } = await storeDump(h, 'after-kills');
    assert.equal(rowsOf(dump, 'memory_items').length, items.length);
    const fts = rowsOf(dump, 'memory_fts');
    assert.equal(fts.length, items.length, 'the full-text index has a row per item');
  });
});
