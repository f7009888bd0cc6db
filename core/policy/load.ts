// Reading a policy: YAML text → schema check with line-accurate diagnostics → a compiled Policy.
// A workspace policy is merged onto the user's so that it can only tighten: anything in it that
// would loosen (an `allow` rule, a looser default, providers, routes) is reported and ignored.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import picomatch from 'picomatch';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ENV_NAME_PATTERN, PolicyFileSchema, type PolicyFile } from './schema.js';
import {
  EMBEDDED_KINDS,
  LOCATIONS,
  PolicyError,
  strictness,
  type Action,
  type DenyPath,
  type Feature,
  type Location,
  type Origin,
  type Policy,
  type PolicyDiagnostic,
  type PolicyRule,
  type ProviderConfig,
} from './types.js';

/**
 * Paths whose content never leaves the machine unredacted, whatever the rules say. Matched against
 * the path of a document under any URI scheme (file:, vscode-remote://host/..., untitled:...),
 * ignoring case. The list and the reason for each entry: docs/redaction.md.
 */
export const DEFAULT_DENY_PATHS: readonly string[] = [
  // environment files
  '**/.env',
  '**/.env.*',
  '**/*.env',
  '**/.envrc',
  '**/.flaskenv',
  // keys and certificates
  '**/*.pem',
  '**/*.key',
  '**/*.p12',
  '**/*.pfx',
  '**/*.jks',
  '**/*.keystore',
  '**/*.ppk',
  '**/*.keytab',
  '**/*.gpg',
  '**/*.kdbx',
  '**/id_rsa*',
  '**/id_dsa*',
  '**/id_ecdsa*',
  '**/id_ed25519*',
  '**/.ssh/**',
  '**/.gnupg/**',
  '**/master.key',
  '**/*.age',
  // credential stores of tools and clouds
  '**/credentials.json',
  '**/client_secret*.json',
  '**/*-sa.json',
  '**/*service-account*.json',
  '**/*service_account*.json',
  '**/application_default_credentials.json',
  '**/.config/gcloud/**',
  '**/.aws/credentials',
  '**/.aws/config',
  '**/.azure/**',
  '**/.kube/config',
  '**/kubeconfig',
  '**/kubeconfig.*',
  '**/*.kubeconfig',
  '**/.docker/config.json',
  '**/.npmrc',
  '**/.yarnrc.yml',
  '**/.pypirc',
  '**/.gem/credentials',
  '**/.cargo/credentials',
  '**/.cargo/credentials.toml',
  '**/.terraformrc',
  '**/credentials.tfrc.json',
  '**/*.tfvars',
  '**/*.tfstate',
  '**/*.tfstate.*',
  '**/.vault-token',
  '**/.config/gh/hosts.yml',
  '**/.netrc',
  '**/_netrc',
  '**/.pgpass',
  '**/.my.cnf',
  '**/.git-credentials',
  '**/.htpasswd',
  '**/.s3cfg',
  '**/.boto',
  // secret folders and files by name
  '**/secrets/**',
  '**/.secrets/**',
  '**/secrets.json',
  '**/secrets.y?(a)ml',
  '**/secrets.toml',
  '**/*.secret',
  '**/*.secrets',
];

const BUILTIN: Origin = { file: null, line: 0, col: 0 };
const BUILTIN_DEFAULTS: Record<Location, Action> = { local: 'allow', lan: 'ask', cloud: 'ask' };
const DEFAULT_BASE_URL: Record<string, string> = {
  openai: 'https://api.openai.com',
  anthropic: 'https://api.anthropic.com',
};

type PathSeg = string | number;

/** A schema-valid policy document with the positions of its nodes. */
export interface ParsedPolicyFile {
  file: string;
  data: PolicyFile;
  originOf(path: readonly PathSeg[]): Origin;
}

