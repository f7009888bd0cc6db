// The tools: each validates its arguments against a JSON schema, resolves what it would touch
// (for the capability check and the approval prompt), and then runs. Commands run in the sandbox;
// file reads, edits and HTTP fetches run in the core on paths and hosts the check has resolved.
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { applyPatch, createTwoFilesPatch } from 'diff';
import { BARE_REPO_MARKER, NESTED_PROTECTED, PROTECTED_NAMES, type SandboxRunner } from '../sandbox/index.js';
import type { CapabilityDecision, CapabilityQuery } from './capabilities.js';
import { HTTP_METHODS } from '../egress/gate.js';
import { fsyncDir } from '../store/fsutil.js';
import { MEMORY_KINDS } from '../memory/types.js';
import { describeChanges, GitBaseline, snapshotTree } from './changes.js';
import { resolveToolPath, type ResolvedPath } from './paths.js';
import type { ToolName } from './schema.js';

export const MAX_READ_BYTES = 4 * 1024 * 1024;
export const MAX_EDIT_BYTES = 8 * 1024 * 1024;
export const MAX_FETCH_BYTES = 4 * 1024 * 1024;

/** What the memory feature provides; memory.write only forwards to it. */
export type MemoryWriter = ((item: { text: string; kind: string; workspace: string; client: string | null }) => Promise<{ id: string }>) & {
  /** Why this client may not write memory now (e.g. paused), checked before anyone is asked to approve. */
  refuses?: (client: string | null) => string | null;
};

export interface ToolContext {
  actionId: string;
  /** Real path of the workspace root. */
  workspaceRoot: string;
  /** Where granted environment variables (credentials) are read from. */
  env: Readonly<Record<string, string | undefined>>;
  sandbox: SandboxRunner;
  memoryWriter: MemoryWriter | null;
  clientId: string | null;
  signal?: AbortSignal;
  /**
   * How `http.fetch` reaches the network: the daemon passes one that goes through its egress gate
   * (policy, redaction, ledger); without one (library use, unit tests) it is the global fetch.
   */
  httpFetch?: typeof globalThis.fetch;
}

/** What the approval prompt shows besides tool and arguments. */
export interface ToolPreview {
  argv?: string[];
  cwd?: string;
  path?: string;
  diff?: string;
  url?: string;
  host?: string;
  text?: string;
}

export interface ToolOutcome {
  status: 'ok' | 'error';
  error?: string;
  /** Returned to the caller (model / MCP client). */
  output: unknown;
  /** The part of the result kept in the audit record (no large bodies). */
  summary: Record<string, unknown>;
  exitCode: number | null;
  sandbox: unknown;
  filesChanged: { path: string; diff: string }[];
  undo?: { path: string; before: Buffer | null; after: Buffer };
}

export interface PreparedCall {
  query: CapabilityQuery;
  /** Identifies "the same call" for session/always grants. */
  subject: string;
  preview: ToolPreview;
  execute(decision: CapabilityDecision): Promise<ToolOutcome>;
}

export interface ToolDefinition<S extends TSchema = TSchema> {
  name: ToolName;
  description: string;
  inputSchema: S;
  prepare(args: Static<S>, ctx: ToolContext): Promise<PreparedCall>;
}

export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}

function outside(what: string, p: ResolvedPath, root: string): ToolInputError {
  return new ToolInputError(`${what} ${p.real} is outside the workspace ${root}; ${what === 'cwd' ? 'commands run' : 'edits are made'} only inside the workspace`);
}

// ---------------------------------------------------------------------------------------------

const FsReadArgs = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'File to read: relative to the workspace root, or absolute.' }),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_READ_BYTES, description: 'Read at most this many bytes (default 1 MiB).' })),
  },
  { additionalProperties: false },
);

