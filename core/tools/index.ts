export {
  ToolExecutor,
  type ApprovalAnswer,
  type ApprovalChoice,
  type ApprovalRequest,
  type ApproveFn,
  type Proposer,
  type Requester,
  type ToolCallRequest,
  type ToolCallResult,
  type ToolExecutorOptions,
  type ToolPolicySource,
} from './executor.js';
export {
  DEFAULT_GRANT_DAYS,
  builtinToolPolicy,
  checkArgvPattern,
  compileToolPolicy,
  destructiveReason,
  evaluateCapability,
  loadToolPolicy,
  matchArgv,
  toolPolicyFromText,
  type CapabilityDecision,
  type CapabilityQuery,
  type ToolPolicy,
  type ToolRule,
} from './capabilities.js';
export { GrantStore, DEFAULT_SESSION_TTL_MS, type Grant } from './grants.js';
export { TOOLS, ToolInputError, type MemoryWriter, type ToolDefinition } from './tools.js';
export { TOOL_NAMES, ToolsSectionSchema, type ToolName } from './schema.js';
export {
  ToolCallParseError,
  anthropicToolDefinitions,
  openAIToolDefinitions,
  parseAnthropicToolUse,
  parseOpenAIToolCalls,
  toolFromWireName,
  wireName,
  type ParsedToolCall,
} from './calls.js';
