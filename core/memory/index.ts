// Memory shared across editors: items in the store, full-text + vector search, pause and forget.
export * from './types.js';
export {
  MemoryStore,
  DEFAULT_MAX_TEXT_BYTES,
  DEFAULT_EMBED_BATCH,
  FULL_TEXT_ROW_BUDGET,
  type MemoryOptions,
  type ListOptions,
  type SearchMode,
  type SearchOptions,
  type SearchHit,
  type SearchResult,
  type RelevantMemory,
  type RelevantOptions,
  type MemoryExport,
  type PausedClient,
} from './memory.js';
export type { EmbeddingProgress } from './background.js';
export { BM25_MATCHINFO, bm25FromMatchinfo, reciprocalRankFusion, queryTerms, ftsMatchExpression, topK, RRF_K } from './ranking.js';
export { VectorIndex, normalizeInPlace } from './vectors.js';
