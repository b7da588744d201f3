//! Deep programs end to end: chains of operators, of `>>`, of `let … in`,
//! of brackets and of size arithmetic 100 000 levels deep are refused with
//! one E0701 by every command and by the language server, without
//! overflowing the stack; programs at the nesting limit check, print and
//! train on the binary's main thread.

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

mod common;
use common::{cdlc, scratch, stderr, stdout};

/// A program whose model `m` nests `n` levels of one kind, and a train
/// block for it.
fn program(kind: &str, n: usize) -> String {
    let body = match kind {
        "sum" => format!("model m(x: R[2]) -> R[2] {{ x{} }}", " + x".repeat(n)),
        "compose" => format!("model m = dense[2, 2]{}", " >> tanh".repeat(n)),
        "let" => format!(
            "model m(x: R[2]) -> R[2] {{ {}x }}",
            "let y = x in ".repeat(n)
        ),
        "call" => format!(
            "model m(x: R[2]) -> R[2] {{ {}x{} }}",
            "tanh(".repeat(n),
            ")".repeat(n)
        ),
        "size" => format!(
            "const c = 2{}\nmodel m(x: R[2]) -> R[2] {{ x }}",
            " * 1".repeat(n)
        ),
        other => panic!("no program of kind {other}"),
    };
    format!(
        "import std.layers\n\n{body}\n\ntrain m {{\n  data = synthetic.spirals(classes = 2, samples = 16)\n  \
         loss = cross_entropy\n  optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 4\n}}\n"
    )
}

const KINDS: [&str; 5] = ["sum", "compose", "let", "call", "size"];

#[test]
fn programs_100_000_levels_deep_are_e0701_in_every_command() {
    let dir = scratch("beyond");
    let commands: [&[&str]; 8] = [
        &["check", "m.cdl"],
        &["check", "--message-format", "json", "m.cdl"],
        &["m.cdl", "--emit", "ast"],
        &["m.cdl", "--emit", "types"],
        &["m.cdl", "--emit", "ir"],
        &["m.cdl", "--emit", "jit", "--out", "o"],
        &["fmt", "--check", "m.cdl"],
        &["fmt", "m.cdl"],
    ];
    for kind in KINDS {
        std::fs::write(dir.join("m.cdl"), program(kind, 100_000)).unwrap();
        for args in commands {
            let out = cdlc(args, &dir);
            // JSON diagnostics are printed on standard output.
            let err = stderr(&out) + &stdout(&out);
            assert_eq!(out.status.code(), Some(1), "{kind} {args:?}: {err}");
            if args[0] == "fmt" {
                // The formatter names no codes: it refuses a file that does
                // not parse.
                assert!(
                    err.contains("fix its syntax errors first"),
                    "{kind} {args:?}: {err}"
                );
            } else {
                assert_eq!(err.matches("E0701").count(), 1, "{kind} {args:?}: {err}");
            }
        }
    }
    assert!(!dir.join("o").exists(), "nothing is trained");
}

#[test]
fn programs_at_the_limit_check_print_and_train_on_the_main_stack() {
    let dir = scratch("within");
    let limit = cdlc_grammar::depth::MAX_DEPTH;
    // The model's `->` and its block's `{` are two levels.
    for (kind, n) in [
        ("sum", limit - 2),
        ("compose", limit - 2),
        ("let", limit - 2),
        ("call", limit - 2),
        ("size", limit - 1),
    ] {
        std::fs::write(dir.join("m.cdl"), program(kind, n)).unwrap();
        let commands: [&[&str]; 6] = [
            &["check", "m.cdl"],
            &["m.cdl", "--emit", "types"],
            &["m.cdl", "--emit", "grad"],
            &["m.cdl", "--emit", "clif"],
            &["m.cdl", "--emit", "jit", "--out", "o-jit"],
            &[
                "m.cdl",
                "--emit",
                "jit",
                "--backend",
                "interp",
                "--out",
                "o-interp",
            ],
        ];
        for args in commands {
            let out = cdlc(args, &dir);
            assert!(out.status.success(), "{kind} {args:?}: {}", stderr(&out));
        }
        for backend in ["jit", "interp"] {
            let metrics = std::fs::read_to_string(dir.join(format!("o-{backend}/metrics.csv")))
                .expect("an epoch was written");
            assert_eq!(metrics.lines().count(), 2, "{kind} {backend}: {metrics}");
        }
    }
}

