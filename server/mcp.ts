// `hearth mcp --stdio`: an MCP server exposing Hearth's tools, so an external agent's tool calls
// take the same path as a model's: capability check, approval, sandbox, audit. The requester is
// the MCP client (kind 'mcp', its declared name); MCP does not say which model proposed the call,
// so a client may name it in `_meta["hearth/proposer"] = { model, provider }`.
//
// Approvals for MCP calls (runMcpOverDaemon): the process is one client of the daemon, connected
// once the MCP client has initialized, so its hello can say whether it can prompt:
//   - the MCP client declared `elicitation`: the daemon asks this process first (capability
//     `approvals`), which asks the user in the agent's own UI (elicitation/create); accept runs the
//     tool, decline or cancel denies it;
//   - otherwise, with no interface that can approve attached, the daemon answers within 5 s
//     ("needs approval: …"); with an editor attached, the call waits for it, and every 5 s the
//     daemon's $/progress reports become MCP progress notifications (when the call carried a
//     progressToken) and log messages, so the agent does not time out silently.
// When the MCP client goes away, this process closes its daemon connection, which withdraws every
// approval it had pending (server/approvals.ts).
import type { Readable, Writable } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CancellationTokenSource, type CancellationToken } from 'vscode-jsonrpc';
import { toolFromWireName, wireName, ToolCallParseError } from '../core/tools/calls.js';
import type { ApprovalRequest, Proposer, ToolCallRequest, ToolCallResult } from '../core/tools/executor.js';
import type { ToolName } from '../core/tools/schema.js';
import { connectClient, type HearthClient } from './client.js';
import { Lsp, McpMeta, ToolApprove, ToolList, ToolRun, type Params, type Result } from './protocol.js';
import { VERSION } from './version.js';

type ToolInfo = { name: ToolName; description: string; inputSchema: object };

/** What the MCP server runs calls on: the in-process executor, or the daemon (runMcpOverDaemon). */
export interface McpToolBackend {
  tools(): ToolInfo[] | Promise<ToolInfo[]>;
  /** `hooks.waiting` is called while the call waits for an approval (with what it waits for). */
  runToolCall(call: ToolCallRequest, hooks?: { waiting?: (message: string) => void }): Promise<ToolCallResult>;
}

export interface McpServerOptions {
  /** The in-process executor, or any object with the same two methods (the daemon proxy). */
  executor: McpToolBackend;
  /** Workspace the calls act in (default: the current directory). */
  workspaceRoot?: string;
  /** stdio streams (default: process.stdin / process.stdout) ... */
  input?: Readable;
  output?: Writable;
  /** ... or any MCP transport (tests use the SDK's InMemoryTransport). */
  transport?: Transport;
  /** Client id recorded in the audit log (default: `mcp:<client name>`). */
  clientId?: string;
  /** Called once the MCP client has initialized (its capabilities are known then). */
  onInitialized?: (server: Server) => void;
}

export interface McpServerHandle {
  server: Server;
  /** Resolves when the client disconnects (stdin closes) or close() is called. */
  closed: Promise<void>;
  close(): Promise<void>;
}

function describe(r: ToolCallResult): string {
  if (r.status === 'ok') return JSON.stringify(r.output, null, 2);
  return `${r.status === 'denied' ? 'Denied' : 'Failed'}: ${r.error ?? 'unknown error'} (action ${r.actionId}, audit record ${r.auditSeq})`;
}

function proposerFrom(meta: unknown, clientName: string): Proposer {
  const p = (meta as Record<string, unknown> | undefined)?.[McpMeta.proposer.key] as Record<string, unknown> | undefined;
  if (p && typeof p.model === 'string' && typeof p.provider === 'string') return { model: p.model, provider: p.provider };
  return { model: 'unknown', provider: `mcp:${clientName}` };
}

