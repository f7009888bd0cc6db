// Renders the settings declaration (server/settings.ts) into the files generated from it: the
// Neovim plugin's option table (extensions/neovim/lua/hearth/settings.lua), its `:help` file and
// help tags (extensions/neovim/doc/hearth.txt, doc/tags) and docs/configuration.md. The VS Code
// manifest comes from vscodeConfiguration() in settings.ts. Written by
// extensions/vscode/scripts/generate-settings.mts; test/unit/settings.test.ts fails on drift.
import { MEMORY_KINDS } from '../core/memory/types.js';
import { SETTINGS, expected, type Setting, type SettingValue } from './settings.js';

export const GENERATE_COMMAND = 'node --import tsx extensions/vscode/scripts/generate-settings.mts';

const neovimOptions = (): Array<Setting & { clients: { neovim: string } }> =>
  SETTINGS.filter((s): s is Setting & { clients: { neovim: string } } => typeof s.clients.neovim === 'string')
    .sort((a, b) => (a.clients.neovim < b.clients.neovim ? -1 : 1));

// ---------------------------------------------------------------------------------------------
// Lua

function luaString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function luaValue(v: SettingValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return luaString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{ ${v.map(luaString).join(', ')} }`;
  const entries = Object.entries(v as Record<string, string>);
  return entries.length ? `{ ${entries.map(([k, x]) => `[${luaString(k)}] = ${luaString(x)}`).join(', ')} }` : '{}';
}

const LUA_TYPE = { string: 'string', boolean: 'boolean', integer: 'integer', stringList: 'list', stringMap: 'map' } as const;

function luaSpec(s: Setting): string {
  const parts = [`type = '${LUA_TYPE[s.type]}'`];
  if (s.type === 'string' && s.enum) parts.push(`enum = ${luaValue(s.enum)}`);
  if (s.type === 'integer') parts.push(`min = ${s.minimum}`, `max = ${s.maximum}`);
  return `{ ${parts.join(', ')} }`;
}

/** extensions/neovim/lua/hearth/settings.lua */
export function renderLua(): string {
  const opts = neovimOptions();
  const client = opts.filter((s) => s.owner === 'client');
  const daemon = opts.filter((s) => s.owner === 'daemon');
  const width = Math.max(...opts.map((s) => s.clients.neovim.length));
  const lines = [
    '-- Generated from server/settings.ts, the one declaration of Hearth\'s settings; do not edit.',
    `--   ${GENERATE_COMMAND}`,
    '-- rewrites it; test/unit/settings.test.ts fails when it drifts. Documented in :help hearth-options.',
    'local M = {}',
    '',
    '--- Options of require(\'hearth\').setup{} that the plugin reads itself, with their defaults (nil: computed',
    '--- at setup, see :help hearth-options).',
    'M.defaults = {',
    ...client.map((s) => `  ${s.clients.neovim.padEnd(width)} = ${luaValue(s.default)},`),
    '}',
    '',
    '--- The type of each plugin option, checked by setup{}: string, boolean, integer (min..max), list (of',
    '--- strings), map (string to string); enum lists the allowed strings.',
    'M.types = {',
    ...client.map((s) => `  ${s.clients.neovim.padEnd(width)} = ${luaSpec(s)},`),
    '}',
    '',
    '--- Options the daemon reads (:help hearth-daemon-settings): each one\'s path in the `hearth` section that',
    '--- setup{} sends as initializationOptions and answers workspace/configuration with. Unset: the daemon\'s',
    '--- default; the daemon checks the values and warns about a bad one.',
    'M.daemon = {',
    ...daemon.map((s) => `  ${s.clients.neovim.padEnd(width)} = { ${s.key.replace(/^hearth\./, '').split('.').map(luaString).join(', ')} },`),
    '}',
    '',
    '--- The kinds of memory items (core/memory/types.ts MEMORY_KINDS), for :Hearth remember [kind].',
    `M.memory_kinds = { ${MEMORY_KINDS.map(luaString).join(', ')} }`,
    '',
    'return M',
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// :help

const HELP_WIDTH = 78;

function wrap(text: string, indent: string, width = HELP_WIDTH): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

/** `left` and the tag `*tag*` right-aligned on one line (or the tag on a line of its own). */
function tagLine(left: string, tag: string): string {
  const t = `*${tag}*`;
  const pad = HELP_WIDTH - left.length - t.length;
  return pad >= 1 ? left + ' '.repeat(pad) + t : `${' '.repeat(Math.max(0, HELP_WIDTH - t.length))}${t}\n${left}`;
}

function helpDefault(s: Setting): string {
  if (s.default === null) return 'unset';
  return luaValue(s.default);
}

function helpType(s: Setting): string {
  const t = LUA_TYPE[s.type];
  if (s.type === 'integer') return `integer, ${s.minimum}..${s.maximum}`;
  if (s.type === 'string' && s.enum) return `string: ${s.enum.map(luaString).join(' or ')}`;
  if (s.type === 'stringList' && s.items) return `list of ${s.items.map(luaString).join(', ')}`;
  return t;
}

function helpEntry(s: Setting & { clients: { neovim: string } }): string[] {
  const name = s.clients.neovim;
  const lines = [
    tagLine(name, `hearth-option-${name}`),
    ...wrap(`${helpType(s)}; default: ${helpDefault(s)}`, '    '),
    ...wrap(s.description.replace(/ Any LSP client can send it:.*$/, ''), '    '),
  ];
  if (s.type === 'string' && s.enum && s.enumDescriptions) {
    s.enum.forEach((e, i) => lines.push(...wrap(`${luaString(e)}: ${s.enumDescriptions![i] ?? ''}`, '      ')));
  }
  if (s.owner === 'daemon') lines.push(...wrap(`The daemon's setting ${s.key}.`, '    '));
  if (s.elsewhere) lines.push(...wrap(`Other editors: ${s.elsewhere}`, '    '));
  lines.push('');
  return lines;
}

