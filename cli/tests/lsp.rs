//! `cdlc lsp` driven by a scripted client: the server survives malformed,
//! oversized and batched input with JSON-RPC errors, answers requests about
//! unknown documents and positions with empty results, and serves hover,
//! definition (locals and the standard library), completion, semantic
//! tokens and formatting.

mod common;

use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const URI: &str = "file:///project/m.cdl";

const PROGRAM: &str = "import std.layers

const n = 4
group S = symmetric(n)
space Pts = R[n] under S by permute
space Two = R[2] * Pts

/// Doc of m.
model m(x: R[4]) -> R[2] {
  param W: R[2, 2] = glorot
  let h = dense[4, 2](x)
  W @ h
}
// é then a name: élan
";

fn frame(body: &Value) -> Vec<u8> {
    let text = body.to_string();
    format!("Content-Length: {}\r\n\r\n{text}", text.len()).into_bytes()
}

/// A fresh cache folder, for the standard library files.
fn cache(name: &str) -> common::Scratch {
    common::scratch(name)
}

/// Runs the server on `input` bytes; returns its exit status and every
/// message it wrote.
fn session(input: &[u8], cache: &Path) -> (std::process::ExitStatus, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .arg("lsp")
        .env("XDG_CACHE_HOME", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(input).expect("the server reads");
    drop(stdin);
    let out = child.wait_with_output().expect("the server exits");
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let mut messages = Vec::new();
    let mut rest = text.as_str();
    while let Some(k) = rest.find("Content-Length: ") {
        let (header, body) = rest[k..].split_once("\r\n\r\n").expect("a framed message");
        let n: usize = header["Content-Length: ".len()..]
            .parse()
            .expect("a length");
        messages.push(serde_json::from_str(&body[..n]).expect("a JSON body"));
        rest = &body[n..];
    }
    (out.status, messages)
}

fn start() -> Vec<u8> {
    [
        frame(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "languageId": "cdl", "version": 1, "text": PROGRAM}}})),
    ]
    .concat()
}

fn end() -> Vec<u8> {
    [
        frame(&json!({"jsonrpc": "2.0", "id": 999, "method": "shutdown"})),
        frame(&json!({"jsonrpc": "2.0", "method": "exit"})),
    ]
    .concat()
}

fn request(id: u64, method: &str, line: u32, character: u32) -> Vec<u8> {
    frame(
        &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}}}),
    )
}

fn answer(messages: &[Value], id: u64) -> &Value {
    messages
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to request {id}: {messages:#?}"))
}

fn hover_text(messages: &[Value], id: u64) -> String {
    answer(messages, id)["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no hover text for {id}: {messages:#?}"))
        .to_string()
}

