// The Hearth chat view (issue 13, docs/ask.md): a webview view in the explorer where the user asks
// a question or gives an instruction with the selection and the open files as context. The daemon
// answers `hearth/ask`; its hearth/ask/progress notifications fill the view in order: the route
// plan first (before anything leaves; where policy says ask, the egress prompt comes after it),
// then the answer as it streams, then each proposed tool action, approved in the approval panel
// (approval.ts), and what it did. "Stop" cancels the request ($/cancelRequest). Everything the
// daemon sends is put into the page as text (textContent), never as HTML.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { Ask, type AskProgress, type Params, type Result } from '../../../server/protocol.js';

type Progress = Params<typeof AskProgress>;
type Plan = NonNullable<Progress['plan']>;

/** Messages to the page: each appends to the transcript. */
type ToPage =
  | { type: 'question'; text: string; context: string }
  | { type: 'plan'; lines: string[] }
  | { type: 'text'; text: string }
  | { type: 'note'; text: string; kind?: 'tool' | 'error' | 'done' }
  | { type: 'busy'; busy: boolean };

/** The route plan as lines (the same facts as `hearth ask` prints). */
export function planLines(plan: Plan): string[] {
  const lines: string[] = [];
  const r = plan.route;
  if (r) {
    lines.push(`Route: ${r.location} · ${r.provider} (model ${r.model}), ${plan.decision} by ${plan.rule}`);
    lines.push(`  reason: ${plan.reason === 'local' ? 'a local model can do it; nothing leaves this machine' : plan.reason}`);
    if (r.fallback) lines.push(`  fell back: ${r.fallback}`);
  } else {
    lines.push(`Route: local · no chat model (${plan.reason}); nothing is sent`);
  }
  lines.push('  data:');
  for (const p of plan.pieces as Array<{ source: { kind: string; uri?: string; role?: string }; bytes: number; sentBytes?: number; dataClass: string }>) {
    const sent = p.sentBytes !== undefined && p.sentBytes !== p.bytes ? `, ${p.sentBytes} B after redaction` : '';
    lines.push(`    ${String(p.bytes).padStart(6)} B  ${p.dataClass.padEnd(6)} ${(p.source.role ?? p.source.kind).padEnd(12)} ${p.source.uri ?? ''}${sent}`);
  }
  return lines;
}

function chatHtml(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 6px; }
  #log > div { margin: 6px 0; white-space: pre-wrap; word-break: break-word; }
  .question { font-weight: bold; }
  .context { opacity: 0.75; font-size: 0.9em; }
  .plan { font-family: var(--vscode-editor-font-family); font-size: 0.85em; border-left: 3px solid var(--vscode-textLink-foreground); padding-left: 6px; }
  .answer { font-family: var(--vscode-editor-font-family); }
  .tool { color: var(--vscode-textLink-foreground); }
  .error { color: var(--vscode-errorForeground); }
  .done { opacity: 0.75; font-size: 0.9em; }
  textarea { width: 100%; box-sizing: border-box; min-height: 4em; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); }
  button { margin: 4px 4px 0 0; color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; }
  button:disabled { opacity: 0.5; }
  label { display: block; margin-top: 4px; }
</style></head>
<body id="hearth-chat">
<div id="log"></div>
<textarea id="prompt" placeholder="Ask Hearth, or tell it what to change (Ctrl+Enter)"></textarea>
<label><input type="checkbox" id="context" checked> the selection and open files as context</label>
<button id="ask">Ask</button><button id="stop" disabled>Stop</button>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const prompt = document.getElementById('prompt');
  const ask = document.getElementById('ask');
  const stop = document.getElementById('stop');
  let answer = null;
  const add = (cls, text) => { const d = document.createElement('div'); d.className = cls; d.textContent = text; log.appendChild(d); d.scrollIntoView({ block: 'end' }); return d; };
  const send = () => {
    const text = prompt.value.trim();
    if (!text || ask.disabled) return;
    vscode.postMessage({ type: 'ask', prompt: text, context: document.getElementById('context').checked });
    prompt.value = '';
  };
  ask.addEventListener('click', send);
  stop.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
  prompt.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); } });
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (m.type === 'question') { add('question', m.text); if (m.context) add('context', m.context); answer = null; }
    else if (m.type === 'plan') add('plan', m.lines.join('\\n'));
    else if (m.type === 'text') { if (!answer) answer = add('answer', ''); answer.textContent += m.text; answer.scrollIntoView({ block: 'end' }); }
    else if (m.type === 'note') { add(m.kind || 'done', m.text); if (m.kind === 'tool') answer = null; }
    else if (m.type === 'busy') { ask.disabled = m.busy; stop.disabled = !m.busy; }
  });
