// One path for every tool call, whoever proposed it (a model through hearth/task, an MCP client):
// validate → capability check → approval when the policy asks → sandboxed run → audit record.
import { randomUUID } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { AuditLog, type AuditRecordInput } from '../audit/index.js';
import { PolicyError } from '../policy/types.js';
import { SandboxRunner, SandboxUnavailableError } from '../sandbox/index.js';
import type { Store } from '../store/index.js';
import { builtinToolPolicy, evaluateCapability, type CapabilityDecision, type ToolPolicy } from './capabilities.js';
import { DEFAULT_SESSION_TTL_MS, GrantStore, type Grant } from './grants.js';
import { workspaceReal } from './paths.js';
import type { ToolName } from './schema.js';
import { TOOLS, ToolInputError, toolByName, unifiedDiff, validateArgs, writeAtomic, type MemoryWriter, type PreparedCall, type ToolContext, type ToolOutcome, type ToolPreview } from './tools.js';

export interface Proposer {
  model: string;
  provider: string;
}
export interface Requester {
  /** The connection's client id (null when unknown, e.g. a one-shot CLI). */
  clientId: string | null;
  name: string;
  /** editor, cli, mcp, task, ... */
  kind: string;
}

export interface ToolCallRequest {
  tool: string;
  args: unknown;
  proposer: Proposer;
  requester: Requester;
  /** Absolute path of the workspace the call acts in. */
  workspaceRoot: string;
  /** Why the proposer wants this (the model's words), shown in the prompt. */
  rationale?: string;
  signal?: AbortSignal;
}

export type ApprovalChoice = 'once' | 'session' | 'always' | 'deny';

export interface ApprovalRequest {
  actionId: string;
  tool: ToolName;
  args: unknown;
  /** shell.run */
  argv?: string[];
  cwd?: string;
  /** fs.edit: the unified diff that would be applied. */
  diff?: string;
  path?: string;
  url?: string;
  host?: string;
  text?: string;
  proposer: Proposer;
  requester: Requester;
  workspaceRoot: string;
  /** Why Hearth asks: the rule (file:line:col and name) or default that said ask. */
  reason: string;
  rationale: string | null;
  /** What the command would be allowed (shell.run); `protected`: the .git/.hearth/... entries it may write (explicit grant). */
  sandbox: { writable: string[]; network: boolean; env: string[]; protected: string[] } | null;
  choices: ApprovalChoice[];
}

/**
 * Ask the user. The daemon sends `hearth/tool/approve` to the requesting client. `signal` aborts
 * when the requester cancels the call: the prompt should then be withdrawn (resolve with 'deny').
 */
/** The user's answer, and who gave it when the asker knows (e.g. "Neovim#1a2b3c4d", "hearth approve"). */
export type ApprovalAnswer = ApprovalChoice | {
  choice: ApprovalChoice;
  by: string;
  /** How the answer came (prompt, elicitation, hearth approve), for the audit. */
  via?: string | null;
  /** Who the prompt was put to, for the audit. */
  asked?: string[];
  /** A 'session' grant also ends with this client's session (default: `by`; null: only with the requester's). */
  approverSession?: string | null;
  /**
   * No user answered: the prompt was withdrawn (its requester disconnected or cancelled) or nobody
   * could answer. Recorded as such (decision.by withdrawn / nobody), never as the user's denial.
   */
  unanswered?: { kind: 'withdrawn' | 'nobody'; why: string };
};
export type ApproveFn = (request: ApprovalRequest, signal?: AbortSignal) => Promise<ApprovalAnswer>;

/** The policy for a workspace (re-read as the files change; throw PolicyError when they are invalid). */
export type ToolPolicySource = (workspaceRoot: string) => ToolPolicy | Promise<ToolPolicy>;

export interface ToolExecutorOptions {
  store: Store;
  approve: ApproveFn;
  /** Default: the built-in policy (destructive commands denied, everything else asks; reads inside the workspace allowed). */
  policy?: ToolPolicySource;
  /** Path of bwrap; null = pretend it is missing (tests); default: found on the system. */
  bwrapPath?: string | null;
  /** Where credentials granted by `env:` rules come from. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  memoryWriter?: MemoryWriter | null;
  /**
   * The network path of `http.fetch` for one call (the daemon's goes through the egress gate and
   * names the requester and the tool rule that allowed it in the ledger). Default: the global fetch.
   */
  httpFetchFor?: (call: { actionId: string; requester: ToolCallRequest['requester']; workspaceRoot: string }) => typeof globalThis.fetch;
  now?: () => Date;
  sessionGrantTtlMs?: number;
}

