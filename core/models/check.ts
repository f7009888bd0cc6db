// Model compatibility check, run before a model is registered and before it is first loaded.
// It reads only metadata (the GGUF header, or a transformers.js model directory's config.json) and
// never loads weights, so a model that would not fit or cannot work is refused with its reasons
// before any memory is spent on it.
import { open, readFile, stat } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
// node-llama-cpp loads on first use (see core/engines/gguf.ts).
import type { GgufFileInfo, GgufInsights } from 'node-llama-cpp';
import {
  FIM_TOKEN_TEXTS, GGUF_COMPLETION_ARCHITECTURES, GGUF_EMBEDDING_ARCHITECTURES, ONNX_EMBEDDING_MODEL_TYPES,
} from './architectures.js';

export type ModelPurpose = 'completion' | 'embedding';
export type ModelFormat = 'gguf' | 'onnx';

export interface CheckOptions {
  purpose: ModelPurpose;
  /** memory the model may use; defaults to the memory free right now */
  memoryBudgetBytes?: number;
  /** context the model would be run with (GGUF); defaults to its training context, at most 4096 */
  contextSize?: number;
}

export interface ModelInfo {
  format: ModelFormat | 'unknown';
  path: string;
  sizeBytes: number;
  /** GGUF `general.architecture`, or `model_type` of an ONNX model directory */
  architecture?: string;
  name?: string;
  /** context the model was trained with (GGUF) or its maximum positions (ONNX) */
  contextLength?: number;
  /** size of the hidden state / embedding vector */
  embeddingLength?: number;
  /** fill-in-the-middle token texts, null when the model has none */
  fim?: { prefix: string; suffix: string; middle: string } | null;
  /** estimated memory to run it with `contextSize` tokens of context */
  estimatedMemoryBytes?: number;
  availableMemoryBytes: number;
}

export interface ModelCheck {
  ok: boolean;
  /** why the model is refused; empty when ok */
  reasons: string[];
  /** things worth knowing that do not prevent use */
  warnings: string[];
  info: ModelInfo;
}

/** Below this a completion model cannot hold even the lines around the cursor. */
export const MIN_COMPLETION_CONTEXT = 128;

/** Signatures of files people mistake for GGUF models, for a message that says what the file is. */
const KNOWN_MAGIC: Array<[RegExp, string]> = [
  [/^504b0304/, 'a ZIP archive (a PyTorch .bin/.pt checkpoint is one): convert it to GGUF with llama.cpp\'s convert_hf_to_gguf.py'],
  [/^1f8b/, 'a gzip archive: unpack it first'],
  [/^7f454c46/, 'an executable (ELF)'],
  [/^.{16}7b22/, 'a safetensors file: convert it to GGUF with llama.cpp\'s convert_hf_to_gguf.py'],
  [/^(3c21|3c68|3c48)/, 'an HTML page (a download that returned a web page instead of the model?)'],
  [/^(7b|5b)/, 'a JSON file'],
  [/^67676d6c|^67676a74|^67676d66/, 'an old GGML file: GGUF replaced that format; convert it or download the GGUF build'],
];

/** What the file is when its first bytes are not GGUF's magic, in words and hex (never raw bytes). */
async function describeNonGguf(path: string): Promise<string | undefined> {
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      head = Buffer.alloc(24);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  if (head.subarray(0, 4).toString('latin1') === 'GGUF') return undefined; // GGUF, damaged further on
  if (head.length === 0) return 'the file is empty';
  const hex = head.toString('hex');
  const first = hex.slice(0, 8).replace(/(..)(?=.)/g, '$1 ');
  const kind = KNOWN_MAGIC.find(([re]) => re.test(hex))?.[1];
  return `it starts with the bytes ${first}, not "GGUF"${kind ? `: ${kind}` : ''}`;
}