const fsRead: ToolDefinition<typeof FsReadArgs> = {
  name: 'fs.read',
  description: 'Read a text file.',
  inputSchema: FsReadArgs,
  async prepare(args, ctx) {
    const p = resolveToolPath(ctx.workspaceRoot, args.path);
    return {
      query: { tool: 'fs.read', path: p },
      subject: p.real,
      preview: { path: p.real },
      async execute() {
        const limit = args.maxBytes ?? 1024 * 1024;
        const fh = await open(p.real, 'r');
        try {
          const st = await fh.stat();
          if (!st.isFile()) throw new ToolInputError(`${p.real} is not a regular file`);
          const buf = Buffer.alloc(Math.min(limit, st.size));
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          const content = buf.subarray(0, bytesRead).toString('utf8');
          return {
            status: 'ok',
            output: { path: p.real, content, bytes: st.size, truncated: st.size > bytesRead },
            summary: { path: p.real, bytes: st.size, returnedBytes: bytesRead },
            exitCode: null,
            sandbox: { kind: 'in-process', read: [p.real] },
            filesChanged: [],
          };
        } finally {
          await fh.close();
        }
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const FsEditArgs = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'File to change, inside the workspace (relative to its root, or absolute).' }),
    diff: Type.Optional(Type.String({ minLength: 1, description: 'A unified diff (one file) to apply.' })),
    edits: Type.Optional(
      Type.Array(
        Type.Object({ search: Type.String({ minLength: 1 }), replace: Type.String() }, { additionalProperties: false }),
        { minItems: 1, description: 'Search/replace edits, applied in order; each search text must occur exactly once.' },
      ),
    ),
    content: Type.Optional(Type.String({ description: 'The whole new content (creates the file if missing).' })),
  },
  { additionalProperties: false },
);

