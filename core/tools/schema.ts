// The `tools:` section of a policy file (user and workspace), declared here and plugged into the
// policy file schema (core/policy/schema.ts), so one parser gives line-accurate errors for both.
import { Type, type Static } from '@sinclair/typebox';
import { ACTIONS } from '../policy/types.js';
import { PROTECTED_NAMES } from '../sandbox/protect.js';

export const TOOL_NAMES = ['fs.read', 'fs.edit', 'shell.run', 'http.fetch', 'memory.write'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const strict = { additionalProperties: false } as const;
const enumOf = <T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

export const ToolRuleSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    tool: Type.Array(enumOf(TOOL_NAMES), { minItems: 1 }),
    /** shell.run: the argv, element by element; `*` = any one element, `**` (last) = any rest. */
    argv: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    /** fs.*: the file; shell.run: the working directory. Relative globs are inside the workspace. */
    paths: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** http.fetch: host names (globs, e.g. `*.example.com`), optionally `host:port`. */
    hosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    action: enumOf(ACTIONS),
    /** shell.run: workspace-relative paths the command may write (default: the whole workspace). */
    writable: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** shell.run: share the network with the command (user policy only). */
    network: Type.Optional(Type.Boolean()),
    /** shell.run: names of environment variables (credentials) passed to the command (user policy only). */
    env: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }))),
    /**
     * shell.run, fs.edit: protected workspace entries (`.git`, `.hearth`, `.vscode`, ...: code outside the
     * sandbox runs or trusts them) the command may create and change (user policy only; shown in
     * the approval). docs/sandbox.md.
     */
    protected: Type.Optional(Type.Array(enumOf(PROTECTED_NAMES as readonly string[]), { minItems: 1 })),
  },
  strict,
);

export const ToolsSectionSchema = Type.Object(
  {
    /** Action when no rule matches (built-in: ask). */
    default: Type.Optional(enumOf(ACTIONS)),
    /** `allow`: run commands without a sandbox when bubblewrap is missing (user policy only). */
    unsandboxed: Type.Optional(enumOf(['allow', 'deny'] as const)),
    /** Days until an "always" grant expires (built-in: 90). */
    grantDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    rules: Type.Optional(Type.Array(ToolRuleSchema)),
  },
  strict,
);
export type ToolsSection = Static<typeof ToolsSectionSchema>;
export type ToolRuleData = Static<typeof ToolRuleSchema>;
