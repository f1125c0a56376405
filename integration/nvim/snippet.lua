-- The README's Neovim snippet (integration/nvim/icotes.lua), exactly as a
-- user pastes it, in headless Neovim:
--   nvim --headless --clean -u NONE -c "luafile integration/nvim/snippet.lua"
-- with ICOTES_BINARY (a binary named icotes) in the environment; it is put
-- first in PATH, as an installed icotes is. Checks that opening files
-- attaches them (one client for both), that icotes/files/read returns the
-- unsaved buffer, and that a permission question (a command the connection
-- may not run without asking) is declined at once with a message instead of
-- blocking in inputlist(). Exits 0 ("qa!") when every check passes, non-zero
-- ("cquit 1") otherwise.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/?.lua;' .. package.path
local h = require('harness').new({ tag = 'nvim-snippet', watchdog_ms = 60000 })
local out, check, wait, write = h.out, h.check, h.wait, h.write

local function clients_of(bufnr)
  local ids = {}
  for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if c.name == 'icotes' then table.insert(ids, c.id) end
  end
  return ids
end

local function main()
  local bin = os.getenv('ICOTES_BINARY')
  check(bin and bin ~= '', 'ICOTES_BINARY is not set')
  check(vim.fn.fnamemodify(bin, ':t') == 'icotes', 'ICOTES_BINARY must be named icotes: ' .. bin)
  out('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor) ..
      (vim.lsp.start and ': the snippet attaches with vim.lsp.start' or ': the snippet attaches with start_client + buf_attach_client'))

  local tmpdir = h.make_tmpdir()
  vim.fn.mkdir(tmpdir .. '/src', 'p')
  h.private_xdg()
  vim.env.PATH = vim.fn.fnamemodify(bin, ':p:h') .. ':' .. vim.env.PATH
  local disk = 'int main(void) {\n  return 0;\n}\n'
  write(tmpdir .. '/src/main.c', disk)
  write(tmpdir .. '/src/util.c', 'int util(void) { return 1; }\n')
  vim.cmd('cd ' .. vim.fn.fnameescape(tmpdir))

  local notes = {}
  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(notes, msg)
    return notify(msg, level, opts)
  end

  -- ICOTES_NVIM_SNIPPET: another snippet (to see this test fail on one whose
  -- question handler blocks).
  vim.cmd('luafile ' .. vim.fn.fnameescape(os.getenv('ICOTES_NVIM_SNIPPET') or (here .. '/icotes.lua')))

  vim.cmd('edit src/main.c')
  local main_buf = vim.api.nvim_get_current_buf()
  wait(10000, function() return #clients_of(main_buf) == 1 end, 'icotes to attach to src/main.c')
  local client = vim.lsp.get_client_by_id(clients_of(main_buf)[1])
  wait(10000, function() return client.initialized or (client.server_capabilities ~= nil and next(client.server_capabilities) ~= nil) end,
       'initialize')

  vim.cmd('edit src/util.c')
  local util_buf = vim.api.nvim_get_current_buf()
  wait(5000, function() return #clients_of(util_buf) == 1 end, 'icotes to attach to src/util.c')
  check(clients_of(util_buf)[1] == client.id, 'one client for both buffers')
  out('both buffers attached to one client')

  vim.api.nvim_buf_set_lines(main_buf, 1, 2, true, { '  return 7; /* unsaved */' })
  local want = table.concat(vim.api.nvim_buf_get_lines(main_buf, 0, -1, true), '\n') .. '\n'
  local res = client.request_sync('icotes/files/read', { path = 'src/main.c' }, 5000, main_buf)
  check(res and res.err == nil, 'icotes/files/read: ' .. vim.inspect(res))
  check(res.result.source == 'editor' and res.result.content == want,
        'icotes/files/read returns the unsaved buffer: ' .. vim.inspect(res.result))
  out('icotes/files/read returns the unsaved buffer')

  -- A command this connection has no rule for: the server asks this editor.
  -- The snippet's handler declines at once; the answer comes well before the
  -- server's own question timeout.
  local t0 = vim.loop.hrtime()
  res = client.request_sync('icotes/exec/run', { command = 'echo asked' }, 10000, main_buf)
  local ms = (vim.loop.hrtime() - t0) / 1e6
  check(res ~= nil, 'icotes/exec/run: no answer within 10 s')
  check(res.err ~= nil, 'icotes/exec/run ran without an answer to its question: ' .. vim.inspect(res))
  check(ms < 5000, 'icotes/exec/run took ' .. ms .. ' ms')
  wait(2000, function() return #notes > 0 end, 'the question to be shown')
  check(notes[1]:find('declined', 1, true) ~= nil, 'the note says it was declined: ' .. notes[1])
  out(string.format('the permission question was declined at once (%.0f ms): %s', ms, vim.inspect(res.err.message)))

  client.stop()
  wait(5000, function() return vim.lsp.get_client_by_id(client.id) == nil end, 'the client to stop')
end

h.finish(main, function()
  -- The daemon leaves once idle; stop it now so its folder can go.
  if h.tmpdir then vim.fn.system({ os.getenv('ICOTES_BINARY') or 'true', 'daemon', 'stop', '--root', h.tmpdir }) end
end)
