// Every Hearth setting, declared once. Two owners:
//   - 'daemon': the daemon decides with it, per session. Editors send it as LSP
//     `initializationOptions.hearth` and answer `workspace/configuration` (section `hearth`) or push
//     `workspace/didChangeConfiguration`; server/config-feature.ts validates it against this list
//     (a bad value: a window/showMessage warning to that editor, the default used).
//   - 'client': one editor plugin reads it; `clients` says which, and its name there.
// Generated from this list (extensions/vscode/scripts/generate-settings.mts; test/unit/settings.test.ts
// fails when any of them drifts): the VS Code manifest's `contributes.configuration`, the Neovim
// plugin's defaults (extensions/neovim/lua/hearth/settings.lua), its `:help` file
// (extensions/neovim/doc/hearth.txt, doc/tags) and docs/configuration.md.
//
// Plain data only: no vscode, transport or daemon imports, so the extension bundle can include it.
import { MEMORY_KINDS } from '../core/memory/types.js';

export type SettingScope = 'application' | 'machine' | 'window' | 'resource';
export type SettingOwner = 'daemon' | 'client';

/** The clients that offer a setting, and how. */
export interface SettingClients {
  /** A VS Code setting named `key`, with its VS Code scope. */
  readonly vscode?: { readonly scope: SettingScope };
  /** An option of the Neovim plugin's `require('hearth').setup{}`, by this name. */
  readonly neovim?: string;
}

interface SettingBase {
  /** Full key, e.g. `hearth.completion.maxTokens`: VS Code's setting id; for daemon settings, the path under the `hearth` section. */
  readonly key: string;
  readonly owner: SettingOwner;
  readonly description: string;
  readonly clients: SettingClients;
  /** What clients that do not offer it do instead (shown in the docs). */
  readonly elsewhere?: string;
}

export interface StringSetting extends SettingBase {
  readonly type: 'string';
  /** null: computed when the client starts (the description says how). */
  readonly default: string | null;
  readonly enum?: readonly string[];
  readonly enumDescriptions?: readonly string[];
}

export interface BooleanSetting extends SettingBase {
  readonly type: 'boolean';
  readonly default: boolean;
}

export interface IntegerSetting extends SettingBase {
  readonly type: 'integer';
  readonly default: number;
  readonly minimum: number;
  readonly maximum: number;
}

/** A list of strings (Neovim: a list table), optionally each from `items`. */
export interface StringListSetting extends SettingBase {
  readonly type: 'stringList';
  readonly default: readonly string[] | null;
  readonly items?: readonly string[];
  readonly maxItems: number;
}

/** A map of strings to strings (Neovim: a dictionary table). */
export interface StringMapSetting extends SettingBase {
  readonly type: 'stringMap';
  readonly default: Readonly<Record<string, string>> | null;
}

export type Setting = StringSetting | BooleanSetting | IntegerSetting | StringListSetting | StringMapSetting;
export type SettingValue = Setting['default'];

const EDITORS = ' Any LSP client can send it: `initializationOptions.hearth` or the `hearth` section of `workspace/configuration`.';

