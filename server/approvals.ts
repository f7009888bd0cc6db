// Routes an approval to a person: first the client that asked (an editor, or a client that said in
// its hello it can prompt: capability `approvals`, which `hearth tool run` declares on a terminal
// and `hearth mcp` declares when its MCP client can elicit), then any other attached editor, and
// while none can answer it waits for `hearth approve` (the CLI lists and answers pending ones).
// Whichever answers first wins; the other prompts are cancelled.
//
// An approval belongs to a live requester: when the requesting call is cancelled or its connection
// goes away (the caller's `signal` aborts), the approval is withdrawn everywhere — every prompt gets
// $/cancelRequest, `hearth approve` no longer lists it, and answering its id afterwards is refused —
// and the answer says so ('withdrawn'), never a user's denial. A requester that cannot wait
// (`noApproverMs`, MCP calls) gets 'nobody' when no interface that can approve is attached.
//
// A client whose prompt cannot be cancelled while it shows (Neovim's approval split) answers the
// request `pending` at once (the request says `answerLater`), shows the prompt without blocking and
// answers later with hearth/approvals/answer; when the approval ends for any reason the daemon
// tells it with hearth/approvals/settled, so the prompt closes within a round trip.
import { CancellationTokenSource } from 'vscode-jsonrpc';
import type { Session } from './session.js';
import { ApprovalsSettled, type Params, type ToolApprove } from './protocol.js';

export type Choice = 'once' | 'session' | 'always' | 'deny';

/** Why an approval has no user's answer. */
export interface Unanswered {
  /** withdrawn: taken back (requester gone or cancelled, daemon stopped); nobody: no one could or did answer. */
  kind: 'withdrawn' | 'nobody';
  why: string;
}

/** The choice and who made it, for the audit log. */
export interface Answer {
  choice: Choice;
  /** The answering client's id ('' when nobody answered). */
  by: string;
  /** How the answer came: 'prompt' (hearth/tool/approve), 'elicitation' (an MCP client's own UI), 'hearth approve'. */
  via: string | null;
  /** Labels of the clients the prompt was put to. */
  asked: string[];
  /** The session a 'session' grant from this answer also ends with (null: a one-shot `hearth approve`). */
  approverSession: string | null;
  unanswered?: Unanswered;
}

export interface AskOptions {
  /** The requesting connection's client id (asked first when it can prompt). */
  requesterId: string | null;
  /** Aborts when the requester cancels or disconnects; its reason (a string) is recorded. */
  signal?: AbortSignal;
  /** Answer 'nobody' after this many ms when no interface that can approve is attached. */
  noApproverMs?: number;
  /** Called once the prompts are out, then every `progressEveryMs` while the approval waits. */
  waiting?: (message: string) => void;
}

/** What a requester that cannot wait is told when nobody can approve. */
export const NEEDS_APPROVAL = 'needs approval: attach an editor, run `hearth approve`, or add an allow rule';

interface Pending {
  actionId: string;
  request: Params<typeof ToolApprove>;
  since: string;
  requesterId: string | null;
  asked: string[];
  resolve: (a: Answer) => void;
  cancel: CancellationTokenSource[];
  /** Clients that answered `pending`: they show the prompt and answer later; told when it settles. */
  later: Session[];
  /** Called when the last client showing the prompt without blocking goes away. */
  unshown?: () => void;
  /** Undone when the approval settles. */
  cleanup: Array<() => void>;
}

/** answered false: someone else answered first, it was withdrawn (why), or no approval ever had that id (unknown). */
export type AnswerResult = { answered: true } | { answered: false; withdrawn: string | null; unknown: boolean };

const RECENT = 1000;

export class ApprovalBroker {
  private readonly pending = new Map<string, Pending>();
  /** Recently settled approvals: why each ended, so a late answer to a withdrawn id is told so. */
  private readonly settled = new Map<string, { withdrawn: string | null }>();

  constructor(
    private readonly method: string,
    private readonly sessions: () => Session[],
    private readonly log: (msg: string) => void,
    private readonly timeoutMs = 10 * 60 * 1000,
    private readonly progressEveryMs = 5000,
  ) {}

  list(): Array<{ actionId: string; since: string; request: Params<typeof ToolApprove> }> {
    return [...this.pending.values()].map(({ actionId, since, request }) => ({ actionId, since, request }));
  }

  /** `hearth approve`'s answer. A withdrawn id is not answerable: nothing can run under it. */
  answer(actionId: string, choice: Choice, by: string): AnswerResult {
    const p = this.pending.get(actionId);
    if (!p) {
      const s = this.settled.get(actionId);
      return { answered: false, withdrawn: s?.withdrawn ?? null, unknown: !s };
    }
    // The answer to a prompt a client showed without blocking is that client's prompt answer (a
    // session grant ends with its session); anyone else's is `hearth approve`'s.
    const shown = p.later.some((s) => s.id === by);
    p.resolve({ choice, by, via: shown ? 'prompt' : 'hearth approve', asked: p.asked, approverSession: shown ? by : null });
    return { answered: true };
  }

  /** The sessions that can answer a prompt for this requester right now. */
  private approvers(requesterId: string | null): Session[] {
    const list = this.sessions().filter((s) => s.ready && (s.identity.kind === 'editor' || (s.id === requesterId && s.capabilities['approvals'] === true)));
    return list.sort((a, b) => Number(b.id === requesterId) - Number(a.id === requesterId));
  }