function countOccurrences(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

async function readExisting(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Write through a temp file + rename in the same directory: a symlink at `real` is replaced, never
 * followed. The data and the rename are on disk before this returns (the audit log then says the
 * edit was made, and a power cut must not leave an empty file behind that record).
 */
export async function writeAtomic(real: string, data: Buffer, mode?: number): Promise<void> {
  const tmp = join(dirname(real), `.${basename(real)}.hearth-${randomBytes(6).toString('hex')}`);
  const h = await open(tmp, 'wx', mode ?? 0o644);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  try {
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, real);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(real));
}

export function unifiedDiff(rel: string, before: string, after: string, created = false): string {
  return createTwoFilesPatch(created ? '/dev/null' : `a/${rel}`, `b/${rel}`, before, after, undefined, undefined, { context: 3 });
}

const fsEdit: ToolDefinition<typeof FsEditArgs> = {
  name: 'fs.edit',
  description: 'Change a file inside the workspace: apply a unified diff, search/replace edits, or write whole content. The user sees the diff before it is applied; it can be undone.',
  inputSchema: FsEditArgs,
  async prepare(args, ctx) {
    const given = [args.diff, args.edits, args.content].filter((x) => x !== undefined).length;
    if (given !== 1) throw new ToolInputError('fs.edit needs exactly one of diff, edits or content');
    const p = resolveToolPath(ctx.workspaceRoot, args.path);
    if (p.rel === null || p.rel === '.') throw outside('file', p, ctx.workspaceRoot);
    if (existsSync(p.real) && !statSync(p.real).isFile()) throw new ToolInputError(`${p.real} is not a regular file`);
    const beforeBuf = await readExisting(p.real);
    if (beforeBuf && beforeBuf.length > MAX_EDIT_BYTES) throw new ToolInputError(`${p.real} is ${beforeBuf.length} bytes; fs.edit changes files up to ${MAX_EDIT_BYTES} bytes`);
    if (beforeBuf?.includes(0)) throw new ToolInputError(`${p.real} looks binary (it holds NUL bytes); fs.edit only changes text files`);
    const before = beforeBuf?.toString('utf8') ?? '';
    let after: string;
    if (args.content !== undefined) {
      after = args.content;
    } else if (args.edits) {
      if (!beforeBuf) throw new ToolInputError(`${p.real} does not exist; use content to create a file`);
      after = before;
      args.edits.forEach((e, i) => {
        const n = countOccurrences(after, e.search);
        if (n !== 1) throw new ToolInputError(`edits[${i}].search occurs ${n} times in ${p.rel}; it must occur exactly once (add surrounding lines to make it unique)`);
        const at = after.indexOf(e.search);
        after = after.slice(0, at) + e.replace + after.slice(at + e.search.length);
      });
    } else {
      let patched: string | false;
      try {
        patched = applyPatch(before, args.diff!);
      } catch (e) {
        throw new ToolInputError(`the diff is not a valid unified diff: ${(e as Error).message}`);
      }
      if (patched === false) throw new ToolInputError(`the diff does not apply to ${p.rel} as it is now (its context or removed lines differ); read the file again and make a new diff`);
      after = patched;
    }
    const diff = unifiedDiff(p.rel, before, after, beforeBuf === null);
    const afterBuf = Buffer.from(after, 'utf8');
    return {
      query: { tool: 'fs.edit', path: p },
      subject: p.real,
      preview: { path: p.real, diff },
      async execute() {
        // The file must be as it was when the diff was shown; otherwise the user approved something else.
        const now = await readExisting(p.real);
        if ((now === null) !== (beforeBuf === null) || (now && beforeBuf && !now.equals(beforeBuf))) {
          return {
            status: 'error',
            error: `${p.real} changed while the edit waited for approval; nothing was written. Propose the edit again.`,
            output: null,
            summary: { path: p.real },
            exitCode: null,
            sandbox: { kind: 'in-process', write: [p.real] },
            filesChanged: [],
          };
        }
        const mode = beforeBuf ? (await stat(p.real)).mode & 0o7777 : undefined;
        await writeAtomic(p.real, afterBuf, mode);
        return {
          status: 'ok',
          output: { path: p.real, diff, created: beforeBuf === null },
          summary: { path: p.real, bytesBefore: beforeBuf?.length ?? null, bytesAfter: afterBuf.length },
          exitCode: null,
          sandbox: { kind: 'in-process', write: [p.real] },
          filesChanged: [{ path: p.real, diff }],
          undo: { path: p.real, before: beforeBuf, after: afterBuf },
        };
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const ShellRunArgs = Type.Object(
  {
    argv: Type.Array(Type.String(), { minItems: 1, description: 'The program and its arguments as a list, e.g. ["git","status"]. Never a shell string.' }),
    cwd: Type.Optional(Type.String({ minLength: 1, description: 'Working directory inside the workspace (default: its root).' })),
    stdin: Type.Optional(Type.String()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600000 })),
  },
  { additionalProperties: false },
);

/**
 * The workspace entries a command may not create or change (core/sandbox/protect.ts), less those
 * its rule grants. `HEAD` goes with `.git`, while there is none: without a `.git`, git takes a
 * folder holding HEAD, objects/ and refs/ for a bare repository and reads its config.
 */
export function protectedPaths(root: string, granted: readonly string[]): string[] {
  const names = PROTECTED_NAMES.filter((n) => !granted.includes(n));
  if (!granted.includes('.git') && !existsSync(join(root, '.git'))) names.push(BARE_REPO_MARKER);
  return names.map((n) => join(root, n));
}

const shellRun: ToolDefinition<typeof ShellRunArgs> = {
  name: 'shell.run',
  description: 'Run a program (argv list, no shell) in a sandbox: the system read-only, the workspace writable (except .git, .hearth, .vscode and the other entries code outside the sandbox runs), no network, a clean environment.',
  inputSchema: ShellRunArgs,
  async prepare(args, ctx) {
    const cwd = resolveToolPath(ctx.workspaceRoot, args.cwd ?? '.');
    if (cwd.rel === null) throw outside('cwd', cwd, ctx.workspaceRoot);
    if (!existsSync(cwd.real) || !statSync(cwd.real).isDirectory()) throw new ToolInputError(`cwd ${cwd.real} is not a directory`);
    const argv = [...args.argv];
    return {
      query: { tool: 'shell.run', argv, path: cwd },
      subject: JSON.stringify({ argv, cwd: cwd.rel }),
      preview: { argv, cwd: cwd.real },
      async execute(decision) {
        const writable = decision.profile.writable
          .map((w) => resolveToolPath(ctx.workspaceRoot, w))
          .filter((w) => w.rel !== null && existsSync(w.real))
          .map((w) => w.real);
        const env: Record<string, string> = {};
        const missing: string[] = [];
        for (const name of decision.profile.env) {
          const v = ctx.env[name];
          if (v === undefined) missing.push(name);
          else env[name] = v;
        }
        const spec = {
          argv,
          cwd: cwd.real,
          readOnly: [ctx.workspaceRoot],
          writable,
          // Nothing planted for later (core/sandbox/protect.ts): what code outside the sandbox
          // runs or trusts stays read-only, existing or not, unless the rule grants it.
          protect: protectedPaths(ctx.workspaceRoot, decision.profile.protected),
          protectNested: NESTED_PROTECTED.filter((n) => !decision.profile.protected.includes(n)),
          network: decision.profile.network,
          env,
          ...(args.stdin !== undefined ? { stdin: args.stdin } : {}),
          ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        };
        // What the command changes is recorded per file (the writable folders, walked before and after).
        const before = await snapshotTree(writable, { exclude: spec.protect });
        // Only inside bubblewrap: a repository's config (filters, textconv) could otherwise run its own commands.
        const git = existsSync(join(ctx.workspaceRoot, '.git')) && !ctx.sandbox.unavailableReason()
          ? await GitBaseline.before((g) => ctx.sandbox.run(g), ctx.workspaceRoot)
          : null;
        const r = await ctx.sandbox.run(spec);
        let filesChanged = await describeChanges(before, await snapshotTree(writable, { exclude: spec.protect }), ctx.workspaceRoot);
        if (git) filesChanged = await git.withDiffs(filesChanged);
        // A nested repository the command made (x/.git), or an entry it made after a placeholder's
        // mount point was deleted from outside, was moved aside after the run: say so.
        const planted = r.blocked.length
          ? `${argv[0]} created ${r.blocked.map((b) => b.path).join(', ')}, which git or an editor outside the sandbox would run; Hearth moved ${r.blocked.length === 1 ? 'it' : 'them'} aside (${r.blocked.map((b) => b.movedTo ?? `not moved: ${b.error}`).join(', ')}). ` +
            `To let this command write ${[...new Set(r.blocked.map((b) => basename(b.path)))].join(', ')}, grant it \`protected: [${[...new Set(r.blocked.map((b) => basename(b.path)))].join(', ')}]\` in its tool rule in your user policy (docs/sandbox.md).`
          : null;
        // Granted credentials are for the command only: never echoed back to the model or the audit log.
        const secrets = Object.entries(env).filter(([, v]) => v.length >= 4);
        const scrub = (text: string) => secrets.reduce((t, [k, v]) => t.split(v).join(`[REDACTED:${k}]`), text);
        r.stdout = scrub(r.stdout);
        r.stderr = scrub(r.stderr);
        const failed = r.timedOut ? `timed out after ${r.profile.timeoutMs} ms and was stopped` : r.truncated ? `printed more than ${r.profile.maxOutputBytes} bytes and was stopped` : null;
        const error = failed ? `${argv[0]} ${failed}` : planted;
        return {
          status: error ? 'error' : 'ok',
          ...(error ? { error } : {}),
          output: { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated, timedOut: r.timedOut },
          summary: {
            exitCode: r.exitCode,
            signal: r.signal,
            stdoutBytes: r.stdoutBytes,
            stderrBytes: r.stderrBytes,
            stdoutHead: r.stdout.slice(0, 2048),
            stderrHead: r.stderr.slice(0, 2048),
            truncated: r.truncated,
            timedOut: r.timedOut,
            durationMs: Math.round(r.durationMs),
            ...(missing.length ? { missingEnv: missing } : {}),
            ...(r.blocked.length ? { blocked: r.blocked } : {}),
            ...(!r.nestedChecked ? { nestedChecked: false } : {}),
            filesChanged: filesChanged.length,
          },
          exitCode: r.exitCode,
          sandbox: r.profile,
          filesChanged,
        };
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const HttpFetchArgs = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'http:// or https:// URL.' }),
    method: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: [...HTTP_METHODS] })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String()),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FETCH_BYTES })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 120000 })),
  },
  { additionalProperties: false },
);

