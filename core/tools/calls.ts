// Model tool calls in the two wire formats Hearth's providers speak, turned into one internal
// shape; and Hearth's tools described in each format. Function names on the wire cannot hold dots
// (OpenAI: ^[a-zA-Z0-9_-]+$), so `fs.read` is sent as `fs_read`; both spellings are accepted back.
import { TOOL_NAMES, type ToolName } from './schema.js';
import type { ToolExecutor } from './executor.js';

export interface ParsedToolCall {
  /** The provider's id for the call (tool_call id / tool_use id), to answer it. */
  id: string;
  tool: ToolName;
  args: unknown;
}

export class ToolCallParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolCallParseError';
  }
}

export function wireName(tool: ToolName): string {
  return tool.replace(/\./g, '_');
}

export function toolFromWireName(name: string): ToolName {
  const found = TOOL_NAMES.find((t) => t === name || wireName(t) === name);
  if (!found) throw new ToolCallParseError(`the model called an unknown tool ${JSON.stringify(name)}; Hearth's tools are ${TOOL_NAMES.map(wireName).join(', ')}`);
  return found;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * OpenAI chat completions: `message.tool_calls` = [{ id, type: 'function', function: { name,
 * arguments: '<JSON text>' } }]. Accepts the message or the array itself.
 */
export function parseOpenAIToolCalls(input: unknown): ParsedToolCall[] {
  const list = isObject(input) ? input.tool_calls ?? [] : input;
  if (!Array.isArray(list)) throw new ToolCallParseError('tool_calls must be a list');
  return list.map((c, i) => {
    if (!isObject(c) || !isObject(c.function)) throw new ToolCallParseError(`tool_calls[${i}] has no function object`);
    if (c.type !== undefined && c.type !== 'function') throw new ToolCallParseError(`tool_calls[${i}].type is ${JSON.stringify(c.type)}; only function calls are supported`);
    const name = c.function.name;
    if (typeof name !== 'string') throw new ToolCallParseError(`tool_calls[${i}].function.name must be a string`);
    const raw = c.function.arguments;
    let args: unknown;
    if (typeof raw === 'string') {
      try {
        args = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch (e) {
        throw new ToolCallParseError(`tool_calls[${i}].function.arguments is not valid JSON (${(e as Error).message})`);
      }
    } else if (isObject(raw)) {
      args = raw; // some OpenAI-compatible servers (Ollama) send an object
    } else {
      throw new ToolCallParseError(`tool_calls[${i}].function.arguments must be a JSON string`);
    }
    return { id: typeof c.id === 'string' ? c.id : `call_${i}`, tool: toolFromWireName(name), args };
  });
}

/**
 * Anthropic messages: `content` blocks; each `{ type: 'tool_use', id, name, input }` is a call.
 * Accepts the message or the content array.
 */
export function parseAnthropicToolUse(input: unknown): ParsedToolCall[] {
  const content = isObject(input) ? input.content : input;
  if (!Array.isArray(content)) throw new ToolCallParseError('content must be a list of blocks');
  const out: ParsedToolCall[] = [];
  content.forEach((b, i) => {
    if (!isObject(b) || b.type !== 'tool_use') return;
    if (typeof b.name !== 'string') throw new ToolCallParseError(`content[${i}].name must be a string`);
    if (!isObject(b.input)) throw new ToolCallParseError(`content[${i}].input must be an object`);
    out.push({ id: typeof b.id === 'string' ? b.id : `toolu_${i}`, tool: toolFromWireName(b.name), args: b.input });
  });
  return out;
}

/** `tools` for an OpenAI chat-completions request. */
export function openAIToolDefinitions(executor: Pick<ToolExecutor, 'tools'>): object[] {
  return executor.tools().map((t) => ({ type: 'function', function: { name: wireName(t.name), description: t.description, parameters: t.inputSchema } }));
}

/** `tools` for an Anthropic messages request. */
export function anthropicToolDefinitions(executor: Pick<ToolExecutor, 'tools'>): object[] {
  return executor.tools().map((t) => ({ name: wireName(t.name), description: t.description, input_schema: t.inputSchema }));
}
