// Every feature the daemon serves, wired in one place. A feature registers its handlers on the
// daemon's router and its clean-up with daemon.onDispose.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc';
import type { Daemon, Feature } from './daemon.js';
import type { HearthExport } from '../core/store/index.js';
import { filePathOf, workspaceOf, type Session } from './session.js';
import { EgressAnswer, EgressConfirm, EgressLog, ExportState, Lsp, ModelsReload, PolicyStatus, RouteCurrent, RouteExplain, type Params, type Result } from './protocol.js';
import { ErrorCodes } from './wire.js';
import { LanguageNgram } from '../core/engines/ngram-family.js';
import { memoryFits, memoryLanguage } from '../core/workspace/context.js';
import { workspaceFeature } from './workspace-feature.js';
import { formatLedger, planLines, routeStatus, type LedgerLine } from './format.js';
import { CompletionService, DocumentNotOpenError, routeOf, type CompletionLimits, type MemoryLookup } from '../core/completion.js';
import { checkPosition } from '../core/position.js';
import { PolicyWatcher } from '../core/policy/index.js';
import { EgressGate, StoreGrants, StoreLedger, type ConfirmAnswer, type ConfirmRequest } from '../core/egress/index.js';
import { ModelRouter, type LocalEngine } from '../core/routing/service.js';
import { ModelRegistry, type ModelEntry } from '../core/models/index.js';
import type { MemoryStore } from '../core/memory/index.js';
import { SecretStore } from '../core/secrets/index.js';
import { GgufProvider } from '../core/engines/gguf.js';
import { explainPlan } from '../core/routing/plan.js';
import { egressDisplay } from '../core/text/display.js';
import { toolsFeature } from './tools-feature.js';
import { memoryFeature } from './memory-feature.js';
import { modelsFeature } from './models-feature.js';
import { anchorFeature } from './anchor-feature.js';
import { askFeature } from './ask-feature.js';
import { configFeature } from './config-feature.js';

/** Writes an export file atomically (temp file, rename), 0600; the daemon and the offline CLI share it. */
export function writeExportFile(file: string, data: HearthExport): { path: string; bytes: number; tables: number; rows: number } {
  const text = JSON.stringify(data);
  const tmp = `${file}.tmp-${process.pid}`;
  // An export is a backup: on disk (data, then the rename) before it is reported written.
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(path.resolve(file)), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  const tables = Object.values(data.tables);
  return { path: file, bytes: Buffer.byteLength(text), tables: tables.length, rows: tables.reduce((n, t) => n + t.rows.length, 0) };
}

const exportFeature: Feature = (d: Daemon) => {
  d.router.onRequest(ExportState, async ({ path: file }) => {
    if (!path.isAbsolute(file)) throw new ResponseError(ErrorCodes.InvalidParams, 'params.path must be absolute (the CLI resolves it for you)');
    // The export carries the signed checkpoint its logs extend (core/anchor), checked on import.
    const anchor = (await d.anchor?.checkpoint()) ?? undefined;
    return writeExportFile(file, { ...d.store.exportState(), ...(anchor ? { anchor } : {}) });
  });
};

/**
 * The policy, hot-reloaded: an invalid file keeps the previous policy and every client is told
 * why. `lastError` is the reason the last reload was refused (null once one loads).
 */
async function watchPolicy(d: Daemon, userFile: string): Promise<{ watcher: PolicyWatcher; lastError: () => string | null }> {
  const watcher = new PolicyWatcher({ userFile });
  let lastError: string | null = null;
  watcher.on('invalid', (e) => {
    lastError = e.message;
    d.log('warning', `policy: ${e.message} (kept the ${e.kept} policy)`);
    d.broadcast('error', `Hearth policy not applied, the ${e.kept} policy stays in force:\n${e.message}`);
  });
  watcher.on('change', (e) => {
    lastError = null;
    d.log('info', `policy loaded from ${e.file}${e.workspaceRoot ? ` for ${e.workspaceRoot}` : ''}`);
    for (const w of e.warnings) d.broadcast('warning', `policy ${w.file}:${w.line}:${w.col}: ${w.message}`);
  });
  watcher.on('error', (err) => d.log('error', `policy watcher: ${err.message}`));
  await watcher.start();
  d.onDispose(() => watcher.close());
  d.onInitialize((s) => {
    const root = workspaceOf(s);
    if (root) void watcher.addWorkspace(root).catch((err: Error) => d.log('warning', `workspace policy for ${root}: ${err.message}`));
  });
  return { watcher, lastError: () => lastError };
}

