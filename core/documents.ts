// The shared document view: every open document of every attached client, with which editor has
// it and at which version. Completions in one editor draw context from buffers open in another.
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';

export interface OpenDocument {
  clientId: string;
  clientName: string;
  document: TextDocument;
}

export type DocumentListener = (event: { kind: 'open' | 'change' | 'close'; clientId: string; uri: string; text?: string }) => void;

export class DocumentRegistry {
  private readonly byClient = new Map<string, { name: string; docs: Map<string, TextDocument> }>();
  private readonly listeners = new Set<DocumentListener>();

  onChange(listener: DocumentListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: Parameters<DocumentListener>[0]): void {
    for (const l of this.listeners) l(event);
  }

  private client(clientId: string, clientName = clientId): { name: string; docs: Map<string, TextDocument> } {
    let c = this.byClient.get(clientId);
    if (!c) {
      c = { name: clientName, docs: new Map() };
      this.byClient.set(clientId, c);
    }
    return c;
  }

  rename(clientId: string, clientName: string): void {
    this.client(clientId).name = clientName;
  }

  open(clientId: string, clientName: string, uri: string, languageId: string, version: number, text: string): void {
    this.client(clientId, clientName).docs.set(uri, TextDocument.create(uri, languageId, version, text));
    this.emit({ kind: 'open', clientId, uri, text });
  }

  /** Applies LSP content changes; a change to a document the client never opened is an error. */
  change(clientId: string, uri: string, version: number, changes: TextDocumentContentChangeEvent[]): void {
    const doc = this.byClient.get(clientId)?.docs.get(uri);
    if (!doc) throw new Error(`didChange for ${uri}, which this client has not opened`);
    const updated = TextDocument.update(doc, changes, version);
    this.client(clientId).docs.set(uri, updated);
    this.emit({ kind: 'change', clientId, uri, text: updated.getText() });
  }

  close(clientId: string, uri: string): void {
    if (this.byClient.get(clientId)?.docs.delete(uri)) this.emit({ kind: 'close', clientId, uri });
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

  documentsOf(clientId: string): TextDocument[] {
    return [...(this.byClient.get(clientId)?.docs.values() ?? [])];
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
