import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { AuditLog } from '../../core/audit/index.js';
import { Store } from '../../core/store/index.js';
import { ToolExecutor, type ApprovalRequest } from '../../core/tools/index.js';
import { runMcpServer } from '../../server/mcp.js';
import { McpMeta } from '../../server/protocol.js';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const ENTRY = join(REPO, 'test', 'helpers', 'mcp-entry.ts');

type TextResult = { isError?: boolean; content: { type: string; text: string }[]; _meta?: Record<string, unknown> };

describe('MCP server (hearth mcp --stdio)', function () {
  this.timeout(60_000);
  let home: string;
  let ws: string;
  let storeDir: string;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'hearth-mcp-'));
    ws = join(home, 'ws');
    storeDir = join(home, 'store');
    mkdirSync(ws);
    execFileSync('git', ['init', '-q', ws]);
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('an SDK client over stdio lists the tools and calls one: checked, approved, sandboxed, audited', async () => {
    const approvals = join(home, 'approvals.jsonl');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', ENTRY, storeDir, ws, approvals, 'once'],
      cwd: REPO,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name: 'hearth-test-agent', version: '1.2.3' });
    await client.connect(transport);

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['fs_edit', 'fs_read', 'http_fetch', 'memory_write', 'shell_run']);
    const shell = tools.find((t) => t.name === 'shell_run')!;
    assert.equal(shell.inputSchema.type, 'object');
    assert.ok((shell.inputSchema.required as string[]).includes('argv'));

    const r = (await client.callTool({
      name: 'shell_run',
      arguments: { argv: ['sh', '-c', 'git status --short; echo made > made.txt; echo x > /tmp/mcp-escape-$$ ; env'] },
      _meta: { [McpMeta.proposer.key]: { model: 'claude-sonnet-4-5', provider: 'anthropic' } },
    })) as TextResult;
    assert.equal(r.isError, false, r.content[0]?.text + stderr);
    const out = JSON.parse(r.content[0]!.text) as { exitCode: number; stdout: string };
    assert.equal(out.exitCode, 0);
    assert.match(out.stdout, /^PATH=/m);
    assert.doesNotMatch(out.stdout, /MOCHA|npm_|NODE_OPTIONS/, 'no variable of the server process reaches the command');
    assert.equal(readFileSync(join(ws, 'made.txt'), 'utf8'), 'made\n');
    assert.deepEqual(readdirSync('/tmp').filter((f) => f.startsWith('mcp-escape-')), [], "the write to /tmp stayed in the sandbox's private /tmp");

    const denied = (await client.callTool({ name: 'shell_run', arguments: { argv: ['rm', '-rf', '/'] } })) as TextResult;
    assert.equal(denied.isError, true);
    assert.match(denied.content[0]!.text, /^Denied: .*destructive/);
    const bad = (await client.callTool({ name: 'shell_run', arguments: { argv: 'rm -rf /' } })) as TextResult;
    assert.equal(bad.isError, true);
    assert.match(bad.content[0]!.text, /invalid arguments for shell\.run/);

    await client.close();
    for (let i = 0; i < 200 && existsSync(join(storeDir, 'lock')); i++) await new Promise((res) => setTimeout(res, 50));

    const requests = readFileSync(approvals, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ApprovalRequest);
    assert.equal(requests.length, 1, 'one prompt: the destructive command and the bad call were refused without one');
    assert.equal(requests[0]!.tool, 'shell.run');
    assert.deepEqual(requests[0]!.requester, { kind: 'mcp', name: 'hearth-test-agent', clientId: 'mcp:hearth-test-agent' });
    assert.deepEqual(requests[0]!.proposer, { model: 'claude-sonnet-4-5', provider: 'anthropic' });

    const store = await Store.open(storeDir);
    try {
      const log = new AuditLog(store);
      assert.deepEqual(log.verify(), { ok: true, records: 3, problem: null });
      const [ran, refused] = log.list();
      assert.equal(ran!.interface.kind, 'mcp');
      assert.equal(ran!.interface.name, 'hearth-test-agent');
      assert.equal(ran!.decision.by, 'user');
      assert.equal(ran!.decision.grant, 'once');
      assert.equal((ran!.sandbox as { kind: string; network: boolean }).kind, 'bwrap');
      assert.equal((ran!.sandbox as { kind: string; network: boolean }).network, false);
      assert.equal(ran!.exitCode, 0);
      assert.equal(refused!.decision.outcome, 'denied');
      assert.equal(refused!.decision.by, 'policy');
    } finally {
      await store.close();
    }
  });

  it('works over an in-memory transport pair too (for the daemon wiring)', async () => {
    const store = await Store.open(storeDir);
    const prompts: ApprovalRequest[] = [];
    const executor = new ToolExecutor({ store, approve: async (r) => (prompts.push(r), 'deny') });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const handle = await runMcpServer({ executor, workspaceRoot: ws, transport: serverSide, clientId: 'conn-42' });
    const client = new Client({ name: 'inmem-agent', version: '0.0.1' });
    await client.connect(clientSide);
    const r = (await client.callTool({ name: 'shell.run', arguments: { argv: ['touch', 'nope'] } })) as TextResult;
    assert.equal(r.isError, true);
    assert.match(r.content[0]!.text, /declined by the user/);
    assert.equal(existsSync(join(ws, 'nope')), false);
    assert.equal(prompts[0]!.requester.clientId, 'conn-42');
    assert.equal(prompts[0]!.proposer.provider, 'mcp:inmem-agent');
    await client.close();
    await handle.closed;
    await store.close();
  });
});
