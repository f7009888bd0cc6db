-- :checkhealth hearth — the CLI, the daemon (`hearth status --json`), the socket directory's
-- permissions and the current route. Works with the health API of 0.7 (require('health').report_*),
-- 0.8 (vim.health.report_*) and 0.9+ (vim.health.start/ok/...).
local M = {}

local function api()
  local h = vim.health
  if h and h.start then return { start = h.start, ok = h.ok, info = h.info, warn = h.warn, error = h.error } end
  h = (h and h.report_start) and h or require('health')
  return { start = h.report_start, ok = h.report_ok, info = h.report_info, warn = h.report_warn, error = h.report_error }
end

-- Runs argv with the bridge's environment and returns (exit code, stdout, stderr).
local function run(argv, env, timeout_ms)
  local out, err = {}, {}
  local opts = {
    stdout_buffered = true,
    stderr_buffered = true,
    on_stdout = function(_, data) out = data or {} end,
    on_stderr = function(_, data) err = data or {} end,
  }
  if env then opts.env = env end
  local ok, job = pcall(vim.fn.jobstart, argv, opts)
  if not ok or job <= 0 then return -1, '', 'could not start ' .. table.concat(argv, ' ') end
  local res = vim.fn.jobwait({ job }, timeout_ms)[1]
  if res == -1 then
    vim.fn.jobstop(job)
    return -1, '', ('timed out after %d ms'):format(timeout_ms)
  end
  return res, table.concat(out, '\n'), table.concat(err, '\n')
end

local function check_dir(h, dir)
  local st = vim.loop.fs_lstat(dir)
  if not st then
    h.error(('socket directory %s does not exist'):format(dir), { 'start the daemon: hearth start' })
    return
  end
  local problems = {}
  if st.type ~= 'directory' then problems[#problems + 1] = ('is a %s, not a directory'):format(st.type) end
  if st.uid ~= vim.loop.getuid() then problems[#problems + 1] = ('is owned by uid %d, not you (uid %d)'):format(st.uid, vim.loop.getuid()) end
  local mode = st.mode % 512 -- permission bits
  if mode % 64 ~= 0 then problems[#problems + 1] = ('has mode %o; group/others must have no access'):format(mode) end
  if #problems == 0 then
    h.ok(('socket directory %s: directory, yours, mode %o'):format(dir, mode))
  else
    h.error(('socket directory %s %s'):format(dir, table.concat(problems, '; ')),
      { ('chmod 700 %s (or remove it and let the daemon recreate it)'):format(dir) })
  end
end

local function check_socket(h, sock)
  local st = vim.loop.fs_lstat(sock)
  if not st then h.warn(('socket %s is missing'):format(sock)) return end
  local mode = st.mode % 512
  if st.type == 'socket' and mode % 64 == 0 then
    h.ok(('socket %s: mode %o'):format(sock, mode))
  else
    h.error(('socket %s: type %s, mode %o; expected a socket with mode 600'):format(sock, st.type, mode),
      { 'restart the daemon: hearth stop && hearth start' })
  end
end

function M.check()
  local h = api()
  local hearth = require('hearth')
  local cfg = hearth._state.config

  h.start('hearth: Neovim')
  if vim.fn.has('nvim-0.7.2') == 1 then
    h.ok('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) .. '.' .. tostring(vim.version().patch))
  else
    h.error('Neovim 0.7.2 or later is required')
  end

  h.start('hearth: CLI')
  if not cfg then
    h.error('require("hearth").setup{} has not been called', { 'add require("hearth").setup{} to your init.lua' })
    return
  end
  local exe = cfg.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    h.error(('%s is not executable'):format(exe), { 'put hearth on PATH: `npm install -g --prefix ~/.local .` in the Hearth checkout (see its README)', 'or set cmd in require("hearth").setup{}' })
    return
  end
  h.ok(('CLI: %s (%s)'):format(exe, vim.fn.exepath(exe)))

  h.start('hearth: daemon')
  local env = nil
  if cfg.cmd_env then env = vim.tbl_extend('force', vim.fn.environ(), cfg.cmd_env) end
  local code, out, err = run({ exe, 'status', '--json' }, env, 15000)
  local status = nil
  if code == 0 then
    local ok, decoded = pcall(vim.fn.json_decode, out)
    if ok and type(decoded) == 'table' then status = decoded end
  end
  if not status then
    -- Why no daemon answers: what the bridge last said (a start failure names cause and fix, or
    -- "Hearth was stopped"), and the problems `hearth doctor` finds (an unsafe home or token, a
    -- damaged store); "no daemon running" only when there is nothing more specific.
    local said = hearth._state.last_message
    if said then h.error('the bridge said: ' .. said) end
    local dcode, dout = run({ exe, 'doctor' }, env, 15000)
    local problems = {}
    if dcode ~= 0 then
      local lines = vim.split(dout or '', '\n')
      for i, line in ipairs(lines) do
        if line:match('^ERROR') then
          local fix = lines[i + 1] and lines[i + 1]:match('^%s+fix: (.*)$')
          problems[#problems + 1] = true
          h.error(vim.trim(line:gsub('^ERROR%s*', '')), fix and { fix } or nil)
        end
      end
    end
    if #problems == 0 and not said then
      h.error(('`%s status --json` failed (exit %s): %s'):format(exe, tostring(code), vim.trim(err ~= '' and err or out)),
        { 'start it with `hearth start`, or open a buffer so the bridge starts it', 'then run `hearth doctor`' })
    end
  else
    h.ok(('daemon %s, pid %s, up %d s, home %s'):format(tostring(status.version), tostring(status.pid),
      math.floor((tonumber(status.uptimeMs) or 0) / 1000), tostring(status.home)))
    local c = hearth.client_id() and vim.lsp.get_client_by_id(hearth.client_id())
    if c and not c.is_stopped() then
      h.ok(('this Neovim is attached (client id %d, %d clients on the daemon)'):format(c.id, #(status.clients or {})))
    else
      h.warn('the bridge of this Neovim is not running', { 'call require("hearth").setup{} again, or see :messages' })
    end
    if type(status.socket) == 'string' and status.socket ~= '' then
      check_dir(h, vim.fn.fnamemodify(status.socket, ':h'))
      check_socket(h, status.socket)
    else
      h.warn('the daemon did not report its socket path')
    end
  end

  h.start('hearth: route')
  local r = hearth.route()
  if r then
    h.ok(('last completion: %s (%s)'):format(hearth.statusline(), tostring(r.reason)))
  else
    h.info('no completion yet in this session; the route appears after the first ghost text')
  end
end

return M
