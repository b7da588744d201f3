//! Tests of the hoisting pass on hand-built models: what is moved, what is
//! left alone, and that the rewritten module computes the same outputs,
//! verifies, and prints and reads back.

use cdlc_runtime::value::{Tensor, Value};

use super::{hoist_function, hoist_module};
use crate::builder::FunctionBuilder;
use crate::interp::forward;
use crate::ir::{LossKind, Module, Op, Type};
use crate::print::{print_function, print_module};
use crate::rng::Rng;
use crate::testmodels::{
    TestModel, elman_model, hylo_model, mealy_model, nested_model, random_input, random_params,
    tree_model, vec_list,
};

/// The maps of the module's forward function.
fn maps(m: &TestModel) -> usize {
    let f = &m.module.functions[m.forward];
    f.values
        .keys()
        .filter(|&v| matches!(f.op(v), Some(Op::Map(_))))
        .count()
}

/// The largest relative difference between two outputs' entries.
fn max_rel(a: &Value, b: &Value) -> f64 {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => {
            assert_eq!(x.shape, y.shape);
            x.data
                .iter()
                .zip(&y.data)
                .map(|(p, q)| (p - q).abs() / p.abs().max(q.abs()).max(1e-300))
                .fold(0.0, f64::max)
        }
        other => panic!("a tensor output expected, found {other:?}"),
    }
}

/// Hoists a copy of `m` and checks that both compute the same outputs on
/// random inputs (to 1e-12 relative) and that the copy verifies and
/// survives a print/read round trip. Returns the number of folds rewritten
/// and the hoisted model.
fn hoisted_agrees(m: &TestModel, seed: u64) -> (usize, TestModel) {
    let mut h = TestModel {
        module: m.module.clone(),
        forward: m.forward,
        loss: m.loss,
    };
    let n = hoist_function(&mut h.module, h.forward);
    crate::verify::verify(&h.module).expect("the hoisted module verifies");
    let text = print_module(&h.module);
    let read = crate::parse::module(&text).expect("the hoisted module reads back");
    assert_eq!(print_module(&read), text, "print/read round trip");
    let mut rng = Rng::new(seed);
    let f = &m.module.functions[m.forward];
    for _ in 0..8 {
        let params = random_params(f, &mut rng);
        let x = random_input(&m.module, f, &mut rng);
        let a = forward(&m.module, m.forward, &params, &x).expect("runs");
        let b = forward(&h.module, h.forward, &params, &x).expect("hoisted runs");
        assert!(max_rel(&a, &b) <= 1e-12, "{a:?} against {b:?}");
    }
    (n, h)
}

#[test]
fn an_elman_cell_s_input_projection_becomes_a_map() {
    let m = elman_model();
    let (n, h) = hoisted_agrees(&m, 1);
    assert_eq!(n, 1);
    assert_eq!(maps(&h), 1);
    let text = print_module(&h.module);
    // The map computes `U x` per element; the fold reads it as its third
    // `cons` argument and still multiplies the carrier by `W`.
    assert!(
        text.contains("= map List(R[2]) %0 : Mapped(List(R[2]); () | (R[3]))"),
        "{text}"
    );
    assert!(text.contains("cons(%"), "{text}");
    let f = &h.module.functions[h.forward];
    let contracts_in_folds = f
        .values
        .keys()
        .filter_map(|v| match f.op(v) {
            Some(Op::Fold(fold)) => Some(fold.cases[1]),
            _ => None,
        })
        .map(|case| {
            f.blocks[case]
                .insts
                .iter()
                .filter(|&&v| matches!(f.op(v), Some(Op::Contract { .. })))
                .count()
        })
        .sum::<usize>();
    assert_eq!(
        contracts_in_folds, 1,
        "only `W s` is left in the fold:\n{text}"
    );
}

#[test]
fn a_tree_s_leaf_embedding_is_hoisted_whole() {
    let m = tree_model();
    let (n, h) = hoisted_agrees(&m, 2);
    assert_eq!(n, 1);
    let f = &h.module.functions[h.forward];
    let fold = f
        .values
        .keys()
        .find_map(|v| match f.op(v) {
            Some(Op::Fold(fold)) => Some(fold.clone()),
            _ => None,
        })
        .expect("a fold");
    // The leaf region only yields its precomputed argument.
    let leaf = &f.blocks[fold.cases[0]];
    assert!(leaf.insts.is_empty(), "{}", print_module(&h.module));
    assert_eq!(leaf.result, leaf.args.last().copied());
}

#[test]
fn a_fold_nested_in_a_region_is_hoisted_where_it_stands() {
    let m = nested_model();
    let (n, h) = hoisted_agrees(&m, 3);
    // The outer leaf case is a fold (not hoistable); the Elman fold inside
    // it is, with its map placed in the outer leaf region.
    assert_eq!(n, 1);
    assert_eq!(maps(&h), 1);
    let f = &h.module.functions[h.forward];
    let entry_maps = f.blocks[f.entry]
        .insts
        .iter()
        .filter(|&&v| matches!(f.op(v), Some(Op::Map(_))))
        .count();
    assert_eq!(entry_maps, 0);
}

#[test]
fn nothing_is_hoisted_from_a_region_whose_work_reads_the_carrier() {
    // `cons(x, s) => tanh(W (s + x))`: every op reads the carrier.
    let mut module = Module::new();
    let list = vec_list(&mut module, 3);
    let mut b = FunctionBuilder::new(&module, "carrier");
    let xs = b.input(Type::Data(list));
    let w = b.param("W", &[3, 3]);
    let h0 = b.param("h0", &[3]);
    let s = b.fold(list, xs, Type::tensor(&[3]), |b, ctor, args| match ctor {
        0 => h0,
        _ => {
            let z = b.add(args[1], args[0]);
            let z = b.matmul(w, z);
            b.tanh(z)
        }
    });
    let f = b.finish(s);
    let forward = module.add_function(f);
    let m = TestModel {
        module,
        forward,
        loss: LossKind::Mse,
    };
    let before = print_module(&m.module);
    let (n, h) = hoisted_agrees(&m, 4);
    assert_eq!(n, 0);
    assert_eq!(print_module(&h.module), before);
}

