-- Hearth for Neovim (0.7.2 and later): a thin client of the Hearth daemon.
--
--   require('hearth').setup{ accept_key = '<Tab>', ghost = 'overlay' }   -- cmd: see M.default_cmd()
--
-- Starts `hearth lsp --stdio` with vim.lsp.start_client, attaches normal buffers with
-- vim.lsp.buf_attach_client, asks for textDocument/inlineCompletion while typing (debounced) and
-- shows the answer as ghost text (extmarks: virt_text for the first line, virt_lines for the rest).
-- Only APIs present in 0.7.2 are used: no vim.lsp.start, LspAttach, vim.fs, vim.uv, vim.system or
-- virt_text_pos = 'inline'.
local methods = require('hearth.protocol')

local M = {}

-- The CLI this plugin came with: extensions/neovim/lua/hearth/init.lua -> <checkout>/bin/hearth.
local function bundled_cli()
  local src = debug.getinfo(1, 'S').source
  if src:sub(1, 1) ~= '@' then return nil end
  local root = vim.fn.fnamemodify(src:sub(2), ':p:h:h:h:h:h')
  local cli = root .. '/bin/hearth'
  if vim.fn.filereadable(cli) == 1 then return cli end
  return nil
end

--- The default command: `hearth` from PATH, else the checkout's own bin/hearth (so the plugin works
--- straight from a clone, before `hearth` is on PATH).
function M.default_cmd()
  if vim.fn.executable('hearth') == 1 then return { 'hearth', 'lsp', '--stdio' } end
  local cli = bundled_cli()
  if cli then return { cli, 'lsp', '--stdio' } end
  return { 'hearth', 'lsp', '--stdio' }
end

-- The options, their defaults and types: lua/hearth/settings.lua, generated from server/settings.ts
-- (documented in :help hearth-options). cmd = nil means M.default_cmd().
local settings = require('hearth.settings')
local defaults = vim.deepcopy(settings.defaults)

local function describe_type(t)
  if t.enum then return 'one of ' .. table.concat(vim.tbl_map(function(e) return ("'%s'"):format(e) end, t.enum), ', ') end
  if t.type == 'integer' then return ('an integer from %d to %d'):format(t.min or -math.huge, t.max or math.huge) end
  if t.type == 'list' then return 'a list of strings' end
  if t.type == 'map' then return 'a table of strings to strings' end
  return 'a ' .. t.type
end

local function valid_option(v, t)
  if t.type == 'string' then return type(v) == 'string' and (not t.enum or vim.tbl_contains(t.enum, v)) end
  if t.type == 'boolean' then return type(v) == 'boolean' end
  if t.type == 'integer' then
    return type(v) == 'number' and math.floor(v) == v and v >= (t.min or -math.huge) and v <= (t.max or math.huge)
  end
  if type(v) ~= 'table' then return false end
  for k, x in pairs(v) do
    if type(x) ~= 'string' then return false end
    if t.type == 'list' and type(k) ~= 'number' then return false end
    if t.type == 'map' and type(k) ~= 'string' then return false end
  end
  return true
end

