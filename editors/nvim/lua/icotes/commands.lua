-- :Icotes status | mode [MODE] | permissions | revoke | terminal | log | restart | context
local M = {}

local util = require('icotes.util')

local MODES = { 'default', 'acceptEdits', 'readOnly' }
M.subcommands = { 'status', 'mode', 'permissions', 'revoke', 'terminal', 'log', 'restart', 'context' }

local function icotes() return require('icotes') end

-- The root and live client of the current buffer (else of the current
-- directory); reports and returns nil when there is none.
local function current()
  local I = icotes()
  if not I.config then
    util.notify("icotes: call require('icotes').setup() first", vim.log.levels.ERROR)
    return nil
  end
  local root = I.root_of(0)
  if not root then
    local cwd = vim.fn.getcwd()
    for r in pairs(I.clients) do
      if cwd == r or cwd:sub(1, #r + 1) == r .. '/' then root = r end
    end
    root = root or next(I.clients)
  end
  local client = root and I.client_for_root(root)
  return root, client
end

local function need_client()
  local root, client = current()
  if root and not client then
    util.notify('icotes: not connected for ' .. root .. ' (open a file there, or :Icotes restart)', vim.log.levels.ERROR)
  elseif not root then
    util.notify('icotes: no workspace here (open a file under a root)', vim.log.levels.ERROR)
  end
  return client and root, client
end

local function cli(args, root)
  local cmd = { icotes().config.bin }
  vim.list_extend(cmd, args)
  if root then vim.list_extend(cmd, { '--root', root }) end
  return cmd
end

-- icotes/permissions/list. The daemon takes in changes to .icotes/ (a new
-- mode, rules, grants saved by the CLI) when it next decides a call, and
-- permissions/list is not one: a workspace/info first (a read, decided by
-- the gate) makes the list current.
local function list_permissions(client, on_done)
  util.request(client, 'icotes/workspace/info', {}, function()
    util.request(client, 'icotes/permissions/list', {}, on_done)
  end)
end

function M.status(on_done)
  local root, client = current()
  if not root then
    local lines = { 'icotes: not connected (no file under a workspace root is open)' }
    util.notify(table.concat(lines, '\n'))
    if on_done then on_done(lines) end
    return
  end
  local lines = {}
  local function finish()
    local questions = require('icotes.questions').pending()
    if questions > 0 then table.insert(lines, 'permission questions waiting: ' .. questions) end
    local ctx = icotes().config.editor_context
    table.insert(lines, 'editor context: ' .. (client and require('icotes.context').enabled(client) and 'sent' or
                                                 ('not sent (editor_context = ' .. tostring(ctx) .. ')')))
    util.notify(table.concat(lines, '\n'))
    if on_done then on_done(lines) end
  end
  if not client then
    lines = { 'icotes: not connected', 'root: ' .. root }
    return finish()
  end
  table.insert(lines, 'icotes: connected (client ' .. client.id .. ')')
  table.insert(lines, 'root: ' .. root)
  util.request(client, 'icotes/workspace/info', {}, function(err, info)
    if err or not info then
      table.insert(lines, 'workspace/info failed: ' .. tostring(err and err.message))
      return finish()
    end
    lines[1] = 'icotes: connected (client ' .. client.id .. ', icotes ' .. tostring(info.version) .. ')'
    local names = {}
    for _, c in ipairs(info.clients or {}) do
      table.insert(names, (c.name or '?') .. (c.you and ' (this editor)' or ''))
    end
    util.run(cli({ 'daemon', 'list', '--json' }, root), function(code, out)
      local pid = '?'
      if code == 0 then
        local ok, list = pcall(vim.json.decode, out)
        if ok and type(list) == 'table' and list[1] then pid = tostring(list[1].pid) end
      end
      table.insert(lines, string.format('daemon: pid %s, %d client%s: %s', pid, #names, #names == 1 and '' or 's',
                                        table.concat(names, ', ')))
      util.request(client, 'icotes/permissions/list', {}, function(perr, perms)
        local conn = info.permissions and info.permissions.mode or '?'
        local ws = perms and perms.mode or ('? (' .. tostring(perr and perr.message) .. ')')
        table.insert(lines, 'mode: ' .. ws .. ' (workspace); this editor\'s connection: ' .. conn ..
                     (icotes().config.permission_mode and ' (permission_mode)' or ''))
        finish()
      end)
    end)
  end)
end

-- Sets the workspace's permission mode (.icotes/config.toml, through
-- `icotes permissions mode`): it decides at once for every client of the
-- workspace that did not set a mode of its own.
function M.mode(mode, on_done)
  local root = current()
  if not root then return end
  local function set(m)
    if not m then return end
    util.run(cli({ 'permissions', 'mode', m }, root), function(code, out, err)
      if code == 0 then
        util.notify('icotes: ' .. (out ~= '' and out or ('mode ' .. m)))
      else
        util.notify('icotes permissions mode ' .. m .. ' failed: ' .. err .. out, vim.log.levels.ERROR)
      end
      if on_done then on_done(code == 0) end
    end)
  end
  if mode and mode ~= '' then return set(mode) end
  vim.ui.select(MODES, { prompt = 'icotes permission mode for ' .. root, kind = 'icotes.mode' }, set)
