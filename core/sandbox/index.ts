export {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_TIMEOUT_MS,
  INSTALL_HINT,
  MAX_TIMEOUT_MS,
  SANDBOX_PATH,
  SandboxRunner,
  SandboxUnavailableError,
  bwrapArgs,
  findBwrap,
  type SandboxProfile,
  type SandboxResult,
  type SandboxRunnerOptions,
  type SandboxSpec,
} from './bwrap.js';
export {
  BARE_REPO_MARKER,
  NESTED_PROTECTED,
  PROTECTED_ENTRIES,
  PROTECTED_NAMES,
  SandboxProtectionError,
  type BlockedEntry,
  type ProtectedEntry,
} from './protect.js';
