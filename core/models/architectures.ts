// Which model architectures Hearth accepts, per purpose. Explicit on purpose: a model whose
// architecture llama.cpp can load is not necessarily one that does code completion (an encoder such as
// BERT cannot), so the list names the decoder families that ship fill-in-the-middle code models and
// the encoder families used for embeddings. Every GGUF name here is one node-llama-cpp 3.21 / its
// llama.cpp build knows (a unit test checks this against the binding, so an upgrade that drops one fails).

/** GGUF `general.architecture` values accepted for fill-in-the-middle completion. */
export const GGUF_COMPLETION_ARCHITECTURES: readonly string[] = [
  'llama', // CodeLlama, Llama-based code models
  'qwen2', // Qwen2.5-Coder
  'qwen3',
  'qwen3moe',
  'starcoder', // StarCoder, SantaCoder-style
  'starcoder2',
  'refact',
  'codeshell',
  'deepseek', // DeepSeek-Coder (v1 is llama-arch; these cover the rest)
  'deepseek2', // DeepSeek-Coder-V2
  'gemma', // CodeGemma
  'gemma2',
  'gemma3',
  'granite', // Granite Code
  'granitemoe',
  'mistral3', // Codestral-style
  'phi2',
  'phi3',
  'stablelm', // stable-code
  'gptneox',
  'mpt',
  'falcon',
  'internlm2',
  'minicpm',
  'olmo',
  'olmo2',
  'exaone',
  'smollm3',
  'glm4',
];

/** GGUF `general.architecture` values accepted for embeddings. */
export const GGUF_EMBEDDING_ARCHITECTURES: readonly string[] = [
  'bert',
  'nomic-bert',
  'nomic-bert-moe',
  'jina-bert-v2',
  'modern-bert',
  'neo-bert',
  'gemma-embedding',
  'llama-embed',
  'qwen3', // Qwen3-Embedding
];

/** `model_type` in a transformers.js model directory's config.json accepted for embeddings (ONNX). */
export const ONNX_EMBEDDING_MODEL_TYPES: readonly string[] = [
  'bert',
  'roberta',
  'xlm-roberta',
  'distilbert',
  'mpnet',
  'nomic_bert',
  'modernbert',
  'electra',
  'deberta-v2',
];

/**
 * Token texts llama.cpp recognises as fill-in-the-middle markers when the GGUF metadata does not name
 * them by id (same lists as llama.cpp's vocabulary loader).
 */
export const FIM_TOKEN_TEXTS = {
  prefix: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>'],
  suffix: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>'],
  middle: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>'],
} as const;
