// Embedded GGUF engine (node-llama-cpp): fill-in-the-middle with the model's own FIM tokens.
// The model is checked (core/models/check) before it is loaded, loaded lazily on first use with
// progress, and one model + one context sequence is reused for every request; requests run one at a
// time on it (llama.cpp reuses the shared token prefix between calls, which is what makes successive
// completions in the same file fast).
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
// node-llama-cpp (a native addon) loads on first use, so the CLI and daemon start, and run the
// n-gram engine, where it is not installed (e.g. the CLI packed into the VS Code extension).
import type { Llama, LlamaCompletion, LlamaContext, LlamaModel } from 'node-llama-cpp';
import { checkModel } from '../models/check.js';
import {
  deadline, EngineError, validateCompletionRequest,
  type CompletionRequest, type CompletionResult, type ProgressEvent, type Provider, type ProviderCapabilities,
} from './types.js';

let sharedLlama: Promise<Llama> | undefined;

/**
 * The process-wide llama.cpp runtime, CPU only, from the prebuilt binary shipped in the npm package:
 * it never builds from source and never downloads anything.
 */
export function getSharedLlama(): Promise<Llama> {
  sharedLlama ??= import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) => getLlama({
    gpu: false,
    build: 'never',
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  })).catch((err: unknown) => {
    sharedLlama = undefined;
    throw new EngineError('load-failed',
      `could not start llama.cpp from node-llama-cpp's prebuilt binaries (${(err as Error).message}); ` +
      'reinstall the dependencies so @node-llama-cpp/linux-x64 (or your platform\'s package) is present', { cause: err });
  });
  return sharedLlama;
}

/** Threads for token evaluation: half the cores (at least one) leaves room for the daemon and the editor. */
export function defaultThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

export interface GgufProviderOptions {
  modelPath: string;
  id?: string;
  /** tokens of context (default: the model's training context, at most 4096) */
  contextSize?: number;
  threads?: number;
  /** per-request time limit in ms, including a first load (default 30 000) */
  timeoutMs?: number;
  /** characters of prefix / suffix sent to the model at most (defaults 6000 / 2000) */
  maxPrefixChars?: number;
  maxSuffixChars?: number;
  /** passed to the model check; defaults to free memory */
  memoryBudgetBytes?: number;
  /** sampling temperature; 0 (default) is greedy, so the same input gives the same text */
  temperature?: number;
}

interface Loaded { model: LlamaModel; context: LlamaContext; completion: LlamaCompletion }

export class GgufProvider implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities: ProviderCapabilities = { fim: true, chat: false, embeddings: false, tools: false };
  readonly modelName: string;
  private loading: Promise<Loaded> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly progressListeners = new Set<(p: ProgressEvent) => void>();

  constructor(private readonly opts: GgufProviderOptions) {
    this.id = opts.id ?? `gguf:${basename(opts.modelPath)}`;
    this.modelName = basename(opts.modelPath).replace(/\.gguf$/i, '');
  }

  get loaded(): boolean {
    return this.loading !== undefined;
  }

  /** Checks and loads the model if it is not loaded yet; concurrent callers share one load. */
  async load(onProgress?: (p: ProgressEvent) => void): Promise<void> {
    await this.ensureLoaded(onProgress);
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    validateCompletionRequest(this.id, req);
    const limit = deadline(req.signal, req.timeoutMs ?? this.opts.timeoutMs ?? 30_000);
    try {
      if (limit.signal.aborted) throw limit.error();
      const loaded = await abortable(this.ensureLoaded(req.onProgress), limit.signal, limit.error);
      // One generation at a time on the shared sequence; a request cancelled while it waits never runs.
      const run = this.queue.then(async () => {
        if (limit.signal.aborted) throw limit.error();
        if (loaded.context.disposed) throw new EngineError('cancelled', `${this.id} was disposed while the request waited`);
        req.onProgress?.({ stage: 'generating' });
        const prefix = req.prefix.slice(-(this.opts.maxPrefixChars ?? 6000));
        const suffix = req.suffix.slice(0, this.opts.maxSuffixChars ?? 2000);
        try {
          const text = await loaded.completion.generateInfillCompletion(prefix, suffix, {
            maxTokens: req.maxTokens,
            temperature: this.opts.temperature ?? 0,
            signal: limit.signal,
            stopOnAbortSignal: false,
            ...(req.onText ? { onTextChunk: req.onText } : {}),
          });
          return { text, model: this.modelName };
        } catch (err) {
          if (limit.signal.aborted) throw limit.error();
          throw err;
        }
      });
      this.queue = run.catch(() => undefined);
      // a request cancelled while it waits in the queue rejects now, not when its turn comes
      return await abortable(run, limit.signal, limit.error);
    } finally {
      limit.dispose();
    }
  }

  async embed(): Promise<number[][]> {
    throw new EngineError('unsupported', `${this.id} is a completion model; use an embedding provider`);
  }

  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    if (!loading) return;
    const loaded = await loading.catch(() => undefined);
    await this.queue;
    if (loaded) {
      loaded.completion.dispose();
      await loaded.context.dispose();
      await loaded.model.dispose();
    }
  }

  private ensureLoaded(onProgress?: (p: ProgressEvent) => void): Promise<Loaded> {
    if (onProgress) this.progressListeners.add(onProgress);
    const loading = this.loading ??= this.doLoad().catch((err: unknown) => {
      if (this.loading === loading) this.loading = undefined;
      throw err;
    });
    return loading.finally(() => { if (onProgress) this.progressListeners.delete(onProgress); });
  }

  private emit(p: ProgressEvent): void {
    for (const l of this.progressListeners) l(p);
  }

  private async doLoad(): Promise<Loaded> {
    this.emit({ stage: 'checking-model' });
    const check = await checkModel(this.opts.modelPath, {
      purpose: 'completion',
      ...(this.opts.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: this.opts.memoryBudgetBytes } : {}),
      ...(this.opts.contextSize !== undefined ? { contextSize: this.opts.contextSize } : {}),
    });
    if (!check.ok) {
      throw new EngineError('incompatible-model',
        `${this.opts.modelPath} cannot be used for completion: ${check.reasons.join('; ')}`);
    }
    this.emit({ stage: 'loading-engine' });
    const llama = await getSharedLlama();
    this.emit({ stage: 'loading-model', fraction: 0 });
    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: this.opts.modelPath,
        gpuLayers: 0,
        onLoadProgress: (fraction) => this.emit({ stage: 'loading-model', fraction }),
      });
    } catch (err) {
      throw new EngineError('load-failed', `llama.cpp could not load ${this.opts.modelPath}: ${(err as Error).message}`, { cause: err });
    }
    this.emit({ stage: 'creating-context' });
    try {
      const context = await model.createContext({
        contextSize: this.opts.contextSize ?? Math.min(check.info.contextLength ?? 4096, 4096),
        threads: this.opts.threads ?? defaultThreads(),
      });
      const { LlamaCompletion } = await import('node-llama-cpp');
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      if (!completion.infillSupported) {
        throw new EngineError('incompatible-model', `${this.opts.modelPath} has no fill-in-the-middle tokens llama.cpp can use`);
      }
      this.emit({ stage: 'ready', fraction: 1 });
      return { model, context, completion };
    } catch (err) {
      await model.dispose();
      if (err instanceof EngineError) throw err;
      throw new EngineError('load-failed', `could not create a context for ${this.opts.modelPath}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Waits for `p`, but rejects as soon as `signal` fires (the work behind `p` carries on for others). */
function abortable<T>(p: Promise<T>, signal: AbortSignal, error: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
