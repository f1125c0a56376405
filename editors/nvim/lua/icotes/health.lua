-- :checkhealth icotes
local M = {}

local uv = vim.uv or vim.loop

-- vim.health.start/ok/... on 0.10+, vim.health.report_* on 0.8-0.9,
-- health#report_* on 0.7.
local h = vim.health or {}
local function pick(new, old, vimfn)
  return h[new] or h[old] or function(...) vim.fn[vimfn](...) end
end
local start = pick('start', 'report_start', 'health#report_start')
local ok = pick('ok', 'report_ok', 'health#report_ok')
local warn = pick('warn', 'report_warn', 'health#report_warn')
local err = pick('error', 'report_error', 'health#report_error')
local info = pick('info', 'report_info', 'health#report_info')

local function system(cmd)
  local out = vim.fn.system(cmd)
  return vim.v.shell_error, vim.trim(out or '')
end

function M.check()
  start('icotes')
  local icotes = require('icotes')
  local v = vim.version()
  if vim.fn.has('nvim-0.7') == 1 then
    ok(string.format('Neovim %d.%d.%d', v.major, v.minor, v.patch))
  else
    err('Neovim 0.7 or later is needed')
  end
  if not icotes.config then
    warn("setup() has not run: add require('icotes').setup() to your init.lua")
  end
  local cfg = icotes.config or { bin = 'icotes' }
  local bin = vim.fn.exepath(cfg.bin)
  if bin == '' then
    err('icotes binary not found: ' .. cfg.bin, { 'build it (cmake --build --preset release) and put it on PATH',
                                                  "or set bin = '/path/to/icotes' in setup()" })
    return
  end
  ok('binary: ' .. bin)
  local code, version = system({ bin, '--version' })
  if code == 0 then ok('version: ' .. version) else err('`icotes --version` failed: ' .. version) end

  -- Modules: icotes loads icotes-git.so (git operations) and icotes-http.so
  -- (the HTTP door) from $ICOTES_GIT_MODULE / $ICOTES_HTTP_MODULE, beside the
  -- binary, or from ../lib/icotes/ (the same places, in that order).
  local real = uv.fs_realpath(bin) or bin
  local dir = vim.fn.fnamemodify(real, ':h')
  for _, m in ipairs({ { 'git', 'icotes-git.so', 'ICOTES_GIT_MODULE' }, { 'http', 'icotes-http.so', 'ICOTES_HTTP_MODULE' } }) do
    local candidates = {}
    if vim.env[m[3]] and vim.env[m[3]] ~= '' then table.insert(candidates, vim.env[m[3]]) end
    table.insert(candidates, dir .. '/' .. m[2])
    table.insert(candidates, vim.fn.fnamemodify(dir, ':h') .. '/lib/icotes/' .. m[2])
    local found
    for _, c in ipairs(candidates) do
      if vim.fn.filereadable(c) == 1 then
        found = c
        break
      end
    end
    if found then
      ok(m[1] .. ' module: ' .. found)
    else
      warn(m[1] .. ' module ' .. m[2] .. ' not found (looked at ' .. table.concat(candidates, ', ') .. ')',
           { 'git_* operations (or the HTTP door) fail without it; set ' .. m[3] .. ' or reinstall icotes' })
    end
  end

  local bwrap = vim.fn.exepath('bwrap')
  if bwrap ~= '' then
    ok('bubblewrap: ' .. bwrap .. ' (commands run sandboxed)')
  else
    warn('bubblewrap (bwrap) not found: sandboxed commands (run_code, run_command) cannot run',
         { 'apt install bubblewrap' })
  end

  -- Each root this Neovim has a client for (else the current directory).
  local roots = {}
  for r in pairs(icotes.clients or {}) do table.insert(roots, r) end
  if #roots == 0 then table.insert(roots, vim.fn.getcwd()) end
  table.sort(roots)
  for _, root in ipairs(roots) do
    local lcode, out = system({ bin, 'daemon', 'list', '--json', '--root', root })
    if lcode ~= 0 then
      err('`icotes daemon list` failed: ' .. out)
    else
      local okj, list = pcall(vim.json.decode, out)
      if okj and type(list) == 'table' and list[1] then
        local d = list[1]
        ok(string.format('daemon reachable for %s: pid %s, icotes %s, %d client(s); log %s', tostring(d.root),
                         tostring(d.pid), tostring(d.version), #(d.clients or {}), tostring(d.log)))
      else
        info('no daemon serves ' .. root .. ' now (`icotes serve` starts one when a buffer there is attached)')
      end
    end
    local client = icotes.config and icotes.client_for_root(root)
    if client then
      ok('client ' .. client.id .. ' connected for ' .. root)
    else
      info('no icotes client for ' .. root .. ' in this Neovim')
    end
  end
  if icotes.config then
    local pending = require('icotes.questions').pending()
    if pending > 0 then warn(pending .. ' permission question(s) waiting (shown when Neovim is idle)') end
  end
end

return M
