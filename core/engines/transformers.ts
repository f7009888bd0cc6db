// Embedded embeddings (transformers.js + ONNX Runtime): feature extraction with mean pooling and
// L2 normalisation, from a local model directory (config.json, tokenizer.json, onnx/model.onnx).
import { resolve } from 'node:path';
import type { FeatureExtractionPipeline } from '@huggingface/transformers';
import { checkModel } from '../models/check.js';
import {
  EngineError,
  type CompletionResult, type ProgressEvent, type Provider, type ProviderCapabilities,
} from './types.js';

/**
 * transformers.js loads on first use (it pulls in ONNX Runtime). Weights are only ever read from
 * disk: a library must not reach the model hub on its own, since the egress gate is the one path
 * off the machine.
 */
async function loadTransformers(): Promise<typeof import('@huggingface/transformers')> {
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  return t;
}

export interface TransformersEmbeddingOptions {
  /** directory holding config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx */
  modelDir: string;
  id?: string;
  /** texts per ONNX run (default 16); cancellation is checked between batches */
  batchSize?: number;
  memoryBudgetBytes?: number;
}

export class TransformersEmbeddingProvider implements Provider {
  readonly id: string;
  readonly location = 'local' as const;
  readonly capabilities: ProviderCapabilities = { fim: false, chat: false, embeddings: true, tools: false };
  private readonly modelDir: string;
  private loading: Promise<FeatureExtractionPipeline> | undefined;

  constructor(private readonly opts: TransformersEmbeddingOptions) {
    this.modelDir = resolve(opts.modelDir);
    this.id = opts.id ?? `onnx:${this.modelDir.split(/[\\/]/).pop() ?? 'model'}`;
  }

  /** Checks and loads the model if it is not loaded yet; concurrent callers share one load. */
  async load(onProgress?: (p: ProgressEvent) => void): Promise<void> {
    await this.ensureLoaded(onProgress);
  }

  private ensureLoaded(onProgress?: (p: ProgressEvent) => void): Promise<FeatureExtractionPipeline> {
    const loading = this.loading ??= this.doLoad(onProgress).catch((err: unknown) => {
      if (this.loading === loading) this.loading = undefined;
      throw err;
    });
    return loading;
  }

  async complete(): Promise<CompletionResult> {
    throw new EngineError('unsupported', `${this.id} is an embedding model and does not complete text`);
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new EngineError('bad-request', `${this.id}: embed() takes an array of strings`);
    }
    if (signal?.aborted) throw new EngineError('cancelled', 'the request was cancelled');
    const extractor = await this.ensureLoaded();
    const out: number[][] = [];
    const batch = this.opts.batchSize ?? 16;
    for (let i = 0; i < texts.length; i += batch) {
      if (signal?.aborted) throw new EngineError('cancelled', 'the request was cancelled');
      const tensor = await extractor(texts.slice(i, i + batch), { pooling: 'mean', normalize: true });
      out.push(...(tensor.tolist() as number[][]));
    }
    return out;
  }

  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    const extractor = await loading?.catch(() => undefined);
    await extractor?.dispose();
  }

  private async doLoad(onProgress?: (p: ProgressEvent) => void): Promise<FeatureExtractionPipeline> {
    onProgress?.({ stage: 'checking-model' });
    const check = await checkModel(this.modelDir, {
      purpose: 'embedding',
      ...(this.opts.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: this.opts.memoryBudgetBytes } : {}),
    });
    if (!check.ok) {
      throw new EngineError('incompatible-model', `${this.modelDir} cannot be used for embeddings: ${check.reasons.join('; ')}`);
    }
    onProgress?.({ stage: 'loading-model', fraction: 0 });
    try {
      // An absolute path is not a hub model id, so transformers.js reads it as a local directory.
      const { pipeline } = await loadTransformers();
      const extractor = await pipeline('feature-extraction', this.modelDir, {
        dtype: 'fp32',
        device: 'cpu',
        local_files_only: true,
        progress_callback: (p: { status: string; progress?: number }) => {
          if (p.status === 'progress' && typeof p.progress === 'number') onProgress?.({ stage: 'loading-model', fraction: p.progress / 100 });
        },
      });
      onProgress?.({ stage: 'ready', fraction: 1 });
      return extractor;
    } catch (err) {
      throw new EngineError('load-failed', `transformers.js could not load ${this.modelDir}: ${(err as Error).message}`, { cause: err });
    }
  }
}
