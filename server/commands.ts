// CLI commands for routing, models and egress (issue 4). Each talks to the daemon when it needs
// live state (route plans, the ledger) and works on files directly when it must work offline
// (the model registry, policy checks).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { CancellationTokenSource, ProgressType } from 'vscode-jsonrpc';
import type { HearthClient } from './client.js';
import { EgressConfirm, EgressLog, EgressVerify, HearthErrorCodes, Lsp, ModelsAdd, ModelsReload, RouteExplain, type Params, type Result } from './protocol.js';
import { formatLedger, mib, planLines } from './format.js';
import { PositionError, checkPosition } from '../core/position.js';
import { formatVerify } from './commands-anchor.js';
import type { VerifyResult } from '../core/anchor/index.js';
import { resolvePaths } from './paths.js';
import { keyReport } from './commands-secrets.js';
import { ensurePrivateDir } from './security.js';
import { ModelRegistry, checkModel, type ModelPurpose } from '../core/models/index.js';
import {
  WORKSPACE_POLICY_PATH, applyWorkspacePolicy, compileUserPolicy, defaultPolicy, formatDiagnostic, parsePolicyText, readTextIfExists,
} from '../core/policy/index.js';
import { builtinToolPolicy, compileToolPolicy } from '../core/tools/index.js';

type Out = (s: string) => void;
type WithClient = <T>(fn: (c: HearthClient) => Promise<T>, autostart?: boolean) => Promise<T>;

export class CommandError extends Error {}

/** What every `hearth models` subcommand works with: its arguments, the registry and the daemon. */
interface ModelsCall {
  values: { json?: boolean; id?: string; sha256?: string; yes?: boolean };
  positionals: string[];
  registry: ModelRegistry;
  purpose: ModelPurpose;
  budget: number | undefined;
  out: Out;
  withClient: WithClient;
  /** Tells a running daemon the registry changed. */
  reload: () => Promise<void>;
}

/** `hearth models add`: a URL is downloaded by the daemon through its egress gate; a path is registered here. */
async function modelsAdd(m: ModelsCall): Promise<number> {
  const { values, budget, purpose, out } = m;
  const source = m.positionals[0];
  if (!source) throw new CommandError('hearth models add PATH-or-URL [--purpose completion|embedding] [--id ID] [--sha256 HEX] [--yes]');
  if (/^https?:\/\//i.test(source)) {
    // A download leaves the machine, so the daemon does it, through its egress gate.
    const r = await m.withClient((c) => downloadThroughDaemon(c, {
      url: source, purpose,
      ...(values.id ? { id: values.id } : {}),
      ...(values.sha256 ? { sha256: values.sha256 } : {}),
      ...(budget ? { memoryBudgetBytes: budget } : {}),
    }, values.yes === true), true);
    const model = r.model as { id: string; purpose: string; architecture?: string; format?: string; sizeBytes: number };
    out(`added ${model.id} (${model.purpose}, ${model.architecture ?? model.format ?? 'model'}, ${mib(model.sizeBytes)}); engines now: ${r.engines.join(', ')}`);
    return 0;
  }
  let last = 0;
  const entry = await m.registry.addModel(source, {
    purpose,
    ...(values.id ? { id: values.id } : {}),
    ...(values.sha256 ? { sha256: values.sha256 } : {}),
    ...(budget ? { memoryBudgetBytes: budget } : {}),
    onProgress: (p: { receivedBytes?: number; totalBytes?: number | null }) => {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      process.stderr.write(`\rdownloading ${mib(p.receivedBytes)}${p.totalBytes ? ` of ${mib(p.totalBytes)}` : ''}   `);
    },
  });
  if (last) process.stderr.write('\n');
  out(`added ${entry.id} (${entry.purpose}, ${entry.architecture ?? entry.format}, ${mib(entry.sizeBytes)})`);
  await m.reload();
  return 0;
}

