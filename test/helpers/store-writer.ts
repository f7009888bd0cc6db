/**
 * Crash-test writer: `node --import tsx test/helpers/store-writer.ts DIR RUN`.
 * Opens the store in DIR and writes forever from several concurrent loops (so group commit is
 * exercised). Each write is one transaction of two rows (part 0 and 1) for (RUN, n); after the
 * store acknowledges it, the writer prints `ack RUN n`. The journal is kept small so snapshots
 * and journal restarts happen often, and a kill can land in any of their steps.
 */
import { Store } from '../../core/store/index.js';

const [dir, runArg] = process.argv.slice(2);
if (!dir || runArg === undefined) {
  process.stderr.write('usage: store-writer.ts DIR RUN\n');
  process.exit(2);
}
const run = Number(runArg);
const store = await Store.open(dir, { snapshotBytes: 16 * 1024, log: (level, msg) => process.stderr.write(`${level}: ${msg}\n`) });
await store.write([
  { sql: 'CREATE TABLE IF NOT EXISTS crash_log (run INTEGER NOT NULL, n INTEGER NOT NULL, part INTEGER NOT NULL, payload TEXT NOT NULL)' },
]);
process.stdout.write('ready\n');

let next = 0;
async function loop(): Promise<never> {
  for (;;) {
    const n = next++;
    const payload = 'x'.repeat((n * 37) % 300);
    await store.write([
      { sql: 'INSERT INTO crash_log (run, n, part, payload) VALUES (?, ?, 0, ?)', params: [run, n, payload] },
      { sql: 'INSERT INTO crash_log (run, n, part, payload) VALUES (?, ?, 1, ?)', params: [run, n, payload] },
    ]);
    process.stdout.write(`ack ${run} ${n}\n`); // stdout to a pipe is synchronous on Linux
  }
}
await Promise.all([loop(), loop(), loop(), loop()]);
