-- Generated from server/settings.ts, the one declaration of Hearth's settings; do not edit.
--   node --import tsx extensions/vscode/scripts/generate-settings.mts
-- rewrites it; test/unit/settings.test.ts fails when it drifts. Documented in :help hearth-options.
local M = {}

--- Options of require('hearth').setup{} that the plugin reads itself, with their defaults (nil: computed
--- at setup, see :help hearth-options).
M.defaults = {
  accept_key               = '<Tab>',
  approval_ui              = 'split',
  cmd                      = nil,
  cmd_env                  = nil,
  debounce_ms              = 75,
  egress_ask               = 'float',
  filetypes                = nil,
  ghost                    = 'overlay',
  hl_group                 = 'HearthGhost',
  root_dir                 = nil,
}

--- The type of each plugin option, checked by setup{}: string, boolean, integer (min..max), list (of
--- strings), map (string to string); enum lists the allowed strings.
M.types = {
  accept_key               = { type = 'string' },
  approval_ui              = { type = 'string', enum = { 'split', 'select' } },
  cmd                      = { type = 'list' },
  cmd_env                  = { type = 'map' },
  debounce_ms              = { type = 'integer', min = 0, max = 5000 },
  egress_ask               = { type = 'string', enum = { 'float', 'select' } },
  filetypes                = { type = 'list' },
  ghost                    = { type = 'string', enum = { 'overlay', 'eol' } },
  hl_group                 = { type = 'string' },
  root_dir                 = { type = 'string' },
}

--- Options the daemon reads (:help hearth-daemon-settings): each one's path in the `hearth` section that
--- setup{} sends as initializationOptions and answers workspace/configuration with. Unset: the daemon's
--- default; the daemon checks the values and warns about a bad one.
M.daemon = {
  completion_max_tokens    = { 'completion', 'maxTokens' },
  completion_memory_items  = { 'completion', 'memory', 'items' },
  completion_memory_kinds  = { 'completion', 'memory', 'kinds' },
  completion_other_buffers = { 'completion', 'otherBuffers' },
  completion_prefix_chars  = { 'completion', 'prefixChars' },
  completion_suffix_chars  = { 'completion', 'suffixChars' },
}

--- The kinds of memory items (core/memory/types.ts MEMORY_KINDS), for :Hearth remember [kind].
M.memory_kinds = { 'note', 'decision', 'snippet', 'preference' }

return M
