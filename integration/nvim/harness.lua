-- What every headless Neovim test here shares (attach.lua, snippet.lua,
-- plugin.lua): tagged output, check/wait, a watchdog, small file helpers, a
-- private temporary folder, and the ending (stop the LSP clients, clean up,
-- exit 0 with "qa!" when main passed, "cquit 1" otherwise). A test finds it
-- beside itself:
--
--   local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
--   package.path = here .. '/?.lua;' .. package.path
--   local h = require('harness').new({ tag = 'nvim-attach', watchdog_ms = 60000 })
--   ...
--   h.finish(main, function() ... end)
--
-- Works on Neovim 0.7 (Debian 12) and 0.10 (Debian 13): only vim.loop,
-- vim.wait, vim.fn and vim.lsp.get_active_clients are used.

local M = {}

-- opts: tag (the prefix of every line), watchdog_ms (the process ends with
-- "cquit 2" after that long, whatever happens: nothing may hang; a handler
-- blocking in inputlist() stops the loop, the timer fires once it returns,
-- and ctest's timeout covers the rest), poll_ms (how often wait() polls; 10
-- by default).
function M.new(opts)
  local h = { tmpdir = nil }
  local tag = '[' .. opts.tag .. '] '
  local poll_ms = opts.poll_ms or 10

  function h.out(msg)
    io.stdout:write(tag .. msg .. '\n')
    io.stdout:flush()
  end

  function h.err(msg)
    io.stderr:write(tag .. 'FAIL: ' .. msg .. '\n')
    io.stderr:flush()
  end

  local watchdog = vim.loop.new_timer()
  watchdog:start(opts.watchdog_ms, 0, vim.schedule_wrap(function()
    h.err('watchdog: the test did not finish within ' .. math.floor(opts.watchdog_ms / 1000) .. ' s')
    vim.cmd('cquit 2')
  end))

  -- Fails the test with msg (reported at the caller's line) unless cond.
  function h.check(cond, msg)
    if not cond then error(msg, 2) end
  end

  -- Waits up to ms for pred() to be true; fails naming what was awaited.
  function h.wait(ms, pred, what)
    h.check(vim.wait(ms, pred, poll_ms), 'timed out after ' .. ms .. ' ms waiting for ' .. what)
  end

  function h.write(path, text)
    local f = assert(io.open(path, 'wb'))
    f:write(text)
    f:close()
  end

  function h.read(path)
    local f = assert(io.open(path, 'rb'))
    local s = f:read('*a')
    f:close()
    return s
  end

  -- A buffer's text as it would be saved (lines joined, a final newline).
  function h.buffer_text(bufnr)
    return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true), '\n') .. '\n'
  end

  -- A new empty folder (symbolic links resolved), removed by finish().
  function h.make_tmpdir()
    h.tmpdir = vim.fn.resolve(vim.fn.tempname())
    vim.fn.mkdir(h.tmpdir, 'p')
    return h.tmpdir
  end

  -- A private XDG_RUNTIME_DIR (so the daemon is this test's own) and
  -- XDG_STATE_HOME under h.tmpdir, set in this Neovim's environment, which
  -- the servers it starts inherit. Returns the runtime folder.
  function h.private_xdg()
    local runtime = h.tmpdir .. '/run'
    vim.fn.mkdir(runtime, 'p', tonumber('700', 8))
    vim.fn.mkdir(h.tmpdir .. '/state', 'p')
    vim.env.XDG_RUNTIME_DIR = runtime
    vim.env.XDG_STATE_HOME = h.tmpdir .. '/state'
    return runtime
  end

  -- Runs main; then stops every LSP client, runs cleanup (if any; it sees
  -- h.tmpdir, nil when main failed before making it), removes h.tmpdir and
  -- exits: 0 on success, 1 with the error and its traceback otherwise.
  function h.finish(main, cleanup)
    local ok, msg = xpcall(main, debug.traceback)
    if not ok and h.tmpdir then
      -- What the daemons said (their logs live in the private runtime
      -- folder, removed below): the reason a server went away.
      for _, log in ipairs(vim.fn.globpath(h.tmpdir, '**/*.log', true, true)) do
        local lines = vim.fn.readfile(log)
        h.err('--- ' .. log .. ' (last 40 of ' .. #lines .. ' lines)')
        for i = math.max(1, #lines - 39), #lines do h.err('  ' .. lines[i]) end
      end
    end
    for _, c in pairs(vim.lsp.get_active_clients()) do c.stop(true) end
    if cleanup then pcall(cleanup) end
    if h.tmpdir then vim.fn.delete(h.tmpdir, 'rf') end
    watchdog:stop()
    if ok then
      h.out('PASS')
      vim.cmd('qa!')
    else
      h.err(tostring(msg))
      vim.cmd('cquit 1')
    end
  end

  return h
end

return M