#[test]
fn hylomorphisms_and_unfolds_are_left_unchanged() {
    for mut m in [hylo_model(), mealy_model()] {
        let before = print_module(&m.module);
        assert_eq!(hoist_module(&mut m.module), 0);
        assert_eq!(print_module(&m.module), before);
    }
}

/// Largest relative difference allowed between the gradients of a hoisted
/// module and its original, in f64.
const GRAD_TOLERANCE: f64 = 1e-10;

/// Differentiates `m` and its hoisted copy and checks, on random batches,
/// that the hoisted training function passes a finite-difference check in
/// f64 and gives the original's loss and gradients to `GRAD_TOLERANCE`
/// relative; its text reads back. Returns the hoisted training function's
/// text.
fn hoisted_gradients_agree(m: &TestModel, seed: u64) -> String {
    let (n, mut h) = hoisted_agrees(m, seed);
    assert!(n > 0, "the model has work to hoist");
    let mut o = TestModel {
        module: m.module.clone(),
        forward: m.forward,
        loss: m.loss,
    };
    let want = crate::testmodels::train_fn(&mut o);
    let got = crate::testmodels::train_fn(&mut h);
    let text = print_module(&h.module);
    let read = crate::parse::module(&text).expect("the training function reads back");
    assert_eq!(print_module(&read), text, "print/read round trip");
    let mut rng = Rng::new(seed);
    for _ in 0..3 {
        let params = random_params(&m.module.functions[m.forward], &mut rng);
        let batch = crate::testmodels::random_batch(m, &params, 4, &mut rng);
        let report = crate::gradcheck::gradcheck(&h.module, got, &params, &batch, seed)
            .expect("the hoisted training function runs");
        assert!(report.passed(), "{report:#?}");
        let (l0, g0) = crate::interp::loss_and_grad(&o.module, want, &params, &batch).unwrap();
        let (l1, g1) = crate::interp::loss_and_grad(&h.module, got, &params, &batch).unwrap();
        assert!(crate::gradcheck::rel_error(l1, l0) <= GRAD_TOLERANCE);
        for (a, b) in g1.iter().zip(&g0) {
            for (x, y) in a.data.iter().zip(&b.data) {
                let e = (x - y).abs() / x.abs().max(y.abs()).max(1e-300);
                assert!(e <= GRAD_TOLERANCE, "{x} against {y}");
            }
        }
    }
    print_function(&h.module, &h.module.functions[got])
}

#[test]
fn a_hoisted_elman_fold_s_gradients_are_the_original_s() {
    let text = hoisted_gradients_agree(&elman_model(), 5);
    // The fold's backward hands the cotangents of `U x` to the map's
    // backward, which sums `U`'s gradient over all elements.
    assert!(text.contains("= map_backward List(R[2]) Mapped("), "{text}");
    assert!(text.contains(", elements"), "{text}");
}

#[test]
fn a_hoisted_tree_s_gradients_are_the_original_s() {
    hoisted_gradients_agree(&tree_model(), 10);
    hoisted_gradients_agree(&nested_model(), 11);
}

#[test]
fn a_map_reads_each_node_s_plain_fields_in_a_list_of_any_length() {
    let m = elman_model();
    let (_, h) = hoisted_agrees(&m, 6);
    let mut rng = Rng::new(7);
    let params = random_params(&m.module.functions[m.forward], &mut rng);
    for len in [0usize, 1, 5000] {
        let xs = Value::list(
            (0..len)
                .map(|i| Value::Tensor(Tensor::new(vec![2], vec![(i as f64).sin(), 0.5])))
                .collect(),
        );
        let a = forward(&m.module, m.forward, &params, &xs).expect("runs");
        let b = forward(&h.module, h.forward, &params, &xs).expect("hoisted runs");
        assert!(max_rel(&a, &b) <= 1e-12, "length {len}");
    }
}

#[test]
fn the_verifier_refuses_a_map_whose_regions_do_not_match_its_result_type() {
    let m = elman_model();
    let (_, mut h) = hoisted_agrees(&m, 8);
    let f = &mut h.module.functions[h.forward];
    let map = f
        .values
        .keys()
        .find(|&v| matches!(f.op(v), Some(Op::Map(_))))
        .expect("a map");
    let crate::ir::ValueDef::Op(Op::Map(op)) = &mut f.values[map] else {
        unreachable!("found above")
    };
    op.out = op.data;
    let errs = crate::verify::verify(&h.module).unwrap_err();
    assert!(
        errs.iter().any(
            |e| e.to_string().contains("region yields (R[3]), expected ()")
                || e.to_string()
                    .contains("region yields Tuple([Tensor([3])]), expected Tuple([])")
        ),
        "{errs:?}"
    );
}

#[test]
fn the_reader_refuses_a_map_whose_type_is_not_a_data_type() {
    let m = elman_model();
    let (_, h) = hoisted_agrees(&m, 9);
    let text = print_module(&h.module);
    let line = text
        .lines()
        .find(|l| l.contains("= map "))
        .expect("a map line");
    let bad_line = format!("{}: R[3] {{", &line[..line.find(": ").expect("a type")]);
    let bad = text.replace(line, &bad_line);
    let err = crate::parse::module(&bad).unwrap_err().to_string();
    assert!(
        err.contains("a `map`'s type is the data type it builds"),
        "{err}"
    );
}
