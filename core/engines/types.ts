// The one interface every model provider implements, embedded engines and HTTP providers alike.
// The router talks only to this; nothing outside core/engines knows which engine answered.

/** Where inference happens: on this machine, on a machine of the local network, or off-site. */
export type ProviderLocation = 'local' | 'lan' | 'cloud';

export interface ProviderCapabilities {
  /** fill-in-the-middle completion: `complete()` */
  fim: boolean;
  chat: boolean;
  /** `embed()` */
  embeddings: boolean;
  tools: boolean;
}

export interface ProgressEvent {
  /** e.g. 'loading-engine', 'loading-model', 'creating-context', 'generating', 'download' */
  stage: string;
  /** 0..1 when the stage can tell how far along it is */
  fraction?: number;
}

export interface CompletionRequest {
  /** text before the cursor */
  prefix: string;
  /** text after the cursor */
  suffix: string;
  /** upper bound on generated tokens */
  maxTokens: number;
  signal?: AbortSignal;
  /** the document's language (LSP languageId, or a family from core/workspace/language.ts); engines that learn per language use it */
  language?: string;
  /** overrides the provider's default timeout for this request */
  timeoutMs?: number;
  onProgress?: (p: ProgressEvent) => void;
  /** streaming: called with each piece of text as it is generated */
  onText?: (chunk: string) => void;
}

export interface CompletionResult {
  text: string;
  /** the model (or engine) that produced the text */
  model: string;
}

export interface Provider {
  readonly id: string;
  readonly location: ProviderLocation;
  readonly capabilities: ProviderCapabilities;
  /** Fill-in-the-middle completion. Rejects with EngineError('unsupported') without the `fim` capability. */
  complete(req: CompletionRequest): Promise<CompletionResult>;
  /** One vector per text. Rejects with EngineError('unsupported') without the `embeddings` capability. */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
  /** Frees models, contexts and sessions. The provider may be used again afterwards (it reloads lazily). */
  dispose(): Promise<void>;
}

export type EngineErrorCode =
  | 'cancelled' // the caller's AbortSignal fired
  | 'timeout' // the provider's or the request's time limit passed
  | 'unsupported' // the provider cannot do this (capability missing)
  | 'incompatible-model' // the model check refused the model before it was loaded
  | 'load-failed' // the engine could not load the model or its runtime
  | 'bad-request'; // the request itself is invalid

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Rejects with a clear EngineError when a request is malformed; shared by all providers. */
export function validateCompletionRequest(providerId: string, req: CompletionRequest): void {
  if (typeof req.prefix !== 'string' || typeof req.suffix !== 'string') {
    throw new EngineError('bad-request', `${providerId}: prefix and suffix must be strings`);
  }
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) {
    throw new EngineError('bad-request', `${providerId}: maxTokens must be a positive integer, got ${String(req.maxTokens)}`);
  }
}

/**
 * A signal that fires when the caller's signal fires or the time limit passes, plus a way to tell
 * which of the two happened. `dispose()` clears the timer.
 */
export function deadline(signal: AbortSignal | undefined, timeoutMs: number | undefined, opts: { deferred?: boolean } = {}): {
  signal: AbortSignal;
  /** Starts the clock of a deferred deadline (no-op otherwise, or when already started). */
  start(): void;
  error(): EngineError;
  dispose(): void;
} {
  const ctl = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const onAbort = (): void => ctl.abort(signal?.reason);
  if (signal?.aborted) ctl.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const start = (): void => {
    if (timer || disposed || !(timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs))) return;
    timer = setTimeout(() => { timedOut = true; ctl.abort(new Error('timeout')); }, timeoutMs);
    timer.unref?.();
  };
  if (!opts.deferred) start();
  return {
    signal: ctl.signal,
    start,
    error: () => timedOut
      ? new EngineError('timeout', `the request took longer than ${timeoutMs} ms and was stopped`)
      : new EngineError('cancelled', 'the request was cancelled'),
    dispose: () => {
      disposed = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
