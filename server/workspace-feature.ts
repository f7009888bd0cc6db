// The workspace index in the daemon (core/workspace, docs/workspace-index.md): one index of every
// workspace root the attached editors named (initialize's rootUri and workspaceFolders,
// workspace/didChangeWorkspaceFolders), shared by all of them, feeding the embedded n-gram engine.
// Files follow didSave and workspace/didChangeWatchedFiles from editors and a periodic mtime scan;
// a file open in an editor is learned from its buffer, not from disk. The first scan of a root is
// shown as LSP work-done progress to editors that declared window.workDoneProgress.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Daemon, Feature } from './daemon.js';
import type { Session } from './session.js';
import { Lsp, type Params } from './protocol.js';
import { WorkspaceIndex, DEFAULT_WORKSPACE_LIMITS, type WorkspaceIndexLimits, type WorkspaceIndexProgress } from '../core/workspace/index.js';
import { deniedByPolicy } from '../core/workspace/deny.js';
import type { LanguageNgram } from '../core/engines/ngram-family.js';

function filePath(uri: string): string | null {
  if (!uri.startsWith('file:')) return null;
  try {
    return fileURLToPath(uri);
  } catch {
    return null;
  }
}

/** A positive integer from the daemon's environment, else the default (a bad value is logged). */
function envInt(d: Daemon, name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0) return n;
  d.log('warning', `${name}=${raw} is not a non-negative integer; using ${fallback}`);
  return fallback;
}

export const workspaceFeature: Feature = (d: Daemon) => {
  const engine = d.models?.localEngine('ngram')?.provider as LanguageNgram | undefined;
  if (!engine || process.env.HEARTH_WORKSPACE_INDEX === 'off') {
    if (engine) d.log('info', 'workspace index: off (HEARTH_WORKSPACE_INDEX=off)');
    d.router.onNotification(Lsp.didSave, () => undefined);
    d.router.onNotification(Lsp.didChangeWatchedFiles, () => undefined);
    d.router.onNotification(Lsp.didChangeWorkspaceFolders, () => undefined);
    return;
  }
  const limits: WorkspaceIndexLimits = {
    maxFiles: envInt(d, 'HEARTH_INDEX_MAX_FILES', DEFAULT_WORKSPACE_LIMITS.maxFiles),
    maxFileBytes: envInt(d, 'HEARTH_INDEX_MAX_FILE_BYTES', DEFAULT_WORKSPACE_LIMITS.maxFileBytes),
    maxTotalBytes: envInt(d, 'HEARTH_INDEX_MAX_BYTES', DEFAULT_WORKSPACE_LIMITS.maxTotalBytes),
  };
  // Which sessions named each root, and which sessions want work-done progress.
  const users = new Map<string, Set<Session>>();
  const capable = new Set<Session>();
  const firstScan = new Map<string, { token: string; sessions: Map<Session, Promise<boolean>> }>();
  /** roots whose first scan was shown; later (periodic) scans are not */
  const shown = new Set<string>();
  let runs = 0;

  const progress = (p: WorkspaceIndexProgress): void => {
    if (p.kind === 'begin') {
      if (firstScan.has(p.root) || shown.has(p.root)) return;
      const token = `hearth-workspace-index-${process.pid}-${++runs}`;
      const sessions = new Map<Session, Promise<boolean>>();
      for (const s of users.get(p.root) ?? []) {
        if (!capable.has(s)) continue;
        sessions.set(s, s.sendRequest<null>(Lsp.workDoneProgressCreate.method, { token }).then(() => true, (err: Error) => {
          d.log('info', `${s.label} refused ${Lsp.workDoneProgressCreate.method}: ${err.message}`);
          return false;
        }));
      }
      firstScan.set(p.root, { token, sessions });
    }
    const run = firstScan.get(p.root);
    if (!run) return;
    const value = p.kind === 'begin'
      ? { kind: 'begin', title: 'Hearth: indexing the workspace', message: p.message, cancellable: false }
      : { kind: p.kind, message: p.message };
    // In order, once the editor accepted the token; nothing to one that refused it.
    for (const [s, chain] of run.sessions) {
      run.sessions.set(s, chain.then((ok) => {
        if (ok) s.sendNotification(Lsp.progress.method, { token: run.token, value });
        return ok;
      }));
    }
    if (p.kind === 'end') {
      firstScan.delete(p.root);
      shown.add(p.root);
    }
  };

  const index = new WorkspaceIndex({
    limits,
    // The policy's deny list, as routing applies it: a .env or a key is never learned.
    denied: (abs, root) => deniedByPolicy(d.models!.policy(root), abs, root),
    learn: (f, text) => engine.learnLater(f.uri, text, f.family),
    forget: (f) => engine.forget(f.uri),
    scanIntervalMs: envInt(d, 'HEARTH_INDEX_SCAN_SECONDS', 30) * 1000,
    onProgress: progress,
    log: (level, message) => d.log(level, message),
  });
  d.workspaceIndex = index;
  d.onDispose(() => index.close());

  const use = (s: Session, root: string): void => {
    root = path.resolve(root);
    let set = users.get(root);
    if (!set) users.set(root, (set = new Set()));
    set.add(s);
    void index.addRoot(root).then(() => d.log('info', `workspace index: ${root}: ${index.status().roots.find((r) => r.root === root)?.files ?? 0} files`));
  };
  const release = (s: Session, root: string): void => {
    root = path.resolve(root);
    const set = users.get(root);
    if (!set?.delete(s) || set.size > 0) return;
    users.delete(root);
    shown.delete(root);
    index.removeRoot(root);
  };

  d.onInitialize((s, params: Params<typeof Lsp.initialize>) => {
    const window = (params.capabilities as { window?: { workDoneProgress?: unknown } }).window;
    if (window?.workDoneProgress === true) capable.add(s);
    const roots = new Set<string>();
    const folders = (params as { workspaceFolders?: unknown }).workspaceFolders;
    if (Array.isArray(folders)) {
      for (const f of folders) {
        const p = typeof (f as { uri?: unknown })?.uri === 'string' ? filePath((f as { uri: string }).uri) : null;
        if (p) roots.add(p);
      }
    }
    const root = params.rootUri ? filePath(params.rootUri) : null;
    if (roots.size === 0 && root) roots.add(root);
    for (const r of roots) use(s, r);
  });
  d.onDetach((s) => {
    capable.delete(s);
    for (const [root, set] of [...users]) if (set.has(s)) release(s, root);
  });
  d.router.onNotification(Lsp.didChangeWorkspaceFolders, ({ event }, s) => {
    for (const f of event.removed) {
      const p = filePath(f.uri);
      if (p) release(s, p);
    }
    for (const f of event.added) {
      const p = filePath(f.uri);
      if (p) use(s, p);
    }
  });
  d.router.onNotification(Lsp.didSave, ({ textDocument }) => {
    const p = filePath(textDocument.uri);
    if (p) void index.fileChanged(p);
  });
  d.router.onNotification(Lsp.didChangeWatchedFiles, ({ changes }) => {
    for (const c of changes) {
      const p = filePath(c.uri);
      if (!p) continue;
      if (c.type === 3) index.fileDeleted(p);
      else void index.fileChanged(p);
    }
  });
  // A file open in an editor is learned from the buffer (what the user sees), not from disk.
  d.documents.onChange((e) => {
    if (e.kind === 'change') return;
    const p = filePath(e.uri);
    if (!p) return;
    if (e.kind === 'open') index.suppress(p);
    else index.unsuppress(p);
  });
};
