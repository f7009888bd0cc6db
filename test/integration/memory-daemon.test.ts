// Shared memory (issue 7) through the real daemon, real sockets and temp homes:
//   - eight clients writing 1,000 items each at once: all 8,000 present exactly once, in one
//     order (strictly increasing seq, each client's own order kept), the same for every reader;
//   - forget: gone from full-text, vector and hybrid search (tiny-bert embedding model), from a
//     `hearth export` taken afterwards, and, after `hearth stop`, from every file of the store;
//   - pause: a paused client's writes (hearth/memory/add and the memory.write tool) are refused
//     with -32011 naming `hearth memory resume NAME`, others go on, `hearth memory list` names the
//     writers, resume works;
//   - a selection remembered by one editor (bridge) is a `memory` piece in another editor's route
//     plan, attributed to the first.
// The crash half (SIGKILL mid-way) is in memory-daemon-crash.test.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HearthErrorCodes, MemoryAdd, MemoryDidChange } from '../../server/protocol.js';
import { makeHome, waitFor, type HearthHome } from '../helpers/daemon.js';
import { attachEditor } from '../helpers/routing-harness.js';
import {
  checkAcked, checkOrder, exportItems, filesContaining, ok, okJson, rowsOf, rpcError, storeDump, MemoryWriterClient, type Item,
} from '../helpers/memory-harness.js';

const TINY_BERT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'models', 'tiny-bert');

describe('memory through the daemon: eight clients writing at once', function () {
  this.timeout(180_000);
  let h: HearthHome;
  before(() => (h = makeHome('mem8')));
  after(async () => h.dispose());

  it('keeps all 8,000 items exactly once, in one order that keeps each client\'s own', async () => {
    await h.spawnDaemon();
    const ws = path.join(h.dir, 'ws');
    const names = Array.from({ length: 8 }, (_, i) => `writer-${i}`);
    const text = (name: string) => (n: number): string => `${name} item ${n} mark${name.replace('-', '')}x${n}`;
    const writers = await Promise.all(names.map(async (name, i) =>
      new MemoryWriterClient(await h.connect({ name, version: `1.${i}`, kind: i % 2 ? 'editor' : 'test' }), name, ws)));
    await Promise.all(writers.map((w) => w.write(text(w.name), 0, 1000, 24)));
    for (const w of writers) {
      assert.equal(w.error, undefined, `${w.name} failed: ${String(w.error)}`);
      assert.equal(w.acks.length, 1000, `${w.name} got ${w.acks.length} acknowledgements`);
    }

    // Two readers on their own connections see the same items in the same order.
    const [r1, r2] = await Promise.all([h.connect({ name: 'reader-1', version: '0', kind: 'test' }), h.connect({ name: 'reader-2', version: '0', kind: 'test' })]);
    const items = await exportItems(r1);
    assert.deepEqual((await exportItems(r2)).map((i) => [i.id, i.seq]), items.map((i) => [i.id, i.seq]));
    assert.equal(items.length, 8000);
    const byId = checkOrder(items);
    for (const w of writers) checkAcked(byId, w.name, w.acks, text(w.name));
    // The writes really interleaved (one order across clients, not eight runs one after another).
    const switches = items.reduce((n, it, i) => n + (i > 0 && items[i - 1]!.client.name !== it.client.name ? 1 : 0), 0);
    assert.ok(switches > 100, `only ${switches} changes of writer along the order: the clients did not write concurrently`);
    for (const it of items) assert.equal(it.workspace, ws);

    // `hearth memory list` (newest first, 1,000 at most per call) agrees with the export's tail.
    const listed = await okJson<Item[]>(h, ['memory', 'list', '--all', '--json', '--limit', '1000']);
    assert.deepEqual(listed.map((i) => i.id), items.slice(-1000).reverse().map((i) => i.id));
    // So does the store itself (`hearth export`), including the full-text index.
    const { dump } = await storeDump(h, 'after-8000');
    const rows = rowsOf(dump, 'memory_items');
    assert.deepEqual(rows.map((r) => [r.id, r.seq]).sort((a, b) => (a[1] as number) - (b[1] as number)), items.map((i) => [i.id, i.seq]));
    const search = await okJson<{ hits: Array<{ item: Item }> }>(h, ['memory', 'search', 'markwriter5x777', '--all', '--json', '--mode', 'full-text']);
    assert.deepEqual(search.hits.map((x) => x.item.text), ['writer-5 item 777 markwriter5x777']);
  });
});

