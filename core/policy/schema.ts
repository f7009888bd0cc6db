// JSON schema of the policy file (user and workspace share it). Unknown keys are errors: a typo
// in a policy must never silently turn a rule off. Lists may be written as a single scalar
// (`feature: chat`); the validator coerces scalars to one-element lists.
import { Type, type Static } from '@sinclair/typebox';
import { ACTIONS, CONFIGURABLE_KINDS, DATA_CLASSES, FEATURES, LOCATIONS, PROVIDER_FEATURES } from './types.js';
import { ToolsSectionSchema } from '../tools/schema.js';
import { SECRET_NAME_PATTERN } from '../secrets/index.js';

const strict = { additionalProperties: false } as const;
const enumOf = <T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

export const ProviderSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    kind: enumOf(CONFIGURABLE_KINDS),
    location: Type.Optional(enumOf(LOCATIONS)),
    baseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    model: Type.Optional(Type.String({ minLength: 1 })),
    embeddingModel: Type.Optional(Type.String({ minLength: 1 })),
    apiKeyEnv: Type.Optional(Type.String({ pattern: ENV_NAME_PATTERN })),
    // The NAME of a secret stored with `hearth secrets set NAME` (core/secrets; docs/secrets.md).
    apiKeySecret: Type.Optional(Type.String({ pattern: SECRET_NAME_PATTERN })),
    features: Type.Optional(Type.Array(enumOf(PROVIDER_FEATURES), { minItems: 1 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600000 })),
  },
  strict,
);

export const RuleSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    feature: Type.Optional(Type.Array(enumOf(FEATURES), { minItems: 1 })),
    dataClass: Type.Optional(Type.Array(enumOf(DATA_CLASSES), { minItems: 1 })),
    paths: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    provider: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    location: Type.Optional(Type.Array(enumOf(LOCATIONS), { minItems: 1 })),
    action: enumOf(ACTIONS),
  },
  strict,
);

export const PolicyFileSchema = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    default: Type.Optional(
      Type.Object(
        { local: Type.Optional(enumOf(ACTIONS)), lan: Type.Optional(enumOf(ACTIONS)), cloud: Type.Optional(enumOf(ACTIONS)) },
        strict,
      ),
    ),
    providers: Type.Optional(Type.Array(ProviderSchema)),
    routes: Type.Optional(
      Type.Object(
        Object.fromEntries(PROVIDER_FEATURES.map((f) => [f, Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }))])),
        strict,
      ),
    ),
    rules: Type.Optional(Type.Array(RuleSchema)),
    redact: Type.Optional(
      Type.Object({ denyPaths: Type.Optional(Type.Array(Type.String({ minLength: 1 }))) }, strict),
    ),
    // Tool capabilities (core/tools/policy.ts compiles this section; docs/policy.md, "Tools").
    tools: Type.Optional(ToolsSectionSchema),
  },
  strict,
);
export type PolicyFile = Static<typeof PolicyFileSchema>;
