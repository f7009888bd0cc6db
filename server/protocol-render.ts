// Renders the protocol declarations (server/protocol.ts) into the files generated from them:
// docs/protocol.md (every method with its direction, kind, version, idempotency, doc, params and
// result) and the Neovim plugin's method table (extensions/neovim/lua/hearth/protocol.lua). Written
// by server/generate-protocol.ts; test/unit/protocol-generated.test.ts fails when either drifts.
import { OptionalKind, type TSchema } from '@sinclair/typebox';
import {
  HEARTH_METHODS, HearthErrorCodes, Lsp, McpMeta, METHOD_PREFIX, PROTOCOL_MAX, PROTOCOL_MIN, type NotificationDecl, type RequestDecl,
} from './protocol.js';

export const GENERATE_PROTOCOL_COMMAND = 'node --import tsx server/generate-protocol.ts';

type Decl = RequestDecl | NotificationDecl;
type Schema = TSchema & Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Schemas as compact TypeScript-like types

const isOptional = (s: TSchema): boolean => (s as unknown as Record<symbol, unknown>)[OptionalKind] === 'Optional';
const WIDTH = 100;

function bounds(lo: unknown, hi: unknown, exclusiveLo?: unknown): string {
  if (typeof exclusiveLo === 'number') return typeof hi === 'number' ? `> ${exclusiveLo}, ≤ ${hi}` : `> ${exclusiveLo}`;
  if (typeof lo === 'number' && typeof hi === 'number') return `${lo}..${hi}`;
  if (typeof lo === 'number') return `≥ ${lo}`;
  if (typeof hi === 'number') return `≤ ${hi}`;
  return '';
}

function scalar(s: Schema): string | undefined {
  if ('const' in s) return JSON.stringify(s['const']);
  switch (s['type']) {
    case 'string': {
      const b = bounds(s['minLength'], s['maxLength']);
      const parts = [b, typeof s['pattern'] === 'string' ? `/${s['pattern']}/` : ''].filter(Boolean);
      return parts.length ? `string(${parts.join(', ')})` : 'string';
    }
    case 'integer':
    case 'number': {
      const b = bounds(s['minimum'], s['maximum'], s['exclusiveMinimum']);
      return b ? `${s['type']}(${b})` : s['type'];
    }
    case 'boolean':
    case 'null':
      return s['type'];
    default:
      return s['type'] === undefined && !('anyOf' in s) ? 'unknown' : undefined;
  }
}

