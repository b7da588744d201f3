//! CSV rows as feature vectors and labels, and the errors for bad files.

use std::path::Path;

use super::*;

fn file() -> &'static Path {
    Path::new("iris.csv")
}

fn x(k: usize) -> DataType {
    DataType::Tensor(vec![k])
}

#[test]
fn features_are_every_other_column_in_order() {
    let text = "a,label,b\r\n1.5, 2 ,-3\r\n\r\n0,0,4e-1\n";
    let ex = parse(text, file(), "label", &x(2), &TargetType::Class(3)).expect("valid file");
    assert_eq!(ex.len(), 2);
    assert_eq!(
        ex[0].x,
        Value::Tensor(Tensor::new(vec![2], vec![1.5, -3.0]))
    );
    assert_eq!(ex[0].y, Target::Class(2));
    assert_eq!(ex[1].x, Value::Tensor(Tensor::new(vec![2], vec![0.0, 0.4])));
    assert_eq!(ex[1].y, Target::Class(0));
}

#[test]
fn regression_labels_are_numbers() {
    let text = "x,y\n1,0.25\n";
    let ex = parse(text, file(), "y", &x(1), &TargetType::Tensor(vec![1])).expect("valid file");
    assert_eq!(ex[0].y, Target::Tensor(Tensor::new(vec![1], vec![0.25])));
    let ex = parse(text, file(), "y", &x(1), &TargetType::Tensor(vec![])).expect("valid file");
    assert_eq!(ex[0].y, Target::Tensor(Tensor::scalar(0.25)));
}

#[test]
fn quoted_fields() {
    let text = "\"a, b\",\"the \"\"label\"\"\"\n\"1\",\"0\"\n";
    let ex =
        parse(text, file(), "the \"label\"", &x(1), &TargetType::Class(2)).expect("valid file");
    assert_eq!(ex[0].y, Target::Class(0));
    let err =
        parse("a,b\n\"1,0\n", file(), "b", &x(1), &TargetType::Class(2)).expect_err("open quote");
    assert!(
        matches!(
            err,
            DataError::Syntax {
                at: Location::Line(2),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bad_values_name_line_column_and_value() {
    let text = "a,b,label\n1,2,0\n1,oops,1\n";
    let err = parse(text, file(), "label", &x(2), &TargetType::Class(2)).expect_err("not a number");
    let DataError::Mismatch { at, mismatch, .. } = err else {
        panic!("expected a mismatch")
    };
    assert_eq!(at, Location::Line(3));
    assert_eq!(mismatch.path, "x[1]");
    assert_eq!(mismatch.expected, "a number (column `b`)");
    assert_eq!(mismatch.found, "\"oops\"");

    let err = parse(
        "a,label\n1,2\n",
        file(),
        "label",
        &x(1),
        &TargetType::Class(2),
    )
    .expect_err("class 2");
    assert!(
        matches!(err, DataError::Mismatch { at: Location::Line(2), ref mismatch, .. }
        if mismatch.path == "y" && mismatch.expected == "a class in 0..2")
    );
    let err = parse(
        "a,label\n1,0.5\n",
        file(),
        "label",
        &x(1),
        &TargetType::Class(2),
    )
    .expect_err("fraction");
    assert!(matches!(err, DataError::Mismatch { .. }));
}

#[test]
fn layout_errors() {
    let err =
        parse("a,b\n1,2\n", file(), "label", &x(1), &TargetType::Class(2)).expect_err("no label");
    assert!(
        matches!(&err, DataError::Layout { message, .. } if message.contains("the columns are a, b"))
    );
    let err = parse(
        "a,b,label\n1,2,0\n",
        file(),
        "label",
        &x(3),
        &TargetType::Class(2),
    )
    .expect_err("k");
    assert!(
        matches!(&err, DataError::Layout { message, .. } if message.contains("R[2]")),
        "{err}"
    );
    let err = parse(
        "a,label\n1,0\n",
        file(),
        "label",
        &x(1),
        &TargetType::Tensor(vec![2]),
    )
    .expect_err("y");
    assert!(matches!(err, DataError::Layout { .. }));
    let err = parse("", file(), "label", &x(1), &TargetType::Class(2)).expect_err("empty");
    assert!(matches!(err, DataError::Layout { .. }));
    let err = parse(
        "a,label\n1,0,3\n",
        file(),
        "label",
        &x(1),
        &TargetType::Class(2),
    )
    .expect_err("fields");
    assert!(matches!(
        err,
        DataError::Syntax {
            at: Location::Line(2),
            ..
        }
    ));
}

#[test]
fn non_finite_and_huge_values_are_refused_and_long_fields_cut() {
    for bad in ["NaN", "inf", "-1e39"] {
        let text = format!("a,b,label\n1,2,0\n1,{bad},1\n");
        let err = parse(&text, file(), "label", &x(2), &TargetType::Class(2)).expect_err(bad);
        assert!(
            matches!(err, DataError::Mismatch { at: Location::Line(3), ref mismatch, .. }
                if mismatch.path == "x[1]"),
            "{bad}: {err}"
        );
    }
    let long = "7".repeat(10_000) + "z";
    let text = format!("a,label\n{long},1\n");
    let err = parse(&text, file(), "label", &x(1), &TargetType::Class(2)).expect_err("long");
    let shown = err.to_string();
    assert!(
        shown.len() < 200 && shown.contains("10001 bytes"),
        "{shown}"
    );
}

#[test]
fn each_row_keeps_the_line_it_starts_on() {
    // The header is line 1; a blank line and a quoted label spanning two
    // lines make a row's line differ from its index.
    let text = "a,label\n1,0\n\n2,\"1\n\"\n3,2\n";
    let (ex, lines) =
        numbered(text, file(), "label", &x(1), &TargetType::Tensor(vec![])).expect("valid file");
    assert_eq!(ex.len(), 3);
    assert_eq!(lines, vec![2, 4, 6]);
}