  /**
   * Asks; resolves with the user's choice, or an unanswered deny: after the timeout, when nobody
   * can approve within `noApproverMs`, or when `signal` aborts (withdrawn everywhere).
   */
  ask(actionId: string, request: Params<typeof ToolApprove>, opts: AskOptions): Promise<Answer> {
    const { signal, requesterId } = opts;
    const reasonOf = (s: AbortSignal): string => (typeof s.reason === 'string' ? s.reason : 'the requester cancelled');
    return new Promise<Answer>((resolve) => {
      const p: Pending = { actionId, request, since: new Date().toISOString(), requesterId, asked: [], resolve: (a) => done(a), cancel: [], later: [], cleanup: [] };
      const unanswered = (kind: Unanswered['kind'], why: string): Answer => ({ choice: 'deny', by: '', via: null, asked: p.asked, approverSession: null, unanswered: { kind, why } });
      if (signal?.aborted) return resolve(unanswered('withdrawn', `withdrawn: ${reasonOf(signal)}`));
      const timers: NodeJS.Timeout[] = [];
      timers.push(setTimeout(() => {
        this.log(`approval ${actionId} timed out after ${Math.round(this.timeoutMs / 1000)} s: denied`);
        done(unanswered('nobody', `timeout: nobody answered within ${Math.round(this.timeoutMs / 1000)} s`));
      }, this.timeoutMs));
      const onAbort = (): void => {
        const why = reasonOf(signal!);
        this.log(`approval ${actionId} withdrawn: ${why}`);
        done(unanswered('withdrawn', `withdrawn: ${why}`));
      };
      const done = (c: Answer): void => {
        if (!this.pending.delete(actionId)) return;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        for (const t of p.cancel) t.cancel();
        for (const f of p.cleanup) f();
        this.tellSettled(p, c);
        this.settled.set(actionId, { withdrawn: c.unanswered?.kind === 'withdrawn' ? c.unanswered.why : null });
        if (this.settled.size > RECENT) this.settled.delete(this.settled.keys().next().value!);
        resolve(c);
      };
      this.pending.set(actionId, p);
      signal?.addEventListener('abort', onAbort, { once: true });
      const noApprover = (): void => {
        if (opts.noApproverMs === undefined || !this.pending.has(actionId)) return;
        timers.push(setTimeout(() => {
          this.log(`approval ${actionId}: no interface that can approve is attached: ${NEEDS_APPROVAL}`);
          done(unanswered('nobody', NEEDS_APPROVAL));
        }, opts.noApproverMs));
      };
      p.unshown = () => {
        this.log(`approval ${actionId}: the clients showing it went away; it waits for \`hearth approve\``);
        noApprover();
      };
      const editors = this.approvers(requesterId);
      if (!editors.length) noApprover();
      void this.tryEditors(p, editors).then((anyoneLeft) => {
        if (!anyoneLeft && editors.length) noApprover();
      });
      if (opts.waiting) {
        const started = Date.now();
        const report = (): void => {
          if (!this.pending.has(actionId)) return;
          const secs = Math.round((Date.now() - started) / 1000);
          const who = p.asked.length ? `the prompt is open in ${p.asked.join(', ')}` : 'no editor is showing it';
          opts.waiting!(`waiting for the user to approve ${String(request.tool ?? 'the action')} (action ${actionId}, ${secs} s): ${who}; \`hearth approve\` can answer it too`);
        };
        queueMicrotask(report);
        const every = setInterval(report, this.progressEveryMs);
        timers.push(every);
      }
    });
  }

  /** Tells the clients that show the prompt without blocking that it ended, so they close it. */
  private tellSettled(p: Pending, a: Answer): void {
    const outcome = a.unanswered ? a.unanswered.kind : 'answered';
    const why = a.unanswered ? a.unanswered.why : `answered ${a.choice} (${a.via ?? 'prompt'})`;
    for (const s of p.later) s.sendNotification(ApprovalsSettled.method, { actionId: p.actionId, outcome, choice: a.choice, why });
  }

  /** Puts the prompt to each approver in turn; resolves false when none of them answered (the approval may still wait for `hearth approve`). */
  private async tryEditors(p: Pending, editors: Session[]): Promise<boolean> {
    for (const s of editors) {
      if (!this.pending.has(p.actionId)) return true;
      if (!s.ready) continue;
      const cts = new CancellationTokenSource();
      p.cancel.push(cts);
      p.asked.push(s.label);
      try {
        const r = await s.sendRequest<{ choice?: Choice | 'pending'; via?: string } | null>(this.method, { ...p.request, answerLater: true }, cts.token);
        if (r?.choice === 'pending') {
          // Shown without blocking; its answer comes through answer(). Nobody else is asked meanwhile.
          if (!this.pending.has(p.actionId)) return true;
          p.later.push(s);
          const gone = (): void => {
            p.later = p.later.filter((x) => x !== s);
            if (!p.later.length && this.pending.has(p.actionId)) p.unshown?.();
          };
          s.closedSignal.addEventListener('abort', gone, { once: true });
          p.cleanup.push(() => s.closedSignal.removeEventListener('abort', gone));
          return true;
        }
        if (r?.choice) {
          p.resolve({ choice: r.choice, by: s.id, via: typeof r.via === 'string' ? r.via.slice(0, 64) : 'prompt', asked: p.asked, approverSession: s.id });
          return true;
        }
      } catch (err) {
        if (!this.pending.has(p.actionId)) return true;
        this.log(`approval ${p.actionId}: ${s.label} could not answer (${(err as Error).message}); trying the next client`);
      }
    }
    if (this.pending.has(p.actionId)) this.log(`approval ${p.actionId} waits for \`hearth approve\` (no attached editor answered)`);
    return false;
  }
}
