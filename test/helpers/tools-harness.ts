// Helpers for the tool-action integration tests (issue 6) through the real daemon: editors (LSP
// clients through `bin/hearth lsp --stdio`) that record and answer `hearth/tool/approve`, user
// policies that route feature `task` to the scripted model server, scripted replies carrying tool
// calls in the OpenAI (`tool_calls`) and Anthropic (`tool_use`) formats, and audit/CLI shortcuts.
// Built on test/helpers/daemon.ts and routing-harness.ts (homes, daemons, clean-up).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CancellationToken } from 'vscode-jsonrpc';
import { EgressConfirm, Task, ToolApprove, ToolRun, type Params, type Result } from '../../server/protocol.js';
import type { ScriptedReply, ScriptedServer } from './scripted-openai.js';
import { cliJson, makeWorkspace, userPolicyFile, waitFor, writeFileAtomic, type HearthHome, type LspClient } from './routing-harness.js';

export type Choice = Result<typeof ToolApprove>['choice'];

/** What `hearth/tool/approve` carries: the protocol's declaration, plus the sandbox profile it passes through. */
export type ApproveParams = Params<typeof ToolApprove> & { sandbox?: { writable: string[]; network: boolean; env: string[]; protected: string[] } | null };

/** One tool call's result (server/protocol.ts ToolResult). */
export interface ToolResult {
  actionId: string;
  tool: string;
  status: 'ok' | 'error' | 'denied';
  decision: { policy: string; rule: string; outcome: string; by: string; grant: string | null; approvedBy: string | null };
  output: any;
  error: string | null;
  exitCode: number | null;
  auditSeq: number;
}

export interface TaskResult {
  route: unknown;
  text: string;
  toolCalls: ToolResult[];
}

/**
 * An editor attached through the bridge that answers `hearth/tool/approve` from a queue of
 * choices (`fallback` when empty; 'hang' leaves the request unanswered until release()), and
 * records every approval and egress confirmation it was sent.
 */
export class ToolEditor {
  readonly approvals: ApproveParams[] = [];
  readonly answers: Array<Choice | 'hang'> = [];
  fallback: Choice | 'hang' = 'deny';
  readonly egressConfirms: unknown[] = [];
  /** Action ids whose prompt the daemon withdrew ($/cancelRequest for the hearth/tool/approve). */
  readonly withdrawn: string[] = [];
  private hung: Array<(r: { choice: Choice }) => void> = [];

  constructor(readonly lsp: LspClient, readonly name: string, readonly root: string) {
    lsp.connection.onRequest(ToolApprove.method, (params: ApproveParams, token: CancellationToken): Promise<{ choice: Choice }> => {
      this.approvals.push(params);
      token.onCancellationRequested(() => this.withdrawn.push(params.actionId));
      const a = this.answers.shift() ?? this.fallback;
      if (a === 'hang') return new Promise((resolve) => this.hung.push(resolve));
      return Promise.resolve({ choice: a });
    });
    lsp.connection.onRequest(EgressConfirm.method, (params: unknown) => {
      this.egressConfirms.push(params);
      return { decision: 'deny' };
    });
  }

  /** Answers every approval left hanging; returns how many there were. */
  release(choice: Choice): number {
    const h = this.hung;
    this.hung = [];
    for (const f of h) f({ choice });
    return h.length;
  }

  get hanging(): number {
    return this.hung.length;
  }

  task(instruction: string, extra: Record<string, unknown> = {}): Promise<TaskResult> {
    return this.lsp.connection.sendRequest(Task.method, { instruction, ...extra }) as Promise<TaskResult>;
  }

  run(tool: string, args: unknown, extra: Record<string, unknown> = {}): Promise<ToolResult> {
    return this.lsp.connection.sendRequest(ToolRun.method, { tool, args, ...extra }) as Promise<ToolResult>;
  }

  open(file: string, text: string, languageId = 'typescript'): Promise<void> {
    return this.lsp.open(pathToFileURL(file).href, text, 1, languageId);
  }

  dispose(): Promise<void> {
    return this.lsp.dispose();
  }
}

/** Launches `hearth lsp --stdio` in `home` and initializes it as editor `name` with workspace `root`. */
export async function attachToolEditor(home: HearthHome, name: string, root: string): Promise<ToolEditor> {
  const lsp = home.lsp();
  const editor = new ToolEditor(lsp, name, root);
  await lsp.connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name, version: '1.0.0' },
    rootUri: pathToFileURL(root).href,
    capabilities: {},
  });
  await lsp.connection.sendNotification('initialized', {});
  return editor;
}