/** What the daemon decides per session. Each one is read by the code named in its description. */
const DAEMON_SETTINGS = [
  {
    key: 'hearth.completion.maxTokens',
    owner: 'daemon',
    type: 'integer',
    default: 48,
    minimum: 1,
    maximum: 512,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_max_tokens' },
    description: 'Longest ghost-text completion, in tokens: the limit the daemon passes to the engine or provider (`max_tokens` for remote ones).' + EDITORS,
  },
  {
    key: 'hearth.completion.prefixChars',
    owner: 'daemon',
    type: 'integer',
    default: 4000,
    minimum: 0,
    maximum: 64000,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_prefix_chars' },
    description: 'Context budget before the cursor: at most this many characters of the current buffer (whole lines) go into a completion\'s context and its route plan.' + EDITORS,
  },
  {
    key: 'hearth.completion.suffixChars',
    owner: 'daemon',
    type: 'integer',
    default: 1000,
    minimum: 0,
    maximum: 16000,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_suffix_chars' },
    description: 'Context budget after the cursor: at most this many characters of the current buffer (whole lines).' + EDITORS,
  },
  {
    key: 'hearth.completion.otherBuffers',
    owner: 'daemon',
    type: 'integer',
    default: 3,
    minimum: 0,
    maximum: 10,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_other_buffers' },
    description: 'Snippets from other open buffers (of any attached editor, same language) added to a completion\'s context; 0: only the current buffer.' + EDITORS,
  },
  {
    key: 'hearth.completion.memory.items',
    owner: 'daemon',
    type: 'integer',
    default: 3,
    minimum: 0,
    maximum: 10,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_memory_items' },
    description: 'Shared-memory items (the most relevant, same language) added to a completion\'s context; 0: none.' + EDITORS,
  },
  {
    key: 'hearth.completion.memory.kinds',
    owner: 'daemon',
    type: 'stringList',
    default: [...MEMORY_KINDS],
    items: [...MEMORY_KINDS],
    maxItems: MEMORY_KINDS.length,
    clients: { vscode: { scope: 'window' }, neovim: 'completion_memory_kinds' },
    description: 'Which kinds of memory items may feed completions (the others are still searchable and used by tasks).' + EDITORS,
  },
] as const satisfies readonly Setting[];

