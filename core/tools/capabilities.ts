// Scoped capabilities: which tool call may run without asking, must be asked about, or is refused.
// Rules match the tool plus exact argv patterns (element by element on the parsed argv, never a
// string prefix), path globs (on resolved real paths) and hosts. Every matching rule counts and
// the strictest wins (deny > ask > allow). A workspace policy can only tighten the user's.
import { join } from 'node:path';
import picomatch from 'picomatch';
import { formatPath, parsePolicyText, readTextIfExists, WORKSPACE_POLICY_PATH, type ParsedPolicyFile } from '../policy/load.js';
import { formatOrigin, PolicyError, strictness, type Action, type Origin, type PolicyDiagnostic } from '../policy/types.js';
import { DEFAULT_DENY_PATHS } from '../policy/load.js';
import { expandHome } from './paths.js';
import { PROTECTED_ENTRIES } from '../sandbox/protect.js';
import type { ToolName } from './schema.js';

export const DEFAULT_GRANT_DAYS = 90;
const BUILTIN: Origin = { file: null, line: 0, col: 0 };

export interface ToolRule {
  name?: string;
  tools: ToolName[];
  argv?: string[];
  paths?: string[];
  hosts?: string[];
  action: Action;
  writable?: string[];
  network?: boolean;
  env?: string[];
  /** Protected workspace entries (core/sandbox/protect.ts) the command may write. */
  protected?: string[];
  origin: Origin;
  scope: 'builtin' | 'user' | 'workspace';
  /** Built-in rules decided by code rather than patterns (the destructive-command check). */
  test?: (call: CapabilityQuery) => string | null;
  matchPath?: (p: { real: string; rel: string | null }) => boolean;
  matchHost?: (host: string, hostPort: string) => boolean;
}

export interface ToolPolicy {
  default: { action: Action; origin: Origin };
  /** Commands may run without bubblewrap when it is missing (only the user policy can say so). */
  unsandboxed: boolean;
  grantDays: number;
  rules: ToolRule[];
  warnings: PolicyDiagnostic[];
  files: string[];
}

/** What the capability check looks at: the parsed call, resolved. */
export interface CapabilityQuery {
  tool: ToolName;
  argv?: readonly string[];
  /** The file (fs.*) or working directory (shell.run), resolved. */
  path?: { real: string; rel: string | null };
  /** http.fetch: host name, and host:port. */
  host?: { name: string; hostPort: string };
}

export interface CapabilityDecision {
  action: Action;
  /** The rule (or default) that decided, e.g. `/home/me/.config/hearth/policy.yaml:12:5 "git reads"`. */
  rule: string;
  /** Why a built-in check fired (destructive command), when it did. */
  detail: string | null;
  /**
   * The sandbox profile the matching rules give (shell.run). `protected`: the protected entries
   * (`.git`, `.hearth`, ...) the command may write, granted explicitly by a user rule.
   */
  profile: { writable: string[]; network: boolean; env: string[]; protected: string[] };
  /**
   * What the approval must warn about: a command granted to write protected entries, or an edit
   * of one (`.git/config`, `.vscode/tasks.json`, ...). Shown after the reason in every client.
   */
  warning: string | null;
}

// ---------------------------------------------------------------------------------------------
// argv patterns

/**
 * Element-wise match: each pattern element equals the argv element exactly, `*` matches any one
 * element, and `**` (only as the last element) matches any number of remaining elements, including
 * none. `\*` and `\**` match a literal `*` / `**`. No element is ever split or prefix-matched, so
 * `["git","status"]` does not match `["git","status;rm"]` nor `["git","status","&&","rm"]`.
 */
export function matchArgv(pattern: readonly string[], argv: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '**') return true; // validated to be last
    if (i >= argv.length) return false;
    if (p === '*') continue;
    const literal = p === '\\*' ? '*' : p === '\\**' ? '**' : p;
    if (argv[i] !== literal) return false;
  }
  return argv.length === pattern.length;
}

export function checkArgvPattern(pattern: readonly string[]): string | null {
  const i = pattern.indexOf('**');
  if (i !== -1 && i !== pattern.length - 1) return `"**" may only be the last element (it matches the rest of the argv); found at position ${i}`;
  if (pattern[0] === '**' || pattern[0] === '*') return 'the first element must name the program (a wildcard there would match every command)';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Destructive commands: denied by the built-in policy without prompting (deny wins over any grant).

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'fish', 'busybox']);
const PRIVILEGE = new Set(['sudo', 'su', 'doas', 'pkexec', 'runuser']);
const POWER = new Set(['shutdown', 'reboot', 'halt', 'poweroff', 'init', 'telinit']);
const DISK = /^(mkfs(\..+)?|mke2fs|wipefs|fdisk|sfdisk|parted|mkswap|blkdiscard)$/;

