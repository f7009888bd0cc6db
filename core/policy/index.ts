export * from './types.js';
export { PolicyFileSchema, type PolicyFile } from './schema.js';
export {
  DEFAULT_DENY_PATHS,
  WORKSPACE_POLICY_PATH,
  applyWorkspacePolicy,
  compileUserPolicy,
  defaultPolicy,
  formatPath,
  inferLocation,
  loadUserPolicy,
  loadWorkspacePolicy,
  lockdownPolicy,
  parsePolicyText,
  readTextIfExists,
  type ParsedPolicyFile,
} from './load.js';
export { PolicyWatcher, type PolicyChangeEvent, type PolicyInvalidEvent, type PolicyWatcherOptions } from './watcher.js';
