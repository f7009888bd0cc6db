// What a sandboxed command changed on disk, for the audit log: the writable folders are walked
// (lstat only, symlinks not followed) before and after the run, and the difference is reported per
// file: created (with its content as a diff when it is small text), modified (sizes and the new
// sha256: the old content was not kept, so there is no line diff), deleted (its size). Folders the
// command cannot write (.git, .hearth) are skipped; a tree larger than `maxFiles` is reported as not
// tracked rather than walked without end.
import { createHash } from 'node:crypto';
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createTwoFilesPatch } from 'diff';

interface Entry { size: number; mtimeMs: number; ino: number; kind: 'file' | 'symlink' }

export interface TreeSnapshot {
  roots: string[];
  files: Map<string, Entry>;
  /** false when the walk stopped at maxFiles */
  complete: boolean;
}

export interface ChangeOptions {
  /** absolute paths not walked (and not reported) */
  exclude?: string[];
  /** entries walked at most, over all roots (default 50 000) */
  maxFiles?: number;
  /** a created file up to this size that decodes as UTF-8 is shown as a diff (default 64 KiB) */
  maxDiffBytes?: number;
}

export async function snapshotTree(roots: readonly string[], opts: ChangeOptions = {}): Promise<TreeSnapshot> {
  const maxFiles = opts.maxFiles ?? 50_000;
  const exclude = new Set(opts.exclude ?? []);
  const files = new Map<string, Entry>();
  let complete = true;
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // unreadable or gone: nothing the command could have changed through it
    }
    for (const name of names) {
      if (!complete) return;
      const p = join(dir, name);
      if (exclude.has(p)) continue;
      let st;
      try {
        st = await lstat(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        await walk(p);
        continue;
      }
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      if (files.size >= maxFiles) {
        complete = false;
        return;
      }
      files.set(p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, kind: st.isFile() ? 'file' : 'symlink' });
    }
  };
  // A root inside another root would be walked twice; the map keeps each path once either way.
  for (const root of roots) if (!exclude.has(root)) await walk(root);
  return { roots: [...roots], files, complete };
}

/** The files created, modified or deleted between two snapshots, as audit-log entries. */
export async function describeChanges(before: TreeSnapshot, after: TreeSnapshot, base: string, opts: ChangeOptions = {}): Promise<{ path: string; diff: string }[]> {
  const maxFiles = opts.maxFiles ?? 50_000;
  if (!before.complete || !after.complete) {
    return [{ path: base, diff: `changes not tracked: more than ${maxFiles} files under ${before.roots.join(', ')}` }];
  }
  const maxDiff = opts.maxDiffBytes ?? 64 * 1024;
  const rel = (p: string): string => relative(base, p).split(sep).join('/') || '.';
  const out: { path: string; diff: string }[] = [];
  const paths = [...new Set([...before.files.keys(), ...after.files.keys()])].sort();
  for (const p of paths) {
    const a = before.files.get(p);
    const b = after.files.get(p);
    if (a && b && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.kind === b.kind) continue;
    if (!b) {
      out.push({ path: p, diff: `deleted ${rel(p)} (${a!.kind === 'symlink' ? 'symlink' : `${a!.size} bytes`})` });
      continue;
    }
    let content: Buffer | null = null;
    try {
      content = b.kind === 'file' ? await readFile(p) : null;
    } catch {
      content = null; // removed again after the run ended
    }
    const sha = content ? createHash('sha256').update(content).digest('hex') : null;
    const text = content && content.length <= maxDiff ? utf8(content) : null;
    if (!a) {
      out.push({
        path: p,
        diff: text !== null
          ? createTwoFilesPatch('/dev/null', `b/${rel(p)}`, '', text, undefined, undefined, { context: 3 })
          : `created ${rel(p)} (${b.kind === 'symlink' ? 'symlink' : `${b.size} bytes, sha256 ${sha ?? '?'}`})`,
      });
      continue;
    }
    out.push({ path: p, diff: `modified ${rel(p)}: ${a.size} -> ${b.size} bytes${sha ? `, sha256 now ${sha}` : ''} (content before the run was not kept)` });
  }
  return out;
}

function utf8(b: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return null;
  }
}
