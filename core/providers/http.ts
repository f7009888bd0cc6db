// What the HTTP providers share: the bound route plan, errors, SSE reading, and the one way they
// send (the egress gate). No provider opens a connection itself.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { EngineError, deadline, type CompletionRequest, type Provider, type ProviderCapabilities } from '../engines/types.js';
import { EgressFailedError, type EgressGate, type EgressResponse } from '../egress/gate.js';
import type { ProviderConfig, Feature } from '../policy/types.js';
import type { RoutePlan } from '../routing/plan.js';
import type { SecretSource } from '../secrets/index.js';
import { defaultFeatures } from '../routing/plan.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}
export interface ChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  onText?: (chunk: string) => void;
  temperature?: number;
  /** The route plan this call runs under (required; see forPlan). */
  route?: RoutePlan;
  /** Tool definitions in the provider's own format (openAIToolDefinitions / anthropicToolDefinitions). */
  tools?: object[];
}
export interface ChatResult {
  text: string;
  model: string;
  /** The model's raw answer message when tools were offered, for parseOpenAIToolCalls / parseAnthropicToolUse. */
  message?: unknown;
}

/** A completion request to an HTTP provider carries the route plan it runs under. */
export interface HttpCompletionRequest extends CompletionRequest {
  route?: RoutePlan;
  temperature?: number;
}

export class ProviderHttpError extends EngineError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('bad-request', message);
  }
}

export interface HttpProviderOptions {
  config: ProviderConfig;
  gate: EgressGate;
  /** Where API keys are read from (by the variable the policy names). Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Where keys named by apiKeySecret are read from, on each use (core/secrets). */
  secrets?: SecretSource;
}

export abstract class HttpProvider implements Provider {
  readonly id: string;
  readonly location: ProviderConfig['location'];
  readonly capabilities: ProviderCapabilities;
  protected readonly baseUrl: string;
  protected readonly model: string;
  protected readonly timeoutMs: number;
  protected readonly features: readonly Feature[];

  constructor(protected readonly opts: HttpProviderOptions) {
    const c = opts.config;
    if (!c.baseUrl) throw new EngineError('bad-request', `provider ${c.id}: baseUrl is required for ${c.kind}`);
    if (!c.model) throw new EngineError('bad-request', `provider ${c.id}: model is required for ${c.kind}`);
    this.id = c.id;
    this.location = c.location;
    this.baseUrl = c.baseUrl;
    this.model = c.model;
    this.timeoutMs = c.timeoutMs ?? 60_000;
    this.features = c.features ?? defaultFeatures(c.kind);
    this.capabilities = this.capabilitiesFor(this.features);
  }

  protected abstract capabilitiesFor(features: readonly Feature[]): ProviderCapabilities;
  abstract complete(req: HttpCompletionRequest): Promise<{ text: string; model: string }>;
  abstract embed(texts: string[], signal?: AbortSignal, route?: RoutePlan): Promise<number[][]>;
  abstract chat(req: ChatRequest): Promise<ChatResult>;

  async dispose(): Promise<void> {
    // Nothing is held open between requests.
  }

  /** A view of this provider whose calls run under `plan` (what the router hands out). */
  forPlan(plan: RoutePlan): Provider & { chat(req: ChatRequest): Promise<ChatResult> } {
    if (plan.provider?.id !== this.id) {
      throw new EngineError('bad-request', `route plan is for provider ${plan.provider?.id ?? '(none)'}, not ${this.id}`);
    }
    return {
      id: this.id,
      location: this.location,
      capabilities: this.capabilities,
      complete: (req) => this.complete({ ...req, route: plan }),
      embed: (texts, signal) => this.embed(texts, signal, plan),
      chat: (req) => this.chat({ ...req, route: plan }),
      dispose: () => this.dispose(),
    };
  }