describe('memory through the daemon: forget', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('memforget')));
  after(async () => h.dispose());

  type Search = { hits: Array<{ item: Item; score: number }>; mode: string; note?: string; embedding: { done: number; total: number; error?: string } | null };
  const search = (ws: string, query: string, mode: string): Promise<Search> => okJson<Search>(h, ['memory', 'search', query, '--workspace', ws, '--mode', mode, '--json']);

  it('removes the item from full-text, vector and hybrid search, from a later export and from the store files', async () => {
    await ok(h, ['models', 'add', TINY_BERT, '--purpose', 'embedding']);
    const d = await h.spawnDaemon();
    const ws = path.join(h.dir, 'ws');
    fs.mkdirSync(ws);
    // The marker starts with a letter no other word here starts with, so the full-text index keeps
    // it whole (FTS4 prefix-compresses neighbouring terms) and a byte search can find it.
    const secret = 'the quokkaborealis deploy key rotates every friday at noon';
    const others = ['deploys go out blue green on friday mornings', 'the invoice service rounds half to even', 'noon is lunch for the build team'];
    const remember = async (text: string): Promise<string> => {
      const out = await ok(h, ['memory', 'add', '--workspace', ws, '--kind', 'decision', text]);
      const m = /^remembered ([0-9a-f]+)$/m.exec(out);
      assert.ok(m, out);
      return m[1]!;
    };
    const ids = [];
    for (const t of others.slice(0, 2)) ids.push(await remember(t));
    const id = await remember(secret);
    ids.push(await remember(others[2]!));

    // Wait for the background embeddings (the tiny-bert model) of all four items.
    const vec = await waitFor('the four items to be embedded', async () => {
      const r = await search(ws, 'quokkaborealis deploy key', 'vector');
      return r.mode === 'vector' && r.embedding && r.embedding.done === r.embedding.total && r.hits.length === 4 ? r : undefined;
    }, 60_000, 200);
    assert.equal(vec.embedding!.error, undefined);
    assert.ok(vec.hits.some((x) => x.item.id === id));
    // Before forgetting, every path finds it, and its bytes are on disk.
    assert.deepEqual((await search(ws, 'quokkaborealis', 'full-text')).hits.map((x) => x.item.id), [id]);
    const hybrid = await search(ws, 'quokkaborealis friday', 'hybrid');
    assert.equal(hybrid.mode, 'hybrid', hybrid.note);
    assert.equal(hybrid.hits[0]?.item.id, id);
    const before = await storeDump(h, 'before-forget');
    const seq = rowsOf(before.dump, 'memory_items').find((r) => r.id === id)?.seq;
    assert.ok(typeof seq === 'number');
    assert.equal(rowsOf(before.dump, 'memory_fts').filter((r) => r.text === secret).length, 1);
    const vecRow = rowsOf(before.dump, 'memory_vectors').find((r) => r.seq === seq);
    assert.ok(vecRow, 'the item has a stored vector before it is forgotten');
    const vecBytes = Buffer.from((vecRow.vec as { $base64: string }).$base64, 'base64');
    assert.ok(vecBytes.length >= 64);
    assert.ok(before.text.includes('quokkaborealis'));
    // A stop snapshots the store: from then on the item is in the snapshot's database pages (text,
    // full-text index, raw vector bytes), not only in the journal, which the forget must clean too.
    await ok(h, ['stop']);
    await d.exited;
    const snapshotted = filesContaining(h.paths.store, Buffer.from('quokkaborealis'));
    assert.notDeepEqual(snapshotted, [], 'the grep finds the text before it is forgotten');
    assert.notDeepEqual(filesContaining(h.paths.store, vecBytes), [], 'the grep finds the raw vector before it is forgotten');
    const d2 = await h.spawnDaemon();
    assert.equal((await search(ws, 'quokkaborealis deploy key', 'vector')).hits.length, 4, 'the vectors are loaded again');

    const out = await ok(h, ['memory', 'forget', id]);
    assert.match(out, new RegExp(`forgot ${id}`));

    // Gone from every kind of search; the others are still found.
    assert.deepEqual((await search(ws, 'quokkaborealis', 'full-text')).hits, []);
    const v = await search(ws, 'quokkaborealis deploy key', 'vector');
    assert.equal(v.mode, 'vector');
    assert.deepEqual(v.hits.map((x) => x.item.id).sort(), ids.slice().sort());
    const hy = await search(ws, 'quokkaborealis friday', 'hybrid');
    assert.equal(hy.mode, 'hybrid');
    assert.ok(hy.hits.length > 0 && !hy.hits.some((x) => x.item.id === id), JSON.stringify(hy.hits.map((x) => x.item.text)));
    assert.ok(!(await ok(h, ['memory', 'search', 'quokkaborealis', '--workspace', ws])).includes('quokkaborealis'));
    const show = await h.cli(['memory', 'show', id]);
    assert.notEqual(show.code, 0);
    assert.match(show.stderr, new RegExp(`no memory item ${id}`));
    assert.equal((await h.cli(['memory', 'forget', id])).code !== 0, true, 'forgetting it twice is an error');

    // An export taken afterwards holds no trace: not the text, not the FTS row, not the vector.
    const after = await storeDump(h, 'after-forget');
    assert.ok(!after.text.includes('quokkaborealis'), 'the export still holds the forgotten text');
    assert.ok(!after.text.includes(vecBytes.toString('base64')), 'the export still holds the forgotten vector');
    assert.equal(rowsOf(after.dump, 'memory_items').some((r) => r.id === id || r.seq === seq), false);
    assert.equal(rowsOf(after.dump, 'memory_fts').some((r) => r.text === secret), false);
    assert.equal(rowsOf(after.dump, 'memory_vectors').some((r) => r.seq === seq), false);
    assert.equal(rowsOf(after.dump, 'memory_items').length, 3);
    assert.equal(rowsOf(after.dump, 'memory_vectors').length, 3);
    const memoryExport = JSON.parse(await ok(h, ['memory', 'export'])) as { items: Item[] };
    assert.deepEqual(memoryExport.items.map((i) => i.id), [ids[0], ids[1], ids[2]]);

    // After `hearth stop` (which snapshots), no file of the store holds its bytes: neither the
    // text nor its vector. The other items' text is there (the search reads the right files).
    await ok(h, ['stop']);
    await d2.exited;
    assert.deepEqual(filesContaining(h.paths.store, Buffer.from('quokkaborealis')), []);
    assert.deepEqual(filesContaining(h.paths.store, Buffer.from(secret)), []);
    assert.deepEqual(filesContaining(h.paths.store, vecBytes), [], 'the forgotten vector is still in the store files');
    assert.deepEqual(filesContaining(h.paths.store, Buffer.from(vecBytes.toString('base64'))), [], 'the forgotten vector is still in the journal');
    assert.notDeepEqual(filesContaining(h.paths.store, Buffer.from('rounds half to even')), []);
    // Nor any other file of the home (log, runtime folder, model registry).
    assert.deepEqual(filesContaining(h.dir, Buffer.from('quokkaborealis')), []);
  });
});

