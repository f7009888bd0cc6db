// `hearth lsp --stdio` as editors use it: LSP clients (vscode-jsonrpc) launch the real bridge,
// which starts or reconnects to the real daemon.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, makeHome, sleep, waitFor, type HearthHome, type LspClient, type StatusResult } from '../helpers/daemon.js';

/** Distinctive, repeated code the n-gram engine learns from, so completions are not empty. */
const SEED = Array.from({ length: 8 }, (_, i) => [
  `export function computeInvoiceTotal${i}(items: LineItem[], taxRate: number): number {`,
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  '  return Math.round(subtotal * (1 + taxRate) * 100) / 100;',
  '}',
  '',
].join('\n')).join('\n') + 'export function computeInvoiceTotal8(items: LineItem[], taxRate: number): number {\n  const subtotal = ';

function endOf(text: string): { line: number; character: number } {
  const lines = text.split('\n');
  return { line: lines.length - 1, character: lines[lines.length - 1]!.length };
}

describe('bridge: two editors share one daemon', function () {
  this.timeout(90_000);
  let h: HearthHome;
  before(() => {
    h = makeHome('shared');
  });
  after(async () => {
    await h.dispose();
  });

  it('two `hearth lsp --stdio` launched at the same time start one daemon; status lists both with their documents', async () => {
    const a = h.lsp();
    const b = h.lsp();
    // Both bridges connect on their first message: send both initializes at once, no daemon running.
    const [ia, ib] = await Promise.all([a.initialize('editor-alpha', '1.2.3'), b.initialize('editor-beta', '4.5.6')]);
    assert.equal(ia.serverInfo.name, 'hearth');
    assert.equal(ib.serverInfo.name, 'hearth');

    const ua = 'file:///ws/alpha/main.ts';
    const ua2 = 'file:///ws/alpha/util.py';
    const ub = 'file:///ws/beta/lib.rs';
    await a.open(ua, 'const a = 1;\n', 1);
    await a.open(ua2, 'x = 1\n', 7, 'python');
    await b.open(ub, 'fn main() {}\n', 1, 'rust');
    // Incremental edits: the daemon's view follows the versions.
    await a.change(ua, 2, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: 'const b = 2;\n' }]);
    await a.change(ua, 3, [{ range: { start: { line: 0, character: 6 }, end: { line: 0, character: 7 } }, text: 'alpha' }]);
    await b.change(ub, 5, [{ text: 'fn main() { println!("hi"); }\n' }]);

    const s = await waitFor('status to show both editors with their documents', async () => {
      const r = await h.cli(['status', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout) as StatusResult;
      const alpha = st.clients.find((c) => c.name === 'editor-alpha');
      const beta = st.clients.find((c) => c.name === 'editor-beta');
      return alpha?.documents.length === 2 && alpha.documents.some((d) => d.version === 3) && beta?.documents[0]?.version === 5 ? st : undefined;
    }, 20_000, 100);
    h.seenPids.add(s.pid);

    const alpha = s.clients.find((c) => c.name === 'editor-alpha')!;
    const beta = s.clients.find((c) => c.name === 'editor-beta')!;
    assert.equal(alpha.version, '1.2.3');
    assert.equal(beta.version, '4.5.6');
    assert.equal(alpha.kind, 'editor');
    const doc = (c: typeof alpha, uri: string) => c.documents.find((d) => d.uri === uri);
    assert.deepEqual({ ...doc(alpha, ua)!, bytes: doc(alpha, ua)!.bytes }, { uri: ua, languageId: 'typescript', version: 3, bytes: Buffer.byteLength('const alpha = 1;\nconst b = 2;\n') });
    assert.deepEqual(doc(alpha, ua2), { uri: ua2, languageId: 'python', version: 7, bytes: 6 });
    assert.deepEqual(beta.documents, [{ uri: ub, languageId: 'rust', version: 5, bytes: Buffer.byteLength('fn main() { println!("hi"); }\n') }]);

    // One daemon: exactly one `hearth daemon` process for this home, the one status names, and
    // its log shows a single daemon ever listening (a racing second one exits with code 3).
    const daemons = h.daemonPids();
    assert.deepEqual(daemons, [s.pid], `daemon processes for this home: ${daemons.join(', ')}`);
    const log = fs.readFileSync(path.join(h.paths.logs, 'daemon.log'), 'utf8');
    assert.equal(log.match(/listening on/g)?.length, 1, log);

    // Closing a document and then an editor updates the shared view.
    await a.connection.sendNotification('textDocument/didClose', { textDocument: { uri: ua2 } });
    await b.dispose();
    await waitFor('the closed document and the departed editor to leave status', async () => {
      const st = await h.status();
      const al = st.clients.find((c) => c.name === 'editor-alpha');
      return al && al.documents.length === 1 && !st.clients.some((c) => c.name === 'editor-beta');
    }, 10_000, 50);
    await a.dispose();
  });
});