/** A message with control and non-ASCII-printable characters shown as \xNN, never raw. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f\ufffd]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
const SMALL_COMPLETION_CONTEXT = 1024;
const DEFAULT_CONTEXT = 4096;

export async function checkModel(path: string, opts: CheckOptions): Promise<ModelCheck> {
  const available = opts.memoryBudgetBytes ?? freemem();
  const info: ModelInfo = { format: 'unknown', path, sizeBytes: 0, availableMemoryBytes: available };
  const result: ModelCheck = { ok: false, reasons: [], warnings: [], info };
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    result.reasons.push(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return result;
  }
  if (st.isDirectory()) await checkOnnxDirectory(path, opts, result);
  else await checkGguf(path, st.size, opts, result);
  const need = info.estimatedMemoryBytes;
  if (need !== undefined && need > available) {
    result.reasons.push(`it needs about ${mib(need)} of memory ` +
      `but only ${mib(available)} is ${opts.memoryBudgetBytes !== undefined ? 'allowed' : 'free'}; ` +
      'choose a smaller or more quantized model, or a smaller context');
  }
  result.ok = result.reasons.length === 0;
  return result;
}

async function checkGguf(path: string, size: number, opts: CheckOptions, result: ModelCheck): Promise<void> {
  const { info, reasons, warnings } = result;
  info.sizeBytes = size;
  let file: GgufFileInfo;
  try {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    file = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false });
  } catch (err) {
    const why = (await describeNonGguf(path)) ?? printable((err as Error).message);
    reasons.push(`${path} is not a readable GGUF model file (${why}); ` +
      'completion models must be GGUF files, embedding models GGUF files or transformers.js ONNX directories');
    return;
  }
  info.format = 'gguf';
  const meta = file.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = meta.general ?? {};
  const arch = typeof general.architecture === 'string' ? general.architecture : undefined;
  if (arch !== undefined) info.architecture = arch;
  if (typeof general.name === 'string') info.name = general.name;
  const archMeta = (file.architectureMetadata ?? {}) as Record<string, unknown>;
  if (typeof archMeta.context_length === 'number') info.contextLength = archMeta.context_length;
  if (typeof archMeta.embedding_length === 'number') info.embeddingLength = archMeta.embedding_length;

  const accepted = opts.purpose === 'completion' ? GGUF_COMPLETION_ARCHITECTURES : GGUF_EMBEDDING_ARCHITECTURES;
  const other = opts.purpose === 'completion' ? GGUF_EMBEDDING_ARCHITECTURES : GGUF_COMPLETION_ARCHITECTURES;
  let insights: GgufInsights | undefined;
  if (arch === undefined) {
    reasons.push('the file names no architecture (general.architecture is missing)');
  } else if (!accepted.includes(arch)) {
    reasons.push(other.includes(arch)
      ? `architecture '${arch}' is for ${opts.purpose === 'completion' ? 'embeddings' : 'completion'}, not ${opts.purpose}`
      : `architecture '${arch}' is not supported for ${opts.purpose} (supported: ${accepted.join(', ')})`);
  } else {
    insights = await (await import('node-llama-cpp')).GgufInsights.from(file);
    if (!insights.isSupportedByLlamaCpp) reasons.push(`the bundled llama.cpp cannot run architecture '${arch}'; update node-llama-cpp`);
  }

  const tokenizer = (meta.tokenizer as { ggml?: Record<string, unknown> } | undefined)?.ggml ?? {};
  if (opts.purpose === 'completion') {
    info.fim = findFimTokens(tokenizer);
    if (!info.fim) {
      reasons.push('it has no fill-in-the-middle tokens (prefix/suffix/middle), so it cannot complete code at the cursor; ' +
        'use a code model trained for FIM such as Qwen2.5-Coder, StarCoder2, CodeGemma or DeepSeek-Coder');
    }
    if (info.contextLength === undefined) warnings.push('the file does not state its context length');
    else if (info.contextLength < MIN_COMPLETION_CONTEXT) {
      reasons.push(`its context length (${info.contextLength} tokens) is below the ${MIN_COMPLETION_CONTEXT} tokens completion needs`);
    } else if (info.contextLength < SMALL_COMPLETION_CONTEXT) {
      warnings.push(`its context length is only ${info.contextLength} tokens; completions will see little of the file`);
    }
  }
  const contextSize = opts.contextSize ?? Math.min(info.contextLength ?? DEFAULT_CONTEXT, DEFAULT_CONTEXT);
  if (opts.contextSize !== undefined && info.contextLength !== undefined && opts.contextSize > info.contextLength) {
    warnings.push(`a context of ${opts.contextSize} tokens is larger than the ${info.contextLength} the model was trained with`);
  }
  if (insights) {
    // The V1 estimates (deprecated upstream) compute from metadata; the V2 ones load the model to simulate it.
    const weights = insights.estimateModelResourceRequirements({ gpuLayers: 0 }).cpuRam;
    const context = insights.estimateContextResourceRequirements({
      contextSize, modelGpuLayers: 0, isEmbeddingContext: opts.purpose === 'embedding',
    }).cpuRam;
    info.estimatedMemoryBytes = weights + context;
  } else {
    info.estimatedMemoryBytes = size; // at least the weights themselves
  }
}

function findFimTokens(tok: Record<string, unknown>): { prefix: string; suffix: string; middle: string } | null {
  const tokens = Array.isArray(tok.tokens) ? (tok.tokens as unknown[]) : [];
  const byId = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const id = tok[k];
      if (typeof id === 'number' && id >= 0 && id < tokens.length && typeof tokens[id] === 'string') return tokens[id] as string;
    }
    return undefined;
  };
  const byText = (texts: readonly string[]): string | undefined => {
    const set = new Set<unknown>(tokens);
    return texts.find((t) => set.has(t));
  };
  const prefix = byId('fim_pre_token_id', 'prefix_token_id') ?? byText(FIM_TOKEN_TEXTS.prefix);
  const suffix = byId('fim_suf_token_id', 'suffix_token_id') ?? byText(FIM_TOKEN_TEXTS.suffix);
  const middle = byId('fim_mid_token_id', 'middle_token_id') ?? byText(FIM_TOKEN_TEXTS.middle);
  return prefix && suffix && middle ? { prefix, suffix, middle } : null;
}

async function checkOnnxDirectory(dir: string, opts: CheckOptions, result: ModelCheck): Promise<void> {
  const { info, reasons } = result;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    reasons.push(`${dir} is a directory but not a transformers.js model (config.json: ${(err as Error).message})`);
    return;
  }
  info.format = 'onnx';
  const type = typeof config.model_type === 'string' ? config.model_type : undefined;
  if (type !== undefined) info.architecture = type;
  if (typeof config.hidden_size === 'number') info.embeddingLength = config.hidden_size;
  if (typeof config.max_position_embeddings === 'number') info.contextLength = config.max_position_embeddings;
  if (opts.purpose !== 'embedding') {
    reasons.push('ONNX model directories are used for embeddings only; completion needs a GGUF model with FIM tokens');
  }
  if (type === undefined) reasons.push('config.json names no model_type');
  else if (!ONNX_EMBEDDING_MODEL_TYPES.includes(type)) {
    reasons.push(`model_type '${type}' is not supported for embeddings (supported: ${ONNX_EMBEDDING_MODEL_TYPES.join(', ')})`);
  }
  try {
    await stat(join(dir, 'tokenizer.json'));
  } catch {
    reasons.push('tokenizer.json is missing');
  }
  try {
    const model = await stat(join(dir, 'onnx', 'model.onnx'));
    info.sizeBytes = model.size;
    // weights plus ONNX Runtime's arena and activations: about twice the file, measured on small encoders
    info.estimatedMemoryBytes = model.size * 2;
  } catch {
    reasons.push('onnx/model.onnx is missing');
  }
}

function mib(bytes: number): string {
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(1)} GiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
