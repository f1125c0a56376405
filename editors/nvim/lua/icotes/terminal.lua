-- :Icotes terminal: a Neovim terminal buffer showing an icotes terminal
-- (icotes/terminal/create on the workspace's daemon), so the terminal an AI
-- reads and types into (terminal_read, terminal_write) is the one the user
-- sees. Output arrives as icotes/event notifications (terminal/<id>/output,
-- replayed from the start with since = 0) and is fed to the buffer with
-- nvim_chan_send; keys typed in the buffer go to icotes/terminal/write;
-- the window's size goes to icotes/terminal/resize; wiping the buffer ends
-- the program (icotes/terminal/kill).
local M = {}

local util = require('icotes.util')

M.terminals = {} -- icotes terminal id -> { id, buf, chan, client_id, subscription, size }
local by_buf = {}

local function size_of(buf)
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(w) == buf then
      return vim.api.nvim_win_get_width(w), vim.api.nvim_win_get_height(w)
    end
  end
end

local function client_of(t)
  local c = vim.lsp.get_client_by_id(t.client_id)
  if c and not util.call(c, 'is_stopped') then return c end
end

-- One icotes/terminal/write in flight per terminal, keys typed meanwhile
-- sent together after it: one request per burst of typing rather than per
-- key, and the order kept even by a daemon older than the one that runs a
-- terminal's writes in arrival order.
local function flush(t)
  local c = client_of(t)
  if not (c and t.alive) or (t.queued or '') == '' then
    t.writing = false
    return
  end
  local data = t.queued
  t.queued = ''
  t.writing = true
  util.request(c, 'icotes/terminal/write', { id = t.id, data = data }, function(err)
    if err then util.notify('icotes/terminal/write: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) end
    flush(t)
  end)
end

function M.write(t, data)
  t.queued = (t.queued or '') .. data
  if not t.writing then flush(t) end
end

local function resize(t)
  local cols, rows = size_of(t.buf)
  if not cols or (t.cols == cols and t.rows == rows) then return end
  t.cols, t.rows = cols, rows
  local c = client_of(t)
  if c and t.alive then util.request(c, 'icotes/terminal/resize', { id = t.id, cols = cols, rows = rows }, function() end) end
end

local function forget(t)
  if t.id then M.terminals[t.id] = nil end
  by_buf[t.buf] = nil
  local c = client_of(t)
  if c then
    if t.alive then util.request(c, 'icotes/terminal/kill', { id = t.id }, function() end) end
    if t.subscription then util.request(c, 'icotes/events/unsubscribe', { subscription = t.subscription }, function() end) end
  end
end

-- icotes/event notifications.
function M.on_event(params)
  local topic = params and params.topic or ''
  local id, what = topic:match('^terminal/(.+)/(%a+)$')
  local t = id and M.terminals[id]
  if not t then return end
  local data = params.data or {}
  if what == 'output' and type(data.data) == 'string' then
    pcall(vim.api.nvim_chan_send, t.chan, data.data)
  elseif what == 'exit' then
    t.alive = false
    local how = data.signal ~= nil and data.signal ~= vim.NIL and ('signal ' .. tostring(data.signal))
                or ('code ' .. tostring(data.exitCode))
    pcall(vim.api.nvim_chan_send, t.chan, '\r\n[icotes terminal ' .. t.id .. ' exited, ' .. how .. ']\r\n')
  end
end

function M.on_client_exit(client_id)
  for _, t in pairs(M.terminals) do
    if t.client_id == client_id and t.alive then
      t.alive = false
      pcall(vim.api.nvim_chan_send, t.chan, '\r\n[icotes stopped: this terminal is no longer connected]\r\n')
    end
  end
end

-- Opens a terminal of the workspace of the current buffer (or root);
-- on_ready(t) once its output is subscribed. opts: { shell, args, cwd }.
function M.open(opts, on_ready)
  opts = opts or {}
  local icotes = require('icotes')
  local root = opts.root or icotes.root_of(0) or vim.fn.getcwd()
  local client = icotes.client_for_root(root)
  if not client then
    util.notify('icotes is not running for ' .. root .. ' (open a file there first)', vim.log.levels.ERROR)
    return
  end
  vim.cmd(icotes.config.terminal_split or 'botright split')
  vim.cmd('enew')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].bufhidden = 'hide'
  local t = { buf = buf, client_id = client.id, alive = false }
  local win = vim.api.nvim_get_current_win()
  t.cols, t.rows = vim.api.nvim_win_get_width(win), vim.api.nvim_win_get_height(win)
  t.chan = vim.api.nvim_open_term(buf, {
    on_input = function(_, _, _, data) M.write(t, data) end,
  })
  pcall(vim.api.nvim_buf_set_name, buf, 'icotes-terminal://' .. root .. '/starting')
  local params = { cols = t.cols, rows = t.rows, shell = opts.shell, args = opts.args, cwd = opts.cwd }
  -- Creating it needs the Bash permission: the question (if any) comes to
  -- this editor and is answered while this request waits.
  util.request(client, 'icotes/terminal/create', params, function(err, result)
    if err or not result then
      pcall(vim.api.nvim_chan_send, t.chan, '[icotes terminal not started: ' .. tostring(err and err.message) .. ']\r\n')
      return
    end
    t.id, t.alive = result.id, true
    M.terminals[t.id] = t
    by_buf[buf] = t
    pcall(vim.api.nvim_buf_set_name, buf, 'icotes-terminal://' .. root .. '/' .. t.id)
    vim.b[buf].icotes_terminal = t.id
    util.request(client, 'icotes/events/subscribe',
                 { topics = { 'terminal/' .. t.id .. '/output', 'terminal/' .. t.id .. '/exit' }, since = 0 },
                 function(serr, sres)
      if serr then
        pcall(vim.api.nvim_chan_send, t.chan, '[icotes: no output: ' .. tostring(serr.message) .. ']\r\n')
        return
      end
      t.subscription = sres.subscription
      resize(t)
      if on_ready then on_ready(t) end
    end)
  end)
  local group = vim.api.nvim_create_augroup('icotes.terminal.' .. buf, { clear = true })
  vim.api.nvim_create_autocmd({ 'BufWinEnter', 'WinScrolled', 'VimResized', 'WinEnter' }, {
    group = group,
    callback = function() if M.terminals[t.id or ''] then resize(t) end end,
  })
  vim.api.nvim_create_autocmd({ 'BufWipeout' }, {
    group = group,
    buffer = buf,
    callback = function()
      forget(t)
      pcall(vim.api.nvim_del_augroup_by_id, group)
    end,
  })
  return t
end

return M
