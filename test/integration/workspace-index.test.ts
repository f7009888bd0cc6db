import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeHome, waitFor, type HearthHome, type LspClient } from '../helpers/daemon.js';

// A real daemon and bridge: the workspace the editor names is indexed, and a new, empty file is
// completed from it; what the deny list or .gitignore covers is never suggested; a file changed on
// disk is learned again after didChangeWatchedFiles; workspace folders follow didChangeWorkspaceFolders.
describe('workspace index in the daemon (real daemon, bridge)', function () {
  this.timeout(60_000);
  let home: HearthHome;
  let work: string;
  let other: string;
  let editor: LspClient;

  const write = (root: string, rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  const ready = (root: string) => waitFor(`the index of ${root} to be ready`, async () => {
    const r = (await home.status()).workspaceIndex?.roots.find((x) => x.root === root);
    return r?.state === 'ready' ? r : undefined;
  }, 20_000);
  let version = 0;
  const ask = async (rel: string, text: string, languageId = 'typescript'): Promise<string> => {
    const uri = pathToFileURL(path.join(work, rel)).href;
    await editor.open(uri, text, ++version, languageId);
    const lines = text.split('\n');
    const r = await editor.inlineCompletion(uri, lines.length - 1, lines[lines.length - 1]!.length);
    await editor.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    return r.items[0]?.insertText ?? '';
  };

  before(async () => {
    home = makeHome('workspace-index');
    work = path.join(home.dir, 'project');
    other = path.join(home.dir, 'second');
    write(work, 'src/orders.ts', 'export function totalOf(order: Order): number {\n  return order.lines.reduce((sum, line) => sum + line.price * line.quantity, 0);\n}\n');
    write(work, 'src/util.py', 'def total_of(order):\n    return sum(line.price for line in order.lines)\n');
    write(work, '.env', 'export const leakedValue = paymentsGateway.connect("sk_live_do_not_learn");\n');
    write(work, '.gitignore', 'generated/\n');
    write(work, 'generated/schema.ts', 'const generatedMarker = ignoredByGitignore.value();\n');
    write(work, 'node_modules/dep/index.js', 'const fromDependency = insideNodeModules.value();\n');
    write(other, 'lib/inventory.ts', 'export const stockLevel = warehouse.countItems("aisle", 7);\n');
    await home.spawnDaemon();
    editor = home.lsp();
    await editor.connection.sendRequest('initialize', {
      processId: process.pid, clientInfo: { name: 'it-workspace', version: '1' }, rootUri: pathToFileURL(work).href, capabilities: {},
    });
    await editor.connection.sendNotification('initialized', {});
    await ready(work);
  });
  after(async () => {
    await editor?.dispose();
    await home?.dispose();
  });

  it('completes a new, empty file from the workspace (same language only)', async () => {
    assert.equal(await ask('src/new.ts', 'const t = order.lines.reduce((sum, line) => sum + line'), '.price * line.quantity, 0);');
    // The Python file teaches Python buffers, not TypeScript ones.
    assert.equal(await ask('src/new.py', 'def f(order):\n    return sum(line', 'python'), '.price for line in order.lines)');
    const st = (await home.status()).workspaceIndex!;
    assert.equal(st.roots[0]!.files, 2, JSON.stringify(st));
    assert.deepEqual(st.limits, { maxFiles: 20_000, maxFileBytes: 1024 * 1024, maxTotalBytes: 200 * 1024 * 1024 });
  });

  it('never suggests what the deny list, .gitignore or node_modules cover', async () => {
    assert.equal(await ask('src/a.ts', 'export const leakedValue = paymentsGateway'), '');
    assert.equal(await ask('src/b.ts', 'const generatedMarker = ignoredByGitignore'), '');
    assert.equal(await ask('src/c.ts', 'const fromDependency = insideNodeModules'), '');
  });

  it('learns a file again after didChangeWatchedFiles, and follows didChangeWorkspaceFolders', async () => {
    write(work, 'src/orders.ts', 'export function discountOf(order: Order): number {\n  return order.coupon.percent / 100;\n}\n');
    await editor.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(path.join(work, 'src/orders.ts')).href, type: 2 }] });
    // Each probe differs in its first line: the completion cache keys on the window around the cursor.
    let probe = 0;
    await waitFor('the changed file to be learned', async () => (await ask('src/d.ts', `let probe${++probe} = 1;\nconst d = order.coupon`)) === '.percent / 100;', 10_000);
    assert.notEqual(await ask('src/e.ts', 'let e = 0;\nconst t = order.lines.reduce((sum, line) => sum + line'), '.price * line.quantity, 0);', 'the old content is forgotten');

    await editor.connection.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [{ uri: pathToFileURL(other).href, name: 'second' }], removed: [] } });
    await ready(other);
    assert.equal(await ask('src/f.ts', 'const s = warehouse.countItems'), '("aisle", 7);');
    await editor.connection.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [], removed: [{ uri: pathToFileURL(other).href, name: 'second' }] } });
    await waitFor('the removed folder to leave the index', async () => !(await home.status()).workspaceIndex?.roots.some((r) => r.root === other), 10_000);
    assert.notEqual(await ask('src/g.ts', 'let g = 0;\nconst s = warehouse.countItems'), '("aisle", 7);', 'the removed folder is forgotten');
  });
});