// validateSchema off: the schemas are ours (TypeBox); checking them against the meta-schema cost start-up time.
const ajv = new Ajv({ allErrors: true, coerceTypes: 'array', verbose: true, strict: false, validateSchema: false });
// Compiled on first use: every CLI command loads this module, few read a policy.
let compiled: ValidateFunction<PolicyFile> | undefined;
const policyValidator = (): ValidateFunction<PolicyFile> => (compiled ??= ajv.compile<PolicyFile>(PolicyFileSchema));

export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

/**
 * Parse and schema-check one policy file. Throws PolicyError whose diagnostics carry the line and
 * column of each problem.
 */
export function parsePolicyText(text: string, file: string): ParsedPolicyFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);
  const diagnostics: PolicyDiagnostic[] = [];
  for (const e of doc.errors) {
    const p = e.linePos?.[0] ?? pos(e.pos[0]);
    diagnostics.push({ file, line: p.line, col: p.col, path: '', message: e.message.split('\n')[0] ?? e.message, severity: 'error' });
  }
  if (diagnostics.length) throw new PolicyError(diagnostics);

  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PolicyError([{ file, line: 1, col: 1, path: '', message: 'a policy file must be a mapping of keys (version, default, providers, routes, rules, redact)', severity: 'error' }]);
  }
  const validate = policyValidator();
  if (!validate(raw)) {
    for (const err of validate.errors ?? []) diagnostics.push(describeAjvError(err, doc, file, pos));
    throw new PolicyError(dedupe(diagnostics));
  }
  const originOf = (path: readonly PathSeg[]): Origin => {
    const { node } = deepestNode(doc, path);
    const offset = node?.range?.[0] ?? 0;
    return { file, ...pos(offset) };
  };
  return { file, data: raw, originOf };
}

function dedupe(ds: PolicyDiagnostic[]): PolicyDiagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.line}:${d.col}:${d.path}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function splitPointer(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The node at `path`, or at the longest prefix of it that exists (a scalar coerced to a list). */
function deepestNode(doc: Document, path: readonly PathSeg[]): { node: Node | undefined; depth: number } {
  let node: unknown = doc.contents;
  let depth = 0;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
      next = pair?.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (next === undefined || next === null) break;
    node = next;
    depth++;
  }
  return { node: (node ?? undefined) as Node | undefined, depth };
}

