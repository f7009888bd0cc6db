// Route plans and the policy through the real daemon (issue 4, "Must show" 3 and 4):
//   - `hearth route explain FILE:LINE:COL` prints provider, location, decision, reason and every
//     data piece with its source and bytes; a buffer open in ANOTHER attached editor is a piece
//     named after that editor; --json gives the same plan;
//   - a policy file with a typo: `hearth policy check` exits non-zero naming file:line:col; saving
//     a typo into the live file makes every attached editor get a `hearth/log` naming the line,
//     and the previous policy stays in force (route explain still shows its route) until the file
//     is fixed (then the new one applies: the reload path itself works).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  attachEditor, cliIn, makeHome, waitOpenIn, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome,
} from '../helpers/routing-harness.js';
import { Log, PolicyStatus } from '../../server/protocol.js';

const INVOICE = [
  'export interface LineItem { price: number; quantity: number }',
  '',
  'export function invoiceTotal(items: LineItem[], taxRate: number): number {',
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  '  return subtotal * (1 + taxRate);',
  '}',
  '',
].join('\n');

// Opened only in the other editor; shares identifiers with the cursor's prefix.
const DISCOUNT = [
  'export function discountedSubtotal(items: LineItem[], rate: number): number {',
  '  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  '  return subtotal * (1 - rate);',
  '}',
].join('\n');

/** A user policy routing completion to a cloud provider first (explain runs nothing, so no server). */
const CLOUD_FIRST = [
  'version: 1',
  'default:',
  '  cloud: allow',
  'providers:',
  '  - id: hosted-coder',
  '    kind: openai',
  '    baseUrl: http://127.0.0.1:9',
  '    model: coder-large',
  '    location: cloud',
  '    features: [completion]',
  'routes:',
  '  completion: [hosted-coder, ngram]',
  '',
].join('\n');

interface Piece { source: { kind: string; uri: string; client?: string }; bytes: number; sentBytes: number; dataClass: string }

