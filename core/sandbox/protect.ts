// Nothing planted for later: the entries of a workspace that code OUTSIDE the sandbox runs or trusts
// automatically (git on `git status`, editors on opening the folder, direnv on `cd`, Hearth's own
// workspace policy) stay read-only inside the sandbox, whether or not they exist yet. The list and
// the reasoning behind it: docs/sandbox.md.
//
//  - An entry that exists is bound read-only over itself. A `.git` FILE (`gitdir: …`, worktrees and
//    submodules) is bound read-only, and so is the directory it points to (and its `commondir`) when
//    that lies inside a writable path.
//  - An entry that does not exist gets a read-only placeholder mounted at its path (an empty
//    directory or file), so it cannot be created, renamed over, replaced by a symlink or removed
//    (a mount point is busy). bwrap creates the mount point on the host; it is removed again after
//    the run (counted, so concurrent runs in one process never pull a placeholder from under
//    another). A symbolic link at a protected path cannot be pinned (a mount follows it): the run
//    is refused.
//  - Nested repositories: every `.git` below a writable path that exists is bound read-only; one the
//    command creates (or swaps) anywhere below it is found by a walk after the run and renamed out
//    of the way (`.git.hearth-blocked-…`), so neither git nor an editor's repository scan uses it.
import { lstatSync, mkdtempSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

export interface ProtectedEntry {
  /** The entry's name at the top of the workspace. */
  name: string;
  /** What a placeholder for a missing one looks like. */
  kind: 'dir' | 'file';
  /** Who runs or trusts it outside the sandbox, shown in docs and approvals. */
  why: string;
}

/** Workspace-top entries a command may not create or change without an explicit `protected:` grant. */
export const PROTECTED_ENTRIES: readonly ProtectedEntry[] = [
  { name: '.git', kind: 'dir', why: 'git runs what its config names (core.fsmonitor, hooks, filters, pager) on a plain `git status`, and editors run git on opening the folder' },
  { name: '.hearth', kind: 'dir', why: "Hearth's workspace policy" },
  { name: '.hg', kind: 'dir', why: 'Mercurial runs hooks from .hg/hgrc on any command, `hg status` included' },
  { name: '.jj', kind: 'dir', why: 'Jujutsu reads the repository config (pager, fsmonitor, aliases) on any command' },
  { name: '.vscode', kind: 'dir', why: 'VS Code applies settings.json and can run tasks.json tasks on folder open' },
  { name: '.idea', kind: 'dir', why: 'JetBrains IDEs load run configurations, startup tasks and tool paths from it on open' },
  { name: '.envrc', kind: 'file', why: 'direnv runs it on entering the folder' },
  { name: '.nvim.lua', kind: 'file', why: "Neovim's exrc runs it on start in the folder" },
  { name: '.nvimrc', kind: 'file', why: "Neovim's and Vim's exrc run it on start in the folder" },
  { name: '.exrc', kind: 'file', why: "Vim's and Neovim's exrc run it on start in the folder" },
];

/** Names a `protected:` grant may list. */
export const PROTECTED_NAMES: readonly string[] = PROTECTED_ENTRIES.map((e) => e.name);

/**
 * Without a `.git`, git treats a directory holding `HEAD`, `objects/` and `refs/` as a bare
 * repository and reads its `config`: `HEAD` at the top is protected with `.git` (and only while
 * there is no `.git`, which git looks at first).
 */
export const BARE_REPO_MARKER = 'HEAD';

/** Names guarded at any depth below a writable path (nested repositories). */
export const NESTED_PROTECTED: readonly string[] = ['.git'];

/** Entries walked at most by the nested check, per walk. */
export const MAX_NESTED_WALK = 200_000;

export class SandboxProtectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxProtectionError';
  }
}

function placeholderKind(path: string): 'dir' | 'file' {
  const name = basename(path);
  if (name === BARE_REPO_MARKER) return 'file';
  return PROTECTED_ENTRIES.find((e) => e.name === name)?.kind ?? 'dir';
}

function inside(p: string, roots: readonly string[]): boolean {
  return roots.some((r) => p === r || p.startsWith(r.endsWith('/') ? r : r + '/'));
}

/** Placeholders this process has mounted, by host path: how many runs use each right now. */
const placeholdersInUse = new Map<string, number>();

/** What one sandboxed run needs: the bwrap arguments, and what to undo or check afterwards. */
export interface Protection {
  args: string[];
  /** Host paths of placeholders mounted for this run (removed again by release()). */
  placeholders: string[];
  /** Protected paths that existed and were bound read-only. */
  bound: string[];
  /** The nested entries found before the run (path → identity), for the check after it. */
  nestedBefore: NestedScan | null;
  /** The protected paths (resolved) whose subtrees the nested walks skip. */
  skip: string[];
  scratch: string | null;
}

