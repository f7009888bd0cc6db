// The router: for every model call, a plan made before anything runs. It says which provider and
// model, where it runs, which policy rule decided (allow / ask / deny), why a local option was not
// enough, and every piece of data with its source, byte count, data class and redactions.
// Deterministic and side-effect free; the only await is the secret scan of pieces bound for a
// non-local provider.
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactTexts, redactWhole, sensitiveDocument, type RedactionCount } from '../egress/redact.js';
import { inferLocation } from '../policy/load.js';
import {
  FEATURES,
  LOCATIONS,
  formatOrigin,
  strictness,
  type Action,
  type DataClass,
  type Feature,
  type Location,
  type Origin,
  type Policy,
  type PolicyRule,
  type ProviderKind,
} from '../policy/types.js';

export type SourceKind = 'file' | 'buffer' | 'selection' | 'memory' | 'chat' | 'tool-output' | 'workspace';
export interface SourceRef {
  kind: SourceKind;
  /** file:// URI, absolute path, or an opaque id (memory:42, untitled:1). */
  uri: string;
  /** Which editor's buffer, when the text came from an editor (e.g. "vscode", "neovim"). */
  client?: string;
  /** What the piece is for in the request: text before/after the cursor, another buffer's snippet, a memory item. */
  role?: string;
}
export interface ContextPiece {
  source: SourceRef;
  text: string;
  /** Leave unset to let the router class it from its source; a deny-listed path is always `secret`. */
  dataClass?: DataClass;
}
export interface RouteRequest {
  feature: Feature;
  pieces: readonly ContextPiece[];
  /** The requesting client (for the plan and the ledger). */
  client?: string;
  workspaceRoot?: string;
  /** The client asked for this provider id explicitly. */
  provider?: string;
  /**
   * Providers that already failed for this request, or are resting after a recent failure (HTTP
   * error, timeout, missing key at run time): the chain passes over them to the next one.
   */
  failed?: readonly PlanFallback[];
}

/** Why a provider of the chain was passed over for the next one. */
export type FallbackCause = 'denied' | 'declined' | 'pending' | 'http-error' | 'no-key' | 'timeout' | 'unavailable' | 'failed';
export interface PlanFallback {
  provider: string;
  location: Location | null;
  cause: FallbackCause;
  /** Said for people: what happened, e.g. "answered HTTP 500" or "declined by you (neovim) this session". */
  reason: string;
}

/** What the router knows about one provider at planning time. */
export interface ProviderDescriptor {
  id: string;
  kind: ProviderKind;
  location: Location;
  features: readonly Feature[];
  model?: string;
  /** host[:port] for HTTP providers. */
  host?: string;
  /** true, or why it cannot be used right now (e.g. "model not loaded"). */
  available?: true | string;
  /** Largest context the provider accepts, in bytes (from its model's context length). */
  maxContextBytes?: number;
  /** What kind of unavailability `available` describes (default 'unavailable'; a missing API key is 'no-key'). */
  unavailableCause?: FallbackCause;
}
export interface RouteContext {
  providers: readonly ProviderDescriptor[];
  /**
   * Whether the user's earlier answer stands in the way of an ask for this provider (declined this
   * session, or an ask still waiting for an answer): consulted only when policy says ask.
   */
  askBlocked?: (provider: ProviderDescriptor, feature: Feature, workspaceRoot: string | null) => { cause: FallbackCause; reason: string } | null;
}

export interface PlannedPiece {
  source: SourceRef;
  /** Bytes of the piece as the client gave it (UTF-8). */
  bytes: number;
  /** Bytes after redaction: what would be sent. */
  sentBytes: number;
  dataClass: DataClass;
  redactions: RedactionCount[];
  /** The text that would be sent (redacted when the route leaves the machine). */
  text: string;
}

export interface PlanCandidate {
  provider: string;
  location: Location | null;
  decision: Action | null;
  /** Why it was passed over; absent for the chosen one. */
  skipped?: string;
}