end

local function grant_text(g)
  return string.format('%s %s %s%s', g.answer or 'allow', g.kind or '?', g.scope or '?',
                       (g.value and g.value ~= '') and (' ' .. g.value) or '')
end

function M.permissions(on_done)
  local root, client = need_client()
  if not client then return end
  list_permissions(client, function(err, r)
    if err then return util.notify('icotes/permissions/list: ' .. err.message, vim.log.levels.ERROR) end
    local lines = { 'icotes permissions for ' .. root, 'mode: ' .. tostring(r.mode) }
    for _, rule in ipairs(r.rules and r.rules.allow or {}) do table.insert(lines, 'rule allow ' .. rule) end
    for _, rule in ipairs(r.rules and r.rules.deny or {}) do table.insert(lines, 'rule deny ' .. rule) end
    for _, g in ipairs(r.grants or {}) do table.insert(lines, 'grant ' .. grant_text(g)) end
    if #(r.grants or {}) == 0 then table.insert(lines, 'no remembered answers') end
    util.notify(table.concat(lines, '\n'))
    if on_done then on_done(lines, r) end
  end)
end

-- Picks a remembered answer (or a saved rule) and revokes it.
function M.revoke(on_done)
  local root, client = need_client()
  if not client then return end
  list_permissions(client, function(err, r)
    if err then return util.notify('icotes/permissions/list: ' .. err.message, vim.log.levels.ERROR) end
    local items = {}
    for _, g in ipairs(r.grants or {}) do table.insert(items, { grant = g, label = 'grant ' .. grant_text(g) }) end
    for _, kind in ipairs({ 'allow', 'deny' }) do
      for _, rule in ipairs(r.rules and r.rules[kind] or {}) do
        table.insert(items, { rule = rule, label = 'rule ' .. kind .. ' ' .. rule })
      end
    end
    if #items == 0 then
      util.notify('icotes: nothing to revoke')
      if on_done then on_done(false) end
      return
    end
    vim.ui.select(items, { prompt = 'Revoke which icotes permission?', kind = 'icotes.revoke',
                           format_item = function(i) return i.label end }, function(item)
      if not item then
        if on_done then on_done(false) end
        return
      end
      if item.grant then
        local g = item.grant
        util.request(client, 'icotes/permissions/revoke', { kind = g.kind, scope = g.scope, value = g.value, answer = g.answer },
                     function(rerr, rr)
          local ok = not rerr and rr and rr.revoked
          util.notify(ok and ('icotes: revoked ' .. item.label) or ('icotes: not revoked: ' .. tostring(rerr and rerr.message or 'not found')),
                      ok and vim.log.levels.INFO or vim.log.levels.ERROR)
          if on_done then on_done(ok) end
        end)
      else
        -- A rule is removed by its text (`icotes permissions revoke`); rules
        -- written by hand in .icotes/config.toml are removed there.
        util.run(cli({ 'permissions', 'revoke', item.rule }, root), function(code, out, e)
          util.notify(code == 0 and ('icotes: ' .. out) or ('icotes: ' .. e .. out),
                      code == 0 and vim.log.levels.INFO or vim.log.levels.ERROR)
          if on_done then on_done(code == 0) end
        end)
      end
    end)
  end)
