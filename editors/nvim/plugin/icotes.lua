-- :Icotes, defined as soon as the plugin is on the runtimepath. The client
-- starts with require('icotes').setup({...}) (see :help icotes-setup).
if vim.g.loaded_icotes then return end
vim.g.loaded_icotes = true

vim.api.nvim_create_user_command('Icotes', function(opts)
  require('icotes.commands').run(opts.fargs)
end, {
  nargs = '*',
  desc = 'icotes: status | mode | permissions | revoke | terminal | log | restart | context',
  complete = function(arglead, cmdline) return require('icotes.commands').complete(arglead, cmdline) end,
})
