// The workspace index in the daemon (core/workspace, docs/workspace-index.md): one index of every
// workspace root the attached editors named (initialize's rootUri and workspaceFolders,
// workspace/didChangeWorkspaceFolders), shared by all of them, feeding the embedded n-gram engine.
// Files follow didSave and workspace/didChangeWatchedFiles from editors and a periodic mtime scan;
// a file open in an editor is learned from its buffer, not from disk. The first scan of a root is
// shown as LSP work-done progress to editors that declared window.workDoneProgress.
import path from 'node:path';
import type { Daemon, Feature } from './daemon.js';
import { filePathOf, type Session } from './session.js';
import { Lsp, type Params } from './protocol.js';
import { WorkspaceIndex, DEFAULT_WORKSPACE_LIMITS, type WorkspaceIndexLimits, type WorkspaceIndexProgress } from '../core/workspace/index.js';
import { deniedByPolicy } from '../core/workspace/deny.js';
import type { LanguageNgram } from '../core/engines/ngram-family.js';

/** A positive integer from the daemon's environment, else the default (a bad value is logged). */
function envInt(d: Daemon, name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0) return n;
  d.log('warning', `${name}=${raw} is not a non-negative integer; using ${fallback}`);
  return fallback;
}

/** Which sessions named each workspace root, and which sessions want work-done progress. */
class RootUsers {
  readonly #users = new Map<string, Set<Session>>();
  readonly capable = new Set<Session>();

  /** Records that `s` works in `root`. */
  add(s: Session, root: string): void {
    let set = this.#users.get(root);
    if (!set) this.#users.set(root, (set = new Set()));
    set.add(s);
  }

  /** True when `s` was the last session in `root` (the root then leaves the index). */
  remove(s: Session, root: string): boolean {
    const set = this.#users.get(root);
    if (!set?.delete(s) || set.size > 0) return false;
    this.#users.delete(root);
    return true;
  }

