/**
 * Crash-test writer for memory: `node --import tsx test/helpers/memory-writer.ts DIR`.
 * Opens the store in DIR and adds memory items forever from 8 concurrent async writers (clients
 * writer-0 .. writer-7), so group commit batches many of them per fdatasync. After `add` resolves
 * (the item is durable) it prints `ack ID WRITER N`. The journal is kept small so snapshots and
 * journal restarts happen during the stream and a kill can land in any of their steps.
 */
import { MemoryStore } from '../../core/memory/index.js';
import { Store } from '../../core/store/index.js';

const [dir] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: memory-writer.ts DIR\n');
  process.exit(2);
}
const store = await Store.open(dir, { snapshotBytes: 64 * 1024, log: (level, msg) => process.stderr.write(`${level}: ${msg}\n`) });
const memory = await MemoryStore.open(store, { log: (level, msg) => process.stderr.write(`${level}: ${msg}\n`) });
const run = process.pid;
process.stdout.write('ready\n');

async function writer(w: number): Promise<never> {
  const client = { id: `session-${run}-${w}`, name: `writer-${w}`, version: '1.0.0' };
  for (let n = 0; ; n++) {
    const item = await memory.add({ text: `run ${run} writer ${w} item ${n} mark${run}x${w}x${n}`, kind: 'note', workspace: 'file:///crash' }, client);
    process.stdout.write(`ack ${item.id} ${w} ${n}\n`); // stdout to a pipe is synchronous on Linux
  }
}
await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