/**
 * A user policy for tool tests: the scripted server as an OpenAI-compatible provider `scripted`
 * (model `scripted-agent`) and as an Anthropic provider `claude` (model `scripted-claude`), both
 * `location: cloud` with feature task, and a rule allowing the task egress so no confirmation
 * interferes. `toolsYaml` is the `tools:` section (indented lines, without the `tools:` key).
 */
export function toolsUserPolicy(server: ScriptedServer, toolsYaml: string[] = []): string {
  return [
    'version: 1',
    'providers:',
    '  - id: scripted',
    '    kind: openai',
    `    baseUrl: ${server.url}`,
    '    model: scripted-agent',
    '    location: cloud',
    '    features: [task]',
    '  - id: claude',
    '    kind: anthropic',
    `    baseUrl: ${server.url}`,
    '    model: scripted-claude',
    '    location: cloud',
    '    features: [task]',
    'routes:',
    '  task: [scripted, claude]',
    'rules:',
    '  - name: tasks may use the scripted models',
    '    feature: task',
    '    provider: [scripted, claude]',
    '    action: allow',
    ...(toolsYaml.length ? ['tools:', ...toolsYaml] : []),
    '',
  ].join('\n');
}

/** Writes the user policy and checks it with `hearth policy check` (a bad test policy fails loudly). */
export async function writeUserPolicy(home: HearthHome, text: string): Promise<void> {
  writeFileAtomic(userPolicyFile(home), text);
  const check = await home.cli(['policy', 'check']);
  if (check.code !== 0) throw new Error(`the test's user policy is invalid:\n${check.stdout}\n${check.stderr}\n${text}`);
}

export interface Call {
  tool: string;
  args: Record<string, unknown>;
}

/** An OpenAI chat-completions answer whose message holds `tool_calls` (arguments as JSON text). */
export function openAIToolCalls(calls: Call[], model = 'scripted-agent-2025', content: string | null = null): ScriptedReply {
  return {
    json: {
      id: 'chatcmpl-test',
      object: 'chat.completion',
      model,
      choices: [{
        index: 0,
        finish_reason: 'tool_calls',
        message: {
          role: 'assistant',
          content,
          tool_calls: calls.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.tool.replace(/\./g, '_'), arguments: JSON.stringify(c.args) } })),
        },
      }],
    },
  };
}

/** An Anthropic Messages answer with `tool_use` content blocks. */
export function anthropicToolUse(calls: Call[], model = 'scripted-claude-2025', text = 'I will run these.'): ScriptedReply {
  return {
    json: {
      id: 'msg_test',
      type: 'message',
      role: 'assistant',
      model,
      stop_reason: 'tool_use',
      content: [
        { type: 'text', text },
        ...calls.map((c, i) => ({ type: 'tool_use', id: `toolu_${i}`, name: c.tool.replace(/\./g, '_'), input: c.args })),
      ],
    },
  };
}

/** A workspace that is a git repository with one commit (so `git status` succeeds). */
export function gitWorkspace(home: HearthHome, name: string): string {
  const root = makeWorkspace(home, name);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: root, stdio: 'ignore' });
  git('init', '-q');
  fs.writeFileSync(path.join(root, 'README.md'), '# test\n');
  git('add', 'README.md');
  git('commit', '-q', '-m', 'init');
  // The daemon runs git inside the sandbox as the same user; nothing here needs safe.directory.
  return fs.realpathSync(root);
}

/** `hearth audit show ACTION --json`: the one record of that action. */
export async function auditRecord(home: HearthHome, actionId: string): Promise<any> {
  const records = await cliJson<any[]>(home, ['audit', 'show', actionId, '--json']);
  if (records.length !== 1) throw new Error(`expected one audit record for action ${actionId}, got ${records.length}`);
  return records[0];
}

/** `hearth audit show --json`: every record. */
export function auditAll(home: HearthHome): Promise<any[]> {
  return cliJson<any[]>(home, ['audit', 'show', '--json']);
}

/** Polls `hearth approve --json` until `n` approvals are pending. */
export function waitPending(home: HearthHome, n = 1, timeoutMs = 20_000): Promise<any[]> {
  return waitFor(`${n} pending approval(s) in \`hearth approve --json\``, async () => {
    const p = await cliJson<any[]>(home, ['approve', '--json']);
    return p.length >= n ? p : undefined;
  }, timeoutMs, 100);
}

/** The id the daemon gave to the attached client called `name` (from `hearth status --json`). */
export async function clientIdOf(home: HearthHome, name: string): Promise<string> {
  const s = await cliJson<{ clients: Array<{ id: string; name: string }> }>(home, ['status', '--json']);
  const c = s.clients.filter((x) => x.name === name);
  if (c.length !== 1) throw new Error(`expected one attached client named ${name}, found ${c.length}: ${JSON.stringify(s.clients.map((x) => x.name))}`);
  return c[0]!.id;
}
