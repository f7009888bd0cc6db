// `hearth/ask` (issue 13): questions and instructions from every editor and the CLI. One path for
// all of them: context pieces (the prompt, a selection, files, the client's open buffers, relevant
// memory) → a route plan for feature `chat`, sent to the client (hearth/ask/progress kind plan)
// before anything runs or leaves → the model's answer streamed as text chunks (the egress gate
// asks the client first where policy says ask) → tool actions the model proposes, each through
// permissions, the approval panel of the client that asked, sandbox and audit → one row in the
// local history. $/cancelRequest stops the stream and runs none of the proposed actions. With no
// chat model routable (the embedded default), the answer is local retrieval, labelled as such.
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import { workspaceOf, type Session } from './session.js';
import { Ask, AskProgress, HistoryDelete, HistoryList, HistorySearch, type Params, type Result } from './protocol.js';
import { ErrorCodes } from './wire.js';
import { TOO_BROAD } from './tools-feature.js';
import { routeOf } from '../core/completion.js';
import { explainPlan, type ContextPiece, type RoutePlan } from '../core/routing/plan.js';
import { anthropicToolDefinitions, openAIToolDefinitions, parseAnthropicToolUse, parseOpenAIToolCalls, type ToolCallResult } from '../core/tools/index.js';
import type { ChatRequest, ChatResult } from '../core/providers/index.js';
import type { Provider } from '../core/engines/types.js';
import { localAnswer, type LocalSource } from '../core/ask/local.js';

const ASK_SYSTEM_PROMPT = [
  "You are Hearth's assistant inside the user's editor. Answer the user's question using the context given (their selection,",
  'open files and notes). When they ask for a change to a file, propose it with the fs_edit tool (a unified diff or search/replace',
  'edits, paths relative to the workspace root) instead of only describing it: every tool call is checked against their policy,',
  'shown to them for approval, run sandboxed and audited.',
].join(' ');

type AskParams = Params<typeof Ask>;
type AskResult = Result<typeof Ask>;
type ProgressParams = Params<typeof AskProgress>;
type HistoryRow = { id: string; time: string; client: string; workspace: string | null; prompt: string; answer: string; provider: string | null; location: string | null; status: string; tool_calls: string };

const MAX_HISTORY_TEXT = 256 * 1024;

function fileLabel(uri: string, root: string | null): string {
  try {
    const abs = uri.startsWith('file:') ? fileURLToPath(uri) : uri;
    if (root && path.isAbsolute(abs)) {
      const rel = path.relative(root, abs);
      if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
    }
    return abs;
  } catch {
    return uri;
  }
}

function historyEntry(r: HistoryRow): Result<typeof HistoryList>['entries'][number] & { toolCalls: unknown } {
  let toolCalls: unknown = [];
  try {
    toolCalls = JSON.parse(r.tool_calls);
  } catch {
    // kept as written
  }
  return { id: r.id, time: r.time, client: r.client, workspace: r.workspace, prompt: r.prompt, answer: r.answer, provider: r.provider, location: r.location, status: r.status, toolCalls };
}

/** The workspace the ask acts in: the one the client names, else its editor's; null when none (no tools then). */
function workspaceFor(s: Session, given?: string): string | null {
  return given ? path.resolve(given) : workspaceOf(s);
}

/** Why tools cannot act in this workspace, or null (the same rule as hearth/task: not the whole system or home). */
function toolsRefusal(root: string | null): string | null {
  if (!root) return 'no workspace (open a folder, or pass one), so no tool can act';
  if (TOO_BROAD.has(root) || root === os.homedir()) return `${root} would put the whole ${root === os.homedir() ? 'home directory' : 'system'} in scope, so no tool can act`;
  return null;
}

