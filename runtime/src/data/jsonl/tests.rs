//! Decoding JSON lines against expected types, and the errors for bad ones.

use std::path::Path;

use super::*;

fn file() -> &'static Path {
    Path::new("train.jsonl")
}

#[track_caller]
fn mismatch(text: &str, x: &DataType, y: &TargetType) -> (Location, Mismatch) {
    match parse(text, file(), x, y) {
        Err(DataError::Mismatch { at, mismatch, .. }) => (at, mismatch),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn lists_of_vectors_with_class_targets() {
    let x = DataType::list(DataType::Tensor(vec![2]));
    let text = "{\"x\": [[1, 0], [0, 1]], \"y\": 1}\n\n{\"x\": [], \"y\": 0}\n";
    let ex = parse(text, file(), &x, &TargetType::Class(2)).expect("valid file");
    assert_eq!(ex.len(), 2, "the blank line is skipped");
    let t = |a: f64, b: f64| Value::Tensor(Tensor::new(vec![2], vec![a, b]));
    assert_eq!(ex[0].x, Value::list(vec![t(1.0, 0.0), t(0.0, 1.0)]));
    assert_eq!(ex[0].y, Target::Class(1));
    assert_eq!(ex[1].x, Value::list(vec![]));
}

#[test]
fn trees_in_constructor_form() {
    let x = DataType::tree(DataType::Tensor(vec![2]));
    let text = r#"{"x": {"node": [{"leaf": [[0.1, 0.2]]}, {"leaf": [[0.3, 0.4]]}]}, "y": [0.5]}"#;
    let ex = parse(text, file(), &x, &TargetType::Tensor(vec![1])).expect("valid file");
    let leaf = |a: f64, b: f64| Value::leaf(Value::Tensor(Tensor::new(vec![2], vec![a, b])));
    assert_eq!(ex[0].x, Value::node(leaf(0.1, 0.2), leaf(0.3, 0.4)));
    assert_eq!(ex[0].y, Target::Tensor(Tensor::new(vec![1], vec![0.5])));
}

/// `functor RoseF(A) = rose(A, List(X))`, `data Rose(A) = fix RoseF(A)`:
/// the list inside a rose node holds roses (`Rec(1)` from inside it).
fn rose_type(a: DataType) -> DataType {
    DataType::Data(std::sync::Arc::new(crate::value::DataDecl {
        name: format!("Rose({a})"),
        ctors: vec![crate::value::CtorDecl {
            name: "rose".into(),
            fields: vec![a, DataType::list(DataType::Rec(0))],
        }],
    }))
}

#[test]
fn rose_trees_with_lists_of_children() {
    let x = rose_type(DataType::Tensor(vec![]));
    let text =
        r#"{"x": {"rose": [1, [{"rose": [2, []]}, {"rose": [3, [{"rose": [4, []]}]]}]]}, "y": 0}"#;
    let ex = parse(text, file(), &x, &TargetType::Class(2)).expect("valid file");
    let rose = |a: f64, kids: Vec<Value>| Value::Node {
        ctor: 0,
        fields: vec![Value::Tensor(Tensor::scalar(a)), Value::list(kids)],
    };
    assert_eq!(
        ex[0].x,
        rose(
            1.0,
            vec![rose(2.0, vec![]), rose(3.0, vec![rose(4.0, vec![])])]
        )
    );
    // A child that is not a rose is reported at its path.
    let (at, m) = mismatch(
        r#"{"x": {"rose": [1, [{"rose": [2, []]}, 5]]}, "y": 0}"#,
        &x,
        &TargetType::Class(2),
    );
    assert_eq!(at, Location::Line(1));
    assert_eq!(m.path, "x.rose[1][1]");
    assert!(m.expected.starts_with("Rose(R)"), "{}", m.expected);
}

#[test]
fn several_inputs_and_sequence_targets() {
    let x = DataType::Tuple(vec![
        DataType::Tensor(vec![]),
        DataType::list(DataType::Tensor(vec![])),
    ]);
    let y = TargetType::Seq(Box::new(TargetType::Class(3)));
    let text = r#"{"x": [2.5, {"cons": [1, {"cons": [2, {"nil": []}]}]}], "y": [0, 2]}"#;
    let ex = parse(text, file(), &x, &y).expect("valid file");
    let s = |v: f64| Value::Tensor(Tensor::scalar(v));
    assert_eq!(
        ex[0].x,
        Value::Tuple(vec![s(2.5), Value::list(vec![s(1.0), s(2.0)])])
    );
    assert_eq!(
        ex[0].y,
        Target::Seq(vec![Target::Class(0), Target::Class(2)])
    );
}

#[test]
fn mismatches_name_line_path_expected_and_found() {
    let x = DataType::Tuple(vec![
        DataType::Tensor(vec![]),
        DataType::Tensor(vec![]),
        DataType::list(DataType::Tensor(vec![2])),
    ]);
    let y = TargetType::Class(2);
    let text =
        "{\"x\": [1, 2, [[1, 0]]], \"y\": 0}\n{\"x\": [1, 2, [[1, 0], [1, 0, 0]]], \"y\": 0}\n";
    let (at, m) = mismatch(text, &x, &y);
    assert_eq!(at, Location::Line(2));
    assert_eq!(m.path, "x[2][1]");
    assert_eq!(m.expected, "R[2]");
    assert_eq!(m.found, "an array of 3");

    let tree = DataType::tree(DataType::Tensor(vec![1]));
    let (_, m) = mismatch(
        r#"{"x": {"node": [{"leaf": [[1]]}, {"leef": [[1]]}]}, "y": 0}"#,
        &tree,
        &y,
    );
    assert_eq!(m.path, "x.node[1]");
    assert!(m.expected.starts_with("Tree(R[1])"), "{}", m.expected);
    assert_eq!(m.found, "constructor `leef`");

    let (_, m) = mismatch(r#"{"x": {"leaf": [[1]]}, "y": 2}"#, &tree, &y);
    assert_eq!(
        (m.path.as_str(), m.expected.as_str(), m.found.as_str()),
        ("y", "a class in 0..2", "the number 2")
    );

    let (_, m) = mismatch(r#"{"x": {"leaf": [[1], [2]]}, "y": 0}"#, &tree, &y);
    assert_eq!(m.expected, "1 argument(s) for `leaf`");
}

#[test]
fn malformed_lines_are_syntax_errors() {
    let x = DataType::Tensor(vec![]);
    let y = TargetType::Class(2);
    for (text, line) in [
        ("{\"x\": 1, \"y\": 0}\n{\"x\": 1, \"y\"", 2),
        ("[1, 0]", 1),
        ("{\"x\": 1}", 1),
        ("{\"x\": 1, \"y\": 0, \"z\": 3}", 1),
    ] {
        match parse(text, file(), &x, &y) {
            Err(DataError::Syntax { at, .. }) => assert_eq!(at, Location::Line(line), "{text}"),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn loading_a_missing_file_is_an_io_error() {
    let err = load(
        Path::new("/nonexistent/train.jsonl"),
        &DataType::Tensor(vec![]),
        &TargetType::Class(2),
    )
    .expect_err("no such file");
    assert!(matches!(err, DataError::Io { .. }));
}

#[test]
fn error_messages_read_well() {
    let x = DataType::list(DataType::Tensor(vec![2]));
    let err = parse(
        "{\"x\": [[1, 0], 3], \"y\": 0}",
        file(),
        &x,
        &TargetType::Class(2),
    )
    .expect_err("bad");
    assert_eq!(
        err.to_string(),
        "train.jsonl, line 1: at x[1]: expected R[2], found the number 3"
    );
}

#[test]
fn inputs_for_running_ignore_targets_and_name_the_bad_line() {
    let dir = std::env::temp_dir().join(format!("cdlc-jsonl-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.jsonl");
    std::fs::write(&path, "{\"x\": [1, 2]}\n{\"x\": [3, 4], \"y\": 1}\n").unwrap();
    let xs = load_inputs(&path, &DataType::Tensor(vec![2])).unwrap();
    assert_eq!(xs.len(), 2);
    std::fs::write(&path, "{\"x\": [1, 2]}\n{\"x\": [3]}\n").unwrap();
    let err = load_inputs(&path, &DataType::Tensor(vec![2])).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn numbers_beyond_the_f32_range_name_their_line() {
    let x = DataType::Tensor(vec![2]);
    let text = "{\"x\": [1, 2], \"y\": 0}\n{\"x\": [1, -1e300], \"y\": 0}\n";
    let (at, m) = mismatch(text, &x, &TargetType::Class(2));
    assert_eq!((at, m.path.as_str()), (Location::Line(2), "x[1]"));
    assert!(m.found.contains("3.4e38"), "{}", m.found);
    let long = "s".repeat(1_000_000);
    let text = format!("{{\"x\": \"{long}\", \"y\": 0}}\n");
    let (_, m) = mismatch(&text, &x, &TargetType::Class(2));
    assert!(
        m.found.len() < 100 && m.found.contains("1000000 bytes"),
        "{}",
        m.found
    );
}

#[test]
fn a_byte_order_mark_is_skipped_as_in_csv() {
    let x = DataType::Tensor(vec![2]);
    let text = "\u{feff}{\"x\": [1, 2], \"y\": 1}\r\n{\"x\": [3, 4], \"y\": 0}\n";
    let ex = parse(text, file(), &x, &TargetType::Class(2)).expect("valid file");
    assert_eq!(ex.len(), 2);
}

/// A tree `depth` nodes deep whose spine runs down the left children (or
/// the right ones), each node's other child a leaf holding its level.
fn spine(depth: usize, left: bool) -> String {
    let leaf = |i: usize| format!("{{\"leaf\": [[{i}]]}}");
    let mut text = String::from("{\"x\": ");
    for i in 0..depth {
        text += "{\"node\": [";
        if !left {
            text += &leaf(i);
            text += ", ";
        }
    }
    text += &leaf(depth);
    for i in (0..depth).rev() {
        if left {
            text += ", ";
            text += &leaf(i);
        }
        text += "]}";
    }
    text + ", \"y\": 0}"
}

/// How deep the spine of a tree runs, and the leaf at its end.
fn spine_of(v: &Value, left: bool) -> (usize, f64) {
    let mut depth = 0;
    let mut at = v;
    loop {
        match at {
            Value::Node { ctor: 1, fields } => {
                at = &fields[usize::from(!left)];
                depth += 1;
            }
            Value::Node { ctor: 0, fields } => {
                let t = fields[0].as_tensor().expect("a leaf holds a tensor");
                return (depth, t.data[0]);
            }
            other => panic!("not a tree: {other:?}"),
        }
    }
}

#[test]
fn trees_100_000_levels_deep_load_and_mismatches_deep_inside_name_their_path() {
    let tree = DataType::tree(DataType::Tensor(vec![1]));
    let y = TargetType::Class(2);
    let depth = 100_000;
    for left in [true, false] {
        let text = spine(depth, left);
        let ex = parse(&text, file(), &tree, &y).expect("a deep tree loads");
        assert_eq!(spine_of(&ex[0].x, left), (depth, depth as f64));
        // The deepest leaf made a node with one child names the whole path.
        let bad = text.replacen(
            &format!("{{\"leaf\": [[{depth}]]}}"),
            "{\"node\": [{\"leaf\": [[1]]}]}",
            1,
        );
        let (at, m) = mismatch(&bad, &tree, &y);
        let step = if left { ".node[0]" } else { ".node[1]" };
        assert_eq!(at, Location::Line(1));
        // The path shows its first and last six steps and counts the rest.
        let elided = format!("x{}<{} more>{}", step.repeat(6), depth - 12, step.repeat(6));
        assert_eq!(m.path, elided);
        assert_eq!(m.expected, "2 argument(s) for `node`");
        // Cut short, the line is a syntax error naming its end.
        match parse(&text[..text.len() / 2], file(), &tree, &y) {
            Err(DataError::Syntax { at, message, .. }) => {
                assert_eq!(at, Location::Line(1));
                assert!(message.contains("found the end of the line"), "{message}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn rose_trees_and_lists_nested_100_000_deep_load_and_unterminated_ones_are_refused() {
    let depth = 100_000;
    // A rose whose only child is a rose whose only child is ..., each child
    // list in array form: the arrays nest as deep as the tree.
    let rose = rose_type(DataType::Tensor(vec![]));
    let text = format!(
        "{{\"x\": {}{}, \"y\": 1}}",
        "{\"rose\": [1, [".repeat(depth) + "{\"rose\": [2, []]}",
        "]]}".repeat(depth)
    );
    let ex = parse(&text, file(), &rose, &TargetType::Class(2)).expect("a deep rose loads");
    let mut levels = 0;
    let mut at = &ex[0].x;
    while let Value::Node { fields, .. } = at {
        let kids = fields[1].as_list().expect("a list of children");
        match kids.as_slice() {
            [] => break,
            [only] => at = only,
            more => panic!("{} children", more.len()),
        }
        levels += 1;
    }
    assert_eq!(levels, depth);
    // The same nesting unterminated: a syntax error, no overflow.
    let open = format!("{{\"x\": {}", "[".repeat(depth));
    let list = DataType::list(DataType::Tensor(vec![]));
    match parse(&open, file(), &list, &TargetType::Class(2)) {
        Err(DataError::Syntax { message, .. }) => {
            assert!(message.starts_with("invalid JSON: expected"), "{message}")
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    // Nested lists where the type wants numbers: a mismatch at depth 1.
    let nested = format!(
        "{{\"x\": {}{}, \"y\": 0}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let (_, m) = mismatch(&nested, &list, &TargetType::Class(2));
    assert_eq!(
        (m.path.as_str(), m.found.as_str()),
        ("x[0]", "an array of 1")
    );
}

#[test]
fn each_example_keeps_its_line() {
    let x = DataType::Tensor(vec![1]);
    let text = "\n{\"x\": [1], \"y\": 0}\n\n  \n{\"x\": [2], \"y\": 1}\n";
    let (ex, lines) = numbered(text, file(), &x, &TargetType::Class(2)).expect("valid file");
    assert_eq!(ex.len(), 2);
    assert_eq!(lines, vec![2, 5]);
}
