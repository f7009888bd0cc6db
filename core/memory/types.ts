// Memory items as every caller sees them: plain, JSON-serializable data (the daemon sends these
// over the wire unchanged), plus the one error type the memory module throws.

export const MEMORY_KINDS = ['note', 'decision', 'snippet', 'preference'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];

/** LSP-style position: zero-based line and UTF-16 character offset. */
export interface MemoryPosition {
  line: number;
  character: number;
}
export interface MemoryRange {
  start: MemoryPosition;
  end: MemoryPosition;
}

/** Where an item came from when it was taken from code. */
export interface MemoryFileRef {
  uri: string;
  range: MemoryRange | null;
}

/** The client that wrote an item: the daemon passes the session's client id, name and version. */
export interface MemoryWriter {
  /** the session's client id */
  id: string;
  /** the editor or tool name, e.g. "neovim", "vscode", "cli"; pause/resume work on this name */
  name: string;
  version: string;
}

/** What a caller hands to `add`. */
export interface NewMemoryItem {
  text: string;
  /** default 'note' */
  kind?: MemoryKind;
  /** workspace root (URI or path); null or absent = not tied to a workspace (seen from every workspace) */
  workspace?: string | null;
  file?: { uri: string; range?: MemoryRange | null } | null;
  /**
   * Idempotency key the writer picks for this item (unique among its writes; at most 128
   * characters). `add` with a key the same writer name already stored returns the stored item
   * instead of storing it again: a request resent after the daemon died (the LSP bridge resends
   * unanswered requests) may already have been durable, and must not be stored twice.
   */
  requestKey?: string;
}

export interface MemoryItem {
  /** stable public id (survives export/import) */
  id: string;
  /** position in the one global order of writes: strictly increasing, never reused while the store lives */
  seq: number;
  kind: MemoryKind;
  text: string;
  workspace: string | null;
  file: MemoryFileRef | null;
  client: MemoryWriter;
  /** ISO-8601 UTC */
  createdAt: string;
}

export type MemoryErrorCode = 'invalid' | 'paused' | 'not-found' | 'closed';

export class MemoryError extends Error {
  override readonly name = 'MemoryError';
  constructor(readonly code: MemoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