describe('bridge: the daemon dies under an attached editor', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let editor: LspClient;
  const uri = 'file:///ws/shop/invoice.ts';
  before(async () => {
    h = makeHome('reconnect');
    editor = h.lsp();
    await editor.initialize('killed-editor', '0.9');
    await editor.open(uri, SEED, 1);
    const p = endOf(SEED);
    const first = await editor.inlineCompletion(uri, p.line, p.character);
    assert.ok(first.items[0]?.insertText, 'a completion before any kill');
  });
  after(async () => {
    await h.dispose();
  });

  for (let round = 1; round <= 3; round++) {
    it(`round ${round}: after SIGKILL, the next inlineCompletion succeeds within 2 s with nothing re-sent by the editor`, async () => {
      const before = await h.status();
      const p = endOf(SEED);
      process.kill(before.pid, 'SIGKILL');
      const t0 = performance.now();
      const r = await editor.inlineCompletion(uri, p.line, p.character);
      const elapsed = performance.now() - t0;
      assert.ok(r.items[0]?.insertText, `the completion after the kill was empty: ${JSON.stringify(r)}\nbridge log:\n${editor.stderr}`);
      assert.ok(elapsed < 2000, `the request took ${elapsed.toFixed(0)} ms after the kill (limit 2000 ms)\nbridge log:\n${editor.stderr}`);
      const after = await h.status();
      assert.notEqual(after.pid, before.pid, 'a new daemon serves the editor');
      assert.ok(!isAlive(before.pid));
      // The replay restored the editor's identity and its open document.
      const me = after.clients.find((c) => c.name === 'killed-editor');
      assert.ok(me, `status after the kill: ${JSON.stringify(after.clients)}`);
      assert.deepEqual(me.documents.map((d) => [d.uri, d.version, d.bytes]), [[uri, 1, Buffer.byteLength(SEED)]]);
    });
  }

  it('edits and requests sent while the daemon restarts are neither lost nor applied twice', async () => {
    const before = await h.status();
    const doc = 'file:///ws/shop/stream.ts';
    await editor.open(doc, '', 1);
    let text = '';
    let version = 1;
    const answers: Array<Promise<unknown>> = [];
    process.kill(before.pid, 'SIGKILL');
    // Keep typing for a while: every keystroke is a didChange, every few a completion request,
    // so some land before the bridge notices, some while it restarts and replays, some after.
    const until = performance.now() + 1500;
    while (performance.now() < until) {
      const line = text.split('\n').length - 1;
      const col = text.length - (text.lastIndexOf('\n') + 1);
      const ch = version % 17 === 0 ? '\n' : String.fromCharCode(97 + (version % 26));
      version++;
      await editor.change(doc, version, [{ range: { start: { line, character: col }, end: { line, character: col } }, text: ch }]);
      text += ch;
      if (version % 3 === 0) {
        const pos = endOf(text);
        answers.push(editor.inlineCompletion(doc, pos.line, pos.character));
      }
      await sleep(2);
    }
    const settled = await Promise.race([
      Promise.allSettled(answers),
      sleep(15_000).then(() => 'timeout' as const),
    ]);
    assert.notEqual(settled, 'timeout', `some of ${answers.length} requests sent around the restart were never answered\nbridge log:\n${editor.stderr}`);
    const failed = (settled as PromiseSettledResult<unknown>[]).filter((x) => x.status === 'rejected');
    assert.deepEqual(failed, [], 'every request around the restart succeeds');
    const st = await h.status();
    assert.notEqual(st.pid, before.pid);
    const mine = st.clients.find((c) => c.name === 'killed-editor')!;
    const d = mine.documents.find((x) => x.uri === doc);
    assert.deepEqual(d && [d.version, d.bytes], [version, Buffer.byteLength(text)], 'the daemon holds exactly the editor\'s last version');
  });
});

describe('daemon: SIGTERM', function () {
  this.timeout(60_000);
  let h: HearthHome;
  before(() => {
    h = makeHome('sigterm');
  });
  after(async () => {
    await h.dispose();
  });

  it('exits 0, removes the socket and pid file, and keeps every acknowledged write', async () => {
    const d = await h.spawnDaemon();
    assert.ok(fs.existsSync(h.paths.socket));
    assert.equal(fs.readFileSync(h.paths.pidFile, 'utf8').trim(), String(d.pid));
    const c = await h.connect({ name: 'before-sigterm', version: '1', kind: 'test' });
    const closed = new Promise<void>((r) => c.socket.once('close', () => r()));
    process.kill(d.pid, 'SIGTERM');
    const exit = await d.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, d.output());
    await closed; // the daemon closed its clients
    assert.equal(fs.existsSync(h.paths.socket), false, 'socket removed');
    assert.equal(fs.existsSync(h.paths.pidFile), false, 'pid file removed');
    assert.match(d.output(), /stopping: SIGTERM/);
    const out = path.join(h.dir, 'after.json');
    assert.equal((await h.cli(['export', out])).code, 0);
    const x = JSON.parse(fs.readFileSync(out, 'utf8')) as { tables: { clients: { columns: string[]; rows: unknown[][] } } };
    const name = x.tables.clients.columns.indexOf('name');
    assert.ok(x.tables.clients.rows.some((r) => r[name] === 'before-sigterm'));
  });
});
