-- Neovim (Debian's 0.7, headless) as an LSP client of icotes:
--   nvim --headless --clean -u NONE -c "luafile integration/nvim/attach.lua"
-- with ICOTES_BINARY (the binary) in the environment. Starts icotes with
-- vim.lsp.start_client on a temporary workspace, opens a file, attaches the
-- client, changes the buffer without saving, and checks that
-- icotes/files/read returns the unsaved text, that workspace/executeCommand
-- works, and that icotes/files/edit on the open buffer goes through Neovim's
-- own workspace/applyEdit handler into the buffer (not the disk).
-- The server is started the way an editor starts it, `icotes serve` on
-- stdio, so it attaches to the workspace's daemon (a private
-- XDG_RUNTIME_DIR): LSP's exit code must come back through the forwarder,
-- and the daemon must exit once idle with no sanitizer report in its log.
-- Exits 0 ("qa!") when every check passes, non-zero ("cquit 1") otherwise.
-- ICOTES_NVIM_SELFTEST_FAIL=1 makes one check fail on purpose, to prove
-- that a failure is reported as a non-zero exit.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/?.lua;' .. package.path
local h = require('harness').new({ tag = 'nvim-attach', watchdog_ms = 60000 })
local out, check, wait, buffer_text, read_disk = h.out, h.check, h.wait, h.buffer_text, h.read

local function request(client, method, params, bufnr)
  local res, reason = client.request_sync(method, params, 5000, bufnr)
  check(res ~= nil, method .. ': no answer (' .. tostring(reason) .. ')')
  return res.err, res.result
end

local function ok_request(client, method, params, bufnr)
  local e, result = request(client, method, params, bufnr)
  check(e == nil, method .. ' failed: ' .. vim.inspect(e))
  return result
end

