// Vocabulary of the policy: the small fixed sets a rule can name, and the shapes of a loaded policy.
// Everything here is plain data so a plan or a diagnostic can be sent to a client as JSON.

/**
 * What a request is for. `model-download` is Hearth fetching a model file the user asked for
 * (`hearth models add URL`): no user data goes, but the host learns the address and which model,
 * so it passes the same policy, confirmation and ledger as every other connection off the machine.
 */
export const FEATURES = ['completion', 'chat', 'embeddings', 'task', 'tool', 'model-download'] as const;
export type Feature = (typeof FEATURES)[number];
/** Features a configured provider can serve (and `routes` can order): all but model downloads. */
export const PROVIDER_FEATURES = ['completion', 'chat', 'embeddings', 'task', 'tool'] as const satisfies readonly Feature[];

/**
 * What a piece of data is. `secret` is what deny-listed paths (.env, keys) are classed as;
 * `chat` is text the user typed; `tool-output` is what a tool printed.
 */
export const DATA_CLASSES = ['code', 'config', 'docs', 'secret', 'memory', 'chat', 'tool-output'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

export const LOCATIONS = ['local', 'lan', 'cloud'] as const;
export type Location = (typeof LOCATIONS)[number];

/** Ordered from loosest to strictest: the index is the strictness. */
export const ACTIONS = ['allow', 'ask', 'deny'] as const;
export type Action = (typeof ACTIONS)[number];

export const PROVIDER_KINDS = ['ngram', 'gguf', 'transformers', 'openai', 'anthropic', 'download', 'http'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
/**
 * Kinds a policy file may configure. `download` (the host of a model download) and `http` (the host
 * an `http.fetch` tool call names) are planned per request.
 */
export const CONFIGURABLE_KINDS = ['ngram', 'gguf', 'transformers', 'openai', 'anthropic'] as const satisfies readonly ProviderKind[];
export const EMBEDDED_KINDS: readonly ProviderKind[] = ['ngram', 'gguf', 'transformers'];

export function strictness(a: Action): number {
  return ACTIONS.indexOf(a);
}
export function stricter(a: Action, b: Action): Action {
  return strictness(a) >= strictness(b) ? a : b;
}

/** Where a setting came from: a file position, or the built-in defaults. */
export interface Origin {
  file: string | null;
  line: number;
  col: number;
}
export function formatOrigin(o: Origin): string {
  return o.file === null ? 'built-in default' : `${o.file}:${o.line}:${o.col}`;
}

export interface PolicyDiagnostic {
  file: string;
  line: number;
  col: number;
  /** Dotted path into the document, e.g. `rules[2].action`; empty for syntax errors. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}
export function formatDiagnostic(d: PolicyDiagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.path ? d.path + ' ' : ''}${d.message}`;
}

export class PolicyError extends Error {
  constructor(readonly diagnostics: PolicyDiagnostic[]) {
    super(
      diagnostics
        .filter((d) => d.severity === 'error')
        .map(formatDiagnostic)
        .join('\n') || 'invalid policy',
    );
    this.name = 'PolicyError';
  }
}

export interface ProviderConfig {
  id: string;
  kind: ProviderKind;
  location: Location;
  /** Server root for HTTP providers; Hearth appends `/v1/...`. */
  baseUrl?: string;
  model?: string;
  embeddingModel?: string;
  /** NAME of the environment variable that holds the API key; never the key itself. */
  apiKeyEnv?: string;
  /** NAME of a secret in the home's secrets file (`hearth secrets set NAME`); read first, then apiKeyEnv. */
  apiKeySecret?: string;
  features?: Feature[];
  timeoutMs?: number;
  origin: Origin;
}

export interface PolicyRule {
  name?: string;
  feature?: Feature[];
  dataClass?: DataClass[];
  paths?: string[];
  provider?: string[];
  location?: Location[];
  action: Action;
  origin: Origin;
  scope: 'user' | 'workspace';
  /** Compiled from `paths`: true when any of the candidate spellings of a path matches. */
  matchPath?: (candidates: readonly string[]) => boolean;
}

export interface DenyPath {
  glob: string;
  origin: Origin;
  match: (candidates: readonly string[]) => boolean;
}

export interface Policy {
  /** The files this policy was read from (null: built in). */
  userFile: string | null;
  workspaceFile: string | null;
  workspaceRoot: string | null;
  defaults: Record<Location, { action: Action; origin: Origin }>;
  providers: ProviderConfig[];
  routes: Partial<Record<Feature, { order: string[]; origin: Origin }>>;
  rules: PolicyRule[];
  denyPaths: DenyPath[];
  /** Non-fatal findings, e.g. a workspace rule that tried to loosen the user policy. */
  warnings: PolicyDiagnostic[];
}
