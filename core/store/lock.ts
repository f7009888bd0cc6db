import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from './errors.js';
import { FILE_MODE } from './fsutil.js';

export const LOCK_FILE = 'lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readLockPid(dir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dir, LOCK_FILE), 'utf8')).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function lockHolderAlive(pid: number | undefined): boolean {
  return pid !== undefined && isAlive(pid);
}

export interface StoreLock {
  release(): Promise<void>;
}

/**
 * One writer per store directory. The lock file holds the owner's pid; it is created by link(2)
 * from a fully written temp file, so it is never seen half-written. A lock whose process is gone
 * (a crash) is taken over. The daemon has its own lock per home; this one protects the files from
 * any second opener (a CLI import while the daemon runs, a test, ...).
 */
export async function acquireLock(dir: string): Promise<StoreLock> {
  const lockPath = path.join(dir, LOCK_FILE);
  const tmp = path.join(dir, `${LOCK_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${process.pid}\n`, { mode: FILE_MODE });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, lockPath);
        return {
          async release() {
            if ((await readLockPid(dir)) === process.pid) await unlink(lockPath).catch(() => undefined);
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readLockPid(dir);
      if (lockHolderAlive(holder)) {
        throw new StoreError(
          'LOCKED',
          `store at ${dir} is in use by process ${holder} (lock file ${lockPath}). ` +
            `Stop that Hearth first (\`hearth stop\`); if no Hearth is running, delete the lock file.`,
        );
      }
      await unlink(lockPath).catch(() => undefined); // stale: its process is gone
    }
    throw new StoreError('LOCKED', `could not take the lock ${lockPath} (another process keeps taking it); try again`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
