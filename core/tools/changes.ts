// What a sandboxed command changed on disk, for the audit log: the writable folders are walked
// (lstat only, symlinks not followed) before and after the run, and the difference is reported per
// file: created (with its content as a diff when it is small text), modified (sizes and the new
// sha256: the old content was not kept, so there is no line diff, except for tracked files of a git
// workspace that were clean before the run, see GitBaseline), deleted (its size). Folders the
// command cannot write (.git, .hearth) are skipped; a tree larger than `maxFiles` is reported as not
// tracked rather than walked without end.
import { createHash } from 'node:crypto';
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { SandboxResult, SandboxSpec } from '../sandbox/index.js';

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

// ---------------------------------------------------------------------------------------------
// Line diffs for tracked files of a git workspace. The old content of a file the command modified
// was not kept, but in a git workspace a tracked file that was clean before the run has its old
// content in the index, so `git diff` after the run is exactly what the command changed. Git runs
// in the same sandbox as the command (read-only, no network, no hooks, no fsmonitor, no external
// diff): a repository's own configuration cannot make Hearth run anything outside it.


type Run = (spec: SandboxSpec) => Promise<SandboxResult>;

const GIT = ['git', '-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', '-c', 'core.quotePath=false', '-c', 'safe.directory=*', '-c', 'diff.external='];
const GIT_ENV = { GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LANG: 'C.UTF-8' };

export class GitBaseline {
  private constructor(private readonly run: Run, private readonly root: string, private readonly dirty: Set<string>) {}

  /** The tracked files already modified before the run, or null when this is not a usable git workspace. */
  static async before(run: Run, root: string): Promise<GitBaseline | null> {
    const r = await run({
      argv: [...GIT, 'status', '--porcelain=v1', '-z', '--untracked-files=no'], cwd: root, readOnly: [root], env: GIT_ENV, timeoutMs: 20_000,
    }).catch(() => null);
    if (!r || r.exitCode !== 0 || r.truncated) return null;
    const dirty = new Set<string>();
    for (const rec of r.stdout.split('\0')) if (rec.length > 3) dirty.add(rec.slice(3));
    return new GitBaseline(run, root, dirty);
  }

  /** The same changes, with a line diff for each modified tracked file that was clean before the run. */
  async withDiffs(changes: { path: string; diff: string }[]): Promise<{ path: string; diff: string }[]> {
    const rel = (p: string): string => relative(this.root, p).split(sep).join('/');
    const candidates = changes.filter((c) => c.diff.startsWith('modified ') && !this.dirty.has(rel(c.path)));
    if (!candidates.length) return changes;
    const r = await this.run({
      argv: [...GIT, 'diff', '--no-color', '--no-ext-diff', '--no-textconv', '--', ...candidates.map((c) => rel(c.path))],
      cwd: this.root, readOnly: [this.root], env: GIT_ENV, timeoutMs: 20_000,
    }).catch(() => null);
    if (!r || r.exitCode !== 0 || r.truncated) return changes;
    const byPath = new Map<string, string>();
    for (const section of r.stdout.split(/^(?=diff --git )/m)) {
      const m = /^\+\+\+ b\/(.+)$/m.exec(section) ?? /^Binary files a\/(.+?) and b\//m.exec(section);
      if (m) byPath.set(m[1]!, section);
    }
    return changes.map((c) => {
      const d = byPath.get(rel(c.path));
      return d && candidates.includes(c) ? { path: c.path, diff: d } : c;
    });
  }
}