/** `hearth models check`: whether a file (or a registered model) can run here, and why not. */
async function modelsCheck(m: ModelsCall): Promise<number> {
  const { out } = m;
  const target = m.positionals[0];
  if (!target) throw new CommandError('hearth models check PATH-or-ID [--purpose completion|embedding] [--memory-budget BYTES]');
  const registered = await m.registry.get(target);
  const opts = { purpose: registered?.purpose ?? m.purpose, ...(m.budget ? { memoryBudgetBytes: m.budget } : {}) };
  const r = await checkModel(registered?.path ?? path.resolve(target), opts);
  if (m.values.json) out(JSON.stringify(r, null, 2));
  else {
    out(`${r.ok ? 'compatible' : 'NOT compatible'}: ${r.info.path} for ${opts.purpose}`);
    if (r.info.architecture) out(`  architecture ${r.info.architecture}, context ${r.info.contextLength ?? '?'}, needs ~${mib(r.info.estimatedMemoryBytes)} of ${mib(r.info.availableMemoryBytes)} available`);
    for (const reason of r.reasons) out(`  - ${reason}`);
    for (const w of r.warnings) out(`  warning: ${w}`);
  }
  return r.ok ? 0 : 1;
}

export async function modelsCommand(args: string[], out: Out, withClient: WithClient, daemonRunning: () => Promise<boolean>): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      purpose: { type: 'string' },
      id: { type: 'string' },
      sha256: { type: 'string' },
      'memory-budget': { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
    },
  });
  // The registry lives in HEARTH_HOME: create it private, as the daemon would.
  const home = resolvePaths().home;
  ensurePrivateDir(home);
  const registry = new ModelRegistry(home);
  const purpose = (values.purpose ?? 'completion') as ModelPurpose;
  if (purpose !== 'completion' && purpose !== 'embedding') throw new CommandError(`--purpose must be completion or embedding, not "${purpose}"`);
  const budget = values['memory-budget'] !== undefined ? Number(values['memory-budget']) : undefined;
  if (budget !== undefined && !(budget > 0)) throw new CommandError('--memory-budget takes a number of bytes');
  const reload = async (): Promise<void> => {
    if (await daemonRunning()) await withClient((c) => c.connection.sendRequest(ModelsReload.method));
  };
  const call: ModelsCall = { values, positionals, registry, purpose, budget, out, withClient, reload };
  switch (sub) {
    case 'list': {
      const models = await registry.list();
      if (values.json) out(JSON.stringify(models, null, 2));
      else if (!models.length) out('no models registered; the embedded n-gram engine serves completions.\nadd one with `hearth models add PATH-or-URL`');
      else for (const m of models) out(`${m.id}  ${m.purpose}  ${m.format}${m.architecture ? ' ' + m.architecture : ''}  ${mib(m.sizeBytes)}  ${m.path}`);
      return 0;
    }
    case 'add':
      return modelsAdd(call);
    case 'remove': {
      const id = positionals[0];
      if (!id) throw new CommandError('hearth models remove ID');
      if (!(await registry.removeModel(id))) throw new CommandError(`no model "${id}" is registered (see \`hearth models list\`)`);
      out(`removed ${id}`);
      await reload();
      return 0;
    }
    case 'check':
      return modelsCheck(call);
    default:
      throw new CommandError('hearth models list|add|remove|check');
  }
}

/**
 * `hearth models add URL` through the daemon: prints `$/progress` on stderr, answers the egress
 * confirmation on this terminal (or with --yes; without a terminal and without --yes the answer is
 * deny), and Ctrl-C cancels the download, keeping the partial file for a resume.
 */