</script>
</body></html>`;
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private seq = 0;
  private current: { askId: string; cts: vscode.CancellationTokenSource } | undefined;
  private readonly queued: ToPage[] = [];
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly client: () => LanguageClient | undefined, private readonly log: (msg: string) => void) {
    this.disposables.push(
      vscode.window.registerWebviewViewProvider('hearth.chat', this, { webviewOptions: { retainContextWhenHidden: true } }),
      vscode.commands.registerCommand('hearth.ask', (prompt?: string) => this.askCommand(prompt)),
      vscode.commands.registerCommand('hearth.chat.cancel', () => this.cancel()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true, localResourceRoots: [] };
    view.webview.html = chatHtml(randomBytes(16).toString('base64'), view.webview.cspSource);
    view.webview.onDidReceiveMessage((m: { type: string; prompt?: string; context?: boolean }) => {
      if (m.type === 'ask' && m.prompt) void this.ask(m.prompt, m.context !== false);
      else if (m.type === 'cancel') this.cancel();
    }, undefined, this.disposables);
    view.onDidDispose(() => (this.view = undefined), undefined, this.disposables);
    for (const m of this.queued.splice(0)) void view.webview.postMessage(m);
  }

  private post(m: ToPage): void {
    if (this.view) void this.view.webview.postMessage(m);
    else this.queued.push(m);
  }

  /** "Hearth: Ask": the prompt from the argument or an input box; the view shows the exchange. */
  private async askCommand(prompt?: string): Promise<void> {
    await vscode.commands.executeCommand('hearth.chat.focus');
    const text = prompt ?? await vscode.window.showInputBox({ prompt: 'Ask Hearth (the selection and open files go as context)', ignoreFocusOut: true });
    if (text) await this.ask(text, true);
  }

  /** hearth/ask/progress from the daemon: this view's asks only. */
  onProgress(p: Progress): void {
    if (!this.current || p.askId !== this.current.askId) return;
    if (p.kind === 'plan' && p.plan) this.post({ type: 'plan', lines: planLines(p.plan) });
    else if (p.kind === 'text' && p.text) this.post({ type: 'text', text: p.text });
    else if (p.kind === 'tool' && p.tool) {
      const file = (p.tool.args as { path?: unknown } | null)?.path;
      this.post({ type: 'note', kind: 'tool', text: `Proposed: ${p.tool.tool}${typeof file === 'string' ? ` ${file}` : ''} (approve or deny it in the approval panel)` });
    } else if (p.kind === 'toolResult' && p.toolResult) {
      const r = p.toolResult as { tool: string; status: string; error: string | null; actionId: string };
      this.post({ type: 'note', kind: 'tool', text: `→ ${r.tool} ${r.status}${r.error ? `: ${r.error}` : ''} (action ${r.actionId})` });
    }
  }

  private cancel(): void {
    if (!this.current) return;
    this.log(`[ask] cancelling ${this.current.askId}`);
    this.current.cts.cancel();
  }

  async ask(prompt: string, withContext: boolean): Promise<void> {
    const client = this.client();
    if (!client) {
      this.post({ type: 'note', kind: 'error', text: 'Hearth is not running; see the Hearth output channel (Hearth: Show Log).' });
      return;
    }
    if (this.current) {
      this.post({ type: 'note', kind: 'error', text: 'An answer is still streaming: Stop it first.' });
      return;
    }
    const askId = `vscode-${process.pid}-${++this.seq}`;
    const params: Params<typeof Ask> = { askId, prompt, tools: true };
    const context: string[] = [];
    if (withContext) {
      params.openFiles = true;
      const editor = vscode.window.activeTextEditor;
      if (editor && !editor.selection.isEmpty && editor.document.uri.scheme === 'file') {
        const s = editor.selection;
        params.selection = {
          uri: client.code2ProtocolConverter.asUri(editor.document.uri),
          text: editor.document.getText(s),
          range: { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } },
        };
        context.push(`selection ${vscode.workspace.asRelativePath(editor.document.uri)}:${s.start.line + 1}-${s.end.line + 1}`);
      }
      const open = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === 'file').length;
      context.push(`${open} open file${open === 1 ? '' : 's'}`);
    }
    const cts = new vscode.CancellationTokenSource();
    this.current = { askId, cts };
    this.post({ type: 'question', text: prompt, context: context.length ? `with ${context.join(', ')}` : 'without context' });
    this.post({ type: 'busy', busy: true });
    try {
      const r = await client.sendRequest<Result<typeof Ask>>(Ask.method, params, cts.token);
      if (r.cancelled) this.post({ type: 'note', kind: 'done', text: `Stopped: the stream was cancelled (kept in the history as ${r.historyId}).` });
      else this.post({ type: 'note', kind: 'done', text: `${r.offline ? 'Answered locally (no chat model). ' : ''}Kept in the history as ${r.historyId} (\`hearth history show ${r.historyId}\`).` });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (cts.token.isCancellationRequested) this.post({ type: 'note', kind: 'done', text: 'Stopped: the stream was cancelled.' });
      else {
        this.log(`[ask] ${Ask.method} failed: ${msg}`);
        this.post({ type: 'note', kind: 'error', text: `Hearth could not answer: ${msg}` });
      }
    } finally {
      this.current = undefined;
      cts.dispose();
      this.post({ type: 'busy', busy: false });
    }
  }

  dispose(): void {
    this.current?.cts.cancel();
    for (const d of this.disposables) d.dispose();
  }
}
