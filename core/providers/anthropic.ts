// Anthropic Messages API provider (/v1/messages), streaming over SSE when the caller passes onText.
// Chat only: the API has no fill-in-the-middle endpoint and no embeddings.
import { EngineError, type ProviderCapabilities } from '../engines/types.js';
import type { Feature } from '../policy/types.js';
import { HttpProvider, parseJson, readSse, type ChatRequest, type ChatResult, type HttpCompletionRequest } from './http.js';

export const ANTHROPIC_VERSION = '2023-06-01';

interface MessageResponse {
  model?: string;
  content?: { type: string; text?: string }[];
}
interface StreamEvent {
  type: string;
  message?: { model?: string };
  delta?: { type?: string; text?: string };
  error?: { message?: string };
}

export class AnthropicProvider extends HttpProvider {
  protected capabilitiesFor(f: readonly Feature[]): ProviderCapabilities {
    return { fim: false, chat: f.includes('chat') || f.includes('task'), embeddings: false, tools: f.includes('tool') };
  }

  private headers(): Record<string, string> {
    const key = this.apiKey();
    return { 'anthropic-version': ANTHROPIC_VERSION, ...(key ? { 'x-api-key': key } : {}) };
  }

  async complete(_req: HttpCompletionRequest): Promise<{ text: string; model: string }> {
    return this.unsupported('fill-in-the-middle completion (the Messages API has no infill endpoint)');
  }

  async embed(): Promise<number[][]> {
    return this.unsupported('embeddings');
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    if (!this.capabilities.chat) this.unsupported('chat');
    const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const messages = req.messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content }));
    if (!messages.length) throw new EngineError('bad-request', `${this.id}: chat needs at least one user message`);
    // tool_use blocks arrive whole in a non-streamed answer; with tools offered the call is not streamed.
    const stream = req.onText !== undefined && !req.tools?.length;
    const body: Record<string, unknown> = { model: this.model, max_tokens: req.maxTokens, messages, stream };
    if (system) body.system = system;
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.tools?.length) body.tools = req.tools;
    return this.post('/v1/messages', body, this.headers(), req.route, req.signal, req.timeoutMs, async (res) => {
      if (!stream) {
        const j = parseJson<MessageResponse>(await res.text(), this.id);
        const text = (j.content ?? []).filter((c) => c.type === 'text').map((c) => c.text ?? '').join('');
        return { text, model: j.model ?? this.model, ...(req.tools?.length ? { message: j } : {}) };
      }
      let text = '';
      let model = this.model;
      await readSse(res, (ev) => {
        const j = parseJson<StreamEvent>(ev.data, this.id);
        if (j.type === 'message_start' && j.message?.model) model = j.message.model;
        if (j.type === 'content_block_delta' && j.delta?.type === 'text_delta' && j.delta.text) {
          text += j.delta.text;
          req.onText!(j.delta.text);
        }
        if (j.type === 'error') throw new EngineError('bad-request', `${this.id}: ${j.error?.message ?? 'stream error'}`);
        return j.type === 'message_stop';
      });
      return { text, model };
    });
  }
}
