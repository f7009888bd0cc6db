// Running one command in a bubblewrap sandbox: the system read-only, only the granted paths
// writable, no network unless granted, a clean environment holding only the variables granted to
// this action, no capabilities (Hearth may run as root), a new session, a timeout and output caps.
//
// bwrap's arguments are passed through a pipe (`--args 3`), not the command line, so granted
// credentials (`--setenv NAME VALUE`) never appear in /proc/<pid>/cmdline for other processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { blockPlanted, planProtection, releaseProtection, type BlockedEntry } from './protect.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const MAX_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** PATH inside the sandbox. */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';
export const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`; Arch: `pacman -S bubblewrap`)';

/** Files under /etc that programs commonly need; the rest of /etc (shadow, ssh keys, ...) stays out. */
const ETC_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/alternatives',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/gitconfig',
  '/etc/mime.types',
];

export interface SandboxSpec {
  /** The program and its arguments; argv[0] is looked up in the sandbox's PATH. Never a shell string. */
  argv: readonly string[];
  /** Absolute working directory; it must be inside one of the bound paths. */
  cwd: string;
  /** Host paths visible read-only (beyond the system directories). */
  readOnly?: readonly string[];
  /** Host paths the command may write. */
  writable?: readonly string[];
  /**
   * Paths inside `writable` the command may neither create nor change (e.g. a workspace's .git and
   * .hearth, core/sandbox/protect.ts): bound read-only when they exist, a read-only placeholder
   * mounted at the path when they do not (removed from the host after the run).
   */
  protect?: readonly string[];
  /** Names (e.g. `.git`) guarded at any depth below the writable paths: existing ones read-only, new ones moved aside after the run. */
  protectNested?: readonly string[];
  /** Share the host's network (only with an http grant). Default: no network at all. */
  network?: boolean;
  /** The whole environment of the command (PATH and HOME are added when missing). */
  env?: Readonly<Record<string, string>>;
  stdin?: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

/** What the sandbox allowed, as recorded in the audit log (variable names only, never values). */
export interface SandboxProfile {
  kind: 'bwrap' | 'unsandboxed';
  network: boolean;
  readOnly: string[];
  writable: string[];
  protect: string[];
  protectNested: string[];
  env: string[];
  timeoutMs: number;
  maxOutputBytes: number;
}

export interface SandboxResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Bytes the command wrote to each stream (also past the cap). */
  stdoutBytes: number;
  stderrBytes: number;
  /** Output passed maxOutputBytes: the command was stopped and the output cut. */
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
  profile: SandboxProfile;
  /** Nested protected entries (`protectNested`) the command created or swapped, and where Hearth moved them. */
  blocked: BlockedEntry[];
  /** false when the nested check stopped at its walk limit (very large trees). */
  nestedChecked: boolean;
}

export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

export interface SandboxRunnerOptions {
  /** Path of bwrap; default: /usr/bin/bwrap, else the first `bwrap` on PATH. */
  bwrapPath?: string | null;
  /** Run without a sandbox when bwrap is missing. Only when the user's policy explicitly says so. */
  allowUnsandboxed?: boolean;
}

export function findBwrap(pathEnv: string | undefined = process.env.PATH): string | null {
  const candidates = ['/usr/bin/bwrap', ...(pathEnv ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'bwrap'))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

function systemArgs(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      // merged-/usr systems: keep the link (its target is under the read-only /usr)
      args.push('--symlink', realpathSync(dir), dir);
    } else {
      args.push('--ro-bind', dir, dir);
    }
  }
  for (const f of ETC_FILES) args.push('--ro-bind-try', f, f);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp', '--tmpfs', '/run');
  return args;
}

function checkAbsolute(what: string, p: string): string {
  if (!isAbsolute(p)) throw new Error(`sandbox: ${what} must be an absolute path (got ${JSON.stringify(p)})`);
  if (!existsSync(p)) throw new Error(`sandbox: ${what} ${p} does not exist`);
  return realpathSync(p);
}

/** The bwrap arguments for a spec (without the command). Exposed for tests and `hearth doctor`. */
export function bwrapArgs(spec: SandboxSpec, env: Record<string, string>, protection: readonly string[] = []): string[] {
  const args = ['--unshare-all'];
  if (spec.network) args.push('--share-net');
  args.push('--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--hostname', 'hearth-sandbox');
  args.push(...systemArgs());
  for (const p of spec.readOnly ?? []) {
    const real = checkAbsolute('read-only path', p);
    args.push('--ro-bind', real, real);
  }
  for (const p of spec.writable ?? []) {
    const real = checkAbsolute('writable path', p);
    args.push('--bind', real, real);
  }
  // After the writable binds, so they cover them (planProtection: existing ones and placeholders).
  args.push(...protection);
  args.push('--clearenv');
  for (const [k, v] of Object.entries(env)) args.push('--setenv', k, v);
  // Nothing outside the binds above can be created or changed, not even in the sandbox's root.
  args.push('--remount-ro', '/');
  args.push('--chdir', realpathSync(spec.cwd));
  return args;
}

function sandboxEnv(spec: SandboxSpec): Record<string, string> {
  const env: Record<string, string> = { PATH: SANDBOX_PATH, HOME: '/tmp', LANG: 'C.UTF-8', ...spec.env };
  for (const k of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`sandbox: ${JSON.stringify(k)} is not a valid environment variable name`);
  }
  return env;
}

export class SandboxRunner {
  readonly bwrapPath: string | null;
  readonly allowUnsandboxed: boolean;

  constructor(opts: SandboxRunnerOptions = {}) {
    this.bwrapPath = opts.bwrapPath === undefined ? findBwrap() : opts.bwrapPath;
    this.allowUnsandboxed = opts.allowUnsandboxed ?? false;
  }

  /** Why commands cannot run, or null when they can. */
  unavailableReason(): string | null {
    if (this.bwrapPath || this.allowUnsandboxed) return null;
    return `bubblewrap (bwrap) is not installed, so Hearth refuses to run commands: nothing was run. To fix it, ${INSTALL_HINT}. ` +
      'To run tool commands without a sandbox instead (not recommended), set `tools: { unsandboxed: allow }` in your user policy.';
  }

  profileOf(spec: SandboxSpec): SandboxProfile {
    return {
      kind: this.bwrapPath ? 'bwrap' : 'unsandboxed',
      network: this.bwrapPath ? Boolean(spec.network) : true,
      readOnly: [...(spec.readOnly ?? [])],
      writable: this.bwrapPath ? [...(spec.writable ?? [])] : ['/'],
      protect: this.bwrapPath ? [...(spec.protect ?? [])] : [],
      protectNested: this.bwrapPath ? [...(spec.protectNested ?? [])] : [],
      env: Object.keys(sandboxEnv(spec)).sort(),
      timeoutMs: clampTimeout(spec.timeoutMs),
      maxOutputBytes: spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    };
  }

  async run(spec: SandboxSpec): Promise<SandboxResult> {
    const reason = this.unavailableReason();
    if (reason) throw new SandboxUnavailableError(reason);
    if (spec.argv.length === 0 || spec.argv.some((a) => typeof a !== 'string')) {
      throw new Error('sandbox: argv must be a non-empty list of strings');
    }
    if (!isAbsolute(spec.cwd)) throw new Error(`sandbox: cwd must be absolute (got ${JSON.stringify(spec.cwd)})`);
    if (this.bwrapPath) {
      const bound = [...(spec.readOnly ?? []), ...(spec.writable ?? [])].map((p) => (existsSync(p) ? realpathSync(p) : p));
      const cwdReal = existsSync(spec.cwd) ? realpathSync(spec.cwd) : spec.cwd;
      if (!bound.some((b) => cwdReal === b || cwdReal.startsWith(b.endsWith('/') ? b : b + '/'))) {
        throw new Error(`sandbox: cwd ${spec.cwd} is not inside any path bound into the sandbox (${bound.join(', ') || 'none'}); bind it read-only or writable`);
      }
    }
    const env = sandboxEnv(spec);
    const profile = this.profileOf(spec);
    const started = performance.now();
    let child: ChildProcess;
    if (this.bwrapPath) {
      const writableReal = (spec.writable ?? []).map((p) => checkAbsolute('writable path', p));
      const protection = await planProtection(writableReal, spec.protect ?? [], spec.protectNested ?? []);
      let args: string[];
      try {
        args = bwrapArgs(spec, env, protection.args);
      } catch (e) {
        releaseProtection(protection);
        throw e;
      }
      child = spawn(this.bwrapPath, ['--args', '3', '--', ...spec.argv], {
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        env: {},
        detached: true,
      });
      const argPipe = child.stdio[3] as NodeJS.WritableStream | null;
      argPipe?.on('error', () => undefined);
      argPipe?.end(Buffer.from(args.map((a) => a + '\0').join(''), 'utf8'));
      let result: SandboxResult;
      let unpinned;
      try {
        result = await collect(child, spec, profile, started);
      } finally {
        // The sandbox is gone (bwrap exits when its pid namespace does): nothing inside still runs.
        unpinned = releaseProtection(protection);
      }
      const planted = await blockPlanted(protection, writableReal, spec.protectNested ?? []);
      result.blocked = [...unpinned, ...planted.blocked];
      result.nestedChecked = planted.complete;
      return result;
    } else {
      const [cmd, ...rest] = spec.argv as [string, ...string[]];
      child = spawn(cmd, rest, { cwd: spec.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    }
    return collect(child, spec, profile, started);
  }
}

function clampTimeout(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_TIMEOUT_MS;
  return Math.max(1, Math.min(MAX_TIMEOUT_MS, Math.floor(ms)));
}

function collect(child: ChildProcess, spec: SandboxSpec, profile: SandboxProfile, started: number): Promise<SandboxResult> {
  const cap = profile.maxOutputBytes;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let kept = 0;
  let stdoutBytes = 0;
  let stderrBytes = 0;
  let truncated = false;
  let timedOut = false;
  const kill = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL'); // the whole process group (detached: its own group)
    } catch {
      child.kill('SIGKILL');
    }
  };
  const take = (chunks: Buffer[], chunk: Buffer) => {
    const room = cap - kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      chunks.push(part);
      kept += part.length;
    }
    if (chunk.length > room && !truncated) {
      truncated = true;
      kill();
    }
  };
  child.stdout?.on('data', (c: Buffer) => {
    stdoutBytes += c.length;
    take(out, c);
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderrBytes += c.length;
    take(err, c);
  });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(spec.stdin ?? '');
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, profile.timeoutMs);
  const onAbort = () => kill();
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  // An 'abort' listener added to an already-aborted signal never fires: stop the command now.
  if (spec.signal?.aborted) kill();
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        stdoutBytes,
        stderrBytes,
        truncated,
        timedOut,
        durationMs: performance.now() - started,
        profile,
        blocked: [],
        nestedChecked: true,
      });
    });
  });
}
