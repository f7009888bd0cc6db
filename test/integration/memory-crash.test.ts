import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '../../core/memory/index.js';
import { Store } from '../../core/store/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const writer = path.join(repo, 'test/helpers/memory-writer.ts');
const KILLS = 6;

interface Ack {
  id: string;
  w: number;
  n: number;
}

/** Runs the writer until it has acknowledged `after` items (plus a random moment), then SIGKILLs it. */
function runAndKill(dir: string, after: number): Promise<{ acks: Ack[]; stderr: string; signal: NodeJS.Signals | null; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let stderr = '';
    let buffered = '';
    let armed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') continue;
        const m = /^ack ([0-9a-f]{16}) (\d) (\d+)$/.exec(line);
        if (!m) return reject(new Error(`writer printed ${JSON.stringify(line)}`));
        acks.push({ id: m[1]!, w: Number(m[2]), n: Number(m[3]) });
      }
      if (!armed && acks.length >= after) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.random() * 40);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ acks, stderr, signal, code }));
  });
}

describe('memory crash test (real writer process with 8 concurrent writers, SIGKILL)', function () {
  this.timeout(300_000);
  let root: string;
  before(() => (root = mkdtempSync(path.join(tmpdir(), 'hearth-memory-crash-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it(`keeps every acknowledged item exactly once across ${KILLS} kills of the same store`, async () => {
    const dir = path.join(root, 'store');
    const acked = new Map<string, Ack>();
    for (let k = 0; k < KILLS; k++) {
      const r = await runAndKill(dir, 200 + Math.floor(Math.random() * 600));
      assert.equal(r.signal, 'SIGKILL', `writer ${k} ended by itself (code ${r.code}):\n${r.stderr}`);
      assert.ok(r.acks.length >= 200, `writer ${k} acknowledged only ${r.acks.length} items before the kill:\n${r.stderr}`);
      for (const a of r.acks) {
        assert.ok(!acked.has(a.id), `id ${a.id} was handed out twice`);
        acked.set(a.id, a);
      }

      const store = await Store.open(dir);
      const memory = await MemoryStore.open(store);
      try {
        const items = memory.exportItems().items;
        const ids = items.map((i) => i.id);
        assert.equal(new Set(ids).size, ids.length, `after kill ${k}: an item is present twice`);
        const present = new Set(ids);
        const lost = [...acked.keys()].filter((id) => !present.has(id));
        assert.deepEqual(lost, [], `after kill ${k}: acknowledged items are missing`);
        for (let i = 1; i < items.length; i++) assert.ok(items[i]!.seq > items[i - 1]!.seq, 'seq order is strict');
        // Per writer process and client, items are stored in the order they were written.
        const byWriter = new Map<string, number[]>();
        for (const it of items) {
          const m = /^run (\d+) writer (\d) item (\d+) /.exec(it.text)!;
          const key = `${m[1]}/${m[2]}`;
          byWriter.set(key, [...(byWriter.get(key) ?? []), Number(m[3])]);
        }
        for (const [key, ns] of byWriter) assert.deepEqual(ns, ns.map((_, i) => i), `writer ${key} has a gap or reordering`);
        // The full-text index agrees with the table.
        assert.equal(store.get<{ n: number }>('SELECT count(*) AS n FROM memory_fts')?.n, items.length);
        const sample = [...acked.values()][Math.floor(Math.random() * acked.size)]!;
        const found = store.all<{ docid: number }>('SELECT docid FROM memory_fts WHERE memory_fts MATCH ?', [`"${/mark\S+/.exec(items.find((i) => i.id === sample.id)!.text)![0]}"`]);
        assert.equal(found.length, 1);
      } finally {
        await memory.close();
        await store.close();
      }
    }
    console.log(`      ${KILLS} kills, ${acked.size} acknowledged items checked`);
  });
});
