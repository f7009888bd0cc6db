// The embedded n-gram completer, one model per language family: a Python buffer is completed from
// what Python files taught, never from TypeScript's n-grams (one global model mixed them, and a
// large workspace in one language drowned the others). Each suggestion then goes through the
// syntactic stops and the partial-identifier rule (core/engines/shape.ts).
import { NgramProvider, type NgramOptions } from './ngram.js';
import { shapeCompletion } from './shape.js';
import { languageFamily } from '../workspace/language.js';
import {
  EngineError, validateCompletionRequest,
  type CompletionRequest, type CompletionResult, type Provider, type ProviderCapabilities,
} from './types.js';

/** The pool of documents whose language is not known (no known languageId or extension). */
const UNKNOWN = '';
/** Families whose line comments start with `#`. */
const HASH_COMMENTS = new Set(['python', 'shell', 'ruby', 'yaml', 'toml', 'elixir']);

export class LanguageNgram implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities: ProviderCapabilities = { fim: true, chat: false, embeddings: false, tools: false };
  private readonly engines = new Map<string, NgramProvider>();
  /** which family each learned document went to */
  private readonly familyOf = new Map<string, string>();
  private readonly opts: NgramOptions;

  constructor(opts: NgramOptions = {}) {
    this.id = opts.id ?? 'ngram';
    // The workspace index feeds up to 20 000 files; the engine's own default keeps 5000.
    // A suggestion starts only from a context of two tokens or more (one token's guess was wrong
    // more often than right in bench/quality.ts).
    this.opts = { maxDocuments: 25_000, minStartContext: 2, ...opts, id: this.id };
  }

  /** The family a document's text is learned under: its languageId, else its URI's extension. */
  static family(uri: string, language?: string | null): string {
    return languageFamily(uri.slice(uri.lastIndexOf(' ') + 1), language) ?? UNKNOWN;
  }

  private engine(family: string): NgramProvider {
    let e = this.engines.get(family);
    if (!e) {
      e = new NgramProvider(this.opts);
      this.engines.set(family, e);
    }
    return e;
  }

  /** Where `uri` goes; a document whose language changed is forgotten by its old family. */
  private place(uri: string, language?: string | null): NgramProvider {
    const family = LanguageNgram.family(uri, language);
    const before = this.familyOf.get(uri);
    if (before !== undefined && before !== family) this.engines.get(before)?.forget(uri);
    this.familyOf.set(uri, family);
    return this.engine(family);
  }

  learn(uri: string, text: string, language?: string | null): void {
    this.place(uri, language).learn(uri, text);
  }

  learnLater(uri: string, text: string, language?: string | null): void {
    this.place(uri, language).learnLater(uri, text);
  }

  forget(uri: string): void {
    const family = this.familyOf.get(uri);
    if (family === undefined) return;
    this.familyOf.delete(uri);
    this.engines.get(family)?.forget(uri);
  }

  /** Documents learned, per family (for status and tests). */
  families(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.familyOf.values()) out[f || '(unknown)'] = (out[f || '(unknown)'] ?? 0) + 1;
    return out;
  }

  get documentCount(): number {
    return this.familyOf.size;
  }

  /** The shaped suggestion for a buffer of `language` (a languageId or a family). */
  suggest(prefix: string, suffix: string, language?: string | null, maxTokens = 64): string {
    const family = languageFamily(null, language) ?? language ?? UNKNOWN;
    const engine = this.engines.get(family);
    if (!engine) return '';
    const raw = engine.suggest(prefix, suffix, maxTokens);
    return shapeCompletion(prefix, suffix, raw, { occurrences: (w) => engine.occurrences(w), countsCursorWord: suffix.length > 0, lineComment: HASH_COMMENTS.has(family) ? '#' : '//' });
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    validateCompletionRequest(this.id, req);
    if (req.signal?.aborted) throw new EngineError('cancelled', 'the request was cancelled');
    req.onProgress?.({ stage: 'generating' });
    const text = this.suggest(req.prefix, req.suffix, req.language, req.maxTokens);
    if (text) req.onText?.(text);
    return { text, model: 'ngram-4' };
  }

  async embed(): Promise<number[][]> {
    throw new EngineError('unsupported', `${this.id} does not compute embeddings; use an embedding provider`);
  }

  async dispose(): Promise<void> {
    for (const e of this.engines.values()) await e.dispose();
    this.engines.clear();
    this.familyOf.clear();
  }
}
