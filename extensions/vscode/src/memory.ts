// Shared memory in VS Code: "Hearth: Remember Selection" writes the selection (file uri + range,
// kind snippet) with hearth/memory/add, and the "Hearth Memory" tree view in the explorer lists the
// workspace's memory, newest first, each item with the editor that wrote it and when; a search
// box narrows it (hearth/memory/search), a context-menu command forgets an item. Every editor's
// writes reach this view through the daemon's hearth/memory/didChange notification.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { MemoryAdd, MemoryForget, MemoryList, MemorySearch, type Params, type Result } from '../../../server/protocol.js';

export interface MemoryItem {
  id: string;
  seq: number;
  kind: string;
  text: string;
  workspace?: string | null;
  file?: { uri: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } | null } | null;
  client?: { id?: string; name?: string; version?: string };
  createdAt?: string;
}

const KIND_ICONS: Record<string, string> = { snippet: 'code', note: 'note', decision: 'law', preference: 'settings-gear' };

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `2026-11-25 08:12` in local time: when an item was written. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function firstLine(text: string, max = 80): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The tree row: label = the text's first line, description = writer · time. */
export function describeItem(item: MemoryItem): { label: string; description: string } {
  return { label: firstLine(item.text), description: `${item.client?.name ?? 'unknown'} · ${formatTime(item.createdAt)}` };
}