const httpFetch: ToolDefinition<typeof HttpFetchArgs> = {
  name: 'http.fetch',
  description: 'Fetch a URL from an allowed host. Redirects are not followed (a redirect to another host needs its own call).',
  inputSchema: HttpFetchArgs,
  async prepare(args, ctx) {
    let url: URL;
    try {
      url = new URL(args.url);
    } catch {
      throw new ToolInputError(`url ${JSON.stringify(args.url)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ToolInputError('url must be http:// or https://');
    if (url.username || url.password) throw new ToolInputError('url must not carry credentials');
    const name = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const hostPort = `${name}:${port}`;
    return {
      query: { tool: 'http.fetch', host: { name, hostPort } },
      subject: `${url.protocol}//${hostPort}`,
      preview: { url: url.href, host: hostPort },
      async execute() {
        const limit = args.maxBytes ?? 1024 * 1024;
        // Only the egress gate opens connections off the machine; without it wired, nothing is sent.
        if (!ctx.httpFetch) throw new ToolInputError('http.fetch is not connected to the egress gate here, so nothing was sent');
        const res = await ctx.httpFetch(url, {
          method: args.method ?? 'GET',
          ...(args.headers ? { headers: args.headers } : {}),
          ...(args.body !== undefined ? { body: args.body } : {}),
          redirect: 'manual',
          signal: AbortSignal.timeout(args.timeoutMs ?? 30_000),
        });
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        if (res.body) {
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            const room = limit - size;
            if (chunk.length > room) {
              chunks.push(Buffer.from(chunk.subarray(0, room)));
              size += room;
              truncated = true;
              break;
            }
            chunks.push(Buffer.from(chunk));
            size += chunk.length;
          }
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = Object.fromEntries(res.headers.entries());
        return {
          status: 'ok',
          output: { status: res.status, headers, body, truncated },
          summary: { status: res.status, bytes: size, truncated, contentType: res.headers.get('content-type') },
          exitCode: null,
          sandbox: { kind: 'in-process', network: [hostPort] },
          filesChanged: [],
        };
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

const MemoryWriteArgs = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 20000 }),
    kind: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: [...MEMORY_KINDS] })),
  },
  { additionalProperties: false },
);

