import { open, readdir, rename, stat, chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Makes a rename or a new file's directory entry durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes a whole new file and fsyncs it (not the directory: callers do that after renaming). */
export async function writeFileSynced(file: string, data: Uint8Array): Promise<void> {
  const h = await open(file, 'w', FILE_MODE);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

export async function readIfExists(file: string): Promise<Buffer | null> {
  const h = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (!h) return null;
  try {
    return await h.readFile();
  } finally {
    await h.close();
  }
}

export function timestamp(now = new Date()): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

/** A name `<base>.<label>-<time>` in `dir` that does not exist yet. */
export async function asideName(dir: string, base: string, label: string): Promise<string> {
  const stamp = timestamp();
  const existing = new Set(await readdir(dir));
  let name = `${base}.${label}-${stamp}`;
  for (let i = 1; existing.has(name); i++) name = `${base}.${label}-${stamp}-${i}`;
  return path.join(dir, name);
}

/** Renames `dir/base` to an aside name and makes that durable; returns the new path. */
export async function moveAside(dir: string, base: string, label: string): Promise<string> {
  const target = await asideName(dir, base, label);
  await rename(path.join(dir, base), target);
  await fsyncDir(dir);
  return target;
}

/** Creates the directory 0700; tightens an existing one. Returns a note when it had to tighten. */
export async function ensurePrivateDir(dir: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  if ((st.mode & 0o777) !== DIR_MODE) {
    await chmod(dir, DIR_MODE);
    return `store directory ${dir} had mode ${(st.mode & 0o777).toString(8)}; set it to 700`;
  }
  return undefined;
}

export async function tightenFile(file: string): Promise<void> {
  try {
    const st = await stat(file);
    if ((st.mode & 0o777) !== FILE_MODE) await chmod(file, FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
