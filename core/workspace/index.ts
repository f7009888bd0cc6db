// The workspace index: the source files of every workspace root an editor named, read from disk
// and handed to a learner (the n-gram engine), shared by every editor attached to the daemon.
//
// Bounded (files, bytes per file, bytes in all), incremental (a cheap mtime+size scan every
// `scanIntervalMs`, and `fileChanged` for didSave / didChangeWatchedFiles), gitignore-aware
// (.gitignore in every directory, .git/info/exclude, and default build/dependency folders), never
// learning what the policy deny-lists (the caller's `denied`, backed by the policy's denyPaths) or
// a file that holds key material, and never blocking the event loop: all I/O is asynchronous and
// the CPU work between awaits is cut into slices of `sliceMs` with setImmediate between them.
// Files open in an editor are suppressed: the editor's buffer is the truth while it is open.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ignore, { type Ignore } from 'ignore';
import { keyMaterialRanges, sensitiveDocument } from '../egress/redact.js';
import { indexable, languageFamily, type LanguageFamily } from './language.js';

export interface WorkspaceIndexLimits {
  /** files indexed at most, over all roots */
  maxFiles: number;
  /** a larger file is skipped */
  maxFileBytes: number;
  /** bytes indexed at most, over all roots; files past it are skipped */
  maxTotalBytes: number;
}

export const DEFAULT_WORKSPACE_LIMITS: WorkspaceIndexLimits = {
  maxFiles: 20_000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 200 * 1024 * 1024,
};

/** Folders skipped in every workspace, as gitignore patterns (a .gitignore may re-include one with `!`). */
export const DEFAULT_IGNORES: readonly string[] = [
  '.git/', '.hg/', '.svn/', '.jj/', 'node_modules/', 'bower_components/', 'jspm_packages/',
  'dist/', 'build/', 'out/', 'target/', 'coverage/', '.nyc_output/', '.next/', '.nuxt/', '.turbo/',
  '.cache/', '.parcel-cache/', '__pycache__/', '.venv/', 'venv/', '.tox/', '.mypy_cache/',
  '.pytest_cache/', '.gradle/', '.idea/', '.vscode-test/', '*.min.js', '*.min.css', '*.map',
  'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml',
];

export interface IndexedFile {
  path: string;
  uri: string;
  root: string;
  family: LanguageFamily | null;
  size: number;
  mtimeMs: number;
}

export type SkipReason = 'ignored' | 'denied' | 'key-material' | 'too-large' | 'binary' | 'over-files' | 'over-bytes' | 'unreadable';

export interface WorkspaceIndexStatus {
  roots: Array<{ root: string; state: 'scanning' | 'ready' | 'failed'; files: number; bytes: number; error?: string }>;
  files: number;
  bytes: number;
  limits: WorkspaceIndexLimits;
  skipped: Record<SkipReason, number>;
  scans: number;
}

export interface WorkspaceIndexProgress {
  root: string;
  kind: 'begin' | 'report' | 'end';
  /** files looked at so far in this scan, and indexed in all */
  seen: number;
  indexed: number;
  message: string;
}

export interface WorkspaceIndexOptions {
  limits?: Partial<WorkspaceIndexLimits>;
  /** Whether the policy deny-lists this file (core/workspace/deny.ts: the policy's denyPaths). */
  denied: (absPath: string, root: string) => boolean;
  /** A file to learn, or learn again after it changed. */
  learn: (file: IndexedFile, text: string) => void;
  /** A file no longer indexed (deleted, ignored, over a bound, opened in an editor). */
  forget: (file: IndexedFile) => void;
  /** Milliseconds between mtime scans of every root (0: none; default 30 000). */
  scanIntervalMs?: number;
  /** Longest stretch of synchronous work between two yields to the event loop (default 8 ms). */
  sliceMs?: number;
  extraIgnores?: readonly string[];
  onProgress?: (p: WorkspaceIndexProgress) => void;
  log?: (level: 'info' | 'warning', message: string) => void;
}

interface Matcher {
  base: string;
  ig: Ignore;
}

