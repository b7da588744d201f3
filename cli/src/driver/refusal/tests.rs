//! How each refusal is worded, and that a bug is not blamed on the data.

use super::*;
use cdlc_runtime::data::Mismatch;

fn span() -> Span {
    Span::new(cdlc_grammar::FileId(0), 0, 1)
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
    let d = diagnostic(Which::Example(4), &input(), Some(span()));
    assert_eq!(d.code, "E0603");
    assert_eq!(
        d.message,
        "example 4 of the data cannot be used: the input does not fit the model: \
         at x[2]: expected R[2], found R[3]"
    );
    assert_eq!(
        d.labels[0].text,
        "example 4 of this data: expected R[2] at x[2]"
    );
    assert!(d.help.as_deref().unwrap().contains("`x[2]`"), "{d:?}");
}

#[test]
fn a_run_input_is_counted_from_one_in_its_file_without_a_label() {
    let problem = Refusal::Example(ExampleError::EmptyHalves);
    let d = diagnostic(Which::Input(2, "in.jsonl"), &problem, None);
    assert_eq!(
        d.message,
        "input 2 of in.jsonl cannot be used: `by halves` cannot split an empty list"
    );
    assert!(d.labels.is_empty());
    assert_eq!(
        d.notes,
        ["inputs are counted from 1; blank lines are not inputs"]
    );
}

#[test]
fn targets_of_another_length_ask_for_as_many_as_the_take() {
    let problem = Refusal::Example(ExampleError::TargetLength {
        outputs: 6,
        targets: 5,
    });
    let d = diagnostic(Which::Example(0), &problem, Some(span()));
    assert_eq!(
        d.message,
        "example 0 of the data cannot be used: the model gives 6 outputs, \
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