  rootsOf(s: Session): string[] {
    return [...this.#users].filter(([, set]) => set.has(s)).map(([root]) => root);
  }

  /** The sessions of `root` that declared window.workDoneProgress. */
  progressTargets(root: string): Session[] {
    return [...this.#users.get(root) ?? []].filter((s) => this.capable.has(s));
  }
}

/**
 * The first scan of each root as LSP work-done progress, to the editors that named the root and
 * can show it; later (periodic) scans of a root are not shown.
 */
class FirstScanProgress {
  readonly #runs = new Map<string, { token: string; sessions: Map<Session, Promise<boolean>> }>();
  /** roots whose first scan was shown */
  readonly #shown = new Set<string>();
  #count = 0;

  constructor(private readonly targets: (root: string) => Session[], private readonly log: (message: string) => void) {}

  report(p: WorkspaceIndexProgress): void {
    if (p.kind === 'begin') this.#begin(p.root);
    const run = this.#runs.get(p.root);
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
      this.#runs.delete(p.root);
      this.#shown.add(p.root);
    }
  }

  /** The root left the index: its next first scan is shown again. */
  rootRemoved(root: string): void {
    this.#shown.delete(root);
  }

  #begin(root: string): void {
    if (this.#runs.has(root) || this.#shown.has(root)) return;
    const token = `hearth-workspace-index-${process.pid}-${++this.#count}`;
    const sessions = new Map<Session, Promise<boolean>>();
    for (const s of this.targets(root)) {
      sessions.set(s, s.sendRequest<null>(Lsp.workDoneProgressCreate.method, { token }).then(() => true, (err: Error) => {
        this.log(`${s.label} refused ${Lsp.workDoneProgressCreate.method}: ${err.message}`);
        return false;
      }));
    }
    this.#runs.set(root, { token, sessions });
  }
}

function indexLimits(d: Daemon): WorkspaceIndexLimits {
  return {
    maxFiles: envInt(d, 'HEARTH_INDEX_MAX_FILES', DEFAULT_WORKSPACE_LIMITS.maxFiles),
    maxFileBytes: envInt(d, 'HEARTH_INDEX_MAX_FILE_BYTES', DEFAULT_WORKSPACE_LIMITS.maxFileBytes),
    maxTotalBytes: envInt(d, 'HEARTH_INDEX_MAX_BYTES', DEFAULT_WORKSPACE_LIMITS.maxTotalBytes),
  };
}

/** The roots an initialize names: its file: workspaceFolders, else its rootUri. */
function initialRoots(params: Params<typeof Lsp.initialize>): Set<string> {
  const roots = new Set<string>();
  const folders = (params as { workspaceFolders?: unknown }).workspaceFolders;
  if (Array.isArray(folders)) {
    for (const f of folders) {
      const p = typeof (f as { uri?: unknown })?.uri === 'string' ? filePathOf((f as { uri: string }).uri) : null;
      if (p) roots.add(p);
    }
  }
  const root = params.rootUri ? filePathOf(params.rootUri) : null;
  if (roots.size === 0 && root) roots.add(root);
  return roots;
}

interface RootChanges {
  use(s: Session, root: string): void;
  release(s: Session, root: string): void;
}

/** Folder changes, saves, watched-file events and open buffers, from the editors to the index. */
function followEditors(d: Daemon, index: WorkspaceIndex, roots: RootChanges): void {
  d.router.onNotification(Lsp.didChangeWorkspaceFolders, ({ event }, s) => {
    for (const f of event.removed) {
      const p = filePathOf(f.uri);
      if (p) roots.release(s, p);
    }
    for (const f of event.added) {
      const p = filePathOf(f.uri);
      if (p) roots.use(s, p);
    }
  });
  d.router.onNotification(Lsp.didSave, ({ textDocument }) => {
    const p = filePathOf(textDocument.uri);
    if (p) void index.fileChanged(p);
  });
  d.router.onNotification(Lsp.didChangeWatchedFiles, ({ changes }) => {
    for (const c of changes) {
      const p = filePathOf(c.uri);
      if (!p) continue;
      if (c.type === 3) index.fileDeleted(p);
      else void index.fileChanged(p);
    }
  });
  // A file open in an editor is learned from the buffer (what the user sees), not from disk.
  d.documents.onChange((e) => {
    if (e.kind === 'change') return;
    const p = filePathOf(e.uri);
    if (!p) return;
    if (e.kind === 'open') index.suppress(p);
    else index.unsuppress(p);
  });
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
  const users = new RootUsers();
  const progress = new FirstScanProgress((root) => users.progressTargets(root), (m) => d.log('info', m));
  const index = new WorkspaceIndex({
    limits: indexLimits(d),
    // The policy's deny list, as routing applies it: a .env or a key is never learned.
    denied: (abs, root) => deniedByPolicy(d.models!.policy(root), abs, root),
    learn: (f, text) => engine.learnLater(f.uri, text, f.family),
    forget: (f) => engine.forget(f.uri),
    scanIntervalMs: envInt(d, 'HEARTH_INDEX_SCAN_SECONDS', 30) * 1000,
    onProgress: (p) => progress.report(p),
    log: (level, message) => d.log(level, message),
  });
  d.workspaceIndex = index;
  d.onDispose(() => index.close());

  const roots: RootChanges = {
    use: (s, root) => {
      root = path.resolve(root);
      users.add(s, root);
      void index.addRoot(root).then(() => d.log('info', `workspace index: ${root}: ${index.status().roots.find((r) => r.root === root)?.files ?? 0} files`));
    },
    release: (s, root) => {
      root = path.resolve(root);
      if (!users.remove(s, root)) return;
      progress.rootRemoved(root);
      index.removeRoot(root);
    },
  };
  d.onInitialize((s, params: Params<typeof Lsp.initialize>) => {
    const window = (params.capabilities as { window?: { workDoneProgress?: unknown } }).window;
    if (window?.workDoneProgress === true) users.capable.add(s);
    for (const r of initialRoots(params)) roots.use(s, r);
  });
  d.onDetach((s) => {
    users.capable.delete(s);
    for (const root of users.rootsOf(s)) roots.release(s, root);
  });
  followEditors(d, index, roots);
};
