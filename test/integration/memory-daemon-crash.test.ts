// Shared memory (issue 7) across SIGKILLs of the real daemon: eight clients pipeline
// `hearth/memory/add` (16 in flight each) until each has 1,000 acknowledged items; the daemon is
// killed -9 several times while writes are in flight and restarted. Every acknowledged item must be
// present exactly once afterwards, with the seq its acknowledgement named, in one strictly
// increasing order that keeps each client's own order. Items whose reply the kill cut may or may
// not be there (they were never acknowledged), but nothing else may appear.
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeHome, sleep, waitFor, type HearthHome } from '../helpers/daemon.js';
import { MemoryAdd, MemoryList } from '../../server/protocol.js';
import { checkAcked, checkOrder, exportItems, ok, rowsOf, storeDump, MemoryWriterClient, type Ack } from '../helpers/memory-harness.js';

const KILLS = 4;
const PER_CLIENT = 1000;
const CLIENTS = 8;
const WINDOW = 16;

/** Waits until the writers of this run have `threshold` acknowledgements; fails at once if they all stopped. */
async function acknowledged(writers: MemoryWriterClient[], threshold: number, done: Promise<unknown>, run: number): Promise<void> {
  const stopped = done.then(() => {
    throw new Error(`run ${run}: the writers stopped before ${threshold} acknowledgements: ${writers.map((w) => String(w.error)).join('; ')}`);
  });
  stopped.catch(() => undefined); // once the threshold is reached, the writers stopping (the kill) is expected
  await Promise.race([waitFor(`${threshold} acknowledgements in run ${run}`, () => writers.reduce((n, w) => n + w.acks.length, 0) >= threshold, 60_000, 2), stopped]);
}

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
        await acknowledged(writers, threshold, done, run);
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

