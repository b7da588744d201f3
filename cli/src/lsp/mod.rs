//! `cdlc lsp`: a language server on standard input and output.
//!
//! It keeps the text of every open document, checks it on every change and
//! publishes its diagnostics (code, message and help, at the primary span),
//! and answers hover, go to definition (into the standard library too),
//! completion, semantic tokens and formatting. Positions are counted in
//! UTF-16 units, as the protocol says.
//!
//! Nothing a client sends stops the server: framing errors, bodies that are
//! not JSON and batches get JSON-RPC errors (`transport.rs`); requests with
//! bad parameters get `-32602`; a request about an unknown document or a
//! position past its end gets an empty result; a request whose handler
//! panics gets `-32603`. Only `exit` or the end of the input ends it; after
//! `shutdown` every request gets `-32600`, and an `exit` without `shutdown`
//! ends the server with exit code 1, as the protocol says.

mod analysis;
mod completion;
mod hover;
mod locals;
mod navigate;
mod text;
mod tokens;
mod transport;

use analysis::{Analysis, Document};
use cdlc::diagnostics::Severity;
use lsp_types::{
    CompletionOptions, Diagnostic, DiagnosticSeverity, NumberOrString, OneOf, Position,
    SemanticTokens, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensServerCapabilities, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
// The handlers only read the documents, so a panic leaves nothing half-changed.
use std::panic::AssertUnwindSafe;
use text::range_of;
use transport::{Incoming, Reader, send};

/// JSON-RPC error codes the server answers with.
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const SERVER_NOT_INITIALIZED: i64 = -32002;
const REQUEST_FAILED: i64 = -32803;

/// Serves on standard input and output until the client sends `exit` or
/// closes the input.
pub fn serve() -> Result<(), String> {
    serve_on(io::stdin().lock(), io::stdout().lock()).result
}

/// How a session ended.
#[derive(Debug)]
pub struct Outcome {
    /// `Ok` after `shutdown` and `exit` or at the end of the input; the
    /// reason otherwise (an `exit` without `shutdown`, an IO error).
    pub result: Result<(), String>,
    /// Handlers that panicked and were answered `-32603` or published no
    /// diagnostics: the client never sees a panic, the fuzzer counts them.
    pub caught_panics: usize,
}

/// Serves the messages on `input`, writing replies to `out`, until the
/// client sends `exit` or the input ends.
pub fn serve_on(input: impl BufRead, mut out: impl Write) -> Outcome {
    let mut server = Server::default();
    let result = session(&mut server, input, &mut out);
    Outcome {
        result,
        caught_panics: server.caught_panics,
    }
}

fn session(server: &mut Server, input: impl BufRead, out: &mut impl Write) -> Result<(), String> {
    let mut reader = Reader::new(input);
    while let Some(incoming) = reader.next_message().map_err(|e| e.to_string())? {
        let replies = match incoming {
            Incoming::Invalid(code, message) => vec![error(Value::Null, code, &message)],
            Incoming::Message(m) => match server.handle(&m) {
                Some(replies) => replies,
                None if server.shut_down => return Ok(()),
                None => return Err("the client sent `exit` without `shutdown` first".into()),
            },
        };
        for r in &replies {
            send(out, r).map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())
}

/// The server's state: open documents and where it is in its lifecycle.
#[derive(Default)]
struct Server {
    docs: BTreeMap<String, Document>,
    initialized: bool,
    /// `shutdown` was received: only `exit` is expected now.
    shut_down: bool,
    /// Handlers that panicked (see `Outcome::caught_panics`).
    caught_panics: usize,
}

impl Server {
    /// Handles one message; `None` when the client asked the server to exit.
    fn handle(&mut self, m: &Value) -> Option<Vec<Value>> {
        let method = m.get("method").and_then(Value::as_str);
        let id = m.get("id").cloned();
        Some(match (method, id) {
            (Some("exit"), None) => return None,
            (Some(method), Some(id)) => vec![self.request(method, id, m.get("params"))],
            (Some(method), None) => self.notification(method, m.get("params")),
            // A response to a request of ours (the server sends none).
            (None, Some(_)) if m.get("result").is_some() || m.get("error").is_some() => Vec::new(),
            (None, id) => vec![error(
                id.unwrap_or(Value::Null),
                transport::INVALID_REQUEST,
                "a message with neither `method` nor `result`",
            )],
        })
    }

    fn request(&mut self, method: &str, id: Value, params: Option<&Value>) -> Value {
        if method == "initialize" {
            self.initialized = true;
            return ok(
                id,
                json!({"capabilities": capabilities(), "serverInfo": {"name": "cdlc", "version": env!("CARGO_PKG_VERSION")}}),
            );
        }
        if !self.initialized {
            return error(
                id,
                SERVER_NOT_INITIALIZED,
                "the server has not been initialized",
            );
        }
        if self.shut_down {
            return error(
                id,
                transport::INVALID_REQUEST,
                "the server is shutting down",
            );
        }
        if method == "shutdown" {
            self.shut_down = true;
            return ok(id, Value::Null);
        }
        let params = params.cloned().unwrap_or(Value::Null);
        let docs = &self.docs;
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| feature(docs, method, &params)));
        match answer {
            Ok(Ok(result)) => ok(id, result),
            Ok(Err((code, message))) => error(id, code, &message),
            Err(_) => {
                self.caught_panics += 1;
                error(
                    id,
                    INTERNAL_ERROR,
                    &format!("cdlc failed while answering `{method}`"),
                )
            }
        }
    }

    fn notification(&mut self, method: &str, params: Option<&Value>) -> Vec<Value> {
        let Some(params) = params else {
            return Vec::new();
        };
        let Some(uri) = document_uri(params) else {
            return Vec::new();
        };
        let text = match method {
            "textDocument/didOpen" => params["textDocument"]["text"].as_str(),
            "textDocument/didChange" => params["contentChanges"]
                .as_array()
                .and_then(|c| c.last())
                .and_then(|c| c["text"].as_str()),
            "textDocument/didClose" => {
                self.docs.remove(uri.as_str());
                return vec![publish(&uri, Vec::new())];
            }
            _ => None,
        };
        let Some(text) = text else {
            return Vec::new();
        };
        let doc = Document {
            uri: uri.clone(),
            text: text.to_string(),
        };
        let diags = std::panic::catch_unwind(AssertUnwindSafe(|| diagnostics(&doc)))
            .unwrap_or_else(|_| {
                self.caught_panics += 1;
                Vec::new()
            });
        self.docs.insert(uri.as_str().to_string(), doc);
        vec![publish(&uri, diags)]
    }
}