function base(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}

/** A target that stands for the whole system or a home directory. */
function isRootish(t: string): boolean {
  const s = t.replace(/\/+$/, '') || '/';
  return (
    s === '/' || s === '/*' || s === '~' || s === '~/' || s === '~/*' || s === '$HOME' || s === '${HOME}' || s === '.' || s === '..' || s === '*' ||
    /^\/(\*|bin|boot|dev|etc|home|lib|lib64|opt|proc|root|sbin|srv|sys|usr|var)(\/\*)?$/.test(s)
  );
}

/** Why this argv is destructive, or null. Looks through `env`, `nice`, `xargs`, `sh -c "..."` wrappers. */
export function destructiveReason(argv: readonly string[], depth = 0): string | null {
  if (argv.length === 0 || depth > 4) return null;
  const prog = base(argv[0]!);
  const args = argv.slice(1);
  if (PRIVILEGE.has(prog)) return `${prog} runs commands with other privileges`;
  if (POWER.has(prog)) return `${prog} stops or restarts the machine`;
  if (DISK.test(prog)) return `${prog} rewrites disks or partitions`;
  if (['env', 'nice', 'nohup', 'timeout', 'time', 'xargs', 'command', 'exec', 'stdbuf', 'ionice', 'chrt'].includes(prog)) {
    const rest = args.findIndex((a) => !a.startsWith('-') && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a) && !(prog === 'timeout' && /^\d/.test(a)));
    return rest === -1 ? null : destructiveReason(args.slice(rest), depth + 1);
  }
  if (SHELLS.has(prog)) {
    const c = args.indexOf('-c');
    const script = c !== -1 ? args[c + 1] : undefined;
    if (script !== undefined) {
      // Not a shell parser: split on separators and whitespace, and look at each simple command.
      for (const part of script.split(/;|&&|\|\||\||\n|&|`|\$\(|\)/)) {
        const words = part.trim().split(/\s+/).filter(Boolean).map((w) => w.replace(/^['"]|['"]$/g, ''));
        const r = destructiveReason(words, depth + 1);
        if (r) return `${prog} -c runs: ${r}`;
      }
    }
    return null;
  }
  const flags = args.filter((a) => a.startsWith('-') && a !== '--');
  const targets = args.filter((a) => !a.startsWith('-') || a === '--').filter((a) => a !== '--');
  const hasShort = (ch: string) => flags.some((f) => /^-[A-Za-z]+$/.test(f) && f.includes(ch));
  if (prog === 'rm') {
    const recursive = hasShort('r') || hasShort('R') || flags.includes('--recursive');
    if (flags.includes('--no-preserve-root')) return 'rm --no-preserve-root deletes the whole system';
    const t = targets.find(isRootish);
    if (recursive && t !== undefined) return `rm -r on ${t} deletes the system or a home directory`;
    return null;
  }
  if ((prog === 'chmod' || prog === 'chown' || prog === 'chgrp') && (hasShort('R') || flags.includes('--recursive'))) {
    const t = targets.slice(1).find(isRootish);
    if (t !== undefined) return `${prog} -R on ${t} changes the whole system or a home directory`;
  }
  if (prog === 'dd' && args.some((a) => /^of=\/dev\/(?!null$|zero$|stdout$|stderr$)/.test(a))) return 'dd writes straight to a device';
  if ((prog === 'shred' || prog === 'truncate') && targets.some((t) => t.startsWith('/dev/'))) return `${prog} overwrites a device`;
  if (prog === 'find' && targets.length && isRootish(targets[0]!) && args.includes('-delete')) return `find ${targets[0]} -delete deletes the system or a home directory`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Compiling rules

function builtinRules(): ToolRule[] {
  return [
    {
      name: 'destructive commands are refused',
      tools: ['shell.run'],
      action: 'deny',
      origin: BUILTIN,
      scope: 'builtin',
      test: (q) => (q.argv ? destructiveReason(q.argv) : null),
    },
    {
      name: 'reading files inside the workspace',
      tools: ['fs.read'],
      paths: ['**'],
      action: 'allow',
      origin: BUILTIN,
      scope: 'builtin',
      matchPath: compilePathGlobs(['**']),
    },
    {
      name: 'secrets (.env, keys, credentials) need a confirmation',
      tools: ['fs.read'],
      paths: [...DEFAULT_DENY_PATHS],
      action: 'ask',
      origin: BUILTIN,
      scope: 'builtin',
      matchPath: compilePathGlobs([...DEFAULT_DENY_PATHS]),
    },
  ];
}

/** The policy when the user has written no `tools:` section. */
export function builtinToolPolicy(): ToolPolicy {
  return { default: { action: 'ask', origin: BUILTIN }, unsandboxed: false, grantDays: DEFAULT_GRANT_DAYS, rules: builtinRules(), warnings: [], files: [] };
}

/** Relative globs match the workspace-relative path (only inside the workspace); absolute ones the real path. */
function compilePathGlobs(globs: readonly string[]): (p: { real: string; rel: string | null }) => boolean {
  const rel = globs.filter((g) => !g.startsWith('/') && !g.startsWith('~'));
  const abs = globs.filter((g) => g.startsWith('/') || g.startsWith('~')).map(expandHome);
  const mRel = rel.length ? picomatch(rel, { dot: true }) : null;
  const mAbs = abs.length ? picomatch(abs, { dot: true }) : null;
  return (p) => Boolean((mAbs && mAbs(p.real)) || (mRel && p.rel !== null && (mRel(p.rel))));
}

function compileHostGlobs(globs: readonly string[]): (host: string, hostPort: string) => boolean {
  const m = picomatch(globs.map((g) => g.toLowerCase()), { dot: true });
  return (host, hostPort) => m(host.toLowerCase()) || m(hostPort.toLowerCase());
}

const APPLIES: Record<'argv' | 'paths' | 'hosts' | 'writable' | 'network' | 'env' | 'protected', readonly ToolName[]> = {
  argv: ['shell.run'],
  paths: ['fs.read', 'fs.edit', 'shell.run'],
  hosts: ['http.fetch'],
  writable: ['shell.run'],
  network: ['shell.run'],
  env: ['shell.run'],
  protected: ['shell.run', 'fs.edit'],
};

function compileSection(parsed: ParsedPolicyFile, scope: 'user' | 'workspace', diags: PolicyDiagnostic[]): { rules: ToolRule[] } {
  const section = parsed.data.tools;
  const out: ToolRule[] = [];
  const diag = (path: (string | number)[], message: string, severity: 'error' | 'warning') => {
    const o = parsed.originOf(path);
    diags.push({ file: parsed.file, line: o.line, col: o.col, path: formatPath(path), message, severity });
  };
  (section?.rules ?? []).forEach((r, i) => {
    const at = ['tools', 'rules', i];
    if (scope === 'workspace' && r.action === 'allow') {
      diag(at, 'is an allow rule; a workspace policy can only tighten the user policy (ask or deny), so this rule is ignored', 'warning');
      return;
    }
    let bad = false;
    for (const key of Object.keys(APPLIES) as (keyof typeof APPLIES)[]) {
      if (r[key] === undefined) continue;
      const wrong = r.tool.filter((t) => !APPLIES[key].includes(t));
      if (wrong.length) {
        diag([...at, key], `does not apply to ${wrong.join(', ')} (it applies to ${APPLIES[key].join(', ')}); split the rule per tool`, 'error');
        bad = true;
      }
    }
    if (r.argv) {
      const problem = checkArgvPattern(r.argv);
      if (problem) {
        diag([...at, 'argv'], problem, 'error');
        bad = true;
      }
    }
    if (bad) return;
    const rule: ToolRule = { tools: r.tool, action: r.action, origin: parsed.originOf(at), scope };
    if (r.name !== undefined) rule.name = r.name;
    if (r.argv) rule.argv = r.argv;
    try {
      if (r.paths) {
        rule.paths = r.paths;
        rule.matchPath = compilePathGlobs(r.paths);
      }
      if (r.hosts) {
        rule.hosts = r.hosts;
        rule.matchHost = compileHostGlobs(r.hosts);
      }
    } catch (e) {
      diag([...at, r.paths ? 'paths' : 'hosts'], `is not a valid glob: ${(e as Error).message}`, 'error');
      return;
    }
    if (r.writable) rule.writable = r.writable;
    if (r.network !== undefined) {
      if (scope === 'workspace' && r.network) diag([...at, 'network'], 'is ignored: only the user policy can give commands the network', 'warning');
      else rule.network = r.network;
    }
    if (r.env) {
      if (scope === 'workspace') diag([...at, 'env'], 'is ignored: only the user policy can pass environment variables (credentials) to commands', 'warning');
      else rule.env = r.env;
    }
    if (r.protected) {
      if (scope === 'workspace') diag([...at, 'protected'], 'is ignored: only the user policy can let commands write .git, .hearth and the other protected entries', 'warning');
      else rule.protected = [...new Set(r.protected)];
    }
    out.push(rule);
  });
  return { rules: out };
}

/** Compile the `tools:` sections of a user policy file and (optionally) a workspace policy file. */
export function compileToolPolicy(user: ParsedPolicyFile | null, workspace: ParsedPolicyFile | null = null): ToolPolicy {
  const policy = builtinToolPolicy();
  const diags: PolicyDiagnostic[] = [];
  if (user) {
    const s = user.data.tools;
    policy.files.push(user.file);
    if (s?.default) policy.default = { action: s.default, origin: user.originOf(['tools', 'default']) };
    if (s?.unsandboxed === 'allow') policy.unsandboxed = true;
    if (s?.grantDays !== undefined) policy.grantDays = s.grantDays;
    policy.rules.push(...compileSection(user, 'user', diags).rules);
  }
  if (workspace) {
    const s = workspace.data.tools;
    policy.files.push(workspace.file);
    const warn = (path: (string | number)[], message: string) => {
      const o = workspace.originOf(path);
      diags.push({ file: workspace.file, line: o.line, col: o.col, path: formatPath(path), message, severity: 'warning' });
    };
    if (s?.default) {
      if (strictness(s.default) < strictness(policy.default.action)) warn(['tools', 'default'], `would loosen the user default (${policy.default.action} → ${s.default}); a workspace policy can only tighten, so it is ignored`);
      else policy.default = { action: s.default, origin: workspace.originOf(['tools', 'default']) };
    }
    if (s?.unsandboxed === 'allow') warn(['tools', 'unsandboxed'], 'is ignored: only the user policy can allow running commands without a sandbox');
    if (s?.unsandboxed === 'deny') policy.unsandboxed = false;
    if (s?.grantDays !== undefined) {
      if (s.grantDays > policy.grantDays) warn(['tools', 'grantDays'], `would make grants last longer than the user policy allows (${policy.grantDays} days); ignored`);
      else policy.grantDays = s.grantDays;
    }
    policy.rules.push(...compileSection(workspace, 'workspace', diags).rules);
  }
  if (diags.some((d) => d.severity === 'error')) throw new PolicyError(diags);
  policy.warnings = diags;
  return policy;
}


/**
 * Read the tool policy for a workspace from the user policy file and `<root>/.hearth/policy.yaml`.
 * Throws PolicyError (with file:line:col) when either is invalid; callers should then refuse.
 */
export async function loadToolPolicy(opts: { userFile: string | null; workspaceRoot?: string | null }): Promise<ToolPolicy> {
  const userText = opts.userFile ? await readTextIfExists(opts.userFile) : null;
  const user = userText !== null && opts.userFile ? parsePolicyText(userText, opts.userFile) : null;
  let ws: ParsedPolicyFile | null = null;
  if (opts.workspaceRoot) {
    const file = join(opts.workspaceRoot, WORKSPACE_POLICY_PATH);
    const text = await readTextIfExists(file);
    if (text !== null) ws = parsePolicyText(text, file);
  }
  return compileToolPolicy(user, ws);
}

/** Policy text (one file's worth) → ToolPolicy; for tests and `hearth policy check`. */
export function toolPolicyFromText(userText: string, file = 'policy.yaml', workspaceText?: string, workspaceFile = '.hearth/policy.yaml'): ToolPolicy {
  return compileToolPolicy(parsePolicyText(userText, file), workspaceText === undefined ? null : parsePolicyText(workspaceText, workspaceFile));
}

// ---------------------------------------------------------------------------------------------
// Evaluating

function ruleLabel(r: ToolRule): string {
  return `${formatOrigin(r.origin)}${r.name ? ` "${r.name}"` : ''}`;
}

function ruleMatches(r: ToolRule, q: CapabilityQuery): { match: boolean; detail: string | null } {
  if (!r.tools.includes(q.tool)) return { match: false, detail: null };
  if (r.test) {
    const d = r.test(q);
    return { match: d !== null, detail: d };
  }
  if (r.argv && !(q.argv && matchArgv(r.argv, q.argv))) return { match: false, detail: null };
  if (r.matchPath && !(q.path && r.matchPath(q.path))) return { match: false, detail: null };
  if (r.matchHost && !(q.host && r.matchHost(q.host.name, q.host.hostPort))) return { match: false, detail: null };
  return { match: true, detail: null };
}

function insideOrEqual(p: string, q: string): boolean {
  const a = p.replace(/^\.\/?/, '').replace(/\/+$/, '');
  const b = q.replace(/^\.\/?/, '').replace(/\/+$/, '');
  return b === '' || a === b || a.startsWith(b + '/');
}

/** Intersection of two sets of subtrees (workspace-relative paths, '.' = everything). */
function narrow(a: readonly string[], b: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of a) if (b.some((q) => insideOrEqual(p, q))) out.add(p);
  for (const q of b) if (a.some((p) => insideOrEqual(q, p))) out.add(q);
  return [...out];
}

export function evaluateCapability(policy: ToolPolicy, q: CapabilityQuery): CapabilityDecision {
  let best: { action: Action; rule: string; detail: string | null } | null = null;
  let writable: string[] = ['.'];
  let netYes = false;
  let netNo = false;
  const env = new Set<string>();
  const prot = new Set<string>();
  for (const r of policy.rules) {
    const { match, detail } = ruleMatches(r, q);
    if (!match) continue;
    if (!best || strictness(r.action) > strictness(best.action)) best = { action: r.action, rule: ruleLabel(r), detail };
    if (r.writable) writable = narrow(writable, r.writable);
    if (r.network === true && r.scope !== 'workspace') netYes = true;
    if (r.network === false) netNo = true;
    for (const e of r.env ?? []) env.add(e);
    for (const n of r.protected ?? []) prot.add(n);
  }
  const decided = best ?? { action: policy.default.action, rule: `${formatOrigin(policy.default.origin)} (tools default: no rule matched)`, detail: null };
  const granted = [...prot].sort();
  let warning = q.tool === 'shell.run' ? protectedGrantNote(granted) : null;
  // fs.edit of a protected entry: never without a prompt unless a rule grants that entry.
  const touched = q.tool === 'fs.edit' ? protectedEntryOf(q.path?.rel ?? null) : null;
  if (touched) {
    warning = protectedEditNote(touched, q.path!.rel!);
    if (decided.action === 'allow' && !granted.includes(touched)) {
      decided.action = 'ask';
      decided.rule = `${decided.rule} (raised to ask: ${touched} is protected and no rule grants \`protected: [${touched}]\`)`;
    }
  }
  return { ...decided, profile: { writable, network: netYes && !netNo, env: [...env].sort(), protected: granted }, warning };
}

/**
 * What an approval says about a `protected:` grant, e.g. "this command may write .git/ (code that
 * runs outside the sandbox: git runs what its config names ...)". Every client shows it (it is in
 * the approval's reason), beside `sandbox.protected` for clients that render it themselves.
 */
export function protectedGrantNote(names: readonly string[]): string | null {
  if (!names.length) return null;
  const parts = names.map((n) => {
    const e = PROTECTED_ENTRIES.find((x) => x.name === n);
    return `${e?.kind === 'dir' ? `${n}/` : n}${e ? ` (${e.why})` : ''}`;
  });
  return `WARNING: this command may write ${parts.join('; ')}: code that runs outside the sandbox`;
}

/** The protected entry a workspace-relative path lies in (`.git/config` → `.git`; any `.git` at depth counts), or null. */
export function protectedEntryOf(rel: string | null): string | null {
  if (!rel || rel === '.') return null;
  const parts = rel.split('/');
  if (PROTECTED_ENTRIES.some((e) => e.name === parts[0])) return parts[0]!;
  if (parts.includes('.git')) return '.git';
  return null;
}

function protectedEditNote(entry: string, rel: string): string {
  const e = PROTECTED_ENTRIES.find((x) => x.name === entry);
  return `WARNING: this edit writes ${rel}, inside ${entry}${e?.kind === 'dir' ? '/' : ''}${e ? ` (${e.why})` : ''}: code that runs outside the sandbox`;
}
