// The CDL extension: the language server `cdlc lsp` for .cdl files. The
// command is the setting `cdl.server.path` (default: `cdlc` on the PATH).
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate() {
  const command = vscode.workspace.getConfiguration('cdl').get('server.path') || 'cdlc';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient('cdl', 'CDL language server', server, {
    documentSelector: [{ scheme: 'file', language: 'cdl' }],
  });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
