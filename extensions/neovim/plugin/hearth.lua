-- Defines :Hearth as soon as the plugin is on the runtimepath; require('hearth').setup{} starts it.
if vim.g.loaded_hearth then return end
vim.g.loaded_hearth = true
require('hearth').define_command()
