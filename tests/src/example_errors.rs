//! The interpreter and the JIT refuse a bad example with the same
//! structured error (`cdlc_ir::example_error::ExampleError`), in training
//! and in the forward pass, in f64 and f32: an input of the wrong length,
//! a list with a constructor its type does not have, a tree with one deep
//! inside, an example that is not a tuple of the model's two inputs, a
//! class target out of range, an empty list split `by halves` (an input's
//! and a computed one), and targets of another length than `take 3`
//! (`tests/cases/grad/refusals.cdl`, `halves.cdl`). A good example first in
//! each batch shows the refusal is the bad example's.

use crate::grad::{grad_case, list_examples};
use cdlc_ir::example_error::ExampleError;
use cdlc_ir::interp::InterpError;
use cdlc_jit::{Dtype, JitError, Options};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

fn vector(xs: &[f64]) -> Value {
    Value::Tensor(Tensor::new(vec![xs.len()], xs.to_vec()))
}

fn list(n: usize) -> Value {
    Value::list((0..n).map(|i| vector(&[i as f64, 0.5])).collect())
}

/// A list cell whose constructor `List` does not have.
fn bad_tag() -> Value {
    Value::Node {
        ctor: 7,
        fields: Vec::new(),
    }
}

fn example(x: Value, class: usize) -> Example {
    Example {
        x,
        y: Target::Class(class),
    }
}

/// The refusal of `batch` by the interpreter, and by the JIT's training
/// step in f64 and f32; all three must be the same.
#[track_caller]
fn training_refusal(file: &str, model: &str, batch: &[Example]) -> ExampleError {
    let (p, params) = grad_case(file, model);
    let m = &p.inst.module;
    let interp = match cdlc_ir::interp::loss_and_grad(m, p.train, &params, batch) {
        Err(InterpError::Example(e)) => e,
        other => panic!("{model}: the interpreter gave {other:?}"),
    };
    for dtype in [Dtype::F64, Dtype::F32] {
        let opts = Options {
            dtype,
            batch: batch.len(),
        };
        let mut k =
            cdlc_jit::compile_train(m, p.train, &opts).unwrap_or_else(|e| panic!("{model}: {e}"));
        let flat = params.iter().flat_map(|t| t.data.iter().copied());
        let jit = match dtype {
            Dtype::F64 => {
                let ps: Vec<f64> = flat.collect();
                k.step_examples(&ps, batch, &mut vec![0.0; ps.len()])
            }
            Dtype::F32 => {
                let ps: Vec<f32> = flat.map(|x| x as f32).collect();
                k.step_examples(&ps, batch, &mut vec![0.0; ps.len()])
            }
        };
        match jit {
            Err(JitError::Data(e)) => assert_eq!(e, interp, "{model} ({dtype:?})"),
            other => panic!("{model} ({dtype:?}): the JIT gave {other:?}"),
        }
        // What only running finds is found alike by the step that trusts
        // checked examples (`prepare_checked_refs`, what training uses).
        if !matches!(interp, ExampleError::Input(_) | ExampleError::Target(_)) {
            match trusted_step(&mut k, &params, batch, dtype) {
                Err(JitError::Data(e)) => assert_eq!(e, interp, "{model} ({dtype:?}), trusted"),
                other => panic!("{model} ({dtype:?}): the trusting step gave {other:?}"),
            }
        }
    }
    interp
}

/// One JIT training step on `batch` prepared without checking it again
/// (`prepare_checked_refs`): the loss and the gradients in f64.
fn trusted_step(
    k: &mut cdlc_jit::TrainKernel,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
) -> Result<(f64, Vec<f64>), JitError> {
    let refs: Vec<&Example> = batch.iter().collect();
    let prepared = k.prepare_checked_refs(&refs)?;
    let flat = params.iter().flat_map(|t| t.data.iter().copied());
    match dtype {
        Dtype::F64 => {
            let ps: Vec<f64> = flat.collect();
            let mut g = vec![0.0; ps.len()];
            let loss = k.step(&ps, &prepared, &mut g)?.loss;
            Ok((loss, g))
        }
        Dtype::F32 => {
            let ps: Vec<f32> = flat.map(|x| x as f32).collect();
            let mut g = vec![0.0f32; ps.len()];
            let loss = k.step(&ps, &prepared, &mut g)?.loss;
            Ok((loss, g.iter().map(|&x| f64::from(x)).collect()))
        }
    }
}

#[test]
fn a_step_that_trusts_checked_examples_gives_the_checked_steps_loss_and_gradients() {
    // The same gathering after the check or without it: equal to the bit.
    let (p, params) = grad_case("halves", "halved");
    let batch = list_examples(&[2, 5, 1, 3]);
    let m = &p.inst.module;
    for dtype in [Dtype::F64, Dtype::F32] {
        let opts = Options { dtype, batch: 4 };
        let mut k = cdlc_jit::compile_train(m, p.train, &opts).expect("compiles");
        let trusted = trusted_step(&mut k, &params, &batch, dtype).expect("a good batch");
        let checked = k.prepare(&batch).expect("a good batch");
        let flat = params.iter().flat_map(|t| t.data.iter().copied());
        let (loss, grads) = match dtype {
            Dtype::F64 => {
                let ps: Vec<f64> = flat.collect();
                let mut g = vec![0.0; ps.len()];
                (k.step(&ps, &checked, &mut g).expect("a step").loss, g)
            }
            Dtype::F32 => {
                let ps: Vec<f32> = flat.map(|x| x as f32).collect();
                let mut g = vec![0.0f32; ps.len()];
                let loss = k.step(&ps, &checked, &mut g).expect("a step").loss;
                (loss, g.iter().map(|&x| f64::from(x)).collect())
            }
        };
        assert_eq!(trusted.0.to_bits(), loss.to_bits(), "{dtype:?}");
        assert_eq!(trusted.1, grads, "{dtype:?}");
        assert!(grads.iter().any(|&g| g != 0.0), "{dtype:?}: a gradient");
    }
}