export interface ToolCallResult {
  actionId: string;
  tool: string;
  /** ok: ran and succeeded; error: could not run or failed; denied: by policy or by the user. */
  status: 'ok' | 'error' | 'denied';
  decision: AuditRecordInput['decision'];
  output: unknown;
  error: string | null;
  exitCode: number | null;
  auditSeq: number;
}

export class ToolExecutor {
  readonly audit: AuditLog;
  readonly grants: GrantStore;
  readonly #store: Store;
  readonly #approve: ApproveFn;
  readonly #policy: ToolPolicySource;
  readonly #bwrapPath: string | null | undefined;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #memoryWriter: MemoryWriter | null;
  readonly #httpFetchFor: ToolExecutorOptions['httpFetchFor'];
  readonly #now: () => Date;
  readonly #sessionTtl: number;

  constructor(opts: ToolExecutorOptions) {
    this.#store = opts.store;
    this.#approve = opts.approve;
    this.#policy = opts.policy ?? (() => builtinToolPolicy());
    this.#bwrapPath = opts.bwrapPath;
    this.#env = opts.env ?? process.env;
    this.#memoryWriter = opts.memoryWriter ?? null;
    this.#httpFetchFor = opts.httpFetchFor;
    this.#now = opts.now ?? (() => new Date());
    this.#sessionTtl = opts.sessionGrantTtlMs ?? DEFAULT_SESSION_TTL_MS;
    this.audit = new AuditLog(opts.store);
    this.grants = new GrantStore(opts.store, this.#now);
  }

  /** The tools with their JSON schemas (for MCP, OpenAI and Anthropic tool definitions). */
  tools(): { name: ToolName; description: string; inputSchema: object }[] {
    return TOOLS.map((t) => ({ name: t.name, description: t.description, inputSchema: JSON.parse(JSON.stringify(t.inputSchema)) as object }));
  }

  listGrants(opts: { includeExpired?: boolean } = {}): (Grant & { expired: boolean })[] {
    return this.grants.list(opts);
  }

  revokeGrant(id: string): Promise<boolean> {
    return this.grants.revoke(id);
  }

  /** Drop session grants (all, or those bound to one client's session): called when a client detaches. */
  endSession(clientId?: string): void {
    this.grants.endSession(clientId);
  }

  async runToolCall(call: ToolCallRequest): Promise<ToolCallResult> {
    const actionId = randomUUID();
    const time = this.#now().toISOString();
    const base = {
      time,
      actionId,
      interface: { kind: call.requester.kind, name: call.requester.name, clientId: call.requester.clientId },
      proposer: { model: call.proposer.model, provider: call.proposer.provider },
      tool: call.tool,
      args: call.args ?? null,
    };
    const refuse = async (message: string, rule: string, policyAction: 'allow' | 'ask' | 'deny' = 'deny'): Promise<ToolCallResult> => {
      const decision: AuditRecordInput['decision'] = { policy: policyAction, rule, outcome: 'denied', by: 'policy', grant: null, approvedBy: null };
      const rec = await this.audit.append({ ...base, decision, sandbox: null, result: { status: 'error', error: message }, exitCode: null, filesChanged: [] });
      return { actionId, tool: call.tool, status: 'error', decision, output: null, error: message, exitCode: null, auditSeq: rec.seq };
    };

    const tool = toolByName(call.tool);
    if (!tool) return refuse(`unknown tool ${JSON.stringify(call.tool)}; Hearth's tools are ${TOOLS.map((t) => t.name).join(', ')}`, 'input');
    let root: string;
    let policy: ToolPolicy;
    let prepared: PreparedCall;
    const runner = { current: null as SandboxRunner | null };
    try {
      root = workspaceReal(call.workspaceRoot);
      policy = await this.#policy(root);
      runner.current = new SandboxRunner({ ...(this.#bwrapPath !== undefined ? { bwrapPath: this.#bwrapPath } : {}), allowUnsandboxed: policy.unsandboxed });
      validateArgs(tool, call.args);
      const ctx: ToolContext = {
        actionId,
        workspaceRoot: root,
        env: this.#env,
        sandbox: runner.current,
        memoryWriter: this.#memoryWriter,
        clientId: call.requester.clientId,
        ...(call.signal ? { signal: call.signal } : {}),
        ...(this.#httpFetchFor ? { httpFetch: this.#httpFetchFor({ actionId, requester: call.requester, workspaceRoot: root }) } : {}),
      };
      prepared = await tool.prepare(call.args as never, ctx);
    } catch (e) {
      if (e instanceof PolicyError) return refuse(`the tool policy is invalid, so no tool runs until it is fixed: ${e.message}`, 'policy-invalid');
      if (e instanceof ToolInputError || (e as NodeJS.ErrnoException).code) return refuse((e as Error).message, 'input');
      throw e;
    }

    const verdict: CapabilityDecision = evaluateCapability(policy, prepared.query);
    const decision: AuditRecordInput['decision'] = { policy: verdict.action, rule: verdict.rule, outcome: 'denied', by: 'policy', grant: null, approvedBy: null };
    const preview: ToolPreview = prepared.preview;
    const denied = async (message: string): Promise<ToolCallResult> => {
      const rec = await this.audit.append({ ...base, decision, sandbox: null, result: { status: 'denied', error: message }, exitCode: null, filesChanged: [] });
      return { actionId, tool: call.tool, status: 'denied', decision, output: null, error: message, exitCode: null, auditSeq: rec.seq };
    };

    if (verdict.action === 'deny') {
      return denied(`denied by ${verdict.rule}${verdict.detail ? `: ${verdict.detail}` : ''}; nothing was run`);
    }
    // A command that cannot be sandboxed is refused before anyone is asked about it.
    if (tool.name === 'shell.run' && runner.current?.unavailableReason()) {
      return refuse(runner.current.unavailableReason()!, verdict.rule, verdict.action);
    }
    // A call its requester cancelled runs nothing, however it was approved (the requester is no
    // longer waiting for it; before this check a late "once" to a still-open prompt ran it).
    const cancelled = (): Promise<ToolCallResult> | null => {
      if (!call.signal?.aborted) return null;
      decision.outcome = 'denied';
      decision.by = 'withdrawn';
      const why = typeof call.signal.reason === 'string' ? call.signal.reason : 'by its requester';
      return denied(`the request was cancelled (${why}) before it ran; nothing was run`);
    };
    if (verdict.action === 'ask') {
      const grant = this.grants.find(tool.name, prepared.subject, root, call.requester.clientId);
      if (grant) {
        Object.assign(decision, { outcome: 'allowed', by: 'grant', grant: grant.scope, approvedBy: grant.client });
      } else {
        let answer: ApprovalAnswer;
        try {
          answer = await this.#approve({
            actionId,
            tool: tool.name,
            args: call.args,
            ...preview,
            proposer: call.proposer,
            requester: call.requester,
            workspaceRoot: root,
            reason: `${verdict.rule} says ask${verdict.warning ? `; ${verdict.warning}` : ''}`,
            rationale: call.rationale ?? null,
            sandbox: tool.name === 'shell.run' ? verdict.profile : null,
            choices: ['once', 'session', 'always', 'deny'],
          }, call.signal);
        } catch (e) {
          decision.by = 'nobody';
          return denied(`the approval could not be obtained (${(e as Error).message}); nothing was run`);
        }
        if (typeof answer !== 'string') decision.approval = { asked: answer.asked ?? [], via: answer.via ?? null, note: answer.unanswered?.why ?? null };
        if (typeof answer !== 'string' && answer.unanswered) {
          decision.by = answer.unanswered.kind;
          return denied(`${answer.unanswered.why}; nothing was run`);
        }
        decision.by = 'user';
        const gone = cancelled();
        if (gone) return gone;
        const choice = typeof answer === 'string' ? answer : answer.choice;
        // Who answered; without word from the asker, the requester it was put to.
        decision.approvedBy = typeof answer === 'string' ? call.requester.clientId ?? call.requester.name : answer.by;
        if (choice !== 'once' && choice !== 'session' && choice !== 'always') {
          decision.grant = 'deny';
          return denied('declined by the user; nothing was run');
        }
        decision.grant = choice;
        decision.outcome = 'allowed';
        if (choice !== 'once') {
          const ttl = choice === 'always' ? policy.grantDays * 86_400_000 : this.#sessionTtl;
          // A session grant covers this requester's later calls and ends with its session (and with
          // the answering client's, when that is another attached client).
          const approverSession = typeof answer === 'string' ? null : answer.approverSession === undefined ? answer.by : answer.approverSession;
          const endsWith = [call.requester.clientId, approverSession].filter((x): x is string => !!x);
          await this.grants.add(choice, { tool: tool.name, subject: prepared.subject, workspace: root, client: decision.approvedBy, requester: call.requester.clientId, endsWith, ttlMs: ttl });
        }
      }
    } else {
      decision.outcome = 'allowed';
    }

    const gone = cancelled();
    if (gone) return gone;
    let outcome: ToolOutcome;
    try {
      outcome = await prepared.execute(verdict);
    } catch (e) {
      const message = e instanceof SandboxUnavailableError ? e.message : `${tool.name} failed: ${(e as Error).message}`;
      const rec = await this.audit.append({ ...base, decision, sandbox: null, result: { status: 'error', error: message }, exitCode: null, filesChanged: [] });
      return { actionId, tool: call.tool, status: 'error', decision, output: null, error: message, exitCode: null, auditSeq: rec.seq };
    }
    const tx = [];
    if (outcome.undo) {
      tx.push({
        sql: 'INSERT INTO tool_undo (action_id, path, before, after, created_at) VALUES (?, ?, ?, ?, ?)',
        params: [actionId, outcome.undo.path, outcome.undo.before, outcome.undo.after, time],
      });
      await this.#store.write(tx);
    }
    const rec = await this.audit.append({
      ...base,
      decision,
      sandbox: outcome.sandbox,
      result: { status: outcome.status, ...(outcome.error ? { error: outcome.error } : {}), ...outcome.summary },
      exitCode: outcome.exitCode,
      filesChanged: outcome.filesChanged,
    });
    return { actionId, tool: call.tool, status: outcome.status, decision, output: outcome.output, error: outcome.error ?? null, exitCode: outcome.exitCode, auditSeq: rec.seq };
  }

  /**
   * Restore the file an fs.edit changed, byte for byte. Refused when the file has changed since
   * (undo would throw that work away) or the action was already undone. Recorded in the audit log.
   */
  async undo(actionId: string, requester: Requester): Promise<ToolCallResult> {
    const row = this.#store.all<{ path: string; before: Uint8Array | null; after: Uint8Array; undone_at: string | null }>(
      'SELECT path, before, after, undone_at FROM tool_undo WHERE action_id = ?',
      [actionId],
    )[0];
    const time = this.#now().toISOString();
    const original = this.audit.get(actionId);
    const base = {
      time,
      actionId: randomUUID(),
      interface: { kind: requester.kind, name: requester.name, clientId: requester.clientId },
      proposer: { model: 'user', provider: 'hearth' },
      tool: 'fs.undo',
      args: { actionId },
    };
    const decision: AuditRecordInput['decision'] = { policy: 'allow', rule: 'undo of an earlier edit', outcome: 'denied', by: 'user', grant: null, approvedBy: requester.clientId ?? requester.name };
    const fail = async (message: string): Promise<ToolCallResult> => {
      const rec = await this.audit.append({ ...base, decision, sandbox: null, result: { status: 'error', error: message }, exitCode: null, filesChanged: [] });
      return { actionId: base.actionId, tool: 'fs.undo', status: 'error', decision, output: null, error: message, exitCode: null, auditSeq: rec.seq };
    };
    if (!row) return fail(`no undoable edit has action id ${actionId} (only fs.edit actions can be undone)`);
    if (row.undone_at) return fail(`action ${actionId} was already undone at ${row.undone_at}`);
    const after = Buffer.from(row.after);
    let current: Buffer | null;
    try {
      current = await readFile(row.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      current = null;
    }
    if (!current || !current.equals(after)) {
      return fail(`${row.path} has changed since action ${actionId}${original ? ` (audit record ${original.seq})` : ''}; undo would discard those changes, so nothing was restored`);
    }
    const before = row.before ? Buffer.from(row.before) : null;
    if (before) await writeAtomic(row.path, before, (await stat(row.path)).mode & 0o7777);
    else await rm(row.path);
    decision.outcome = 'allowed';
    const diff = unifiedDiff(row.path, after.toString('utf8'), before?.toString('utf8') ?? '');
    await this.#store.write([{ sql: 'UPDATE tool_undo SET undone_at = ? WHERE action_id = ?', params: [time, actionId] }]);
    const rec = await this.audit.append({
      ...base,
      decision,
      sandbox: { kind: 'in-process', write: [row.path] },
      result: { status: 'ok', undid: actionId, deleted: before === null },
      exitCode: null,
      filesChanged: [{ path: row.path, diff }],
    });
    return { actionId: base.actionId, tool: 'fs.undo', status: 'ok', decision, output: { path: row.path, restored: true, deleted: before === null }, error: null, exitCode: null, auditSeq: rec.seq };
  }
}
