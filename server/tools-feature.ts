// Tool actions (issue 6) in the daemon: the executor (capabilities, sandbox, audit) over the
// store, approvals routed to editors through the broker, `hearth/task` (a routed model proposes
// tool calls), and the methods `hearth mcp`, `hearth grants`, `hearth audit` and `hearth approve`
// use.
import os from 'node:os';
import path from 'node:path';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import type { Session } from './session.js';
import {
  ApprovalsAnswer, ApprovalsPending, AuditExport, AuditShow, AuditVerify, GrantsList, GrantsRevoke,
  HearthErrorCodes, Lsp, Task, ToolApprove, ToolList, ToolRun, ToolUndo,
} from './protocol.js';
import { ErrorCodes } from './wire.js';
import { ApprovalBroker, type Answer } from './approvals.js';
import { workspaceOf } from './session.js';
import {
  ToolExecutor, anthropicToolDefinitions, loadToolPolicy, openAIToolDefinitions, parseAnthropicToolUse,
  parseOpenAIToolCalls, type ApprovalRequest, type MemoryWriter, type Requester, type ToolExecutorOptions,
} from '../core/tools/index.js';
import { routeOf } from '../core/completion.js';
import { approvalDisplay } from '../core/text/display.js';
import type { ChatRequest, ChatResult } from '../core/providers/index.js';
import { planToolFetch, type ContextPiece } from '../core/routing/plan.js';
import { gatedFetch } from '../core/egress/index.js';
import type { Provider } from '../core/engines/types.js';
import { listEgressGrants, revokeEgressGrant } from './egress-grants.js';
import { MEMORY_KINDS } from '../core/memory/types.js';

/** Workspace roots too broad to scope tool capabilities (also refused for hearth/ask's tools). */
export const TOO_BROAD = new Set(['/', '/home', '/root', '/etc', '/usr', '/var', '/tmp', '/opt', '/bin', '/lib', '/sbin', '/boot', '/dev', '/proc', '/sys']);

const TASK_SYSTEM_PROMPT = [
  "You are Hearth's task agent inside the user's editor. Act only through the tools offered;",
  'every call is checked against the user\'s policy, may need their approval, runs sandboxed and is audited.',
  'Paths are relative to the workspace root. Prefer fs.edit with a unified diff for changes to files.',
].join(' ');

function requesterOf(s: Session, via?: string): Requester {
  return { clientId: s.id, name: via ? `${s.identity.name} (${via})` : s.identity.name, kind: s.identity.kind };
}

/** memory.write lands in the shared memory, attributed to the client whose action it is. */
function memoryWriterFor(d: Daemon): MemoryWriter {
  const writerOf = (client: string | null) => {
    const s = client ? d.sessions.get(client) : undefined;
    return s ? { id: s.id, name: s.identity.name, version: s.identity.version } : { id: client ?? 'tool', name: 'tool', version: '' };
  };
  const write = async (item: { text: string; kind: string; workspace: string; client: string | null }): Promise<{ id: string }> => {
    const kind = MEMORY_KINDS.find((k) => k === item.kind) ?? 'note';
    const saved = await d.memory!.add({ text: item.text, kind, workspace: item.workspace }, writerOf(item.client));
    return { id: saved.id };
  };
  // A paused client's write is refused before anyone is asked to approve it.
  return Object.assign(write, {
    refuses: (client: string | null) => {
      const name = writerOf(client).name;
      return d.memory!.isPaused(name) ? `memory writes from "${name}" are paused; nothing was stored. Resume them with \`hearth memory resume ${name}\`.` : null;
    },
  });
}

function httpFetchFor(d: Daemon): NonNullable<ToolExecutorOptions['httpFetchFor']> {
  const gate = d.gate!;
  const router = d.models!;
  return ({ requester, workspaceRoot }) => {
    const client = (requester.clientId ? d.sessions.get(requester.clientId)?.label : undefined) ?? requester.name;
    return gatedFetch(gate, {
      followRedirects: false, // http.fetch reports a redirect; following it is another call
      planFor: (url, body) => planToolFetch(url, body, router.policy(workspaceRoot), { client, workspaceRoot }),
    });
  };
}

/** An MCP client cannot be told "wait for `hearth approve`" for long: with nobody to approve, it is answered after this. */
const MCP_NO_APPROVER_MS = 4000;

/** The connection a call came from and where it wants progress while its approval waits. */
interface CallContext { session: Session; workDoneToken?: string | number | undefined }

/**
 * The executor's approve callback: the prompt goes to the clients through the broker, and the
 * call's connection, found from its signal in `contexts`, sees the wait as work-done progress.
 */
