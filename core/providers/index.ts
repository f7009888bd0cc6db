// HTTP model providers. Embedded engines live in core/engines; both implement core/engines/types.ts.
import type { EgressGate } from '../egress/gate.js';
import type { Policy } from '../policy/types.js';
import { AnthropicProvider } from './anthropic.js';
import type { HttpProvider } from './http.js';
import type { SecretSource } from '../secrets/index.js';
import { OpenAICompatibleProvider } from './openai.js';

export { AnthropicProvider, ANTHROPIC_VERSION } from './anthropic.js';
export { OpenAICompatibleProvider } from './openai.js';
export { HttpProvider, ProviderHttpError, type ChatMessage, type ChatRequest, type ChatResult, type HttpCompletionRequest, type HttpProviderOptions } from './http.js';

/** One provider object per HTTP provider the policy configures (openai / anthropic kinds). */
export function createHttpProviders(policy: Policy, gate: EgressGate, env?: Record<string, string | undefined>, secrets?: SecretSource): Map<string, HttpProvider> {
  const out = new Map<string, HttpProvider>();
  for (const config of policy.providers) {
    const opts = { config, gate, ...(env ? { env } : {}), ...(secrets ? { secrets } : {}) };
    if (config.kind === 'openai') out.set(config.id, new OpenAICompatibleProvider(opts));
    else if (config.kind === 'anthropic') out.set(config.id, new AnthropicProvider(opts));
  }
  return out;
}
