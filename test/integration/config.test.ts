// The daemon owns the settings it decides with (issue 12, "configuration the daemon owns"), per
// editor session, through a real bridge and a real daemon:
//   - initializationOptions.hearth sets this editor's completion budgets: the route plan of a
//     completion shows the smaller prefix window and no other-buffer snippets, while a second editor
//     with no settings keeps the defaults;
//   - an editor that declares workspace.configuration is asked for the `hearth` section after
//     `initialized`; its answer wins over initializationOptions; a didChangeConfiguration push
//     changes it live;
//   - a bad value reaches that editor as a window/showMessage warning naming the key, what it must
//     be and where to fix it, and the default stays.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Lsp, RouteExplain, type Result } from '../../server/protocol.js';
import { makeHome, waitFor, type HearthHome, type LspClient } from '../helpers/daemon.js';

type Plan = Result<typeof RouteExplain>;

describe('configuration the daemon owns: initializationOptions, workspace/configuration, didChangeConfiguration', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let ws: string;
  const main = (): string => path.join(ws, 'main.ts');
  const other = (): string => path.join(ws, 'other.ts');
  // 60 lines before the cursor, and an identifier shared with other.ts so a snippet qualifies.
  const MAIN = Array.from({ length: 60 }, (_, i) => `const invoiceTotal${i} = computeInvoiceTotal(order${i});`).join('\n') + '\ncomputeInvoiceTotal(';
  const OTHER = 'export function computeInvoiceTotal(order: Order): number {\n  return order.lines.reduce((n, l) => n + l.price, 0);\n}\n';

  before(async () => {
    h = makeHome('config');
    await h.spawnDaemon();
    ws = path.join(h.dir, 'ws');
    fs.mkdirSync(ws, { recursive: true });
    fs.writeFileSync(main(), MAIN);
    fs.writeFileSync(other(), OTHER);
  });
  after(async () => h?.dispose());

  async function editor(name: string, init: { options?: unknown; pull?: (section: string) => unknown }): Promise<LspClient> {
    const lsp = h.lsp();
    if (init.pull) lsp.connection.onRequest(Lsp.configuration.method, (p: { items: Array<{ section?: string }> }) => p.items.map((i) => init.pull!(i.section ?? '')));
    await lsp.connection.sendRequest(Lsp.initialize.method, {
      processId: process.pid, clientInfo: { name, version: '1' }, rootUri: pathToFileURL(ws).href,
      capabilities: init.pull ? { workspace: { configuration: true } } : {},
      ...(init.options !== undefined ? { initializationOptions: init.options } : {}),
    });
    await lsp.connection.sendNotification(Lsp.initialized.method, {});
    await lsp.open(pathToFileURL(main()).href, MAIN);
    await lsp.open(pathToFileURL(other()).href, OTHER);
    return lsp;
  }

  const explain = (lsp: LspClient): Promise<Plan> => lsp.connection.sendRequest(RouteExplain.method, {
    textDocument: { uri: pathToFileURL(main()).href }, position: { line: 60, character: 'computeInvoiceTotal('.length },
  }) as Promise<Plan>;
  const prefixBytes = (p: Plan): number => p.pieces.find((x) => x.source.role === 'prefix')?.bytes ?? -1;
  const snippets = (p: Plan): number => p.pieces.filter((x) => x.source.role === 'snippet').length;

  it('initializationOptions.hearth sets this editor\'s budgets; another editor keeps the defaults', async () => {
    const small = await editor('Small', { options: { hearth: { completion: { prefixChars: 200, otherBuffers: 0 } } } });
    const plain = await editor('Plain', {});
    const a = await explain(small);
    const b = await explain(plain);
    assert.ok(prefixBytes(a) > 0 && prefixBytes(a) <= 200, `prefix piece of ${prefixBytes(a)} B with prefixChars 200`);
    assert.equal(snippets(a), 0, 'otherBuffers 0: no snippet of other.ts');
    assert.ok(prefixBytes(b) > 1000, `the default prefix budget (4000) takes the whole ${MAIN.length}-character buffer: ${prefixBytes(b)} B`);
    assert.ok(snippets(b) >= 1, 'the default takes snippets of the other open buffer');
    await small.dispose();
    await plain.dispose();
  });

  it('workspace/configuration is asked after initialized and wins; a didChangeConfiguration push changes it live', async () => {
    let asked = 0;
    const lsp = await editor('Puller', {
      options: { hearth: { completion: { prefixChars: 3000 } } },
      pull: (section) => {
        asked++;
        return section === 'hearth' ? { completion: { prefixChars: 120 } } : null;
      },
    });
    await waitFor('the daemon to ask for the hearth section', () => asked > 0 || undefined, 10_000);
    const pulled = await waitFor('the pulled prefixChars to apply', async () => {
      const p = await explain(lsp);
      return prefixBytes(p) <= 120 ? p : undefined;
    }, 10_000);
    assert.ok(prefixBytes(pulled) > 0);
    await lsp.connection.sendNotification(Lsp.didChangeConfiguration.method, { settings: { hearth: { completion: { prefixChars: 600, otherBuffers: 0 } } } });
    const pushed = await waitFor('the pushed settings to apply', async () => {
      const p = await explain(lsp);
      return prefixBytes(p) > 120 && prefixBytes(p) <= 600 && snippets(p) === 0 ? p : undefined;
    }, 10_000);
    assert.ok(pushed);
    await lsp.dispose();
  });

  it('a bad value is shown to that editor with the key and the fix, and the default stays', async () => {
    const lsp = await editor('Typo', { options: { hearth: { completion: { maxTokens: 'lots', prefixChars: 200 } } } });
    const msg = await waitFor('a window/showMessage warning', () => lsp.notifications.find((n) => n.method === Lsp.showMessage.method)?.params as { type: number; message: string } | undefined, 10_000);
    assert.equal(msg.type, 2, 'a warning');
    assert.match(msg.message, /hearth\.completion\.maxTokens/);
    assert.match(msg.message, /an integer from 1 to 512/);
    assert.match(msg.message, /uses 48, the default/);
    // The good value next to it still applies.
    assert.ok(prefixBytes(await explain(lsp)) <= 200);
    await lsp.dispose();
  });
});
