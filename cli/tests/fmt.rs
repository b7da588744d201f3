//! `cdlc fmt` end to end: rewriting files and folders, `--check` with its
//! diff and exit code, and files with syntax errors.

mod common;
use common::{cdlc, scratch};

const MESSY: &str = "import std.layers\nmodel  m=dense[2,3]>>relu // the model\n";
const TIDY: &str = "import std.layers\nmodel m = dense[2, 3] >> relu // the model\n";

#[test]
fn check_reports_a_diff_and_exits_1_and_changes_nothing() {
    let dir = scratch("check");
    std::fs::write(dir.join("a.cdl"), MESSY).unwrap();
    std::fs::write(dir.join("b.cdl"), TIDY).unwrap();
    let out = cdlc(&["fmt", "--check", "a.cdl", "b.cdl"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("--- a.cdl\n+++ a.cdl (formatted)\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-model  m=dense[2,3]>>relu // the model\n"),
        "{diff}"
    );
    assert!(
        diff.contains("+model m = dense[2, 3] >> relu // the model\n"),
        "{diff}"
    );
    assert!(!diff.contains("b.cdl"), "{diff}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 files are not formatted"));
    assert_eq!(std::fs::read_to_string(dir.join("a.cdl")).unwrap(), MESSY);
    let tidy = cdlc(&["fmt", "--check", "b.cdl"], &dir);
    assert_eq!(tidy.status.code(), Some(0));
    assert!(tidy.stdout.is_empty());
}

#[test]
fn a_folder_is_formatted_recursively_but_not_its_hidden_or_target_folders() {
    let dir = scratch("folder");
    for sub in ["src/deep", ".hidden", "target"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for file in [
        "src/a.cdl",
        "src/deep/b.cdl",
        ".hidden/c.cdl",
        "target/d.cdl",
    ] {
        std::fs::write(dir.join(file), MESSY).unwrap();
    }
    std::fs::write(dir.join("src/notes.txt"), MESSY).unwrap();
    let out = cdlc(&["fmt", "."], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("src/a.cdl"), TIDY);
    assert_eq!(read("src/deep/b.cdl"), TIDY);
    for untouched in [".hidden/c.cdl", "target/d.cdl", "src/notes.txt"] {
        assert_eq!(read(untouched), MESSY, "{untouched}");
    }
    assert_eq!(
        cdlc(&["fmt", "--check", "src"], &dir).status.code(),
        Some(0)
    );
}

#[test]
fn syntax_errors_are_reported_with_their_code_and_the_file_is_left_alone() {
    let dir = scratch("syntax");
    let bad = "layer f(x: R[2]) R[2] {\n  x\n}\n";
    std::fs::write(dir.join("bad.cdl"), bad).unwrap();
    std::fs::write(dir.join("ok.cdl"), MESSY).unwrap();
    let out = cdlc(&["fmt", "bad.cdl", "ok.cdl"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[E0101]"), "{err}");
    assert!(
        err.contains("bad.cdl was not formatted: fix its syntax errors first"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("bad.cdl")).unwrap(), bad);
    assert_eq!(std::fs::read_to_string(dir.join("ok.cdl")).unwrap(), TIDY);
    let skipped = cdlc(&["fmt", "--check", "--skip-unparsable", "."], &dir);
    assert_eq!(skipped.status.code(), Some(0));
    let err = String::from_utf8_lossy(&skipped.stderr);
    assert!(
        err.contains("skipped ./bad.cdl: it has syntax errors"),
        "{err}"
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let dir = scratch("missing");
    let out = cdlc(&["fmt", "nowhere.cdl"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nowhere.cdl"));
}