describe('memory through the daemon: writes resent after a SIGKILL carry a request key and are stored once', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('memresend')));
  after(async () => h.dispose());

  // What `hearth lsp --stdio` does when the daemon dies: it reconnects and resends every request
  // not yet answered. An add that was durable before the kill but whose reply was lost would be
  // stored twice; with a request key the resend gets the stored item back instead.
  it(`all ${CLIENTS * PER_CLIENT} items present exactly once across ${KILLS - 1} kills, every unanswered add resent`, async () => {
    const ws = path.join(h.dir, 'ws');
    const names = Array.from({ length: CLIENTS }, (_, i) => `resend-writer-${i}`);
    const text = (name: string) => (n: number): string => `${name} item ${n} mark${name.replace(/-/g, '')}x${n}`;
    const key = (name: string) => (n: number): string => `${name}/${n}`;
    const acks = new Map<string, Map<number, Ack>>(names.map((n) => [n, new Map()]));
    const sent = new Map<string, number>(names.map((n) => [n, 0]));
    const resent = new Map<string, Set<number>>(names.map((n) => [n, new Set()]));
    let recovered = 0;
    let answeredFromStore = 0;

    for (let run = 0; run < KILLS; run++) {
      const last = run === KILLS - 1;
      const d = await h.spawnDaemon();
      // The newest seq stored before this run: a resent add answered with a seq at or below it was
      // durable before the kill, and is answered from the store instead of being stored again.
      const probe = await h.connect({ name: 'probe', version: '0', kind: 'test' });
      const newest = ((await probe.connection.sendRequest(MemoryList.method, { allWorkspaces: true, limit: 1 })) as { items: Ack[] }).items[0]?.seq ?? 0;
      probe.close();
      const writers = await Promise.all(names.map(async (name) => new MemoryWriterClient(await h.connect({ name, version: String(run), kind: 'editor' }), name, ws)));
      const done = Promise.all(writers.map((w) => {
        const from = sent.get(w.name)!;
        const unanswered = Array.from({ length: from }, (_, n) => n).filter((n) => !acks.get(w.name)!.has(n));
        for (const n of unanswered) resent.get(w.name)!.add(n);
        return w.write(text(w.name), from, last ? PER_CLIENT - from : PER_CLIENT - from - 50, WINDOW, { key: key(w.name), resend: unanswered });
      }));
      if (!last) {
        const threshold = 150 + Math.floor(Math.random() * 900);
        await acknowledged(writers, threshold, done, run);
        await sleep(Math.random() * 15);
        process.kill(d.pid, 'SIGKILL');
        assert.equal((await d.exited).signal, 'SIGKILL', d.output());
      }
      await done;
      for (const w of writers) {
        for (const a of w.acks) {
          const earlier = acks.get(w.name)!.get(a.n);
          assert.ok(!earlier, `${w.name}'s item ${a.n} was acknowledged twice`);
          acks.get(w.name)!.set(a.n, a);
          if (a.seq <= newest) answeredFromStore++;
        }
        sent.set(w.name, w.next);
        if (last) assert.equal(w.error, undefined, `${w.name} failed with no kill: ${String(w.error)}`);
        w.client.close();
      }
    }

    const reader = await h.connect({ name: 'reader', version: '0', kind: 'test' });
    const items = await exportItems(reader);
    const byId = checkOrder(items);
    const byText = new Map<string, number>();
    for (const it of items) byText.set(it.text, (byText.get(it.text) ?? 0) + 1);
    for (const name of names) {
      const mine = acks.get(name)!;
      assert.equal(mine.size, PER_CLIENT, `${name} has ${mine.size} acknowledged items`);
      // Items never resent keep the client's order; resent ones are checked for presence only.
      checkAcked(byId, name, [...mine.values()].filter((a) => !resent.get(name)!.has(a.n)), text(name));
      for (const n of resent.get(name)!) {
        const a = mine.get(n)!;
        assert.equal(byId.get(a.id)?.text, text(name)(n), `${name}'s resent item ${n} is not stored under the id its reply named`);
        assert.equal(byId.get(a.id)!.seq, a.seq);
      }
      for (let n = 0; n < PER_CLIENT; n++) {
        assert.equal(byText.get(text(name)(n)), 1, `${name}'s item ${n} is stored ${byText.get(text(name)(n)) ?? 0} times`);
      }
      recovered += resent.get(name)!.size;
    }
    assert.equal(items.length, CLIENTS * PER_CLIENT, 'nothing but the 8,000 items');
    assert.ok(recovered > 0, 'no write was resent: the kills cut nothing');
    assert.ok(answeredFromStore > 0, `none of the ${recovered} resent writes had been durable before its kill: the test proved nothing`);
  });
});

// The bridges give each hearth/memory/add a request key, so their resends after a kill are answered
// from the store instead of being stored a second time.
describe('memory through LSP bridges: SIGKILL while eight editors write', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('membridge')));
  after(async () => h.dispose());

  it('every item an editor sent is stored exactly once, though the bridges resend after each kill', async () => {
    const ws = path.join(h.dir, 'ws');
    const editors = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const l = h.lsp();
      await l.initialize(`editor-${i}`);
      return l;
    }));
    let acked = 0;
    const run = Promise.all(editors.map(async (l, i) => {
      let n = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (n < 400) {
          const k = n++;
          await l.connection.sendRequest(MemoryAdd.method, { text: `editor-${i} item ${k}`, workspace: ws });
          acked++;
        }
      }));
    }));
    for (let kill = 0; kill < 3; kill++) {
      const target = acked + 300;
      await waitFor('acknowledgements', () => acked >= target, 60_000, 2);
      const pids = h.daemonPids();
      assert.ok(pids.length > 0);
      for (const p of pids) process.kill(p, 'SIGKILL');
      await sleep(100);
    }
    await run; // the bridges restart the daemon and resend; every request is answered
    const items = await exportItems(await h.connect({ name: 'reader', version: '0', kind: 'test' }));
    checkOrder(items);
    const counts = new Map<string, number>();
    for (const it of items) counts.set(it.text, (counts.get(it.text) ?? 0) + 1);
    for (let i = 0; i < 8; i++) for (let k = 0; k < 400; k++) assert.equal(counts.get(`editor-${i} item ${k}`), 1, `editor-${i} item ${k} is stored ${counts.get(`editor-${i} item ${k}`) ?? 0} times`);
    assert.equal(items.length, 3200);
  });
});