export async function runMcpServer(opts: McpServerOptions): Promise<McpServerHandle> {
  const { executor } = opts;
  const workspaceRoot = opts.workspaceRoot ?? process.cwd();
  const server = new Server({ name: 'hearth', version: VERSION }, { capabilities: { tools: {}, logging: {} } });
  if (opts.onInitialized) server.oninitialized = () => opts.onInitialized!(server);

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: (await executor.tools()).map((t) => ({
      name: wireName(t.name),
      title: t.name,
      description: `${t.description} Every call is checked against the user's Hearth policy, may need the user's approval, and is recorded in the audit log.`,
      inputSchema: t.inputSchema as { type: 'object'; properties?: Record<string, object>; required?: string[] },
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (req, extra): Promise<CallToolResult> => {
    const client = server.getClientVersion();
    const clientName = client?.name ?? 'unknown MCP client';
    let tool;
    try {
      tool = toolFromWireName(req.params.name);
    } catch (e) {
      if (e instanceof ToolCallParseError) return { isError: true, content: [{ type: 'text', text: e.message }] };
      throw e;
    }
    // While the approval waits: progress (when the client asked for it) and a log message.
    const progressToken = req.params._meta?.progressToken;
    let progress = 0;
    const waiting = (message: string): void => {
      if (progressToken !== undefined) {
        void extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: ++progress, message } }).catch(() => undefined);
      }
      void extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'hearth', data: message } }).catch(() => undefined);
    };
    const result = await executor.runToolCall({
      tool,
      args: req.params.arguments ?? {},
      proposer: proposerFrom(req.params._meta, clientName),
      requester: { kind: 'mcp', name: clientName, clientId: opts.clientId ?? `mcp:${clientName}` },
      workspaceRoot,
      signal: extra.signal,
    }, { waiting });
    return {
      isError: result.status !== 'ok',
      content: [{ type: 'text', text: describe(result) }],
      _meta: { [McpMeta.actionId.key]: result.actionId, [McpMeta.auditSeq.key]: result.auditSeq, [McpMeta.status.key]: result.status },
    };
  });

  const transport = opts.transport ?? new StdioServerTransport(opts.input ?? process.stdin, opts.output ?? process.stdout);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  server.onclose = () => resolveClosed();
  // The stdio transport does not notice the client going away; end when the input ends.
  opts.input?.once('end', () => void server.close());
  if (!opts.transport && !opts.input) process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  return { server, closed, close: () => server.close() };
}

/** How long the agent's UI may take to answer an elicitation (the daemon's approval timeout is the same). */
const ELICIT_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * The prompt shown in the agent's UI: what would run, who asked, why Hearth asks. Built from the
 * daemon's display form when it sent one (invisible, bidi and look-alike characters escaped, with
 * warnings first), like every other client's prompt.
 */
function elicitMessage(req: ApprovalRequest & { display?: Partial<ApprovalRequest> & { warnings?: Array<{ message: string }> } }): string {
  const r = { ...req, ...(req.display ?? {}) } as ApprovalRequest;
  const warnings = req.display?.warnings ?? [];
  const lines = [
    ...warnings.map((w) => `!! WARNING: ${w.message}`),
    `Hearth: allow ${r.tool} requested by ${r.requester.name}, proposed by ${r.proposer.model}@${r.proposer.provider}?`,
  ];
  if (r.argv) lines.push(`argv: ${JSON.stringify(r.argv)} in ${r.cwd ?? r.workspaceRoot}`);
  if (r.path) lines.push(`path: ${JSON.stringify(r.path)}`);
  if (r.url) lines.push(`url: ${JSON.stringify(r.url)}`);
  if (r.diff) lines.push(r.diff);
  if (r.sandbox) lines.push(`sandbox: writable ${JSON.stringify(r.sandbox.writable)}, network ${r.sandbox.network ? 'on' : 'off'}`);
  lines.push(`why asked: ${r.reason}`);
  return lines.join('\n');
}

/**
 * Asks the user through the MCP client's own UI. Only once / session / deny are offered: an
 * `always` grant outlives the agent, so it is given in an editor or with `hearth approve`.
 * Decline and cancel deny; `signal` (the daemon withdrew the prompt) cancels the elicitation.
 */
