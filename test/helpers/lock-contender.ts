/**
 * Store-lock race contender: `node --import tsx test/helpers/lock-contender.ts DIR GO DONE`.
 * Prints `ready` once loaded, spins until the file GO exists, then tries to take the store lock of
 * DIR once. Prints `won PID` (and holds the lock until the file DONE exists) or `lost MESSAGE`.
 * With `hold` as 4th argument it takes the lock, prints `held PID` and holds it until killed.
 */
import fs from 'node:fs';
import { acquireLock } from '../../core/store/lock.js';

const [dir, go, done, mode] = process.argv.slice(2);
if (!dir || !go || !done) {
  process.stderr.write('usage: lock-contender.ts DIR GO DONE [hold]\n');
  process.exit(2);
}
if (mode === 'hold') {
  await acquireLock(dir);
  process.stdout.write(`held ${process.pid}\n`);
  setInterval(() => undefined, 60_000);
} else {
  process.stdout.write('ready\n');
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(go)) if (Date.now() > deadline) process.exit(3);
  try {
    const lock = await acquireLock(dir);
    process.stdout.write(`won ${process.pid}\n`);
    while (!fs.existsSync(done)) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await lock.release();
  } catch (e) {
    process.stdout.write(`lost ${(e as Error).message.replace(/\n/g, ' ')}\n`);
  }
  process.exit(0);
}