function keyNode(doc: Document, mapPath: readonly PathSeg[], key: string): Node | undefined {
  const { node, depth } = deepestNode(doc, mapPath);
  if (depth !== mapPath.length || !isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : String(v);
}

function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = levenshtein(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function describeAjvError(
  err: ErrorObject,
  doc: Document,
  file: string,
  pos: (offset: number) => { line: number; col: number },
): PolicyDiagnostic {
  const path = splitPointer(err.instancePath);
  const { node, depth } = deepestNode(doc, path);
  // A scalar written where a list is allowed was coerced: report against what the user wrote.
  let shownPath = path.slice(0, Math.max(depth, 0));
  if (depth < path.length && !path.slice(depth).every((s) => typeof s === 'number')) shownPath = path;
  let at: Node | undefined = node;
  let message: string;
  const p = err.params as Record<string, unknown>;
  const field = path[path.length - 1];
  switch (err.keyword) {
    case 'enum':
      message = `must be one of ${(p.allowedValues as unknown[]).join(', ')} (got ${show(err.data)})`;
      break;
    case 'const':
      message = `must be ${show(p.allowedValue)} (got ${show(err.data)})`;
      break;
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = Object.keys((err.parentSchema as { properties?: object })?.properties ?? {});
      at = keyNode(doc, path, key) ?? node;
      shownPath = [...path, key];
      if (key === 'apiKey' || key === 'api_key' || key === 'key' || key === 'token') {
        message = 'is not allowed: a policy file never holds a key itself; store it with `hearth secrets set NAME` and name it with apiKeySecret (e.g. apiKeySecret: openai), or put it in an environment variable and name that with apiKeyEnv (e.g. apiKeyEnv: OPENAI_API_KEY)';
      } else {
        const guess = closest(key, allowed);
        message = `is not a known key${guess ? ` (did you mean "${guess}"?)` : ''}; allowed here: ${allowed.join(', ')}`;
      }
      break;
    }
    case 'required':
      message = `is missing the required key "${String(p.missingProperty)}"`;
      break;
    case 'type':
      message = `must be ${String(p.type)} (got ${show(err.data)})`;
      break;
    case 'pattern':
      if (field === 'apiKeyEnv') message = `must be the NAME of an environment variable (matching ${ENV_NAME_PATTERN}), never the key itself`;
      else if (field === 'apiKeySecret') message = 'must be the NAME of a secret stored with `hearth secrets set NAME` (letters, digits, ., _, -), never the key itself';
      else if (field === 'baseUrl') message = `must be an http:// or https:// URL (got ${show(err.data)})`;
      else message = `must match ${String(p.pattern)} (got ${show(err.data)})`;
      break;
    default:
      message = `${err.message ?? 'is invalid'}${err.data !== undefined && typeof err.data !== 'object' ? ` (got ${show(err.data)})` : ''}`;
  }
  const offset = at?.range?.[0] ?? 0;
  return { file, ...pos(offset), path: formatPath(shownPath), message, severity: 'error' };
}

// ---------------------------------------------------------------------------------------------
// Compiling and merging

function expandHome(glob: string): string {
  return glob.startsWith('~/') ? join(homedir(), glob.slice(2)) : glob;
}

function compileGlobs(globs: readonly string[], origin: Origin, path: readonly PathSeg[], diags: PolicyDiagnostic[], nocase = false) {
  try {
    const m = picomatch(globs.map(expandHome), { dot: true, nocase });
    return (candidates: readonly string[]) => candidates.some((c) => m(c));
  } catch (e) {
    diags.push({ file: origin.file ?? '', line: origin.line, col: origin.col, path: formatPath(path), message: `is not a valid glob: ${(e as Error).message}`, severity: 'error' });
    return () => false;
  }
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|\[?::ffff:127\.\d+\.\d+\.\d+\]?)$/i;
const PRIVATE = /^(10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|169\.254\.\d+\.\d+|\[?f[cd][0-9a-f]{2}:.*|[^.]+\.local|[^.]+\.lan)$/i;

/** Where a host is, judged from its name alone: loopback is local, private ranges are LAN. */
export function inferLocation(host: string): Location {
  if (LOOPBACK.test(host)) return 'local';
  if (PRIVATE.test(host)) return 'lan';
  return 'cloud';
}

function compileProviders(parsed: ParsedPolicyFile, diags: PolicyDiagnostic[]): ProviderConfig[] {
  const out: ProviderConfig[] = [];
  const seen = new Map<string, number>();
  (parsed.data.providers ?? []).forEach((p, i) => {
    const origin = parsed.originOf(['providers', i]);
    const err = (field: string, message: string) => {
      const o = parsed.originOf(['providers', i, field]);
      diags.push({ file: parsed.file, line: o.line, col: o.col, path: formatPath(['providers', i, field]), message, severity: 'error' });
    };
    if (seen.has(p.id)) err('id', `duplicates the id of providers[${seen.get(p.id)}]; provider ids must be unique`);
    seen.set(p.id, i);
    const embedded = EMBEDDED_KINDS.includes(p.kind);
    let location: Location = p.location ?? 'local';
    let baseUrl: string | undefined;
    if (embedded) {
      if (p.location && p.location !== 'local') err('location', `must be local: a ${p.kind} provider runs inside Hearth`);
      if (p.baseUrl) err('baseUrl', `is not used by a ${p.kind} provider (it runs inside Hearth); remove it`);
      location = 'local';
    } else {
      baseUrl = (p.baseUrl ?? DEFAULT_BASE_URL[p.kind] ?? '').replace(/\/+$/, '').replace(/\/v1$/, '');
      let host = '';
      try {
        host = new URL(baseUrl).hostname;
      } catch {
        err('baseUrl', `is not a valid URL (got ${JSON.stringify(p.baseUrl)})`);
      }
      const inferred = inferLocation(host);
      location = p.location ?? inferred;
      if (host && location === 'local' && inferred !== 'local') {
        err('location', `says local but ${host} is not a loopback address; use lan or cloud`);
      }
      if (!p.model) err('kind', `provider "${p.id}" (${p.kind}) needs a model: add model: NAME`);
    }
    const cfg: ProviderConfig = { id: p.id, kind: p.kind, location, origin };
    if (baseUrl !== undefined) cfg.baseUrl = baseUrl;
    if (p.model !== undefined) cfg.model = p.model;
    if (p.embeddingModel !== undefined) cfg.embeddingModel = p.embeddingModel;
    if (p.apiKeyEnv !== undefined) cfg.apiKeyEnv = p.apiKeyEnv;
    if (p.apiKeySecret !== undefined) cfg.apiKeySecret = p.apiKeySecret;
    if (p.features !== undefined) cfg.features = p.features;
    if (p.timeoutMs !== undefined) cfg.timeoutMs = p.timeoutMs;
    out.push(cfg);
  });
  return out;
}

function compileRules(parsed: ParsedPolicyFile, scope: 'user' | 'workspace', diags: PolicyDiagnostic[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  (parsed.data.rules ?? []).forEach((r, i) => {
    const origin = parsed.originOf(['rules', i]);
    if (scope === 'workspace' && r.action === 'allow') {
      diags.push({ file: parsed.file, line: origin.line, col: origin.col, path: `rules[${i}]`, message: 'is an allow rule; a workspace policy can only tighten the user policy (ask or deny), so this rule is ignored', severity: 'warning' });
      return;
    }
    const rule: PolicyRule = { action: r.action, origin, scope };
    if (r.name !== undefined) rule.name = r.name;
    if (r.feature) rule.feature = r.feature;
    if (r.dataClass) rule.dataClass = r.dataClass;
    if (r.provider) rule.provider = r.provider;
    if (r.location) rule.location = r.location;
    if (r.paths) {
      rule.paths = r.paths;
      rule.matchPath = compileGlobs(r.paths, origin, ['rules', i, 'paths'], diags);
    }
    out.push(rule);
  });
  return out;
}

function compileDenyPaths(parsed: ParsedPolicyFile, diags: PolicyDiagnostic[]): DenyPath[] {
  return (parsed.data.redact?.denyPaths ?? []).map((glob, i) => {
    const origin = parsed.originOf(['redact', 'denyPaths', i]);
    return { glob, origin, match: compileGlobs([glob], origin, ['redact', 'denyPaths', i], diags) };
  });
}

function builtinDenyPaths(): DenyPath[] {
  // Case-insensitive: `.ENV` or `ID_RSA` on a case-insensitive file system is the same file.
  return DEFAULT_DENY_PATHS.map((glob) => ({ glob, origin: BUILTIN, match: compileGlobs([glob], BUILTIN, [], [], true) }));
}

/** The policy in force when the user has written none: local engines for everything, nothing leaves. */
export function defaultPolicy(): Policy {
  return {
    userFile: null,
    workspaceFile: null,
    workspaceRoot: null,
    defaults: {
      local: { action: BUILTIN_DEFAULTS.local, origin: BUILTIN },
      lan: { action: BUILTIN_DEFAULTS.lan, origin: BUILTIN },
      cloud: { action: BUILTIN_DEFAULTS.cloud, origin: BUILTIN },
    },
    providers: [],
    routes: {},
    rules: [],
    denyPaths: builtinDenyPaths(),
    warnings: [],
  };
}

/** Compile a user policy file (already parsed). Throws PolicyError on semantic errors. */
export function compileUserPolicy(parsed: ParsedPolicyFile): Policy {
  const diags: PolicyDiagnostic[] = [];
  const policy = defaultPolicy();
  policy.userFile = parsed.file;
  for (const loc of LOCATIONS) {
    const a = parsed.data.default?.[loc];
    if (a) policy.defaults[loc] = { action: a, origin: parsed.originOf(['default', loc]) };
  }
  policy.providers = compileProviders(parsed, diags);
  const routes = (parsed.data.routes ?? {}) as Partial<Record<Feature, string[]>>;
  for (const [feature, order] of Object.entries(routes) as [Feature, string[]][]) {
    policy.routes[feature] = { order, origin: parsed.originOf(['routes', feature]) };
  }
  policy.rules = compileRules(parsed, 'user', diags);
  policy.denyPaths.push(...compileDenyPaths(parsed, diags));
  if (diags.some((d) => d.severity === 'error')) throw new PolicyError(diags);
  policy.warnings = diags;
  return policy;
}

/**
 * Apply a workspace policy on top of a user policy. The result is never looser than `user`:
 * only ask/deny rules, stricter defaults and extra deny paths are taken; the rest is a warning.
 */
export function applyWorkspacePolicy(user: Policy, parsed: ParsedPolicyFile, workspaceRoot: string): Policy {
  const diags: PolicyDiagnostic[] = [];
  const warn = (path: PathSeg[], message: string) => {
    const o = parsed.originOf(path);
    diags.push({ file: parsed.file, line: o.line, col: o.col, path: formatPath(path), message, severity: 'warning' });
  };
  const merged: Policy = {
    ...user,
    workspaceFile: parsed.file,
    workspaceRoot,
    defaults: { ...user.defaults },
    rules: [...user.rules],
    denyPaths: [...user.denyPaths],
    warnings: [...user.warnings],
  };
  for (const loc of LOCATIONS) {
    const a = parsed.data.default?.[loc];
    if (!a) continue;
    if (strictness(a) < strictness(user.defaults[loc].action)) {
      warn(['default', loc], `would loosen the user default for ${loc} (${user.defaults[loc].action} → ${a}); a workspace policy can only tighten, so it is ignored`);
    } else {
      merged.defaults[loc] = { action: a, origin: parsed.originOf(['default', loc]) };
    }
  }
  if (parsed.data.providers) warn(['providers'], 'is ignored: providers can only be declared in the user policy');
  if (parsed.data.routes) warn(['routes'], 'is ignored: routes can only be set in the user policy');
  merged.rules.push(...compileRules(parsed, 'workspace', diags));
  merged.denyPaths.push(...compileDenyPaths(parsed, diags));
  if (diags.some((d) => d.severity === 'error')) throw new PolicyError(diags);
  merged.warnings.push(...diags);
  return merged;
}

/** The strictest policy: what a workspace gets while its own policy file is broken. */
export function lockdownPolicy(user: Policy, workspaceRoot: string, file: string): Policy {
  const origin: Origin = { file, line: 1, col: 1 };
  return {
    ...user,
    workspaceFile: file,
    workspaceRoot,
    defaults: { local: user.defaults.local, lan: { action: 'deny', origin }, cloud: { action: 'deny', origin } },
    rules: [...user.rules, { action: 'deny', location: ['lan', 'cloud'], origin, scope: 'workspace', name: 'workspace policy is invalid: nothing leaves the machine until it is fixed' }],
  };
}

/** A text file's contents, or null when it does not exist (policy files are optional). */
export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export const WORKSPACE_POLICY_PATH = join('.hearth', 'policy.yaml');

/** Read and compile the user policy file; a missing file gives the default policy. */
export async function loadUserPolicy(file: string): Promise<Policy> {
  const text = await readTextIfExists(file);
  if (text === null) return defaultPolicy();
  return compileUserPolicy(parsePolicyText(text, file));
}

/** The policy for a workspace: user policy tightened by `<root>/.hearth/policy.yaml` if present. */
export async function loadWorkspacePolicy(user: Policy, workspaceRoot: string): Promise<Policy> {
  const file = join(workspaceRoot, WORKSPACE_POLICY_PATH);
  const text = await readTextIfExists(file);
  if (text === null) return { ...user, workspaceRoot };
  return applyWorkspacePolicy(user, parsePolicyText(text, file), workspaceRoot);
}