#[test]
fn bad_input_gets_json_rpc_errors_and_the_server_keeps_serving() {
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///project/m.cdl"},"position":{"line":8,"character":9}}}"#;
    let input = [
        frame(&json!({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {}})),
        start(),
        b"Content-Length: 9\r\n\r\n{not json".to_vec(),
        format!("Content-Length: 10000000000\r\n\r\n{body}").into_bytes(),
        b"Content-Length: banana\r\n\r\n{}".to_vec(),
        frame(&json!([{"jsonrpc": "2.0", "id": 2, "method": "shutdown"}])),
        b"random text\r\n\r\n".to_vec(),
        frame(&json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/unknown", "params": {}})),
        frame(&json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover", "params": {"position": 1}})),
        frame(&json!({"jsonrpc": "2.0", "id": 5, "method": "textDocument/hover", "params": {"textDocument": {"uri": "file:///nowhere.cdl"}, "position": {"line": 0, "character": 0}}})),
        request(6, "textDocument/hover", 5000, 3),
        request(8, "textDocument/definition", 13, 12),
        request(9, "textDocument/hover", 13, 4),
        request(12, "textDocument/hover", 13, 19),
        request(13, "textDocument/semanticTokens/full", 13, 19),
        request(10, "textDocument/completion", 400, 0),
        request(11, "textDocument/hover", 8, 9),
        end(),
    ]
    .concat();
    let (status, messages) = session(&input, &cache("robust"));
    assert!(status.success(), "{messages:#?}");
    let code = |id: u64| answer(&messages, id)["error"]["code"].as_i64();
    assert_eq!(code(1), Some(-32002));
    let null_id: Vec<i64> = messages
        .iter()
        .filter(|m| m["id"].is_null() && m.get("error").is_some())
        .map(|m| m["error"]["code"].as_i64().expect("a code"))
        .collect();
    assert_eq!(
        null_id,
        [-32700, -32700, -32700, -32600, -32700],
        "{messages:#?}"
    );
    assert_eq!(code(3), Some(-32601));
    assert_eq!(code(4), Some(-32602));
    assert_eq!(answer(&messages, 5)["result"], Value::Null);
    assert_eq!(answer(&messages, 6)["result"], Value::Null);
    // Right after `é` on the comment line: a name there, nothing to find.
    assert_eq!(answer(&messages, 8)["result"], Value::Null);
    assert_eq!(answer(&messages, 9)["result"], Value::Null);
    assert_eq!(answer(&messages, 12)["result"], Value::Null);
    assert!(
        answer(&messages, 13)["result"]["data"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(answer(&messages, 10)["result"], json!([]));
    // The hover hidden in the body after the huge length was skipped, not answered.
    assert!(messages.iter().all(|m| m["id"] != 7));
    assert!(hover_text(&messages, 11).contains("argument `x`"));
    assert_eq!(answer(&messages, 999)["result"], Value::Null);
}

#[test]
fn hover_on_locals_items_and_spaces() {
    let input = [
        start(),
        request(1, "textDocument/hover", 8, 9),
        request(2, "textDocument/hover", 11, 6),
        request(3, "textDocument/hover", 11, 2),
        request(4, "textDocument/hover", 10, 22),
        request(5, "textDocument/hover", 5, 7),
        request(6, "textDocument/hover", 8, 6),
        request(7, "textDocument/hover", 10, 10),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &cache("hover"));
    let arg = hover_text(&messages, 1);
    assert_eq!(arg, "```cdl\nx: R[4]\n```\n\nargument `x`");
    let let_binding = hover_text(&messages, 2);
    assert_eq!(let_binding, "```cdl\nh: R[2]\n```\n\n`let` binding `h`");
    let weight = hover_text(&messages, 3);
    assert_eq!(weight, "```cdl\nW: R[2, 2]\n```\n\ntrainable parameter `W`");
    assert!(hover_text(&messages, 4).contains("argument `x`"));
    let space = hover_text(&messages, 5);
    assert!(space.contains("space Two"), "{space}");
    assert!(
        space.contains("acted on by:\n- `permute` on `R[n]`, by `group S = symmetric(n)`"),
        "{space}"
    );
    let item = hover_text(&messages, 6);
    assert!(
        item.contains("model m : R[4] -> R[2]") && item.contains("Doc of m."),
        "{item}"
    );
    assert!(hover_text(&messages, 7).contains("layer dense[n, m]"));
}

#[test]
fn definition_of_locals_and_into_the_standard_library() {
    let dir = cache("definition");
    let input = [
        start(),
        request(1, "textDocument/definition", 11, 6),
        request(2, "textDocument/definition", 10, 22),
        request(3, "textDocument/definition", 10, 12),
        request(4, "textDocument/definition", 5, 19),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &dir);
    let at = |id: u64| {
        let r = &answer(&messages, id)["result"];
        (
            r["uri"].as_str().expect("a uri").to_string(),
            r["range"]["start"]["line"].as_u64(),
            r["range"]["start"]["character"].as_u64(),
        )
    };
    assert_eq!(at(1), (URI.to_string(), Some(10), Some(6)));
    assert_eq!(at(2), (URI.to_string(), Some(8), Some(8)));
    assert_eq!(at(4), (URI.to_string(), Some(4), Some(6)));
    let (uri, line, _) = at(3);
    let path = std::path::PathBuf::from(uri.strip_prefix("file://").expect("a file address"));
    assert!(
        path.starts_with(std::fs::canonicalize(&*dir).unwrap()),
        "{uri}"
    );
    assert!(uri.ends_with("/std/layers.cdl"), "{uri}");
    let text = std::fs::read_to_string(&path).expect("the library file was written");
    assert_eq!(text, include_str!("../../stdlib/std/layers.cdl"));
    assert_eq!(
        text.lines()
            .nth(line.unwrap() as usize)
            .map(|l| l.starts_with("layer dense")),
        Some(true)
    );
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
}

#[test]
fn completion_lists_locals_items_and_builtins_with_signatures() {
    let input = [start(), request(1, "textDocument/completion", 11, 2), end()].concat();
    let (_, messages) = session(&input, &cache("completion"));
    let items = answer(&messages, 1)["result"]
        .as_array()
        .expect("a list")
        .clone();
    let find = |label: &str| {
        items
            .iter()
            .find(|i| i["label"] == label)
            .unwrap_or_else(|| panic!("no completion `{label}`"))
            .clone()
    };
    assert_eq!(find("x")["detail"], "argument: x: R[4]");
    assert_eq!(find("h")["detail"], "`let` binding: h: R[2]");
    assert_eq!(find("W")["detail"], "trainable parameter: W: R[2, 2]");
    assert_eq!(find("dense")["detail"], "layer dense[n, m] : R[n] -> R[m]");
    assert_eq!(find("m")["detail"], "model m : R[4] -> R[2]");
    assert_eq!(find("relu")["detail"], "built-in pointwise function");
    assert_eq!(find("glorot")["detail"], "initialiser, 0 numbers");
    find("fold");
}

#[test]
fn semantic_tokens_and_formatting() {
    let messy = "model  m=relu>>tanh\n";
    let input = [
        frame(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "languageId": "cdl", "version": 1, "text": messy}}})),
        frame(&json!({"jsonrpc": "2.0", "id": 1, "method": "textDocument/semanticTokens/full", "params": {"textDocument": {"uri": URI}}})),
        frame(&json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/formatting", "params": {"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": "model m = \n"}]}})),
        frame(&json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/formatting", "params": {"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}})),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &cache("tokens"));
    let caps = &answer(&messages, 0)["result"]["capabilities"];
    let legend: Vec<String> = caps["semanticTokensProvider"]["legend"]["tokenTypes"]
        .as_array()
        .expect("a legend")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let data: Vec<u64> = answer(&messages, 1)["result"]["data"]
        .as_array()
        .expect("token data")
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // model, m, =, relu, >>, tanh: (line delta, column delta, length, type).
    let decoded: Vec<(u64, u64, u64, &str)> = data
        .chunks(5)
        .map(|c| (c[0], c[1], c[2], legend[c[3] as usize].as_str()))
        .collect();
    assert_eq!(
        decoded,
        [
            (0, 0, 5, "keyword"),
            (0, 7, 1, "function"),
            (0, 1, 1, "operator"),
            (0, 1, 4, "function"),
            (0, 4, 2, "operator"),
            (0, 2, 4, "function"),
        ]
    );
    let edits = &answer(&messages, 2)["result"];
    assert_eq!(edits[0]["newText"], "model m = relu >> tanh\n");
    assert_eq!(edits[0]["range"]["end"], json!({"line": 1, "character": 0}));
    assert_eq!(answer(&messages, 3)["error"]["code"], -32803);
}

