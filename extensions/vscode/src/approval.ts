// The approval panel: the daemon's `hearth/tool/approve` request rendered as a webview panel that
// shows exactly what would run (the tool, the argv and cwd or the diff, the path or URL), who
// proposed it (model + provider), which interface asked, the policy's reason and the model's
// rationale, with one button per choice the daemon offers. The button's choice is the request's
// result; closing the panel denies; a cancelled request (another editor or `hearth approve`
// answered first, or the requester gave up) closes the panel.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Params, Result, ToolApprove } from '../../../server/protocol.js';

export type ApproveParams = Params<typeof ToolApprove>;
export type ApproveResult = Result<typeof ToolApprove>;
type Choice = ApproveResult['choice'];

const CHOICES: ReadonlyArray<{ choice: Choice; label: string; title: string }> = [
  { choice: 'once', label: 'Once', title: 'Allow this one call; the next identical call asks again' },
  { choice: 'session', label: 'Session', title: 'Allow identical calls until the daemon restarts' },
  { choice: 'always', label: 'Always', title: 'Allow identical calls from now on (stored as a grant; `hearth grants` lists and revokes it)' },
  { choice: 'deny', label: 'Deny', title: 'Do not run it' },
];

function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** argv as a shell would need it typed: words that need quoting are single-quoted. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w./:=@,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The panel's HTML (exported for tests of the rendering). */
export function approvalHtml(p: ApproveParams, nonce: string, cspSource: string): string {
  const rows: Array<[string, string]> = [['Tool', `<code>${esc(p.tool)}</code>`]];
  if (p.argv) rows.push(['Command', `<code class="cmd">$ ${esc(shellLine(p.argv))}</code>`], ['argv', `<code>${esc(JSON.stringify(p.argv))}</code>`]);
  if (p.cwd) rows.push(['cwd', `<code>${esc(p.cwd)}</code>`]);
  if (p.path) rows.push(['Path', `<code>${esc(p.path)}</code>`]);
  if (p.url) rows.push(['URL', `<code>${esc(p.url)}</code>`]);
  rows.push(
    ['Proposed by', `<span id="proposer">${esc(p.proposer.model)} · ${esc(p.proposer.provider)}</span>`],
    ['Requested by', `<span id="requester">${esc(p.requester.name)} (${esc(p.requester.kind)})</span>`],
    ['Workspace', `<code>${esc(p.workspaceRoot)}</code>`],
    ['Why asked', `<span id="reason">${esc(p.reason)}</span>`],
  );
  if (p.rationale) rows.push(['Rationale', `<span id="rationale">${esc(p.rationale)}</span>`]);
  let body = '';
  if (p.diff) {
    const lines = p.diff.replace(/\n$/, '').split('\n').map((l) => {
      const cls = l.startsWith('+++') || l.startsWith('---') ? 'file' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : '';
      return `<span class="${cls}">${esc(l) || ' '}</span>`;
    });
    body = `<h3>Diff</h3><pre id="diff" class="diff">${lines.join('\n')}</pre>`;
  } else if (!p.argv) {
    body = `<h3>Arguments</h3><pre id="args">${esc(JSON.stringify(p.args, null, 2))}</pre>`;
  }
  const offered = CHOICES.filter((c) => p.choices.includes(c.choice));
  const buttons = offered.map((c) =>
    `<button id="choice-${c.choice}" class="${c.choice === 'deny' ? 'secondary' : ''}" data-choice="${c.choice}" title="${esc(c.title)}">${c.label}</button>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hearth: approve ${esc(p.tool)}</title>
<style>
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 12px 20px; }
  h2 { margin-top: 0; font-weight: 600; }
  table { border-collapse: collapse; margin-bottom: 12px; }
  th { text-align: left; vertical-align: top; padding: 3px 16px 3px 0; color: var(--vscode-descriptionForeground); font-weight: normal; white-space: nowrap; }
  td { padding: 3px 0; }
  code, pre { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }
  code.cmd { font-weight: bold; }
  pre { background: var(--vscode-textCodeBlock-background); padding: 8px; overflow: auto; max-height: 50vh; }
  .diff .add { color: var(--vscode-gitDecoration-addedResourceForeground, #3fb950); }
  .diff .del { color: var(--vscode-gitDecoration-deletedResourceForeground, #f85149); }
  .diff .hunk { color: var(--vscode-textLink-foreground); }
  .diff .file { font-weight: bold; }
  .buttons { display: flex; gap: 8px; margin-top: 16px; }
  button { font: inherit; padding: 6px 16px; border: 1px solid var(--vscode-button-border, transparent); cursor: pointer;
    color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
  button:hover { background: var(--vscode-button-hoverBackground); }
  button.secondary { color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); }
  button:disabled { opacity: .5; cursor: default; }
</style></head>
<body>
<h2>Hearth: allow <code>${esc(p.tool)}</code>?</h2>
<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>
${body}
<div class="buttons">${buttons}</div>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  for (const b of document.querySelectorAll('button[data-choice]')) {
    b.addEventListener('click', () => {
      for (const o of document.querySelectorAll('button')) o.disabled = true;
      vscode.postMessage({ type: 'choice', choice: b.dataset.choice });
    });
  }
</script>
</body></html>`;
}

/** One panel per pending approval; resolves with the user's choice. */
export function askApproval(p: ApproveParams, token: vscode.CancellationToken, log: (msg: string) => void): Promise<ApproveResult> {
  const what = p.argv ? shellLine(p.argv) : p.path ?? p.url ?? '';
  log(`[approval] ${p.tool} ${what} requested by ${p.requester.name} (${p.requester.kind}), proposed by ${p.proposer.model} (${p.proposer.provider}): ${p.reason}`);
  const panel = vscode.window.createWebviewPanel('hearth.approval', `Hearth: approve ${p.tool}`,
    { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
    { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [] });
  panel.webview.html = approvalHtml(p, randomBytes(16).toString('base64'), panel.webview.cspSource);
  return new Promise<ApproveResult>((resolve) => {
    let settled = false;
    const subs: vscode.Disposable[] = [];
    const finish = (choice: Choice, why: string): void => {
      if (settled) return;
      settled = true;
      for (const d of subs) d.dispose();
      log(`[approval] ${p.tool} ${what}: ${choice} (${why})`);
      resolve({ choice });
      panel.dispose();
    };
    subs.push(
      panel.webview.onDidReceiveMessage((m: { type?: string; choice?: string }) => {
        const c = CHOICES.find((x) => x.choice === m?.choice && p.choices.includes(x.choice));
        if (m?.type === 'choice' && c) finish(c.choice, 'answered in the approval panel');
      }),
      panel.onDidDispose(() => finish('deny', 'the panel was closed')),
      token.onCancellationRequested(() => finish('deny', 'withdrawn by the daemon: answered elsewhere or no longer needed')),
    );
    if (token.isCancellationRequested) finish('deny', 'withdrawn before it was shown');
  });
}