const memoryWrite: ToolDefinition<typeof MemoryWriteArgs> = {
  name: 'memory.write',
  description: "Save a note to the user's Hearth memory (local to this machine).",
  inputSchema: MemoryWriteArgs,
  async prepare(args, ctx) {
    const refused = ctx.memoryWriter?.refuses?.(ctx.clientId);
    if (refused) throw new ToolInputError(refused);
    return {
      query: { tool: 'memory.write' },
      subject: 'memory',
      preview: { text: args.text },
      async execute() {
        if (!ctx.memoryWriter) {
          return { status: 'error', error: 'memory is not available in this Hearth (no memory writer is configured); nothing was saved', output: null, summary: {}, exitCode: null, sandbox: { kind: 'in-process' }, filesChanged: [] };
        }
        const { id } = await ctx.memoryWriter({ text: args.text, kind: args.kind ?? 'note', workspace: ctx.workspaceRoot, client: ctx.clientId });
        return { status: 'ok', output: { id }, summary: { id, bytes: Buffer.byteLength(args.text) }, exitCode: null, sandbox: { kind: 'in-process' }, filesChanged: [] };
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

export const TOOLS: readonly ToolDefinition[] = [fsRead, fsEdit, shellRun, httpFetch, memoryWrite] as unknown as ToolDefinition[];

// validateSchema off: the schemas are ours (TypeBox); checking them against the meta-schema cost start-up time.
const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
// Compiled on first use of each tool (every CLI command loads this module).
const validators = new Map<string, ValidateFunction>();

export function toolByName(name: string): ToolDefinition | undefined {
  return TOOLS.find((t) => t.name === name);
}

/** Validate arguments; throws ToolInputError naming every failing path. */
export function validateArgs(tool: ToolDefinition, args: unknown): void {
  let v = validators.get(tool.name);
  if (!v) validators.set(tool.name, (v = ajv.compile(tool.inputSchema)));
  if (v(args)) return;
  const problems = (v.errors ?? []).map((e) => `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`);
  throw new ToolInputError(`invalid arguments for ${tool.name}: ${problems.join('; ')}`);
}
