-- icotes for Neovim 0.7 and later: one icotes client per workspace root
-- (`icotes serve --stdio --root ROOT`, which attaches to that workspace's
-- shared daemon), attached to every file buffer under the root, so AI
-- clients of the same workspace read the unsaved text and their edits land
-- in the open buffers. See :help icotes.
local M = {}

local uv = vim.uv or vim.loop

local util = require('icotes.util')

local defaults = {
  -- The icotes binary (also used for `icotes daemon ...` and
  -- `icotes permissions ...`).
  bin = 'icotes',
  -- The server command: a list, or a function(root) returning one. Default:
  -- { bin, 'serve', '--stdio', '--root', root }.
  cmd = nil,
  -- Extra environment for the server process.
  cmd_env = nil,
  -- The workspace root of a buffer: a directory, or a function(bufnr)
  -- returning one (nil: do not attach). Default: the nearest directory above
  -- the file holding one of root_markers, else the current directory when
  -- the file is beneath it.
  root = nil,
  root_markers = { '.icotes', '.git' },
  -- Start a client when a file buffer under a root is opened.
  autostart = true,
  -- This editor's own connection: nil (the workspace's mode), 'default',
  -- 'acceptEdits' or 'readOnly'; allow/deny rules for it ('Bash(make test)').
  permission_mode = nil,
  allow = nil,
  deny = nil,
  -- Permission questions: shown once Neovim is idle (Normal mode, no key
  -- for question_idle_ms); a question not answered within
  -- question_timeout_ms is declined with a note.
  question_timeout_ms = 60000,
  question_idle_ms = 500,
  -- icotes/editor/context notifications: 'auto' (only when the server
  -- advertises support), true (always), false (never).
  editor_context = 'auto',
  context_debounce_ms = 300,
  -- :Icotes terminal opens in this window command.
  terminal_split = 'botright split',
  -- Called as on_attach(client, bufnr).
  on_attach = nil,
}

M.config = nil
M.clients = {} -- root -> client id
local stopping = {} -- client id -> true while we stop it on purpose
local group

function M.cmd_for(root)
  local c = M.config.cmd
  if type(c) == 'function' then return c(root) end
  if type(c) == 'table' then
    local cmd = vim.deepcopy(c)
    if not vim.tbl_contains(cmd, '--root') then
      table.insert(cmd, '--root')
      table.insert(cmd, root)
    end
    return cmd
  end
  return { M.config.bin, 'serve', '--stdio', '--root', root }
end