const rule = '='.repeat(HELP_WIDTH);

/** extensions/neovim/doc/hearth.txt */
export function renderHelp(): string {
  const opts = neovimOptions();
  const lines = [
    `*hearth.txt*  Ghost text, route plans and shared memory from the Hearth daemon`,
    '',
    'Generated from server/settings.ts by',
    `  ${GENERATE_COMMAND}`,
    'Do not edit: test/unit/settings.test.ts fails when this file drifts.',
    '',
    rule,
    tagLine('CONTENTS', 'hearth-contents'),
    '',
    '  1. Setup ................................... |hearth-setup|',
    '  2. Options the plugin reads ................ |hearth-options|',
    '  3. Settings the daemon reads ............... |hearth-daemon-settings|',
    '  4. Commands ................................ |hearth-commands|',
    '',
    rule,
    tagLine('1. SETUP', 'hearth-setup'),
    '',
    'Neovim 0.7.2 or later. Put extensions/neovim of a Hearth checkout on the',
    "'runtimepath' and call setup() once, with any of the options below: >",
    '',
    "    require('hearth').setup{",
    "      accept_key = '<Tab>',",
    "      completion_max_tokens = 32,",
    '    }',
    '<',
    'setup() starts `hearth lsp --stdio` (the bridge to the per-user daemon) and',
    'attaches normal buffers. An option it does not know is reported and ignored;',
    'a plugin option of the wrong type is an error. `:checkhealth hearth` says',
    'what is missing.',
    '',
    rule,
    tagLine('2. OPTIONS THE PLUGIN READS', 'hearth-options'),
    '',
    ...opts.filter((s) => s.owner === 'client').flatMap(helpEntry),
    rule,
    tagLine('3. SETTINGS THE DAEMON READS', 'hearth-daemon-settings'),
    '',
    ...wrap('The daemon decides these for this Neovim only: setup() sends the ones you set as initializationOptions (the `hearth` section) and answers workspace/configuration with them. Unset ones take the daemon\'s default. The daemon checks each value against its declaration; a bad one is shown as a warning (vim.notify) and the default is used instead. The same settings in VS Code are `hearth.completion.*`; in other editors the `hearth` section of initializationOptions.', ''),
    '',
    ...opts.filter((s) => s.owner === 'daemon').flatMap(helpEntry),
    rule,
    tagLine('4. COMMANDS', 'hearth-commands'),
    '',
    tagLine(':Hearth {subcommand}', ':Hearth'),
    '    status     the daemon, its clients and the last route',
    '    explain    the route plan at the cursor: provider, rule, every piece',
    '    egress     every attempt to send data off this machine',
    '    accept     insert the ghost text (what `accept_key` does)',
    '    stop       stop this client (the daemon keeps running)',
    '    remember   [range] remember the selection in the shared memory [kind]',
    '    memory     the workspace\'s memory, or the hits for [query], in quickfix',
    '    allow      [once|session|always] answer the waiting egress ask',
    '    deny       decline the waiting egress ask (nothing is sent)',
    '    payload    the waiting egress ask\'s whole payload in a split',
    '    ask        [range] {question} ask with the buffer (or range) as context',
    '    cancel     stop the answer being streamed',
    '    approve    {once|session|always|deny} [id] answer the waiting tool',
    '               approval (the newest, or the one with that action id)',
    '    Completion after :Hearth lists every subcommand this version has.',
    '',
    ' vim:tw=78:ts=8:ft=help:norl:',
    '',
  ];
  return lines.join('\n');
}

