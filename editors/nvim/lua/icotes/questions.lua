-- Permission questions (window/showMessageRequest) without blocking typing.
--
-- Neovim answers a server request with whatever its handler returns, and
-- its own handler asks with inputlist() (0.7-0.9: a prompt that takes over
-- the screen mid-typing). Here the handler only queues the question; it is
-- shown with vim.ui.select once Neovim is idle (Normal mode, no key for
-- question_idle_ms), one at a time, and the answer is sent when the user
-- picks. A question not answered within question_timeout_ms is declined
-- with a note (the server's own limit is 120 s).
--
-- Answering later needs the reply to be sent after the handler returned:
--  * Neovim 0.10+ runs server-request handlers in a coroutine: the handler
--    yields and is resumed with the answer (as Neovim's own handler does);
--  * 0.7-0.9 send the handler's return value at once: the handler finds
--    the request being answered (its id and the function that sends the
--    reply) on the Lua stack of vim.lsp.rpc, returns a placeholder that is
--    not sent, and sends the real answer later;
--  * if neither is possible, the question is declined at once with a note.
local M = {}

local uv = vim.uv or vim.loop

local util = require('icotes.util')

local queue = {} -- questions not yet shown
local showing = nil -- the question on screen
local last_key = 0
local poll = nil
local senders = setmetatable({}, { __mode = 'k' }) -- installed send_response wrappers

local function cfg() return require('icotes').config or {} end

local function now() return uv.now() end

function M.setup()
  if vim.on_key and not M._on_key then
    M._on_key = vim.api.nvim_create_namespace('icotes.keys')
    vim.on_key(function() last_key = now() end, M._on_key)
  end
end

-- The frame of vim.lsp.rpc answering the current server request: its
-- function and upvalues by name, found by walking up from the handler.
local function rpc_frame()
  for level = 3, 40 do
    local info = debug.getinfo(level, 'f')
    if not info then return nil end
    local ups, i = {}, 1
    while info.func do
      local name, value = debug.getupvalue(info.func, i)
      if not name then break end
      ups[name] = { index = i, value = value }
      i = i + 1
    end
    if ups.decoded and type(ups.decoded.value) == 'table' and ups.decoded.value.id ~= nil then
      return info.func, ups
    end
  end
end

-- For 0.7-0.9: the request id and a function(result) sending the answer
-- later; the handler's own (immediate) answer is then not sent.
local function deferred_reply()
  local ok, fn, ups = pcall(rpc_frame)
  if not ok or not fn then return nil end
  local id = ups.decoded.value.id
  if ups.send_response and type(ups.send_response.value) == 'function' then
    -- 0.7/0.8: send_response is a local of vim.lsp.rpc.start(), shared by
    -- every closure of that client; it is wrapped once.
    local current = ups.send_response.value
    local w = senders[current]
    if not w then
      local orig, skip = current, {}
      local wrapper = function(rid, err, result)
        if rid ~= nil and skip[rid] then
          skip[rid] = nil
          return true
        end
        return orig(rid, err, result)
      end
      w = { orig = orig, skip = skip }
      senders[wrapper] = w
      debug.setupvalue(fn, ups.send_response.index, wrapper)
    end
    w.skip[id] = true
    return id, function(result) w.orig(id, nil, result) end
  end
  local obj = ups.self and ups.self.value
  if type(obj) == 'table' and type(obj.send_response) == 'function' then
    -- 0.9: a client object whose send_response method answers.
    local w = senders[obj]
    if not w then
      local orig, skip = obj.send_response, {}
      w = { orig = orig, skip = skip }
      senders[obj] = w
      obj.send_response = function(self, rid, err, result)
        if rid ~= nil and skip[rid] then
          skip[rid] = nil
          return true
        end
        return orig(self, rid, err, result)
      end
    end
    w.skip[id] = true
    return id, function(result) w.orig(obj, id, nil, result) end
  end
  return nil
end

local function stop_poll()
  if poll and #queue == 0 and not showing then
    poll:stop()
    poll:close()
    poll = nil
  end
end

local function remove(item)
  for i, q in ipairs(queue) do
    if q == item then
      table.remove(queue, i)
      return
    end
  end
end

local function finish(item, result, note, level)
  if item.done then return false end
  item.done = true
  if item.timer and not item.timer:is_closing() then
    item.timer:stop()
    item.timer:close()
  end
  remove(item)
  if showing == item then showing = nil end
  item.reply(result)
  if note then util.notify(note, level or vim.log.levels.WARN) end
  stop_poll()
  return true
end

local function idle()
  local m = vim.api.nvim_get_mode()
  if m.blocking or (m.mode ~= 'n' and m.mode ~= 'nt') then return false end
  if vim.fn.getcmdwintype() ~= '' then return false end
  return now() - last_key >= (cfg().question_idle_ms or 500)
end

function M.pump()
  if showing or #queue == 0 or not idle() then return end
  local item = table.remove(queue, 1)
  showing = item
  vim.ui.select(item.actions, {
    prompt = item.message,
    kind = 'icotes.permission',
    format_item = function(a) return a.title end,
  }, function(choice)
    if item.done then
      if choice then util.notify('icotes: that question had already been declined (' .. item.message .. ')') end
      return
    end
    finish(item, choice and { title = choice.title } or vim.NIL,
           not choice and ('icotes: declined: ' .. item.message) or nil, vim.log.levels.INFO)
    vim.schedule(M.pump)
  end)
end

local function enqueue(item)
  table.insert(queue, item)
  local timeout = cfg().question_timeout_ms or 60000
  item.timer = uv.new_timer()
  item.timer:start(timeout, 0, vim.schedule_wrap(function()
    finish(item, vim.NIL, string.format('icotes: declined, not answered within %d s: %s', math.floor(timeout / 1000),
                                        item.message))
  end))
  if not poll then
    poll = uv.new_timer()
    poll:start(0, 200, vim.schedule_wrap(M.pump))
  end
end

-- window/showMessageRequest
function M.handler(_, params, ctx)
  local item = {
    message = params.message or '',
    actions = params.actions or {},
    client_id = ctx and ctx.client_id,
  }
  local co, is_main = coroutine.running()
  local yieldable = co and not is_main and (not coroutine.isyieldable or coroutine.isyieldable())
  if yieldable then
    local ok, fn, ups = pcall(rpc_frame)
    item.request_id = ok and fn and ups.decoded.value.id or nil
    item.reply = function(result) vim.schedule(function() coroutine.resume(co, result) end) end
    M.how = 'coroutine'
    enqueue(item)
    return coroutine.yield()
  end
  local id, send = deferred_reply()
  if send then
    item.request_id = id
    item.reply = send
    M.how = 'deferred reply'
    enqueue(item)
    return vim.NIL -- not sent: the answer goes when the user picks
  end
  M.how = 'declined at once'
  local titles = {}
  for _, a in ipairs(item.actions) do table.insert(titles, a.title) end
  vim.schedule(function()
    util.notify(item.message .. '\n(declined: this Neovim cannot answer later; choices were: ' ..
                table.concat(titles, ' | ') .. ')', vim.log.levels.WARN)
  end)
  return vim.NIL
end

-- $/cancelRequest from the server: a question whose calls were all
-- cancelled is withdrawn.
function M.cancelled(_, params)
  local id = params and params.id
  if id == nil then return end
  for _, item in ipairs(vim.list_extend(vim.list_extend({}, queue), { showing })) do
    if item and item.request_id == id then finish(item, vim.NIL, 'icotes: question withdrawn: ' .. item.message, vim.log.levels.INFO) end
  end
end

-- A client that exited takes its questions with it.
function M.drop(client_id)
  for _, item in ipairs(vim.list_extend(vim.list_extend({}, queue), { showing })) do
    if item and item.client_id == client_id then finish(item, vim.NIL, nil) end
  end
end

-- Questions waiting or on screen.
function M.pending()
  return #queue + (showing and 1 or 0)
end

return M
