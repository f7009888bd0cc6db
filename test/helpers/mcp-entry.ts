/**
 * MCP server test entry: `node --import tsx test/helpers/mcp-entry.ts STORE_DIR WORKSPACE APPROVALS_FILE ANSWER`.
 * Runs server/mcp.ts over stdio with a real executor on the store in STORE_DIR. Its approve
 * callback appends each approval request (one JSON line) to APPROVALS_FILE and answers ANSWER
 * (once | session | always | deny). Closes the store and exits when the client disconnects.
 */
import { appendFileSync } from 'node:fs';
import { Store } from '../../core/store/index.js';
import { ToolExecutor, type ApprovalChoice } from '../../core/tools/index.js';
import { runMcpServer } from '../../server/mcp.js';

const [storeDir, workspace, approvalsFile, answer] = process.argv.slice(2);
if (!storeDir || !workspace || !approvalsFile || !answer) {
  process.stderr.write('usage: mcp-entry.ts STORE_DIR WORKSPACE APPROVALS_FILE ANSWER\n');
  process.exit(2);
}
const store = await Store.open(storeDir);
const executor = new ToolExecutor({
  store,
  approve: async (request) => {
    appendFileSync(approvalsFile, JSON.stringify(request) + '\n');
    return answer as ApprovalChoice;
  },
});
const handle = await runMcpServer({ executor, workspaceRoot: workspace, input: process.stdin, output: process.stdout });
await handle.closed;
await executor.audit.flushed();
await store.close();
process.exit(0);
