// Resolving a path a tool call names: against the workspace root, through every symlink and `..`,
// so a policy glob is matched against where the bytes really are.
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { homedir } from 'node:os';

export interface ResolvedPath {
  /** Absolute real path (for a file that does not exist yet: its real parent + its name). */
  real: string;
  /** Path relative to the workspace's real root with `/` separators; null when outside it. */
  rel: string | null;
}

/** realpath of the deepest existing ancestor, with the missing tail appended. */
export function realpathLoose(p: string): string {
  const tail: string[] = [];
  let cur = resolve(p);
  for (;;) {
    try {
      const real = realpathSync(cur);
      return tail.length ? join(real, ...tail.reverse()) : real;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const parent = dirname(cur);
      if (parent === cur) return resolve(p);
      tail.push(basename(cur));
      cur = parent;
    }
  }
}

export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

export function workspaceReal(workspaceRoot: string): string {
  if (!isAbsolute(workspaceRoot)) throw new Error(`workspaceRoot must be an absolute path (got ${JSON.stringify(workspaceRoot)})`);
  return realpathSync(workspaceRoot);
}

export function relativeInside(root: string, real: string): string | null {
  if (real === root) return '.';
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) return null;
  return rel.split(sep).join('/');
}

/** Resolve `p` (absolute, `~/...`, or relative to the workspace) to its real location. */
export function resolveToolPath(workspaceRootReal: string, p: string): ResolvedPath {
  if (typeof p !== 'string' || p.length === 0) throw new Error('path must be a non-empty string');
  if (p.includes('\0')) throw new Error('path must not contain NUL bytes');
  const abs = resolve(workspaceRootReal, expandHome(p));
  const real = realpathLoose(abs);
  return { real, rel: relativeInside(workspaceRootReal, real) };
}