/** extensions/neovim/doc/tags, as :helptags would write it (so :help works from a clone). */
export function renderHelpTags(help = renderHelp()): string {
  const tags = [...help.matchAll(/\*([^*\s|]+)\*/g)].map((m) => m[1]!);
  return [...new Set(tags)].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))).map((t) => `${t}\thearth.txt\t/*${t.replace(/[\\/]/g, '\\$&')}*`).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md

function mdDefault(s: Setting): string {
  if (s.default === null) return 'unset';
  if (Array.isArray(s.default)) return s.default.map((x) => `\`${x}\``).join(', ');
  return `\`${JSON.stringify(s.default)}\``;
}

const cell = (t: string): string => t.replace(/\|/g, '\\|');

/** docs/configuration.md */
export function renderMarkdown(): string {
  const daemon = SETTINGS.filter((s) => s.owner === 'daemon');
  const client = SETTINGS.filter((s) => s.owner === 'client');
  const clientsOf = (s: Setting): string => [
    ...(s.clients.vscode ? [`VS Code \`${s.key}\``] : []),
    ...(s.clients.neovim ? [`Neovim \`${s.clients.neovim}\``] : []),
  ].join(', ');
  return [
    '# Configuration',
    '',
    `<!-- Generated from server/settings.ts by \`${GENERATE_COMMAND}\`; do not edit. test/unit/settings.test.ts fails when it drifts. -->`,
    '',
    'Every Hearth setting is declared once, in [server/settings.ts](../server/settings.ts). From that',
    'declaration come the VS Code manifest (`contributes.configuration`), the Neovim plugin\'s option',
    'table (`extensions/neovim/lua/hearth/settings.lua`) and `:help hearth-options`, and this page.',
    'The policy (what may leave the machine, and where) is not an editor setting: see [policy.md](policy.md).',
    '',
    '## Settings the daemon reads',
    '',
    'The daemon decides these per session, so two editors attached to the same daemon can differ.',
    'It reads, for each session, in this order (a later source wins, key by key):',
    '',
    '1. the declared default;',
    '2. `initializationOptions.hearth` of the editor\'s LSP `initialize` (VS Code and Neovim send the',
    '   values you set there; the bridge replays them to a restarted daemon);',
    '3. the `hearth` section of `workspace/configuration`, which the daemon asks for after `initialized`',
    '   when the editor declares `capabilities.workspace.configuration`, and again on',
    '   `workspace/didChangeConfiguration` without settings; or the `hearth` object a',
    '   `workspace/didChangeConfiguration` pushes (VS Code pushes on every change).',
    '',
    'Each value is checked against its declaration. A value that does not fit (wrong type, out of',
    'range), and a key that is no Hearth setting, are reported to that editor as a `window/showMessage`',
    'warning naming the key, the value, what it must be and where to fix it; the default (or the',
    'previous source\'s value) is used and every other setting applies. Nested objects',
    '(`{ "completion": { "maxTokens": 16 } }`) and dotted keys (`{ "completion.maxTokens": 16 }`) are',
    'both accepted; `null` means "not set".',
    '',
    '| setting | type | default | where | what it decides |',
    '|---|---|---|---|---|',
    ...daemon.map((s) => `| \`${s.key}\` | ${cell(expected(s))} | ${mdDefault(s)} | ${clientsOf(s)} | ${cell(s.description.replace(/ Any LSP client can send it:.*$/, ''))} |`),
    '',
    'Other LSP clients send them as `initializationOptions` and answer `workspace/configuration`, e.g.',
    'Helix (`languages.toml`):',
    '',
    '```toml',
    '[language-server.hearth]',
    'command = "hearth"',
    'args = ["lsp", "--stdio"]',
    'config = { hearth = { completion = { maxTokens = 32, otherBuffers = 0 } } }',
    '```',
    '',
    'Emacs eglot: `(setq-default eglot-workspace-configuration \'(:hearth (:completion (:maxTokens 32))))`.',
    '',
    '## Settings one editor reads',
    '',
    '| setting | clients | type | default | what it does | elsewhere |',
    '|---|---|---|---|---|---|',
    ...client.map((s) => `| \`${s.key}\` | ${clientsOf(s)} | ${cell(expected(s))} | ${mdDefault(s)} | ${cell(s.description)} | ${cell(s.elsewhere ?? '')} |`),
    '',
    '## The daemon\'s environment',
    '',
    'Limits of the daemon as a whole (message size, connections, documents) are not per editor: they are',
    'environment variables of the daemon, listed in the README\'s Configuration table.',
    '',
  ].join('\n');
}