export class MemoryView implements vscode.TreeDataProvider<MemoryItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<MemoryItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<MemoryItem>;
  private query: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly client: () => LanguageClient | undefined, private readonly log: (msg: string) => void) {
    this.view = vscode.window.createTreeView('hearth.memory', { treeDataProvider: this, showCollapseAll: false });
    this.disposables.push(
      this.view, this.changed,
      vscode.commands.registerCommand('hearth.rememberSelection', () => this.rememberSelection()),
      vscode.commands.registerCommand('hearth.showMemory', () => vscode.commands.executeCommand('hearth.memory.focus')),
      vscode.commands.registerCommand('hearth.memory.search', (q?: string) => this.search(q)),
      vscode.commands.registerCommand('hearth.memory.clearSearch', () => this.setQuery(undefined)),
      vscode.commands.registerCommand('hearth.memory.refresh', () => this.refresh()),
      vscode.commands.registerCommand('hearth.memory.forget', (item?: MemoryItem) => this.forget(item)),
      vscode.commands.registerCommand('hearth.memory.open', (item: MemoryItem) => this.open(item)),
    );
    void vscode.commands.executeCommand('setContext', 'hearth.memorySearchActive', false);
  }

  /** Re-reads the view from the daemon (on hearth/memory/didChange and after reconnecting). */
  refresh(): void {
    this.changed.fire(undefined);
  }

  private setQuery(q: string | undefined): void {
    this.query = q && q.trim() ? q.trim() : undefined;
    this.view.description = this.query ? `search: ${this.query}` : '';
    void vscode.commands.executeCommand('setContext', 'hearth.memorySearchActive', this.query !== undefined);
    this.refresh();
  }

  private async search(q?: string): Promise<void> {
    const query = typeof q === 'string' ? q : await vscode.window.showInputBox({
      title: 'Hearth: Search Memory',
      prompt: 'Full-text (and vector, with an embedding model) search of this workspace\'s memory; empty shows everything',
      value: this.query ?? '',
      placeHolder: 'e.g. rounding taxRate',
    });
    if (query === undefined) return;
    this.setQuery(query);
    await vscode.commands.executeCommand('hearth.memory.focus');
  }

  getTreeItem(item: MemoryItem): vscode.TreeItem {
    const { label, description } = describeItem(item);
    const t = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    t.id = item.id;
    t.description = description;
    t.contextValue = 'hearth.memoryItem';
    t.iconPath = new vscode.ThemeIcon(KIND_ICONS[item.kind] ?? 'bookmark');
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${item.kind}** written by **${item.client?.name ?? 'unknown'}** ${item.client?.version ?? ''} at ${item.createdAt ?? ''}\n\n`);
    if (item.file) md.appendMarkdown(`from \`${item.file.uri}\`${item.file.range ? ` line ${item.file.range.start.line + 1}` : ''}\n\n`);
    md.appendCodeblock(item.text);
    t.tooltip = md;
    t.accessibilityInformation = { label: `${item.kind}: ${label}, written by ${item.client?.name ?? 'unknown'} at ${formatTime(item.createdAt)}` };
    if (item.file?.uri.startsWith('file:')) t.command = { command: 'hearth.memory.open', title: 'Open Source', arguments: [item] };
    return t;
  }

  async getChildren(parent?: MemoryItem): Promise<MemoryItem[]> {
    if (parent) return [];
    const c = this.client();
    if (!c) {
      this.view.message = 'Hearth is not running; see the Hearth output channel.';
      return [];
    }
    try {
      let items: MemoryItem[];
      if (this.query) {
        const params: Params<typeof MemorySearch> = { query: this.query, limit: 100 };
        const r = await c.sendRequest<Result<typeof MemorySearch>>(MemorySearch.method, params);
        items = r.hits.map((h) => h.item as MemoryItem);
        this.view.message = `${items.length} item${items.length === 1 ? '' : 's'} match "${this.query}" (${r.mode})`;
      } else {
        const params: Params<typeof MemoryList> = { limit: 500 };
        const r = await c.sendRequest<Result<typeof MemoryList>>(MemoryList.method, params);
        items = r.items as MemoryItem[];
        this.view.message = items.length === 0 ? 'No memory in this workspace yet: select code and run "Hearth: Remember Selection".' : '';
      }
      return items;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.log(`[memory] could not read memory: ${msg}`);
      this.view.message = `Could not read memory: ${msg}`;
      return [];
    }
  }

  private async rememberSelection(): Promise<void> {
    const c = this.client();
    const editor = vscode.window.activeTextEditor;
    if (!c) {
      void vscode.window.showWarningMessage('Hearth is not running; see the Hearth output channel.');
      return;
    }
    if (!editor) {
      void vscode.window.showInformationMessage('Hearth: select some code in an editor, then run "Hearth: Remember Selection".');
      return;
    }
    const sel = editor.selection;
    const range = sel.isEmpty ? editor.document.lineAt(sel.active.line).range : new vscode.Range(sel.start, sel.end);
    const text = editor.document.getText(range);
    if (!text.trim()) {
      void vscode.window.showInformationMessage('Hearth: nothing to remember; the selection is empty.');
      return;
    }
    const params: Params<typeof MemoryAdd> = {
      text,
      kind: 'snippet',
      file: {
        uri: c.code2ProtocolConverter.asUri(editor.document.uri),
        range: { start: { line: range.start.line, character: range.start.character }, end: { line: range.end.line, character: range.end.character } },
      },
    };
    try {
      const item = await c.sendRequest<Result<typeof MemoryAdd>>(MemoryAdd.method, params);
      this.log(`[memory] remembered ${item.id}: ${firstLine(item.text)}`);
      vscode.window.setStatusBarMessage(`$(check) Hearth remembered: ${firstLine(item.text, 40)}`, 4000);
      this.refresh();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.log(`[memory] remember failed: ${msg}`);
      void vscode.window.showErrorMessage(`Hearth could not remember the selection: ${msg}`);
    }
  }

  private async forget(item?: MemoryItem): Promise<void> {
    const target = item ?? this.view.selection[0];
    const c = this.client();
    if (!target || !c) return;
    try {
      const params: Params<typeof MemoryForget> = { id: target.id };
      await c.sendRequest(MemoryForget.method, params);
      this.log(`[memory] forgot ${target.id}: ${firstLine(target.text)}`);
      this.refresh();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      void vscode.window.showErrorMessage(`Hearth could not forget the item: ${msg}`);
    }
  }

  private async open(item: MemoryItem): Promise<void> {
    if (!item.file) return;
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(item.file.uri));
    const r = item.file.range;
    const selection = r ? new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character) : undefined;
    await vscode.window.showTextDocument(doc, { preview: true, ...(selection ? { selection } : {}) });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