export async function elicitApproval(server: Server, r: ApprovalRequest, signal: AbortSignal): Promise<ApprovalRequest['choices'][number]> {
  const choices = r.choices.filter((c) => c !== 'always');
  const answer = await server.elicitInput({
    mode: 'form',
    message: elicitMessage(r),
    requestedSchema: {
      type: 'object',
      properties: { choice: { type: 'string', title: 'Allow this action?', enum: choices, description: 'once: this call only; session: identical calls from this agent until it disconnects; deny: nothing runs' } },
      required: ['choice'],
    },
  }, { signal, timeout: ELICIT_TIMEOUT_MS });
  if (answer.action !== 'accept') return 'deny';
  const c = answer.content?.choice;
  return typeof c === 'string' && (choices as string[]).includes(c) ? (c as ApprovalRequest['choices'][number]) : 'deny';
}

/** `hearth mcp --stdio`: MCP tools backed by the daemon (started when needed). Resolves when the MCP client disconnects. */
export async function runMcpOverDaemon(opts: { workspaceRoot: string; log?: (msg: string) => void }): Promise<void> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`hearth mcp: ${m}\n`));
  let daemon: Promise<HearthClient> | undefined;
  let server: Server | undefined;
  const waiters = new Map<string, (message: string) => void>();
  let nextToken = 0;
  const connect = (): Promise<HearthClient> => (daemon ??= (async () => {
    const canElicit = server?.getClientCapabilities()?.elicitation !== undefined;
    const c = await connectClient({ name: 'hearth-mcp', version: VERSION, kind: 'mcp' }, { autostart: true, capabilities: { approvals: canElicit } });
    if (canElicit) {
      c.connection.onRequest(ToolApprove.method, async (req: Params<typeof ToolApprove>, token: CancellationToken): Promise<Result<typeof ToolApprove>> => {
        const withdrawn = new AbortController();
        const sub = token.onCancellationRequested(() => withdrawn.abort());
        try {
          return { choice: await elicitApproval(server!, req as unknown as ApprovalRequest, withdrawn.signal), via: 'elicitation' };
        } finally {
          sub.dispose();
        }
      });
    }
    c.connection.onNotification(Lsp.progress.method, (p: Params<typeof Lsp.progress>) => {
      if (p.value.message) waiters.get(String(p.token))?.(p.value.message);
    });
    c.connection.onClose(() => log('the connection to the Hearth daemon closed'));
    return c;
  })().catch((err: unknown) => {
    daemon = undefined; // the next call tries again (the daemon may have been started since)
    throw err;
  }));

  const executor: McpToolBackend = {
    tools: async () => {
      const { tools } = await (await connect()).connection.sendRequest(ToolList.method) as Result<typeof ToolList>;
      return tools.map((t) => ({ name: t.name as ToolName, description: t.description, inputSchema: t.inputSchema as object }));
    },
    runToolCall: async (call, hooks) => {
      const c = await connect();
      // The MCP client's cancellation (notifications/cancelled aborts call.signal) goes on to the
      // daemon as $/cancelRequest, which withdraws an open approval; without it the call stayed
      // pending and a late answer ran an action nobody was waiting for.
      const cts = new CancellationTokenSource();
      const onAbort = () => cts.cancel();
      if (call.signal?.aborted) cts.cancel();
      else call.signal?.addEventListener('abort', onAbort, { once: true });
      const workDoneToken = `mcp-call-${++nextToken}`;
      if (hooks?.waiting) waiters.set(workDoneToken, hooks.waiting);
      try {
        return await c.connection.sendRequest(ToolRun.method, {
          tool: call.tool,
          args: call.args,
          proposer: call.proposer,
          workspaceRoot: call.workspaceRoot,
          via: call.requester.name,
          workDoneToken,
          ...(call.rationale ? { rationale: call.rationale } : {}),
        }, cts.token) as ToolCallResult;
      } finally {
        waiters.delete(workDoneToken);
        call.signal?.removeEventListener('abort', onAbort);
        cts.dispose();
      }
    },
  };
  const h = await runMcpServer({
    executor,
    workspaceRoot: opts.workspaceRoot,
    onInitialized: (s) => {
      server = s;
      connect().catch((err: Error) => log(`cannot reach the Hearth daemon: ${err.message}; tool calls fail until it runs (\`hearth start\`)`));
    },
  });
  server = h.server;
  await h.closed;
  if (daemon) (await daemon.catch(() => undefined))?.close();
}