describe('route explain and live policy through the daemon (real processes)', function () {
  this.timeout(120_000);
  let h: HearthHome;
  let ws: string;
  let invoice: string;
  let discount: string;

  before(async () => {
    h = makeHome('routing');
    ws = makeWorkspace(h, 'shop');
    invoice = path.join(ws, 'invoice.ts');
    discount = path.join(ws, 'discount.ts');
    fs.writeFileSync(invoice, INVOICE);
    fs.writeFileSync(discount, DISCOUNT);
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
  });

  /** Where `hearth route explain invoice.ts:5:3` puts the cursor: line 5, column 3 (1-based). */
  const cursorPrefix = (): string => {
    const lines = INVOICE.split('\n');
    return [...lines.slice(0, 4), lines[4]!.slice(0, 2)].join('\n');
  };

  it('prints provider, location, reason and every piece with source and bytes; another editor\'s buffer is named after it', async () => {
    const nvim = await attachEditor(h, 'neovim', ws);
    await nvim.open(discount, DISCOUNT);
    await waitOpenIn(h, 'neovim', discount);

    const r = await cliIn(h, ['route', 'explain', `${invoice}:5:3`], ws);
    assert.equal(r.code, 0, `route explain failed:\n${r.stdout}\n${r.stderr}`);
    const out = r.stdout;
    assert.match(out, /^completion at invoice\.ts:5:3$/m);
    assert.match(out, /^ {2}provider {2}ngram \(model ngram-4\)$/m);
    assert.match(out, /^ {2}location {2}local$/m);
    assert.match(out, /^ {2}decision {2}allow by default\.local = allow \(built-in default\)$/m);
    assert.match(out, /^ {2}reason {4}a local engine can do it; nothing leaves this machine$/m);
    const prefixBytes = Buffer.byteLength(cursorPrefix());
    const suffixBytes = Buffer.byteLength(INVOICE) - prefixBytes;
    const uriInvoice = pathToFileURL(invoice).href;
    const uriDiscount = pathToFileURL(discount).href;
    const dataLines = out.slice(out.indexOf('  data:\n') + 8).trimEnd().split('\n');
    assert.equal(dataLines.length, 3, out);
    // Each piece by its role: prefix and suffix of the buffer being completed, another editor's buffer.
    const re = (bytes: number, role: string, uri: string, whose: string) => new RegExp(`^\\s+${bytes} B  code   ${role} +${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${whose}\\)$`);
    assert.match(dataLines[0]!, re(prefixBytes, 'prefix', uriInvoice, 'buffer of hearth-cli'));
    assert.match(dataLines[1]!, re(suffixBytes, 'suffix', uriInvoice, 'buffer of hearth-cli'));
    assert.notEqual(dataLines[0], dataLines[1]);
    // The buffer open only in the other editor: its text, under that editor's name.
    assert.match(dataLines[2]!, re(Buffer.byteLength(DISCOUNT), 'other buffer', uriDiscount, 'open in neovim'));

    const j = await cliIn(h, ['route', 'explain', `${invoice}:5:3`, '--json'], ws);
    assert.equal(j.code, 0, j.stderr);
    const plan = JSON.parse(j.stdout) as { route: { provider: string; location: string }; reason: string; decision: string; pieces: Piece[] };
    assert.equal(plan.route.provider, 'ngram');
    assert.equal(plan.decision, 'allow');
    assert.deepEqual(plan.pieces.map((p) => [p.source.uri, p.source.client, p.bytes, p.dataClass]), [
      [uriInvoice, 'hearth-cli', prefixBytes, 'code'],
      [uriInvoice, 'hearth-cli', suffixBytes, 'code'],
      [uriDiscount, 'neovim', Buffer.byteLength(DISCOUNT), 'code'],
    ]);
  });

  it('with a cloud provider routed first: location cloud, the rule, and why no local option was used', async () => {
    writeFileAtomic(userPolicyFile(h), CLOUD_FIRST);
    // The daemon picks the new file up by itself.
    await waitFor('the cloud route', async () => {
      const r = await cliIn(h, ['route', 'explain', `${invoice}:5:3`, '--json'], ws);
      return (JSON.parse(r.stdout) as { route: { provider: string } }).route.provider === 'hosted-coder';
    }, 20_000, 200);
    const r = await cliIn(h, ['route', 'explain', `${invoice}:5:3`], ws);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}provider {2}hosted-coder \(model coder-large\)$/m);
    assert.match(r.stdout, /^ {2}location {2}cloud$/m);
    assert.match(r.stdout, /^ {2}decision {2}allow by default\.cloud = allow \(.*config\/policy\.yaml:3:10\)$/m);
    assert.match(r.stdout, /^ {2}reason {4}routes\.completion puts hosted-coder before local ngram$/m);
    assert.match(r.stdout, /^ {2}picked by routes\.completion \(.*config\/policy\.yaml:12:15\)$/m);
    assert.match(r.stdout, /other buffer .*\(open in neovim\)/);
  });

  describe('a policy file with a typo', () => {
    const TYPO = CLOUD_FIRST + [
      'rules:',
      '  - name: keep completions here',
      '    feature: completion',
      '    locaton: cloud',
      '    action: deny',
      '',
    ].join('\n');
    const typoLine = TYPO.split('\n').indexOf('    locaton: cloud') + 1;

    it('`hearth policy check` exits non-zero naming file, line and column', async () => {
      const file = path.join(h.dir, 'typo.yaml');
      fs.writeFileSync(file, TYPO);
      const r = await cliIn(h, ['policy', 'check', file], ws);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${typoLine}:5: rules\\[0\\]\\.locaton is not a known key \\(did you mean "location"\\?\\)`));
      const wrongValue = path.join(h.dir, 'value.yaml');
      fs.writeFileSync(wrongValue, 'version: 1\ndefault:\n  cloud: alow\n');
      const v = await cliIn(h, ['policy', 'check', wrongValue], ws);
      assert.notEqual(v.code, 0);
      assert.match(v.stderr, /value\.yaml:3:10: default\.cloud must be one of allow, ask, deny \(got "alow"\)/);
      const ok = await cliIn(h, ['policy', 'check'], ws);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /config\/policy\.yaml: ok \(1 provider\(s\), 0 routing rule\(s\), 0 tool rule\(s\) besides the \d+ built in\)/);
    });

    it('saved into the live file: every attached editor gets hearth/log naming the line, and the previous policy stays in force', async () => {
      const a = await attachEditor(h, 'vscode', ws);
      const b = await attachEditor(h, 'neovim', null);
      const before = await cliIn(h, ['route', 'explain', `${invoice}:5:3`, '--json'], ws);
      assert.equal((JSON.parse(before.stdout) as { route: { provider: string } }).route.provider, 'hosted-coder');

      writeFileAtomic(userPolicyFile(h), TYPO);
      const file = userPolicyFile(h).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      const want = new RegExp(`${file}:${typoLine}:5: rules\\[0\\]\\.locaton is not a known key`);
      for (const ed of [a, b]) {
        const log = await ed.waitNotification(Log.method, (p) => want.test(p.message));
        assert.equal(log.level, 'error');
        assert.match(log.message, /previous policy stays in force/);
      }
      const status = await a.lsp.connection.sendRequest(PolicyStatus.method) as { lastError: string | null };
      assert.match(status.lastError ?? '', want);

      // Still the previous policy: the cloud route, not the deny the broken file meant to add.
      const still = await cliIn(h, ['route', 'explain', `${invoice}:5:3`], ws);
      assert.equal(still.code, 0, still.stderr);
      assert.match(still.stdout, /^ {2}provider {2}hosted-coder \(model coder-large\)$/m);
      assert.match(still.stdout, /^ {2}location {2}cloud$/m);

      // Fixed: the deny rule applies (so the check above could have failed).
      writeFileAtomic(userPolicyFile(h), TYPO.replace('locaton:', 'location:'));
      await waitFor('the fixed policy', async () => {
        const r = await cliIn(h, ['route', 'explain', `${invoice}:5:3`, '--json'], ws);
        return (JSON.parse(r.stdout) as { route: { provider: string } }).route.provider === 'ngram';
      }, 20_000, 200);
      const fixed = await cliIn(h, ['route', 'explain', `${invoice}:5:3`], ws);
      assert.match(fixed.stdout, /^ {2}skipped {3}hosted-coder: denied by .*config\/policy\.yaml:\d+:5 \(user rule "keep completions here": deny\)$/m);
      const cleared = await a.lsp.connection.sendRequest(PolicyStatus.method) as { lastError: string | null };
      assert.equal(cleared.lastError, null);
    });
  });
});