/** What one editor plugin reads itself. */
const CLIENT_SETTINGS = [
  {
    key: 'hearth.path',
    owner: 'client',
    type: 'string',
    default: '',
    clients: { vscode: { scope: 'machine' } },
    elsewhere: 'Neovim: `cmd`.',
    description:
      'Command that runs the Hearth CLI (an absolute path to `bin/hearth` of a checkout, or `hearth` on PATH). ' +
      'Empty: use the CLI packed inside the extension, started with the editor\'s own Node runtime. ' +
      'The extension always runs it as `<path> lsp --stdio`.',
  },
  {
    key: 'hearth.home',
    owner: 'client',
    type: 'string',
    default: '',
    clients: { vscode: { scope: 'machine' } },
    elsewhere: 'Neovim: `cmd_env = { HEARTH_HOME = ... }`.',
    description:
      'HEARTH_HOME for the launched bridge (where the daemon keeps its state). Empty: inherit the environment, ' +
      'or the default `~/.local/share/hearth`.',
  },
  {
    key: 'hearth.inlineCompletion.enabled',
    owner: 'client',
    type: 'boolean',
    default: true,
    clients: { vscode: { scope: 'resource' } },
    elsewhere: 'Neovim: `filetypes` limits where completions run; `:Hearth stop` ends them.',
    description: 'Show ghost-text completions from the Hearth daemon while typing.',
  },
  {
    key: 'hearth.egress.prompt',
    owner: 'client',
    type: 'boolean',
    default: true,
    clients: { vscode: { scope: 'application' } },
    elsewhere: 'Neovim: `egress_ask`.',
    description:
      'Answer the daemon\'s egress confirmations (data about to leave the machine) with a modal prompt. ' +
      'When off, every confirmation is answered "deny" and logged in the Hearth output channel.',
  },
  {
    key: 'hearth.trace.server',
    owner: 'client',
    type: 'string',
    default: 'off',
    enum: ['off', 'messages', 'verbose'],
    enumDescriptions: ['No LSP trace.', 'Trace message names.', 'Trace messages with their payloads.'],
    clients: { vscode: { scope: 'window' } },
    elsewhere: 'Neovim: `vim.lsp.set_log_level(\'debug\')`, then `:lua vim.cmd.edit(vim.lsp.get_log_path())`.',
    description: 'Trace the LSP traffic between the editor and `hearth lsp --stdio` in the Hearth output channel.',
  },
  {
    key: 'hearth.cmd',
    owner: 'client',
    type: 'stringList',
    default: null,
    maxItems: 64,
    clients: { neovim: 'cmd' },
    elsewhere: 'VS Code: `hearth.path`.',
    description: 'The command that starts the bridge, as a list such as `{ \'hearth\', \'lsp\', \'--stdio\' }`. ' +
      'Unset: `hearth` on PATH, else the `bin/hearth` of the checkout the plugin came from.',
  },
  {
    key: 'hearth.cmdEnv',
    owner: 'client',
    type: 'stringMap',
    default: null,
    clients: { neovim: 'cmd_env' },
    elsewhere: 'VS Code: `hearth.home`.',
    description: 'Extra environment for the bridge, e.g. `{ HEARTH_HOME = \'/path\' }`. Unset: Neovim\'s own environment.',
  },
  {
    key: 'hearth.acceptKey',
    owner: 'client',
    type: 'string',
    default: '<Tab>',
    clients: { neovim: 'accept_key' },
    elsewhere: 'VS Code: the keybinding of `editor.action.inlineSuggest.commit` (Tab).',
    description: 'Insert-mode key that accepts the ghost text; without ghost text it types what it always types.',
  },
  {
    key: 'hearth.ghost.style',
    owner: 'client',
    type: 'string',
    default: 'overlay',
    enum: ['overlay', 'eol'],
    enumDescriptions: ['The first line is drawn at the cursor, over the text after it.', 'The first line is drawn after the end of the line.'],
    clients: { neovim: 'ghost' },
    elsewhere: 'VS Code draws inline suggestions itself (`editor.inlineSuggest.*`).',
    description: 'Where the ghost text is drawn; further lines always come below as virtual lines.',
  },
  {
    key: 'hearth.ghost.highlight',
    owner: 'client',
    type: 'string',
    default: 'HearthGhost',
    clients: { neovim: 'hl_group' },
    elsewhere: 'VS Code: the theme colour `editorGhostText.foreground`.',
    description: 'Highlight group of the ghost text (`HearthGhost` links to `Comment` unless you define it).',
  },
  {
    key: 'hearth.debounceMs',
    owner: 'client',
    type: 'integer',
    default: 75,
    minimum: 0,
    maximum: 5000,
    clients: { neovim: 'debounce_ms' },
    elsewhere: 'VS Code asks for inline suggestions on its own schedule.',
    description: 'Milliseconds of no typing before a completion is asked for. The daemon adds no wait of its own unless keystrokes outpace the engine.',
  },
  {
    key: 'hearth.filetypes',
    owner: 'client',
    type: 'stringList',
    default: null,
    maxItems: 1000,
    clients: { neovim: 'filetypes' },
    elsewhere: 'VS Code: `hearth.inlineCompletion.enabled` (per folder).',
    description: 'Filetypes to attach, e.g. `{ \'lua\', \'python\' }`. Unset: every normal buffer with a name.',
  },
  {
    key: 'hearth.egress.ask',
    owner: 'client',
    type: 'string',
    default: 'float',
    enum: ['float', 'select'],
    enumDescriptions: [
      'A completion\'s egress ask shows in a float and the statusline without blocking; `:Hearth allow once|session|always` or `:Hearth deny` answers it, never a stray keystroke.',
      'Every egress ask is the blocking `vim.ui.select`.',
    ],
    clients: { neovim: 'egress_ask' },
    elsewhere: 'VS Code: `hearth.egress.prompt` (a modal prompt).',
    description: 'How an egress ask (data about to leave the machine) is shown. Asks for other features than completions always use `vim.ui.select`.',
  },
  {
    key: 'hearth.approvals.prompt',
    owner: 'client',
    type: 'string',
    default: 'split',
    enum: ['split', 'select'],
    enumDescriptions: [
      'The approval split shows without blocking; `:Hearth approve once|session|always|deny` answers it, and it closes by itself when the approval is answered elsewhere or withdrawn.',
      'The split plus the blocking `vim.ui.select` (with a daemon older than `answerLater`, always this).',
    ],
    clients: { neovim: 'approval_ui' },
    elsewhere: 'VS Code: the approval panel (a cancelled approval closes it).',
    description: 'How a tool approval is asked.',
  },
  {
    key: 'hearth.rootDir',
    owner: 'client',
    type: 'string',
    default: null,
    clients: { neovim: 'root_dir' },
    elsewhere: 'VS Code: the workspace folder.',
    description: 'The workspace root sent to the daemon (its workspace policy and index). Unset: the current directory.',
  },
] as const satisfies readonly Setting[];

