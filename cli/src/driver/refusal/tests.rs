//! How each refusal is worded, and that a bug is not blamed on the data.

use super::*;
use cdlc_runtime::data::{Mismatch, Origins};
use std::path::PathBuf;

fn span() -> Span {
    Span::new(cdlc_grammar::FileId(0), 0, 1)
}

/// Example `i` of a file whose examples are on lines 2, 4, 5, 7 and 9.
fn on_line(i: usize) -> Origin {
    Origins::Lines {
        path: PathBuf::from("d.jsonl"),
        lines: vec![2, 4, 5, 7, 9],
    }
    .of(i)
}

fn input() -> Refusal {
    Refusal::Example(ExampleError::Input(Mismatch {
        path: "x[2]".to_string(),
        expected: "R[2]".to_string(),
        found: "R[3]".to_string(),
    }))
}

#[test]
fn an_input_of_the_wrong_type_names_the_example_the_path_and_both_types() {
    let d = diagnostic(Which::Example(on_line(4)), &input(), Some(span()));
    assert_eq!(d.code, "E0603");
    assert_eq!(
        d.message,
        "the example on line 9 of d.jsonl cannot be used: the input does not fit the model: \
         at x[2]: expected R[2], found R[3]"
    );
    assert_eq!(
        d.labels[0].text,
        "line 9 of this data: expected R[2] at x[2]"
    );
    assert_eq!(d.notes, ["lines are counted from 1, blank lines included"]);
    assert!(d.help.as_deref().unwrap().contains("`x[2]`"), "{d:?}");
}

#[test]
fn a_run_input_is_named_by_its_line_without_a_label() {
    let problem = Refusal::Example(ExampleError::EmptyHalves);
    let d = diagnostic(Which::Input(on_line(1)), &problem, None);
    assert_eq!(
        d.message,
        "the input on line 4 of d.jsonl cannot be used: `by halves` cannot split an empty list"
    );
    assert!(d.labels.is_empty());
    assert_eq!(d.notes, ["lines are counted from 1, blank lines included"]);
}

#[test]
fn rows_of_arrays_and_generated_examples_are_named_by_their_number() {
    let problem = Refusal::Example(ExampleError::EmptyHalves);
    let row = Origins::Rows {
        path: PathBuf::from("x.npy"),
    }
    .of(3);
    let d = diagnostic(Which::Example(row), &problem, Some(span()));
    assert!(
        d.message.starts_with("example 3 of x.npy cannot be used: "),
        "{d:?}"
    );
    assert!(d.labels[0].text.starts_with("example 3 of this data: "));
    let d = diagnostic(Which::Example(Origins::Synthetic.of(5)), &problem, None);
    assert!(
        d.message
            .starts_with("synthetic example 5 cannot be used: "),
        "{d:?}"
    );
    assert_eq!(
        d.notes,
        ["generated examples are counted from 0 in the order they are drawn"]
    );
}

#[test]
fn targets_of_another_length_ask_for_as_many_as_the_take() {
    let problem = Refusal::Example(ExampleError::TargetLength {
        outputs: 6,
        targets: 5,
    });
    let d = diagnostic(Which::Example(on_line(0)), &problem, Some(span()));
    assert_eq!(
        d.message,
        "the example on line 2 of d.jsonl cannot be used: the model gives 6 outputs, \
         but the example has 5 targets"
    );
    assert!(d.help.as_deref().unwrap().contains("take k"), "{d:?}");
}

#[test]
fn a_backend_failure_is_an_internal_error_not_a_data_error() {
    let d = diagnostic(
        Which::Batch,
        &Refusal::Internal("oops".into()),
        Some(span()),
    );
    assert_eq!(d.code, "E0619");
}

#[test]
fn the_jit_and_the_interpreter_refusals_of_one_example_are_one_refusal() {
    let e = ExampleError::EmptyHalves;
    assert_eq!(
        Refusal::from(JitError::Data(e.clone())),
        Refusal::from(InterpError::Example(e))
    );
}

#[test]
fn a_batch_too_large_to_number_is_the_batchs_refusal_asking_for_a_smaller_batch() {
    let problem = Refusal::from(ScheduleError::TooLarge);
    assert_eq!(problem, Refusal::Example(ExampleError::TooManyNodes));
    let d = diagnostic(Which::Batch, &problem, Some(span()));
    assert_eq!(d.code, "E0603");
    assert_eq!(
        d.message,
        "a batch of the data cannot be used: the batch has more than 2^32 - 1 nodes"
    );
    assert!(
        d.help.as_deref().unwrap().contains("smaller `batch`"),
        "{d:?}"
    );
}
