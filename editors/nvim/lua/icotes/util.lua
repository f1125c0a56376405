-- Small helpers shared by the icotes modules, written once for Neovim 0.7
-- through 0.11 (client methods became `client:method()` in 0.11).
local M = {}

local has_011 = vim.fn.has('nvim-0.11') == 1

-- client.request(...) on 0.7-0.10, client:request(...) on 0.11+.
function M.call(client, method, ...)
  if has_011 then return client[method](client, ...) end
  return client[method](...)
end

function M.notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = 'icotes' })
end

-- An asynchronous request; on_done(err, result). Errors are shown when no
-- on_done is given.
function M.request(client, method, params, on_done, bufnr)
  if params == nil or (type(params) == 'table' and next(params) == nil) then params = vim.empty_dict() end
  local ok = M.call(client, 'request', method, params, function(err, result)
    if on_done then
      on_done(err, result)
    elseif err then
      M.notify(method .. ': ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    end
  end, bufnr)
  if not ok and on_done then on_done({ message = 'icotes is not running' }, nil) end
end

-- UTF-16 code units in the first `bytes` bytes of line (LSP positions).
function M.utf16_of_byte(line, bytes)
  local units, i = 0, 1
  bytes = math.min(bytes, #line)
  while i <= bytes do
    local c = line:byte(i)
    local len = c < 0x80 and 1 or c < 0xE0 and 2 or c < 0xF0 and 3 or 4
    units = units + (len == 4 and 2 or 1)
    i = i + len
  end
  return units
end

-- The byte offset (0-based) of UTF-16 column `units` in line.
function M.byte_of_utf16(line, units)
  local n, i = 0, 1
  while i <= #line and n < units do
    local c = line:byte(i)
    local len = c < 0x80 and 1 or c < 0xE0 and 2 or c < 0xF0 and 3 or 4
    n = n + (len == 4 and 2 or 1)
    i = i + len
  end
  return i - 1
end

-- Runs a command (a list) without blocking; on_done(code, stdout, stderr).
function M.run(cmd, on_done)
  local out, err = {}, {}
  local ok, job = pcall(vim.fn.jobstart, cmd, {
    stdout_buffered = true,
    stderr_buffered = true,
    on_stdout = function(_, data) out = data end,
    on_stderr = function(_, data) err = data end,
    on_exit = function(_, code)
      vim.schedule(function()
        on_done(code, vim.trim(table.concat(out, '\n')), vim.trim(table.concat(err, '\n')))
      end)
    end,
  })
  if not ok or job <= 0 then on_done(-1, '', 'cannot run ' .. tostring(cmd[1]) .. ': ' .. tostring(job)) end
end

-- A scratch buffer in a split, holding lines.
function M.scratch(name, lines)
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  pcall(vim.api.nvim_buf_set_name, buf, name)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  return buf
end

return M
