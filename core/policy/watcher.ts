// Hot reload of the user policy and of workspace policies. A new file that does not parse or
// validate never replaces the policy in force: the previous one stays, and an `invalid` event says
// why (the daemon forwards it to attached clients). Fail closed on first load: a broken user file
// gives the built-in default (nothing leaves the machine), a broken workspace file gives lockdown.
import { EventEmitter } from 'node:events';
import { existsSync, watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  applyWorkspacePolicy,
  compileUserPolicy,
  defaultPolicy,
  lockdownPolicy,
  parsePolicyText,
  readTextIfExists,
  WORKSPACE_POLICY_PATH,
} from './load.js';
import { PolicyError, type Policy, type PolicyDiagnostic } from './types.js';

export interface PolicyInvalidEvent {
  file: string;
  /** One line per problem, `file:line:col: path message`. */
  message: string;
  diagnostics: PolicyDiagnostic[];
  /** What is in force now: the previous policy, the built-in default, or workspace lockdown. */
  kept: 'previous' | 'default' | 'lockdown';
}
export interface PolicyChangeEvent {
  file: string;
  workspaceRoot: string | null;
  policy: Policy;
  warnings: PolicyDiagnostic[];
}

export interface PolicyWatcherOptions {
  /** The user policy file, e.g. ~/.config/hearth/policy.yaml (need not exist). */
  userFile: string;
  /** Quiet time after the last file event before reloading (editors write in several steps). */
  debounceMs?: number;
  /**
   * How often a policy file whose folder does not exist yet (no `.hearth/` in the workspace) is
   * stat'ed; default 1000 ms, so an idle daemon wakes once a second per such file, not five times.
   */
  pollMs?: number;
}

interface Watched {
  file: string;
  close(): void;
}

export declare interface PolicyWatcher {
  on(event: 'change', listener: (e: PolicyChangeEvent) => void): this;
  on(event: 'invalid', listener: (e: PolicyInvalidEvent) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
}

export class PolicyWatcher extends EventEmitter {
  private user: Policy = defaultPolicy();
  private readonly workspaces = new Map<string, Policy>();
  /** First loads of workspace policies, by root (see addWorkspace / ready). */
  private readonly adding = new Map<string, Promise<void>>();
  private readonly watched = new Map<string, Watched>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly debounceMs: number;
  private readonly pollMs: number;
  private reloading: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: PolicyWatcherOptions) {
    super();
    this.debounceMs = opts.debounceMs ?? 150;
    this.pollMs = opts.pollMs ?? 1000;
  }

  /** Load the user policy and start watching it. Resolves once the first load is done. */
  async start(): Promise<void> {
    await this.reloadUser(true);
    this.watchFileAt(this.opts.userFile, () => this.schedule(this.opts.userFile, () => this.reloadUser(false)));
  }

  /** The policy in force for a request in `workspaceRoot` (or outside any workspace). */
  policyFor(workspaceRoot?: string | null): Policy {
    if (!workspaceRoot) return this.user;
    return this.workspaces.get(workspaceRoot) ?? this.user;
  }

  /**
   * Start applying `<root>/.hearth/policy.yaml` to requests from that workspace. Until the first
   * load is done, `ready(root)` is pending: callers must await it before `policyFor(root)`, or a
   * request sent right after an editor attaches would be judged by the user policy alone (issue 4:
   * a workspace that denies cloud leaked its first completions before this).
   */
  addWorkspace(root: string): Promise<void> {
    let p = this.adding.get(root);
    if (!p) {
      p = (async () => {
        if (this.workspaces.has(root)) return;
        await this.reloadWorkspace(root, true);
        const file = join(root, WORKSPACE_POLICY_PATH);
        this.watchFileAt(file, () => this.schedule(file, () => this.reloadWorkspace(root, false)));
      })();
      this.adding.set(root, p);
    }
    return p;
  }

