-- The method names the Neovim plugin uses. Lua cannot import server/protocol.ts, so this is the
-- one place they are spelled on the Lua side; test/e2e/neovim.test.ts checks every entry against
-- the declarations in server/protocol.ts, so a renamed method fails the tests.
return {
  -- hearth/* (server/protocol.ts)
  status = 'hearth/status',
  log = 'hearth/log',
  route_current = 'hearth/route/current',
  route_explain = 'hearth/route/explain',
  egress_confirm = 'hearth/egress/confirm',
  egress_answer = 'hearth/egress/answer',
  egress_log = 'hearth/egress/log',
  tool_approve = 'hearth/tool/approve',
  approvals_answer = 'hearth/approvals/answer',
  approvals_settled = 'hearth/approvals/settled',
  memory_add = 'hearth/memory/add',
  memory_list = 'hearth/memory/list',
  memory_search = 'hearth/memory/search',
  memory_did_change = 'hearth/memory/didChange',
  ask = 'hearth/ask',
  ask_progress = 'hearth/ask/progress',
  -- standard LSP 3.18
  inline_completion = 'textDocument/inlineCompletion',
}