export interface RoutePlan {
  feature: Feature;
  client: string | null;
  workspaceRoot: string | null;
  provider: { id: string; kind: ProviderKind; model: string | null; location: Location; host: string | null } | null;
  location: Location | null;
  decision: Action;
  /** The policy rule (file:line:col) or default that gave the decision. */
  rule: string;
  /** How the provider was picked: a routes entry, the client, or "local first". */
  route: string;
  /** "local" when a local provider was chosen, otherwise why no local option was enough. */
  reason: string;
  pieces: PlannedPiece[];
  bytes: number;
  sentBytes: number;
  redactions: number;
  considered: PlanCandidate[];
  /**
   * The providers of the chain passed over before the chosen one, each with why (denied, declined,
   * waiting for an answer, HTTP error, missing key, timeout, unavailable). Empty when the first fitted.
   */
  fallbacks: PlanFallback[];
}

/** The implicit last resort of every completion chain: the embedded n-gram engine. */
export const LAST_RESORT_COMPLETION = 'ngram';

const FALLBACK_LABEL: Record<FallbackCause, string> = {
  denied: 'denied by policy',
  declined: 'declined',
  pending: 'waiting for your answer',
  'http-error': 'failed',
  'no-key': 'has no API key',
  timeout: 'timed out',
  unavailable: 'unavailable',
  failed: 'failed',
};

/** One fallback in a few words for a status line: "cloud declined", "cloud HTTP 500", "cloud has no API key". */
export function fallbackLabel(f: PlanFallback): string {
  if (f.cause === 'http-error') {
    const status = /HTTP (\d{3})/.exec(f.reason)?.[1];
    if (status) return `${f.provider} HTTP ${status}`;
  }
  return `${f.provider} ${FALLBACK_LABEL[f.cause]}`;
}

/** Every fallback of a plan in a few words ("cloud declined; lan-box timed out"), or '' when there was none. */
export function fallbackSummary(plan: Pick<RoutePlan, 'fallbacks'>): string {
  return (plan.fallbacks ?? []).map(fallbackLabel).join('; ');
}

// Raw text of deny-listed pieces, kept out of the (serializable) plan, so the egress gate can strip
// them if they reach a request body by another way than the plan's redacted text.
const knownSecrets = new WeakMap<RoutePlan, string[]>();
export function knownSecretsOf(plan: RoutePlan): readonly string[] {
  return knownSecrets.get(plan) ?? [];
}

const DEFAULT_FEATURES: Record<ProviderKind, Feature[]> = {
  ngram: ['completion'],
  gguf: ['completion', 'chat', 'task'],
  transformers: ['embeddings'],
  openai: ['completion', 'chat', 'embeddings', 'task', 'tool'],
  anthropic: ['chat', 'task', 'tool'],
  download: ['model-download'],
  http: ['tool'],
};
export function defaultFeatures(kind: ProviderKind): Feature[] {
  return [...DEFAULT_FEATURES[kind]];
}

/** Descriptors of the HTTP providers a policy configures (embedded engines come from core/engines). */
export function descriptorsFromPolicy(policy: Policy): ProviderDescriptor[] {
  return policy.providers.map((p) => {
    const d: ProviderDescriptor = { id: p.id, kind: p.kind, location: p.location, features: p.features ?? defaultFeatures(p.kind) };
    if (p.model !== undefined) d.model = p.model;
    if (p.baseUrl) d.host = new URL(p.baseUrl).host;
    return d;
  });
}