async function downloadThroughDaemon(c: HearthClient, params: Params<typeof ModelsAdd>, yes: boolean): Promise<Result<typeof ModelsAdd>> {
  const token = `hearth-cli-download-${process.pid}`;
  let progressShown = false;
  // vscode-jsonrpc hands $/progress to the handler registered for its token.
  c.connection.onProgress(new ProgressType<Params<typeof Lsp.progress>['value']>(), token, (v) => {
    if (!process.stderr.isTTY) return;
    if (v.kind === 'report') {
      progressShown = true;
      process.stderr.write(`\rdownloading ${v.message ?? ''}${v.percentage !== undefined ? ` (${v.percentage}%)` : ''}   `);
    } else if (v.kind === 'end' && progressShown) process.stderr.write('\n');
  });
  c.connection.onRequest(EgressConfirm.method, async (q: Params<typeof EgressConfirm>): Promise<Result<typeof EgressConfirm>> => {
    // The daemon's display form (escaped, with warnings: core/text/display.ts), never the raw fields.
    const d = q.display;
    process.stderr.write(d
      ? `policy asks before this download leaves the machine:\n  ${d.url ?? ''}\n  host ${d.host} (${d.provider}), rule ${d.rule ?? ''}\n  ${d.reason}\n${d.warnings.map((w) => `  !! WARNING: ${w.message}\n`).join('')}`
      : `policy asks before this download leaves the machine (this daemon sends no display form; fields shown as JSON):\n  ${JSON.stringify(q.url ?? null).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
    if (yes) {
      process.stderr.write('  answered once (--yes)\n');
      return { decision: 'once' };
    }
    if (!process.stdin.isTTY) {
      process.stderr.write('  no terminal to ask on: declined (pass --yes to allow this download once)\n');
      return { decision: 'deny' };
    }
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
      const a = (await rl.question('  allow [o]nce, for this [s]ession, [a]lways, or [d]eny? ')).trim().toLowerCase();
      const decision = a.startsWith('a') ? 'always' : a.startsWith('s') ? 'session' : a.startsWith('o') || a.startsWith('y') ? 'once' : 'deny';
      return { decision };
    } finally {
      rl.close();
    }
  });
  const cts = new CancellationTokenSource();
  const onInt = (): void => {
    process.stderr.write('\ncancelling the download (the partial file is kept; run the same command to resume)\n');
    cts.cancel();
  };
  process.once('SIGINT', onInt);
  try {
    return await c.connection.sendRequest(ModelsAdd.method, { ...params, workDoneToken: token }, cts.token) as Result<typeof ModelsAdd>;
  } catch (err) {
    const e = err as { code?: number; message: string };
    if (e.code === HearthErrorCodes.PolicyDenied) throw new CommandError(`download refused: ${e.message}`);
    if (typeof e.code === 'number') throw new CommandError(e.message);
    throw err;
  } finally {
    process.off('SIGINT', onInt);
    cts.dispose();
  }
}

/** `hearth route explain FILE[:LINE[:COL]]`: the plan a completion there would follow, run nowhere. */
export async function routeCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'explain') throw new CommandError('hearth route explain FILE[:LINE[:COL]] [--json]');
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const spec = positionals[0];
  if (!spec) throw new CommandError('hearth route explain FILE[:LINE[:COL]] [--json]');
  const m = /^(.*?)(?::(\d+))?(?::(\d+))?$/.exec(spec)!;
  const file = path.resolve(m[1]!);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = text.split('\n');
  if (m[2] === '0' || m[3] === '0') throw new CommandError(`${spec}: lines and columns count from 1 (hearth route explain FILE[:LINE[:COL]])`);
  const line = m[2] ? Number(m[2]) - 1 : lines.length - 1;
  const character = m[3] ? Number(m[3]) - 1 : (lines[line] ?? '').length;
  // Checked against the file: a position past its end is an error, not a plan for somewhere else.
  try {
    checkPosition(path.relative(process.cwd(), file) || file, text, line, character);
  } catch (err) {
    if (err instanceof PositionError) throw new CommandError(`${err.message}; nothing was planned`);
    throw err;
  }
  const uri = pathToFileURL(file).href;
  const plan = await withClient(async (c) => {
    await c.connection.sendRequest(Lsp.initialize.method, { processId: process.pid, rootUri: pathToFileURL(process.cwd()).href, capabilities: {} });
    await c.connection.sendNotification(Lsp.didOpen.method, { textDocument: { uri, languageId: 'plaintext', version: 1, text } });
    return c.connection.sendRequest(RouteExplain.method, { textDocument: { uri }, position: { line, character } }) as Promise<Result<typeof RouteExplain>>;
  }, true);
  if (values.json) {
    out(JSON.stringify(plan, null, 2));
    return 0;
  }
  // The heading is this client's (where it asked); the plan is the daemon's rendering (server/format.ts
  // planLines), rendered here only for a daemon too old to send it.
  out(`completion at ${path.relative(process.cwd(), file) || file}:${line + 1}:${character + 1}`);
  for (const l of plan.text ?? planLines(plan)) out(l);
  return 0;
}

export async function egressCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'verify') {
    // The ledger's hash chain and the signed checkpoint outside the store (core/anchor).
    const r = await withClient((c) => c.connection.sendRequest(EgressVerify.method) as Promise<Result<typeof EgressVerify>>);
    const f = formatVerify('egress', r as unknown as VerifyResult);
    for (const line of f.lines) out(line);
    return f.code;
  }
  if (sub !== 'log') throw new CommandError('hearth egress log [--json] [--limit N] | verify');
  const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, limit: { type: 'string' } } });
  const limit = values.limit ? Number(values.limit) : 100;
  const r = await withClient((c) => c.connection.sendRequest(EgressLog.method, { limit }) as Promise<Result<typeof EgressLog>>);
  if (values.json) {
    out(JSON.stringify(r.entries, null, 2));
    return 0;
  }
  // The daemon's rendering; formatted here only for a daemon too old to send it.
  for (const line of r.lines ?? formatLedger(r.entries)) out(line);
  return 0;
}

/** `hearth policy check [FILE]`: line-accurate errors, without touching the running daemon. */
export async function policyCommand(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'check') throw new CommandError('hearth policy check [FILE] [--workspace DIR]');
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { workspace: { type: 'string' } } });
  const userFile = path.join(resolvePaths().configDir, 'policy.yaml');
  const given = positionals[0] ? path.resolve(positionals[0]) : undefined;
  // A file at <root>/.hearth/policy.yaml is a workspace policy: it is checked as one, on top of the
  // user policy, so that what it would loosen is reported (and ignored) as the daemon does.
  const givenIsWorkspace = given !== undefined && given.endsWith(path.sep + WORKSPACE_POLICY_PATH);
  const file = given && !givenIsWorkspace ? given : userFile;
  const cwdHasPolicy = !given && fs.existsSync(path.join(process.cwd(), WORKSPACE_POLICY_PATH));
  const root = values.workspace ? path.resolve(values.workspace)
    : givenIsWorkspace ? path.dirname(path.dirname(given!))
      : cwdHasPolicy ? process.cwd() : undefined;
  const userText = await readTextIfExists(file);
  if (userText === null) {
    if (given && !givenIsWorkspace) throw new CommandError(`${file} does not exist`);
    out(`${file} does not exist: the built-in default policy applies (embedded engines only; nothing leaves this machine)`);
  }
  const userParsed = userText === null ? null : parsePolicyText(userText, file);
  const policy = userParsed ? compileUserPolicy(userParsed) : defaultPolicy();
  const builtinTools = builtinToolPolicy().rules.length;
  const tools = compileToolPolicy(userParsed);
  if (userParsed) out(`${file}: ok (${policy.providers.length} provider(s), ${policy.rules.length} routing rule(s), ${tools.rules.length - builtinTools} tool rule(s) besides the ${builtinTools} built in)`);
  if (userParsed) keyReport(policy, out); // named secrets / apiKeyEnv variables that are missing (docs/secrets.md)
  const warnings = [...policy.warnings, ...tools.warnings];
  if (root) {
    const wsFile = path.join(root, WORKSPACE_POLICY_PATH);
    const wsText = await readTextIfExists(wsFile);
    if (wsText === null) out(`${wsFile} does not exist: the workspace adds nothing to the user policy`);
    else {
      const wsParsed = parsePolicyText(wsText, wsFile);
      const merged = applyWorkspacePolicy(policy, wsParsed, root);
      const wsTools = compileToolPolicy(userParsed, wsParsed);
      out(`${wsFile}: ok (${merged.rules.length - policy.rules.length} routing rule(s), ${wsTools.rules.length - tools.rules.length} tool rule(s) added; it can only tighten)`);
      warnings.push(...merged.warnings.slice(policy.warnings.length), ...wsTools.warnings.slice(tools.warnings.length));
    }
  }
  for (const w of warnings) out(`warning: ${formatDiagnostic(w)}`);
  return 0;
}
