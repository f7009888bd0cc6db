// Helpers for the ask tests (issue 13, docs/ask.md) in every client: a user policy that routes
// feature chat (and task, so tools are offered) to the scripted model server, and scripted
// streamed answers in the OpenAI chat-completions SSE format whose text arrives in chunks and
// whose tool calls arrive as delta.tool_calls fragments, as real servers send them.
import type { ScriptedReply, ScriptedServer } from './scripted-openai.js';

export interface Call {
  tool: string;
  args: Record<string, unknown>;
}

/**
 * The scripted server as provider `scripted` (model `scripted-chat`, location cloud, features chat
 * and task), first in routes.chat; `action` is the rule for chat to it (ask: the client confirms
 * the payload first).
 */
export function askUserPolicy(server: ScriptedServer, action: 'allow' | 'ask' = 'allow'): string {
  return [
    'version: 1',
    'providers:',
    '  - id: scripted',
    '    kind: openai',
    `    baseUrl: ${server.url}`,
    '    model: scripted-chat',
    '    location: cloud',
    '    features: [chat, task]',
    'routes:',
    '  chat: [scripted]',
    'rules:',
    `  - name: asks may use the scripted model`,
    '    feature: [chat, task]',
    '    provider: [scripted]',
    `    action: ${action}`,
    '',
  ].join('\n');
}

/**
 * A streamed chat answer: each text chunk as one SSE event, then each tool call as three events
 * (id and name, then its JSON arguments in two fragments), then [DONE]; `intervalMs` between events.
 */
export function streamedAnswer(chunks: string[], calls: Call[] = [], intervalMs = 0, model = 'scripted-chat-2025'): ScriptedReply {
  const ev = (delta: unknown): string => JSON.stringify({ model, choices: [{ index: 0, delta }] });
  const events = chunks.map((c) => ev({ content: c }));
  calls.forEach((c, index) => {
    const args = JSON.stringify(c.args);
    const half = Math.floor(args.length / 2);
    events.push(ev({ tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: c.tool.replace(/\./g, '_'), arguments: '' } }] }));
    events.push(ev({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }));
    events.push(ev({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
  });
  events.push('[DONE]');
  return { sse: events, ...(intervalMs ? { sseIntervalMs: intervalMs } : {}) };
}

/** The fs.edit the tests propose: one search/replace in `file` (workspace-relative). */
export function renameEdit(file: string, search: string, replace: string): Call {
  return { tool: 'fs.edit', args: { path: file, edits: [{ search, replace }] } };
}