function approverFor(broker: ApprovalBroker, contexts: WeakMap<AbortSignal, CallContext>): ToolExecutorOptions['approve'] {
  return (req: ApprovalRequest, signal?: AbortSignal): Promise<Answer> => {
    const ctx = signal ? contexts.get(signal) : undefined;
    let begun = false;
    const token = ctx?.workDoneToken;
    const waiting = token === undefined ? undefined : (message: string): void => {
      ctx!.session.sendNotification(Lsp.progress.method, { token, value: begun ? { kind: 'report', message } : { kind: 'begin', title: 'Waiting for approval', message, cancellable: true } });
      begun = true;
    };
    // The prompt every client shows is the display form (escaped, with warnings), made here by the one rule.
    return broker.ask(req.actionId, { ...req, display: approvalDisplay(req) }, {
      requesterId: req.requester.clientId,
      ...(signal ? { signal } : {}),
      ...(ctx?.session.identity.kind === 'mcp' ? { noApproverMs: MCP_NO_APPROVER_MS } : {}),
      ...(waiting ? { waiting } : {}),
    }).finally(() => {
      if (begun) ctx!.session.sendNotification(Lsp.progress.method, { token, value: { kind: 'end', message: 'the approval is settled' } });
    });
  };
}

/**
 * Tool calls in flight. Calls still open when the daemon stops (waiting for approval, or running)
 * are cancelled with this reason and awaited, so each one still gets its audit record before the
 * store closes; before, a call whose approval was pending at `hearth stop` left no record at all.
 */