end

-- The permission log (the audit log of decisions), newest first, in a
-- scratch buffer.
function M.log(on_done)
  local root, client = need_client()
  if not client then return end
  util.request(client, 'icotes/permissions/log', { limit = 2000 }, function(err, r)
    if err then return util.notify('icotes/permissions/log: ' .. err.message, vim.log.levels.ERROR) end
    local lines = { 'icotes permission log for ' .. root .. ' (time, client, operation, kind, target, answer, decided by)',
                    '(newest first; calls that need no permission are left out)' }
    local shown = 0
    for _, rec in ipairs(r.records or {}) do
      if rec.kind ~= 'None' and shown < 200 then
        shown = shown + 1
        table.insert(lines, string.format('%s  %s  %s  %s  %s  %s  %s',
                                          os.date('%Y-%m-%d %H:%M:%S', math.floor((rec.time or 0) / 1000)),
                                          tostring(rec.client), tostring(rec.operation), tostring(rec.kind),
                                          tostring(rec.target), tostring(rec.answer), tostring(rec.decidedBy)))
      end
    end
    if shown == 0 then table.insert(lines, '(no decisions yet)') end
    local buf = util.scratch('icotes://log/' .. root, lines)
    if on_done then on_done(buf, lines) end
  end)
end

-- `icotes daemon restart --root`: stops this editor's client, restarts the
-- workspace's daemon, starts the client again and attaches the buffers.
function M.restart(on_done)
  local root = current()
  if not root then return end
  local I = icotes()
  I.stop(root, function()
    util.run(cli({ 'daemon', 'restart' }, root), function(code, out, err)
      local id
      local bufs = I.buffers_of(root)
      if #bufs > 0 then
        for _, b in ipairs(bufs) do id = I.start(root, b) end
      else
        id = I.start(root)
      end
      util.notify(code == 0 and ('icotes: daemon restarted for ' .. root .. (out ~= '' and ('\n' .. out) or ''))
                  or ('icotes daemon restart: ' .. err .. out .. ' (a client was started again)'),
                  code == 0 and vim.log.levels.INFO or vim.log.levels.WARN)
      if on_done then on_done(code == 0, id) end
    end)
  end)
end

function M.terminal()
  local root, client = need_client()
  if not client then return end
  -- Terminal mode once it runs: while it starts, Normal mode lets the
  -- Bash permission question (if any) be shown.
  return require('icotes.terminal').open({ root = root }, function(t)
    if vim.api.nvim_get_current_buf() == t.buf then vim.cmd('startinsert') end
  end)
end

function M.context()
  local params = require('icotes.context').build()
  util.notify(params and vim.inspect(params) or 'icotes: the current buffer is not under a root')
end

function M.run(args)
  local sub = args[1] or 'status'
  if sub == 'status' then return M.status() end
  if sub == 'mode' then return M.mode(args[2]) end
  if sub == 'permissions' then return M.permissions() end
  if sub == 'revoke' then return M.revoke() end
  if sub == 'terminal' then return M.terminal() end
  if sub == 'log' then return M.log() end
  if sub == 'restart' then return M.restart() end
  if sub == 'context' then return M.context() end
  util.notify('icotes: unknown subcommand ' .. sub .. ' (' .. table.concat(M.subcommands, ', ') .. ')', vim.log.levels.ERROR)
end

function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, '%s+', { trimempty = false })
  local list = #words <= 2 and M.subcommands or (words[2] == 'mode' and MODES or {})
  return vim.tbl_filter(function(s) return s:sub(1, #arglead) == arglead end, list)
end

return M