/** The context pieces: the prompt, then the selection, the files, the client's open buffers, relevant memory. */
async function piecesFor(d: Daemon, p: AskParams, s: Session, root: string | null): Promise<{ pieces: ContextPiece[]; sources: LocalSource[] }> {
  const pieces: ContextPiece[] = [{ source: { kind: 'chat', uri: 'prompt', client: s.label, role: 'prompt' }, text: p.prompt }];
  const sources: LocalSource[] = [];
  const textOf = (uri: string, given: string | undefined, what: string): string => {
    if (given !== undefined) return given;
    const doc = d.documents.get(s.id, uri);
    if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `${what} ${uri} is not open in this client and came without text; send textDocument/didOpen first, or pass its text`);
    return doc.getText();
  };
  const seen = new Set<string>();
  if (p.selection) {
    let text: string;
    if (p.selection.text !== undefined) text = p.selection.text;
    else {
      const doc = d.documents.get(s.id, p.selection.uri);
      if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `the selection's document ${p.selection.uri} is not open in this client; send textDocument/didOpen first, or pass its text`);
      text = p.selection.range ? doc.getText(p.selection.range) : doc.getText();
    }
    const r = p.selection.range;
    const where = r ? `${fileLabel(p.selection.uri, root)}:${r.start.line + 1}-${r.end.line + 1}` : fileLabel(p.selection.uri, root);
    pieces.push({ source: { kind: 'selection', uri: p.selection.uri, client: s.label, role: 'selection' }, text });
    sources.push({ label: where, text });
  }
  for (const f of p.files ?? []) {
    if (seen.has(f.uri)) continue;
    seen.add(f.uri);
    const text = textOf(f.uri, f.text, 'file');
    pieces.push({ source: { kind: 'file', uri: f.uri, client: s.label, role: 'file' }, text });
    sources.push({ label: fileLabel(f.uri, root), text });
  }
  if (p.openFiles) {
    for (const doc of d.documents.documentsOf(s.id, 32)) {
      if (seen.has(doc.uri)) continue;
      seen.add(doc.uri);
      pieces.push({ source: { kind: 'buffer', uri: doc.uri, client: s.label, role: 'open buffer' }, text: doc.getText() });
      sources.push({ label: fileLabel(doc.uri, root), text: doc.getText() });
    }
  }
  if (d.memory) {
    for (const m of await d.memory.relevant(p.prompt, { workspace: root, limit: 3, maxBytes: 4000 })) {
      pieces.push({ source: { kind: 'memory', uri: m.source.uri, client: m.source.client, role: 'memory' }, text: m.text, dataClass: 'memory' });
    }
  }
  return { pieces, sources };
}

async function record(d: Daemon, row: HistoryRow): Promise<void> {
  const clip = (t: string): string => (Buffer.byteLength(t) > MAX_HISTORY_TEXT ? `${t.slice(0, MAX_HISTORY_TEXT / 4)}\n… (cut: longer than ${MAX_HISTORY_TEXT} bytes)` : t);
  await d.store.write([{
    sql: 'INSERT INTO ask_history (id, time, client, workspace, prompt, answer, provider, location, status, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    params: [row.id, row.time, row.client, row.workspace, clip(row.prompt), clip(row.answer), row.provider, row.location, row.status, row.tool_calls],
  }]);
}

/** One hearth/ask while it runs: who asked, in which workspace, with what context, and where its progress goes. */
interface AskRun {
  readonly p: AskParams;
  readonly s: Session;
  readonly root: string | null;
  readonly signal: AbortSignal;
  readonly pieces: ContextPiece[];
  readonly sources: LocalSource[];
  readonly historyId: string;
  /** The history row's fields known before the answer. */
  readonly base: Pick<HistoryRow, 'id' | 'time' | 'client' | 'workspace' | 'prompt'>;
  progress(v: Omit<ProgressParams, 'askId'>): void;
}

type ChatProvider = Provider & { chat: (r: ChatRequest) => Promise<ChatResult> };

/** The local answer (retrieval over the context, labelled as such), saying why no model answered. */
async function answerLocally(d: Daemon, run: AskRun, why: string): Promise<AskResult> {
  const { p, root } = run;
  const policy = d.models!.policy(root);
  const text = localAnswer({
    prompt: p.prompt, why, sources: run.sources, workspaceRoot: root,
    memory: run.pieces.filter((x) => x.source.kind === 'memory').map((x) => ({ id: x.source.uri.replace(/^memory:/, ''), text: x.text, client: x.source.client ?? '?' })),
    denied: (abs, rel) => policy.denyPaths.some((g) => g.match([abs, rel])),
    policyFile: path.join(d.paths.configDir, 'policy.yaml'),
  });
  run.progress({ kind: 'text', text });
  await record(d, { ...run.base, answer: text, provider: null, location: 'local', status: 'offline', tool_calls: '[]' });
  run.progress({ kind: 'done' });
  return { askId: p.askId, historyId: run.historyId, offline: true, route: null, text, toolCalls: [], cancelled: false };
}

type ModelReply = { kind: 'answered'; text: string; answer: ChatResult } | { kind: 'cancelled'; text: string } | { kind: 'failed'; failure: string };