#[test]
fn case_binders_let_in_size_parameters_and_shadowing() {
    let program = "const n = 3
algebra acc[d] : ListF(R[d]) -> R[d] {
  param z: R[d] = zeros
  nil        => z
  cons(x, s) => let t = x + s in tanh(t)
}
layer f[k](n: R[k]) -> R[k] { n }
";
    let input = [
        frame(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "languageId": "cdl", "version": 1, "text": program}}})),
        // `s` in `x + s`, `t` in `tanh(t)`, `z` in `nil => z`, `d` in `R[d]`,
        // and the argument `n` that hides `const n`.
        request(1, "textDocument/definition", 4, 28),
        request(2, "textDocument/definition", 4, 38),
        request(3, "textDocument/definition", 3, 16),
        request(4, "textDocument/hover", 2, 13),
        request(5, "textDocument/definition", 6, 31),
        request(6, "textDocument/hover", 6, 31),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &cache("binders"));
    let start = |id: u64| {
        let r = &answer(&messages, id)["result"]["range"]["start"];
        (
            r["line"].as_u64().expect("a line"),
            r["character"].as_u64().expect("a column"),
        )
    };
    assert_eq!(start(1), (4, 10));
    assert_eq!(start(2), (4, 20));
    assert_eq!(start(3), (2, 8));
    assert!(hover_text(&messages, 4).ends_with("size parameter `d`"));
    assert_eq!(start(5), (6, 11));
    assert_eq!(
        hover_text(&messages, 6),
        "```cdl\nn: R[k]\n```\n\nargument `n`"
    );
}