--- The `hearth` section the daemon reads (:help hearth-daemon-settings): each daemon option set in
--- setup{} at its path (completion_max_tokens -> completion.maxTokens); unset ones are left out.
local function daemon_section(config)
  local section = {}
  for name, keys in pairs(settings.daemon) do
    local v = config[name]
    if v ~= nil then
      local t = section
      for i = 1, #keys - 1 do
        t[keys[i]] = t[keys[i]] or {}
        t = t[keys[i]]
      end
      t[keys[#keys]] = v
    end
  end
  -- An empty table would go out as a JSON array, which the daemon would rightly refuse.
  if next(section) == nil then return vim.empty_dict() end
  return section
end

--- Checks setup{}'s options against their declared types; raises with the option, what it must be and what it got.
local function check_options(config)
  for name, t in pairs(settings.types) do
    local v = config[name]
    if v ~= nil and not valid_option(v, t) then
      error(('hearth.setup: %s must be %s, got %s (see :help hearth-options)'):format(name, describe_type(t), vim.inspect(v)), 0)
    end
  end
end

local state = {
  config = nil,
  client_id = nil,
  ns = vim.api.nvim_create_namespace('hearth_ghost'),
  timer = nil,
  pending = nil,   -- { bufnr, id }
  approvals = {},  -- actionId -> { win, params, seq }: approvals shown without blocking (approval_ui = 'split')
  approval_seq = 0,
  ghost = nil,     -- { bufnr, row, col, text, extmark, tick }
  route = nil,     -- last hearth/route/current params
  augroup = nil,
}

M._state = state

-- Messages wait while the user types: in insert mode a message could stop for "Press ENTER" and
-- eat keystrokes, so they are kept (once each) and shown when insert mode ends.
local deferred = {}

local function typing()
  local m = vim.api.nvim_get_mode().mode:sub(1, 1)
  return m == 'i' or m == 'R'
end

local function notify(msg, level)
  msg = '[hearth] ' .. msg
  level = level or vim.log.levels.INFO
  if typing() then
    for _, d in ipairs(deferred) do if d.msg == msg then return end end
    deferred[#deferred + 1] = { msg = msg, level = level }
    if #deferred > 20 then table.remove(deferred, 1) end
    return
  end
  vim.notify(msg, level)
end

--- Shows the messages kept back while typing (called on InsertLeave).
function M.flush_messages()
  if typing() then return end
  local d = deferred
  deferred = {}
  for _, m in ipairs(d) do vim.notify(m.msg, m.level) end
end

--- The messages waiting for insert mode to end (for tests and statuslines).
function M.deferred_messages()
  local out = {}
  for _, d in ipairs(deferred) do out[#out + 1] = d.msg end
  return out
end

local function client()
  if not state.client_id then return nil end
  local c = vim.lsp.get_client_by_id(state.client_id)
  if c == nil or c.is_stopped() then return nil end
  return c
end

function M.client_id()
  return state.client_id
end

-- Ghost text -----------------------------------------------------------------------------------

function M.clear()
  local g = state.ghost
  state.ghost = nil
  if g and vim.api.nvim_buf_is_valid(g.bufnr) then
    vim.api.nvim_buf_clear_namespace(g.bufnr, state.ns, 0, -1)
  end
end

local function cancel_pending()
  local p = state.pending
  state.pending = nil
  if p then
    local c = client()
    if c then pcall(c.cancel_request, p.id) end
  end
end

-- LSP character offsets are UTF-16 code units; Neovim columns are bytes.
local function byte_col(line, character)
  local ok, col = pcall(vim.str_byteindex, line, character, true)
  if ok then return col end
  return #line
end

-- The part of an item not yet in the buffer: an item whose range starts before the cursor repeats
-- what was typed since the range start; show (and insert) only the rest.
local function ghost_text(item, bufnr, row, col)
  local text = item.insertText
  if type(text) == 'table' then text = text.value end
  if type(text) ~= 'string' or text == '' then return nil end
  local r = item.range
  if r and r.start and r.start.line == row then
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    local start = byte_col(line, r.start.character)
    if start < col then
      local typed = line:sub(start + 1, col)
      if text:sub(1, #typed) ~= typed then return nil end
      text = text:sub(#typed + 1)
    end
  end
  if text == '' then return nil end
  return text
end

local function show(bufnr, row, col, text)
  M.clear()
  local lines = vim.split(text, '\n', true)
  local hl = state.config.hl_group
  local opts = { virt_text = { { lines[1], hl } }, hl_mode = 'combine' }
  if state.config.ghost == 'eol' then
    opts.virt_text_pos = 'eol'
  else
    opts.virt_text_pos = 'overlay'
  end
  if #lines > 1 then
    local rest = {}
    for i = 2, #lines do rest[#rest + 1] = { { lines[i], hl } } end
    opts.virt_lines = rest
  end
  local id = vim.api.nvim_buf_set_extmark(bufnr, state.ns, row, col, opts)
  state.ghost = {
    bufnr = bufnr, row = row, col = col, text = text, extmark = id,
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
  }
end

--- The ghost text currently shown, or nil.
function M.current()
  local g = state.ghost
  if not g then return nil end
  return { bufnr = g.bufnr, row = g.row, col = g.col, text = g.text }
end

--- Insert the ghost text at the cursor. Returns true when there was one.
function M.accept()
  local g = state.ghost
  if not g or not vim.api.nvim_buf_is_valid(g.bufnr) then return false end
  M.clear()
  local lines = vim.split(g.text, '\n', true)
  vim.api.nvim_buf_set_text(g.bufnr, g.row, g.col, g.row, g.col, lines)
  local end_row = g.row + #lines - 1
  local end_col = (#lines == 1) and (g.col + #lines[1]) or #lines[#lines]
  if vim.api.nvim_get_current_buf() == g.bufnr then
    vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  end
  return true
end

-- Requests -------------------------------------------------------------------------------------

function M.request_completion()
  local c = client()
  if not c then return end
  local bufnr = vim.api.nvim_get_current_buf()
  if not vim.lsp.buf_is_attached(bufnr, state.client_id) then return end
  cancel_pending()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, c.offset_encoding)
  params.context = { triggerKind = 2 } -- InlineCompletionTriggerKind.Automatic
  local sent = vim.loop.hrtime()
  local ok, id = c.request(methods.lsp.inline_completion, params, function(err, result)
    local received = vim.loop.hrtime()
    if state.pending and state.pending.id == id then state.pending = nil end
    if err then
      if err.code ~= -32800 then notify(methods.lsp.inline_completion .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.WARN) end
      return
    end
    -- Stale: the buffer changed, the cursor moved or insert mode ended while the daemon worked.
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then return end
    if vim.api.nvim_get_current_buf() ~= bufnr or vim.api.nvim_get_mode().mode:sub(1, 1) ~= 'i' then return end
    local now = vim.api.nvim_win_get_cursor(0)
    if now[1] - 1 ~= row or now[2] ~= col then return end
    local items = result and (result.items or result) or {}
    local item = items[1]
    if not item then M.clear() return end
    local text = ghost_text(item, bufnr, row, col)
    if text then
      show(bufnr, row, col, text)
      state.timing = { sent_ns = sent, received_ns = received, shown_ns = vim.loop.hrtime() }
      -- For statuslines and measurements: fires after each ghost text is drawn.
      pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'HearthGhostShown', modeline = false })
    else
      M.clear()
    end
  end, bufnr)
  if ok then state.pending = { bufnr = bufnr, id = id } end
end

local function schedule_completion()
  M.clear()
  if not state.timer then state.timer = vim.loop.new_timer() end
  state.timer:stop()
  state.timer:start(state.config.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' then M.request_completion() end
  end))
end

local function on_cursor_moved()
  local g = state.ghost
  if not g then return end
  local cur = vim.api.nvim_win_get_cursor(0)
  if vim.api.nvim_get_current_buf() ~= g.bufnr or cur[1] - 1 ~= g.row or cur[2] ~= g.col then M.clear() end
end

--- hearth/route/explain at the cursor; calls on_plan(err, plan) (default: show it in a split).
function M.explain(on_plan)
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  local params = vim.lsp.util.make_position_params(0, c.offset_encoding)
  c.request(methods.route_explain, params, function(err, plan)
    if on_plan then return on_plan(err, plan) end
    if err then notify('explain failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) return end
    M.show_plan(plan, params)
  end, vim.api.nvim_get_current_buf())
end

--- The route plan under this window's heading: the daemon's text (server/format.ts planLines), the
--- same lines `hearth route explain` and VS Code show; a daemon too old to send it gets its fields listed.
function M.format_plan(plan, params)
  local lines = {
    ('Hearth route plan for %s:%d:%d'):format(params.textDocument.uri, params.position.line + 1, params.position.character + 1),
  }
  if type(plan.text) == 'table' then
    for _, l in ipairs(plan.text) do lines[#lines + 1] = tostring(l) end
    return lines
  end
  local r = plan.route or {}
  lines[#lines + 1] = ('  provider  %s (model %s)  [update the daemon for the full plan: hearth stop]'):format(tostring(r.provider), tostring(r.model))
  lines[#lines + 1] = '  decision  ' .. tostring(plan.decision) .. ' by ' .. tostring(plan.rule)
  for _, p in ipairs(plan.pieces or {}) do
    local src = p.source or {}
    lines[#lines + 1] = ('    %6d B  %s %s'):format(p.bytes or 0, tostring(p.dataClass), src.uri or '')
  end
  return lines
end

--- A read-only scratch split holding `lines`, named `name` (e.g. hearth://route-plan).
local function show_scratch(lines, name)
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, name)
end

function M.show_plan(plan, params)
  show_scratch(M.format_plan(plan, params), 'hearth://route-plan')
end

--- One egress-ledger entry as a line, as `hearth egress log` prints it (server/format.ts).
function M.format_ledger_entry(e)
  local status = type(e.status) == 'number' and (' HTTP ' .. e.status) or ''
  local err = (type(e.error) == 'string' and e.error ~= '') and ('  (' .. e.error .. ')') or ''
  local client_name = (e.client == nil or e.client == vim.NIL) and '-' or tostring(e.client)
  return ('%s  %-9s %s -> %s %s  %s B  sha256 %s  client %s  rule %s%s%s'):format(
    tostring(e.time), tostring(e.outcome), tostring(e.feature), tostring(e.provider), tostring(e.host),
    tostring(e.bytes), tostring(e.sha256):sub(1, 12), client_name, tostring(e.rule), status, err)
end

--- hearth/egress/log: every attempt to send data off the machine, newest first; calls
--- on_entries(err, entries) (default: show them in a split).
function M.egress(on_entries)
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  c.request(methods.egress_log, { limit = 500 }, function(err, r)
    if on_entries then return on_entries(err, r and r.entries) end
    if err then notify('egress log failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) return end
    local entries = r.entries or {}
    local lines = { ('Hearth egress log: %d attempt(s), newest first (also: hearth egress log)'):format(#entries), '' }
    if type(r.lines) == 'table' then
      -- The daemon's rendering (server/format.ts), the lines `hearth egress log` prints.
      for _, l in ipairs(r.lines) do lines[#lines + 1] = tostring(l) end
    else
      if #entries == 0 then lines[#lines + 1] = 'nothing has left this machine: the egress ledger is empty' end
      for _, e in ipairs(entries) do lines[#lines + 1] = M.format_ledger_entry(e) end
    end
    show_scratch(lines, 'hearth://egress-log')
  end)
end

--- hearth/status; calls on_status(err, status) (default: echo a summary).
function M.status(on_status)
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  c.request(methods.status, vim.empty_dict(), function(err, s)
    if on_status then return on_status(err, s) end
    if err then notify('status failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) return end
    local msg = ('daemon %s (pid %s), %d clients attached; route: %s'):format(
      tostring(s.version), tostring(s.pid), #(s.clients or {}), M.statusline())
    notify(msg)
  end)
end

--- A short route description for a statusline: `local · ngram/model`, with why the route fell back
--- (`local · ngram/ngram-4 (cloud declined)`) and a waiting egress ask.
function M.statusline()
  local r = state.route
  local s
  if not r then
    s = 'hearth: no completion yet'
  elseif type(r.status) == 'table' and type(r.status.text) == 'string' then
    s = r.status.text -- the daemon's rendering (server/format.ts routeStatus)
  else
    s = ('%s · %s/%s'):format(r.location, r.provider, r.model)
    if type(r.fallback) == 'string' and r.fallback ~= '' then s = s .. ' (' .. r.fallback .. ')' end
  end
  if state.ask then s = s .. ' · ask waiting: :Hearth allow once | :Hearth deny' end
  if next(state.approvals) then s = s .. ' · approval waiting: :Hearth approve once | :Hearth approve deny' end
  return s
end

function M.route()
  return state.route
end

--- hrtime stamps (ns) of the last ghost text: request sent, answer received, extmark drawn.
function M.last_timing()
  return state.timing
end

-- Server → client --------------------------------------------------------------------------------

local egress_choices = {
  { label = 'Allow once', decision = 'once' },
  { label = 'Allow for this session', decision = 'session' },
  { label = 'Always allow', decision = 'always' },
  { label = 'Deny', decision = 'deny' },
}

-- vim.ui.select may answer synchronously (the built-in inputlist) or later (UI plugins); a server
-- request handler must return its result, so wait for the answer while processing events.
--- A daemon from before issue 11 sends no display form: show such a value as JSON with every byte
--- outside printable ASCII as \xHH, so nothing raw (bidi controls, invisible characters) is drawn.
local function ascii_json(v)
  local ok, j = pcall(vim.fn.json_encode, v)
  if not ok then j = tostring(v) end
  return (j:gsub('[%z\1-\31\127-\255]', function(c) return ('\\x%02X'):format(c:byte()) end))
end

--- The warning lines of a display form (the daemon's one rule flagged these characters).
local function warning_lines(d)
  local lines = {}
  local ws = d.warnings or {}
  if #ws == 0 then return lines end
  lines[1] = ('!! WARNING: %d thing%s in this request can disguise what it does; Hearth shows such characters escaped as \\u{XXXX}:')
    :format(#ws, #ws == 1 and '' or 's')
  for _, w in ipairs(ws) do lines[#lines + 1] = '!!   ' .. tostring(w.message) end
  return lines
end

local function confirm_egress_blocking(params)
  -- The daemon's display form (escaped, with warnings), never the raw fields.
  local d = params.display or {
    feature = ascii_json(params.feature), provider = ascii_json(params.provider), host = ascii_json(params.host),
    reason = ascii_json(params.reason), payload = ascii_json(params.payload), warnings = {},
  }
  local warned = table.concat(warning_lines(d), '\n')
  local prompt = ('%sHearth: send %d bytes to %s (%s) for %s? %s\n--- payload ---\n%s'):format(
    warned ~= '' and (warned .. '\n') or '', params.bytes or 0, tostring(d.provider), tostring(d.host), tostring(d.feature),
    tostring(d.reason), tostring(d.payload))
  local answer = nil
  vim.ui.select(egress_choices, {
    prompt = prompt,
    format_item = function(c) return c.label end,
  }, function(choice)
    answer = choice and choice.decision or 'deny'
  end)
  if answer == nil then vim.wait(300000, function() return answer ~= nil end, 50) end
  return { decision = answer or 'deny' }
end

-- Completions ask without blocking: the ask is shown in a float (and the statusline) and answered
-- by :Hearth allow once|session|always or :Hearth deny (or the <Plug>(hearth-allow-once) and
-- <Plug>(hearth-deny) mappings), never by a stray keystroke. The plugin answers the daemon's
-- confirm with 'pending' at once; the daemon serves the completion from the next provider of its
-- chain meanwhile, asks nothing more for it until the answer comes (hearth/egress/answer), and
-- remembers a decline for the session. The plugin only renders.

local function ask_display(params)
  return params.display or {
    feature = ascii_json(params.feature), provider = ascii_json(params.provider), host = ascii_json(params.host),
    reason = ascii_json(params.reason), payload = ascii_json(params.payload), warnings = {},
  }
end

--- The lines of the ask float (all of the payload with all = true).
function M.ask_lines(params, all)
  local d = ask_display(params)
  local lines = warning_lines(d)
  lines[#lines + 1] = ('Hearth: send %d bytes to %s (%s) for %s?'):format(params.bytes or 0, tostring(d.provider), tostring(d.host), tostring(d.feature))
  for _, l in ipairs(vim.split(tostring(d.reason), '\n', true)) do lines[#lines + 1] = '  ' .. l end
  lines[#lines + 1] = '  answer: :Hearth allow once | allow session | allow always | deny   (full payload: :Hearth payload)'
  lines[#lines + 1] = '--- payload ---'
  local payload = vim.split(tostring(d.payload), '\n', true)
  local max = all and #payload or 8
  for i = 1, math.min(#payload, max) do lines[#lines + 1] = payload[i] end
  if #payload > max then lines[#lines + 1] = ('… %d more line(s): :Hearth payload'):format(#payload - max) end
  return lines
end

-- Making the float's scratch buffer fires BufLeave/BufEnter on the buffer being typed in, which
-- would cancel the completion in flight and clear its ghost text: no autocommands meanwhile.
local function quietly(fn)
  local ei = vim.o.eventignore
  vim.o.eventignore = 'all'
  local ok, r = pcall(fn)
  vim.o.eventignore = ei
  if not ok then error(r) end
  return r
end

local function close_ask_float()
  local a = state.ask
  if a and a.win and vim.api.nvim_win_is_valid(a.win) then quietly(function() pcall(vim.api.nvim_win_close, a.win, true) end) end
  if a then a.win = nil end
end

local function ask_changed()
  vim.g.hearth_route = M.statusline()
  pcall(vim.cmd, 'redrawstatus')
end

local function show_ask(params)
  close_ask_float()
  local lines = M.ask_lines(params)
  local width = 20
  for _, l in ipairs(lines) do width = math.max(width, vim.fn.strdisplaywidth(l)) end
  width = math.max(20, math.min(width, vim.o.columns - 4))
  local height = math.max(1, math.min(#lines, math.floor(vim.o.lines / 2)))
  local buf, ok, win
  quietly(function()
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].modifiable = false
    -- Not focusable and not entered: typing goes on in the buffer, no key answers the float.
    ok, win = pcall(vim.api.nvim_open_win, buf, false, {
      relative = 'editor', anchor = 'NE', row = 1, col = vim.o.columns, width = width, height = height,
      style = 'minimal', border = 'single', focusable = false,
    })
  end)
  state.ask = { id = params.id, params = params, win = ok and win or nil, buf = buf }
  ask_changed()
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'HearthAskShown', modeline = false })
end

local function confirm_egress(_, params)
  if params.feature == 'completion' and type(params.id) == 'string' and state.config and state.config.egress_ask ~= 'select' then
    show_ask(params)
    return { decision = 'pending' }
  end
  return confirm_egress_blocking(params)
end

--- The egress ask waiting for an answer, or nil: { id, params }.
function M.pending_ask()
  local a = state.ask
  if not a then return nil end
  return { id = a.id, params = a.params, shown = a.win ~= nil and vim.api.nvim_win_is_valid(a.win) }
end

local decision_labels = { once = 'allowed once', session = 'allowed for this session', always = 'always allowed', deny = 'declined' }

--- Answers the waiting egress ask: 'once' | 'session' | 'always' | 'deny'. on_done(err, result).
function M.answer_ask(decision, on_done)
  if not decision_labels[decision] then
    notify(('unknown answer %q; use :Hearth allow once|session|always or :Hearth deny'):format(tostring(decision)), vim.log.levels.ERROR)
    return
  end
  local a = state.ask
  if not a then
    notify('no Hearth ask is waiting for an answer', vim.log.levels.WARN)
    if on_done then on_done(nil, { answered = false }) end
    return
  end
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  c.request(methods.egress_answer, { id = a.id, decision = decision }, function(err, r)
    if state.ask == a then
      close_ask_float()
      state.ask = nil
      ask_changed()
    end
    if on_done then return on_done(err, r) end
    if err then notify('answer failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) return end
    local d = ask_display(a.params)
    if r and r.answered then
      notify(('%s: %s data to %s'):format(decision_labels[decision], tostring(d.feature), tostring(d.provider)))
    else
      notify('that ask is no longer waiting (answered, withdrawn or lapsed); the next completion asks again if it must', vim.log.levels.WARN)
    end
  end)
end

--- The waiting ask's whole payload in a scratch split.
function M.show_ask_payload()
  local a = state.ask
  if not a then notify('no Hearth ask is waiting for an answer', vim.log.levels.WARN) return end
  show_scratch(M.ask_lines(a.params, true), 'hearth://egress-ask')
end

-- Tool approvals: a scratch split shows what would run (the diff, or the argv), then
-- vim.ui.select asks once / session / always / deny; the split closes after the answer.
local approval_labels = {
  once = 'Allow once',
  session = 'Allow for this session',
  always = 'Always allow',
  deny = 'Deny',
}

--- argv as a list with plain quotes: the display strings hold \u{XXXX} escapes that json_encode would double.
local function argv_list(argv)
  local listed = {}
  for _, a in ipairs(argv) do listed[#listed + 1] = '"' .. a:gsub('"', '\\"') .. '"' end
  return '[' .. table.concat(listed, ', ') .. ']'
end

--- The daemon's display form of an approval (every field escaped by its one rule, with warnings);
--- for a daemon from before issue 11, the fields as ASCII-only JSON.
local function approval_display(p)
  if type(p.display) == 'table' then return p.display end
  local proposer = p.proposer or {}
  local requester = p.requester or {}
  local d = {
    tool = ascii_json(p.tool), proposer = { model = ascii_json(proposer.model), provider = ascii_json(proposer.provider) },
    requester = { name = ascii_json(requester.name), kind = ascii_json(requester.kind) }, workspaceRoot = ascii_json(p.workspaceRoot),
    reason = ascii_json(p.reason), args = ascii_json(p.args), warnings = {},
    legacy = true,
  }
  if type(p.argv) == 'table' then
    d.argv = {}
    for i, a in ipairs(p.argv) do d.argv[i] = ascii_json(a) end
    d.cwd = ascii_json(p.cwd)
  end
  if type(p.path) == 'string' then d.path = ascii_json(p.path) end
  if type(p.url) == 'string' then d.url = ascii_json(p.url) end
  return d
end

--- The lines the approval split shows (exposed for tests and for UIs that draw their own), and how
--- many lines after the title are warnings (drawn highlighted).
function M.approval_lines(p)
  local d = approval_display(p)
  -- The daemon's one text rendering of the prompt (core/text/display.ts approvalLines), shown as is.
  if type(d.lines) == 'table' then
    local lines = {}
    for i, l in ipairs(d.lines) do lines[i] = tostring(l) end
    return lines, tonumber(d.warned) or 0
  end
  local proposer = d.proposer or {}
  local requester = d.requester or {}
  local lines = { ('Hearth: approve %s?'):format(tostring(d.tool)) }
  local warned = warning_lines(d)
  if d.legacy then warned = { '!! this daemon sends no display form: fields are shown as JSON (restart it with `hearth stop` to update)' } end
  for _, l in ipairs(warned) do lines[#lines + 1] = l end
  vim.list_extend(lines, {
    ('  proposed by  %s (%s)'):format(tostring(proposer.model), tostring(proposer.provider)),
    ('  requested by %s (%s)'):format(tostring(requester.name), tostring(requester.kind)),
    ('  workspace    %s'):format(tostring(d.workspaceRoot)),
    ('  reason       %s'):format(tostring(d.reason):gsub('\n', ' ')),
  })
  if type(d.rationale) == 'string' and d.rationale ~= '' then
    lines[#lines + 1] = '  rationale    ' .. d.rationale:gsub('\n', ' ')
  end
  if type(d.argv) == 'table' then
    local quoted = {}
    for _, a in ipairs(d.argv) do quoted[#quoted + 1] = a:match('^[%w%._/:=@,+%-]+$') and a or vim.fn.shellescape(a) end
    lines[#lines + 1] = '  cwd          ' .. tostring(d.cwd)
    lines[#lines + 1] = '  argv         ' .. argv_list(d.argv)
    lines[#lines + 1] = ''
    lines[#lines + 1] = '$ ' .. table.concat(quoted, ' ')
  end
  if type(d.url) == 'string' then lines[#lines + 1] = '  url          ' .. d.url end
  if type(d.path) == 'string' then lines[#lines + 1] = '  path         ' .. d.path end
  if type(d.diff) == 'string' and d.diff ~= '' then
    lines[#lines + 1] = ''
    for _, l in ipairs(vim.split(d.diff:gsub('\n$', ''), '\n', true)) do lines[#lines + 1] = l end
  elseif type(d.argv) ~= 'table' then
    lines[#lines + 1] = ''
    for _, l in ipairs(vim.split(tostring(d.text or d.args or ''), '\n', true)) do lines[#lines + 1] = l end
  end
  return lines, #warned
end

local function open_approval_split(p, later)
  local lines, warned = M.approval_lines(p)
  if later then
    table.insert(lines, 2 + warned, '  answer: :Hearth approve once | session | always | deny   (or o / s / a / d in this split)')
  end
  local prev = vim.api.nvim_get_current_win()
  -- At the top: the built-in vim.ui.select (inputlist) draws its list over the bottom lines.
  vim.cmd('topleft new')
  local win = vim.api.nvim_get_current_win()
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  if type(p.diff) == 'string' and p.diff ~= '' then vim.bo[buf].filetype = 'diff' end
  -- The warnings, right under the title, in the error colour.
  local hl = vim.api.nvim_create_namespace('hearth_approval_warnings')
  for i = 1, warned do vim.api.nvim_buf_add_highlight(buf, hl, 'ErrorMsg', i, 0, -1) end
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, 'hearth://approval/' .. tostring(p.actionId))
  if later then
    -- Keys of this split only: the user has to go into it on purpose; typing elsewhere answers nothing.
    for key, choice in pairs({ o = 'once', s = 'session', a = 'always', d = 'deny' }) do
      vim.keymap.set('n', key, function() M.answer_approval(choice, p.actionId) end, { buffer = buf, nowait = true, desc = 'Hearth: ' .. choice })
    end
  end
  -- Tall enough for the wrapped lines too (long warnings wrap), up to half the screen.
  local rows, width = 0, math.max(1, vim.api.nvim_win_get_width(win))
  for _, l in ipairs(lines) do rows = rows + math.max(1, math.ceil(vim.fn.strdisplaywidth(l) / width)) end
  pcall(vim.api.nvim_win_set_height, win, math.max(3, math.min(rows, math.floor(vim.o.lines / 2))))
  if vim.api.nvim_win_is_valid(prev) then vim.api.nvim_set_current_win(prev) end
  vim.cmd('redraw')
  return win
end

local function approvals_changed()
  vim.g.hearth_route = M.statusline()
  pcall(vim.cmd, 'redrawstatus')
end

local function close_approval(id)
  local a = state.approvals[id]
  state.approvals[id] = nil
  if a and a.win and vim.api.nvim_win_is_valid(a.win) then pcall(vim.api.nvim_win_close, a.win, true) end
  approvals_changed()
  return a
end

--- The approvals shown without blocking, newest last: { { actionId, params }, ... }.
function M.waiting_approvals()
  local list = {}
  for id, a in pairs(state.approvals) do list[#list + 1] = { actionId = id, params = a.params, seq = a.seq } end
  table.sort(list, function(x, y) return x.seq < y.seq end)
  return list
end

local approval_answered = { once = 'allowed once', session = 'allowed for this session', always = 'always allowed', deny = 'denied' }

--- Answers a waiting approval (the newest, or the one with actionId): 'once' | 'session' | 'always' | 'deny'.
function M.answer_approval(choice, actionId, on_done)
  if not approval_answered[choice] then
    notify(('unknown answer %q; use :Hearth approve once|session|always|deny'):format(tostring(choice)), vim.log.levels.ERROR)
    return
  end
  local list = M.waiting_approvals()
  local id = actionId or (list[#list] and list[#list].actionId)
  local a = id and state.approvals[id]
  if not a then
    notify(actionId and ('no approval %s is waiting here; `hearth approve` lists the ones waiting'):format(actionId)
      or 'no Hearth approval is waiting for an answer', vim.log.levels.WARN)
    if on_done then on_done(nil, { answered = false }) end
    return
  end
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  a.answering = true
  c.request(methods.approvals_answer, { actionId = id, choice = choice }, function(err, r)
    close_approval(id)
    if on_done then return on_done(err, r) end
    local tool = tostring(approval_display(a.params).tool)
    if err then
      notify(('%s was not answered: %s'):format(tool, err.message or vim.inspect(err)), vim.log.levels.WARN)
    elseif r and r.answered then
      notify(('%s: %s'):format(tool, approval_answered[choice]))
    else
      notify(('%s was already answered elsewhere'):format(tool), vim.log.levels.WARN)
    end
  end)
end

--- hearth/approvals/settled: an approval shown here ended (answered elsewhere, withdrawn, timed out).
local function approval_settled(_, params)
  local a = state.approvals[params.actionId]
  if not a then return end
  close_approval(params.actionId)
  if a.answering then return end
  local tool = tostring(approval_display(a.params).tool)
  if params.outcome == 'withdrawn' then
    notify(('approval for %s %s; nothing ran'):format(tool, tostring(params.why)), vim.log.levels.WARN)
  elseif params.outcome == 'nobody' then
    notify(('approval for %s ended unanswered (%s); nothing ran'):format(tool, tostring(params.why)), vim.log.levels.WARN)
  else
    notify(('approval for %s %s'):format(tool, tostring(params.why)))
  end
end

local function approve_tool(_, params)
  -- Shown without blocking when the daemon can take the answer later (answerLater): the split
  -- stays while the user keeps typing, and closes when the approval settles anywhere.
  if params.answerLater == true and type(params.actionId) == 'string' and not (state.config and state.config.approval_ui == 'select') then
    if state.approvals[params.actionId] then close_approval(params.actionId) end
    state.approval_seq = state.approval_seq + 1
    state.approvals[params.actionId] = { win = open_approval_split(params, true), params = params, seq = state.approval_seq }
    approvals_changed()
    notify(('approve %s? :Hearth approve once|session|always|deny (the split shows what would run)'):format(tostring(approval_display(params).tool)))
    pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'HearthApprovalShown', modeline = false })
    return { choice = 'pending' }
  end
  local win = open_approval_split(params)
  local items = {}
  for _, c in ipairs(params.choices or { 'once', 'session', 'always', 'deny' }) do
    if approval_labels[c] then items[#items + 1] = { choice = c, label = approval_labels[c] } end
  end
  local d = approval_display(params)
  local requester = d.requester or {}
  local proposer = d.proposer or {}
  local nwarn = #(d.warnings or {})
  local answer = nil
  local ok, err = pcall(vim.ui.select, items, {
    prompt = ('%sHearth: allow %s%s? requested by %s (%s), proposed by %s (%s)'):format(
      nwarn > 0 and ('!! %d WARNING%s (see the split) !! '):format(nwarn, nwarn == 1 and '' or 'S') or '',
      tostring(d.tool),
      type(d.argv) == 'table' and (' ' .. argv_list(d.argv)) or (type(d.path) == 'string' and (' ' .. d.path) or ''),
      tostring(requester.name), tostring(requester.kind), tostring(proposer.model), tostring(proposer.provider)),
    format_item = function(item) return item.label end,
    kind = 'hearth.approval',
  }, function(item)
    answer = item and item.choice or 'deny'
  end)
  if not ok then
    notify('approval prompt failed (' .. tostring(err) .. '); denied', vim.log.levels.ERROR)
    answer = 'deny'
  end
  if answer == nil then vim.wait(600000, function() return answer ~= nil end, 50) end
  if vim.api.nvim_win_is_valid(win) then pcall(vim.api.nvim_win_close, win, true) end
  -- No message here: after inputlist's output one more line would raise a hit-enter prompt
  -- before this handler could return its answer to the daemon.
  pcall(vim.cmd, 'redraw')
  return { choice = answer or 'deny' }
end

-- Memory ------------------------------------------------------------------------------------------

local function utf16_index(line, byte)
  local ok, _, u16 = pcall(vim.str_utfindex, line, math.min(byte, #line))
  if ok and u16 then return u16 end
  return byte
end

--- The text and LSP range of lines line1..line2 (1-based) of bufnr; with charwise = true and the
--- visual marks on those lines, only the characters of the last charwise visual selection.
function M.selection(bufnr, line1, line2, charwise)
  local lines = vim.api.nvim_buf_get_lines(bufnr, line1 - 1, line2, false)
  if #lines == 0 then return nil end
  local last = lines[#lines]
  local scol, ecol = 0, #last
  if charwise and vim.fn.visualmode() == 'v' then
    local vs, ve = vim.fn.getpos("'<"), vim.fn.getpos("'>")
    if vs[2] == line1 and ve[2] == line2 then
      scol = math.min(vs[3] - 1, #lines[1])
      local at = ve[3] - 1
      if at < #last then
        -- '> points at the first byte of the last selected character; include all of its bytes.
        local ch = last:sub(at + 1):match('^[%z\1-\127\192-\255][\128-\191]*') or last:sub(at + 1, at + 1)
        ecol = at + #ch
      end
    end
  end
  local parts = vim.deepcopy(lines)
  if #parts == 1 then
    parts[1] = parts[1]:sub(scol + 1, ecol)
  else
    parts[1] = parts[1]:sub(scol + 1)
    parts[#parts] = parts[#parts]:sub(1, ecol)
  end
  return {
    text = table.concat(parts, '\n'),
    range = {
      start = { line = line1 - 1, character = utf16_index(lines[1], scol) },
      ['end'] = { line = line2 - 1, character = utf16_index(last, ecol) },
    },
  }
end

local memory_kinds = {}
for _, k in ipairs(settings.memory_kinds) do memory_kinds[k] = true end

--- hearth/memory/add with lines line1..line2 of the current buffer (charwise: the visual
--- selection), its file uri and range. on_done(err, item) (default: a notification).
function M.remember(opts, on_done)
  opts = opts or {}
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  local kind = opts.kind or 'snippet'
  if not memory_kinds[kind] then
    notify(('unknown memory kind %q; use one of: %s'):format(kind, table.concat(settings.memory_kinds, ', ')), vim.log.levels.ERROR)
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local cur = vim.api.nvim_win_get_cursor(0)[1]
  local sel = M.selection(bufnr, opts.line1 or cur, opts.line2 or cur, opts.charwise)
  if not sel or not sel.text:match('%S') then
    notify('nothing to remember: the selection is empty', vim.log.levels.WARN)
    return
  end
  local params = { text = sel.text, kind = kind }
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name ~= '' then params.file = { uri = vim.uri_from_bufnr(bufnr), range = sel.range } end
  c.request(methods.memory_add, params, function(err, item)
    if on_done then return on_done(err, item) end
    if err then notify('remember failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) return end
    notify(('remembered %s (%s, %d lines)'):format(item.id, item.kind, #vim.split(item.text, '\n', true)))
  end, bufnr)
end

local function one_line(text, max)
  local s = vim.trim(text):gsub('%s*\n%s*', ' ⏎ ')
  if #s > max then s = s:sub(1, max) .. '…' end
  return s
end

--- A memory item as a quickfix entry: the file and position it came from (when it came from
--- code), the text, its kind, the client that wrote it and when.
function M.memory_qf_item(item)
  local writer = item.client or {}
  local when = tostring(item.createdAt or ''):gsub('T', ' '):gsub('%.%d+Z$', 'Z')
  local entry = {
    text = ('[%s] %s — %s%s, %s'):format(tostring(item.kind), one_line(tostring(item.text), 200), tostring(writer.name),
      (writer.version and writer.version ~= '') and (' ' .. writer.version) or '', when),
  }
  local file = item.file
  if type(file) == 'table' and type(file.uri) == 'string' and file.uri:match('^file:') then
    entry.filename = vim.uri_to_fname(file.uri)
    local r = type(file.range) == 'table' and file.range.start or nil
    entry.lnum = r and (r.line + 1) or 1
    entry.col = r and (r.character + 1) or 1
  end
  return entry
end

local memory_qf_title = 'Hearth memory'

--- :Hearth memory [query]: the workspace's memory (newest first), or the search hits for query,
--- into the quickfix list. opts.open = false leaves the quickfix window alone. on_done(err, items).
function M.memory(query, opts, on_done)
  opts = opts or {}
  local c = client()
  if not c then notify('not running; call require("hearth").setup{} first', vim.log.levels.ERROR) return end
  if query == '' then query = nil end
  local method = query and methods.memory_search or methods.memory_list
  local params = query and { query = query, limit = 100 } or { limit = 500 }
  c.request(method, params, function(err, res)
    if err then
      if on_done then return on_done(err, nil) end
      notify('memory ' .. (query and 'search' or 'list') .. ' failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local items = {}
    if query then
      for _, h in ipairs(res.hits or {}) do items[#items + 1] = h.item end
    else
      items = res.items or {}
    end
    local qf = {}
    for _, item in ipairs(items) do qf[#qf + 1] = M.memory_qf_item(item) end
    state.memory_query = { query = query }
    vim.fn.setqflist({}, ' ', {
      title = memory_qf_title .. (query and (': ' .. query) or ''),
      items = qf,
    })
    if opts.open ~= false then
      vim.cmd('botright copen')
      if #qf == 0 then notify(query and ('no memory matches %q'):format(query) or 'no memory in this workspace yet') end
    end
    if on_done then on_done(nil, items) end
  end)
end

-- Memory changed somewhere (any editor, the CLI): refresh a quickfix list that shows it.
local function memory_changed()
  if not state.memory_query then return end
  local title = vim.fn.getqflist({ title = 0 }).title or ''
  if title:sub(1, #memory_qf_title) ~= memory_qf_title then return end
  M.memory(state.memory_query.query, { open = false })
end

local handlers = {
  [methods.route_current] = function(_, params)
    state.route = params
    vim.g.hearth_route = M.statusline()
    pcall(vim.cmd, 'redrawstatus')
  end,
  [methods.log] = function(_, params)
    local levels = { info = vim.log.levels.INFO, warning = vim.log.levels.WARN, error = vim.log.levels.ERROR }
    notify(tostring(params.message), levels[params.level] or vim.log.levels.INFO)
  end,
  [methods.egress_confirm] = confirm_egress,
  [methods.tool_approve] = approve_tool,
  [methods.approvals_settled] = approval_settled,
  [methods.memory_did_change] = function() vim.schedule(memory_changed) end,
  -- :Hearth ask (lua/hearth/ask.lua): the route plan, the streamed answer, the proposals.
  [methods.ask_progress] = function(_, params) require('hearth.ask').on_progress(params) end,
  -- The bridge's own news (Hearth stopped on purpose, a start failure with its cause and fix):
  -- through vim.notify, and kept for :checkhealth hearth.
  ['window/showMessage'] = function(_, params)
    local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }
    state.last_message = tostring(params.message)
    notify(state.last_message, levels[params.type] or vim.log.levels.INFO)
  end,
}

-- Setup ------------------------------------------------------------------------------------------

local function should_attach(bufnr)
  if not vim.api.nvim_buf_is_loaded(bufnr) or vim.bo[bufnr].buftype ~= '' then return false end
  if vim.api.nvim_buf_get_name(bufnr) == '' then return false end
  local fts = state.config.filetypes
  if not fts then return true end
  return vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if state.client_id and should_attach(bufnr) and not vim.lsp.buf_is_attached(bufnr, state.client_id) then
    vim.lsp.buf_attach_client(bufnr, state.client_id)
  end
end

local function accept_or_key()
  if state.ghost then return '<Cmd>lua require("hearth").accept()<CR>' end
  return state.config.accept_key
end

function M.setup(opts)
  opts = opts or {}
  local config = vim.tbl_deep_extend('force', {}, defaults, opts)
  check_options(config)
  if config.cmd == nil then config.cmd = M.default_cmd() end
  if type(config.cmd) ~= 'table' or type(config.cmd[1]) ~= 'string' then
    error('hearth.setup: cmd must be a list such as { "hearth", "lsp", "--stdio" }')
  end
  if vim.fn.executable(config.cmd[1]) ~= 1 then
    notify(('%s is not executable; set cmd in require("hearth").setup{} (see :checkhealth hearth)'):format(config.cmd[1]),
      vim.log.levels.ERROR)
    state.config = config
    return nil
  end
  if state.client_id then M.stop() end
  state.config = config
  vim.api.nvim_set_hl(0, 'HearthGhost', { link = 'Comment', default = true })

  local hearth_section = daemon_section(config)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.textDocument = capabilities.textDocument or {}
  capabilities.textDocument.inlineCompletion = { dynamicRegistration = false }

  state.client_id = vim.lsp.start_client({
    name = 'hearth',
    cmd = config.cmd,
    cmd_env = config.cmd_env,
    root_dir = config.root_dir or vim.loop.cwd(),
    capabilities = capabilities,
    handlers = handlers,
    init_options = { client = { name = 'neovim', kind = 'editor' }, hearth = hearth_section },
    -- Answers the daemon's workspace/configuration (section `hearth`) with the same settings.
    settings = { hearth = hearth_section },
    flags = { debounce_text_changes = 50 },
    on_exit = function(code, signal)
      vim.schedule(function()
        M.clear()
        if code ~= 0 then notify(('bridge exited (code %s, signal %s); :checkhealth hearth'):format(code, signal), vim.log.levels.WARN) end
      end)
    end,
  })
  if not state.client_id then
    notify('vim.lsp.start_client failed for ' .. table.concat(config.cmd, ' '), vim.log.levels.ERROR)
    return nil
  end

  state.augroup = vim.api.nvim_create_augroup('hearth', { clear = true })
  local au = function(ev, fn) vim.api.nvim_create_autocmd(ev, { group = state.augroup, callback = fn }) end
  au({ 'BufEnter', 'BufReadPost', 'BufNewFile', 'FileType' }, function(a) M.attach(a.buf) end)
  au('TextChangedI', schedule_completion)
  au('TextChangedP', schedule_completion)
  au('CursorMovedI', on_cursor_moved)
  au({ 'InsertLeave', 'BufLeave' }, function()
    cancel_pending()
    M.clear()
  end)
  au('InsertLeave', function() vim.schedule(M.flush_messages) end)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do M.attach(b) end

  vim.keymap.set('i', config.accept_key, accept_or_key, { expr = true, silent = true, desc = 'Hearth: accept ghost text' })
  -- For the user's own keys: map them to these, e.g. vim.keymap.set('n', '<leader>ho', '<Plug>(hearth-allow-once)').
  for _, m in ipairs({ { 'allow-once', 'once' }, { 'allow-session', 'session' }, { 'allow-always', 'always' }, { 'deny', 'deny' } }) do
    vim.keymap.set({ 'n', 'i' }, '<Plug>(hearth-' .. m[1] .. ')', function() M.answer_ask(m[2]) end, { silent = true, desc = 'Hearth: answer the egress ask: ' .. m[2] })
  end
  M.define_command()
  return state.client_id
end

local subcommands = {
  status = function() M.status() end,
  explain = function() M.explain() end,
  egress = function() M.egress() end,
  accept = function() M.accept() end,
  stop = function() M.stop() end,
  -- :[range]Hearth remember [kind]: the visual selection (or the range, or the current line)
  remember = function(a, rest)
    local opts = { kind = rest ~= '' and rest or nil }
    if a.range > 0 then
      opts.line1, opts.line2, opts.charwise = a.line1, a.line2, a.range == 2
    end
    M.remember(opts)
  end,
  -- :Hearth memory [query]
  memory = function(_, rest) M.memory(rest) end,
  -- :Hearth allow once|session|always, :Hearth deny: the answer to the waiting egress ask
  allow = function(_, rest) M.answer_ask(rest ~= '' and rest or 'once') end,
  deny = function() M.answer_ask('deny') end,
  payload = function() M.show_ask_payload() end,
  -- :[range]Hearth ask {prompt}: the answer streams into a scratch buffer (lua/hearth/ask.lua);
  -- :Hearth cancel stops it.
  ask = function(a, rest)
    local opts = {}
    if a.range > 0 then opts.line1, opts.line2, opts.charwise = a.line1, a.line2, a.range == 2 end
    require('hearth.ask').ask(rest, opts)
  end,
  cancel = function() require('hearth.ask').cancel() end,
  -- :Hearth approve once|session|always|deny [id]: the answer to the waiting tool approval
  approve = function(_, rest)
    local choice, id = rest:match('^(%S*)%s*(%S*)$')
    M.answer_approval(choice or '', (id ~= nil and id ~= '') and id or nil)
  end,
}

local usage = 'status | explain | egress | accept | stop | [range]remember [kind] | memory [query] | allow once|session|always | deny | payload'
  .. ' | [range]ask {prompt} | cancel | approve once|session|always|deny [id]'

--- :Hearth status | explain | egress | accept | stop | [range]remember [kind] | memory [query]
function M.define_command()
  vim.api.nvim_create_user_command('Hearth', function(a)
    local sub, rest = a.args:match('^%s*(%S+)%s*(.-)%s*$')
    local fn = sub and subcommands[sub]
    if not fn then
      notify(('unknown subcommand %q; use one of: %s'):format(a.args, usage), vim.log.levels.ERROR)
      return
    end
    fn(a, rest or '')
  end, {
    nargs = '+',
    range = true,
    complete = function(_, line)
      local words = vim.split(line, '%s+')
      if #words <= 2 then return vim.tbl_keys(subcommands) end
      if words[2] == 'remember' and #words == 3 then return vim.tbl_keys(memory_kinds) end
      if words[2] == 'allow' and #words == 3 then return { 'once', 'session', 'always' } end
      if words[2] == 'approve' and #words == 3 then return { 'once', 'session', 'always', 'deny' } end
      return {}
    end,
    desc = 'Hearth: ' .. usage,
  })
end

function M.stop()
  cancel_pending()
  for id in pairs(state.approvals) do close_approval(id) end
  M.clear()
  if state.timer then state.timer:stop() end
  if state.augroup then pcall(vim.api.nvim_del_augroup_by_id, state.augroup) end
  if state.config then pcall(vim.keymap.del, 'i', state.config.accept_key) end
  if state.client_id then vim.lsp.stop_client(state.client_id) end
  state.client_id = nil
end

return M