/// The refusal of `xs` by the interpreter's forward pass (the first input
/// it refuses) and the JIT's forward kernel; both must be the same.
#[track_caller]
fn forward_refusal(file: &str, model: &str, xs: &[Value]) -> ExampleError {
    let (p, params) = grad_case(file, model);
    let m = &p.inst.module;
    let interp = xs
        .iter()
        .find_map(|x| cdlc_ir::interp::forward(m, p.inst.func, &params, x).err())
        .unwrap_or_else(|| panic!("{model}: the interpreter took every input"));
    let InterpError::Example(interp) = interp else {
        panic!("{model}: the interpreter gave {interp:?}");
    };
    let opts = Options {
        dtype: Dtype::F64,
        batch: xs.len(),
    };
    let mut k =
        cdlc_jit::compile_forward(m, p.inst.func, &opts).unwrap_or_else(|e| panic!("{model}: {e}"));
    let ps: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
    match k.run(&ps, xs) {
        Err(JitError::Data(e)) => assert_eq!(e, interp, "{model}"),
        other => panic!("{model}: the JIT gave {other:?}"),
    }
    interp
}

/// The path, expected type and finding of an input refusal.
#[track_caller]
fn input_mismatch(e: ExampleError) -> (String, String, String) {
    match e {
        ExampleError::Input(m) => (m.path, m.expected, m.found),
        other => panic!("not an input refusal: {other:?}"),
    }
}

#[test]
fn an_input_tensor_of_the_wrong_length_is_refused_at_its_path() {
    let good = Value::Tuple(vec![vector(&[1.0, 2.0]), list(2)]);
    let bad = Value::Tuple(vec![vector(&[1.0, 2.0, 3.0]), list(2)]);
    let want = ("x[0]".to_string(), "R[2]".to_string(), "R[3]".to_string());
    let batch = [example(good.clone(), 0), example(bad.clone(), 1)];
    assert_eq!(
        input_mismatch(training_refusal("refusals", "two", &batch)),
        want
    );
    assert_eq!(
        input_mismatch(forward_refusal("refusals", "two", &[good, bad])),
        want
    );
}

#[test]
fn a_constructor_the_type_does_not_have_is_refused_in_a_list_and_deep_in_a_tree() {
    let good = Value::Tuple(vec![vector(&[1.0, 2.0]), list(3)]);
    // A list whose first cell's tail is the bad cell.
    let cell = Value::Node {
        ctor: 1,
        fields: vec![vector(&[1.0, 2.0]), bad_tag()],
    };
    let bad = Value::Tuple(vec![vector(&[1.0, 2.0]), cell]);
    let batch = [example(good, 2), example(bad, 0)];
    let (path, expected, found) = input_mismatch(training_refusal("refusals", "two", &batch));
    assert_eq!(
        (path.as_str(), found.as_str()),
        ("x[1][1]", "constructor #7")
    );
    assert!(expected.contains("List"), "{expected}");

    let leaf = || Value::leaf(vector(&[0.5, 0.5]));
    let deep = Value::node(leaf(), Value::node(leaf(), bad_tag()));
    let (path, _, found) = input_mismatch(forward_refusal("refusals", "tree", &[leaf(), deep]));
    assert_eq!(found, "constructor #7");
    assert!(
        path.starts_with("x.node") && path.len() > "x.node[1]".len(),
        "{path}"
    );
}

#[test]
fn an_example_that_is_not_a_tuple_of_the_two_inputs_is_refused_at_x() {
    let batch = [example(vector(&[1.0, 2.0]), 0)];
    let (path, _, found) = input_mismatch(training_refusal("refusals", "two", &batch));
    assert_eq!((path.as_str(), found.as_str()), ("x", "R[2]"));
}

#[test]
fn a_class_target_out_of_range_is_a_target_refusal() {
    let x = || Value::Tuple(vec![vector(&[1.0, 2.0]), list(1)]);
    let batch = [example(x(), 2), example(x(), 5)];
    match training_refusal("refusals", "two", &batch) {
        ExampleError::Target(m) => {
            assert_eq!((m.path.as_str(), m.found.as_str()), ("y", "class 5"));
        }
        other => panic!("not a target refusal: {other:?}"),
    }
}

#[test]
fn an_empty_list_split_by_halves_is_refused_as_an_input_and_as_computed() {
    let batch = [example(list(3), 1), example(list(0), 0)];
    assert_eq!(
        training_refusal("refusals", "split", &batch),
        ExampleError::EmptyHalves
    );
    assert_eq!(
        forward_refusal("refusals", "split", &[list(2), list(0)]),
        ExampleError::EmptyHalves
    );
    assert_eq!(
        training_refusal("halves", "halved", &list_examples(&[2, 0])),
        ExampleError::EmptyHalves
    );
}

#[test]
fn targets_of_another_length_than_the_take_are_refused_with_both_lengths() {
    // The default loss of a `List(R[3])` output is `mse`, per position.
    let targets = |n: usize| {
        Target::Seq(
            (0..n)
                .map(|i| Target::Tensor(Tensor::new(vec![3], vec![i as f64; 3])))
                .collect(),
        )
    };
    let batch = [
        Example {
            x: vector(&[0.1, 0.2]),
            y: targets(3),
        },
        Example {
            x: vector(&[0.3, 0.4]),
            y: targets(2),
        },
    ];
    assert_eq!(
        training_refusal("refusals", "stream", &batch),
        ExampleError::TargetLength {
            outputs: 3,
            targets: 2
        }
    );
}