/// Hover on a local shows the type the checker gave it, and a name means
/// what it meant to the checker: of two `let`s of one name, a use in the
/// second's value is the first.
#[test]
fn hover_shows_checked_types_of_lets_binders_and_shadowed_names() {
    let program = "algebra acc[d] : ListF(R[d]) -> R[d] {
  param z: R[d] = zeros
  nil        => z
  cons(x, s) => let t = x + s in tanh(t)
}
model m(p: R[2] * R[3]) -> R[3] {
  let (a, b) = p
  let y = sum(a, axis = 0) * b
  let y = relu(y)
  y
}
";
    let input = [
        frame(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "languageId": "cdl", "version": 1, "text": program}}})),
        request(1, "textDocument/hover", 3, 38),
        request(2, "textDocument/hover", 3, 7),
        request(3, "textDocument/hover", 6, 7),
        request(4, "textDocument/hover", 5, 8),
        request(5, "textDocument/definition", 8, 15),
        request(6, "textDocument/definition", 9, 2),
        request(7, "textDocument/completion", 9, 2),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &cache("checked_types"));
    let hover = |id| hover_text(&messages, id);
    assert_eq!(hover(1), "```cdl\nt: R[d]\n```\n\n`let` binding `t`");
    assert_eq!(hover(2), "```cdl\nx: R[d]\n```\n\nbound by this case `x`");
    assert_eq!(hover(3), "```cdl\na: R[2]\n```\n\n`let` binding `a`");
    assert_eq!(hover(4), "```cdl\np: R[2] * R[3]\n```\n\nargument `p`");
    let start = |id: u64| {
        let r = &answer(&messages, id)["result"]["range"]["start"];
        (r["line"].as_u64(), r["character"].as_u64())
    };
    assert_eq!(start(5), (Some(7), Some(6)));
    assert_eq!(start(6), (Some(8), Some(6)));
    let items = answer(&messages, 7)["result"]
        .as_array()
        .expect("a list")
        .clone();
    let ys: Vec<&Value> = items.iter().filter(|i| i["label"] == "y").collect();
    assert_eq!(ys.len(), 1);
    assert_eq!(ys[0]["detail"], "`let` binding: y: R[3]");
    let b = items.iter().find(|i| i["label"] == "b").expect("b");
    assert_eq!(b["detail"], "`let` binding: b: R[3]");
    assert!(
        !items.iter().any(|i| i["label"] == "t"),
        "t is not in scope"
    );
}

#[test]
fn hover_on_an_equivariant_weight_shows_its_derived_tying() {
    let program = "const n = 5
group S = symmetric(n)
space Pts = R[n] under S by permute
layer phi(x: Pts) -> Pts equivariant S {
  param W: equivariant Pts -> Pts = glorot
  W @ x
}
";
    let input = [
        frame(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}})),
        frame(&json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": URI, "languageId": "cdl", "version": 1, "text": program}}})),
        request(1, "textDocument/hover", 5, 2),
        end(),
    ]
    .concat();
    let (_, messages) = session(&input, &cache("tying"));
    assert_eq!(
        hover_text(&messages, 1),
        "```cdl\nW: equivariant R[5] -> R[5]\n```\n\ntrainable parameter `W`\n\nderived tying: phi.W: 2 free of 25"
    );
}

#[test]
fn requests_after_shutdown_are_refused_and_exit_without_shutdown_fails() {
    let input = [
        start(),
        frame(&json!({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})),
        request(2, "textDocument/hover", 8, 9),
        frame(&json!({"jsonrpc": "2.0", "method": "exit"})),
    ]
    .concat();
    let (status, messages) = session(&input, &cache("shutdown"));
    assert!(status.success());
    assert_eq!(answer(&messages, 1)["result"], Value::Null);
    assert_eq!(answer(&messages, 2)["error"]["code"], -32600);
    let abrupt = [start(), frame(&json!({"jsonrpc": "2.0", "method": "exit"}))].concat();
    let (status, _) = session(&abrupt, &cache("abrupt"));
    assert_eq!(status.code(), Some(1));
}