  /** Resolves once the workspace policy of `root` (if it is being added) is in force. Never rejects. */
  async ready(workspaceRoot?: string | null): Promise<void> {
    if (!workspaceRoot) return;
    await this.adding.get(workspaceRoot)?.catch(() => undefined);
  }

  removeWorkspace(root: string): void {
    this.adding.delete(root);
    this.workspaces.delete(root);
    const file = join(root, WORKSPACE_POLICY_PATH);
    this.watched.get(file)?.close();
    this.watched.delete(file);
  }

  /** Resolves when every reload scheduled so far has finished (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.timers.size) await new Promise((r) => setTimeout(r, this.debounceMs));
    await this.reloading;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(key: string, fn: () => Promise<void>): void {
    if (this.closed) return;
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.reloading = this.reloading.then(fn).catch((e: unknown) => {
          this.emit('error', e instanceof Error ? e : new Error(String(e)));
        });
      }, this.debounceMs),
    );
  }

  /** Watch a file that may not exist yet, surviving the rename-over that editors do on save. */
  private watchFileAt(file: string, onChange: () => void): void {
    if (this.watched.has(file)) return;
    const dir = dirname(file);
    const name = basename(file);
    let w: Watched;
    if (existsSync(dir)) {
      let fsw: FSWatcher;
      try {
        fsw = watch(dir, { persistent: false }, (_event, filename) => {
          if (filename === null || filename === name) onChange();
        });
        fsw.on('error', () => undefined);
        w = { file, close: () => fsw.close() };
      } catch {
        w = this.pollFile(file, onChange);
      }
    } else {
      // The folder does not exist yet (no .hearth in this workspace): poll until it does.
      w = this.pollFile(file, onChange);
    }
    this.watched.set(file, w);
  }

  private pollFile(file: string, onChange: () => void): Watched {
    const listener = () => onChange();
    watchFile(file, { persistent: false, interval: this.pollMs }, listener);
    return { file, close: () => unwatchFile(file, listener) };
  }


  private invalid(file: string, e: unknown, kept: PolicyInvalidEvent['kept']): void {
    const diagnostics =
      e instanceof PolicyError
        ? e.diagnostics
        : [{ file, line: 1, col: 1, path: '', message: `cannot be read: ${(e as Error).message}`, severity: 'error' as const }];
    const message = e instanceof PolicyError ? e.message : diagnostics.map((d) => `${d.file}: ${d.message}`).join('\n');
    this.emit('invalid', { file, message, diagnostics, kept } satisfies PolicyInvalidEvent);
  }

  private async reloadUser(first: boolean): Promise<void> {
    const file = this.opts.userFile;
    let next: Policy;
    try {
      const text = await readTextIfExists(file);
      next = text === null ? defaultPolicy() : compileUserPolicy(parsePolicyText(text, file));
    } catch (e) {
      this.invalid(file, e, first ? 'default' : 'previous');
      return;
    }
    this.user = next;
    this.emit('change', { file, workspaceRoot: null, policy: next, warnings: next.warnings } satisfies PolicyChangeEvent);
    // Workspace policies are layered on the user's: rebuild them on the new base.
    for (const root of [...this.workspaces.keys()]) await this.reloadWorkspace(root, false);
  }

  private async reloadWorkspace(root: string, first: boolean): Promise<void> {
    const file = join(root, WORKSPACE_POLICY_PATH);
    let next: Policy;
    try {
      const text = await readTextIfExists(file);
      next = text === null ? { ...this.user, workspaceRoot: root } : applyWorkspacePolicy(this.user, parsePolicyText(text, file), root);
    } catch (e) {
      const previous = this.workspaces.get(root);
      if (first || !previous) {
        this.workspaces.set(root, lockdownPolicy(this.user, root, file));
        this.invalid(file, e, 'lockdown');
      } else {
        this.invalid(file, e, 'previous');
      }
      return;
    }
    this.workspaces.set(root, next);
    this.emit('change', { file, workspaceRoot: root, policy: next, warnings: next.warnings } satisfies PolicyChangeEvent);
  }
}
