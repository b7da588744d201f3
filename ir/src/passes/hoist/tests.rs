//! Tests of the hoisting pass on hand-built models: what is moved, what is
//! left alone, and that the rewritten module computes the same outputs,
//! verifies, and prints and reads back.

use cdlc_runtime::value::{Tensor, Value};

use super::{hoist_function, hoist_module};
use crate::builder::FunctionBuilder;
use crate::interp::forward;
use crate::ir::{LossKind, Module, Op, Type};
use crate::print::print_module;
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

#[test]
fn a_hoisted_fold_s_gradient_is_refused_with_a_reason() {
    let m = elman_model();
    let (_, mut h) = hoisted_agrees(&m, 5);
    let err = crate::autodiff::differentiate(&mut h.module, h.forward, h.loss).unwrap_err();
    assert!(err.to_string().contains("`map`"), "{err}");
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
