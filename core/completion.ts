// Inline completion in the core: context assembly around the cursor (prefix/suffix window plus
// relevant snippets from documents open in ANY attached editor), a cache keyed by the window's
// hash, latest-request-wins cancellation per document, and the route each result took.
import crypto from 'node:crypto';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentRegistry } from './documents.js';
import { keyMaterialRanges, sensitiveDocument } from './egress/redact.js';
import type { ModelRouter } from './routing/service.js';
import { fallbackSummary, type PlanFallback, type RoutePlan } from './routing/plan.js';
import { languageFamily, sameLanguage } from './workspace/language.js';

export interface ContextPiece {
  /** Where the bytes come from: the requesting buffer, another editor's buffer, a memory item. */
  source: { kind: 'buffer' | 'file' | 'memory'; uri?: string; client?: string; role?: 'prefix' | 'suffix' | 'snippet' | 'memory' };
  bytes: number;
  dataClass: 'code' | 'secret' | 'memory' | 'config';
  text: string;
  /** The id of the client whose buffer it is (not part of the plan; used for workspace scoping). */
  owner?: string;
}

export interface CompletionContext {
  uri: string;
  prefix: string;
  suffix: string;
  pieces: ContextPiece[];
  /** The document's language family (core/workspace/language.ts): snippets and memory of another are left out. */
  language?: string;
  /** The asking editor's budgets (its daemon settings, server/settings.ts); unset ones are the service's. */
  limits?: CompletionLimits;
}

/** Per-request budgets: what `hearth.completion.*` sets for one editor's session. */
export interface CompletionLimits {
  prefixChars?: number;
  suffixChars?: number;
  /** Snippets of other open buffers. */
  otherBuffers?: number;
  maxTokens?: number;
  /** Memory items that may join the context, and of which kinds. */
  memoryItems?: number;
  memoryKinds?: readonly string[];
}

export interface RouteInfo {
  feature: string;
  provider: string;
  model: string;
  location: 'local' | 'lan' | 'cloud';
  reason: string;
  /** When the chain fell through to this provider, why, in a few words: "cloud declined", "cloud HTTP 500". */
  fallback?: string;
}

export interface CompletionOutcome {
  text: string;
  route: RouteInfo;
  plan: RoutePlan;
  context: CompletionContext;
  cached: boolean;
  /** The newer request for the same document made this one obsolete. */
  superseded: boolean;
}

/** Memory items relevant to a query, as context pieces (kind 'memory'); `language` is the document's family, when known. */
export type MemoryLookup = (query: string, workspaceRoot: string | null, language: string | null, limits?: { items?: number; kinds?: readonly string[] }) => Promise<ContextPiece[]>;

export interface CompletionOptions {
  memory?: MemoryLookup;
  prefixChars?: number;
  suffixChars?: number;
  maxSnippets?: number;
  snippetLines?: number;
  cacheSize?: number;
  maxTokens?: number;
  /**
   * Whether a snippet from `owner`'s buffer `uri` may leave the machine for a request made under
   * `workspaceRoot`'s policy. Snippets of other workspaces are governed by THEIR policies, which
   * the request's plan does not consult, so a route off the machine drops those that fail this.
   * Local routes use every open buffer. Default: every snippet may go.
   */
  sameScope?: (workspaceRoot: string | null, owner: string, uri: string) => boolean;
}

const IDENT = /[A-Za-z_$][\w$]*/g;

/** A completion asked about a document its editor has not opened (or has closed). */
export class DocumentNotOpenError extends Error {
  constructor(readonly uri: string) {
    super(`${uri} is not open in this editor; send textDocument/didOpen first`);
    this.name = 'DocumentNotOpenError';
  }
}

/** A document cut into the overlapping windows snippets are chosen from, with their identifiers. */
interface Windows {
  /** the text they were cut from (an edit that kept the version number still re-cuts them) */
  text: string;
  windows: Array<{ text: string; identifiers: Set<string> }>;
  /** [start, end) of the private key material in the text */
  keys: Array<[number, number]>;
  /** The whole document is a credential file by its content (a service-account key, a kubeconfig). */
  credential: boolean;
}

/** `start` if a line begins there, else the start of the next line before `limit` (else `start`). */
function lineStartAfter(text: string, start: number, limit: number): number {
  if (start === 0 || text[start - 1] === '\n') return start;
  const nl = text.indexOf('\n', start);
  return nl >= 0 && nl < limit ? nl + 1 : start;
}

