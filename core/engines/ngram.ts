// The embedded n-gram completer: zero download, always available, the default offline engine.
// It learns token n-grams from the documents it is fed (open buffers, workspace files) and proposes a
// multi-token continuation of the text before the cursor, greedily, backing off from the longest
// context it has seen to shorter ones. It stops at the end of the line, at a length limit, when it
// is no longer confident, or where the text after the cursor already continues.
import {
  EngineError, validateCompletionRequest,
  type CompletionRequest, type CompletionResult, type Provider, type ProviderCapabilities,
} from './types.js';

export interface NgramOptions {
  id?: string;
  /** longest context, in tokens, that predicts the next token (default 4) */
  order?: number;
  /** longest suggestion in characters (default 200) */
  maxChars?: number;
  /** characters of a document learned at most; the rest is ignored (default 500 000) */
  maxDocumentChars?: number;
  /** documents remembered at most; learning one more forgets the least recently learned (default 5000) */
  maxDocuments?: number;
  /**
   * below this share of the votes a prediction from a one-token context ends the suggestion
   * (default 0.5): short contexts are noisy, longer ones are trusted.
   */
  minConfidence?: number;
  /**
   * shortest context, in tokens, that may start a suggestion (default 1): with 2, a suggestion is
   * offered only where at least the last two tokens were seen before, and not on one token's guess.
   */
  minStartContext?: number;
}

// identifiers/words, numbers, runs of horizontal whitespace, a newline, or any other single character
const TOKEN_RE = /[\p{L}_$][\p{L}\p{N}_$]*|\p{N}+(?:\.\p{N}+)?|[ \t]+|\r?\n|[^]/gu;
const WORD_END_RE = /[\p{L}\p{N}_$]$/u;
const SEP = '\u0000';
/** Background learning: milliseconds of work per slice, and tokens walked per step of a new document. */
const SLICE_MS = 8;
const STEP_TOKENS = 2000;
/** Before a suggestion, a backlog up to this many characters is learned at once; a larger one for CATCH_UP_MS. */
const CATCH_UP_ALL_CHARS = 1_000_000;
const CATCH_UP_MS = 50;

export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

interface Context {
  counts: Map<string, number>;
  total: number;
  /** most frequent next token, recomputed lazily after a change */
  best: string | null | undefined;
}

