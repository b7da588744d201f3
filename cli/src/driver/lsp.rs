//! `cdlc lsp`: a language server on stdin/stdout.
//!
//! It keeps the text of every open document, checks it on every change and
//! publishes its diagnostics (code, message and help, at the primary span),
//! and answers hover (the signature and doc comment of the definition under
//! the cursor, and a parameter's derived weight tying) and go to definition
//! (for definitions in the same file). Columns are counted in characters,
//! which equals the protocol's UTF-16 units for every character outside the
//! astral planes.

use cdlc::Compilation;
use cdlc::diagnostics::Severity;
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::{
    Diagnostic, DiagnosticSeverity, GotoDefinitionResponse, Hover, HoverContents,
    HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf, Position,
    PublishDiagnosticsParams, Range, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};
use std::collections::HashMap;

/// Serves until the client says `exit`.
pub fn serve() -> Result<(), String> {
    let (conn, io) = Connection::stdio();
    let caps = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let caps = serde_json::to_value(caps).map_err(|e| e.to_string())?;
    conn.initialize(caps).map_err(|e| e.to_string())?;
    let mut docs: HashMap<String, (Uri, String)> = HashMap::new();
    for msg in &conn.receiver {
        match msg {
            Message::Request(req) => {
                if conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    break;
                }
                let resp = answer(&req, &docs);
                conn.sender.send(resp.into()).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                if let Some((uri, text)) = changed(&n) {
                    let diags = diagnostics(&uri, &text);
                    docs.insert(uri.as_str().to_string(), (uri.clone(), text));
                    publish(&conn, uri, diags)?;
                } else if n.method == "textDocument/didClose"
                    && let Some(uri) = document_uri(&n.params)
                {
                    docs.remove(uri.as_str());
                    publish(&conn, uri, Vec::new())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    // The writer thread ends when the last sender is gone.
    drop(conn);
    io.join().map_err(|e| e.to_string())
}

fn publish(conn: &Connection, uri: Uri, diagnostics: Vec<Diagnostic>) -> Result<(), String> {
    let params = PublishDiagnosticsParams {
        uri,
        diagnostics,
        version: None,
    };
    let n = Notification::new("textDocument/publishDiagnostics".to_string(), params);
    conn.sender.send(n.into()).map_err(|e| e.to_string())
}

fn document_uri(params: &serde_json::Value) -> Option<Uri> {
    serde_json::from_value(params.get("textDocument")?.get("uri")?.clone()).ok()
}

/// The new text of a document that was opened or changed.
fn changed(n: &Notification) -> Option<(Uri, String)> {
    let uri = document_uri(&n.params)?;
    let text = match n.method.as_str() {
        "textDocument/didOpen" => n
            .params
            .get("textDocument")?
            .get("text")?
            .as_str()?
            .to_string(),
        "textDocument/didChange" => n
            .params
            .get("contentChanges")?
            .as_array()?
            .last()?
            .get("text")?
            .as_str()?
            .to_string(),
        _ => return None,
    };
    Some((uri, text))
}

/// The display name of a document: its path's last segment.
fn name_of(uri: &Uri) -> String {
    let s = uri.as_str();
    s.rsplit('/').next().unwrap_or(s).to_string()
}

fn compile(uri: &Uri, text: &str) -> Compilation {
    cdlc::compile(&name_of(uri), text)
}

/// A byte range of the user's file as a protocol range.
fn range(c: &Compilation, span: cdlc_grammar::Span) -> Range {
    let pos = |offset: u32| {
        let (line, col) = c.sources.line_col(span.file, offset);
        Position::new((line - 1) as u32, (col - 1) as u32)
    };
    Range::new(pos(span.start), pos(span.end))
}

fn diagnostics(uri: &Uri, text: &str) -> Vec<Diagnostic> {
    let c = compile(uri, text);
    c.diagnostics
        .iter()
        .filter(|d| d.span().file == c.file)
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            Diagnostic {
                range: range(&c, d.span()),
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("cdlc".to_string()),
                message,
                ..Diagnostic::default()
            }
        })
        .collect()
}

/// The byte offset of a protocol position in `text`.
fn offset(text: &str, p: Position) -> Option<usize> {
    let start = text
        .split_inclusive('\n')
        .take(p.line as usize)
        .map(str::len)
        .sum::<usize>();
    let line = text[start..].split('\n').next()?;
    let within: usize = line
        .chars()
        .take(p.character as usize)
        .map(char::len_utf8)
        .sum();
    Some(start + within)
}

/// The name under the cursor.
fn word_at(text: &str, at: usize) -> Option<&str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..at].rfind(|c: char| !is_name(c)).map_or(0, |i| i + 1);
    let end = text[at..]
        .find(|c: char| !is_name(c))
        .map_or(text.len(), |i| at + i);
    (start < end).then(|| &text[start..end])
}

fn answer(req: &Request, docs: &HashMap<String, (Uri, String)>) -> Response {
    let target = || -> Option<(&Uri, &String, String)> {
        let uri = document_uri(&req.params)?;
        let (uri, text) = docs.get(uri.as_str())?;
        let p: Position = serde_json::from_value(req.params.get("position")?.clone()).ok()?;
        let word = word_at(text, offset(text, p)?)?.to_string();
        Some((uri, text, word))
    };
    let result = match req.method.as_str() {
        "textDocument/hover" => target().and_then(|(uri, text, word)| {
            let c = compile(uri, text);
            let value = cdlc::emit::types::describe(&c, &word)?;
            serde_json::to_value(Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                }),
                range: None,
            })
            .ok()
        }),
        "textDocument/definition" => target().and_then(|(uri, text, word)| {
            let c = compile(uri, text);
            let id = c.program.lookup(&word)?;
            let name = cdlc::resolve::declared_name(c.program.item(id))?;
            (name.span.file == c.file).then_some(())?;
            let loc = Location::new(uri.clone(), range(&c, name.span));
            serde_json::to_value(GotoDefinitionResponse::Scalar(loc)).ok()
        }),
        _ => {
            return Response::new_err(
                req.id.clone(),
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("`{}` is not supported", req.method),
            );
        }
    };
    Response::new_ok(req.id.clone(), result.unwrap_or(serde_json::Value::Null))
}