/** Asks the routed model, the question last after its context; text streams to the client as it comes. */
async function callModel(d: Daemon, run: AskRun, plan: RoutePlan, provider: ChatProvider, canAct: boolean): Promise<ModelReply> {
  const { root } = run;
  const anthropic = plan.provider!.kind === 'anthropic';
  const context = plan.pieces.map((x) => (x.source.kind === 'chat' ? x.text : `--- ${x.source.role ?? x.source.kind}: ${fileLabel(x.source.uri, root)}\n${x.text}`));
  const prompt = [...context.slice(1), context[0]!].join('\n\n'); // the question last, after its context
  let text = '';
  try {
    const answer = await provider.chat({
      messages: [{ role: 'system', content: `${ASK_SYSTEM_PROMPT}${root ? ` Workspace root: ${root}` : ''}` }, { role: 'user', content: prompt }],
      ...(canAct ? { tools: anthropic ? anthropicToolDefinitions(d.tools!) : openAIToolDefinitions(d.tools!) } : {}),
      maxTokens: 1024,
      signal: run.signal,
      // Anthropic tool calls arrive whole in a non-streamed answer; the text then comes as one chunk.
      ...(canAct && anthropic ? {} : {
        onText: (t: string) => {
          text += t;
          run.progress({ kind: 'text', text: t });
        },
      }),
    });
    if (!text && answer.text) {
      text = answer.text;
      run.progress({ kind: 'text', text });
    }
    return { kind: 'answered', text, answer };
  } catch (err) {
    if (run.signal.aborted) return { kind: 'cancelled', text };
    return { kind: 'failed', failure: (err as Error).message };
  }
}

/** Runs the tool calls the model proposed, each through permissions, approval, sandbox and audit; none after a cancel. */
async function runProposedTools(d: Daemon, run: AskRun, plan: RoutePlan, answer: ChatResult, text: string): Promise<{ text: string; toolCalls: ToolCallResult[] }> {
  const { s, signal } = run;
  const toolCalls: ToolCallResult[] = [];
  let calls: ReturnType<typeof parseOpenAIToolCalls> = [];
  try {
    calls = plan.provider!.kind === 'anthropic' ? parseAnthropicToolUse(answer.message) : parseOpenAIToolCalls(answer.message);
  } catch (err) {
    const note = `\n\n(The model proposed tool calls Hearth could not read: ${(err as Error).message}; nothing was run.)`;
    text += note;
    run.progress({ kind: 'text', text: note });
  }
  for (const c of calls) {
    if (signal.aborted) break;
    run.progress({ kind: 'tool', tool: { tool: c.tool, args: c.args } });
    const r = await d.tools!.runToolCall({
      tool: c.tool,
      args: c.args,
      proposer: { model: answer.model, provider: plan.provider!.id },
      requester: { clientId: s.id, name: s.identity.name, kind: s.identity.kind },
      workspaceRoot: run.root!,
      ...(text ? { rationale: text.slice(0, 4096) } : {}),
      signal,
    });
    toolCalls.push(r);
    run.progress({ kind: 'toolResult', toolResult: r as unknown as NonNullable<ProgressParams['toolResult']> });
  }
  return { text, toolCalls };
}

/** Starts an ask: its context, its plan (shown to the client before anything runs or leaves). */
async function beginAsk(d: Daemon, p: AskParams, s: Session, signal: AbortSignal): Promise<{ run: AskRun; plan: RoutePlan; routed: boolean }> {
  const progress = (v: Omit<ProgressParams, 'askId'>): void => s.sendNotification(AskProgress.method, { askId: p.askId, ...v });
  const root = workspaceFor(s, p.workspaceRoot);
  const { pieces, sources } = await piecesFor(d, p, s, root);
  const plan = await d.models!.plan('chat', pieces, { client: s.label, workspaceRoot: root, ...(p.provider ? { provider: p.provider } : {}) });
  // The plan reaches the client before anything runs or leaves (the egress ask, if any, comes after).
  const shown = explainPlan(plan);
  const routed = plan.decision !== 'deny' && plan.provider !== null;
  progress({ kind: 'plan', plan: { ...shown, route: routed ? routeOf(plan) : null } as unknown as NonNullable<ProgressParams['plan']> });
  const historyId = randomUUID();
  const base = { id: historyId, time: new Date().toISOString(), client: s.identity.name, workspace: root, prompt: p.prompt };
  return { run: { p, s, root, signal, pieces, sources, historyId, base, progress }, plan, routed };
}

