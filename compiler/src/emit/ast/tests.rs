//! The linear layout gives exactly Rust's pretty `Debug` text.

use super::*;
use cdlc_grammar::FileId;
use std::path::Path;

/// Every `.cdl` file in `dir`, in name order.
fn programs(dir: &Path) -> Vec<(String, String)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the folder exists")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cdl"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_layout_is_rusts_pretty_debug_text_for_every_example_and_library_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = programs(&root.join("examples"));
    files.extend(programs(&root.join("stdlib/std")));
    assert!(files.len() > 10, "the examples and the library were found");
    for (name, text) in files {
        let (file, _) = cdlc_grammar::parse(FileId(0), &text);
        assert_eq!(ast(&file), format!("{file:#?}"), "{name}");
    }
}

#[test]
fn nested_calls_strings_and_broken_programs_are_laid_out_alike() {
    let n = 40;
    let texts = [
        format!(
            "model m(x: R[2]) -> R[2] {{ {}x{} }}",
            "tanh(".repeat(n),
            ")".repeat(n)
        ),
        "model m = dense[2, 2] >> \"a (string], with {brackets\" >> 'c' ,, ]".to_string(),
        "train t { data = jsonl(\"f\\\"g(.jsonl\") }\nmodel ( = [".to_string(),
    ];
    for text in texts {
        let (file, _) = cdlc_grammar::parse(FileId(0), &text);
        assert_eq!(ast(&file), format!("{file:#?}"), "{text}");
    }
}

#[test]
fn literals_and_empty_pairs_keep_their_text() {
    let compact = r#"A { s: "x, (y] {", c: ')', v: [], m: {}, t: B(1, C { d: [2, 3] }) }"#;
    let expected = "A {\n    s: \"x, (y] {\",\n    c: ')',\n    v: [],\n    m: {},\n    t: B(\n        1,\n        C {\n            d: [\n                2,\n                3,\n            ],\n        },\n    ),\n}";
    assert_eq!(layout(compact), expected);
    // An unclosed literal or a stray backslash ends the text without a panic.
    assert_eq!(layout("A(\"x\\"), "A(\n    \"x\\");
    assert_eq!(layout("\"é\\é\""), "\"é\\é\"");
}