fn capabilities() -> Value {
    let caps = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions::default()),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    };
    serde_json::to_value(caps).expect("capabilities serialise")
}

type Answer = Result<Value, (i64, String)>;

/// Answers a request about a document.
fn feature(docs: &BTreeMap<String, Document>, method: &str, params: &Value) -> Answer {
    let known = [
        "textDocument/hover",
        "textDocument/definition",
        "textDocument/completion",
        "textDocument/semanticTokens/full",
        "textDocument/formatting",
    ];
    if !known.contains(&method) {
        return Err((METHOD_NOT_FOUND, format!("`{method}` is not supported")));
    }
    let uri = document_uri(params).ok_or((
        INVALID_PARAMS,
        "expected `textDocument.uri`, a document address".to_string(),
    ))?;
    let position = || -> Result<Position, (i64, String)> {
        serde_json::from_value(params.get("position").cloned().unwrap_or(Value::Null)).map_err(
            |_| {
                (
                    INVALID_PARAMS,
                    "expected `position` with `line` and `character`".to_string(),
                )
            },
        )
    };
    let empty = || {
        Ok(
            if method == "textDocument/completion" || method == "textDocument/formatting" {
                json!([])
            } else {
                Value::Null
            },
        )
    };
    let Some(doc) = docs.get(uri.as_str()) else {
        return empty();
    };
    let a = Analysis::new(doc);
    let value = match method {
        "textDocument/hover" => serde_json::to_value(hover::hover(&a, position()?)),
        "textDocument/definition" => serde_json::to_value(navigate::definition(&a, position()?)),
        "textDocument/completion" => serde_json::to_value(completion::completions(&a, position()?)),
        "textDocument/semanticTokens/full" => serde_json::to_value(SemanticTokens {
            result_id: None,
            data: tokens::semantic_tokens(&a),
        }),
        _ => serde_json::to_value(formatting(doc)?),
    };
    value.map_err(|e| (INTERNAL_ERROR, e.to_string()))
}

/// The whole document replaced by its formatted text (no edit when it is
/// formatted already); a program with syntax errors is refused.
fn formatting(doc: &Document) -> Result<Vec<TextEdit>, (i64, String)> {
    match cdlc::format::format(&doc.text) {
        Ok(f) if f == doc.text => Ok(Vec::new()),
        Ok(f) => Ok(vec![TextEdit::new(
            range_of(&doc.text, 0, doc.text.len()),
            f,
        )]),
        Err(cdlc::format::FormatError::Syntax(errors)) => {
            let at = errors.first().map_or(0, |e| e.span().start as usize);
            let p = text::position_at(&doc.text, at);
            Err((
                REQUEST_FAILED,
                format!(
                    "cannot format: fix the syntax error at line {} first",
                    p.line + 1
                ),
            ))
        }
        Err(cdlc::format::FormatError::TreeChanged) => Err((
            INTERNAL_ERROR,
            "the formatter would change the program; it was left as it is".to_string(),
        )),
    }
}

fn document_uri(params: &Value) -> Option<Uri> {
    serde_json::from_value(params.get("textDocument")?.get("uri")?.clone()).ok()
}

fn diagnostics(doc: &Document) -> Vec<Diagnostic> {
    let a = Analysis::new(doc);
    a.c.diagnostics
        .iter()
        .filter(|d| d.span().file == a.c.file)
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            let span = d.span();
            Diagnostic {
                range: range_of(&doc.text, span.start as usize, span.end as usize),
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

fn publish(uri: &Uri, diagnostics: Vec<Diagnostic>) -> Value {
    json!({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": {"uri": uri, "diagnostics": diagnostics}})
}

fn ok(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