/** `end` if a line ends there, else the end of the last whole line after `floor` (else `end`). */
function lineEndBefore(text: string, floor: number, end: number): number {
  if (end >= text.length || text[end] === '\n') return end;
  const nl = text.lastIndexOf('\n', end - 1);
  return nl >= floor ? nl : end;
}

/**
 * Moves the window [start, end) of a text off private key material: a window never starts or ends
 * inside a key (its body lines would go without the BEGIN/END lines that mark them as a key); one
 * wholly inside a key becomes empty. A key wholly inside the window stays, for the redaction to see.
 */
function clearOfKeys(keys: ReadonlyArray<readonly [number, number]>, start: number, end: number): [number, number] {
  for (const [a, b] of keys) {
    if (a < start && start < b) start = Math.min(b, end);
    if (a < end && end < b) end = Math.max(a, start);
  }
  return [start, Math.max(start, end)];
}

function identifiers(text: string): Set<string> {
  return new Set(text.match(IDENT) ?? []);
}

/** sha256 of the parts, each followed by a NUL, in one call (cheaper than a Hash object per request). */
function sha(...parts: string[]): string {
  return crypto.hash('sha256', parts.join('\u0000') + '\u0000', 'hex');
}

export class CompletionService {
  private readonly cache = new Map<string, { text: string; model: string }>();
  private readonly latest = new Map<string, number>();
  /** The engine call in flight per document, to stop when a newer request arrives. */
  private readonly running = new Map<string, AbortController>();
  /** When requests for a document last overlapped (the start of a burst). */
  private readonly burstAt = new Map<string, number>();
  /** Moving average of each provider's completion time (ms). */
  private readonly latency = new Map<string, number>();
  private seq = 0;
  readonly stats = { requests: 0, cacheHits: 0, superseded: 0 };
  private readonly o: Required<Omit<CompletionOptions, 'memory'>>;
  private readonly memory: MemoryLookup | undefined;
  /** Each open document's windows, kept until its text changes (not re-cut on every request). */
  private readonly windows = new WeakMap<TextDocument, Windows>();

  constructor(private readonly documents: DocumentRegistry, private readonly router: ModelRouter, opts: CompletionOptions = {}) {
    const { memory, ...rest } = opts;
    this.memory = memory;
    this.o = { prefixChars: 4000, suffixChars: 1000, maxSnippets: 3, snippetLines: 12, cacheSize: 512, maxTokens: 48, sameScope: () => true, ...rest };
  }

  /** Adds the memory items relevant to what is being written (once per context). */
  private async withMemory(context: CompletionContext, workspaceRoot: string | null): Promise<CompletionContext> {
    const query = this.memoryQuery(context);
    const l = context.limits;
    if (query !== undefined && this.memory && l?.memoryItems !== 0) {
      const limits = { ...(l?.memoryItems !== undefined ? { items: l.memoryItems } : {}), ...(l?.memoryKinds ? { kinds: l.memoryKinds } : {}) };
      context.pieces.push(...(await this.memory(query, workspaceRoot, context.language ?? null, limits)));
    }
    return context;
  }

  /** What to look up in memory for this context; undefined when there is nothing to look up. */
  private memoryQuery(context: CompletionContext): string | undefined {
    if (!this.memory || context.pieces.some((p) => p.source.kind === 'memory')) return undefined;
    // The lines before the cursor say what the user is writing: the last three, joined by spaces
    // (found from the end rather than by splitting the whole prefix).
    const prefix = context.prefix;
    let start = prefix.length;
    for (let n = 0; n < 3 && start > 0; n++) start = prefix.lastIndexOf('\n', start - 1);
    return prefix.slice(start + 1).replace(/\n/g, ' ').trim() || undefined;
  }

