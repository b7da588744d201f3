// Checks the extension's manifest against its files: the grammar and the
// language configuration exist and parse, the grammar's scope is the one
// the manifest names, and the entry point is valid JavaScript that starts
// `cdlc lsp`.
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const [language] = manifest.contributes.languages;
const [grammar] = manifest.contributes.grammars;
assert.deepStrictEqual(language.extensions, ['.cdl']);
assert.strictEqual(grammar.language, language.id);
const tm = JSON.parse(fs.readFileSync(path.join(root, grammar.path), 'utf8'));
assert.strictEqual(tm.scopeName, grammar.scopeName);
const config = JSON.parse(fs.readFileSync(path.join(root, language.configuration), 'utf8'));
assert.strictEqual(config.comments.lineComment, '//');
const entry = path.join(root, manifest.main);
execFileSync(process.execPath, ['--check', entry]);
assert.match(fs.readFileSync(entry, 'utf8'), /args: \['lsp'\]/);
assert.ok(manifest.dependencies['vscode-languageclient'], 'the client library is a dependency');
console.log('manifest: ok');
