// Exclusive locks on files, with kernel semantics. Node has no flock(2); flock(1) from util-linux
// (essential on Debian, and in busybox) takes it for us on a descriptor we open and pass down:
// flock(2) locks belong to the open file description, which the child shares with us, so the lock
// stays held by our descriptor after the child exits and the kernel drops it when this process
// dies — SIGKILL included. There is no stale lock to take over and so no takeover race: a holder
// that died holds nothing, and of any number of processes racing for a free lock exactly one wins.
//
// The lock file is never unlinked (unlinking a flock'ed file lets a process that opened the old
// inode and one that creates a new one both "hold" it). It records the holder's pid for people
// (`hearth doctor`); the record is informational, the flock is the lock.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** The pid recorded in a lock file (undefined when none is recorded or the file is missing). */
export async function readLockFilePid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim().split(/\s+/)[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function readLockPid(dir: string): Promise<number | undefined> {
  return readLockFilePid(path.join(dir, LOCK_FILE));
}

/** Whether the process recorded in a lock file still runs (informational: the flock decides). */
export function lockHolderAlive(pid: number | undefined): boolean {
  return pid !== undefined && isAlive(pid);
}

export interface FileLock {
  readonly file: string;
  /** Drops the lock (the file stays; its pid record is cleared). Idempotent. */
  release(): void;
}

/** flock(1) is missing or failed in a way that says nothing about who holds the lock. */
export class LockToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockToolError';
  }
}

const CONFLICT = 75; // flock -E: the exit status meaning "held by another open file description"

function flockNonBlocking(fd: number): Promise<'locked' | 'held'> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['-n', '-E', String(CONFLICT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', (e: NodeJS.ErrnoException) => reject(new LockToolError(e.code === 'ENOENT'
      ? 'the flock command (util-linux) is not installed; Hearth needs it to keep a single writer. Install util-linux (`apt-get install util-linux`) and start again'
      : `could not run flock: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve('locked');
      else if (code === CONFLICT) resolve('held');
      else reject(new LockToolError(`flock exited with ${code}: ${err.trim() || 'no message'}`));
    });
  });
}

/**
 * Takes an exclusive lock on `file` (created 0600 when missing; never followed if it is a
 * symlink), or returns undefined when another process holds it. Put `file` inside a directory
 * only this user can enter: then nobody else can open it, so nobody else can hold it.
 */
export async function tryLockFile(file: string): Promise<FileLock | undefined> {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, FILE_MODE);
  let state: 'locked' | 'held';
  try {
    state = await flockNonBlocking(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (state === 'held') {
    fs.closeSync(fd);
    return undefined;
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      try {
        fs.ftruncateSync(fd, 0);
      } finally {
        fs.closeSync(fd); // the last descriptor of the open file description: the kernel drops the lock
      }
    },
  };
}

export interface StoreLock {
  release(): Promise<void>;
}

/**
 * One writer per store directory (the daemon has its own lock per home; this one protects the
 * files from any second opener: a CLI import while the daemon runs, a test, ...). A lock left by a
 * process that died is free: the kernel released it with the process.
 */
export async function acquireLock(dir: string): Promise<StoreLock> {
  const lockPath = path.join(dir, LOCK_FILE);
  let lock: FileLock | undefined;
  try {
    lock = await tryLockFile(lockPath);
  } catch (e) {
    throw new StoreError('LOCKED', `could not lock the store at ${dir}: ${(e as Error).message}`, { cause: e });
  }
  if (!lock) {
    // The holder writes its pid right after it takes the lock; give it a moment, so the message
    // names it rather than a dead process's leftover record.
    let holder = await readLockPid(dir).catch(() => undefined);
    for (let i = 0; i < 20 && !lockHolderAlive(holder); i++) {
      await new Promise((r) => setTimeout(r, 25));
      holder = await readLockPid(dir).catch(() => undefined);
    }
    const who = lockHolderAlive(holder) ? `process ${holder}` : 'another process (it is starting up)';
    throw new StoreError(
      'LOCKED',
      `store at ${dir} is in use by ${who}; nothing was changed. ` +
        'Stop that Hearth first (`hearth stop`) or wait for it to finish, then try again. ' +
        'A lock left by a process that died is taken over automatically.',
    );
  }
  const held = lock;
  return { release: async () => held.release() };
}