/// `--emit ast` at the nesting limit prints the whole tree in the pretty
/// layout (it was cubic in the depth: 4 to 20 s here in a debug build).
/// The checks are on the output, not on time: every call is printed, the
/// deepest line is indented four spaces for each of the four levels a call
/// adds (the expression, its `Apply`, the argument list, the argument), and
/// the text ends where the tree does.
#[test]
fn the_syntax_tree_at_the_limit_is_printed_whole() {
    let dir = scratch("ast");
    let n = cdlc_grammar::depth::MAX_DEPTH - 2;
    std::fs::write(dir.join("m.cdl"), program("call", n)).unwrap();
    let out = cdlc(&["m.cdl", "--emit", "ast"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("\"tanh\" @").count(), n);
    let deepest = text
        .lines()
        .map(|l| l.len() - l.trim_start().len())
        .max()
        .unwrap_or(0);
    assert!(deepest >= 16 * n, "the deepest line is indented {deepest}");
    assert!(
        text.ends_with("    unparsed: [],\n}\n"),
        "{}",
        &text[text.len() - 200..]
    );
}

/// One framed JSON-RPC message.
fn frame(body: &Value) -> Vec<u8> {
    let text = body.to_string();
    format!("Content-Length: {}\r\n\r\n{text}", text.len()).into_bytes()
}

#[test]
fn the_language_server_reports_e0701_on_a_deep_program_and_keeps_serving() {
    let uri = "file:///project/m.cdl";
    let text = program("sum", 100_000);
    let at = json!({"textDocument": {"uri": uri}, "position": {"line": 2, "character": 40}});
    let mut input = vec![
        frame(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}}),
        ),
        frame(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "cdl", "version": 1, "text": text}}}),
        ),
    ];
    for (id, method) in [
        (1, "textDocument/hover"),
        (2, "textDocument/completion"),
        (3, "textDocument/definition"),
    ] {
        input.push(frame(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": at}),
        ));
    }
    input.push(frame(&json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/semanticTokens/full", "params": {"textDocument": {"uri": uri}}})));
    input.push(frame(&json!({"jsonrpc": "2.0", "id": 5, "method": "textDocument/formatting", "params": {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}})));
    input.push(frame(
        &json!({"jsonrpc": "2.0", "id": 6, "method": "shutdown"}),
    ));
    input.push(frame(&json!({"jsonrpc": "2.0", "method": "exit"})));
    let dir = scratch("lsp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cdlc"))
        .arg("lsp")
        .env("XDG_CACHE_HOME", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(&input.concat()).expect("the server reads");
    drop(stdin);
    let out = child.wait_with_output().expect("the server exits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let bodies: Vec<Value> = text
        .split("Content-Length: ")
        .filter_map(|m| m.split_once("\r\n\r\n"))
        .map(|(_, body)| serde_json::from_str(body).expect("a JSON body"))
        .collect();
    let diagnostics = bodies
        .iter()
        .find(|m| m["method"] == "textDocument/publishDiagnostics")
        .expect("diagnostics were published");
    let codes: Vec<&Value> = diagnostics["params"]["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| &d["code"])
        .collect();
    assert_eq!(codes, [&json!("E0701")]);
    for id in 1..=6 {
        assert!(
            bodies.iter().any(|m| m["id"] == id),
            "no answer to request {id}: {bodies:#?}"
        );
    }
}

/// `n` layers, each composing the one before with `tanh`, the last one as
/// the model `m`, and a train block.
fn definition_chain(n: usize) -> String {
    let mut src = String::from("import std.layers\n\nlayer l0 = dense[2, 2]\n");
    for i in 1..n {
        src.push_str(&format!("layer l{i} = l{} >> tanh\n", i - 1));
    }
    src.push_str(&format!(
        "model m = l{}\n\ntrain m {{\n  data = synthetic.spirals(classes = 2, samples = 16)\n  \
         loss = cross_entropy\n  optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 4\n}}\n",
        n - 1
    ));
    src
}

#[test]
fn a_chain_of_definitions_is_e0706_beyond_the_limit_and_trains_at_it() {
    let dir = scratch("uses");
    // 7 400 layers overflowed `--emit ir` before the limit.
    std::fs::write(dir.join("m.cdl"), definition_chain(100_000)).unwrap();
    for args in [
        &["check", "m.cdl"][..],
        &["m.cdl", "--emit", "ir"],
        &["m.cdl", "--emit", "jit", "--out", "o"],
    ] {
        let out = cdlc(args, &dir);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.matches("E0706").count(), 1, "{args:?}: {err}");
    }
    // `m` is one level more than the layer it uses.
    let limit = cdlc_grammar::uses::MAX_USE_DEPTH;
    std::fs::write(dir.join("m.cdl"), definition_chain(limit - 1)).unwrap();
    for args in [
        &["check", "m.cdl"][..],
        &["m.cdl", "--emit", "grad"],
        &["m.cdl", "--emit", "jit", "--out", "o-jit"],
        &[
            "m.cdl",
            "--emit",
            "jit",
            "--backend",
            "interp",
            "--out",
            "o-interp",
        ],
    ] {
        let out = cdlc(args, &dir);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
}

/// `n` layers after `l0`, each applying the one before twice, and a model
/// using the last with a train block.
fn doubling_program(n: usize) -> String {
    let mut src = String::from("import std.layers\n\nlayer l0 = dense[2, 2] >> tanh\n");
    for i in 1..=n {
        let p = i - 1;
        src.push_str(&format!(
            "layer l{i}(x: R[2]) -> R[2] {{ l{p}(l{p}(x)) }}\n"
        ));
    }
    src.push_str(&format!(
        "model m(x: R[2]) -> R[2] {{ l{n}(x) }}\n\ntrain m {{\n  data = synthetic.spirals(classes = 2, samples = 16)\n  \
         loss = cross_entropy\n  optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 4\n}}\n"
    ));
    src
}

/// Sixty levels of a layer applying the one before twice would inline 2^60
/// copies (it exhausted memory in `--emit ir`): every command gives one
/// E0707 at the first layer past the limit instead. A few levels still
/// instantiate and train; a layer applied to its own result sixty times
/// (`l(l(…(x)))`, using its argument three times) stays linear, as its
/// argument is computed once.
#[test]
fn a_definition_doubling_per_level_is_e0707_before_instantiation() {
    let dir = scratch("doubling");
    std::fs::write(dir.join("m.cdl"), doubling_program(60)).unwrap();
    for args in [
        &["check", "m.cdl"][..],
        &["m.cdl", "--emit", "ir"],
        &["m.cdl", "--emit", "jit", "--out", "o"],
    ] {
        let out = cdlc(args, &dir);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.matches("E0707").count(), 1, "{args:?}: {err}");
        assert!(err.contains("layer l19("), "{args:?}: {err}");
    }
    std::fs::write(dir.join("m.cdl"), doubling_program(4)).unwrap();
    let out = cdlc(&["m.cdl", "--emit", "jit", "--out", "o4"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let nested = format!(
        "import std.layers\n\nlayer l(x: R[2]) -> R[2] {{ tanh(x) + x * x }}\n\nmodel m(x: R[2]) -> R[2] {{ {}x{} }}\n",
        "l(".repeat(60),
        ")".repeat(60)
    );
    std::fs::write(dir.join("m.cdl"), nested).unwrap();
    let out = cdlc(&["m.cdl", "--emit", "ir"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    // One `tanh` per application: the IR grows linearly.
    assert_eq!(stdout(&out).matches(" = tanh ").count(), 60);
}