const CONFIG_EXT = /\.(json|jsonc|ya?ml|toml|ini|cfg|conf|properties|xml|plist|env)$/i;
const DOCS_EXT = /\.(md|markdown|mdx|txt|rst|adoc|org)$/i;

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The paths a piece's URI names, for deny lists and path rules. A file: URI or an absolute path
 * gives the real path (and the workspace-relative one); any other scheme (vscode-remote://host/…,
 * vscode-vfs://, untitled:, …) gives the path inside the URI, so a `.env` is a `.env` wherever it
 * is open.
 */
function piecePaths(uri: string, workspaceRoot: string | undefined): { abs: string | null; candidates: string[] } {
  let abs: string | null = null;
  if (uri.startsWith('file:')) {
    try {
      abs = fileURLToPath(uri);
    } catch {
      abs = null;
    }
  } else if (isAbsolute(uri)) abs = uri;
  if (abs === null) {
    const inner = SCHEME.test(uri) ? uriPath(uri) : null;
    return { abs, candidates: inner && inner !== uri ? [uri, inner] : [uri] };
  }
  const candidates = [abs];
  if (workspaceRoot) {
    const rel = relative(workspaceRoot, abs);
    if (rel && !rel.startsWith('..') && !isAbsolute(rel)) candidates.push(sep === '/' ? rel : rel.split(sep).join('/'));
  }
  return { abs, candidates };
}

/** The decoded path of a non-file URI (`vscode-remote://ssh-remote+h/home/u/.env` → `/home/u/.env`). */
function uriPath(uri: string): string | null {
  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    path = uri.replace(SCHEME, '').replace(/^\/\/[^/]*/, '');
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    // keep it encoded
  }
  return path.replace(/[?#].*$/, '') || null;
}

function classify(piece: ContextPiece, abs: string | null, denied: boolean): DataClass {
  if (denied) return 'secret';
  if (piece.dataClass) return piece.dataClass;
  switch (piece.source.kind) {
    case 'memory':
      return 'memory';
    case 'chat':
      return 'chat';
    case 'tool-output':
      return 'tool-output';
    default:
      break;
  }
  const name = abs ?? piece.source.uri;
  if (CONFIG_EXT.test(name)) return 'config';
  if (DOCS_EXT.test(name)) return 'docs';
  return 'code';
}

interface Classified {
  piece: ContextPiece;
  candidates: string[];
  dataClass: DataClass;
  denyListed: boolean;
  /** Why the whole piece is withheld: a deny-listed path, or a credential file known by its content. */
  denyRule: string;
  bytes: number;
}

interface Verdict {
  action: Action;
  rule: string;
}

function describeRule(r: PolicyRule): string {
  const what = r.name ? ` "${r.name}"` : '';
  return `${formatOrigin(r.origin)} (${r.scope} rule${what}: ${r.action})`;
}
function describeDefault(policy: Policy, loc: Location): string {
  const d = policy.defaults[loc];
  return `default.${loc} = ${d.action} (${formatOrigin(d.origin)})`;
}

function ruleMatches(r: PolicyRule, feature: Feature, p: ProviderDescriptor, c: Classified | null): boolean {
  if (r.feature && !r.feature.includes(feature)) return false;
  if (r.provider && !r.provider.includes(p.id)) return false;
  if (r.location && !r.location.includes(p.location)) return false;
  if (r.dataClass && !(c && r.dataClass.includes(c.dataClass))) return false;
  if (r.matchPath && !(c && r.matchPath(c.candidates))) return false;
  return true;
}

/** Deny wins: among matching rules the strictest decides; the default applies when none matches. */
function decide(policy: Policy, feature: Feature, p: ProviderDescriptor, pieces: readonly Classified[]): Verdict {
  let best: Verdict | null = null;
  const targets: (Classified | null)[] = pieces.length ? [...pieces] : [null];
  for (const c of targets) {
    let v: Verdict | null = null;
    for (const r of policy.rules) {
      if (!ruleMatches(r, feature, p, c)) continue;
      if (!v || strictness(r.action) > strictness(v.action)) v = { action: r.action, rule: describeRule(r) };
      if (v.action === 'deny') break;
    }
    v ??= { action: policy.defaults[p.location].action, rule: describeDefault(policy, p.location) };
    if (!best || strictness(v.action) > strictness(best.action)) best = v;
    if (best.action === 'deny') break;
  }
  return best!;
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Plan a model call. Never opens a connection and never runs a model: the egress gate and the
 * providers act on the plan afterwards.
 */
export async function planRoute(request: RouteRequest, policy: Policy, context: RouteContext): Promise<RoutePlan> {
  const { feature } = request;
  if (!FEATURES.includes(feature)) throw new Error(`unknown feature "${String(feature)}"; expected one of ${FEATURES.join(', ')}`);
  const workspaceRoot = request.workspaceRoot ?? policy.workspaceRoot ?? undefined;

  const classified: Classified[] = request.pieces.map((piece) => {
    const { abs, candidates } = piecePaths(piece.source.uri, workspaceRoot);
    const byPath = piece.source.kind !== 'chat' && policy.denyPaths.some((d) => d.match(candidates));
    // A piece its caller classed secret (a window of a credential file) is withheld like a deny-listed one.
    const byClass = !byPath && piece.dataClass === 'secret';
    const byContent = byPath || byClass ? null : sensitiveDocument(piece.text);
    const denyListed = byPath || byClass || byContent !== null;
    const denyRule = byPath ? 'deny-listed-path' : byClass ? 'credential-file' : byContent ?? '';
    return { piece, candidates, denyListed, denyRule, dataClass: classify(piece, abs, denyListed), bytes: byteLength(piece.text) };
  });
  const totalBytes = classified.reduce((a, c) => a + c.bytes, 0);

  // Candidate order: what the client asked for, else the policy's routes, else local first.
  const byId = new Map(context.providers.map((p) => [p.id, p]));
  let order: string[];
  let route: string;
  const routeEntry = policy.routes[feature];
  if (request.provider) {
    order = [request.provider];
    route = `requested by ${request.client ?? 'the client'}`;
  } else if (routeEntry) {
    order = routeEntry.order;
    route = `routes.${feature} (${formatOrigin(routeEntry.origin)})`;
  } else {
    order = context.providers
      .filter((p) => p.features.includes(feature))
      .sort((a, b) => LOCATIONS.indexOf(a.location) - LOCATIONS.indexOf(b.location))
      .map((p) => p.id);
    route = 'first capable provider, local before LAN before cloud';
  }
  // The routes list is the fallback chain; for completions the embedded n-gram engine ends it
  // unless the list names it already (policy can still deny it like any other provider).
  if (!request.provider && feature === 'completion' && !order.includes(LAST_RESORT_COMPLETION) && byId.get(LAST_RESORT_COMPLETION)?.features.includes('completion')) {
    order = [...order, LAST_RESORT_COMPLETION];
    if (routeEntry) route += `, then ${LAST_RESORT_COMPLETION} (the embedded last resort)`;
  }
  const failed = new Map((request.failed ?? []).map((f) => [f.provider, f]));
  const fallbacks: PlanFallback[] = [];

  const considered: PlanCandidate[] = [];
  let chosen: ProviderDescriptor | null = null;
  let verdict: Verdict | null = null;
  let firstDenied: { p: ProviderDescriptor; v: Verdict } | null = null;
  for (const id of order) {
    const p = byId.get(id);
    const skip = (location: Location | null, decision: Action | null, skipped: string, cause: FallbackCause): void => {
      considered.push({ provider: id, location, decision, skipped });
      fallbacks.push({ provider: id, location, cause, reason: skipped });
    };
    if (!p) {
      skip(null, null, 'not configured', 'unavailable');
      continue;
    }
    const f = failed.get(id);
    if (f) {
      skip(p.location, null, f.reason, f.cause);
      continue;
    }
    if (!p.features.includes(feature)) {
      skip(p.location, null, `cannot do ${feature}`, 'unavailable');
      continue;
    }
    if (p.available !== undefined && p.available !== true) {
      skip(p.location, null, `not available: ${p.available}`, p.unavailableCause ?? 'unavailable');
      continue;
    }
    if (p.maxContextBytes !== undefined && totalBytes > p.maxContextBytes) {
      skip(p.location, null, `context of ${totalBytes} bytes exceeds its ${p.maxContextBytes}`, 'unavailable');
      continue;
    }
    const v = decide(policy, feature, p, classified);
    if (v.action === 'deny') {
      skip(p.location, 'deny', `denied by ${v.rule}`, 'denied');
      firstDenied ??= { p, v };
      continue;
    }
    const blocked = v.action === 'ask' ? context.askBlocked?.(p, feature, workspaceRoot ?? null) ?? null : null;
    if (blocked) {
      skip(p.location, 'ask', blocked.reason, blocked.cause);
      continue;
    }
    considered.push({ provider: id, location: p.location, decision: v.action });
    chosen = p;
    verdict = v;
    break;
  }

  let decision: Action;
  let rule: string;
  let reason: string;
  if (chosen && verdict) {
    decision = verdict.action;
    rule = verdict.rule;
    reason = chosen.location === 'local' ? 'local' : whyNotLocal(feature, chosen, considered, context, request, routeEntry?.order);
  } else {
    decision = 'deny';
    chosen = firstDenied?.p ?? null;
    rule = firstDenied?.v.rule ?? 'no provider';
    reason = considered.length
      ? `no provider may run this: ${considered.map((c) => `${c.provider}: ${c.skipped ?? c.decision}`).join('; ')}`
      : `no provider can do ${feature}`;
  }

  // Redact only what would leave the machine; a local engine sees the text as the editor has it.
  const leaves = chosen !== null && chosen.location !== 'local' && decision !== 'deny';
  const secrets: string[] = [];
  const scanned = leaves
    ? await redactTexts(classified.map((c) => (c.denyListed ? { text: '' } : c.candidates[0] === undefined ? { text: c.piece.text } : { text: c.piece.text, path: c.candidates[0] })))
    : [];
  const pieces = classified.map((c, i): PlannedPiece => {
    let text = c.piece.text;
    let redactions: RedactionCount[] = [];
    if (leaves) {
      const r = c.denyListed ? redactWhole(text, c.denyRule) : scanned[i]!;
      if (c.denyListed) for (const line of text.split(/\r?\n/)) if (line.trim().length >= 6) secrets.push(line.trim());
      text = r.text;
      redactions = r.redactions;
    }
    return { source: { ...c.piece.source }, bytes: c.bytes, sentBytes: leaves ? byteLength(text) : c.bytes, dataClass: c.dataClass, redactions, text };
  });

  const plan: RoutePlan = {
    feature,
    client: request.client ?? null,
    workspaceRoot: workspaceRoot ?? null,
    provider: chosen
      ? { id: chosen.id, kind: chosen.kind, model: chosen.model ?? null, location: chosen.location, host: chosen.host ?? null }
      : null,
    location: chosen?.location ?? null,
    decision,
    rule,
    route,
    reason,
    pieces,
    bytes: totalBytes,
    sentBytes: pieces.reduce((a, p) => a + p.sentBytes, 0),
    redactions: pieces.reduce((a, p) => a + p.redactions.reduce((b, r) => b + r.count, 0), 0),
    considered,
    fallbacks,
  };
  if (secrets.length) knownSecrets.set(plan, secrets);
  return plan;
}

function whyNotLocal(
  feature: Feature,
  chosen: ProviderDescriptor,
  considered: readonly PlanCandidate[],
  context: RouteContext,
  request: RouteRequest,
  routeOrder: readonly string[] | undefined,
): string {
  const parts: string[] = [];
  if (request.provider) parts.push(`${request.client ?? 'the client'} asked for provider "${request.provider}"`);
  const localSkips = considered.filter((c) => c.location === 'local' && c.skipped);
  for (const c of localSkips) parts.push(`local ${c.provider}: ${c.skipped}`);
  const capableLocal = context.providers.filter((p) => p.location === 'local' && p.features.includes(feature));
  if (!capableLocal.length) parts.push(`no local provider can do ${feature}`);
  else if (routeOrder) {
    const untried = capableLocal.filter((p) => !considered.some((c) => c.provider === p.id));
    if (untried.length) parts.push(`routes.${feature} puts ${chosen.id} before local ${untried.map((p) => p.id).join(', ')}`);
  } else if (!request.provider && !localSkips.length) {
    parts.push(`no local provider was usable`);
  }
  return parts.join('; ') || `chosen ${chosen.location} provider ${chosen.id}`;
}

/**
 * The plan for fetching a model file from `url`: the host is the provider (`download:HOST`), its
 * location judged from the host name, and no data pieces (the request carries none). Policy rules
 * over feature `model-download`, location or provider decide it like any other request.
 */
export async function planDownload(url: string, policy: Policy, opts: { client?: string; workspaceRoot?: string } = {}): Promise<RoutePlan> {
  const plan = await planHostRequest(url, policy, { ...opts, feature: 'model-download', kind: 'download' });
  if (plan.decision !== 'deny') plan.reason = `the model file is served by ${new URL(url).host}; only its URL and your address go there`;
  return plan;
}

/**
 * The plan for an `http.fetch` tool call: the host is the provider (`http:HOST`), the body (if any)
 * the one data piece. Policy rules over feature `tool`, location or provider apply: a deny stops
 * it. The tool permission itself (tools: rules, grants, the approval) has already been decided, so
 * an `ask` here counts as answered and is not put to the user a second time.
 */
export async function planToolFetch(url: string, body: string | undefined, policy: Policy, opts: { client?: string; workspaceRoot?: string } = {}): Promise<RoutePlan> {
  const pieces: ContextPiece[] = body ? [{ source: { kind: 'chat', uri: `${url} (request body)`, role: 'http-body' }, text: body }] : [];
  const plan = await planHostRequest(url, policy, { ...opts, feature: 'tool', kind: 'http', pieces });
  if (plan.decision === 'ask') {
    plan.decision = 'allow';
    plan.rule = `${plan.rule}; asked as a tool permission`;
  }
  if (plan.decision !== 'deny') plan.reason = `the http.fetch tool call names ${new URL(url).host}`;
  return plan;
}

async function planHostRequest(
  url: string,
  policy: Policy,
  opts: { client?: string; workspaceRoot?: string; feature: Feature; kind: ProviderKind; pieces?: ContextPiece[] },
): Promise<RoutePlan> {
  const u = new URL(url);
  const descriptor: ProviderDescriptor = {
    id: `${opts.kind}:${u.host}`, kind: opts.kind, location: inferLocation(u.hostname), features: [opts.feature], host: u.host,
  };
  return planRoute({
    feature: opts.feature, pieces: opts.pieces ?? [],
    ...(opts.client !== undefined ? { client: opts.client } : {}), ...(opts.workspaceRoot !== undefined ? { workspaceRoot: opts.workspaceRoot } : {}),
  }, policy, { providers: [descriptor] });
}

/** The plan without piece texts: what `hearth route explain` shows. */
export function explainPlan(plan: RoutePlan): Omit<RoutePlan, 'pieces'> & { pieces: Omit<PlannedPiece, 'text'>[] } {
  return { ...plan, pieces: plan.pieces.map(({ text: _text, ...rest }) => rest) };
}

/** Lay out a plan's (redacted) pieces as one prompt context, each under a header naming its source. */
export function renderContext(plan: RoutePlan): string {
  return plan.pieces.map((p) => `--- ${p.source.kind}: ${p.source.uri}\n${p.text}`).join('\n');
}

export type { Origin };