export const SETTINGS: readonly Setting[] = [...DAEMON_SETTINGS, ...CLIENT_SETTINGS];

type ValueOfType<T> = T extends 'integer' ? number : T extends 'boolean' ? boolean : T extends 'string' ? string
  : T extends 'stringList' ? readonly string[] : T extends 'stringMap' ? Readonly<Record<string, string>> : never;

export type DaemonSettingKey = (typeof DAEMON_SETTINGS)[number]['key'];
/** The values the daemon uses for one session, every key present. */
export type DaemonSettings = { readonly [S in (typeof DAEMON_SETTINGS)[number] as S['key']]: ValueOfType<S['type']> };

export const DAEMON_SETTING_LIST: readonly Setting[] = DAEMON_SETTINGS;

/** The declared defaults of the daemon's settings (frozen; a session starts with these). */
export const DAEMON_DEFAULTS: DaemonSettings = Object.freeze(Object.fromEntries(DAEMON_SETTINGS.map((s) => [s.key, s.default]))) as unknown as DaemonSettings;

// ---------------------------------------------------------------------------------------------
// VS Code manifest

/** The JSON schema of one setting as VS Code's `contributes.configuration.properties` expects it. */
export function vscodeProperty(s: Setting): Record<string, unknown> {
  const scope = s.clients.vscode?.scope;
  if (!scope) throw new Error(`${s.key} is not a VS Code setting`);
  const description = s.owner === 'daemon' ? `${s.description} Read by the daemon for this window's session.` : s.description;
  switch (s.type) {
    case 'string': {
      const p: Record<string, unknown> = { type: 'string', default: s.default ?? '', scope, markdownDescription: description };
      if (s.enum) {
        p['enum'] = [...s.enum];
        if (s.enumDescriptions) p['enumDescriptions'] = [...s.enumDescriptions];
      }
      return p;
    }
    case 'boolean':
      return { type: 'boolean', default: s.default, scope, markdownDescription: description };
    case 'integer':
      return { type: 'integer', default: s.default, scope, markdownDescription: description, minimum: s.minimum, maximum: s.maximum };
    case 'stringList':
      return {
        type: 'array', default: s.default ? [...s.default] : [], scope, markdownDescription: description,
        items: s.items ? { type: 'string', enum: [...s.items] } : { type: 'string' }, uniqueItems: true, maxItems: s.maxItems,
      };
    case 'stringMap':
      return { type: 'object', default: { ...(s.default ?? {}) }, scope, markdownDescription: description, additionalProperties: { type: 'string' } };
  }
}

/** The whole `contributes.configuration` object of the VS Code manifest: the settings VS Code offers. */
export function vscodeConfiguration(): { title: string; properties: Record<string, Record<string, unknown>> } {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const s of SETTINGS) if (s.clients.vscode) properties[s.key] = vscodeProperty(s);
  return { title: 'Hearth', properties };
}

/** Defaults keyed by setting name. */
export function settingDefaults(): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  for (const s of SETTINGS) out[s.key] = s.default;
  return out;
}

export function findSetting(key: string): Setting {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s) throw new Error(`unknown Hearth setting "${key}"; known: ${SETTINGS.map((x) => x.key).join(', ')}`);
  return s;
}

/** `{ 'hearth.completion.maxTokens': 16 }` → `{ completion: { maxTokens: 16 } }`: the `hearth` section as editors send it. */
export function sectionOf(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const parts = key.replace(/^hearth\./, '').split('.');
    let at = out;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1]!] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation of what an editor sent for the daemon's settings