  /** Assembles what a completion at (line, character) of the client's document would use. */
  assemble(clientId: string, uri: string, line: number, character: number, keep: (p: ContextPiece) => boolean = () => true, limits?: CompletionLimits): CompletionContext {
    const doc = this.documents.get(clientId, uri);
    if (!doc) throw new DocumentNotOpenError(uri);
    const text = doc.getText();
    const offset = doc.offsetAt({ line, character });
    // Neither window may begin or end inside a private key (the cursor's own position aside).
    const keys = this.cut(doc).keys;
    const [p0] = clearOfKeys(keys, Math.max(0, offset - (limits?.prefixChars ?? this.o.prefixChars)), offset);
    const [, s1] = clearOfKeys(keys, offset, Math.min(text.length, offset + (limits?.suffixChars ?? this.o.suffixChars)));
    // Whole lines at the far ends: a token cut in two loses the shape that marks it as a secret.
    const prefix = text.slice(lineStartAfter(text, p0, offset), offset);
    const suffix = text.slice(offset, lineEndBefore(text, offset, Math.max(offset, s1)));
    const me = this.documents.all().find((d) => d.clientId === clientId)?.clientName ?? clientId;
    const pieces: ContextPiece[] = [
      { source: { kind: 'buffer', uri, client: me, role: 'prefix' }, bytes: Buffer.byteLength(prefix), dataClass: 'code', text: prefix },
      { source: { kind: 'buffer', uri, client: me, role: 'suffix' }, bytes: Buffer.byteLength(suffix), dataClass: 'code', text: suffix },
    ];
    const language = languageFamily(uri, doc.languageId) ?? undefined;
    pieces.push(...this.snippets(clientId, uri, prefix, keep, language ?? null, limits?.otherBuffers ?? this.o.maxSnippets));
    return { uri, prefix, suffix, pieces: pieces.filter((p) => p.bytes > 0), ...(language ? { language } : {}), ...(limits ? { limits } : {}) };
  }

