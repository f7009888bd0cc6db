// The model router at run time: holds the policy in force, the embedded engines and the HTTP
// providers the policy configures, plans every call (planRoute) and runs it on the chosen provider.
// Local engines are called directly; anything else goes through its HTTP provider, which sends
// only through the egress gate (redaction, ask, ledger).
import type { Provider } from '../engines/types.js';
import { EngineError } from '../engines/types.js';
import type { EgressGate } from '../egress/gate.js';
import type { Policy, ProviderKind } from '../policy/types.js';
import { createHttpProviders, type HttpProvider } from '../providers/index.js';
import { descriptorsFromPolicy, planRoute, type ContextPiece, type PlanFallback, type ProviderDescriptor, type RoutePlan } from './plan.js';
import type { Feature } from '../policy/types.js';
import type { SecretSource } from '../secrets/index.js';

export interface LocalEngine {
  provider: Provider;
  kind: ProviderKind;
  features: Feature[];
  model?: string;
  /** true, or why it cannot be used right now. */
  available?: () => true | string;
}

export class PolicyDeniedError extends Error {
  constructor(readonly plan: RoutePlan) {
    super(`policy denies ${plan.feature}: ${plan.reason} (rule ${plan.rule})`);
    this.name = 'PolicyDeniedError';
  }
}

export interface RouterOptions {
  gate: EgressGate;
  policyFor: (workspaceRoot: string | null) => Policy;
  /**
   * Resolves when the policy for `workspaceRoot` is loaded (a workspace policy is read when its
   * editor attaches). Awaited before every plan so no request is judged by an incomplete policy.
   */
  ready?: (workspaceRoot: string | null) => Promise<void>;
  env?: Record<string, string | undefined>;
  /** Provider keys named by apiKeySecret (the home's secrets file), read on each use. */
  secrets?: SecretSource;
  /**
   * After a provider fails at run time (HTTP error, timeout), how long the chain passes over it for
   * the same feature before trying it again (default 30 s), so every keystroke does not wait for it.
   */
  failureCooldownMs?: number;
}

export class ModelRouter {
  private readonly local = new Map<string, LocalEngine>();
  private http = new Map<string, HttpProvider>();
  private httpPolicy: Policy | undefined;
  /** Recent run-time failures by provider and feature, passed over until `until`. */
  private readonly failures = new Map<string, { fallback: PlanFallback; at: number; until: number }>();

  constructor(private readonly opts: RouterOptions) {}

  /** Replaces the embedded engines; earlier ones are preferred among local providers. */
  setLocal(engines: LocalEngine[]): void {
    const keep = new Set(engines.map((e) => e.provider));
    for (const old of this.local.values()) if (!keep.has(old.provider)) void old.provider.dispose().catch(() => undefined);
    this.local.clear();
    for (const e of engines) this.local.set(e.provider.id, e);
  }

  get localEngines(): LocalEngine[] {
    return [...this.local.values()];
  }

  localEngine(id: string): LocalEngine | undefined {
    return this.local.get(id);
  }

  policy(workspaceRoot: string | null): Policy {
    return this.opts.policyFor(workspaceRoot);
  }

  private httpProviders(policy: Policy): Map<string, HttpProvider> {
    // Providers are rebuilt when the policy object changes (hot reload).
    if (policy !== this.httpPolicy) {
      this.http = createHttpProviders(policy, this.opts.gate, this.opts.env, this.opts.secrets);
      this.httpPolicy = policy;
    }
    return this.http;
  }

  descriptors(policy: Policy): ProviderDescriptor[] {
    const out: ProviderDescriptor[] = [];
    for (const e of this.local.values()) {
      const d: ProviderDescriptor = { id: e.provider.id, kind: e.kind, location: 'local', features: e.features };
      if (e.model) d.model = e.model;
      const a = e.available?.();
      if (a !== undefined) d.available = a;
      out.push(d);
    }
    const fromPolicy = descriptorsFromPolicy(policy).filter((d) => !this.local.has(d.id));
    return [...out, ...fromPolicy];
  }

  /**
   * Records that `plan`'s provider failed at run time: the chain passes over it for this feature
   * for the cool-down (HTTP errors, timeouts and other failures; declines and denials are not
   * failures of the provider).
   */
  noteFailure(plan: RoutePlan, fallback: PlanFallback): void {
    if (!plan.provider || !['http-error', 'timeout', 'failed', 'no-key'].includes(fallback.cause)) return;
    const now = Date.now();
    this.failures.set(`${plan.provider.id}\u0000${plan.feature}`, { fallback, at: now, until: now + (this.opts.failureCooldownMs ?? 30_000) });
  }

  /** A provider that works again (it answered) is no longer passed over. */
  noteSuccess(plan: RoutePlan): void {
    if (plan.provider) this.failures.delete(`${plan.provider.id}\u0000${plan.feature}`);
  }

  private resting(feature: Feature): PlanFallback[] {
    const now = Date.now();
    const out: PlanFallback[] = [];
    for (const [k, f] of this.failures) {
      if (f.until <= now) this.failures.delete(k);
      else if (k.endsWith(`\u0000${feature}`)) {
        out.push({ ...f.fallback, reason: `${f.fallback.reason} (${Math.round((now - f.at) / 1000)} s ago; tried again in ${Math.ceil((f.until - now) / 1000)} s)` });
      }
    }
    return out;
  }

  async plan(feature: Feature, pieces: ContextPiece[], opts: { client?: string; workspaceRoot?: string | null; provider?: string; failed?: readonly PlanFallback[] } = {}): Promise<RoutePlan> {
    await this.opts.ready?.(opts.workspaceRoot ?? null);
    const policy = this.policy(opts.workspaceRoot ?? null);
    const req: Parameters<typeof planRoute>[0] = { feature, pieces };
    if (opts.client) req.client = opts.client;
    if (opts.workspaceRoot) req.workspaceRoot = opts.workspaceRoot;
    if (opts.provider) req.provider = opts.provider;
    const failed = [...(opts.failed ?? [])];
    for (const f of this.resting(feature)) if (!failed.some((x) => x.provider === f.provider)) failed.push(f);
    if (failed.length) req.failed = failed;
    const providers = this.descriptors(policy);
    // A provider whose API key is missing is passed over (the next in the chain serves), not failed on.
    const http = this.httpProviders(policy);
    for (const d of providers) {
      const problem = await http.get(d.id)?.credentialProblem();
      if (problem) {
        d.available = problem;
        d.unavailableCause = 'no-key';
      }
    }
    const gate = this.opts.gate;
    return planRoute(req, policy, {
      providers,
      askBlocked: (p, f, root) => gate.askBlocked({ provider: p.id, feature: f, workspace: root ?? '' }),
    });
  }

  /** The provider that runs a plan; refuses denied plans before anything is touched. */
  providerFor(plan: RoutePlan): Provider {
    if (plan.decision === 'deny' || !plan.provider) throw new PolicyDeniedError(plan);
    const local = this.local.get(plan.provider.id);
    if (local) return local.provider;
    const http = this.httpProviders(this.policy(plan.workspaceRoot)).get(plan.provider.id);
    if (!http) throw new EngineError('bad-request', `provider ${plan.provider.id} is not configured`);
    return http.forPlan(plan);
  }

  async dispose(): Promise<void> {
    for (const e of this.local.values()) await e.provider.dispose().catch(() => undefined);
  }
}
