-- icotes/editor/context: what the user is looking at, for AI clients of the
-- same workspace. A notification (debounced) to the client of the current
-- buffer's root:
--   { uri, selection = { start, end, text }, visibleRanges = [ {uri, range} ],
--     openBuffers = [ uri ] }
-- Positions are LSP positions (0-based line, UTF-16 character). Sent only
-- when the server advertises support in its initialize result
-- (capabilities.experimental.icotesEditorContext, or
-- experimental.icotes.editorContext), or always with editor_context = true;
-- never with editor_context = false.
local M = {}

local uv = vim.uv or vim.loop

local util = require('icotes.util')
local bit = require('bit')

local timer = nil

local function cfg() return require('icotes').config or {} end

local function pos(bufnr, line, col)
  local text = vim.api.nvim_buf_get_lines(bufnr, line, line + 1, false)[1] or ''
  return { line = line, character = util.utf16_of_byte(text, col) }
end

-- The selection of window win (its buffer): the Visual selection when the
-- window is in Visual mode, else the empty selection at the cursor.
local function selection(win, bufnr)
  local cur = vim.api.nvim_win_get_cursor(win)
  local mode = vim.api.nvim_get_mode().mode
  local visual = win == vim.api.nvim_get_current_win() and (mode == 'v' or mode == 'V' or mode == '\22')
  if not visual then
    local p = pos(bufnr, cur[1] - 1, cur[2])
    return { start = p, ['end'] = p, text = '' }
  end
  local v = vim.fn.getpos('v')
  local a, b = { v[2] - 1, v[3] - 1 }, { cur[1] - 1, cur[2] }
  if a[1] > b[1] or (a[1] == b[1] and a[2] > b[2]) then a, b = b, a end
  local lines = vim.api.nvim_buf_get_lines(bufnr, a[1], b[1] + 1, false)
  local s, e
  if mode == 'V' then
    s = { a[1], 0 }
    e = { b[1], #(lines[#lines] or '') }
    lines[#lines + 1] = ''
  else
    -- Inclusive of the character under the end: up to its last byte.
    local last = lines[#lines] or ''
    local endb = b[2] + 1
    while endb < #last and bit.band(last:byte(endb + 1), 0xC0) == 0x80 do endb = endb + 1 end
    endb = math.min(endb, #last)
    if mode == '\22' then
      -- Blockwise: reported as the lines it spans.
      s, e = { a[1], 0 }, { b[1], #last }
    else
      s, e = a, { b[1], endb }
      if #lines == 1 then
        lines[1] = lines[1]:sub(a[2] + 1, endb)
      else
        lines[1] = lines[1]:sub(a[2] + 1)
        lines[#lines] = last:sub(1, endb)
      end
    end
  end
  return { start = pos(bufnr, s[1], s[2]), ['end'] = pos(bufnr, e[1], e[2]), text = table.concat(lines, '\n') }
end

-- The notification's params for the current window (nil when its buffer
-- is not a file under root).
function M.build(root)
  local icotes = require('icotes')
  local win = vim.api.nvim_get_current_win()
  local bufnr = vim.api.nvim_win_get_buf(win)
  root = root or icotes.root_of(bufnr)
  if not root or icotes.root_of(bufnr) ~= root then return nil end
  local uri = vim.uri_from_bufnr(bufnr)
  local visible = {}
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local b = vim.api.nvim_win_get_buf(w)
    if icotes.root_of(b) == root then
      local first = vim.fn.line('w0', w)
      local last = vim.fn.line('w$', w)
      local last_text = vim.api.nvim_buf_get_lines(b, last - 1, last, false)[1] or ''
      table.insert(visible, {
        uri = vim.uri_from_bufnr(b),
        range = { start = { line = first - 1, character = 0 },
                  ['end'] = { line = last - 1, character = util.utf16_of_byte(last_text, #last_text) } },
      })
    end
  end
  local open = {}
  for _, b in ipairs(icotes.buffers_of(root)) do
    if vim.bo[b].buflisted then table.insert(open, vim.uri_from_bufnr(b)) end
  end
  return { uri = uri, selection = selection(win, bufnr), visibleRanges = visible, openBuffers = open }
end

-- Whether client takes the notification.
function M.enabled(client)
  local mode = cfg().editor_context
  if mode == false or mode == nil then return false end
  if mode == true then return true end
  local caps = client.server_capabilities or {}
  local exp = type(caps.experimental) == 'table' and caps.experimental or {}
  return exp.icotesEditorContext == true or (type(exp.icotes) == 'table' and exp.icotes.editorContext == true)
end

-- Builds and sends the context now (returns the params sent, or nil).
function M.send()
  local icotes = require('icotes')
  local root = icotes.root_of(0)
  local client = root and icotes.client_for_root(root)
  if not client or not M.enabled(client) then return nil end
  local params = M.build(root)
  if params then util.call(client, 'notify', 'icotes/editor/context', params) end
  return params
end

function M.schedule()
  local mode = cfg().editor_context
  if not mode then return end
  if mode ~= true then
    local client = require('icotes').client(0)
    if not client or not M.enabled(client) then return end
  end
  if not timer then timer = uv.new_timer() end
  timer:stop()
  timer:start(cfg().context_debounce_ms or 300, 0, vim.schedule_wrap(function() pcall(M.send) end))
end

function M.setup(group)
  vim.api.nvim_create_autocmd({ 'CursorMoved', 'CursorMovedI', 'ModeChanged', 'BufEnter', 'WinScrolled', 'WinEnter' }, {
    group = group,
    callback = function() M.schedule() end,
  })
end

return M