interface NestedEntry {
  ino: number;
  dev: number;
  kind: 'dir' | 'file' | 'symlink' | 'other';
  link: string | null;
}
export interface NestedScan {
  entries: Map<string, NestedEntry>;
  complete: boolean;
}

/** What a run left that code outside could have picked up, and where Hearth moved it. */
export interface BlockedEntry {
  path: string;
  movedTo: string | null;
  error?: string;
}

function identity(p: string): NestedEntry | null {
  try {
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    return { ino: st.ino, dev: st.dev, kind, link: kind === 'symlink' ? readlinkSync(p) : null };
  } catch {
    return null;
  }
}

/**
 * Every entry named in `names` below `roots` (not following symlinks), skipping `skip` subtrees.
 * Asynchronous (one directory read at a time), so a large tree never stalls the daemon's loop.
 */
export async function scanNested(roots: readonly string[], names: readonly string[], skip: ReadonlySet<string>, maxEntries = MAX_NESTED_WALK): Promise<NestedScan> {
  const want = new Set(names);
  const entries = new Map<string, NestedEntry>();
  let walked = 0;
  let complete = true;
  const stack = roots.filter((r) => !skip.has(r));
  const seen = new Set<string>();
  while (stack.length) {
    const dir = stack.pop()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    let list;
    try {
      list = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of list) {
      if (++walked > maxEntries) {
        complete = false;
        return { entries, complete };
      }
      const p = join(dir, d.name);
      if (skip.has(p)) continue;
      if (want.has(d.name)) {
        const id = identity(p);
        if (id) entries.set(p, id);
        continue; // its inside is git's, not the project's
      }
      if (d.isDirectory()) stack.push(p);
    }
  }
  return { entries, complete };
}

/** The git directory a `.git` file points to (`gitdir: PATH`), and that one's `commondir`. */
function gitdirTargets(gitFile: string): string[] {
  const out: string[] = [];
  try {
    const text = readFileSync(gitFile, 'utf8');
    const m = /^gitdir:\s*(.+?)\s*$/m.exec(text);
    if (!m) return out;
    const target = resolve(dirname(gitFile), m[1]!);
    const real = realpathSync(target);
    out.push(real);
    try {
      const common = readFileSync(join(real, 'commondir'), 'utf8').trim();
      if (common) out.push(realpathSync(isAbsolute(common) ? common : resolve(real, common)));
    } catch {
      /* no commondir: not a linked worktree */
    }
  } catch {
    /* unreadable or dangling: git cannot use it either */
  }
  return out;
}

/**
 * The bwrap arguments that keep `protect` (paths) and nested `protectNested` names read-only inside
 * the writable paths. Mounts placeholders' sources in a scratch directory; call release() after
 * the run, in every case.
 */
