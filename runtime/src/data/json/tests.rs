//! The iterative JSON reader against `serde_json` on valid and invalid
//! texts, its error positions, and documents far deeper than a recursive
//! reader handles.

use super::*;
use serde_json::Value as Json;

/// A document as a `serde_json` value, to compare with its reader. It
/// recurses, so it is only used on shallow documents.
fn to_serde(doc: &Document<'_>, id: NodeId) -> Json {
    let node = doc.node(id);
    match &node.kind {
        Kind::Null => Json::Null,
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Number(text) => serde_json::from_str(text).expect("a JSON number"),
        Kind::String(s) => Json::String(s.to_string()),
        Kind::Array(n) => {
            let items: Vec<Json> = doc.children(id).map(|c| to_serde(doc, c)).collect();
            assert_eq!(items.len(), *n);
            Json::Array(items)
        }
        Kind::Object(n) => {
            let mut map = serde_json::Map::new();
            for c in doc.children(id) {
                let key = doc.node(c).key.as_deref().expect("a key").to_string();
                map.insert(key, to_serde(doc, c));
            }
            assert_eq!(map.len(), *n);
            Json::Object(map)
        }
    }
}

#[test]
fn valid_texts_read_as_serde_json_reads_them() {
    for text in [
        "null",
        " true ",
        "false",
        "0",
        "-0",
        "-12.5e-3",
        "1E+2",
        "18446744073709551615",
        r#""plain""#,
        r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 end""#,
        "\"caf\u{e9} \u{1f600}\"",
        "[]",
        "{}",
        "[1, [2, [3, []]], {}]",
        r#"{"x": {"node": [{"leaf": [[0.1, 0.2]]}, {"leaf": [[3, 4]]}]}, "y": [0.5]}"#,
        "\t[ 1 ,\n2\r] ",
        r#"{"a": {"b": {"c": [null, true, false]}}, "d": ""}"#,
    ] {
        let doc = Document::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: Json = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(to_serde(&doc, doc.root()), expected, "{text}");
    }
}

#[test]
fn invalid_texts_are_refused_as_serde_json_refuses_them() {
    for text in [
        "",
        "   ",
        "[",
        "[1,",
        "[1 2]",
        "[1,]",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "{1: 2}",
        "{\"a\": 1]",
        "[1}",
        "01",
        "1.",
        "1e",
        "-",
        "+1",
        ".5",
        "nul",
        "tru",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12\"",
        "\"\\ud83d\"",
        "\"\\ud83d\\u0041\"",
        "\"\\udc00\"",
        "\"tab\there\"",
        "[1] 2",
        "NaN",
        "Infinity",
    ] {
        assert!(
            serde_json::from_str::<Json>(text).is_err(),
            "serde_json accepts {text:?}"
        );
        assert!(Document::parse(text).is_err(), "accepted {text:?}");
    }
}

#[test]
fn errors_name_what_was_expected_what_was_found_and_the_column() {
    let e = Document::parse("[1, 2").expect_err("unterminated");
    assert_eq!(
        e.to_string(),
        "expected `,` or `]`, found the end of the line at column 6"
    );
    let e = Document::parse("{\"é\": x}").expect_err("bad value");
    assert_eq!(e.to_string(), "expected a value, found `x` at column 7");
    let e = Document::parse("[1] ]").expect_err("trailing");
    assert_eq!(
        e.to_string(),
        "expected the end of the line after the value, found `]` at column 5"
    );
}

#[test]
fn a_million_levels_read_walk_and_drop_without_recursion() {
    let depth = 1_000_000;
    let text = format!("{}7{}", "[".repeat(depth), "]".repeat(depth));
    let doc = Document::parse(&text).expect("deep but valid");
    let mut id = doc.root();
    for _ in 0..depth {
        assert!(matches!(doc.node(id).kind, Kind::Array(1)));
        id = doc.children(id).next().expect("one element");
    }
    assert_eq!(doc.node(id).as_f64(), Some(7.0));
    // Unterminated, it is an error at the end of the line.
    let e = Document::parse(&text[..text.len() - 1]).expect_err("one `]` short");
    assert_eq!(e.column, 2 * depth + 1);
    let objects = "{\"a\": ".repeat(depth) + "null" + &"}".repeat(depth);
    assert!(Document::parse(&objects).is_ok());
}

#[test]
fn keys_are_looked_up_in_order_and_numbers_read_exactly() {
    let doc = Document::parse(r#"{"y": 18446744073709551615, "x": 2.50}"#).expect("valid");
    let y = doc.get(doc.root(), "y").expect("y");
    assert_eq!(doc.node(y).as_u64(), Some(u64::MAX));
    let x = doc.get(doc.root(), "x").expect("x");
    assert_eq!(
        (doc.node(x).as_f64(), doc.node(x).as_u64()),
        (Some(2.5), None)
    );
    assert_eq!(doc.get(doc.root(), "z"), None);
    assert_eq!(doc.get(x, "x"), None, "a number has no members");
}
