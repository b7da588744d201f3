-- Drives neovim's built-in language server client against `cdlc lsp`:
-- opens a program, waits for its diagnostics, asks for hover on an item and
-- on a local, follows a definition into the standard library, formats the
-- buffer and fetches semantic tokens. Each finding is one line of the file
-- named by RESULT_FILE; the test that runs this script reads them.
-- Environment: CDLC_BIN (the cdlc binary), CDL_FILE (the program),
-- RESULT_FILE. Runs with `nvim --headless -u NONE -c 'luafile lsp_test.lua'`.
local out = {}
local function note(line) table.insert(out, line) end
local function finish()
  vim.fn.writefile(out, os.getenv('RESULT_FILE'))
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('CDL_FILE')))
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].filetype = 'cdl'
  local id = vim.lsp.start_client({
    name = 'cdlc',
    cmd = { os.getenv('CDLC_BIN'), 'lsp' },
    root_dir = vim.fn.fnamemodify(os.getenv('CDL_FILE'), ':h'),
  })
  vim.lsp.buf_attach_client(buf, id)
  vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
    note(string.format('diagnostic %s line %d', tostring(code), d.lnum + 1))
  end

  local function request(method, params)
    local answers = vim.lsp.buf_request_sync(buf, method, params, 20000) or {}
    for _, a in pairs(answers) do
      if a.error then note(method .. ' error ' .. tostring(a.error.code)) end
      return a.result
    end
  end
  local function at(line, col)
    return { textDocument = vim.lsp.util.make_text_document_params(buf),
             position = { line = line, character = col } }
  end
  local function first_line(hover)
    if not hover then return 'none' end
    local value = hover.contents.value or ''
    return (value:gsub('```cdl\n', ''):match('[^\n]*'))
  end

  -- Line 4 (0-based 3) is `model m(x: R[4]) -> R[2] { dense[4, 2](x) }`.
  note('hover item: ' .. first_line(request('textDocument/hover', at(3, 28))))
  note('hover local: ' .. first_line(request('textDocument/hover', at(3, 40))))

  local def = request('textDocument/definition', at(3, 28))
  if def and def.uri then
    vim.lsp.util.jump_to_location(def, 'utf-16')
    local lib = vim.api.nvim_get_current_buf()
    note('definition file: ' .. vim.fn.fnamemodify(vim.api.nvim_buf_get_name(lib), ':t'))
    note('definition line: ' .. vim.api.nvim_get_current_line())
    vim.cmd('buffer ' .. buf)
  else
    note('definition: none')
  end

  local edits = request('textDocument/formatting',
    { textDocument = vim.lsp.util.make_text_document_params(buf),
      options = { tabSize = 2, insertSpaces = true } })
  if edits then vim.lsp.util.apply_text_edits(edits, buf, 'utf-16') end
  for _, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    note('formatted: ' .. line)
  end

  local tokens = request('textDocument/semanticTokens/full',
    { textDocument = vim.lsp.util.make_text_document_params(buf) })
  note('semantic numbers: ' .. tostring(tokens and #tokens.data or 0))
end)
if not ok then note('lua error: ' .. tostring(err)) end
finish()