export class NgramProvider implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities: ProviderCapabilities = { fim: true, chat: false, embeddings: false, tools: false };
  private readonly order: number;
  private readonly maxChars: number;
  private readonly maxDocumentChars: number;
  private readonly minConfidence: number;
  private readonly maxDocuments: number;
  private readonly minStartContext: number;
  private readonly contexts = new Map<string, Context>();
  private readonly documents = new Map<string, string[]>();
  private readonly pending = new Map<string, string>();
  private idle: NodeJS.Timeout | undefined;
  private pumping: NodeJS.Immediate | undefined;
  /** A new document being learned STEP_TOKENS at a time; it joins `documents` when done. */
  private job: { uri: string; tokens: string[]; done: number } | undefined;

  constructor(opts: NgramOptions = {}) {
    this.id = opts.id ?? 'ngram';
    this.order = opts.order ?? 4;
    this.maxChars = opts.maxChars ?? 200;
    this.maxDocumentChars = opts.maxDocumentChars ?? 500_000;
    this.minConfidence = opts.minConfidence ?? 0.5;
    this.maxDocuments = opts.maxDocuments ?? 5000;
    this.minStartContext = opts.minStartContext ?? 1;
    if (!Number.isInteger(this.order) || this.order < 1) throw new Error(`NgramProvider: order must be a positive integer, got ${this.order}`);
  }

  /**
   * Learns (or re-learns, replacing the previous version of) the document `uri`. A re-learn after
   * an edit touches only the n-grams around the edit: the tokens before and after it that both
   * versions share keep their counts (editors send the whole document on every keystroke, and
   * walking it all twice per keystroke put milliseconds in front of every completion).
   */
  learn(uri: string, text: string): void {
    this.abandonJob(uri);
    this.learnTokens(uri, tokenize(text.length > this.maxDocumentChars ? text.slice(0, this.maxDocumentChars) : text));
  }

  private learnTokens(uri: string, tokens: string[]): void {
    const old = this.documents.get(uri);
    if (old) {
      this.documents.delete(uri);
      this.relearn(old, tokens);
    } else {
      this.walk(tokens, 1);
    }
    this.documents.set(uri, tokens); // Map order = learning order, oldest first
    for (const oldest of this.documents.keys()) {
      if (this.documents.size <= this.maxDocuments) break;
      this.forget(oldest);
    }
  }

  /**
   * Learns `text` for `uri` later, in the background: after 250 ms of quiet, in slices of a few
   * milliseconds with the event loop free between them (thousands of documents opened at once, or
   * a near-cap one, took seconds of n-gram counting in one go and stalled every client of the
   * daemon), and before a suggestion. The newest text wins.
   */
  learnLater(uri: string, text: string): void {
    this.pending.set(uri, text);
    if (this.pumping) return;
    this.idle ??= setTimeout(() => {
      this.idle = undefined;
      this.pump();
    }, 250);
    this.idle.unref?.();
  }

  /** Learns everything scheduled with learnLater now. */
  flush(): void {
    this.stopPump();
    this.work(Infinity);
  }

  /** Characters waiting to be learned (pending texts, and the rest of the document being learned). */
  get backlog(): number {
    let n = 0;
    for (const t of this.pending.values()) n += Math.min(t.length, this.maxDocumentChars);
    if (this.job) n += (this.job.tokens.length - this.job.done) * 4;
    return n;
  }

  private stopPump(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    if (this.pumping) clearImmediate(this.pumping);
    this.pumping = undefined;
  }

  private pump(): void {
    this.pumping = undefined;
    this.work(SLICE_MS);
    if (this.job || this.pending.size) {
      this.pumping = setImmediate(() => this.pump());
      this.pumping.unref?.();
    }
  }

  /** Does learning work for about `budgetMs`: whole edits (incremental, cheap), new documents STEP_TOKENS at a time. */
  private work(budgetMs: number): void {
    const end = performance.now() + budgetMs;
    do {
      if (!this.job) {
        const next = this.pending.entries().next();
        if (next.done) return;
        const [uri, text] = next.value;
        this.pending.delete(uri);
        const tokens = tokenize(text.length > this.maxDocumentChars ? text.slice(0, this.maxDocumentChars) : text);
        if (this.documents.has(uri)) {
          this.learnTokens(uri, tokens);
          continue;
        }
        this.job = { uri, tokens, done: 1 };
      }
      const j = this.job;
      const to = Math.min(j.tokens.length, j.done + STEP_TOKENS);
      if (to > j.done) this.walk(j.tokens, 1, j.done, to);
      j.done = to;
      if (j.done >= j.tokens.length) {
        this.job = undefined;
        this.documents.set(j.uri, j.tokens);
        for (const oldest of this.documents.keys()) {
          if (this.documents.size <= this.maxDocuments) break;
          this.forget(oldest);
        }
      }
    } while (performance.now() < end);
  }

  /** Undoes a half-learned document (it was forgotten, or learned again synchronously). */
  private abandonJob(uri: string): void {
    if (this.job?.uri !== uri) return;
    this.walk(this.job.tokens, -1, 1, this.job.done);
    this.job = undefined;
  }

  /** Removes everything learned from `uri`. */
  forget(uri: string): void {
    this.pending.delete(uri);
    this.abandonJob(uri);
    const tokens = this.documents.get(uri);
    if (!tokens) return;
    this.documents.delete(uri);
    this.walk(tokens, -1);
  }

  /** How often `token` was seen followed by another token (0: never seen), in what is learned so far (no catch-up). */
  occurrences(token: string): number {
    return this.contexts.get(token)?.total ?? 0;
  }

  get documentCount(): number {
    if (this.pending.size || this.job) this.flush();
    return this.documents.size;
  }

  /** The suggested continuation of `prefix` (empty when it has nothing confident to say). */
  suggest(prefix: string, suffix = '', maxTokens = 64): string {
    // Catch up first; a huge backlog (thousands of documents just opened) only for a while: the
    // rest goes on in the background, so one client's completion does not stall the others.
    if (this.pending.size || this.job) {
      if (this.backlog <= CATCH_UP_ALL_CHARS) this.flush();
      else this.work(CATCH_UP_MS);
    }
    // Only the tail of the prefix matters; cut at a line start so no token is split.
    const tailStart = Math.max(0, prefix.length - 400);
    const nl = tailStart === 0 ? 0 : prefix.indexOf('\n', tailStart) + 1 || tailStart;
    const history = tokenize(prefix.slice(nl));
    let out = '';
    let produced = 0;

    // The cursor may sit inside a word: complete that word first from what followed the same context.
    const last = history[history.length - 1];
    if (last !== undefined && WORD_END_RE.test(last) && WORD_END_RE.test(prefix)) {
      const partial = last;
      const ctx = history.slice(0, -1);
      const next = this.predict(ctx, (t) => t.length > partial.length && t.startsWith(partial), this.minStartContext);
      // No longer word seen here: the word may already be complete, so predict what follows it.
      if (next !== undefined) {
        out += next.slice(partial.length);
        history[history.length - 1] = next;
        produced++;
      }
    }

    while (produced < maxTokens && out.length < this.maxChars) {
      const next = this.predict(history, undefined, produced === 0 ? this.minStartContext : 1);
      if (next === undefined || next.includes('\n')) break;
      out += next;
      history.push(next);
      produced++;
    }
    return stopAtSuffix(out.slice(0, this.maxChars), suffix);
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    validateCompletionRequest(this.id, req);
    if (req.signal?.aborted) throw new EngineError('cancelled', 'the request was cancelled');
    req.onProgress?.({ stage: 'generating' });
    const text = this.suggest(req.prefix, req.suffix, req.maxTokens);
    if (text) req.onText?.(text);
    return { text, model: `ngram-${this.order}` };
  }

  async embed(): Promise<number[][]> {
    throw new EngineError('unsupported', `${this.id} does not compute embeddings; use an embedding provider`);
  }

  async dispose(): Promise<void> {
    this.stopPump();
    this.job = undefined;
    this.pending.clear();
    this.contexts.clear();
    this.documents.clear();
  }

  /** Next token from the longest context that has been seen, or undefined when not confident. */
  private predict(history: string[], accept: ((t: string) => boolean) | undefined, minN = 1): string | undefined {
    for (let n = Math.min(this.order, history.length); n >= minN; n--) {
      const ctx = this.contexts.get(history.slice(history.length - n).join(SEP));
      if (!ctx) continue;
      let best: string | undefined;
      let bestCount = 0;
      if (accept) {
        for (const [t, c] of ctx.counts) if (c > bestCount && accept(t)) { best = t; bestCount = c; }
        if (best === undefined) continue;
      } else {
        if (ctx.best === undefined) ctx.best = argmax(ctx.counts);
        if (ctx.best === null) continue;
        best = ctx.best;
        bestCount = ctx.counts.get(best) ?? 0;
      }
      if (n === 1 && bestCount / ctx.total < this.minConfidence) return undefined;
      return best;
    }
    return undefined;
  }

  /**
   * Moves the counts from `old` to `tokens`, the same document after an edit. The n-grams ending at
   * token i use tokens i-order..i; those wholly inside the shared head or the shared tail of the
   * two versions are the same in both, so only the ones ending between the edit's start and
   * `order` tokens past its end change.
   */
  private relearn(old: string[], tokens: string[]): void {
    const most = Math.min(old.length, tokens.length);
    let head = 0;
    while (head < most && old[head] === tokens[head]) head++;
    let tail = 0;
    while (tail < most - head && old[old.length - 1 - tail] === tokens[tokens.length - 1 - tail]) tail++;
    if (head === old.length && head === tokens.length) return;
    this.walk(old, -1, head, old.length - tail + this.order);
    this.walk(tokens, 1, head, tokens.length - tail + this.order);
  }

  /** Adds `delta` to the n-grams that end at tokens from..to-1 (default: all of them). */
  private walk(tokens: string[], delta: 1 | -1, from = 1, to = tokens.length): void {
    for (let i = Math.max(1, from); i < Math.min(to, tokens.length); i++) {
      const next = tokens[i]!;
      let key = '';
      for (let n = 1; n <= this.order && n <= i; n++) {
        // tokens[i-n..i) joined by SEP, built from the previous one (slice+join per n was most of the cost)
        key = n === 1 ? tokens[i - 1]! : tokens[i - n]! + SEP + key;
        let ctx = this.contexts.get(key);
        if (!ctx) {
          if (delta < 0) continue;
          ctx = { counts: new Map(), total: 0, best: undefined };
          this.contexts.set(key, ctx);
        }
        const c = (ctx.counts.get(next) ?? 0) + delta;
        if (c > 0) ctx.counts.set(next, c); else ctx.counts.delete(next);
        ctx.total += delta;
        ctx.best = undefined;
        if (ctx.total <= 0) this.contexts.delete(key);
      }
    }
  }
}

function argmax(counts: Map<string, number>): string | null {
  let best: string | null = null;
  let bestCount = 0;
  for (const [t, c] of counts) if (c > bestCount) { best = t; bestCount = c; }
  return best;
}

/**
 * Cuts the suggestion where the text after the cursor already takes over: at the first point from
 * which the rest of the suggestion is the start of the suffix's line (or contains all of it).
 */
export function stopAtSuffix(suggestion: string, suffix: string): string {
  const line = suffix.split('\n', 1)[0]!.trim();
  if (!line || !suggestion) return suggestion;
  for (let i = 0; i < suggestion.length; i++) {
    const rest = suggestion.slice(i);
    if ((rest.trim() !== '' && line.startsWith(rest.trimEnd())) || rest.startsWith(line)) {
      const kept = suggestion.slice(0, i);
      return kept.trim() === '' ? '' : kept;
    }
  }
  return suggestion;
}
