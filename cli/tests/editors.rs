//! The editor integrations in real tools: neovim's built-in language server
//! client driving `cdlc lsp` (editors/nvim/lsp_test.lua), and the TextMate
//! grammar under vscode-tmgrammar-test (editors/vscode, `npm test`).
//!
//! These need neovim, and node with the packages of `npm ci` in
//! editors/vscode. When a tool is missing the test fails if the `CI`
//! environment variable is set (CI installs them, see `.ci/run`), and
//! otherwise prints a "not run" line saying what to install and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn editors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors")
}

/// Whether `program --version` runs.
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Handles a missing tool: a failure in CI, a note elsewhere.
fn missing(what: &str, install: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing on CI: {install}");
    }
    eprintln!("not run: {what} is missing; {install}");
}

/// Runs a command to its end, killing it after `limit`.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let start = Instant::now();
    while child
        .try_wait()
        .expect("the command can be waited on")
        .is_none()
    {
        if start.elapsed() > limit {
            child.kill().expect("the command can be stopped");
            panic!("{cmd:?} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("the output is read")
}

const PROGRAM: &str = "import std.layers

/// Doc of m.
model m(x: R[4]) -> R[2] { dense[4, 2](x) }
model  bad=relux
";

#[test]
fn neovim_gets_diagnostics_hover_definition_formatting_and_semantic_tokens() {
    if !available("nvim") {
        missing("neovim", "install it with `apt-get install neovim`");
        return;
    }
    let dir = common::scratch("nvim");
    let file = dir.join("m.cdl");
    std::fs::write(&file, PROGRAM).unwrap();
    let result = dir.join("result.txt");
    let script = editors_dir().join("nvim/lsp_test.lua");
    let out = run_with_limit(
        Command::new("nvim")
            .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
            .arg(format!("luafile {}", script.display()))
            .env("CDLC_BIN", env!("CARGO_BIN_EXE_cdlc"))
            .env("CDL_FILE", &file)
            .env("RESULT_FILE", &result)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .current_dir(&dir),
        Duration::from_secs(120),
    );
    let found = std::fs::read_to_string(&result).unwrap_or_else(|e| {
        panic!(
            "neovim wrote no result ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let expected = "diagnostic E0201 line 5
hover item: layer dense[n, m] : R[n] -> R[m]
hover local: x: R[4]
definition file: layers.cdl
definition line: layer dense[n, m](x: R[n]) -> R[m] {
formatted: import std.layers
formatted: 
formatted: /// Doc of m.
formatted: model m(x: R[4]) -> R[2] { dense[4, 2](x) }
formatted: model bad = relux
";
    let (head, tokens) = found
        .rsplit_once("semantic numbers: ")
        .expect("a semantic token count");
    assert_eq!(head, expected);
    let numbers: usize = tokens.trim().parse().expect("a count");
    // Five numbers per token: 19 tokens and a comment (brackets and
    // separators are not reported).
    assert_eq!(numbers, 5 * 20, "{found}");
}

#[test]
fn textmate_grammar_passes_its_tests() {
    let vscode = editors_dir().join("vscode");
    if !available("npm")
        || !vscode
            .join("node_modules/.bin/vscode-tmgrammar-test")
            .exists()
    {
        missing(
            "the grammar test tool",
            "run `npm ci` in editors/vscode (node and npm needed)",
        );
        return;
    }
    let out = run_with_limit(
        Command::new("npm")
            .args(["test", "--silent"])
            .current_dir(&vscode),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("tests/items.cdltest run successfuly"),
        "{stdout}"
    );
    assert!(stdout.contains("manifest: ok"), "{stdout}");
}