/** What the gate asks the editor with (hearth/egress/confirm): the request's fields and their display form. */
function confirmParams(req: ConfirmRequest): Params<typeof EgressConfirm> {
  return {
    feature: req.feature,
    provider: req.provider.id,
    host: req.provider.host,
    reason: req.reason,
    bytes: req.bytes,
    payload: req.payload,
    url: req.url,
    rule: req.rule,
    sha256: req.sha256,
    sources: req.sources.map((s) => ({ ...s })),
    options: req.options,
    // For a later hearth/egress/answer, when the editor shows the ask without blocking.
    id: req.id,
    // What the editor shows instead of the raw fields: escaped, with warnings (core/text/display.ts).
    display: egressDisplay({ feature: req.feature, provider: req.provider.id, host: req.provider.host, url: req.url, reason: req.reason, rule: req.rule, payload: req.payload }),
  };
}

/** The gate's confirm callback: asks the editor whose request it is; no usable answer is no. */
function confirmInEditor(d: Daemon): (req: ConfirmRequest, signal?: AbortSignal) => Promise<ConfirmAnswer> {
  return async (req, signal) => {
    const sessions = [...d.sessions.values()];
    // Only the editor whose request it is may release its data; when it is gone, the answer is no.
    const target = sessions.find((s) => s.label === req.client);
    if (!target) {
      d.log('warning', `egress to ${req.provider.host} needs a confirmation but the requesting client (${req.client ?? 'unknown'}) is gone: declined`);
      return 'deny';
    }
    const params = confirmParams(req);
    // When the request behind the question is cancelled (editors cancel inline completions on
    // every keystroke), withdraw the question ($/cancelRequest) and stop waiting: the gate then
    // records the attempt as cancelled. Before, the completion waited for an answer forever.
    if (signal?.aborted) return 'deny';
    const cts = new CancellationTokenSource();
    let onAbort = (): void => undefined;
    const aborted = new Promise<null>((resolve) => {
      onAbort = () => {
        cts.cancel();
        resolve(null);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const answer = await Promise.race([target.sendRequest<Result<typeof EgressConfirm>>(EgressConfirm.method, params, cts.token), aborted]);
      return answer?.decision ?? 'deny';
    } catch (err) {
      // No usable answer (the editor failed or went away): nothing leaves.
      d.log('warning', `egress confirmation from ${target.label} failed (${(err as Error).message}): declined`);
      return 'deny';
    } finally {
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  };
}

/**
 * (Re)loads the local engines from the registry: registered GGUF completion models first (an
 * engine already loaded is kept), the n-gram engine always last. Returns the engines' ids.
 */
function engineLoader(d: Daemon, models: ModelRouter, ngram: LanguageNgram): () => Promise<string[]> {
  const registry = new ModelRegistry(d.paths.home);
  return async () => {
    const engines: LocalEngine[] = [];
    let entries: ModelEntry[] = [];
    try {
      entries = await registry.list();
    } catch (err) {
      d.log('warning', `models: ${(err as Error).message}; using the embedded n-gram engine only`);
    }
    const previous = new Map(models.localEngines.map((e) => [e.provider.id, e]));
    for (const m of entries.filter((e) => e.purpose === 'completion' && e.format === 'gguf')) {
      const id = `gguf:${m.id}`;
      const old = previous.get(id);
      engines.push(old ?? { provider: new GgufProvider({ modelPath: m.path, id }), kind: 'gguf', features: ['completion'], model: m.id });
    }
    engines.push(previous.get(ngram.id) ?? { provider: ngram, kind: 'ngram', features: ['completion'], model: 'ngram-4' });
    models.setLocal(engines);
    await d.modelsChanged(); // other features (memory's embedding model) follow the registry too
    return engines.map((e) => e.provider.id);
  };
}

/**
 * Routing: the policy, the egress gate with its ledger and grants in the store, and the model
 * router with the embedded engines. Asks go to the editor whose request it is.
 */
const routingFeature: Feature = async (d: Daemon) => {
  const userFile = path.join(d.paths.configDir, 'policy.yaml');
  const policy = await watchPolicy(d, userFile);
  const ledger = new StoreLedger(d.store);
  d.anchor?.attach(ledger); // a signed checkpoint after each durable entry (core/anchor)
  const gate = d.gate = new EgressGate({ ledger, grants: new StoreGrants(d.store), confirm: confirmInEditor(d) });
  const models = d.models = new ModelRouter({ gate, policyFor: (root) => policy.watcher.policyFor(root), ready: (root) => policy.watcher.ready(root), secrets: new SecretStore(d.paths.home) });
  // One n-gram model per language family, fed by open buffers, memory and the workspace index.
  const ngram = new LanguageNgram();
  const loadEngines = engineLoader(d, models, ngram);
  await loadEngines();
  d.reloadModels = loadEngines;
  d.router.onRequest(ModelsReload, async () => ({ engines: await loadEngines() }));
  d.documents.onChange((e) => {
    const key = `${e.clientId} ${e.uri}`;
    if (e.kind === 'close') ngram.forget(key);
    else ngram.learnLater(key, e.text ?? '', d.documents.get(e.clientId, e.uri)?.languageId);
  });
  d.onDispose(() => d.models?.dispose());

  // The answer to an ask an editor shows without blocking (it answered the confirm with 'pending');
  // only the editor that was asked may answer it.
  d.router.onRequest(EgressAnswer, async ({ id, decision }, s) => ({ answered: await gate.answer(id, decision, s.label) }));
  d.onDetach((s) => {
    if (![...d.sessions.values()].some((o) => o !== s && o.label === s.label)) d.gate?.dropPending(s.label);
  });

  d.router.onRequest(EgressLog, (p) => {
    const entries = ledger.list({ limit: p?.limit ?? 100, ...(p?.since ? { since: p.since } : {}) });
    // The text every interface shows (server/format.ts), so no client formats the ledger itself.
    return { entries, lines: formatLedger(entries as unknown as LedgerLine[]) };
  });
  d.router.onRequest(PolicyStatus, () => ({ userFile, lastError: policy.lastError() }));
};

/**
 * Which workspace a buffer belongs to: for a file, the innermost workspace root of an attached
 * editor that contains it (none: outside every workspace); otherwise its editor's root. A snippet
 * leaves the machine only with a request of that same workspace (its policy governs it).
 */
function scopeOf(d: Daemon, owner: string, uri: string): string | null {
  const file = filePathOf(uri);
  if (file === null) {
    const s = d.sessions.get(owner);
    return s ? workspaceOf(s) : null;
  }
  let best: string | null = null;
  for (const s of d.sessions.values()) {
    const root = workspaceOf(s);
    if (root === null || (best !== null && root.length <= best.length)) continue;
    const rel = path.relative(root, file);
    if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) best = root;
  }
  return best;
}

/**
 * Relevant memory of the document's language joins the context (and so the route plan); the
 * n-gram engine learns it too, under the item's own language (a note of no language: not at all).
 */
function memoryContext(memory: MemoryStore, ngram: LanguageNgram | undefined): MemoryLookup {
  return async (query, workspaceRoot, language, limits) => (await memory.relevant(query, { workspace: workspaceRoot, limit: 6, maxBytes: 4000 }))
    // This editor's hearth.completion.memory.kinds and .items (its session settings).
    .filter((m) => (!limits?.kinds || limits.kinds.includes(m.item.kind)) && memoryFits(query, language, { text: m.text, fileUri: m.item.file?.uri ?? null }))
    .slice(0, limits?.items ?? 3).map((m) => {
      const family = memoryLanguage({ text: m.text, fileUri: m.item.file?.uri ?? null });
      if (family) ngram?.learn(m.source.uri, m.text, family);
      return { source: { kind: 'memory' as const, uri: m.source.uri, client: m.source.client, role: 'memory' as const }, bytes: m.bytes, dataClass: 'memory' as const, text: m.text };
    });
}

/** textDocument/inlineCompletion; hearth/route/current goes to the editor when its route changes. */
function inlineCompletionMethod(d: Daemon, service: CompletionService): void {
  const lastRoute = new Map<string, string>();
  d.onDetach((s) => lastRoute.delete(s.id));
  d.router.onRequest(Lsp.inlineCompletion, async ({ textDocument, position }, s, token) => {
    // The AbortSignal for $/cancelRequest is built only if the request gets past the cache.
    let abort: AbortController | undefined;
    const signal = (): AbortSignal => {
      if (!abort) {
        const a = (abort = new AbortController());
        // The reason says whether the editor cancelled or went away (then 'requester disconnected').
        const why = (): string | undefined => (s.closedSignal.aborted ? String(s.closedSignal.reason) : undefined);
        if (token.isCancellationRequested) a.abort(why());
        else token.onCancellationRequested(() => a.abort(why()));
      }
      return abort.signal;
    };
    const r = await service.complete(s.id, textDocument.uri, position.line, position.character, {
      signal, client: s.label, workspaceRoot: workspaceOf(s), limits: limitsOf(s),
    }).catch((err: unknown) => {
      // A cancelled completion answers nothing, whatever stopped it; a closed document is still an error.
      if (token.isCancellationRequested && !(err instanceof DocumentNotOpenError)) return undefined;
      throw err;
    });
    if (!r) return { items: [] };
    // Status lines change only when the route does; most keystrokes take the same one.
    const routeKey = JSON.stringify(r.route);
    if (!r.superseded && lastRoute.get(s.id) !== routeKey) {
      lastRoute.set(s.id, routeKey);
      s.sendNotification(RouteCurrent.method, { ...r.route, status: routeStatus(r.route) });
    }
    if (!r.text) return { items: [] };
    return { items: [{ insertText: r.text, range: { start: position, end: position } }] };
  });
}

/** hearth/route/explain: the plan a completion at the position would get, nothing sent. */
/** The completion budgets of one editor's session: its `hearth.completion.*` settings (server/config-feature.ts). */
export function limitsOf(s: Session): CompletionLimits {
  const c = s.settings;
  return {
    maxTokens: c['hearth.completion.maxTokens'],
    prefixChars: c['hearth.completion.prefixChars'],
    suffixChars: c['hearth.completion.suffixChars'],
    otherBuffers: c['hearth.completion.otherBuffers'],
    memoryItems: c['hearth.completion.memory.items'],
    memoryKinds: c['hearth.completion.memory.kinds'],
  };
}

function routeExplainMethod(d: Daemon, service: CompletionService): void {
  d.router.onRequest(RouteExplain, async ({ textDocument, position }, s) => {
    // A position past the end of the document is an error naming its size, not a plan at the end.
    const doc = d.documents.get(s.id, textDocument.uri);
    if (doc) {
      let name = textDocument.uri;
      try {
        if (name.startsWith('file:')) name = fileURLToPath(name);
      } catch {
        // keep the URI
      }
      checkPosition(name, doc.getText(), position.line, position.character);
    }
    const c = service.assemble(s.id, textDocument.uri, position.line, position.character, undefined, limitsOf(s));
    const { plan } = await service.planScoped(c, s.label, workspaceOf(s), { clientId: s.id, line: position.line, character: position.character });
    // `route` is the status-line summary; how the provider was picked moves to `routedBy`.
    const explained = { ...explainPlan(plan), route: routeOf(plan), routedBy: plan.route };
    return { ...explained, text: planLines(explained) };
  });
}

/** Ghost-text completions: context from every editor's buffers, routed by policy. */
const completionFeature: Feature = (d: Daemon) => {
  const ngram = d.models!.localEngine('ngram')?.provider as LanguageNgram | undefined;
  const service = new CompletionService(d.documents, d.models!, {
    sameScope: (workspaceRoot, owner, uri) => scopeOf(d, owner, uri) === workspaceRoot,
    ...(d.memory ? { memory: memoryContext(d.memory, ngram) } : {}),
  });
  d.completions = service;
  inlineCompletionMethod(d, service);
  routeExplainMethod(d, service);
};

// Order matters: config first (a session's settings are set at its initialize, before the others'
// hooks run), memory before completion (context) and tools (memory.write).
export const FEATURES: Feature[] = [configFeature, anchorFeature, exportFeature, routingFeature, modelsFeature, memoryFeature, completionFeature, workspaceFeature, toolsFeature, askFeature];