interface RootState {
  root: string;
  state: 'scanning' | 'ready' | 'failed';
  error?: string;
  /** the .gitignore matcher of each directory that has one, from the last scan */
  matchers: Map<string, Matcher>;
  /** the last scan under way or done; scans of a root never overlap */
  scan: Promise<void>;
  removed: boolean;
}

const emptySkips = (): Record<SkipReason, number> => ({ ignored: 0, denied: 0, 'key-material': 0, 'too-large': 0, binary: 0, 'over-files': 0, 'over-bytes': 0, unreadable: 0 });

function readText(file: string): Promise<string | null> {
  return fs.promises.readFile(file, 'utf8').catch(() => null);
}

export class WorkspaceIndex {
  readonly limits: WorkspaceIndexLimits;
  private readonly roots = new Map<string, RootState>();
  private readonly files = new Map<string, IndexedFile>();
  /** open in an editor: the buffer is learned instead */
  private readonly suppressed = new Map<string, number>();
  private totalBytes = 0;
  private skipped = emptySkips();
  private scans = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly sliceMs: number;
  private sliceStart = performance.now();

  constructor(private readonly o: WorkspaceIndexOptions) {
    this.limits = { ...DEFAULT_WORKSPACE_LIMITS, ...o.limits };
    this.sliceMs = o.sliceMs ?? 8;
    const every = o.scanIntervalMs ?? 30_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.rescan(), every);
      this.timer.unref();
    }
  }

  /** Starts indexing `root` (idempotent); resolves when its first scan is done. */
  addRoot(root: string): Promise<void> {
    root = path.resolve(root);
    const known = this.roots.get(root);
    if (known) return known.scan;
    const state: RootState = { root, state: 'scanning', matchers: new Map(), scan: Promise.resolve(), removed: false };
    this.roots.set(root, state);
    state.scan = this.scanRoot(state);
    return state.scan;
  }

  /** Stops indexing `root` and forgets its files (those also under another root stay). */
  removeRoot(root: string): void {
    root = path.resolve(root);
    const state = this.roots.get(root);
    if (!state) return;
    state.removed = true;
    this.roots.delete(root);
    for (const f of [...this.files.values()]) {
      if (f.root !== root) continue;
      this.drop(f);
      const other = this.rootOf(f.path);
      if (other) void this.fileChanged(f.path);
    }
  }

  get rootPaths(): string[] {
    return [...this.roots.keys()];
  }

  /** Scans every root again (mtime and size decide what is read again). */
  async rescan(): Promise<void> {
    await Promise.all([...this.roots.values()].map((s) => this.enqueue(s, () => this.walk(s))));
  }

  /** A file was saved, created or changed on disk: learn it again (or forget it) now. */
  async fileChanged(file: string): Promise<void> {
    file = path.resolve(file);
    const state = this.rootStateOf(file);
    if (!state) return;
    const base = path.basename(file);
    if (base === '.gitignore' || file === path.join(state.root, '.git', 'info', 'exclude')) {
      await this.enqueue(state, () => this.walk(state));
      return;
    }
    await this.enqueue(state, async () => {
      const chain = this.chainFor(state, path.dirname(file));
      if (chain === null) return this.walk(state); // a directory the last scan did not see
      const stat = await fs.promises.lstat(file).catch(() => null);
      if (!stat?.isFile() || !this.wanted(state, chain, file, false)) {
        const known = this.files.get(file);
        if (known) this.drop(known);
        return;
      }
      await this.consider(state, file, stat, true);
    });
  }

  /** A file was deleted on disk. */
  fileDeleted(file: string): void {
    const known = this.files.get(path.resolve(file));
    if (known) this.drop(known);
  }

  /** The file is open in an editor: forget the disk copy until `unsuppress`. */
  suppress(file: string): void {
    file = path.resolve(file);
    this.suppressed.set(file, (this.suppressed.get(file) ?? 0) + 1);
    const known = this.files.get(file);
    if (known) this.drop(known);
  }

  /** The editor closed it: the disk copy is learned again. */
  unsuppress(file: string): void {
    file = path.resolve(file);
    const n = (this.suppressed.get(file) ?? 0) - 1;
    if (n > 0) {
      this.suppressed.set(file, n);
      return;
    }
    this.suppressed.delete(file);
    void this.fileChanged(file);
  }

  has(file: string): boolean {
    return this.files.has(path.resolve(file));
  }

  status(): WorkspaceIndexStatus {
    const roots = [...this.roots.values()].map((s) => {
      let files = 0;
      let bytes = 0;
      for (const f of this.files.values()) if (f.root === s.root) { files++; bytes += f.size; }
      return { root: s.root, state: s.state, files, bytes, ...(s.error ? { error: s.error } : {}) };
    });
    return { roots, files: this.files.size, bytes: this.totalBytes, limits: { ...this.limits }, skipped: { ...this.skipped }, scans: this.scans };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.roots.values()) s.removed = true;
    this.roots.clear();
  }

  // ------------------------------------------------------------------------------------------

  private enqueue(state: RootState, job: () => Promise<void>): Promise<void> {
    const next = state.scan.then(() => (state.removed || this.closed ? undefined : job()));
    state.scan = next.catch((err: Error) => {
      this.o.log?.('warning', `workspace index of ${state.root}: ${err.message}`);
    });
    return state.scan;
  }

  private async scanRoot(state: RootState): Promise<void> {
    try {
      await this.walk(state);
    } catch (err) {
      state.state = 'failed';
      state.error = (err as Error).message;
      this.o.log?.('warning', `workspace index: ${state.root} was not indexed: ${state.error}`);
    }
  }

  /** Yields to the event loop when the current slice of synchronous work is used up. */
  private async breathe(): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  private rootStateOf(file: string): RootState | undefined {
    let best: RootState | undefined;
    for (const s of this.roots.values()) {
      const rel = path.relative(s.root, file);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
      if (!best || s.root.length > best.root.length) best = s;
    }
    return best;
  }

  private rootOf(file: string): string | undefined {
    return this.rootStateOf(file)?.root;
  }

  /** The ignore matchers that apply in `dir` (outermost first), or null when the scan never saw it. */
  private chainFor(state: RootState, dir: string): Matcher[] | null {
    const rel = path.relative(state.root, dir);
    if (rel.startsWith('..')) return null;
    const chain: Matcher[] = [];
    const rootMatcher = state.matchers.get(state.root);
    if (!rootMatcher) return null;
    chain.push(rootMatcher);
    let at = state.root;
    for (const part of rel ? rel.split(path.sep) : []) {
      at = path.join(at, part);
      const m = state.matchers.get(at);
      if (m) chain.push(m);
    }
    return chain;
  }

  /** gitignore semantics: the innermost file with a rule that matches decides; `!` re-includes. */
  private ignoredBy(chain: readonly Matcher[], abs: string, isDir: boolean): boolean {
    for (let i = chain.length - 1; i >= 0; i--) {
      const m = chain[i]!;
      const rel = path.relative(m.base, abs).split(path.sep).join('/');
      if (!rel || rel.startsWith('..')) continue;
      const r = m.ig.test(isDir ? `${rel}/` : rel);
      if (r.ignored) return true;
      if (r.unignored) return false;
    }
    return false;
  }

  private wanted(state: RootState, chain: readonly Matcher[], file: string, count: boolean): boolean {
    if (!indexable(file)) return false;
    if (this.ignoredBy(chain, file, false)) {
      if (count) this.skipped.ignored++;
      return false;
    }
    if (this.o.denied(file, state.root)) {
      if (count) this.skipped.denied++;
      return false;
    }
    return !this.suppressed.has(file);
  }

  private async matcherOf(dir: string, extra: string[]): Promise<Matcher | undefined> {
    const text = await readText(path.join(dir, '.gitignore'));
    if (text === null && extra.length === 0) return undefined;
    const ig = ignore({ allowRelativePaths: true }).add(extra);
    if (text !== null) ig.add(text);
    return { base: dir, ig };
  }

  /** One scan of a root: directories breadth-first, each file considered (read when new or changed). */
  private async walk(state: RootState): Promise<void> {
    state.state = 'scanning';
    this.scans++;
    const seen = new Set<string>();
    let looked = 0;
    let lastReport = performance.now();
    this.progress(state.root, 'begin', 0, `indexing ${state.root}`);
    const exclude = (await readText(path.join(state.root, '.git', 'info', 'exclude'))) ?? '';
    const rootMatcher = (await this.matcherOf(state.root, [...DEFAULT_IGNORES, ...(this.o.extraIgnores ?? []), exclude]))!;
    const matchers = new Map<string, Matcher>([[state.root, rootMatcher]]);
    const queue: Array<{ dir: string; chain: Matcher[] }> = [{ dir: state.root, chain: [rootMatcher] }];
    while (queue.length) {
      if (state.removed || this.closed) return;
      const { dir, chain } = queue.shift()!;
      const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (dir === state.root) throw new Error(`cannot read the folder (${err.code ?? err.message})`);
        return [];
      });
      for (const e of entries) {
        await this.breathe();
        const abs = path.join(dir, e.name);
        // Symbolic links are not followed: they may leave the workspace or loop.
        if (e.isDirectory()) {
          if (this.ignoredBy(chain, abs, true)) {
            this.skipped.ignored++;
            continue;
          }
          const own = await this.matcherOf(abs, []);
          if (own) matchers.set(abs, own);
          queue.push({ dir: abs, chain: own ? [...chain, own] : chain });
        } else if (e.isFile()) {
          looked++;
          if (!this.wanted(state, chain, abs, true)) continue;
          seen.add(abs);
          const stat = await fs.promises.lstat(abs).catch(() => null);
          if (stat?.isFile()) await this.consider(state, abs, stat, false);
          if (performance.now() - lastReport > 250) {
            lastReport = performance.now();
            this.progress(state.root, 'report', looked, `indexing ${state.root}: ${this.files.size} files`);
          }
        }
      }
    }
    if (state.removed || this.closed) return;
    state.matchers = matchers;
    // Files of this root that the scan did not find any more (deleted, now ignored or denied).
    for (const f of [...this.files.values()]) if (f.root === state.root && !seen.has(f.path)) this.drop(f);
    state.state = 'ready';
    this.progress(state.root, 'end', looked, `indexed ${state.root}: ${this.status().roots.find((r) => r.root === state.root)?.files ?? 0} files`);
  }

  /** Reads and learns a file when it is new or changed, within the bounds. */
  private async consider(state: RootState, file: string, stat: fs.Stats, force: boolean): Promise<void> {
    const known = this.files.get(file);
    if (!force && known && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return;
    if (stat.size > this.limits.maxFileBytes) {
      this.skipped['too-large']++;
      if (known) this.drop(known);
      return;
    }
    if (!known && this.files.size >= this.limits.maxFiles) {
      this.skipped['over-files']++;
      return;
    }
    if (this.totalBytes - (known?.size ?? 0) + stat.size > this.limits.maxTotalBytes) {
      this.skipped['over-bytes']++;
      if (known) this.drop(known);
      return;
    }
    const text = await readText(file);
    await this.breathe();
    if (state.removed || this.closed || this.suppressed.has(file)) return;
    if (text === null) {
      this.skipped.unreadable++;
      return;
    }
    if (text.includes('\u0000')) {
      this.skipped.binary++;
      if (known) this.drop(known);
      return;
    }
    // Secrets by content: a file holding a private key or credentials is never learned.
    if (keyMaterialRanges(text).length > 0 || sensitiveDocument(text) !== null) {
      this.skipped['key-material']++;
      if (known) this.drop(known);
      return;
    }
    const size = Buffer.byteLength(text);
    const entry: IndexedFile = { path: file, uri: pathToFileURL(file).href, root: state.root, family: languageFamily(file), size, mtimeMs: stat.mtimeMs };
    this.totalBytes += size - (known?.size ?? 0);
    this.files.set(file, entry);
    this.o.learn(entry, text);
  }

  private drop(f: IndexedFile): void {
    if (!this.files.delete(f.path)) return;
    this.totalBytes -= f.size;
    this.o.forget(f);
  }

  private progress(root: string, kind: WorkspaceIndexProgress['kind'], seen: number, message: string): void {
    this.o.onProgress?.({ root, kind, seen, indexed: this.files.size, message });
  }
}