describe('memory through the daemon: pausing a client', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('mempause')));
  after(async () => h.dispose());

  const add = (c: { connection: { sendRequest(m: string, p: unknown): Promise<unknown> } }, text: string, ws: string): Promise<Item> =>
    c.connection.sendRequest(MemoryAdd.method, { text, workspace: ws }) as Promise<Item>;

  /** `hearth tool run memory.write` in the background, approved once by `hearth approve` (another process). */
  async function memoryWriteTool(ws: string, text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const run = h.cli(['tool', 'run', 'memory.write', JSON.stringify({ text }), '--workspace', ws]);
    const pending = await waitFor('the memory.write approval', async () => {
      const p = await okJson<Array<{ actionId: string; request: { tool: string; requester: { name: string } } }>>(h, ['approve', '--json']);
      return p.length ? p : undefined;
    }, 20_000, 100);
    assert.equal(pending.length, 1);
    assert.equal(pending[0]!.request.tool, 'memory.write');
    assert.equal(pending[0]!.request.requester.name, 'hearth-cli');
    assert.match(await ok(h, ['approve', '--answer', 'once']), /answered: once/);
    return run;
  }

  it('refuses a paused client\'s writes with -32011 naming `hearth memory resume`, lets others write, shows who wrote what, and resumes', async () => {
    await h.spawnDaemon();
    const ws = path.join(h.dir, 'ws');
    fs.mkdirSync(ws);
    const helix = await h.connect({ name: 'Helix', version: '24.7', kind: 'editor' });
    const zed = await h.connect({ name: 'Zed', version: '0.150.0', kind: 'editor' });
    const changes: unknown[] = [];
    zed.connection.onNotification(MemoryDidChange.method, (p: unknown) => void changes.push(p));
    const mine = { Helix: [] as string[], Zed: [] as string[] };
    mine.Helix.push((await add(helix, 'helix note one: tabs are four spaces', ws)).id, (await add(helix, 'helix note two: prefer early returns', ws)).id);
    mine.Zed.push((await add(zed, 'zed note one: run the linter before pushing', ws)).id);

    assert.match(await ok(h, ['memory', 'pause', 'Helix']), /Helix's memory writes are refused until `hearth memory resume Helix`/);
    await waitFor('the pause notification', () => changes.some((c) => (c as { change: string; client?: string }).change === 'pause' && (c as { client?: string }).client === 'Helix'));

    // While Helix is paused, Zed writes 40 items and Helix tries 20, all at once.
    const zedWrites = Array.from({ length: 40 }, (_, i) => add(zed, `zed while helix is paused ${i}`, ws));
    const helixWrites = Array.from({ length: 20 }, (_, i) => rpcError(add(helix, `helix while paused ${i}`, ws)));
    for (const item of await Promise.all(zedWrites)) mine.Zed.push(item.id);
    for (const err of await Promise.all(helixWrites)) {
      assert.equal(err.code, HearthErrorCodes.MemoryPaused);
      assert.equal(err.code, -32011);
      assert.match(err.message, /memory writes from "Helix" are paused/);
      assert.match(err.message, /nothing was stored/);
      assert.match(err.message, /hearth memory resume Helix/);
    }

    // `hearth memory list` names the writer of every item, and who is paused.
    const listed = await ok(h, ['memory', 'list', '--workspace', ws, '--limit', '100']);
    const lines = listed.trim().split('\n');
    for (const [writer, ids] of Object.entries(mine)) {
      for (const id of ids) {
        const line = lines.find((l) => l.startsWith(id));
        assert.ok(line, `${id} is not listed:\n${listed}`);
        assert.match(line, new RegExp(`^${id}\\s+\\S+\\s+${writer}\\s`), `the line of ${id} does not name ${writer}: ${line}`);
      }
    }
    assert.equal(lines.filter((l) => /^[0-9a-f]{16}\s/.test(l)).length, 43);
    assert.ok(!listed.includes('while paused'), 'a refused write was stored');
    assert.match(listed, /^paused: Helix$/m);
    const json = await okJson<Item[]>(h, ['memory', 'list', '--workspace', ws, '--client', 'Helix', '--json']);
    assert.deepEqual(json.map((i) => [i.id, i.client.name, i.client.version]), [[mine.Helix[1], 'Helix', '24.7'], [mine.Helix[0], 'Helix', '24.7']]);

    // The pause is kept across a restart of the daemon.
    helix.close();
    zed.close();
    await ok(h, ['stop']);
    await h.spawnDaemon();
    const helix2 = await h.connect({ name: 'Helix', version: '24.7', kind: 'test' });
    assert.equal((await rpcError(add(helix2, 'helix after restart', ws))).code, HearthErrorCodes.MemoryPaused);
    assert.match(await ok(h, ['memory', 'list', '--workspace', ws]), /^paused: Helix$/m);

    // A memory.write tool call by a paused client is refused too, before anyone is asked to approve
    // something that could not happen (and it is audited as refused).
    await ok(h, ['memory', 'pause', 'hearth-cli']);
    const refused = await h.cli(['tool', 'run', 'memory.write', JSON.stringify({ text: 'the cli remembers: releases are tagged vX.Y.Z' }), '--workspace', ws]);
    assert.deepEqual(await okJson<unknown[]>(h, ['approve', '--json']), [], 'no approval was put up');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /^(error|denied) \(memory\.write/m);
    assert.match(refused.stdout, /memory writes from "hearth-cli" are paused/);
    assert.match(refused.stdout, /hearth memory resume hearth-cli/);
    assert.ok(!(await ok(h, ['memory', 'list', '--workspace', ws])).includes('releases are tagged'));

    // Resume: both write again, attributed to themselves.
    assert.match(await ok(h, ['memory', 'resume', 'Helix']), /Helix may write memory again/);
    const back = await add(helix2, 'helix is back: tabs are still four spaces', ws);
    assert.equal((back as Item).client.name, 'Helix');
    await ok(h, ['memory', 'resume', 'hearth-cli']);
    const written = await memoryWriteTool(ws, 'the cli remembers: releases are tagged vX.Y.Z');
    assert.equal(written.code, 0, written.stdout + written.stderr);
    assert.match(written.stdout, /^ok \(memory\.write/m);
    const after = await okJson<Item[]>(h, ['memory', 'list', '--workspace', ws, '--json', '--limit', '2']);
    assert.deepEqual(after.map((i) => [i.text, i.client.name]), [
      ['the cli remembers: releases are tagged vX.Y.Z', 'hearth-cli'],
      ['helix is back: tabs are still four spaces', 'Helix'],
    ]);
    assert.ok(!(await ok(h, ['memory', 'list', '--workspace', ws])).includes('paused:'));
  });
});