async function ask(d: Daemon, p: AskParams, s: Session, token: CancellationToken, stopping: AbortSignal): Promise<AskResult> {
  const abort = new AbortController();
  token.onCancellationRequested(() => abort.abort('the requester cancelled'));
  const signal = AbortSignal.any([abort.signal, s.closedSignal, stopping]);
  const { run, plan, routed } = await beginAsk(d, p, s, signal);
  if (!routed) return answerLocally(d, run, plan.reason === 'no provider can do chat' ? 'no chat model is configured' : plan.reason);
  const provider = d.models!.providerFor(plan) as Provider & { chat?: ChatProvider['chat'] };
  if (!provider.chat) return answerLocally(d, run, `provider ${plan.provider!.id} cannot chat`);
  const refusal = p.tools === false ? 'tools were not asked for' : toolsRefusal(run.root);
  // Tools are offered only when the provider may also run tasks (its features include task).
  const canAct = refusal === null && d.tools !== undefined && d.models!.descriptors(d.models!.policy(run.root)).some((x) => x.id === plan.provider!.id && x.features.includes('task'));
  const reply = await callModel(d, run, plan, provider as ChatProvider, canAct);
  if (reply.kind === 'cancelled') {
    await record(d, { ...run.base, answer: reply.text, provider: plan.provider!.id, location: plan.location, status: 'cancelled', tool_calls: '[]' });
    run.progress({ kind: 'done' });
    return { askId: p.askId, historyId: run.historyId, offline: false, route: routeOf(plan), text: reply.text, toolCalls: [], cancelled: true };
  }
  if (reply.kind === 'failed') {
    // Declined, refused or failed: nothing (more) left; the local answer says why.
    d.log('info', `[${s.label}] ask: ${plan.provider!.id} did not answer (${reply.failure}); answered locally`);
    return answerLocally(d, run, `${plan.provider!.id} did not answer: ${reply.failure}`);
  }
  d.models!.noteSuccess(plan);
  const { text, toolCalls } = canAct && reply.answer.message !== undefined
    ? await runProposedTools(d, run, plan, reply.answer, reply.text)
    : { text: reply.text, toolCalls: [] };
  const cancelled = signal.aborted;
  await record(d, {
    ...run.base, answer: text, provider: plan.provider!.id, location: plan.location, status: cancelled ? 'cancelled' : 'answered',
    tool_calls: JSON.stringify(toolCalls.map((c) => ({ actionId: c.actionId, tool: c.tool, status: c.status }))),
  });
  run.progress({ kind: 'done' });
  return {
    askId: p.askId, historyId: run.historyId, offline: false, route: routeOf(plan), text, cancelled,
    toolCalls: toolCalls as unknown as AskResult['toolCalls'],
  };
}

/** hearth/history/*: the asks kept on this machine. */
function historyMethods(d: Daemon): void {
  const COLUMNS = 'id, time, client, workspace, prompt, answer, provider, location, status, tool_calls';
  d.router.onRequest(HistoryList, (p) => ({
    entries: d.store.all<HistoryRow>(`SELECT ${COLUMNS} FROM ask_history ORDER BY seq DESC LIMIT ?`, [p?.limit ?? 50]).map(historyEntry),
  }));
  d.router.onRequest(HistorySearch, ({ query, limit }) => {
    const words = query.split(/\s+/).filter(Boolean).slice(0, 16);
    const like = (w: string): string => `%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const where = words.map(() => "(prompt LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')").join(' AND ') || '1';
    const params = words.flatMap((w) => [like(w), like(w)]);
    return { entries: d.store.all<HistoryRow>(`SELECT ${COLUMNS} FROM ask_history WHERE ${where} ORDER BY seq DESC LIMIT ?`, [...params, limit ?? 50]).map(historyEntry) };
  });
  d.router.onRequest(HistoryDelete, async ({ id, all }) => {
    if (!id && !all) throw new ResponseError(ErrorCodes.InvalidParams, 'name the entry to delete (params.id, from `hearth history list`) or pass all: true');
    const n = all
      ? d.store.get<{ n: number }>('SELECT count(*) AS n FROM ask_history')!.n
      : d.store.get<{ n: number }>('SELECT count(*) AS n FROM ask_history WHERE id = ?', [id!])!.n;
    if (n > 0) await d.store.write([all ? { sql: 'DELETE FROM ask_history' } : { sql: 'DELETE FROM ask_history WHERE id = ?', params: [id!] }]);
    return { deleted: n };
  });
}

export const askFeature: Feature = (d: Daemon) => {
  const inFlight = new Set<Promise<unknown>>();
  const stopping = new AbortController();
  d.onDispose(async () => {
    stopping.abort('the daemon stopped');
    await Promise.allSettled([...inFlight]);
  });
  d.router.onRequest(Ask, (p, s, token) => {
    const run = ask(d, p, s, token, stopping.signal);
    inFlight.add(run);
    run.then(() => inFlight.delete(run), () => inFlight.delete(run));
    return run;
  });
  historyMethods(d);
};
