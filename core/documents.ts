// The shared document view: every open document of every attached client, with which editor has
// it and at which version. Completions in one editor draw context from buffers open in another.
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';

export interface OpenDocument {
  clientId: string;
  clientName: string;
  document: TextDocument;
}

/** What one client (connection) may keep open: a bound on the memory it makes the daemon hold. */
export interface DocumentLimits {
  maxDocuments: number;
  /** UTF-8 bytes of all its open documents together */
  maxBytes: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = { maxDocuments: 10_000, maxBytes: 256 * 1024 * 1024 };

/** An open or change refused by a DocumentLimits bound; the registry is as it was before. */
export class DocumentLimitError extends Error {
  constructor(message: string, readonly limit: keyof DocumentLimits) {
    super(message);
    this.name = 'DocumentLimitError';
  }
}

interface ClientDocs {
  name: string;
  docs: Map<string, TextDocument>;
  sizes: Map<string, number>;
  bytes: number;
}

const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MiB`;

export type DocumentListener = (event: { kind: 'open' | 'change' | 'close'; clientId: string; uri: string; text?: string }) => void;

export class DocumentRegistry {
  private readonly byClient = new Map<string, ClientDocs>();
  private readonly listeners = new Set<DocumentListener>();
  readonly limits: DocumentLimits;

  constructor(limits: Partial<DocumentLimits> = {}) {
    this.limits = { ...DEFAULT_DOCUMENT_LIMITS, ...limits };
  }

  onChange(listener: DocumentListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: Parameters<DocumentListener>[0]): void {
    for (const l of this.listeners) l(event);
  }

  private client(clientId: string, clientName = clientId): ClientDocs {
    let c = this.byClient.get(clientId);
    if (!c) {
      c = { name: clientName, docs: new Map(), sizes: new Map(), bytes: 0 };
      this.byClient.set(clientId, c);
    }
    return c;
  }

  rename(clientId: string, clientName: string): void {
    this.client(clientId).name = clientName;
  }

  open(clientId: string, clientName: string, uri: string, languageId: string, version: number, text: string): void {
    const c = this.client(clientId, clientName);
    if (!c.docs.has(uri) && c.docs.size >= this.limits.maxDocuments) {
      throw new DocumentLimitError(`${uri} was not opened: this connection already has ${c.docs.size} open documents, the most one connection may keep open`, 'maxDocuments');
    }
    const size = Buffer.byteLength(text);
    this.checkBytes(c, uri, size, 'was not opened');
    c.docs.set(uri, TextDocument.create(uri, languageId, version, text));
    this.setSize(c, uri, size);
    this.emit({ kind: 'open', clientId, uri, text });
  }

  private checkBytes(c: ClientDocs, uri: string, size: number, what: string): void {
    const total = c.bytes - (c.sizes.get(uri) ?? 0) + size;
    if (total > this.limits.maxBytes) {
      throw new DocumentLimitError(`${uri} ${what}: this connection's open documents would take ${mib(total)}, over the ${mib(this.limits.maxBytes)} one connection may keep open`, 'maxBytes');
    }
  }

  private setSize(c: ClientDocs, uri: string, size: number): void {
    c.bytes += size - (c.sizes.get(uri) ?? 0);
    c.sizes.set(uri, size);
  }

  /** UTF-8 bytes of an open document (kept from open/change, not recounted). */
  bytesOf(clientId: string, uri: string): number {
    return this.byClient.get(clientId)?.sizes.get(uri) ?? 0;
  }

  /** Applies LSP content changes; a change to a document the client never opened is an error. */
  change(clientId: string, uri: string, version: number, changes: TextDocumentContentChangeEvent[]): void {
    const doc = this.byClient.get(clientId)?.docs.get(uri);
    if (!doc) throw new Error(`didChange for ${uri}, which this client has not opened`);
    const before = { text: doc.getText(), version: doc.version }; // update() edits the document in place
    const updated = TextDocument.update(doc, changes, version);
    const c = this.client(clientId);
    const text = updated.getText();
    const size = Buffer.byteLength(text);
    try {
      this.checkBytes(c, uri, size, `was not changed (the daemon keeps version ${before.version})`);
    } catch (err) {
      c.docs.set(uri, TextDocument.create(uri, doc.languageId, before.version, before.text));
      throw err;
    }
    c.docs.set(uri, updated);
    this.setSize(c, uri, size);
    this.emit({ kind: 'change', clientId, uri, text });
  }

  close(clientId: string, uri: string): void {
    const c = this.byClient.get(clientId);
    if (!c?.docs.delete(uri)) return;
    c.bytes -= c.sizes.get(uri) ?? 0;
    c.sizes.delete(uri);
    this.emit({ kind: 'close', clientId, uri });
  }

  dropClient(clientId: string): void {
    const c = this.byClient.get(clientId);
    if (!c) return;
    for (const uri of c.docs.keys()) this.emit({ kind: 'close', clientId, uri });
    this.byClient.delete(clientId);
  }

  get(clientId: string, uri: string): TextDocument | undefined {
    return this.byClient.get(clientId)?.docs.get(uri);
  }

  /** The client's open documents, in opening order; the first `limit` of them when given. */
  documentsOf(clientId: string, limit = Infinity): TextDocument[] {
    const out: TextDocument[] = [];
    for (const d of this.byClient.get(clientId)?.docs.values() ?? []) {
      if (out.length >= limit) break;
      out.push(d);
    }
    return out;
  }

  /** How many documents a client has open and their UTF-8 bytes in all (kept, not recounted). */
  totalsOf(clientId: string): { count: number; bytes: number } {
    const c = this.byClient.get(clientId);
    return { count: c?.docs.size ?? 0, bytes: c?.bytes ?? 0 };
  }

  /** Every open document across all clients. */
  all(): OpenDocument[] {
    const out: OpenDocument[] = [];
    for (const [clientId, c] of this.byClient) {
      for (const document of c.docs.values()) out.push({ clientId, clientName: c.name, document });
    }
    return out;
  }
}