describe('memory through the daemon: remembered in one editor, used in another', function () {
  this.timeout(120_000);
  let h: HearthHome;
  before(() => (h = makeHome('memxed')));
  after(async () => h.dispose());

  it('a selection remembered through Neovim\'s bridge is a memory piece of VS Code\'s route plan, attributed to Neovim', async () => {
    await h.spawnDaemon();
    const ws = path.join(h.dir, 'shop');
    const other = path.join(h.dir, 'elsewhere');
    fs.mkdirSync(path.join(ws, 'src'), { recursive: true });
    fs.mkdirSync(other);
    const vscode = await attachEditor(h, 'Visual Studio Code', ws);
    const nvim = await attachEditor(h, 'Neovim', ws);
    const helix = await attachEditor(h, 'Helix', other);

    // Neovim remembers a selection of src/money.ts (no workspace given: its rootUri's).
    const moneyUri = pathToFileURL(path.join(ws, 'src', 'money.ts')).href;
    const selection = 'function roundCents(amount: number) { return Math.round(amount * 100) / 100; } // bankers rounding for invoice totals';
    const range = { start: { line: 3, character: 0 }, end: { line: 3, character: 112 } };
    const item = await nvim.lsp.connection.sendRequest(MemoryAdd.method, { text: selection, kind: 'snippet', file: { uri: moneyUri, range } }) as Item;
    assert.equal(item.client.name, 'Neovim');
    assert.equal(item.workspace, ws);
    assert.deepEqual(item.file, { uri: moneyUri, range });
    // Memory views in other editors hear about it.
    await vscode.waitNotification(MemoryDidChange.method, (p) => p.change === 'add' && p.id === item.id && p.client === 'Neovim');

    // VS Code writes about invoice totals and rounding: the plan lists the memory item.
    const file = path.join(ws, 'src', 'invoice.ts');
    const doc = '// invoice totals need bankers rounding of cents\nexport function invoiceTotal(lines: number[]) {\n  const sum = lines.reduce((a, b) => a + b, 0);\n  return ';
    await vscode.open(file, doc);
    const explain = async (ed: typeof vscode, f: string): Promise<{ pieces: Array<{ source: { kind: string; uri?: string; client?: string; role?: string }; bytes: number; dataClass: string }> }> =>
      waitFor(`${ed.name}'s document to reach the daemon`, async () => {
        try {
          return await ed.explain(f, 3, 9);
        } catch (err) {
          if (/not open/.test((err as Error).message)) return undefined;
          throw err;
        }
      });
    const plan = await explain(vscode, file);
    const mem = plan.pieces.filter((p) => p.source.kind === 'memory');
    assert.deepEqual(mem.map((p) => p.source), [{ kind: 'memory', uri: `memory:${item.id}`, client: 'Neovim', role: 'memory' }], JSON.stringify(plan.pieces));
    assert.equal(mem[0]!.dataClass, 'memory');
    assert.equal(mem[0]!.bytes, Buffer.byteLength(selection));
    // Workspace scope: an editor in another folder writing the same words does not get it.
    const otherFile = path.join(other, 'invoice.ts');
    await helix.open(otherFile, doc);
    assert.deepEqual((await explain(helix, otherFile)).pieces.filter((p) => p.source.kind === 'memory'), []);

    // `hearth memory list` shows Neovim as its writer, with the file and range.
    const listed = await ok(h, ['memory', 'list', '--workspace', ws]);
    assert.match(listed, new RegExp(`^${item.id}\\s+snippet\\s+Neovim\\s`, 'm'));
    const json = await okJson<Item[]>(h, ['memory', 'list', '--workspace', ws, '--json']);
    assert.deepEqual(json.map((i) => [i.id, i.client.name, i.file]), [[item.id, 'Neovim', { uri: moneyUri, range }]]);

    // Forgotten, it leaves the plan.
    await ok(h, ['memory', 'forget', item.id]);
    assert.deepEqual((await explain(vscode, file)).pieces.filter((p) => p.source.kind === 'memory'), []);
  });
});

