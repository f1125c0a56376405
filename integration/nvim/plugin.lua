-- The Neovim plugin (editors/nvim) in headless Neovim, installed as a user
-- installs it (a pack/*/opt directory and :packadd):
--   nvim --headless --clean -u NONE -c "luafile integration/nvim/plugin.lua"
-- with ICOTES_BINARY (a binary named icotes, put first in PATH) and node
-- (ICOTES_NODE, else node on PATH) in the environment. Checks, against the
-- real binary and its shared daemon (a private XDG_RUNTIME_DIR):
--  - setup() attaches every file buffer under the root to one client;
--  - an MCP client (the SDK, integration/nvim/mcp-client.mjs) reads the
--    unsaved buffer, and its edit_file asks a permission question that
--    reaches Neovim, is answered through a stubbed vim.ui.select, and then
--    lands in the buffer with the disk unchanged until :w;
--  - a question that comes while keys are typed waits until none came for
--    question_idle_ms; one nobody answers is declined after
--    question_timeout_ms;
--  - icotes/editor/context (editor_context = true) carries the cursor, the
--    Visual selection, the visible ranges and the open buffers;
--  - :Icotes status, mode, permissions, revoke, terminal, log, restart and
--    :checkhealth icotes say what they should.
-- Exits 0 ("qa!") when every check passes, non-zero ("cquit 1") otherwise.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
package.path = here .. '/?.lua;' .. package.path
local h = require('harness').new({ tag = 'nvim-plugin', watchdog_ms = 150000, poll_ms = 20 })
local out, check, wait, write, read, buffer_text = h.out, h.check, h.wait, h.write, h.read, h.buffer_text

local plugin_dir = vim.fn.fnamemodify(here .. '/../../editors/nvim', ':p'):gsub('/$', '')
local tmpdir
local bin = os.getenv('ICOTES_BINARY')
local node = os.getenv('ICOTES_NODE') or 'node'

local notes = {}
local function note_matching(pattern, from)
  for i = from or 1, #notes do
    if notes[i]:find(pattern, 1, true) then return notes[i], i end
  end
end

-- vim.ui.select, stubbed: `answer(items, opts)` returns the item to pick,
-- nil to dismiss, or false to never answer (the callback is kept).
local asked = {}
local answer = function() return nil end
local kept = {}

-- A program run to the end (bounded); returns code, stdout lines.
local function run(cmd, ms)
  local lines, code = {}, nil
  local job = vim.fn.jobstart(cmd, {
    on_stdout = function(_, data) for _, l in ipairs(data) do if l ~= '' then table.insert(lines, l) end end end,
    on_stderr = function(_, data) for _, l in ipairs(data) do if l ~= '' then io.stderr:write('  | ' .. l .. '\n') end end end,
    on_exit = function(_, c) code = c end,
  })
  check(job > 0, 'cannot start ' .. cmd[1])
  wait(ms, function() return code ~= nil end, table.concat(cmd, ' '))
  return code, lines
end

local function daemon_pid()
  local o = vim.fn.system({ bin, 'daemon', 'list', '--json', '--root', tmpdir .. '/ws' })
  local list = vim.json.decode(o)
  return list[1] and list[1].pid
end

local function main()
  check(bin and bin ~= '', 'ICOTES_BINARY is not set')
  check(vim.fn.fnamemodify(bin, ':t') == 'icotes', 'ICOTES_BINARY must be named icotes: ' .. bin)
  check(vim.fn.executable(node) == 1, 'node not found (ICOTES_NODE, else node on PATH): ' .. node)
  out('Neovim ' .. tostring(vim.version().major) .. '.' .. tostring(vim.version().minor))

  tmpdir = h.make_tmpdir()
  vim.fn.mkdir(tmpdir .. '/ws/src', 'p')
  h.private_xdg()
  vim.env.PATH = vim.fn.fnamemodify(bin, ':p:h') .. ':' .. vim.env.PATH
  local ws = tmpdir .. '/ws'
  local disk = 'int main(void) {\n  return 0;\n}\n'
  write(ws .. '/src/main.c', disk)
  write(ws .. '/src/util.c', 'int util(void) {\n  return 1;\n}\n')
  vim.fn.mkdir(ws .. '/.git', 'p') -- a root marker (not a repository)
  vim.cmd('cd ' .. vim.fn.fnameescape(tmpdir))

  -- Installed as a package: pack/icotes/opt/icotes -> editors/nvim.
  vim.fn.mkdir(tmpdir .. '/pack/pack/icotes/opt', 'p')
  check(vim.loop.fs_symlink(plugin_dir, tmpdir .. '/pack/pack/icotes/opt/icotes'), 'symlink')
  vim.opt.packpath:prepend(tmpdir .. '/pack')
  vim.cmd('packadd icotes')
  check(vim.fn.exists(':Icotes') == 2, ':Icotes is defined after packadd')
  check(#vim.api.nvim_get_runtime_file('doc/icotes.txt', true) > 0, 'doc/icotes.txt is on the runtimepath')
  -- :helptags on a copy (the repository keeps no generated tags file), then :help.
  vim.fn.mkdir(tmpdir .. '/help/doc', 'p')
  write(tmpdir .. '/help/doc/icotes.txt', read(plugin_dir .. '/doc/icotes.txt'))
  vim.cmd('helptags ' .. vim.fn.fnameescape(tmpdir .. '/help/doc'))
  vim.opt.runtimepath:prepend(tmpdir .. '/help')
  for _, tag in ipairs({ 'icotes', 'icotes-setup', ':Icotes', ':Icotes-terminal', 'icotes-questions', 'icotes-context' }) do
    vim.cmd('help ' .. tag)
    check(vim.fn.expand('%:t') == 'icotes.txt', ':help ' .. tag .. ' opens ' .. vim.fn.expand('%'))
    vim.cmd('helpclose')
  end
  out(':packadd icotes defines :Icotes; :help icotes works')

  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    table.insert(notes, tostring(msg))
    return notify(msg, level, opts)
  end
  vim.ui.select = function(items, opts, on_choice)
    table.insert(asked, { items = items, prompt = opts.prompt, kind = opts.kind, at = vim.loop.now() })
    local pick = answer(items, opts)
    if pick == false then
      table.insert(kept, on_choice)
      return
    end
    on_choice(pick)
  end
  local function pick_title(prefix)
    return function(items)
      for _, it in ipairs(items) do
        local label = type(it) == 'table' and (it.title or it.label) or it
        if label:find(prefix, 1, true) == 1 then return it end
      end
    end
  end

  local icotes = require('icotes')
  icotes.setup({ editor_context = true, context_debounce_ms = 50, question_idle_ms = 0 })

  vim.cmd('edit ws/src/main.c')
  local main_buf = vim.api.nvim_get_current_buf()
  wait(10000, function() return icotes.client(main_buf) ~= nil end, 'a client for src/main.c')
  local client = icotes.client(main_buf)
  wait(10000, function() return client.initialized or next(client.server_capabilities or {}) ~= nil end, 'initialize')
  check(client.config.root_dir == ws, 'root is the folder with the marker: ' .. tostring(client.config.root_dir))
  vim.cmd('edit ws/src/util.c')
  local util_buf = vim.api.nvim_get_current_buf()
  wait(5000, function() return vim.lsp.buf_is_attached(util_buf, client.id) end, 'src/util.c to attach')
  check(vim.lsp.buf_is_attached(main_buf, client.id), 'src/main.c is attached')
  check(#vim.lsp.get_active_clients() == 1, 'one client for both buffers')
  out('setup() attached both buffers to one client for ' .. ws)

  -- Unsaved text, read by an MCP client; its edit asks the editor.
  vim.cmd('buffer ' .. main_buf)
  vim.api.nvim_buf_set_lines(main_buf, 1, 1, true, { '  /* unsaved */' })
  local unsaved = buffer_text(main_buf)
  answer = pick_title('Allow once')
  local steps = vim.json.encode({
    { tool = 'read_file', args = { path = 'src/main.c' } },
    { tool = 'edit_file', args = { path = 'src/main.c', edits = { { oldString = 'return 0;', newString = 'return 42;' } } } },
  })
  local code, lines = run({ node, here .. '/mcp-client.mjs', ws, steps }, 60000)
  check(code == 0, 'mcp-client exited ' .. tostring(code))
  check(#lines == 2, 'two results: ' .. vim.inspect(lines))
  local r1, r2 = vim.json.decode(lines[1]), vim.json.decode(lines[2])
  check(not r1.isError and r1.text:find('/* unsaved */', 1, true), 'read_file returns the unsaved buffer: ' .. r1.text)
  out('an MCP client reads the unsaved buffer')
  check(#asked == 1 and asked[1].kind == 'icotes.permission', 'one question asked: ' .. vim.inspect(asked))
  check(asked[1].prompt:find('edit_file', 1, true) or asked[1].prompt:find('src/main.c', 1, true),
        'the question names the edit: ' .. tostring(asked[1].prompt))
  check(not r2.isError, 'edit_file ran after the answer: ' .. r2.text)
  local want = unsaved:gsub('return 0;', 'return 42;')
  if os.getenv('ICOTES_NVIM_SELFTEST_FAIL') == '1' then want = want .. 'deliberately wrong\n' end
  wait(5000, function() return buffer_text(main_buf) == want end, 'the edit in the buffer')
  check(read(ws .. '/src/main.c') == disk, 'the disk is unchanged before :w')
  out('the question (' .. require('icotes.questions').how .. ') was answered through vim.ui.select: "' ..
      asked[1].prompt .. '"; edit_file landed in the buffer, not on disk')
  vim.cmd('write')
  check(read(ws .. '/src/main.c') == want, 'the disk holds the edit after :w')

  -- Typing postpones a question: it waits until no key came for
  -- question_idle_ms (keys fed every 100 ms for 3 s, as someone typing).
  icotes.config.question_idle_ms = 1000
  asked = {}
  answer = pick_title('Deny')
  local typing_until, last_typed, queued_at = vim.loop.now() + 3000, nil, nil
  local typer = vim.loop.new_timer()
  typer:start(0, 100, vim.schedule_wrap(function()
    if not queued_at and require('icotes.questions').pending() > 0 then queued_at = vim.loop.now() end
    if vim.loop.now() < typing_until then
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<Ignore>', true, false, true), 'xn', false)
      last_typed = vim.loop.now()
    end
  end))
  code = run({ bin, 'call', '--root', ws, 'exec/run', '{"command": "echo typed"}' }, 30000)
  typer:stop()
  typer:close()
  check(code ~= 0, 'the denied command did not run')
  check(#asked == 1, 'the question was shown once: ' .. vim.inspect(asked))
  check(queued_at and queued_at < last_typed, 'the question came while keys were typed')
  check(asked[1].at - last_typed >= 900, string.format('shown %d ms after the last key', asked[1].at - last_typed))
  icotes.config.question_idle_ms = 0
  out(string.format('a question that came while typing was shown %d ms after the last key', asked[1].at - last_typed))

  -- A question nobody answers is declined after question_timeout_ms.
  icotes.config.question_timeout_ms = 1500
  answer = function() return false end
  local before = #notes
  code, lines = run({ bin, 'call', '--root', ws, 'exec/run', '{"command": "echo not-asked-in-vain"}' }, 30000)
  check(code ~= 0, 'icotes call was denied: ' .. vim.inspect(lines))
  check(note_matching('not answered within 1 s', before + 1), 'the decline is noted: ' .. vim.inspect(notes))
  check(#kept == 1, 'the question was shown')
  kept[1]({ title = 'Allow once' })
  check(note_matching('already been declined', before + 1), 'a late answer is noted')
  icotes.config.question_timeout_ms = 60000
  out('an unanswered question was declined after 1.5 s')

  -- icotes/editor/context: cursor, Visual selection, visible ranges.
  local sent = {}
  local orig_notify = client.notify
  client.notify = function(...)
    local args = { ... }
    if type(args[1]) == 'table' then table.remove(args, 1) end
    if args[1] == 'icotes/editor/context' then table.insert(sent, args[2]) end
    return orig_notify(...)
  end
  vim.api.nvim_win_set_cursor(0, { 3, 9 })
  require('icotes.context').schedule()
  wait(3000, function() return #sent > 0 end, 'an icotes/editor/context notification')
  local c = sent[#sent]
  check(c.uri == vim.uri_from_fname(ws .. '/src/main.c'), 'context uri: ' .. tostring(c.uri))
  check(c.selection.start.line == 2 and c.selection.start.character == 9 and c.selection.text == '',
        'cursor selection: ' .. vim.inspect(c.selection))
  check(#c.visibleRanges == 1 and c.visibleRanges[1].range.start.line == 0 and c.visibleRanges[1].range['end'].line == 3,
        'visible ranges: ' .. vim.inspect(c.visibleRanges))
  check(#c.openBuffers == 2, 'open buffers: ' .. vim.inspect(c.openBuffers))
  vim.api.nvim_win_set_cursor(0, { 2, 2 })
  vim.api.nvim_feedkeys('vj', 'x', false)
  check(vim.api.nvim_get_mode().mode == 'v', 'Visual mode after feedkeys: ' .. vim.api.nvim_get_mode().mode)
  local v = require('icotes.context').build()
  check(v.selection.text == '/* unsaved */\n  r', 'Visual selection text: ' .. vim.inspect(v.selection))
  check(v.selection.start.line == 1 and v.selection.start.character == 2 and v.selection['end'].line == 2 and
        v.selection['end'].character == 3, 'Visual selection range: ' .. vim.inspect(v.selection))
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<Esc>', true, false, true), 'x', false)
  out('icotes/editor/context carries the cursor, the Visual selection, visible ranges and open buffers')
  -- 'auto': sent when the server advertises it, as icotes does; the daemon
  -- then hands it to AI clients: an MCP client reads it with editor_context.
  icotes.config.editor_context = 'auto'
  local n = #sent
  check(require('icotes.context').send() ~= nil and #sent == n + 1, "editor_context = 'auto' sends to icotes, which advertises it")
  local seen, text = false, ''
  for _ = 1, 10 do
    code, lines = run({ node, here .. '/mcp-client.mjs', ws, vim.json.encode({ { tool = 'editor_context', args = vim.empty_dict() } }) }, 60000)
    text = code == 0 and #lines == 1 and vim.json.decode(lines[1]).text or ''
    if text:find('src/main.c:', 1, true) then seen = true break end
    vim.wait(100, function() return false end, 20)
  end
  check(seen, 'an MCP client reads the context with editor_context: ' .. text .. vim.inspect(lines))
  out('an MCP client reads the editor context: ' .. (text:match('[^\n]*src/main%.c:[^\n]*') or ''))
  icotes.config.editor_context = true
  client.notify = orig_notify

  -- open_in_editor (`icotes open`): window/showDocument opens the file at the position.
  code = run({ bin, 'open', '--root', ws, ws .. '/src/util.c:2:3' }, 20000)
  check(code == 0, 'icotes open exited ' .. tostring(code))
  wait(5000, function() return vim.api.nvim_get_current_buf() == util_buf end, 'src/util.c to be shown')
  local cur = vim.api.nvim_win_get_cursor(0)
  check(cur[1] == 2 and cur[2] == 2, 'the cursor at 2:3: ' .. vim.inspect(cur))
  vim.cmd('buffer ' .. main_buf)
  out('icotes open showed src/util.c at 2:3 (window/showDocument)')

  -- :Icotes status
  local from = #notes + 1
  vim.cmd('Icotes status')
  wait(10000, function() return note_matching('mode: ', from) ~= nil end, ':Icotes status')
  local status = note_matching('icotes: connected', from)
  check(status, ':Icotes status says connected: ' .. vim.inspect(notes))
  check(status:find('root: ' .. ws, 1, true), 'status names the root: ' .. status)
  check(status:find('daemon: pid ' .. tostring(daemon_pid()), 1, true), 'status names the daemon: ' .. status)
  check(status:find('1 client: ', 1, true) and status:find('(this editor)', 1, true), 'status lists the clients: ' .. status)
  check(status:find('mode: default (workspace)', 1, true), 'status names the mode: ' .. status)
  check(status:find('editor context: sent', 1, true), 'status says the context is sent: ' .. status)
  out(':Icotes status:\n  ' .. status:gsub('\n', '\n  '))

  -- :Icotes mode acceptEdits, then :Icotes permissions
  answer = function() return 'acceptEdits' end
  from = #notes + 1
  vim.cmd('Icotes mode')
  wait(10000, function() return note_matching('icotes: ', from) ~= nil end, ':Icotes mode')
  check(read(ws .. '/.icotes/config.toml'):find('acceptEdits', 1, true), 'the mode is saved in .icotes/config.toml')
  -- The daemon reads the changed config.toml when inotify says so.
  wait(5000, function()
    client.request_sync('icotes/workspace/info', vim.empty_dict(), 5000)
    local r = client.request_sync('icotes/permissions/list', vim.empty_dict(), 5000)
    return r and r.result and r.result.mode == 'acceptEdits'
  end, 'the daemon to read the new mode')
  from = #notes + 1
  vim.cmd('Icotes permissions')
  wait(10000, function() return note_matching('icotes permissions for', from) ~= nil end, ':Icotes permissions')
  check(note_matching('mode: acceptEdits', from), ':Icotes permissions shows the new mode: ' .. vim.inspect(notes))
  out(':Icotes mode set acceptEdits; :Icotes permissions shows it')

  -- :Icotes revoke
  local g = client.request_sync('icotes/permissions/grant',
                                { kind = 'Bash', scope = 'specific', value = 'make check', answer = 'allow' }, 5000)
  check(g and g.err == nil, 'grant: ' .. vim.inspect(g))
  answer = function(items)
    for _, it in ipairs(items) do if it.label:find('make check', 1, true) then return it end end
  end
  from = #notes + 1
  vim.cmd('Icotes revoke')
  wait(10000, function() return note_matching('revoked', from) ~= nil end, ':Icotes revoke')
  local l = client.request_sync('icotes/permissions/list', vim.empty_dict(), 5000)
  check(#l.result.grants == 0, 'the grant is gone: ' .. vim.inspect(l.result))
  out(':Icotes revoke removed the picked grant')

  -- :Icotes terminal: creating it asks for Bash; then typed keys run.
  asked = {}
  answer = pick_title('Allow once')
  local terminal = require('icotes.terminal')
  vim.cmd('Icotes terminal')
  local term_buf = vim.api.nvim_get_current_buf()
  local t
  check(vim.wait(10000, function()
    for _, x in pairs(terminal.terminals) do if x.buf == term_buf and x.subscription then t = x end end
    return t ~= nil
  end, 20), 'the terminal did not start: ' .. vim.inspect(vim.api.nvim_buf_get_lines(term_buf, 0, -1, false)) ..
     vim.inspect(asked) .. vim.inspect(notes[#notes]))
  check(#asked == 1 and asked[1].prompt:find('terminal', 1, true), 'the terminal asked for Bash: ' .. vim.inspect(asked))
  -- The window's size went to icotes/terminal/resize.
  local term_win = vim.fn.bufwinid(term_buf)
  check(vim.wait(5000, function()
    local r = client.request_sync('icotes/terminal/list', vim.empty_dict(), 5000)
    for _, x in ipairs(r and r.result and r.result.terminals or {}) do
      if x.id == t.id then
        return x.cols == vim.api.nvim_win_get_width(term_win) and x.rows == vim.api.nvim_win_get_height(term_win)
      end
    end
  end, 200), 'the terminal has the window size ' .. vim.api.nvim_win_get_width(term_win) .. 'x' ..
     vim.api.nvim_win_get_height(term_win) .. ': ' ..
     vim.inspect(client.request_sync('icotes/terminal/list', vim.empty_dict(), 5000)))
  terminal.write(t, 'echo icotes-term-$((6*7))\r')
  wait(10000, function()
    for _, line in ipairs(vim.api.nvim_buf_get_lines(term_buf, 0, -1, false)) do
      if line:find('^icotes%-term%-42') then return true end
    end
  end, 'the command output in the terminal buffer')
  local tr = client.request_sync('icotes/terminal/read', { id = t.id }, 5000)
  check(tr and tr.result and vim.inspect(tr.result):find('icotes-term-42', 1, true), 'terminal_read sees it too')
  vim.cmd('bwipeout! ' .. term_buf)
  check(vim.wait(10000, function()
    local r = client.request_sync('icotes/terminal/list', vim.empty_dict(), 5000)
    for _, x in ipairs(r and r.result and r.result.terminals or {}) do
      if x.id == t.id then return not x.alive end
    end
    return true
  end, 200), 'the terminal did not end after :bwipeout')
  out(':Icotes terminal runs a shell on the daemon; typed keys reach it; output shows; wiping it kills it')

  -- :Icotes log (the audit log is written in batches: wait for the edit's record)
  wait(10000, function()
    local r = client.request_sync('icotes/permissions/log', { limit = 2000 }, 5000)
    return r and r.result and vim.inspect(r.result):find('terminal/create', 1, true) ~= nil
  end, 'the decisions in the audit log')
  vim.cmd('buffer ' .. main_buf)
  vim.cmd('Icotes log')
  wait(10000, function() return vim.api.nvim_buf_get_name(0):find('icotes://log', 1, true) ~= nil end, ':Icotes log')
  local log = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  check(log:find('files/edit', 1, true) or log:find('edit_file', 1, true), ':Icotes log shows the edit: ' .. log)
  check(log:find('terminal/create', 1, true), ':Icotes log shows the terminal: ' .. log)
  check(not log:find('no permission needed', 1, true), ':Icotes log leaves out calls that need no permission: ' .. log)
  vim.cmd('bwipeout')
  out(':Icotes log shows the decisions')

  -- :checkhealth icotes
  vim.cmd('buffer ' .. main_buf)
  vim.cmd('checkhealth icotes')
  local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  for _, want_text in ipairs({ 'binary: ' .. vim.fn.exepath('icotes'), 'version: icotes ', 'git module: ',
                               'daemon reachable for ' .. ws, 'client ' .. client.id .. ' connected' }) do
    check(health:find(want_text, 1, true), ':checkhealth icotes says "' .. want_text .. '":\n' .. health)
  end
  check(health:find('bubblewrap', 1, true), ':checkhealth icotes reports bubblewrap:\n' .. health)
  check(not health:find('ERROR', 1, true), ':checkhealth icotes has no error:\n' .. health)
  out(':checkhealth icotes:\n  ' .. health:gsub('\n', '\n  '))
  if vim.fn.tabpagenr('$') > 1 then vim.cmd('tabclose') else vim.cmd('bwipeout') end

  -- :Icotes restart: a new daemon, a new client, the buffers attached again.
  vim.cmd('buffer ' .. main_buf)
  local old_pid, old_id = daemon_pid(), client.id
  from = #notes + 1
  vim.cmd('Icotes restart')
  wait(20000, function() return note_matching('restart', from) ~= nil end, ':Icotes restart')
  check(note_matching('daemon restarted', from), ':Icotes restart succeeded: ' .. vim.inspect(notes))
  local new
  wait(10000, function()
    new = icotes.client(main_buf)
    return new and new.id ~= old_id and vim.lsp.buf_is_attached(main_buf, new.id) and vim.lsp.buf_is_attached(util_buf, new.id)
           and (new.initialized or next(new.server_capabilities or {}) ~= nil)
  end, 'a new client with both buffers')
  local new_pid = daemon_pid()
  check(new_pid and new_pid ~= old_pid, 'a new daemon: ' .. tostring(old_pid) .. ' -> ' .. tostring(new_pid))
  vim.api.nvim_buf_set_lines(util_buf, 0, 0, true, { '/* after restart */' })
  local rr = new.request_sync('icotes/files/read', { path = 'src/util.c' }, 5000, util_buf)
  check(rr and rr.result and rr.result.source == 'editor' and rr.result.content == buffer_text(util_buf),
        'the new daemon sees the unsaved buffer: ' .. vim.inspect(rr))
  out(':Icotes restart: daemon ' .. old_pid .. ' -> ' .. new_pid .. ', buffers attached again')

  -- A second root gets its own client; a file under no root is left alone.
  vim.fn.mkdir(tmpdir .. '/other/.icotes', 'p')
  write(tmpdir .. '/other/notes.txt', 'other\n')
  vim.cmd('edit ' .. vim.fn.fnameescape(tmpdir .. '/other/notes.txt'))
  local other_buf = vim.api.nvim_get_current_buf()
  -- Initialized, not only started: until its initialize is answered (a new
  -- daemon for that root starts first, slow under the sanitizers) Neovim
  -- does not list it among the active clients checked below.
  wait(20000, function()
    local c = icotes.client(other_buf)
    return c ~= nil and (c.initialized or next(c.server_capabilities or {}) ~= nil)
  end, 'an initialized client for the second root')
  local other = icotes.client(other_buf)
  check(other.id ~= new.id and other.config.root_dir == tmpdir .. '/other', 'a second client for ' .. tmpdir .. '/other')
  check(not vim.lsp.buf_is_attached(other_buf, new.id), 'the other root\'s buffer is not on the first client')
  local outside = vim.fn.tempname() .. '.txt'
  write(outside, 'x\n')
  vim.cmd('edit ' .. vim.fn.fnameescape(outside))
  local outside_buf = vim.api.nvim_get_current_buf()
  vim.wait(200, function() return false end, 20)
  local active = {}
  for _, c in ipairs(vim.lsp.get_active_clients()) do table.insert(active, c.id .. ':' .. tostring(c.config.root_dir)) end
  check(#active == 2 and icotes.root_of(outside_buf) == nil,
        'a file under no root is not attached: clients ' .. table.concat(active, ', ') .. '; the file\'s root: '
        .. tostring(icotes.root_of(outside_buf)))
  os.remove(outside)
  out('a second root got its own client; a file outside every root was left alone')
end

h.finish(main, function()
  if not tmpdir then return end
  vim.fn.system({ bin or 'true', 'daemon', 'stop', '--root', tmpdir .. '/ws' })
  if vim.fn.isdirectory(tmpdir .. '/other') == 1 then
    vim.fn.system({ bin or 'true', 'daemon', 'stop', '--root', tmpdir .. '/other' })
  end
end)