  /**
   * The key, read when it is needed: the secret the policy names (apiKeySecret) first, then the
   * environment variable (apiKeyEnv). Messages name where to put it, never a value.
   */
  protected apiKey(): string | undefined {
    const { apiKeySecret: secret, apiKeyEnv: name } = this.opts.config;
    if (!secret && !name) return undefined;
    if (secret) {
      let v: string | undefined;
      try {
        v = this.opts.secrets?.get(secret);
      } catch (e) {
        throw new EngineError('bad-request', `provider ${this.id}: cannot read the secret "${secret}": ${(e as Error).message}`);
      }
      if (v) return v;
    }
    const fromEnv = name ? (this.opts.env ?? process.env)[name] : undefined;
    if (fromEnv) return fromEnv;
    const wants = [
      secret ? `the secret "${secret}" (apiKeySecret in the policy) is not set${this.opts.secrets ? '' : ' (this daemon reads no secrets file)'}` : '',
      name ? `the environment variable ${name} (apiKeyEnv in the policy) is not set in the daemon's environment` : '',
    ].filter(Boolean).join(', and ');
    const fix = secret ? `run \`hearth secrets set ${secret}\`` : `store the key with \`hearth secrets set NAME\` and name it in the policy with apiKeySecret: NAME (a daemon started by an editor or restarted after a crash may not have ${name})`;
    throw new EngineError('bad-request', `provider ${this.id}: no API key: ${wants}; ${fix}`);
  }

  /**
   * Why this provider cannot authenticate right now (its key is not set), or null. The router asks
   * before planning, so a provider without its key is passed over for the next one in the chain.
   */
  async credentialProblem(): Promise<string | null> {
    try {
      await this.apiKey();
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }

  protected requirePlan(route: RoutePlan | undefined): RoutePlan {
    if (!route) {
      throw new EngineError('bad-request', `provider ${this.id}: HTTP providers send only through the egress gate under a route plan; call through the router (provider.forPlan(plan))`);
    }
    return route;
  }

  protected unsupported(what: string): never {
    throw new EngineError('unsupported', `provider ${this.id} (${this.opts.config.kind}) cannot do ${what}`);
  }

  /**
   * POST a JSON body through the gate, with the provider's timeout and the caller's signal.
   * `read` consumes the response; errors are mapped to EngineError codes.
   */
  protected async post<T>(
    path: string,
    body: unknown,
    headers: Record<string, string>,
    route: RoutePlan | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    read: (res: EgressResponse) => Promise<T>,
  ): Promise<T> {
    const plan = this.requirePlan(route);
    // The provider's clock starts when the gate sends, not while the user reads the confirmation.
    const d = deadline(signal, timeoutMs ?? this.timeoutMs, { deferred: true });
    try {
      const res = await this.opts.gate.send({ plan, url: this.baseUrl + path, body, headers, signal: d.signal, onSending: d.start });
      if (res.status < 200 || res.status >= 300) {
        // A server may echo the credential back ("invalid key sk-..."): it never reaches a message.
        let text = await res.text();
        for (const v of Object.values(headers)) {
          for (const secret of [v, v.replace(/^Bearer /i, '')]) if (secret.length >= 8) text = text.split(secret).join('[credential]');
        }
        text = text.slice(0, 500);
        throw new ProviderHttpError(res.status, `provider ${this.id}: ${path} answered HTTP ${res.status}: ${text}`);
      }
      return await read(res);
    } catch (e) {
      if (d.signal.aborted && (e instanceof EgressFailedError || (e as Error).name === 'AbortError' || (e as { code?: string }).code === 'ABORT_ERR')) {
        throw d.error();
      }
      throw e;
    } finally {
      d.dispose();
    }
  }
}

/** Feed a response body to an SSE parser; `onEvent` returns true to stop (e.g. on [DONE]). */
export async function readSse(res: EgressResponse, onEvent: (ev: EventSourceMessage) => boolean | void): Promise<void> {
  let done = false;
  const parser = createParser({
    onEvent(ev) {
      if (!done && onEvent(ev) === true) done = true;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
    if (done) {
      res.body.destroy();
      break;
    }
  }
}

export function parseJson<T>(data: string, who: string): T {
  try {
    return JSON.parse(data) as T;
  } catch {
    throw new EngineError('bad-request', `${who}: the server sent invalid JSON: ${data.slice(0, 200)}`);
  }
}
