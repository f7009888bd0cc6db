import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defaultPolicy } from '../../core/policy/index.js';
import { LanguageNgram } from '../../core/engines/ngram-family.js';
import { WorkspaceIndex, type IndexedFile, type WorkspaceIndexOptions } from '../../core/workspace/index.js';
import { deniedByPolicy } from '../../core/workspace/deny.js';

// The workspace index on real files in a temporary folder, with the real policy deny list.
function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-index-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

function indexer(opts: Partial<WorkspaceIndexOptions> = {}): { index: WorkspaceIndex; learned: Map<string, string>; rel: (root: string) => string[] } {
  const learned = new Map<string, string>();
  const policy = defaultPolicy();
  const index = new WorkspaceIndex({
    denied: (abs, root) => deniedByPolicy(policy, abs, root),
    learn: (f: IndexedFile, text) => learned.set(f.path, text),
    forget: (f: IndexedFile) => learned.delete(f.path),
    scanIntervalMs: 0,
    ...opts,
  });
  return { index, learned, rel: (root) => [...learned.keys()].map((p) => path.relative(root, p)).sort() };
}

describe('workspace index (core/workspace)', () => {
  const roots: string[] = [];
  const made = (files: Record<string, string>): string => {
    const r = tree(files);
    roots.push(r);
    return r;
  };
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  it('respects .gitignore files (nested, with negation), .git/info/exclude and the default folders', async () => {
    const root = made({
      '.gitignore': 'generated/\n*.log.ts\n',
      '.git/info/exclude': 'secret-notes.ts\n',
      '.git/config.ts': 'x',
      'src/a.ts': 'export const a = 1;',
      'src/sub/.gitignore': '*.ts\n!keep.ts\n',
      'src/sub/drop.ts': 'x',
      'src/sub/keep.ts': 'x',
      'src/debug.log.ts': 'x',
      'generated/g.ts': 'x',
      'secret-notes.ts': 'x',
      'node_modules/pkg/index.js': 'x',
      'dist/out.js': 'x',
      'build/b.js': 'x',
      'lib/app.min.js': 'x',
      'README.md': '# readme',
      'image.png': 'not indexed: no known language',
    });
    const { index, rel } = indexer();
    await index.addRoot(root);
    assert.deepEqual(rel(root), ['README.md', 'src/a.ts', 'src/sub/keep.ts']);
    assert.ok(index.status().skipped.ignored >= 6, JSON.stringify(index.status().skipped));
    index.close();
  });

  it('never learns what the policy deny-lists, or a file holding key material', async () => {
    const key = ['-----BEGIN OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', '-----END OPENSSH PRIVATE KEY-----'].join('\n');
    const root = made({
      'ok.ts': 'export const ok = true;',
      '.env': 'API_KEY=abc',
      'config/.env.local.ts': 'x',
      'keys/server.pem': key,
      'deploy/id_rsa': key,
      'src/embedded-key.ts': `export const k = \`${key}\`;`,
    });
    const { index, rel } = indexer();
    await index.addRoot(root);
    assert.deepEqual(rel(root), ['ok.ts']);
    assert.ok(index.status().skipped.denied >= 1);
    assert.equal(index.status().skipped['key-material'], 1);
    index.close();
  });

  it('stays within its bounds: files, bytes per file, bytes in all', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`f${String(i).padStart(2, '0')}.ts`] = 'x'.repeat(100);
    files['big.ts'] = 'y'.repeat(5000);
    const root = made(files);
    const a = indexer({ limits: { maxFiles: 10 } });
    await a.index.addRoot(root);
    assert.equal(a.learned.size, 10);
    assert.ok(a.index.status().skipped['over-files'] > 0);
    a.index.close();
    const b = indexer({ limits: { maxFileBytes: 1000 } });
    await b.index.addRoot(root);
    assert.ok(!b.index.has(path.join(root, 'big.ts')));
    assert.equal(b.index.status().skipped['too-large'], 1);
    b.index.close();
    const c = indexer({ limits: { maxTotalBytes: 1050 } });
    await c.index.addRoot(root);
    assert.ok(c.index.status().bytes <= 1050, String(c.index.status().bytes));
    assert.equal(c.learned.size, 10);
    c.index.close();
  });

  it('follows changes: a rescan re-learns changed files and forgets deleted or newly ignored ones; fileChanged, suppress', async () => {
    const root = made({ 'a.ts': 'const a = 1;', 'b.ts': 'const b = 2;', 'c.ts': 'const c = 3;' });
    const { index, learned, rel } = indexer();
    await index.addRoot(root);
    assert.deepEqual(rel(root), ['a.ts', 'b.ts', 'c.ts']);
    fs.writeFileSync(path.join(root, 'a.ts'), 'const a = 100;');
    fs.utimesSync(path.join(root, 'a.ts'), new Date(), new Date(Date.now() + 5000));
    fs.rmSync(path.join(root, 'b.ts'));
    fs.writeFileSync(path.join(root, 'd.ts'), 'const d = 4;');
    fs.writeFileSync(path.join(root, '.gitignore'), 'c.ts\n');
    await index.rescan();
    assert.deepEqual(rel(root), ['a.ts', 'd.ts']);
    assert.equal(learned.get(path.join(root, 'a.ts')), 'const a = 100;');
    // didSave / didChangeWatchedFiles: at once, without waiting for a scan.
    fs.writeFileSync(path.join(root, 'd.ts'), 'const d = 44;');
    await index.fileChanged(path.join(root, 'd.ts'));
    assert.equal(learned.get(path.join(root, 'd.ts')), 'const d = 44;');
    // Open in an editor: the disk copy is forgotten, and learned again when it closes.
    index.suppress(path.join(root, 'a.ts'));
    assert.ok(!learned.has(path.join(root, 'a.ts')));
    await index.rescan();
    assert.ok(!learned.has(path.join(root, 'a.ts')), 'a rescan does not bring back a suppressed file');
    index.unsuppress(path.join(root, 'a.ts'));
    await index.rescan();
    assert.ok(learned.has(path.join(root, 'a.ts')));
    index.removeRoot(root);
    assert.equal(learned.size, 0);
    index.close();
  });

  it('indexes a 5,000-file tree into the real n-gram engine without stalling the event loop', async function () {
    this.timeout(120_000);
    const files: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) {
      files[`pkg${i % 50}/mod${i}.ts`] = `import { helper${i % 7} } from './helper';\nexport function run${i}(input: number): number {\n  const value = helper${i % 7}(input, ${i});\n  return value * ${i % 13} + input;\n}\n`.repeat(3);
    }
    const root = made(files);
    const engine = new LanguageNgram();
    const index = new WorkspaceIndex({
      denied: (abs, r) => deniedByPolicy(defaultPolicy(), abs, r),
      learn: (f, text) => engine.learnLater(f.uri, text, f.family),
      forget: (f) => engine.forget(f.uri),
      scanIntervalMs: 0,
    });
    // This machine is shared: the delay an idle loop sees here in the same run is the floor.
    const idle = monitorEventLoopDelay({ resolution: 5 });
    idle.enable();
    await new Promise((r) => setTimeout(r, 1000));
    idle.disable();
    const floor = idle.percentile(99) / 1e6;
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const t0 = performance.now();
    await index.addRoot(root);
    // The engine learns in the background too (8 ms slices): wait until it has caught up.
    const deadline = Date.now() + 90_000;
    while (engine.families().js !== 5000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    h.disable();
    const p99 = h.percentile(99) / 1e6;
    console.log(`      5000 files indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s; event-loop delay p99 ${p99.toFixed(1)} ms (idle floor ${floor.toFixed(1)} ms), max ${(h.max / 1e6).toFixed(1)} ms`);
    assert.equal(index.status().files, 5000);
    assert.ok(p99 < 50 + floor, `event-loop delay p99 ${p99.toFixed(1)} ms while indexing (limit 50 ms over the idle floor of ${floor.toFixed(1)} ms)`);
    // And what it learned completes a new file of the same language.
    assert.match(engine.suggest('export function run9999(input: number): number {\n  const value = helper', '', 'typescript'), /^\d\(input, /);
    index.close();
    await engine.dispose();
  });
});
