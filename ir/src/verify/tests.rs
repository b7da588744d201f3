use crate::builder::FunctionBuilder;
use crate::ir::{Function, Module, Op, Type, ValueDef};
use crate::testmodels::{all_models, elman_model};
use crate::verify::{Location, VerifierError, verify, verify_function};

#[track_caller]
fn check_rejects(module: &Module, func: &Function, expect: &str) -> Vec<VerifierError> {
    let errors = verify_function(module, func).expect_err("the verifier accepts a broken function");
    let text = crate::verify::render(&errors);
    assert!(text.contains(expect), "expected `{expect}` in:\n{text}");
    errors
}

#[test]
fn every_test_model_verifies() {
    for (name, m) in all_models() {
        assert!(verify(&m.module).is_ok(), "{name} fails the verifier");
    }
}

#[test]
fn every_test_model_loss_fits_its_output() {
    for (name, m) in all_models() {
        let f = &m.module.functions[m.forward];
        let out = &f.types[f.output()];
        assert!(
            m.loss.target_type(out).is_some(),
            "{name}: {} does not fit {out:?}",
            m.loss
        );
    }
}

#[test]
fn a_region_value_used_outside_its_region_is_out_of_scope() {
    let m = elman_model();
    let mut f = m.module.functions[m.forward].clone();
    // The `cons` case's last value (its tanh) is local to the region.
    let fold = f.blocks[f.entry]
        .insts
        .iter()
        .copied()
        .find(|v| matches!(f.op(*v), Some(Op::Fold(_))))
        .expect("the model has a fold");
    let Some(Op::Fold(fold_op)) = f.op(fold) else {
        unreachable!()
    };
    let inner = f.blocks[fold_op.cases[1]].result.expect("closed region");
    let entry = f.entry;
    f.blocks[entry].result = Some(inner);
    let errors = check_rejects(&m.module, &f, "is not in scope");
    assert_eq!(errors[0].location, Location::Block(entry));
}

#[test]
fn a_wrong_recorded_type_names_the_value_and_op() {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "f");
    let x = b.input(Type::tensor(&[3]));
    let y = b.relu(x);
    let mut f = b.finish(y);
    f.types.insert(y, Type::tensor(&[4]));
    let errors = check_rejects(&module, &f, "differs from the op's type");
    assert_eq!(errors[0].location, Location::Value(y));
    assert_eq!(errors[0].op, Some("relu"));
    assert!(
        errors[0]
            .to_string()
            .starts_with("in function `f`, at %1 (relu)")
    );
}

#[test]
fn an_ill_shaped_op_is_reported() {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "f");
    let x = b.input(Type::tensor(&[3]));
    let w = b.param("W", &[2, 3]);
    let y = b.matmul(w, x);
    let mut f = b.finish(y);
    f.values[y] = ValueDef::Op(Op::Contract {
        a: x,
        b: w,
        axes: 1,
    });
    check_rejects(
        &module,
        &f,
        "cannot contract 1 axes of shapes [3] and [2, 3]",
    );
}

#[test]
fn a_fold_region_with_the_wrong_arguments_is_reported() {
    let m = elman_model();
    let mut f = m.module.functions[m.forward].clone();
    let fold = f.blocks[f.entry]
        .insts
        .iter()
        .copied()
        .find(|v| matches!(f.op(*v), Some(Op::Fold(_))))
        .expect("the model has a fold");
    let Some(Op::Fold(fold_op)) = f.op(fold) else {
        unreachable!()
    };
    let cons = fold_op.cases[1];
    let carrier_arg = f.blocks[cons].args[1];
    f.types.insert(carrier_arg, Type::tensor(&[7]));
    check_rejects(&m.module, &f, "region arguments");
}

#[test]
fn a_value_placed_nowhere_is_reported() {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "f");
    let x = b.input(Type::tensor(&[3]));
    let y = b.relu(x);
    let mut f = b.finish(x);
    let entry = f.entry;
    f.blocks[entry].insts.retain(|v| *v != y);
    let errors = check_rejects(&module, &f, "not placed in any block");
    assert_eq!(errors[0].location, Location::Value(y));
}

#[test]
#[should_panic(
    expected = "internal error: building `add` in `f`: shapes [3] and [2] do not broadcast"
)]
fn the_builder_panics_on_a_shape_error() {
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "f");
    let x = b.input(Type::tensor(&[3]));
    let y = b.input(Type::tensor(&[2]));
    b.add(x, y);
}

#[test]
fn prefix_broadcasting_is_accepted_and_other_mismatches_are_not() {
    use crate::infer::broadcast;
    assert_eq!(broadcast(&[], &[2, 3]), Some(vec![2, 3]));
    assert_eq!(broadcast(&[2], &[2, 3]), Some(vec![2, 3]));
    assert_eq!(broadcast(&[2, 3], &[2]), Some(vec![2, 3]));
    assert_eq!(broadcast(&[3], &[2, 3]), None);
}

#[test]
fn a_param_read_inside_a_region_is_reported() {
    let mut module = Module::new();
    let list = crate::testmodels::vec_list(&mut module, 2);
    let mut b = FunctionBuilder::new(&module, "f");
    let xs = b.input(Type::Data(list));
    let w = b.param("W", &[2]);
    let slot = match b.function().op(w) {
        Some(Op::Param(p)) => *p,
        _ => unreachable!("a param op"),
    };
    let r = b.fold(list, xs, Type::tensor(&[2]), |b, ctor, args| match ctor {
        0 => b.zeros(Type::tensor(&[2])),
        _ => b.add(args[0], args[1]),
    });
    let mut f = b.finish(r);
    // Move a read of the slot into the `cons` region by hand.
    let Some(Op::Fold(fold)) = f.op(r).cloned() else {
        unreachable!("a fold")
    };
    let inner = f.values.push(ValueDef::Op(Op::Param(slot)));
    f.types.insert(inner, Type::tensor(&[2]));
    f.blocks[fold.cases[1]].insts.insert(0, inner);
    let errors = check_rejects(
        &module,
        &f,
        "parameters and inputs belong in the entry block",
    );
    assert_eq!(errors[0].location, Location::Value(inner));
}

#[test]
fn a_fold_over_a_sequence_needs_a_list_of_its_elements() {
    use cdlc_runtime::value::DataType;
    let mut module = Module::new();
    let DataType::Data(l2) = DataType::list(DataType::Tensor(vec![2])) else {
        unreachable!("a list is a data type")
    };
    let DataType::Data(l3) = DataType::list(DataType::Tensor(vec![3])) else {
        unreachable!("a list is a data type")
    };
    let list2 = module.add_data(l2);
    let list3 = module.add_data(l3);
    let mut b = FunctionBuilder::new(&module, "f");
    let s0 = b.input(Type::tensor(&[2]));
    let xs = b.unfold_take(s0, 3, |b, s| {
        let t = b.tanh(s);
        b.tuple(vec![t, t])
    });
    let r = b.fold(list2, xs, Type::tensor(&[2]), |b, ctor, args| match ctor {
        0 => b.zeros(Type::tensor(&[2])),
        _ => b.add(args[0], args[1]),
    });
    let mut f = b.finish(r);
    assert!(verify_function(&module, &f).is_ok());
    // The same fold with an algebra for lists of `R[3]`.
    let ValueDef::Op(Op::Fold(fold)) = &mut f.values[r] else {
        unreachable!("the result is the fold")
    };
    fold.data = list3;
    let errors = check_rejects(&module, &f, "fold input");
    assert_eq!(errors[0].location, Location::Value(r));
}
