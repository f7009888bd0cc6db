import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../../core/store/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const writer = path.join(repo, 'test/helpers/store-writer.ts');
const KILLS = 50;

interface RunResult {
  acked: number[];
  sawReady: boolean;
  stderr: string;
  signal: NodeJS.Signals | null;
  code: number | null;
}

/** Starts the writer and SIGKILLs it at a random moment: usually mid-stream, sometimes while it opens. */
function runAndKill(dir: string, run: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(run)], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let sawReady = false;
    let stderr = '';
    let buffered = '';
    const kill = () => child.kill('SIGKILL');
    const early = run % 5 === 4; // these kills land during startup, open, replay or the first writes
    let timer: NodeJS.Timeout | undefined = early ? setTimeout(kill, 150 + Math.random() * 600) : undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') {
          sawReady = true;
          if (!early) timer = setTimeout(kill, 20 + Math.random() * 250);
        } else {
          const m = /^ack (\d+) (\d+)$/.exec(line);
          if (!m) return reject(new Error(`writer printed ${JSON.stringify(line)}`));
          assert.equal(Number(m[1]), run);
          acked.push(Number(m[2]));
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ acked, sawReady, stderr, signal, code });
    });
  });
}

describe('store crash test (real process, SIGKILL)', function () {
  this.timeout(180_000);
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'hearth-crash-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it(`never loses or duplicates an acknowledged write across ${KILLS} kills on the same store`, async () => {
    const dir = path.join(root, 'store');
    const acked = new Map<number, number[]>(); // run -> acknowledged n
    let killedMidStream = 0;
    let totalAcked = 0;
    let cuts = 0;
    for (let run = 0; run < KILLS; run++) {
      const r = await runAndKill(dir, run);
      assert.equal(r.signal, 'SIGKILL', `writer run ${run} ended by itself (code ${r.code}):\n${r.stderr}`);
      acked.set(run, r.acked);
      totalAcked += r.acked.length;
      if (r.acked.length > 0) killedMidStream++;
      cuts += (r.stderr.match(/cut the journal/g) ?? []).length;

      const s = await Store.open(dir);
      try {
        cuts += s.warnings.filter((w) => /cut the journal/.test(w)).length;
        if (!r.sawReady && run === 0) continue; // killed before the table existed
        const hasTable = s.get("SELECT 1 AS t FROM sqlite_master WHERE name = 'crash_log'");
        if (!hasTable) {
          assert.equal(totalAcked, 0);
          continue;
        }
        const dupes = s.all('SELECT run, n, part, count(*) AS c FROM crash_log GROUP BY run, n, part HAVING c > 1 LIMIT 5');
        assert.deepEqual(dupes, [], `after kill ${run}: duplicated rows`);
        const torn = s.all('SELECT run, n FROM crash_log GROUP BY run, n HAVING count(*) <> 2 LIMIT 5');
        assert.deepEqual(torn, [], `after kill ${run}: a transaction was half applied`);
        const present = new Set(s.all<{ k: string }>("SELECT run || ':' || n AS k FROM crash_log WHERE part = 0").map((x) => x.k));
        for (const [rr, ns] of acked) {
          for (const n of ns) assert.ok(present.has(`${rr}:${n}`), `after kill ${run}: acknowledged write ${rr}:${n} is missing`);
        }
      } finally {
        await s.close();
      }
    }
    // The test must actually have killed writers while they were writing.
    assert.ok(killedMidStream >= KILLS / 2, `only ${killedMidStream} of ${KILLS} kills happened during the write stream`);
    assert.ok(totalAcked > 100, `only ${totalAcked} writes were acknowledged in total`);
    console.log(`      ${KILLS} kills, ${killedMidStream} mid-stream, ${totalAcked} acknowledged writes checked, ${cuts} torn tails cut`);
  });
});