function arrayOf(item: string, s: Schema): string {
  const max = typeof s['maxItems'] === 'number' ? `, ≤ ${s['maxItems']} items` : '';
  if (!max && /^[\w"]+(\([^)]*\))?$/.test(item)) return `${item}[]`;
  return `Array<${item}${max}>`;
}

/** One line, whatever its length. */
function inline(s: Schema): string {
  const sc = scalar(s);
  if (sc !== undefined) return sc;
  if (Array.isArray(s['anyOf'])) return (s['anyOf'] as Schema[]).map(inline).join(' | ');
  if (s['type'] === 'array') return arrayOf(inline(s['items'] as Schema), s);
  if (s['type'] === 'object') {
    const [open, close] = s['additionalProperties'] === false ? ['{|', '|}'] : ['{', '}'];
    const fields = fieldsOf(s).map(([k, v, opt]) => `${k}${opt ? '?' : ''}: ${inline(v)}`);
    const record = recordOf(s);
    if (record) fields.push(`[key: string]: ${inline(record)}`);
    return fields.length ? `${open} ${fields.join(', ')} ${close}` : `${open}${close}`;
  }
  return JSON.stringify(s);
}

function fieldsOf(s: Schema): Array<[string, Schema, boolean]> {
  const props = (s['properties'] ?? {}) as Record<string, Schema>;
  const required = new Set((s['required'] ?? []) as string[]);
  return Object.entries(props).map(([k, v]) => [k, v, !required.has(k) || isOptional(v)]);
}

function recordOf(s: Schema): Schema | undefined {
  const pp = s['patternProperties'] as Record<string, Schema> | undefined;
  return pp ? Object.values(pp)[0] : undefined;
}

/**
 * Inline when it fits in WIDTH columns from `column`, else one field per line: nested blocks are
 * indented two spaces from `indent`, the indentation of the line the type starts on.
 */
export function renderSchema(s: TSchema, indent = 0, column = indent): string {
  const sch = s as Schema;
  const one = inline(sch);
  if (column + one.length <= WIDTH) return one;
  if (Array.isArray(sch['anyOf'])) {
    // Members side by side; a long one breaks into its own block (`{ … } | null`, `{ … } | { … }`).
    return (sch['anyOf'] as Schema[]).map((m) => renderSchema(m, indent, column)).join(' | ');
  }
  if (sch['type'] === 'array') return arrayOf(renderSchema(sch['items'] as Schema, indent, column + 6), sch);
  if (sch['type'] === 'object') {
    const [open, close] = sch['additionalProperties'] === false ? ['{|', '|}'] : ['{', '}'];
    const inner = ' '.repeat(indent + 2);
    const line = (k: string, v: Schema): string => `${inner}${k}: ${renderSchema(v, indent + 2, indent + 4 + k.length)},`;
    const lines = fieldsOf(sch).map(([k, v, opt]) => line(opt ? `${k}?` : k, v));
    const record = recordOf(sch);
    if (record) lines.push(line('[key: string]', record));
    return `${open}\n${lines.join('\n')}\n${' '.repeat(indent)}${close}`;
  }
  return one;
}

// ---------------------------------------------------------------------------------------------
// docs/protocol.md

const arrow = (d: Decl): string => (d.direction === 'clientToServer' ? 'client → server' : 'server → client');
const slug = (heading: string): string => heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
const idempotency = (d: Decl): string => (d.kind === 'notification' ? '—' : d.idempotent ? 'yes' : d.requestKey ? `by \`${d.requestKey}\`` : 'no');

function section(d: Decl): string[] {
  const facts = [d.kind, arrow(d), `since ${d.since}`];
  if (d.kind === 'request') {
    facts.push(d.idempotent ? 'idempotent (a bridge may resend it after a reconnect)'
      : d.requestKey ? `not idempotent; resent safely with \`${d.requestKey}\` (the daemon answers a repeated key with the first result)`
        : 'not idempotent (never resent)');
  }
  const params = isOptional(d.params) ? 'Params (may be omitted):' : 'Params:';
  const out = [`### ${d.method}`, '', facts.join(' · '), '', d.doc, '', params, '', '```ts', renderSchema(d.params), '```', ''];
  if (d.kind === 'request') out.push('Result:', '', '```ts', renderSchema(d.result), '```', '');
  return out;
}

function summary(decls: readonly Decl[]): string[] {
  return [
    '| method | kind | direction | since | idempotent |',
    '|---|---|---|---|---|',
    ...decls.map((d) => `| [\`${d.method}\`](#${slug(d.method)}) | ${d.kind} | ${arrow(d)} | ${d.since} | ${idempotency(d)} |`),
  ];
}

export function lspDecls(): Decl[] {
  return Object.values(Lsp) as Decl[];
}

/** docs/protocol.md */
export function renderMarkdown(): string {
  const hearth = [...HEARTH_METHODS];
  const lsp = lspDecls();
  return [
    '<!-- Generated from server/protocol.ts; do not edit. -->',
    `<!-- \`${GENERATE_PROTOCOL_COMMAND}\` rewrites it; test/unit/protocol-generated.test.ts fails when it drifts. -->`,
    '# The Hearth protocol',
    '',
    'Every message between a client (the bridge `hearth lsp --stdio` an editor launches, the CLI, `hearth mcp`)',
    'and the daemon, as [server/protocol.ts](../server/protocol.ts) declares it. The daemon checks every',
    'params object against its schema before a handler runs (InvalidParams names the failing field); every',
    'result matches its schema (checked in tests, and by the daemon with `HEARTH_VALIDATE_RESULTS=1`).',
    'Clients import these declarations (`connection.sendRequest(Status.type, {})`); the Neovim plugin reads',
    'the generated table extensions/neovim/lua/hearth/protocol.lua. Nobody retypes a method name.',
    '',
    `Protocol versions this build speaks: ${PROTOCOL_MIN}..${PROTOCOL_MAX} (agreed in \`${METHOD_PREFIX}hello\`). Framing, limits`,
    'and the hello rule: [isolation.md](isolation.md) and the README\'s architecture section.',
    '',
    'How to read the schemas: TypeScript-like types. `x?:` may be absent; `{| … |}` is a closed object',
    '(a field not listed is refused, InvalidParams names it); `{ … }` may carry more fields (results grow in',
    'later versions: clients ignore what they do not know); `string(1..256)` bounds the length,',
    '`integer(≥ 0)` the value; `"a" | "b"` is one of these strings. Idempotent: a bridge may send it again',
    'when the daemon went away before answering (otherwise it answers the editor with an error rather than',
    'repeat an effect).',
    '',
    '## Methods',
    '',
    ...summary(hearth),
    '',
    '## Standard LSP methods the daemon serves',
    '',
    'Names from vscode-languageserver-protocol; the schemas check only the fields the daemon reads.',
    '',
    ...summary(lsp),
    '',
    '## Error codes',
    '',
    'Beyond the JSON-RPC ones (ParseError -32700, InvalidRequest -32600, MethodNotFound -32601, InvalidParams',
    '-32602, InternalError -32603, RequestCancelled -32800):',
    '',
    '| code | name |',
    '|---|---|',
    ...Object.entries(HearthErrorCodes).map(([name, code]) => `| ${code} | ${name} |`),
    '',
    '## MCP `_meta` keys',
    '',
    '`hearth mcp` (server/mcp.ts) reads and writes these keys in MCP `_meta` objects:',
    '',
    '| key | where |',
    '|---|---|',
    ...Object.values(McpMeta).map((m) => `| \`${m.key}\` | ${m.doc} |`),
    '',
    '## Hearth methods in detail',
    '',
    ...hearth.flatMap(section),
    '## LSP methods in detail',
    '',
    ...lsp.flatMap(section),
  ].join('\n').replace(/\n+$/, '\n');
}

// ---------------------------------------------------------------------------------------------
// extensions/neovim/lua/hearth/protocol.lua

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The Lua key of a hearth/* method: the path after the prefix, snake_case, '/' → '_' (hearth/memory/didChange → memory_did_change). */
export function luaKey(method: string): string {
  if (!method.startsWith(METHOD_PREFIX)) throw new Error(`${method} is not a ${METHOD_PREFIX}* method`);
  return method.slice(METHOD_PREFIX.length).split('/').map(snake).join('_');
}

function luaTable(entries: Array<[string, string]>, indent: string): string[] {
  const seen = new Set<string>();
  for (const [k, m] of entries) {
    if (!/^[a-z][a-z0-9_]*$/.test(k)) throw new Error(`${m} gives the Lua key "${k}", not a Lua identifier`);
    if (seen.has(k)) throw new Error(`two methods give the Lua key "${k}"`);
    seen.add(k);
  }
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, m]) => `${indent}${k.padEnd(width)} = '${m}',`);
}

/** extensions/neovim/lua/hearth/protocol.lua */
export function renderLua(): string {
  const hearth = HEARTH_METHODS.map((d): [string, string] => [luaKey(d.method), d.method]);
  const lsp = Object.entries(Lsp).map(([k, d]): [string, string] => [snake(k), d.method]);
  return [
    '-- Generated from server/protocol.ts, the one declaration of every method; do not edit.',
    `--   ${GENERATE_PROTOCOL_COMMAND}`,
    '-- rewrites it; test/unit/protocol-generated.test.ts fails when it drifts. Every method is documented in',
    '-- docs/protocol.md. Keys: the method\'s path after hearth/, in snake_case (hearth/memory/didChange is',
    '-- memory_did_change); lsp: the standard LSP methods the daemon serves.',
    'local M = {',
    ...luaTable(hearth, '  '),
    '}',
    '',
    'M.lsp = {',
    ...luaTable(lsp, '  '),
    '}',
    '',
    'return M',
    '',
  ].join('\n');
}
