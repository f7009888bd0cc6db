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
/** The answers the panel gives (it never answers 'pending': it blocks until the user answers or the daemon cancels). */
type Choice = Exclude<ApproveResult['choice'], 'pending'>;

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

type Display = NonNullable<ApproveParams['display']>;

/**
 * What the panel shows: the daemon's display form (every field escaped by its one rule, with the
 * warnings). A daemon from before issue 11 sends none: then every field is shown as ASCII-only JSON
 * (non-ASCII as \\uXXXX), so nothing raw reaches the page either, with a note saying why.
 */
function displayOf(p: ApproveParams): { d: Display; legacy: boolean } {
  if (p.display) return { d: p.display, legacy: false };
  const j = (v: unknown): string => (JSON.stringify(v) ?? 'null').replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const d: Display = {
    tool: j(p.tool), proposer: { model: j(p.proposer.model), provider: j(p.proposer.provider) },
    requester: { name: j(p.requester.name), kind: j(p.requester.kind) }, workspaceRoot: j(p.workspaceRoot), reason: j(p.reason),
    rationale: p.rationale === null ? null : j(p.rationale), args: j(p.args), warnings: [],
  };
  if (p.argv) d.argv = p.argv.map(j);
  if (p.cwd) d.cwd = j(p.cwd);
  if (p.path) d.path = j(p.path);
  if (p.url) d.url = j(p.url);
  return { d, legacy: true };
}

/** The panel's HTML (exported for tests of the rendering). */
export function approvalHtml(p: ApproveParams, nonce: string, cspSource: string): string {
  const { d, legacy } = displayOf(p);
  const rows: Array<[string, string]> = [['Tool', `<code>${esc(d.tool)}</code>`]];
  // argv shown with plain quotes: the display strings hold \u{XXXX} escapes that JSON would double.
  if (d.argv) rows.push(['Command', `<code class="cmd" id="command">$ ${esc(shellLine(d.argv))}</code>`], ['argv', `<code id="argv">[${d.argv.map((a) => `"${esc(a.replace(/"/g, '\\"'))}"`).join(',')}]</code>`]);
  if (d.cwd) rows.push(['cwd', `<code>${esc(d.cwd)}</code>`]);
  if (d.path) rows.push(['Path', `<code id="path">${esc(d.path)}</code>`]);
  if (d.url) rows.push(['URL', `<code id="url">${esc(d.url)}</code>`]);
  rows.push(
    ['Proposed by', `<span id="proposer">${esc(d.proposer.model)} · ${esc(d.proposer.provider)}</span>`],
    ['Requested by', `<span id="requester">${esc(d.requester.name)} (${esc(d.requester.kind)})</span>`],
    ['Workspace', `<code>${esc(d.workspaceRoot)}</code>`],
    ['Why asked', `<span id="reason">${esc(d.reason)}</span>`],
  );
  if (d.rationale) rows.push(['Rationale', `<span id="rationale">${esc(d.rationale)}</span>`]);
  if (d.sandbox) {
    // What the command would be allowed: the same profile the CLI and Neovim show (approvalLines).
    const sb = d.sandbox;
    const list = (xs: string[], none: string): string => (xs.length ? xs.map((x) => `<code>${esc(x)}</code>`).join(', ') : none);
    rows.push(['Sandbox', `<span id="sandbox">writes ${list(sb.writable, 'nothing')}; network ${sb.network ? '<strong>allowed</strong>' : 'none'}; env ${list(sb.env, 'none')}`
      + `${sb.protected.length ? `; <strong>may write protected entries</strong> ${list(sb.protected, '')}` : ''}</span>`]);
  }
  const warnings = d.warnings.length
    ? `<div id="warnings" class="warnings" role="alert"><strong>⚠ ${d.warnings.length} thing${d.warnings.length === 1 ? '' : 's'} in this request can disguise what it does.</strong>`
      + ' Hearth shows such characters escaped as <code>\\u{XXXX}</code>; read them before you allow it.'
      + `<ul>${d.warnings.map((w) => `<li data-kind="${esc(w.kind)}" data-code="${esc(w.code)}">${esc(w.message)}</li>`).join('')}</ul></div>`
    : legacy ? '<div id="warnings" class="warnings" role="alert">This daemon sends no display form (it predates Hearth\'s prompt escaping): every field is shown as JSON with non-ASCII characters as <code>\\uXXXX</code>. Restart it with <code>hearth stop</code> to update.</div>' : '';
  let body = '';
  if (d.diff) {
    const lines = d.diff.replace(/\n$/, '').split('\n').map((l) => {
      const cls = l.startsWith('+++') || l.startsWith('---') ? 'file' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : l.startsWith('@@') ? 'hunk' : '';
      return `<span class="${cls}">${esc(l) || ' '}</span>`;
    });
    body = `<h3>Diff</h3><pre id="diff" class="diff">${lines.join('\n')}</pre>`;
  } else if (!d.argv) {
    body = `<h3>Arguments</h3><pre id="args">${esc(d.args ?? '')}</pre>`;
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
  .warnings { border: 2px solid var(--vscode-inputValidation-errorBorder, #f14c4c); background: var(--vscode-inputValidation-errorBackground, rgba(241,76,76,.15));
    padding: 8px 12px; margin-bottom: 12px; }
  .warnings ul { margin: 6px 0 0; padding-left: 20px; }
</style></head>
<body>
<h2>Hearth: allow <code>${esc(d.tool)}</code>?</h2>
${warnings}
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
  const { d } = displayOf(p);
  const what = d.argv ? shellLine(d.argv) : d.path ?? d.url ?? '';
  log(`[approval] ${d.tool} ${what} requested by ${d.requester.name} (${d.requester.kind}), proposed by ${d.proposer.model} (${d.proposer.provider}): ${d.reason}`);
  for (const w of d.warnings) log(`[approval] WARNING: ${w.message}`);
  const panel = vscode.window.createWebviewPanel('hearth.approval', `Hearth: approve ${d.tool}${d.warnings.length ? ' ⚠' : ''}`,
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
      log(`[approval] ${d.tool} ${what}: ${choice} (${why})`);
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
