-- :[range]Hearth ask {prompt} (issue 13, docs/ask.md): ask the daemon (hearth/ask) with the range
-- (or visual selection) and the open buffers as context. The answer streams into a scratch buffer
-- (hearth://ask/N): the route plan first, before anything leaves, then the text as it arrives
-- (hearth/ask/progress), then what each proposed tool action did (approved in the approval split).
-- :Hearth cancel, or <C-c> in the answer buffer, stops the stream ($/cancelRequest).
-- Neovim 0.7.2: vim.lsp.start_client's client object, no vim.system / vim.fs / vim.uv.
local methods = require('hearth.protocol')

local M = {}

local state = { seq = 0, asks = {}, last = nil }

local function notify(msg, level)
  vim.notify('Hearth: ' .. msg, level or vim.log.levels.INFO)
end

local function client()
  local id = require('hearth').client_id()
  if not id then return nil end
  local c = vim.lsp.get_client_by_id(id)
  if c == nil or c.is_stopped() then return nil end
  return c
end

local function with_modifiable(buf, fn)
  if not vim.api.nvim_buf_is_valid(buf) then return end
  vim.bo[buf].modifiable = true
  fn()
  vim.bo[buf].modifiable = false
end

local function append_lines(a, lines)
  with_modifiable(a.buf, function()
    vim.api.nvim_buf_set_lines(a.buf, -1, -1, false, lines)
  end)
end

--- Text chunks continue the last line; a newline starts the next one.
local function append_text(a, text)
  with_modifiable(a.buf, function()
    local parts = vim.split(text, '\n', true)
    local last = vim.api.nvim_buf_line_count(a.buf)
    local cur = vim.api.nvim_buf_get_lines(a.buf, last - 1, last, false)[1] or ''
    parts[1] = cur .. parts[1]
    vim.api.nvim_buf_set_lines(a.buf, last - 1, last, false, parts)
  end)
  for _, w in ipairs(vim.fn.win_findbuf(a.buf)) do
    pcall(vim.api.nvim_win_set_cursor, w, { vim.api.nvim_buf_line_count(a.buf), 0 })
  end
end

--- The route plan as lines: where it runs, who decided, every piece of data with its bytes.
function M.plan_lines(plan)
  local lines = {}
  local r = plan.route
  if r and r ~= vim.NIL then
    lines[#lines + 1] = ('Route: %s · %s (model %s), %s by %s'):format(tostring(r.location), tostring(r.provider), tostring(r.model),
      tostring(plan.decision), tostring(plan.rule))
    lines[#lines + 1] = '  reason: ' .. (plan.reason == 'local' and 'a local model can do it; nothing leaves this machine' or tostring(plan.reason))
    if r.fallback and r.fallback ~= vim.NIL then lines[#lines + 1] = '  fell back: ' .. tostring(r.fallback) end
  else
    lines[#lines + 1] = ('Route: local · no chat model (%s); nothing is sent'):format(tostring(plan.reason))
  end
  lines[#lines + 1] = '  data:'
  for _, p in ipairs(plan.pieces or {}) do
    local src = p.source or {}
    lines[#lines + 1] = ('    %7d B  %-6s %-12s %s'):format(p.bytes or 0, tostring(p.dataClass), tostring(src.role or src.kind), tostring(src.uri or ''))
  end
  return lines
end

local function tool_line(r)
  local out = r.output
  local where = type(out) == 'table' and type(out.path) == 'string' and (' ' .. out.path) or ''
  local err = (type(r.error) == 'string' and r.error ~= '') and (': ' .. r.error) or ''
  return ('%s %s%s%s (action %s)'):format(tostring(r.tool), tostring(r.status), where, err, tostring(r.actionId))
end

--- hearth/ask/progress: the plan, the answer's text, the proposals and their results, in order.
function M.on_progress(params)
  local a = state.asks[params.askId]
  if not a then return end
  if params.kind == 'plan' and params.plan then
    local lines = M.plan_lines(params.plan)
    lines[#lines + 1] = ''
    lines[#lines + 1] = '── answer ' .. string.rep('─', 40)
    lines[#lines + 1] = ''
    with_modifiable(a.buf, function()
      -- Replaces the "(planning …)" line.
      vim.api.nvim_buf_set_lines(a.buf, a.status_line, a.status_line + 1, false, lines)
    end)
  elseif params.kind == 'text' and type(params.text) == 'string' then
    append_text(a, params.text)
  elseif params.kind == 'tool' and params.tool then
    local args = params.tool.args
    local path = type(args) == 'table' and type(args.path) == 'string' and (' ' .. args.path) or ''
    append_lines(a, { '', ('Proposed: %s%s (approve or deny it in the approval split)'):format(tostring(params.tool.tool), path) })
  elseif params.kind == 'toolResult' and params.toolResult then
    append_lines(a, { '  → ' .. tool_line(params.toolResult) })
  end
  pcall(vim.cmd, 'redraw')
end

local function open_buffer(prompt, n)
  local prev = vim.api.nvim_get_current_win()
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'markdown'
  pcall(vim.api.nvim_buf_set_name, buf, 'hearth://ask/' .. n)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { 'Hearth ask: ' .. prompt, '(planning: the route plan comes before anything is sent)' })
  vim.bo[buf].modifiable = false
  vim.keymap.set('n', '<C-c>', function() M.cancel() end, { buffer = buf, silent = true, desc = 'Hearth: stop this answer' })
  vim.keymap.set('n', 'q', '<cmd>close<CR>', { buffer = buf, silent = true, desc = 'Hearth: close the answer' })
  if vim.api.nvim_win_is_valid(prev) then vim.api.nvim_set_current_win(prev) end
  return buf
end

--- Ask `prompt`; opts.line1/line2 (a range: the selection; charwise for a visual selection).
--- Returns the ask id, or nil when Hearth is not running.
function M.ask(prompt, opts)
  opts = opts or {}
  if prompt == nil or prompt:match('^%s*$') then
    notify('usage: :[range]Hearth ask {question or instruction}', vim.log.levels.ERROR)
    return nil
  end
  local c = client()
  if not c then
    notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR)
    return nil
  end
  local src = vim.api.nvim_get_current_buf()
  local params = { prompt = prompt, openFiles = true }
  if opts.line1 then
    local sel = require('hearth').selection(src, opts.line1, opts.line2 or opts.line1, opts.charwise)
    if sel then
      params.selection = { uri = vim.uri_from_bufnr(src), text = sel.text, range = sel.range }
    end
  end
  state.seq = state.seq + 1
  local id = ('nvim-%d-%d'):format(vim.fn.getpid(), state.seq)
  params.askId = id
  local buf = open_buffer(prompt, state.seq)
  local a = { id = id, buf = buf, status_line = 1, done = false }
  state.asks[id] = a
  state.last = id
  local ok, request_id = c.request(methods.ask, params, function(err, result)
    a.done = true
    if err then
      append_lines(a, { '', 'Hearth: the ask failed: ' .. tostring(err.message or err) })
    elseif result then
      local tail = { '' }
      if result.cancelled then tail[#tail + 1] = '── cancelled: the stream was stopped; nothing proposed after it runs ──' end
      if result.offline then tail[#tail + 1] = '── answered locally (no chat model) ──' end
      tail[#tail + 1] = ('(kept in the history as %s: hearth history show %s)'):format(tostring(result.historyId), tostring(result.historyId))
      append_lines(a, tail)
    end
    pcall(vim.cmd, 'redraw')
  end, src)
  if not ok then
    state.asks[id] = nil
    notify('the ask could not be sent (the bridge is gone?); :checkhealth hearth', vim.log.levels.ERROR)
    return nil
  end
  a.request_id = request_id
  a.client_id = c.id
  return id
end

--- Stop the answer that is streaming (the latest ask, or `id`).
function M.cancel(id)
  local a = state.asks[id or state.last or '']
  if not a or a.done then
    notify('no answer is streaming', vim.log.levels.INFO)
    return false
  end
  local c = vim.lsp.get_client_by_id(a.client_id)
  if c then pcall(c.cancel_request, a.request_id) end
  append_lines(a, { '', '(cancelling …)' })
  return true
end

--- For tests and statuslines: the buffer and state of an ask.
function M.get(id)
  local a = state.asks[id or state.last or '']
  if not a then return nil end
  return { id = a.id, buf = a.buf, done = a.done }
end

return M
