// Hearth for VS Code: a thin client. It launches `hearth lsp --stdio` (the bridge to the per-user
// daemon), lets vscode-languageclient turn the daemon's `textDocument/inlineCompletion` answers
// into ghost text, and renders what the daemon decides: the route in the status bar, the route
// plan on request, egress confirmations as modal prompts, tool approvals in an approval panel
// (approval.ts), the shared memory in a tree view with "Remember Selection" (memory.ts), and the
// daemon's log messages.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient, State, type Executable, type LanguageClientOptions, type ServerOptions,
} from 'vscode-languageclient/node';
import {
  AskProgress, EgressConfirm, EgressLog, Log, MemoryDidChange, RouteCurrent, RouteExplain, Status, ToolApprove, type Params, type Result,
} from '../../../server/protocol.js';
import { formatLedger, planLines, routeStatus } from '../../../server/format.js';
import { findSetting } from '../../../server/settings.js';
import { askApproval, type ApproveParams } from './approval.js';
import { MemoryView } from './memory.js';
import { ChatView } from './chat.js';

const ROUTE_SCHEME = 'hearth-route';
const ROUTE_URI = vscode.Uri.parse(`${ROUTE_SCHEME}:/Hearth%20Route%20Plan.txt`);
const LEDGER_URI = vscode.Uri.parse(`${ROUTE_SCHEME}:/Hearth%20Egress%20Log.txt`);

type RouteSummary = Params<typeof RouteCurrent>;
type RoutePlan = Result<typeof RouteExplain>;
type EgressDecision = Result<typeof EgressConfirm>['decision'];

function setting<T extends string | boolean | number>(key: string): T {
  const decl = findSetting(key);
  const [section, ...rest] = key.split('.');
  return vscode.workspace.getConfiguration(section).get<T>(rest.join('.'), decl.default as T);
}

/**
 * How the bridge is started. `hearth.path` wins; otherwise the CLI packed in the extension
 * (dist/hearth.mjs, run by the editor's own Node: Electron with ELECTRON_RUN_AS_NODE in desktop
 * VS Code, plain Node in code-server); otherwise `hearth` on PATH.
 */
export function resolveServer(extensionPath: string, configuredPath: string, home: string): { exec: Executable; describe: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (home) env['HEARTH_HOME'] = home;
  const viaNode = (script: string): Executable => ({
    command: process.execPath,
    args: [script, 'lsp', '--stdio'],
    options: { env: { ...env, ELECTRON_RUN_AS_NODE: '1' } },
  });
  if (configuredPath) {
    const exec = /\.(m?js|cjs)$/.test(configuredPath)
      ? viaNode(configuredPath)
      : { command: configuredPath, args: ['lsp', '--stdio'], options: { env } };
    return { exec, describe: `${configuredPath} lsp --stdio (from the hearth.path setting)` };
  }
  const packed = path.join(extensionPath, 'dist', 'hearth.mjs');
  if (fs.existsSync(packed)) return { exec: viaNode(packed), describe: `${packed} lsp --stdio (the CLI packed with the extension)` };
  return { exec: { command: 'hearth', args: ['lsp', '--stdio'], options: { env } }, describe: 'hearth lsp --stdio (from PATH)' };
}

/** The status-bar text of a route: the daemon's rendering (server/format.ts routeStatus), computed here only for a daemon too old to send it. */
export function routeText(r: RouteSummary): { text: string; tooltip: string } {
  return r.status ?? routeStatus(r);
}

/** The route plan under this window's heading: the daemon's text (server/format.ts planLines), the same every interface shows. */
export function formatPlan(plan: RoutePlan, at: { uri: string; line: number; character: number }): string {
  return [`Hearth route plan for ${at.uri}:${at.line + 1}:${at.character + 1}`, ...(plan.text ?? planLines(plan))].join('\n') + '\n';
}

/** Read-only documents the extension renders: the route plan and the egress log. */
class RouteDocument implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>([
    [ROUTE_URI.toString(), 'No route plan yet: run "Hearth: Explain Route" with a file open.\n'],
    [LEDGER_URI.toString(), ''],
  ]);
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  set(text: string, uri = ROUTE_URI): void {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
  }
  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }
  dispose(): void {
    this.changed.dispose();
  }
}

class HearthExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly output = vscode.window.createOutputChannel('Hearth', { log: true });
  private readonly status = vscode.window.createStatusBarItem('hearth.route', vscode.StatusBarAlignment.Right, 100);
  private readonly routeDoc = new RouteDocument();
  private readonly memory: MemoryView;
  private readonly chat: ChatView;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.status.name = 'Hearth route';
    this.status.command = 'hearth.explainRoute';
    this.setStatus('$(loading~spin) Hearth', 'Hearth: starting the bridge');
    this.status.show();
    this.memory = new MemoryView(() => (this.client?.state === State.Running ? this.client : undefined), (m) => this.output.appendLine(m));
    // The Hearth chat view (chat.ts): hearth/ask with the selection and open files as context.
    this.chat = new ChatView(() => (this.client?.state === State.Running ? this.client : undefined), (m) => this.output.appendLine(m));
    this.disposables.push(
      this.output, this.status, this.routeDoc, this.memory, this.chat,
      vscode.workspace.registerTextDocumentContentProvider(ROUTE_SCHEME, this.routeDoc),
      vscode.commands.registerCommand('hearth.explainRoute', () => this.explainRoute()),
      vscode.commands.registerCommand('hearth.showLog', () => this.output.show(true)),
      vscode.commands.registerCommand('hearth.status', () => this.showStatus()),
      vscode.commands.registerCommand('hearth.showEgressLog', () => this.showEgressLog()),
      vscode.commands.registerCommand('hearth.restart', () => this.restart()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('hearth.path') || e.affectsConfiguration('hearth.home')) void this.restart();
      }),
    );
  }

  private setStatus(text: string, tooltip: string): void {
    this.status.text = text;
    this.status.tooltip = tooltip;
  }

  async start(): Promise<void> {
    const { exec, describe } = resolveServer(this.context.extensionPath, setting<string>('hearth.path'), setting<string>('hearth.home'));
    this.output.appendLine(`[hearth] starting ${describe}`);
    const serverOptions: ServerOptions = exec;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output,
      // The settings the daemon decides with (server/settings.ts, `hearth.completion.*`): sent at
      // initialize, answered again on workspace/configuration, pushed on every change.
      initializationOptions: { client: { name: 'vscode', kind: 'editor' }, hearth: { completion: vscode.workspace.getConfiguration('hearth').get('completion') ?? {} } },
      synchronize: { configurationSection: 'hearth' },
      middleware: {
        provideInlineCompletionItems: (document, position, ctx, token, next) =>
          setting<boolean>('hearth.inlineCompletion.enabled') ? next(document, position, ctx, token) : undefined,
      },
    };
    const client = new LanguageClient('hearth', 'Hearth', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped) this.setStatus('$(circle-slash) Hearth', 'Hearth: the bridge stopped; see the Hearth output channel');
    });
    client.onNotification(RouteCurrent.method, (route: RouteSummary) => {
      const icon = route.location === 'local' ? '$(home)' : route.location === 'lan' ? '$(server)' : '$(cloud)';
      const { text, tooltip } = routeText(route);
      this.setStatus(`${icon} Hearth: ${text}`, `${tooltip}\nClick to explain the route.`);
    });
    client.onNotification(Log.method, (p: Params<typeof Log>) => {
      this.output.appendLine(`[daemon ${p.level}] ${p.message}`);
      if (p.level === 'error') void vscode.window.showErrorMessage(`Hearth: ${p.message}`);
    });
    client.onRequest(EgressConfirm.method, (p: Params<typeof EgressConfirm>) => this.confirmEgress(p));
    client.onRequest(ToolApprove.method, (p: ApproveParams, token) => askApproval(p, token, (m) => this.output.appendLine(m)));
    client.onNotification(MemoryDidChange.method, () => this.memory.refresh());
    client.onNotification(AskProgress.method, (p: Params<typeof AskProgress>) => this.chat.onProgress(p));
    try {
      await client.start();
      this.memory.refresh();
      this.setStatus('$(home) Hearth: ready', 'Hearth is connected; no completion yet. Click to explain the route.');
      this.output.appendLine('[hearth] connected');
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.output.appendLine(`[hearth] could not start ${describe}: ${msg}`);
      this.setStatus('$(error) Hearth', `Hearth could not start: ${msg}`);
      void vscode.window.showErrorMessage(
        `Hearth could not start its bridge (${describe}): ${msg}. Set "hearth.path" to the hearth CLI, e.g. the bin/hearth of a checkout.`,
        'Open Settings',
      ).then((pick) => pick && vscode.commands.executeCommand('workbench.action.openSettings', 'hearth.path'));
    }
  }

  private async restart(): Promise<void> {
    const old = this.client;
    this.client = undefined;
    if (old) await old.stop().catch((e: unknown) => this.output.appendLine(`[hearth] stop failed: ${String(e)}`));
    await this.start();
  }

  private running(): LanguageClient | undefined {
    if (this.client && this.client.state === State.Running) return this.client;
    void vscode.window.showWarningMessage('Hearth is not running; see the Hearth output channel.', 'Show Log')
      .then((pick) => pick && this.output.show(true));
    return undefined;
  }

  private async explainRoute(): Promise<void> {
    const client = this.running();
    if (!client) return;
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.uri.scheme === ROUTE_SCHEME) {
      void vscode.window.showInformationMessage('Hearth: open a file and put the cursor where a completion would go, then run "Hearth: Explain Route".');
      return;
    }
    const pos = editor.selection.active;
    const uri = client.code2ProtocolConverter.asUri(editor.document.uri);
    const params: Params<typeof RouteExplain> = { textDocument: { uri }, position: { line: pos.line, character: pos.character } };
    try {
      const plan = await client.sendRequest<RoutePlan>(RouteExplain.method, params);
      const text = formatPlan(plan, { uri, line: pos.line, character: pos.character });
      this.output.appendLine(text);
      this.routeDoc.set(text);
      const doc = await vscode.workspace.openTextDocument(ROUTE_URI);
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside, preserveFocus: false });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.output.appendLine(`[hearth] ${RouteExplain.method} failed: ${msg}`);
      void vscode.window.showErrorMessage(`Hearth could not explain the route: ${msg}`);
    }
  }

  /** Every attempt to send data off the machine (the daemon's egress ledger), newest first. */
  private async showEgressLog(): Promise<void> {
    const client = this.running();
    if (!client) return;
    try {
      const r = await client.sendRequest<Result<typeof EgressLog>>(EgressLog.method, { limit: 500 });
      const header = `Hearth egress log: ${r.entries.length} attempt(s), newest first (also: \`hearth egress log\`)\n\n`;
      this.routeDoc.set(header + (r.lines ?? formatLedger(r.entries)).join('\n') + '\n', LEDGER_URI);
      const doc = await vscode.workspace.openTextDocument(LEDGER_URI);
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      void vscode.window.showErrorMessage(`Hearth could not read the egress log: ${msg}`);
    }
  }

  private async showStatus(): Promise<void> {
    const client = this.running();
    if (!client) return;
    const s = await client.sendRequest<Result<typeof Status>>(Status.method, {});
    this.output.appendLine(`[hearth] daemon ${s.version} pid ${s.pid}, up ${Math.round(s.uptimeMs / 1000)} s, home ${s.home}`);
    for (const c of s.clients) this.output.appendLine(`  client ${c.name} ${c.version} (${c.kind}): ${c.documents.length} open documents`);
    this.output.show(true);
  }

  /** A modal prompt: the user sees provider, host, reason and the exact payload before anything leaves. */
  private async confirmEgress(p: Params<typeof EgressConfirm>): Promise<Result<typeof EgressConfirm>> {
    // No decision is remembered here: the daemon holds session grants and declines (`hearth grants`)
    // and asks only when it must, so a prompt it sends is always shown.
    if (!setting<boolean>('hearth.egress.prompt')) {
      this.output.appendLine('[egress] denied: hearth.egress.prompt is off');
      return { decision: 'deny' };
    }
    // The daemon's display form (escaped by its one rule, with warnings), never the raw fields; a
    // daemon from before issue 11 sends none, and then the fields are shown as ASCII-only JSON.
    const ascii = (v: unknown): string => (JSON.stringify(v) ?? 'null').replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const d = p.display ?? { feature: ascii(p.feature), provider: ascii(p.provider), host: ascii(p.host), reason: ascii(p.reason), payload: ascii(p.payload), warnings: [] };
    this.output.appendLine(`[egress] ${d.feature} → ${d.provider} (${d.host}), ${p.bytes} bytes: ${d.reason}`);
    const warned = d.warnings.length ? `⚠ ${d.warnings.map((w) => w.message).join('\n⚠ ')}\n\n` : '';
    for (const w of d.warnings) this.output.appendLine(`[egress] WARNING: ${w.message}`);
    const preview = d.payload.length > 2000 ? `${d.payload.slice(0, 2000)}\n… (${d.payload.length - 2000} more characters)` : d.payload;
    // The answers the daemon offers (its `options`), in its order; deny is always there.
    const labels: Record<EgressDecision, string> = { once: 'Allow once', session: 'Allow for this session', always: 'Always allow', deny: 'Deny', pending: '' };
    const offered = (p.options ?? ['once', 'session', 'always', 'deny']).filter((o): o is Exclude<EgressDecision, 'pending'> => o in labels && o !== 'pending');
    if (!offered.includes('deny')) offered.push('deny');
    const choices: Array<vscode.MessageItem & { decision: EgressDecision }> = offered.map((decision) => ({
      title: labels[decision], decision, ...(decision === 'deny' ? { isCloseAffordance: true } : {}),
    }));
    const pick = await vscode.window.showWarningMessage(
      `Hearth: send ${p.bytes} bytes to ${d.provider} (${d.host}) for ${d.feature}?`,
      { modal: true, detail: `${warned}${d.reason}\n\nExact payload:\n${preview}` },
      ...choices,
    );
    const decision: EgressDecision = pick?.decision ?? 'deny';
    this.output.appendLine(`[egress] decision: ${decision}`);
    return { decision };
  }

  async dispose(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.stop().catch(() => undefined);
    for (const d of this.disposables) d.dispose();
  }
}

let instance: HearthExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  instance = new HearthExtension(context);
  context.subscriptions.push({ dispose: () => void instance?.dispose() });
  await instance.start();
}

export async function deactivate(): Promise<void> {
  const i = instance;
  instance = undefined;
  if (i) await i.dispose();
}
