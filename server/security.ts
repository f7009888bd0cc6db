// Filesystem checks for the socket directory, HEARTH_HOME and the token. Every refusal says what is
// wrong and the exact command that fixes it.
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';

export class SecurityError extends Error {
  constructor(message: string, readonly fix: string) {
    super(`${message}\n  fix: ${fix}`);
    this.name = 'SecurityError';
  }
}

export interface DirFinding { ok: boolean; message: string; fix?: string }

/** Inspects a private directory with lstat: must exist, be a real directory, ours, and 0700. */
export function inspectPrivateDir(dir: string): DirFinding {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return { ok: false, message: `${dir} does not exist`, fix: `it is created on the next \`hearth start\`` };
  }
  if (st.isSymbolicLink()) {
    return { ok: false, message: `${dir} is a symlink; Hearth will not put its socket behind a link someone else may control`, fix: `rm ${dir}  (Hearth recreates it as a private directory)` };
  }
  if (!st.isDirectory()) return { ok: false, message: `${dir} is not a directory`, fix: `rm ${dir}` };
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    return { ok: false, message: `${dir} is owned by uid ${st.uid}, not by you (uid ${uid})`, fix: `rm -r ${dir}  (or chown ${uid} ${dir})` };
  }
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    return { ok: false, message: `${dir} has mode ${mode.toString(8).padStart(4, '0')}; group or others can reach it`, fix: `chmod 700 ${dir}` };
  }
  return { ok: true, message: `${dir} is private (0700, yours, not a symlink)` };
}

/** Creates `dir` 0700 when missing, then insists it passes inspectPrivateDir. */
export function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
      fs.mkdirSync(dir, { mode: 0o700 });
    } else if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const finding = inspectPrivateDir(dir);
  if (!finding.ok) throw new SecurityError(`refusing to use ${dir}: ${finding.message}`, finding.fix ?? '');
}

export function inspectSecretFile(file: string): DirFinding {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return { ok: false, message: `${file} does not exist`, fix: 'it is created on the next `hearth start`' };
  }
  if (!st.isFile()) return { ok: false, message: `${file} is not a regular file`, fix: `rm ${file}` };
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return { ok: false, message: `${file} is not owned by you`, fix: `rm ${file}` };
  const mode = st.mode & 0o777;
  if (mode & 0o077) return { ok: false, message: `${file} has mode ${mode.toString(8).padStart(4, '0')}; others can read it`, fix: `chmod 600 ${file}` };
  return { ok: true, message: `${file} is private (0600)` };
}

/** Reads the token, creating a 256-bit one (0600, exclusive create) when there is none. */
export function ensureToken(file: string): string {
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      fs.writeSync(fd, crypto.randomBytes(32).toString('hex') + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readToken(file);
}

export function readToken(file: string): string {
  const finding = inspectSecretFile(file);
  if (!finding.ok) throw new SecurityError(`cannot use the token: ${finding.message}`, finding.fix ?? '');
  const token = fs.readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(token)) throw new SecurityError(`${file} does not hold a 256-bit hex token`, `rm ${file} && hearth start  (clients re-read it on connect)`);
  return token;
}

/** Constant-time comparison; a missing or malformed token is simply unequal. */
export function tokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
