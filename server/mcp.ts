// `hearth mcp --stdio`: an MCP server exposing Hearth's tools, so an external agent's tool calls
// take the same path as a model's: capability check, approval, sandbox, audit. The requester is
// the MCP client (kind 'mcp', its declared name); MCP does not say which model proposed the call,
// so a client may name it in `_meta["hearth/proposer"] = { model, provider }`.
import type { Readable, Writable } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toolFromWireName, wireName, ToolCallParseError } from '../core/tools/calls.js';
import type { Proposer, ToolCallResult, ToolExecutor } from '../core/tools/executor.js';
import { VERSION } from './version.js';

export interface McpServerOptions {
  /** The in-process executor, or any object with the same two methods (the CLI's daemon proxy). */
  executor: Pick<ToolExecutor, 'tools' | 'runToolCall'>;
  /** Workspace the calls act in (default: the current directory). */
  workspaceRoot?: string;
  /** stdio streams (default: process.stdin / process.stdout) ... */
  input?: Readable;
  output?: Writable;
  /** ... or any MCP transport (tests use the SDK's InMemoryTransport). */
  transport?: Transport;
  /** Client id recorded in the audit log (default: `mcp:<client name>`). */
  clientId?: string;
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
  const p = (meta as Record<string, unknown> | undefined)?.['hearth/proposer'] as Record<string, unknown> | undefined;
  if (p && typeof p.model === 'string' && typeof p.provider === 'string') return { model: p.model, provider: p.provider };
  return { model: 'unknown', provider: `mcp:${clientName}` };
}

export async function runMcpServer(opts: McpServerOptions): Promise<McpServerHandle> {
  const { executor } = opts;
  const workspaceRoot = opts.workspaceRoot ?? process.cwd();
  const server = new Server({ name: 'hearth', version: VERSION }, { capabilities: { tools: {} } });

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: executor.tools().map((t) => ({
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
    const result = await executor.runToolCall({
      tool,
      args: req.params.arguments ?? {},
      proposer: proposerFrom(req.params._meta, clientName),
      requester: { kind: 'mcp', name: clientName, clientId: opts.clientId ?? `mcp:${clientName}` },
      workspaceRoot,
      signal: extra.signal,
    });
    return {
      isError: result.status !== 'ok',
      content: [{ type: 'text', text: describe(result) }],
      _meta: { 'hearth/actionId': result.actionId, 'hearth/auditSeq': result.auditSeq, 'hearth/status': result.status },
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
