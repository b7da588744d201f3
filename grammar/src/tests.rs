//! Parser tests on the shipped examples and on small hand-written inputs.

use super::*;

fn errors_of(src: &str) -> Vec<SyntaxError> {
    parse(FileId(0), src).1
}

#[test]
fn every_example_parses_without_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples folder exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "cdl") {
            let src = std::fs::read_to_string(&path).expect("readable example");
            let errs = errors_of(&src);
            assert!(errs.is_empty(), "{}: {errs:?}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 13, "expected the spec's examples, found {seen}");
}

#[test]
fn missing_arrow_is_reported_with_the_expected_token() {
    let src = "algebra s[d] : ListF(R[d]) -> R[d] {\n  param z: R[d] = zeros\n  nil => z\n  cons(x, s)  x + s\n}\n";
    let errs = errors_of(src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    match &errs[0] {
        SyntaxError::Unexpected {
            found, expected, ..
        } => {
            assert_eq!(found, "name `x`");
            assert!(expected.contains(&"`=>`".to_string()), "{expected:?}");
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn independent_errors_are_all_reported() {
    let src =
        "layer f(x: R[3]) -> R[3] { relu(x }\nconst n = 3\nlayer g(x: R[3]) -> R[3] { x + }\n";
    assert_eq!(errors_of(src).len(), 2);
}

#[test]
fn statement_then_parenthesis_needs_a_semicolon() {
    // Without `;` the parenthesis applies `b`; with it, the tuple is the result.
    let with = parse(FileId(0), "layer f(x: R) -> R { let a = b; (a, a) }").0;
    let without = parse(FileId(0), "layer f(x: R) -> R { let a = b (a, a) }").0;
    assert_ne!(format!("{with:?}"), format!("{without:?}"));
}

#[test]
fn doc_comments_attach_to_the_next_item() {
    let src = "/// About the file.\n\n/// One.\n/// Two.\nconst n = 3\n\n/// Three.\nconst m = 4\n/// Four.\n\nconst k = 5\n";
    let (file, errs) = parse(FileId(0), src);
    assert!(errs.is_empty());
    assert_eq!(file.items[0].doc, vec!["One.", "Two."]);
    assert_eq!(file.items[1].doc, vec!["Three."]);
    // Separated from the item by a blank line: no item's.
    assert!(file.items[2].doc.is_empty());
}