export interface SettingProblem {
  /** The full key (declared, or as the editor spelled it). */
  key: string;
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function shown(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function shownValue(v: SettingValue): string {
  if (v === null) return 'unset';
  if (Array.isArray(v)) return v.length ? v.join(', ') : 'none';
  return JSON.stringify(v);
}

const shownDefault = (s: Setting): string => shownValue(s.default);

/** What a value of `s` must be, in words. */
export function expected(s: Setting): string {
  switch (s.type) {
    case 'integer': return `an integer from ${s.minimum} to ${s.maximum}`;
    case 'boolean': return 'true or false';
    case 'string': return s.enum ? `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` : 'a string';
    case 'stringList': return s.items ? `a list of at most ${s.maxItems} of ${s.items.map((e) => JSON.stringify(e)).join(', ')}` : `a list of at most ${s.maxItems} strings`;
    case 'stringMap': return 'a map of strings to strings';
  }
}

/** The value as the setting holds it, or undefined when it does not fit the declaration. */
export function checkValue(s: Setting, v: unknown): SettingValue | undefined {
  switch (s.type) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) && v >= s.minimum && v <= s.maximum ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'string':
      return typeof v === 'string' && v.length <= 4096 && (!s.enum || s.enum.includes(v)) ? v : undefined;
    case 'stringList': {
      if (!Array.isArray(v) || v.length > s.maxItems) return undefined;
      if (!v.every((x): x is string => typeof x === 'string' && (!s.items || s.items.includes(x)))) return undefined;
      return Object.freeze([...new Set(v)]);
    }
    case 'stringMap':
      return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string') ? Object.freeze({ ...(v as Record<string, string>) }) : undefined;
  }
}

/** How a user of each client fixes `s`. */
function whereToFix(s: Setting): string {
  const at = s.key.replace(/^hearth\./, '');
  const ways = [
    ...(s.clients.vscode ? [`VS Code: the setting ${s.key}`] : []),
    ...(s.clients.neovim ? [`Neovim: require('hearth').setup{ ${s.clients.neovim} = ... }`] : []),
    `other editors: initializationOptions.hearth.${at}`,
  ];
  return ways.join('; ');
}

/**
 * Reads the daemon's settings out of a `hearth` section an editor sent (nested objects, or dotted
 * keys such as `"completion.maxTokens"`). Returns the valid values, and a problem for each value
 * that does not fit its declaration (the default stays) and each key that is no Hearth setting.
 * Keys of client-side settings (VS Code sends its whole section) are ignored without a word.
 * `null` for a key means "not set".
 */
export function readDaemonSettings(section: unknown, source: string, before: Partial<Record<DaemonSettingKey, SettingValue>> = {}): { values: Partial<Record<DaemonSettingKey, SettingValue>>; problems: SettingProblem[] } {
  const values: Partial<Record<DaemonSettingKey, SettingValue>> = {};
  const problems: SettingProblem[] = [];
  if (section === undefined || section === null) return { values, problems };
  if (!isPlainObject(section)) {
    problems.push({ key: 'hearth', message: `Hearth settings from ${source} must be an object (the "hearth" section), got ${shown(section)}; the daemon ignores them and uses its defaults for this editor.` });
    return { values, problems };
  }
  const declared = new Map(SETTINGS.map((s) => [s.key, s]));
  const isPrefix = (key: string): boolean => SETTINGS.some((s) => s.key.startsWith(`${key}.`));
  const visit = (obj: Record<string, unknown>, at: string): void => {
    for (const [name, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const key = `${at}.${name}`;
      const s = declared.get(key);
      if (s) {
        if (s.owner !== 'daemon' || v === null || v === undefined) continue;
        const ok = checkValue(s, v);
        if (ok === undefined) {
          const kept = before[key as DaemonSettingKey];
          const uses = kept === undefined ? `${shownDefault(s)}, the default,` : `${shownValue(kept)} (set earlier; the default is ${shownDefault(s)})`;
          problems.push({
            key,
            message: `Hearth setting ${key} = ${shown(v)} (from ${source}) is not ${expected(s)}; the daemon ignores it and uses ${uses} for this editor (the other settings apply). Fix it where you set it (${whereToFix(s)}).`,
          });
        } else values[key as DaemonSettingKey] = ok;
      } else if (isPlainObject(v) && isPrefix(key)) visit(v, key);
      else {
        problems.push({
          key,
          message: `${key} (from ${source}) is not a Hearth setting; ignored. The daemon's settings: ${DAEMON_SETTINGS.map((d) => d.key).join(', ')} (docs/configuration.md).`,
        });
      }
    }
  };
  visit(section, 'hearth');
  return { values, problems };
}
