// OpenAI-compatible HTTP provider: llama-server, Ollama, LM Studio, vLLM and hosted APIs.
// /v1/completions with `suffix` for fill-in-the-middle, /v1/chat/completions, /v1/embeddings;
// streaming over SSE when the caller passes onText. Every request goes through the egress gate.
import { EngineError, validateCompletionRequest, type ProviderCapabilities } from '../engines/types.js';
import type { Feature } from '../policy/types.js';
import type { RoutePlan } from '../routing/plan.js';
import { HttpProvider, parseJson, readSse, type ChatRequest, type ChatResult, type HttpCompletionRequest } from './http.js';
import type { EgressResponse } from '../egress/gate.js';

interface CompletionChunk {
  model?: string;
  choices?: { text?: string; delta?: { content?: string | null }; message?: { content?: string | null; tool_calls?: unknown[] } }[];
}

interface StreamedToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

export class OpenAICompatibleProvider extends HttpProvider {
  protected capabilitiesFor(f: readonly Feature[]): ProviderCapabilities {
    return { fim: f.includes('completion'), chat: f.includes('chat') || f.includes('task'), embeddings: f.includes('embeddings'), tools: f.includes('tool') };
  }

  private headers(): Record<string, string> {
    const key = this.apiKey();
    return key ? { authorization: `Bearer ${key}` } : {};
  }

  async complete(req: HttpCompletionRequest): Promise<{ text: string; model: string }> {
    if (!this.capabilities.fim) this.unsupported('fill-in-the-middle completion');
    validateCompletionRequest(this.id, req);
    const stream = req.onText !== undefined;
    const body: Record<string, unknown> = { model: this.model, prompt: req.prefix, suffix: req.suffix, max_tokens: req.maxTokens, stream };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    return this.post('/v1/completions', body, this.headers(), req.route, req.signal, req.timeoutMs, async (res) => {
      if (!stream) {
        const j = parseJson<CompletionChunk>(await res.text(), this.id);
        return { text: j.choices?.[0]?.text ?? '', model: j.model ?? this.model };
      }
      return this.streamText(res, (c) => c?.text, req.onText!);
    });
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    if (!this.capabilities.chat) this.unsupported('chat');
    if (!Array.isArray(req.messages) || req.messages.length === 0) throw new EngineError('bad-request', `${this.id}: chat needs at least one message`);
    // Streamed when the caller passes onText; with tools offered too, the tool calls are put
    // together from their streamed pieces (delta.tool_calls) into the answer message.
    const stream = req.onText !== undefined;
    const body: Record<string, unknown> = { model: this.model, messages: req.messages, max_tokens: req.maxTokens, stream };
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.tools?.length) body.tools = req.tools;
    return this.post('/v1/chat/completions', body, this.headers(), req.route, req.signal, req.timeoutMs, async (res) => {
      if (!stream) {
        const j = parseJson<CompletionChunk>(await res.text(), this.id);
        const message = j.choices?.[0]?.message;
        return { text: message?.content ?? '', model: j.model ?? this.model, ...(req.tools?.length ? { message: message ?? {} } : {}) };
      }
      if (req.tools?.length) return this.streamChatWithTools(res, req.onText!);
      return this.streamText(res, (c) => c?.delta?.content, req.onText!);
    });
  }

  /**
   * A streamed chat answer with tools offered: text goes to onText as it arrives; each tool call
   * comes in pieces keyed by index (id and name first, then the arguments string in fragments).
   */
  private async streamChatWithTools(res: EgressResponse, onText: (t: string) => void): Promise<ChatResult> {
    let text = '';
    let model = this.model;
    const calls: { id?: string; type: string; function: { name: string; arguments: string } }[] = [];
    await readSse(res, (ev) => {
      if (ev.data === '[DONE]') return true;
      const j = parseJson<CompletionChunk>(ev.data, this.id);
      if (j.model) model = j.model;
      const delta = (j.choices?.[0] as { delta?: { content?: string | null; tool_calls?: StreamedToolCall[] } } | undefined)?.delta;
      const t = delta?.content ?? '';
      if (t) {
        text += t;
        onText(t);
      }
      for (const part of delta?.tool_calls ?? []) {
        const i = typeof part.index === 'number' && part.index >= 0 && part.index < 64 ? part.index : calls.length;
        const c = (calls[i] ??= { type: 'function', function: { name: '', arguments: '' } });
        if (part.id) c.id = part.id;
        if (part.function?.name) c.function.name += part.function.name;
        if (part.function?.arguments) c.function.arguments += part.function.arguments;
      }
      return false;
    });
    const toolCalls = calls.filter((c) => c !== undefined);
    return { text, model, message: { role: 'assistant', content: text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) } };
  }

  /** Reads an SSE stream of chunks until [DONE], passing each piece of text on as it arrives. */
  private async streamText(
    res: EgressResponse,
    pick: (choice: NonNullable<CompletionChunk['choices']>[number] | undefined) => string | null | undefined,
    onText: (t: string) => void,
  ): Promise<{ text: string; model: string }> {
    let text = '';
    let model = this.model;
    await readSse(res, (ev) => {
      if (ev.data === '[DONE]') return true;
      const j = parseJson<CompletionChunk>(ev.data, this.id);
      if (j.model) model = j.model;
      const t = pick(j.choices?.[0]) ?? '';
      if (t) {
        text += t;
        onText(t);
      }
      return false;
    });
    return { text, model };
  }

  async embed(texts: string[], signal?: AbortSignal, route?: RoutePlan): Promise<number[][]> {
    if (!this.capabilities.embeddings) this.unsupported('embeddings');
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) throw new EngineError('bad-request', `${this.id}: embed needs a list of strings`);
    if (texts.length === 0) return [];
    const model = this.opts.config.embeddingModel ?? this.model;
    return this.post('/v1/embeddings', { model, input: texts }, this.headers(), route, signal, undefined, async (res) => {
      const j = parseJson<{ data?: { index: number; embedding: number[] }[] }>(await res.text(), this.id);
      const data = [...(j.data ?? [])].sort((a, b) => a.index - b.index);
      if (data.length !== texts.length) throw new EngineError('bad-request', `${this.id}: asked for ${texts.length} embeddings, got ${data.length}`);
      return data.map((d) => d.embedding);
    });
  }
}
