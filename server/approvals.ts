// Routes an approval to a person: first the client that asked (an editor, or a CLI that said in its
// hello it can prompt: capability `approvals`, which `hearth tool run` declares on a terminal), then
// any other attached editor, and while none can answer it waits for `hearth approve` (the CLI lists
// and answers pending ones).
// Whichever answers first wins; the other prompts are cancelled.
import { CancellationTokenSource } from 'vscode-jsonrpc';
import type { Session } from './session.js';

export type Choice = 'once' | 'session' | 'always' | 'deny';
/** The choice and who made it (the answering client's id, or why nobody did), for the audit log. */
export interface Answer { choice: Choice; by: string }

interface Pending {
  actionId: string;
  request: Record<string, unknown>;
  since: string;
  resolve: (a: Answer) => void;
  cancel: CancellationTokenSource[];
}

export class ApprovalBroker {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly method: string,
    private readonly sessions: () => Session[],
    private readonly log: (msg: string) => void,
    private readonly timeoutMs = 10 * 60 * 1000,
  ) {}

  list(): Array<{ actionId: string; since: string; request: Record<string, unknown> }> {
    return [...this.pending.values()].map(({ actionId, since, request }) => ({ actionId, since, request }));
  }

  answer(actionId: string, choice: Choice, by: string): boolean {
    const p = this.pending.get(actionId);
    if (!p) return false;
    p.resolve({ choice, by });
    return true;
  }

  /**
   * Asks; resolves with the user's choice, or 'deny' after the timeout or when `signal` aborts (the
   * requester cancelled: the prompts are withdrawn and `hearth approve` no longer lists it).
   */
  ask(actionId: string, request: Record<string, unknown>, requesterId: string | null, signal?: AbortSignal): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      if (signal?.aborted) return resolve({ choice: 'deny', by: 'withdrawn: the requester cancelled' });
      const timer = setTimeout(() => {
        this.log(`approval ${actionId} timed out after ${Math.round(this.timeoutMs / 1000)} s: denied`);
        done({ choice: 'deny', by: 'timeout: nobody answered' });
      }, this.timeoutMs);
      const p: Pending = { actionId, request, since: new Date().toISOString(), resolve: (a) => done(a), cancel: [] };
      const onAbort = (): void => {
        this.log(`approval ${actionId} withdrawn: the requester cancelled the call`);
        done({ choice: 'deny', by: 'withdrawn: the requester cancelled' });
      };
      const done = (c: Answer): void => {
        if (!this.pending.delete(actionId)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const t of p.cancel) t.cancel();
        resolve(c);
      };
      this.pending.set(actionId, p);
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.tryEditors(p, requesterId);
    });
  }

  private async tryEditors(p: Pending, requesterId: string | null): Promise<void> {
    const editors = this.sessions().filter((s) => s.ready && (s.identity.kind === 'editor' || (s.id === requesterId && s.capabilities['approvals'] === true)));
    editors.sort((a, b) => Number(b.id === requesterId) - Number(a.id === requesterId));
    for (const s of editors) {
      if (!this.pending.has(p.actionId)) return;
      const cts = new CancellationTokenSource();
      p.cancel.push(cts);
      try {
        const r = await s.sendRequest<{ choice?: Choice } | null>(this.method, p.request, cts.token);
        if (r?.choice) return p.resolve({ choice: r.choice, by: s.id });
      } catch (err) {
        if (!this.pending.has(p.actionId)) return;
        this.log(`approval ${p.actionId}: ${s.label} could not answer (${(err as Error).message}); trying the next client`);
      }
    }
    if (this.pending.has(p.actionId)) this.log(`approval ${p.actionId} waits for \`hearth approve\` (no attached editor answered)`);
  }
}
