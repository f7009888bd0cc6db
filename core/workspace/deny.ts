// Whether the policy deny-lists a workspace file, matched as core/routing matches a piece's path:
// the policy's denyPaths (the built-in list plus the user's and the workspace's `redact.denyPaths`)
// against the absolute path and the path relative to the workspace root.
import path from 'node:path';
import type { Policy } from '../policy/index.js';

export function deniedByPolicy(policy: Pick<Policy, 'denyPaths'>, absPath: string, root: string): boolean {
  const candidates = [absPath];
  const rel = path.relative(root, absPath);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) candidates.push(path.sep === '/' ? rel : rel.split(path.sep).join('/'));
  return policy.denyPaths.some((d) => d.match(candidates));
}
