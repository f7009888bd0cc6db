// The embedded engines and the provider interface they share.
export * from './types.js';
export { NgramProvider, tokenize, stopAtSuffix, type NgramOptions } from './ngram.js';
export { GgufProvider, getSharedLlama, defaultThreads, type GgufProviderOptions } from './gguf.js';
export { TransformersEmbeddingProvider, type TransformersEmbeddingOptions } from './transformers.js';