class ToolCalls {
  /** The connection each call's signal belongs to (for the approval's progress). */
  readonly contexts = new WeakMap<AbortSignal, CallContext>();
  readonly #stopping = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    p.then(() => this.#inFlight.delete(p), () => this.#inFlight.delete(p));
    return p;
  }

  /**
   * A call is withdrawn when its requester cancels it, its connection goes ('requester disconnected')
   * or the daemon stops; the reason goes into the audit record.
   */
  signal(s: Session, token: CancellationToken, workDoneToken?: string | number): AbortSignal {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort(s.closedSignal.aborted ? s.closedSignal.reason : 'the requester cancelled'));
    const signal = AbortSignal.any([s.closedSignal, abort.signal, this.#stopping.signal]);
    this.contexts.set(signal, { session: s, workDoneToken });
    return signal;
  }

  async stop(): Promise<void> {
    this.#stopping.abort('the daemon stopped');
    await Promise.allSettled([...this.#inFlight]);
  }
}

/** The workspace a call acts in: the one given, else the session's; never the whole system or home. */
function rootFor(s: Session, given?: string): string {
  const root = given ? path.resolve(given) : workspaceOf(s);
  if (!root) throw new ResponseError(ErrorCodes.InvalidParams, 'no workspace: pass params.workspaceRoot, or send LSP initialize with a file: rootUri first');
  // Capabilities are scoped to the workspace ("inside the workspace" may read, "." may be
  // writable): a root that is the whole system or the home directory would scope nothing.
  if (TOO_BROAD.has(root) || root === os.homedir()) {
    throw new ResponseError(HearthErrorCodes.PolicyDenied, `refusing to run tools with ${root} as the workspace: it would put the whole ${root === os.homedir() ? 'home directory' : 'system'} in scope; open a project folder instead`);
  }
  return root;
}

/** Running, undoing and listing tools; grants; the audit log; answering approvals. */
function toolMethods(d: Daemon, executor: ToolExecutor, broker: ApprovalBroker, calls: ToolCalls): void {
  d.router.onRequest(ToolList, () => ({ tools: executor.tools().map((t) => ({ ...t, inputSchema: t.inputSchema as Record<string, unknown> })) }));
  d.router.onRequest(ToolRun, (p, s, token) => {
    return calls.track(executor.runToolCall({
      tool: p.tool,
      args: p.args,
      proposer: p.proposer ?? { model: 'none', provider: `${s.identity.kind}:${s.identity.name}` },
      requester: requesterOf(s, p.via),
      workspaceRoot: rootFor(s, p.workspaceRoot),
      ...(p.rationale ? { rationale: p.rationale } : {}),
      signal: calls.signal(s, token, p.workDoneToken),
    }));
  });
  d.router.onRequest(ToolUndo, ({ actionId }, s) => executor.undo(actionId, requesterOf(s)));
  // Tool grants and egress grants (server/egress-grants.ts), each with its kind.
  d.router.onRequest(GrantsList, (p) => ({
    grants: [
      ...executor.listGrants({ includeExpired: p?.includeExpired ?? false }).map((g) => ({ kind: 'tool' as const, ...g })),
      ...listEgressGrants(d.store, d.gate),
    ],
  }));
  d.router.onRequest(GrantsRevoke, async ({ id }) => ({ revoked: (await revokeEgressGrant(d.store, d.gate, id)) || (await executor.revokeGrant(id)) }));
  d.router.onRequest(AuditShow, (p) => {
    if (p?.actionId) {
      const r = executor.audit.get(p.actionId);
      return { records: r ? [r] : [] };
    }
    const opts: { afterSeq?: number; limit?: number } = {};
    if (p?.afterSeq !== undefined) opts.afterSeq = p.afterSeq;
    if (p?.limit !== undefined) opts.limit = p.limit;
    return { records: executor.audit.list(opts) };
  });
  // The chain in the store and, with the anchor, the signed checkpoint outside it.
  d.router.onRequest(AuditVerify, () => (d.anchor ? d.anchor.verify('audit') : executor.audit.verify()));
  d.router.onRequest(AuditExport, () => ({ jsonl: executor.audit.export() }));
  d.router.onRequest(ApprovalsPending, () => ({ pending: broker.list() }));
  d.router.onRequest(ApprovalsAnswer, ({ actionId, choice }, s) => {
    const r = broker.answer(actionId, choice, s.id);
    if (r.answered) return { answered: true };
    if (r.withdrawn) throw new ResponseError(HearthErrorCodes.NotFound, `approval ${actionId} was ${r.withdrawn}; nothing was run and nothing can run under this id. \`hearth approve\` lists the approvals still waiting.`);
    if (r.unknown) throw new ResponseError(HearthErrorCodes.NotFound, `no approval has action id ${actionId}; nothing was run. \`hearth approve\` lists the approvals waiting.`);
    return { answered: false }; // someone else answered first
  });
}

/** hearth/task: a routed model proposes tool calls for the instruction, and each runs like any other call. */
function taskMethod(d: Daemon, executor: ToolExecutor, calls: ToolCalls): void {
  d.router.onRequest(Task, async (p, s, token) => {
    const root = rootFor(s);
    const pieces: ContextPiece[] = [{ source: { kind: 'chat', uri: 'instruction', client: s.label }, text: p.instruction }];
    if (p.textDocument) {
      const doc = d.documents.get(s.id, p.textDocument.uri);
      if (!doc) throw new ResponseError(ErrorCodes.InvalidParams, `${p.textDocument.uri} is not open in this editor; send textDocument/didOpen first`);
      const text = p.range ? doc.getText(p.range) : doc.getText();
      pieces.push({ source: { kind: 'selection', uri: p.textDocument.uri, client: s.label }, text });
    }
    const plan = await d.models!.plan('task', pieces, { client: s.label, workspaceRoot: root, ...(p.provider ? { provider: p.provider } : {}) });
    if (plan.decision === 'deny' || !plan.provider) throw new ResponseError(HearthErrorCodes.PolicyDenied, `no model may run this task: ${plan.reason}`);
    const provider = d.models!.providerFor(plan) as Provider & { chat?: (r: ChatRequest) => Promise<ChatResult> };
    if (!provider.chat) throw new ResponseError(HearthErrorCodes.PolicyDenied, `provider ${plan.provider.id} cannot run tasks (no chat with tools); configure an OpenAI-compatible or Anthropic provider with feature task`);
    const anthropic = plan.provider.kind === 'anthropic';
    const signal = calls.signal(s, token);
    const context = plan.pieces.map((x) => (x.source.kind === 'chat' ? x.text : `--- ${x.source.kind} ${x.source.uri}\n${x.text}`)).join('\n\n');
    const answer = await provider.chat({
      messages: [{ role: 'system', content: `${TASK_SYSTEM_PROMPT} Workspace root: ${root}` }, { role: 'user', content: context }],
      tools: anthropic ? anthropicToolDefinitions(executor) : openAIToolDefinitions(executor),
      maxTokens: 1024,
      signal,
    });
    let proposed;
    try {
      proposed = anthropic ? parseAnthropicToolUse(answer.message) : parseOpenAIToolCalls(answer.message);
    } catch (err) {
      throw new ResponseError(ErrorCodes.InternalError, `the model's tool calls could not be read: ${(err as Error).message}`);
    }
    const toolCalls = [];
    for (const c of proposed) {
      toolCalls.push(await calls.track(executor.runToolCall({
        tool: c.tool,
        args: c.args,
        proposer: { model: answer.model, provider: plan.provider.id },
        requester: requesterOf(s),
        workspaceRoot: root,
        ...(answer.text ? { rationale: answer.text } : {}),
        signal,
      })));
    }
    return { route: routeOf(plan), text: answer.text, toolCalls };
  });
}

export const toolsFeature: Feature = (d: Daemon) => {
  const userFile = path.join(d.paths.configDir, 'policy.yaml');
  const broker = new ApprovalBroker(ToolApprove.method, () => [...d.sessions.values()], (m) => d.log('info', m));
  const calls = new ToolCalls();
  const executor = new ToolExecutor({
    store: d.store,
    approve: approverFor(broker, calls.contexts),
    policy: (root) => loadToolPolicy({ userFile, workspaceRoot: root }),
    // memory.write lands in the shared memory, attributed to the client whose action it is (and
    // refused like any other write of a paused client).
    memoryWriter: d.memory ? memoryWriterFor(d) : null,
    // http.fetch goes through the egress gate like every other connection off the machine: the
    // routing policy can still deny it (deny wins), its body is redacted, the ledger records it
    // (core/routing planToolFetch: an `ask` there is satisfied by the tool permission).
    ...(d.gate && d.models ? { httpFetchFor: httpFetchFor(d) } : {}),
  });
  d.tools = executor;
  d.anchor?.attach(executor.audit); // a signed checkpoint after each durable record (core/anchor)
  // Session grants end with the session that made them (a bridge reconnect is a new session).
  d.onDetach((s) => executor.endSession(s.id));
  d.onDispose(async () => {
    await calls.stop();
    await executor.audit.flushed();
  });
  toolMethods(d, executor, broker, calls);
  taskMethod(d, executor, calls);
};
