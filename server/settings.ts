// Every editor-facing setting, declared once. The VS Code manifest's `contributes.configuration`
// is generated from this list (extensions/vscode/scripts/generate-settings.mts) and a unit test
// (test/unit/settings.test.ts) fails when the manifest drifts from it. Other clients (the Neovim
// plugin, LSP4IJ, Helix, eglot) pass the same keys as LSP initializationOptions / settings.
//
// Plain data only: no vscode, transport or daemon imports, so the extension bundle can include it.

export type SettingScope = 'application' | 'machine' | 'window' | 'resource';

interface SettingBase {
  /** Full key as the user writes it, e.g. `hearth.path`. */
  readonly key: string;
  readonly description: string;
  readonly scope: SettingScope;
}

export interface StringSetting extends SettingBase {
  readonly type: 'string';
  readonly default: string;
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

export type Setting = StringSetting | BooleanSetting | IntegerSetting;

export const SETTINGS: readonly Setting[] = [
  {
    key: 'hearth.path',
    type: 'string',
    default: '',
    scope: 'machine',
    description:
      'Command that runs the Hearth CLI (an absolute path to `bin/hearth` of a checkout, or `hearth` on PATH). ' +
      'Empty: use the CLI packed inside the extension, started with the editor\'s own Node runtime. ' +
      'The extension always runs it as `<path> lsp --stdio`.',
  },
  {
    key: 'hearth.home',
    type: 'string',
    default: '',
    scope: 'machine',
    description:
      'HEARTH_HOME for the launched bridge (where the daemon keeps its state). Empty: inherit the environment, ' +
      'or the default `~/.local/share/hearth`.',
  },
  {
    key: 'hearth.inlineCompletion.enabled',
    type: 'boolean',
    default: true,
    scope: 'resource',
    description: 'Show ghost-text completions from the Hearth daemon while typing.',
  },
  {
    key: 'hearth.egress.prompt',
    type: 'boolean',
    default: true,
    scope: 'application',
    description:
      'Answer the daemon\'s egress confirmations (data about to leave the machine) with a modal prompt. ' +
      'When off, every confirmation is answered "deny" and logged in the Hearth output channel.',
  },
  {
    key: 'hearth.trace.server',
    type: 'string',
    default: 'off',
    enum: ['off', 'messages', 'verbose'],
    enumDescriptions: ['No LSP trace.', 'Trace message names.', 'Trace messages with their payloads.'],
    scope: 'window',
    description: 'Trace the LSP traffic between the editor and `hearth lsp --stdio` in the Hearth output channel.',
  },
];

/** The JSON schema of one setting as VS Code's `contributes.configuration.properties` expects it. */
export function vscodeProperty(s: Setting): Record<string, unknown> {
  const p: Record<string, unknown> = { type: s.type, default: s.default, scope: s.scope, markdownDescription: s.description };
  if (s.type === 'string' && s.enum) {
    p['enum'] = [...s.enum];
    if (s.enumDescriptions) p['enumDescriptions'] = [...s.enumDescriptions];
  }
  if (s.type === 'integer') {
    p['minimum'] = s.minimum;
    p['maximum'] = s.maximum;
  }
  return p;
}

/** The whole `contributes.configuration` object of the VS Code manifest. */
export function vscodeConfiguration(): { title: string; properties: Record<string, Record<string, unknown>> } {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const s of SETTINGS) properties[s.key] = vscodeProperty(s);
  return { title: 'Hearth', properties };
}

/** Defaults keyed by setting name, for clients that have no settings UI. */
export function settingDefaults(): Record<string, string | boolean | number> {
  const out: Record<string, string | boolean | number> = {};
  for (const s of SETTINGS) out[s.key] = s.default;
  return out;
}

export function findSetting(key: string): Setting {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s) throw new Error(`unknown Hearth setting "${key}"; known: ${SETTINGS.map((x) => x.key).join(', ')}`);
  return s;
}