local function main()
  local bin = os.getenv('ICOTES_BINARY')
  check(bin and bin ~= '', 'ICOTES_BINARY is not set')
  check(vim.fn.executable(bin) == 1, 'ICOTES_BINARY=' .. bin .. ' is not executable')
  out(vim.version and ('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor)) or 'Neovim')

  local tmpdir = h.make_tmpdir()
  vim.fn.mkdir(tmpdir .. '/src', 'p')
  local file = tmpdir .. '/src/main.c'
  local disk = '#include <stdio.h>\n\nint main(void) {\n  printf("hello\\n");\n  return 0;\n}\n'
  h.write(file, disk)

  local initialized = false
  local exited = nil
  local runtime = tmpdir .. '/run'
  vim.fn.mkdir(runtime, 'p', tonumber('700', 8))
  local client_id = vim.lsp.start_client({
    cmd_env = { XDG_RUNTIME_DIR = runtime },
    name = 'icotes',
    cmd = { bin, 'serve', '--root', tmpdir, '--idle-timeout', '300' },
    root_dir = tmpdir,
    -- Edits on the open buffer without a question (headless Neovim would
    -- block in inputlist() on window/showMessageRequest): the connection's
    -- permission mode, as an editor sets it.
    init_options = { permissions = { mode = 'acceptEdits' } },
    workspace_folders = { { uri = vim.uri_from_fname(tmpdir), name = 'tmp' } },
    on_init = function() initialized = true end,
    on_exit = function(code, signal) exited = { code = code, signal = signal } end,
  })
  check(client_id, 'vim.lsp.start_client returned nil')
  wait(5000, function() return initialized or exited ~= nil end, 'initialize')
  check(initialized, 'the server exited during initialize: ' .. vim.inspect(exited))
  local client = vim.lsp.get_client_by_id(client_id)
  check(client, 'no client object')
  local caps = client.server_capabilities or {}
  check(caps.positionEncoding == 'utf-16', 'positionEncoding: ' .. tostring(caps.positionEncoding))
  check(caps.executeCommandProvider and vim.tbl_contains(caps.executeCommandProvider.commands, 'icotes.files.read'),
        'executeCommandProvider lists icotes.files.read')
  out('initialized; server ' .. vim.inspect(client.server_info or {}))

  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  check(vim.lsp.buf_attach_client(bufnr, client_id), 'buf_attach_client failed')

  -- The saved text first (didOpen sent on attach).
  local r = ok_request(client, 'icotes/files/read', { path = 'src/main.c' }, bufnr)
  check(r.content == disk, 'read after didOpen: ' .. vim.inspect(r.content))

  -- Change the buffer without saving: a replaced line (with non-ASCII text)
  -- and an inserted one. Neovim sends incremental didChange (debounced; a
  -- request flushes pending changes first).
  vim.api.nvim_buf_set_lines(bufnr, 3, 4, true, { '  printf("héllo wörld 🌍\\n");' })
  vim.api.nvim_buf_set_lines(bufnr, 4, 4, true, { '  /* unsaved */' })
  check(vim.bo[bufnr].modified, 'the buffer is modified')
  local want = buffer_text(bufnr)
  if os.getenv('ICOTES_NVIM_SELFTEST_FAIL') == '1' then want = want .. 'deliberately wrong\n' end
  r = ok_request(client, 'icotes/files/read', { path = 'src/main.c' }, bufnr)
  check(r.source == 'editor', 'source: ' .. tostring(r.source))
  check(r.content == want, 'icotes/files/read returned ' .. vim.inspect(r.content) .. ', the buffer holds ' .. vim.inspect(want))
  check(r.totalLines == 7, 'totalLines: ' .. tostring(r.totalLines))
  check(read_disk(file) == disk, 'the disk changed')
  out('icotes/files/read returns the unsaved buffer')

  -- workspace/executeCommand.
  local st = ok_request(client, 'workspace/executeCommand',
                        { command = 'icotes.files.stat', arguments = { { path = 'src/main.c' } } }, bufnr)
  check(st.type == 'file' and st.openInEditor == true and st.size == #disk, 'stat: ' .. vim.inspect(st))
  local e = request(client, 'workspace/executeCommand', { command = 'icotes.nope', arguments = {} }, bufnr)
  check(e and e.code == -32602, 'an unknown command is -32602: ' .. vim.inspect(e))
  out('workspace/executeCommand works')

  -- icotes/files/edit on the open buffer: Neovim's own workspace/applyEdit
  -- handler applies it to the buffer; the disk stays as it was.
  local ed = ok_request(client, 'icotes/files/edit',
                        { path = 'src/main.c', edits = { { oldString = 'return 0;', newString = 'return 42;' } } }, bufnr)
  check(ed.via == 'editor', 'edit via: ' .. tostring(ed.via))
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
  check(lines[6] == '  return 42;', 'buffer line 6 after the edit: ' .. vim.inspect(lines))
  check(lines[4] == '  printf("héllo wörld 🌍\\n");', 'the unsaved change is kept: ' .. vim.inspect(lines[4]))
  check(read_disk(file) == disk, 'the disk changed after an editor edit')
  r = ok_request(client, 'icotes/files/read', { path = 'src/main.c' }, bufnr)
  check(r.content == buffer_text(bufnr), 'read after the edit: ' .. vim.inspect(r.content))
  out('icotes/files/edit went through workspace/applyEdit into the buffer')

  -- Saving writes the buffer; after closing it the disk is read again.
  vim.cmd('write')
  local saved = buffer_text(bufnr)
  check(read_disk(file) == saved, 'the disk holds the saved buffer')
  vim.cmd('bwipeout!')
  r = ok_request(client, 'icotes/files/read', { path = 'src/main.c' })
  check(r.source == 'disk' and r.content == saved, 'read after closing: ' .. vim.inspect(r))

  -- Shut down cleanly: shutdown + exit, exit code 0.
  client.stop()
  wait(5000, function() return exited ~= nil end, 'the server to exit')
  check(exited.code == 0, 'server exit: ' .. vim.inspect(exited))
  out('server exited with code 0')

  -- The daemon it attached to leaves 300 ms after its last client.
  local sockets = function() return vim.fn.glob(runtime .. '/icotes/*.sock', false, true) end
  local logs = vim.fn.glob(runtime .. '/icotes/*.log', false, true)
  check(#logs == 1, 'one daemon log: ' .. vim.inspect(logs))
  wait(10000, function() return #sockets() == 0 end, 'the idle daemon to exit')
  -- Its last words (a leak report) come as the process ends.
  local daemon_alive = function()
    vim.fn.system({ 'pgrep', '-f', 'serve --daemon --root ' .. tmpdir .. ' ' })
    return vim.v.shell_error == 0
  end
  wait(20000, function() return not daemon_alive() end, 'the daemon process to end')
  local log = read_disk(logs[1])
  check(log:find('daemon for', 1, true) ~= nil, 'the daemon logged its start: ' .. log)
  for _, bad in ipairs({ 'AddressSanitizer', 'LeakSanitizer', 'runtime error:' }) do
    check(log:find(bad, 1, true) == nil, 'sanitizer report in the daemon log:\n' .. log)
  end
  out('the daemon exited when idle; its log is clean')
end

h.finish(main)