export async function planProtection(writable: readonly string[], protect: readonly string[], protectNested: readonly string[]): Promise<Protection> {
  const out: Protection = { args: [], placeholders: [], bound: [], nestedBefore: null, skip: [], scratch: null };
  const roBound = new Set<string>();
  const roBind = (real: string) => {
    if (roBound.has(real)) return;
    roBound.add(real);
    out.args.push('--ro-bind', real, real);
  };
  try {
    const skip = new Set<string>();
    for (const p of protect) {
      let parent: string;
      try {
        parent = realpathSync(dirname(p));
      } catch {
        continue; // its folder does not exist: nothing can be created there unless a writable path holds it, and then the folder would exist
      }
      const real = join(parent, basename(p));
      if (!inside(real, writable) || writable.includes(real)) {
        if (writable.includes(real)) throw new SandboxProtectionError(`${real} is protected (code outside the sandbox runs or trusts it) but was given as a writable path; grant it with \`protected:\` in the tool rule instead`);
        continue; // not writable anyway
      }
      skip.add(real);
      out.skip.push(real);
      let st;
      try {
        // A placeholder another run of this process mounted is still a placeholder: bound over as
        // one (and counted), never as an existing entry, or that run's clean-up would delete the
        // mount point under this run, and the kernel would drop this run's mount with it.
        st = placeholdersInUse.has(real) ? null : lstatSync(real);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        st = null;
      }
      if (st?.isSymbolicLink()) {
        let target = '?';
        try {
          target = readlinkSync(real);
        } catch {
          /* shown as ? */
        }
        throw new SandboxProtectionError(
          `${real} is a symbolic link (to ${target}); a link cannot be made read-only inside the sandbox, so the command could replace it with something git or your editor would run. ` +
          `Nothing was run. Replace the link with the directory itself (or a \`gitdir:\` file), or grant this command \`protected: [${basename(real)}]\` in its tool rule in your user policy.`,
        );
      }
      if (st) {
        roBind(real);
        out.bound.push(real);
        if (st.isFile() && basename(real) === '.git') for (const t of gitdirTargets(real)) if (inside(t, writable)) roBind(t);
        continue;
      }
      if (!out.scratch) {
        out.scratch = mkdtempSync(join(tmpdir(), 'hearth-protect-'));
        mkdirSync(join(out.scratch, 'dir'), { mode: 0o555 });
        writeFileSync(join(out.scratch, 'file'), '', { mode: 0o444 });
        chmodSync(join(out.scratch, 'dir'), 0o555);
      }
      placeholdersInUse.set(real, (placeholdersInUse.get(real) ?? 0) + 1);
      out.placeholders.push(real);
      out.args.push('--ro-bind', join(out.scratch, placeholderKind(real)), real);
    }
    if (protectNested.length && writable.length) {
      const scan = await scanNested(writable, protectNested, skip);
      out.nestedBefore = scan;
      for (const [p, id] of scan.entries) {
        if (id.kind === 'dir' || id.kind === 'file') roBind(p);
        if (id.kind === 'file') for (const t of gitdirTargets(p)) if (inside(t, writable)) roBind(t);
        if (id.kind === 'symlink') {
          try {
            const t = realpathSync(p);
            if (inside(t, writable) && statSync(t).isDirectory()) roBind(t);
          } catch {
            /* dangling */
          }
        }
      }
    }
    return out;
  } catch (e) {
    releaseProtection(out);
    throw e;
  }
}

/**
 * Remove the placeholders bwrap left on the host (when no other run still uses them), and the
 * scratch folder. A placeholder that is no longer empty means its mount point was deleted from
 * outside during the run (the kernel then drops the mount in the sandbox too, and the command could
 * create the entry): it is moved aside like a planted nested `.git`, and returned.
 */
export function releaseProtection(p: Protection): BlockedEntry[] {
  const blocked: BlockedEntry[] = [];
  for (const path of p.placeholders) {
    const n = (placeholdersInUse.get(path) ?? 1) - 1;
    if (n > 0) {
      placeholdersInUse.set(path, n);
      continue;
    }
    placeholdersInUse.delete(path);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue; // bwrap never created it (it failed early) or it is gone
    }
    try {
      // What bwrap made: an empty directory or an empty file.
      if (st.isDirectory()) rmdirSync(path);
      else if (st.isFile() && st.size === 0) unlinkSync(path);
      else throw Object.assign(new Error('not empty'), { code: 'ENOTEMPTY' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        blocked.push({ path, movedTo: null, error: (e as Error).message });
        continue;
      }
      const movedTo = `${path}.hearth-blocked-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(path, movedTo);
        blocked.push({ path, movedTo });
      } catch (e2) {
        blocked.push({ path, movedTo: null, error: (e2 as Error).message });
      }
    }
  }
  p.placeholders = [];
  if (p.scratch) {
    try {
      chmodSync(join(p.scratch, 'dir'), 0o755);
    } catch {
      /* gone */
    }
    rmSync(p.scratch, { recursive: true, force: true });
    p.scratch = null;
  }
  return blocked;
}

/**
 * After the run: every nested protected entry that is new (an inode not there before) or was
 * swapped (a symlink now pointing elsewhere) is renamed to `NAME.hearth-blocked-XXXX` beside it,
 * where neither git nor an editor's repository scan looks. Returns what was moved.
 */
export async function blockPlanted(p: Protection, writable: readonly string[], protectNested: readonly string[]): Promise<{ blocked: BlockedEntry[]; complete: boolean }> {
  if (!p.nestedBefore) return { blocked: [], complete: true };
  const before = p.nestedBefore;
  const known = new Map<string, NestedEntry>();
  for (const id of before.entries.values()) known.set(`${id.dev}:${id.ino}`, id);
  const after = await scanNested(writable, protectNested, new Set(p.skip));
  const blocked: BlockedEntry[] = [];
  for (const [path, id] of after.entries) {
    const was = known.get(`${id.dev}:${id.ino}`);
    if (was && was.kind === id.kind && was.link === id.link) continue;
    const movedTo = `${path}.hearth-blocked-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, movedTo);
      blocked.push({ path, movedTo });
    } catch (e) {
      blocked.push({ path, movedTo: null, error: (e as Error).message });
    }
  }
  return { blocked, complete: before.complete && after.complete };
}
