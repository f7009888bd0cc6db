// The model router at run time: holds the policy in force, the embedded engines and the HTTP
// providers the policy configures, plans every call (planRoute) and runs it on the chosen provider.
// Local engines are called directly; anything else goes through its HTTP provider, which sends
// only through the egress gate (redaction, ask, ledger).
import type { Provider } from '../engines/types.js';
import { EngineError } from '../engines/types.js';
import type { EgressGate } from '../egress/gate.js';
import type { Policy, ProviderKind } from '../policy/types.js';
import { createHttpProviders, type HttpProvider } from '../providers/index.js';
import { descriptorsFromPolicy, planRoute, type ContextPiece, type ProviderDescriptor, type RoutePlan } from './plan.js';
import type { Feature } from '../policy/types.js';

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
}

export class ModelRouter {
  private readonly local = new Map<string, LocalEngine>();
  private http = new Map<string, HttpProvider>();
  private httpPolicy: Policy | undefined;

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
      this.http = createHttpProviders(policy, this.opts.gate, this.opts.env);
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

  async plan(feature: Feature, pieces: ContextPiece[], opts: { client?: string; workspaceRoot?: string | null; provider?: string } = {}): Promise<RoutePlan> {
    await this.opts.ready?.(opts.workspaceRoot ?? null);
    const policy = this.policy(opts.workspaceRoot ?? null);
    const req: Parameters<typeof planRoute>[0] = { feature, pieces };
    if (opts.client) req.client = opts.client;
    if (opts.workspaceRoot) req.workspaceRoot = opts.workspaceRoot;
    if (opts.provider) req.provider = opts.provider;
    return planRoute(req, policy, { providers: this.descriptors(policy) });
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