  /** Best-matching windows of other open documents, from every attached editor. */
  private snippets(clientId: string, uri: string, prefix: string, keep: (p: ContextPiece) => boolean, language: string | null, max: number): ContextPiece[] {
    const want = identifiers(prefix.slice(-600));
    if (want.size === 0 || max <= 0) return [];
    const scored: Array<{ score: number; piece: ContextPiece }> = [];
    for (const d of this.documents.all()) {
      if (d.document.uri === uri && d.clientId === clientId) continue;
      // A buffer of another language is no context for this one (a TypeScript file in a Python completion).
      if (!sameLanguage(language, languageFamily(d.document.uri, d.document.languageId))) continue;
      const cut = this.cut(d.document);
      for (const { text: chunk, identifiers: have } of cut.windows) {
        let common = 0;
        for (const w of have) if (want.has(w)) common++;
        const score = common / (want.size + have.size - common || 1);
        if (score > 0) {
          // A window of a credential file is as secret as the file, whatever the window holds.
          const piece: ContextPiece = { source: { kind: 'buffer', uri: d.document.uri, client: d.clientName, role: 'snippet' }, bytes: Buffer.byteLength(chunk), dataClass: cut.credential ? 'secret' : 'code', text: chunk, owner: d.clientId };
          if (keep(piece)) scored.push({ score, piece });
        }
      }
    }
    scored.sort((a, b) => b.score - a.score);
    const seen = new Set<string>();
    const out: ContextPiece[] = [];
    for (const s of scored) {
      const key = `${s.piece.source.client}|${s.piece.source.uri}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(s.piece);
      if (out.length >= max) break;
    }
    return out;
  }

  /** The document's windows and key ranges, cut again only when its text has changed. */
  private cut(doc: TextDocument): Windows {
    const text = doc.getText();
    const known = this.windows.get(doc);
    if (known && known.text === text) return known;
    const keys = keyMaterialRanges(text);
    const lines = text.split('\n');
    const lineStart: number[] = [];
    for (let i = 0, at = 0; i < lines.length; at += lines[i]!.length + 1, i++) lineStart.push(at);
    const windows: Windows['windows'] = [];
    for (let start = 0; start < lines.length; start += Math.max(1, this.o.snippetLines / 2)) {
      let chunk: string;
      if (keys.length) {
        const a = lineStart[start]!;
        const last = Math.min(lines.length, start + this.o.snippetLines) - 1;
        const [s, e] = clearOfKeys(keys, a, lineStart[last]! + lines[last]!.length);
        chunk = text.slice(s, e);
        if (!chunk.trim()) continue;
      } else chunk = lines.slice(start, start + this.o.snippetLines).join('\n');
      windows.push({ text: chunk, identifiers: identifiers(chunk) });
    }
    const cut = { text, windows, keys, credential: sensitiveDocument(text) !== null };
    this.windows.set(doc, cut);
    return cut;
  }

  /** The route plan a completion from this context would follow; nothing runs. */
  async plan(context: CompletionContext, client: string, workspaceRoot: string | null): Promise<RoutePlan> {
    return (await this.planScoped(context, client, workspaceRoot)).plan;
  }

  /**
   * Plans, and when the route leaves the machine, plans again without the snippets of other
   * workspaces' buffers (their own policies may forbid what this one allows), chosen afresh from
   * the buffers in scope. Returns the plan with the context it covers.
   */
  async planScoped(context: CompletionContext, client: string, workspaceRoot: string | null, where?: { clientId: string; line: number; character: number }, failed?: readonly PlanFallback[]): Promise<{ plan: RoutePlan; context: CompletionContext }> {
    context = await this.withMemory(context, workspaceRoot);
    const plan = await this.planPieces(context, client, workspaceRoot, failed);
    if (plan.location === 'local' || plan.decision === 'deny') return { plan, context };
    const inScope = (p: ContextPiece): boolean => p.source.role !== 'snippet' || p.owner === undefined || this.o.sameScope(workspaceRoot, p.owner, p.source.uri ?? context.uri);
    if (context.pieces.every(inScope)) return { plan, context };
    const scoped = where
      ? this.assemble(where.clientId, context.uri, where.line, where.character, inScope, context.limits)
      : { ...context, pieces: context.pieces.filter(inScope) };
    return { plan: await this.planPieces(await this.withMemory(scoped, workspaceRoot), client, workspaceRoot, failed), context: scoped };
  }

  private planPieces(context: CompletionContext, client: string, workspaceRoot: string | null, failed?: readonly PlanFallback[]): Promise<RoutePlan> {
    return this.router.plan('completion', context.pieces.map((p) => ({
      source: { kind: p.source.kind, uri: p.source.uri ?? context.uri, ...(p.source.client ? { client: p.source.client } : {}), ...(p.source.role ? { role: p.source.role } : {}) },
      text: p.text,
    })), { client, workspaceRoot, ...(failed?.length ? { failed } : {}) });
  }

  /**
   * `signal` may be a function giving the caller's signal: it is called only when the request gets
   * past the cache (a cache hit has nothing to cancel), so a caller need not build an AbortSignal
   * for every keystroke.
   */
  async complete(clientId: string, uri: string, line: number, character: number, opts: { signal?: AbortSignal | (() => AbortSignal); client: string; workspaceRoot: string | null; limits?: CompletionLimits }): Promise<CompletionOutcome> {
    const assembled = this.assemble(clientId, uri, line, character, undefined, opts.limits);
    const maxTokens = opts.limits?.maxTokens ?? this.o.maxTokens;
    this.stats.requests++;
    const key = `${clientId}\u0000${uri}`;
    const mine = ++this.seq;
    this.latest.set(key, mine);
    // The route is a chain (core/routing/plan.ts): when the chosen provider is declined, denied,
    // has no key, answers an HTTP error or times out, the next one in the chain serves, and the
    // plan's fallbacks say why (the embedded n-gram engine ends every completion chain).
    const where = { clientId, line, character };
    let { plan, context } = await this.planScoped(assembled, opts.client, opts.workspaceRoot, where);
    const failed: PlanFallback[] = [];
    let callerSignal: AbortSignal | undefined;
    let own: AbortController | undefined;
    const done = (): void => {
      if (own && this.running.get(key) === own) this.running.delete(key);
    };
    for (;;) {
      const route = routeOf(plan);
      if (plan.decision === 'deny' || !plan.provider) {
        done();
        return { text: '', route, plan, context, cached: false, superseded: false };
      }
      const cacheKey = sha(plan.provider.id, String(maxTokens), context.prefix.slice(-1500), context.suffix.slice(0, 300));
      const hit = this.cache.get(cacheKey);
      if (hit) {
        done();
        this.stats.cacheHits++;
        this.cache.delete(cacheKey);
        this.cache.set(cacheKey, hit);
        return { text: hit.text, route: { ...route, model: hit.model }, plan, context, cached: true, superseded: false };
      }
      const provider = this.router.providerFor(plan);
      if (!own) {
        // A newer request makes the one still running for this document stale: stop its engine work.
        // Keystrokes outpacing the engine start a burst; during a burst each request first waits about
        // one engine latency (moving average, at most 150 ms) so that a newer keystroke supersedes it
        // before engine time is spent. Isolated or sequential requests never wait.
        callerSignal = typeof opts.signal === 'function' ? opts.signal() : opts.signal;
        const now = Date.now();
        const running = this.running.get(key);
        if (running) {
          running.abort();
          this.burstAt.set(key, now);
        }
        own = new AbortController();
        this.running.set(key, own);
        const inBurst = now - (this.burstAt.get(key) ?? -Infinity) < 1000;
        const wait = inBurst ? Math.min(this.latency.get(plan.provider.id) ?? 0, 150) : 0;
        await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
      }
      if (this.latest.get(key) !== mine || callerSignal?.aborted || own.signal.aborted) {
        done();
        this.stats.superseded++;
        return { text: '', route, plan, context, cached: false, superseded: true };
      }
      // A local engine sees the buffer as the editor has it; a remote one gets the plan's redacted
      // pieces, other documents' snippets first, as context before the prefix.
      let prefix = context.prefix;
      let suffix = context.suffix;
      if (plan.location !== 'local') {
        const texts = plan.pieces.map((p) => p.text);
        const roles = context.pieces.map((p) => p.source.role);
        const snippets = texts.filter((_t, i) => roles[i] === 'snippet' || roles[i] === 'memory').join('\n');
        prefix = (snippets ? snippets + '\n' : '') + (texts[roles.indexOf('prefix')] ?? '');
        suffix = texts[roles.indexOf('suffix')] ?? '';
      }
      const started = performance.now();
      const signal = callerSignal ? AbortSignal.any([callerSignal, own.signal]) : own.signal;
      let r: { text: string; model: string };
      try {
        r = await provider.complete({ prefix, suffix, maxTokens, signal, ...(context.language ? { language: context.language } : {}) });
      } catch (err) {
        if (own.signal.aborted) {
          done();
          this.stats.superseded++;
          return { text: '', route, plan, context, cached: false, superseded: true };
        }
        if (callerSignal?.aborted) {
          done();
          throw err;
        }
        const fallback = fallbackOf(plan, err);
        failed.push(fallback);
        this.router.noteFailure(plan, fallback);
        const next = await this.planScoped(assembled, opts.client, opts.workspaceRoot, where, failed);
        // Nothing left to fall back to: the caller hears what went wrong, as without a chain.
        if (next.plan.decision === 'deny' || !next.plan.provider) {
          done();
          throw err;
        }
        ({ plan, context } = next);
        continue;
      }
      done();
      if (plan.location !== 'local') this.router.noteSuccess(plan);
      // Moving average of the engine's latency, which sets the debounce above.
      const took = performance.now() - started;
      const avg = this.latency.get(plan.provider.id);
      this.latency.set(plan.provider.id, avg === undefined ? took : avg * 0.8 + took * 0.2);
      this.cache.set(cacheKey, r);
      if (this.cache.size > this.o.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
      return { text: r.text, route: { ...route, model: r.model }, plan, context, cached: false, superseded: false };
    }
  }
}

/** What a provider's failure means for the chain: the cause and, for people, what happened. */
export function fallbackOf(plan: RoutePlan, err: unknown): PlanFallback {
  const e = (err ?? {}) as Error & { outcome?: string; detail?: string; status?: unknown; code?: unknown };
  const base = { provider: plan.provider?.id ?? '(none)', location: plan.location };
  const message = String(e.message ?? err).slice(0, 300);
  if (e.name === 'EgressRefusedError') {
    if (e.detail === 'pending') return { ...base, cause: 'pending', reason: `asked${plan.client ? ` in ${plan.client}` : ''}, waiting for your answer` };
    if (e.outcome === 'declined') return { ...base, cause: 'declined', reason: e.detail === 'declined-earlier' ? 'declined by you earlier this session' : `declined by you${plan.client ? ` in ${plan.client}` : ''}` };
    if (e.outcome === 'denied') return { ...base, cause: 'denied', reason: message };
    return { ...base, cause: 'failed', reason: message };
  }
  if (typeof e.status === 'number') return { ...base, cause: 'http-error', reason: message };
  if (e.code === 'timeout') return { ...base, cause: 'timeout', reason: message };
  if (/no API key/i.test(message)) return { ...base, cause: 'no-key', reason: message };
  return { ...base, cause: 'failed', reason: message };
}

/** The one-line summary editors show in their status line. */
export function routeOf(plan: RoutePlan): RouteInfo {
  const fallback = fallbackSummary(plan) || undefined;
  return {
    feature: plan.feature,
    provider: plan.provider?.id ?? '(none)',
    model: plan.provider?.model ?? plan.provider?.id ?? '',
    location: plan.location ?? 'local',
    reason: plan.decision === 'deny'
      ? `denied: ${plan.reason}`
      : plan.reason === 'local' ? `local engine (${plan.rule})${fallback ? `; ${fallback}` : ''}` : plan.reason,
    ...(fallback ? { fallback } : {}),
  };
}
