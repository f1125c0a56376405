-- icotes for Neovim 0.7 and later (init.lua, or :luafile this file).
-- One icotes client for the folder Neovim started in, attached to every file
-- buffer, so icotes sees unsaved text and edits from AI clients land in the
-- open buffer instead of on disk behind it.
local root = vim.fn.getcwd()
local config = {
  name = 'icotes',
  cmd = { 'icotes', 'serve', '--stdio', '--root', root },
  root_dir = root,
  handlers = {
    -- A permission question must never block: Neovim 0.7 answers
    -- window/showMessageRequest with inputlist(), which waits for a key (for
    -- ever when headless) and takes over the screen mid-typing. Decline at
    -- once and show the question; grant it with `icotes permissions allow`.
    ['window/showMessageRequest'] = function(_, params)
      local titles = {}
      for _, a in ipairs(params.actions or {}) do table.insert(titles, a.title) end
      vim.schedule(function()
        vim.notify(params.message .. '\n(declined: not asked here; choices were: ' .. table.concat(titles, ' | ') .. ')',
                   vim.log.levels.WARN)
      end)
      return vim.NIL
    end,
  },
}
local client_id
local function attach(args)
  local buf = args.buf
  if vim.bo[buf].buftype ~= '' or vim.api.nvim_buf_get_name(buf) == '' then return end
  if vim.lsp.start then  -- 0.8+: reuses the client of this name and root
    vim.lsp.start(config, { bufnr = buf })
    return
  end
  if not (client_id and vim.lsp.get_client_by_id(client_id)) then client_id = vim.lsp.start_client(config) end
  if client_id then vim.lsp.buf_attach_client(buf, client_id) end
end
vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, { callback = attach })
