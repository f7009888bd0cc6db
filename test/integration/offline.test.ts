// The whole routing path with the network cut (issue 4, "Must show" 6): the daemon runs in a network
// namespace of its own (`unshare -n`, or `bwrap --unshare-net`), with only a loopback interface that
// is down; editors and the CLI stay outside and reach it over its Unix socket (a path on the file
// system, which crosses network namespaces). It serves GGUF (node-llama-cpp on the committed tiny
// model) and n-gram completions and route plans; nothing is in the egress ledger.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  FIM_MODEL, attachEditor, cliIn, cliJson, makeHome, makeWorkspace, netIsolation, spawnIsolatedDaemon, type HearthHome,
} from '../helpers/routing-harness.js';
import { RouteCurrent } from '../../server/protocol.js';

const SEED = [
  'export interface LineItem { price: number; quantity: number }',
  '',
  'export function invoiceTotal(items: LineItem[], taxRate: number): number {',
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  '  return subtotal * (1 + taxRate);',
  '}',
  '',
].join('\n');
const TYPED = 'export function grossTotal(items: LineItem[]): number {\n  const subtotal = items.red';
const TEXT = `${SEED}\n${TYPED}`;

describe('offline: the daemon in a network namespace without network (real processes)', function () {
  this.timeout(180_000);
  const isolation = netIsolation();
  let h: HearthHome;
  let pid: number;
  let ws: string;
  let file: string;

  before(async function () {
    if ('skip' in isolation) {
      // Neither tool can cut the network on this machine: say so, do not pretend.
      console.warn(`      skipped: ${isolation.skip}`);
      this.skip();
    }
    h = makeHome('offline');
    const add = await h.cli(['models', 'add', FIM_MODEL]);
    assert.equal(add.code, 0, `${add.stdout}\n${add.stderr}`);
    ws = makeWorkspace(h, 'ws');
    file = path.join(ws, 'invoice.ts');
    fs.writeFileSync(file, TEXT);
    ({ pid } = await spawnIsolatedDaemon(h, isolation.argv));
  });
  after(async () => {
    await h?.dispose();
  });

  it(`the daemon has no network: its own namespace, only a loopback interface (${'skip' in isolation ? 'none' : isolation.how})`, () => {
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), 'the daemon shares the network namespace of the tests');
    const ifaces = fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
    assert.deepEqual(ifaces, ['lo']);
  });

  it('an editor outside the namespace gets GGUF completions, route plans, then n-gram completions after models remove', async () => {
    const ed = await attachEditor(h, 'vscode', ws);
    await ed.open(file, TEXT);
    const lines = TEXT.split('\n');
    const line = lines.length - 1;
    const character = lines[line]!.length;

    const g = await ed.complete(file, line, character);
    assert.ok(Array.isArray(g.items));
    const gguf = await ed.waitNotification(RouteCurrent.method, () => true, 60_000);
    assert.equal(gguf.provider, 'gguf:tiny-llama-fim');
    assert.equal(gguf.location, 'local');

    const explain = await cliIn(h, ['route', 'explain', `${file}:${line + 1}:${character + 1}`], ws);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /^ {2}provider {2}gguf:tiny-llama-fim \(model tiny-llama-fim\)$/m);
    assert.match(explain.stdout, /^ {2}location {2}local$/m);
    assert.match(explain.stdout, /^ {2}reason {4}a local engine can do it; nothing leaves this machine$/m);
    assert.match(explain.stdout, /^\s+\d+ B {2}code\s+prefix\s+file:\S+invoice\.ts \(buffer of hearth-cli\)$/m);

    // The CLI (outside) tells the isolated daemon to reload its models.
    const rm = await h.cli(['models', 'remove', 'tiny-llama-fim']);
    assert.equal(rm.code, 0, rm.stderr);
    const seen = ed.notificationsOf(RouteCurrent.method).length;
    const n = await ed.complete(file, line, character);
    const route = ed.notificationsOf(RouteCurrent.method)[seen] ?? await ed.waitNotification(RouteCurrent.method, (p) => ed.notificationsOf(RouteCurrent.method).indexOf(p) >= seen);
    assert.equal(route.provider, 'ngram');
    assert.equal(n.items.length, 1, 'the n-gram engine suggests a continuation');
    // It continues code it learned from the open buffer.
    assert.ok(SEED.includes(`items.red${n.items[0]!.insertText}`), `suggestion ${JSON.stringify(n.items[0]!.insertText)}`);

    const ledger = await cliJson<unknown[]>(h, ['egress', 'log', '--json']);
    assert.deepEqual(ledger, [], 'nothing tried to leave');
  });
});