local function under(path, root)
  return path == root or path:sub(1, #root + 1) == root .. '/'
end

local function find_marker(dir, markers)
  local best
  for _, m in ipairs(markers) do
    for _, found in ipairs({ vim.fn.finddir(m, dir .. ';'), vim.fn.findfile(m, dir .. ';') }) do
      if found ~= '' then
        local parent = vim.fn.fnamemodify(vim.fn.fnamemodify(found, ':p'):gsub('/$', ''), ':h')
        if not best or #parent > #best then best = parent end
      end
    end
  end
  return best
end

-- The root serving buffer bufnr, or nil when it is not a file icotes serves.
function M.root_of(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then return nil end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then return nil end
  local path = vim.fn.fnamemodify(name, ':p')
  local r = M.config.root
  if type(r) == 'function' then
    r = r(bufnr)
  elseif r == nil then
    r = find_marker(vim.fn.fnamemodify(path, ':h'), M.config.root_markers)
    if not r then
      local cwd = vim.fn.getcwd()
      if under(path, cwd) then r = cwd end
    end
  end
  if not r or r == '' then return nil end
  r = vim.fn.fnamemodify(r, ':p'):gsub('(.)/$', '%1')
  if not under(path, r) then return nil end
  return r
end

local function init_options()
  local p = {}
  if M.config.permission_mode then p.mode = M.config.permission_mode end
  if M.config.allow then p.allow = M.config.allow end
  if M.config.deny then p.deny = M.config.deny end
  if next(p) == nil then return nil end
  return { permissions = p }
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.window = caps.window or {}
  caps.window.showDocument = { support = true }
  caps.workspace = caps.workspace or {}
  caps.workspace.applyEdit = true
  return caps
end

local function show_document(_, params)
  local fname = vim.uri_to_fname(params.uri)
  vim.cmd('edit ' .. vim.fn.fnameescape(fname))
  if params.selection and params.selection.start then
    local line = params.selection.start.line + 1
    local text = vim.api.nvim_buf_get_lines(0, line - 1, line, false)[1] or ''
    local col = util.byte_of_utf16(text, params.selection.start.character)
    pcall(vim.api.nvim_win_set_cursor, 0, { line, col })
  end
  return { success = true }
end

local function handlers()
  local questions = require('icotes.questions')
  local h = {
    ['window/showMessageRequest'] = questions.handler,
    ['$/cancelRequest'] = questions.cancelled,
    ['icotes/event'] = function(_, params) require('icotes.terminal').on_event(params) end,
  }
  if not vim.lsp.handlers['window/showDocument'] then h['window/showDocument'] = show_document end
  return h
end

local function config_for(root)
  return {
    name = 'icotes',
    cmd = M.cmd_for(root),
    cmd_env = M.config.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = init_options(),
    capabilities = capabilities(),
    handlers = handlers(),
    on_attach = function(client, bufnr)
      if M.config.on_attach then M.config.on_attach(client, bufnr) end
    end,
    on_exit = function(code, signal, client_id)
      if M.clients[root] == client_id then M.clients[root] = nil end
      if stopping[client_id] then
        stopping[client_id] = nil
      elseif code ~= 0 then
        vim.schedule(function()
          util.notify(string.format('icotes for %s exited (code %s%s); `:Icotes restart` starts it again', root,
                                    tostring(code), signal ~= 0 and (', signal ' .. tostring(signal)) or ''),
                      vim.log.levels.WARN)
        end)
      end
      vim.schedule(function()
        require('icotes.questions').drop(client_id)
        require('icotes.terminal').on_client_exit(client_id)
      end)
    end,
  }
end

-- The live client serving root, or nil.
function M.client_for_root(root)
  local id = root and M.clients[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if client and not util.call(client, 'is_stopped') then return client end
  return nil
end

-- The client of bufnr's root (nil: not an icotes buffer or not started).
function M.client(bufnr)
  return M.client_for_root(M.root_of(bufnr or 0))
end

-- Starts (or reuses) the client of root; attaches bufnr when given.
function M.start(root, bufnr)
  local client = M.client_for_root(root)
  if client then
    if bufnr then vim.lsp.buf_attach_client(bufnr, client.id) end
    return client.id
  end
  local config = config_for(root)
  local id
  if vim.lsp.start then
    id = vim.lsp.start(config, { bufnr = bufnr or vim.api.nvim_get_current_buf(), reuse_client = function(c, conf)
      local dir = c.root_dir or (c.config and c.config.root_dir)
      return c.name == conf.name and dir == conf.root_dir and not util.call(c, 'is_stopped')
    end })
    if not bufnr and id then
      -- vim.lsp.start attaches the buffer it is given; a start without one
      -- (:Icotes restart) must not attach whatever buffer is current.
      local cur = vim.api.nvim_get_current_buf()
      if M.root_of(cur) ~= root then pcall(vim.lsp.buf_detach_client, cur, id) end
    end
  else
    id = vim.lsp.start_client(config)
    if id and bufnr then vim.lsp.buf_attach_client(bufnr, id) end
  end
  if id then M.clients[root] = id end
  return id
end

-- Attaches bufnr to the client of its root (starting it) when it is a file
-- under a root.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if not vim.api.nvim_buf_is_loaded(bufnr) then return nil end
  local root = M.root_of(bufnr)
  if not root then return nil end
  if not M.config.autostart and not M.client_for_root(root) then return nil end
  return M.start(root, bufnr)
end

-- Every loaded file buffer under root.
function M.buffers_of(root)
  local out = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and M.root_of(b) == root then table.insert(out, b) end
  end
  return out
end

-- Stops the client of root; on_stopped() once it has exited (bounded: 5 s).
function M.stop(root, on_stopped)
  local client = M.client_for_root(root)
  M.clients[root] = nil
  if not client then
    if on_stopped then on_stopped() end
    return
  end
  stopping[client.id] = true
  util.call(client, 'stop')
  local timer = uv.new_timer()
  local waited = 0
  timer:start(50, 50, vim.schedule_wrap(function()
    waited = waited + 50
    local gone = vim.lsp.get_client_by_id(client.id) == nil or util.call(client, 'is_stopped')
    if gone or waited >= 5000 then
      if not timer:is_closing() then
        timer:stop()
        timer:close()
      end
      if not gone then util.call(client, 'stop', true) end
      if on_stopped then on_stopped() end
    end
  end))
end

function M.setup(opts)
  opts = opts or {}
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts)
  -- Lists are taken whole (tbl_deep_extend would merge them index by index).
  for _, k in ipairs({ 'cmd', 'root_markers', 'allow', 'deny' }) do
    if opts[k] ~= nil then M.config[k] = opts[k] end
  end
  if M.config.permission_mode == 'bypass' then
    error('icotes: permission_mode bypass is refused by the server (only the command-line flag sets it)')
  end
  group = vim.api.nvim_create_augroup('icotes', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile', 'BufFilePost' }, {
    group = group,
    callback = function(args) M.attach(args.buf) end,
  })
  require('icotes.context').setup(group)
  require('icotes.questions').setup()
  for _, b in ipairs(vim.api.nvim_list_bufs()) do M.attach(b) end
  return M
end

return M