describe('memory through the daemon: request keys', function () {
  this.timeout(60_000);
  let h: HearthHome;
  before(() => (h = makeHome('memkey')));
  after(async () => h.dispose());

  it('an add resent with its requestKey returns the stored item; a reused key with other text is an error', async () => {
    await h.spawnDaemon();
    const ws = path.join(h.dir, 'ws');
    const kak = await h.connect({ name: 'Kakoune', version: '2024.05', kind: 'editor' });
    const add = (text: string, requestKey: string): Promise<Item> => kak.connection.sendRequest(MemoryAdd.method, { text, workspace: ws, requestKey }) as Promise<Item>;
    const first = await add('kakoune note: selections first', 'k-1');
    // Resent (on the same or a new connection, concurrently or later): the same item, stored once.
    const again = await Promise.all([add('kakoune note: selections first', 'k-1'), add('kakoune note: selections first', 'k-1')]);
    const kak2 = await h.connect({ name: 'Kakoune', version: '2024.05', kind: 'editor' });
    const later = await kak2.connection.sendRequest(MemoryAdd.method, { text: 'kakoune note: selections first', workspace: ws, requestKey: 'k-1' }) as Item;
    for (const r of [...again, later]) assert.deepEqual([r.id, r.seq], [first.id, first.seq]);
    // Two concurrent first sends of one key: one write.
    const pair = await Promise.all([add('kakoune note: two at once', 'k-2'), add('kakoune note: two at once', 'k-2')]);
    assert.equal(pair[0].id, pair[1].id);
    // The key belongs to the writer: another client's k-1 is its own item.
    const other = await (await h.connect({ name: 'Emacs', version: '29', kind: 'editor' })).connection.sendRequest(MemoryAdd.method, { text: 'kakoune note: selections first', workspace: ws, requestKey: 'k-1' }) as Item;
    assert.notEqual(other.id, first.id);
    const reused = await rpcError(add('a different note', 'k-1'));
    assert.equal(reused.code, -32602);
    assert.match(reused.message, /requestKey "k-1" was already used by "Kakoune" for another item .*use a new key for each item/);
    // Paused: a resend of a stored item is answered with it; a new item is refused.
    await ok(h, ['memory', 'pause', 'Kakoune']);
    assert.equal((await add('kakoune note: selections first', 'k-1')).id, first.id);
    assert.equal((await rpcError(add('kakoune note: while paused', 'k-3'))).code, HearthErrorCodes.MemoryPaused);
    const items = await exportItems(kak2);
    assert.deepEqual(items.map((i) => [i.client.name, i.text]), [
      ['Kakoune', 'kakoune note: selections first'],
      ['Kakoune', 'kakoune note: two at once'],
      ['Emacs', 'kakoune note: selections first'],
    ]);
  });
});
