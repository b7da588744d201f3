//! A fold whose constructor holds a tuple of a tensor and a child beside
//! a plain field (`lab(R[2], R[2] * X)`): the tuple's tensor is gathered
//! with the plain field's in field order and its child with the recursive
//! fields'. The prepared batch and the plan pass as built; a group
//! missing the tuple's rows is P014 in the batch checker, and a region
//! missing the tuple's view is P008 in the plan verifier.

use std::sync::Arc;

use cdlc_ir::builder::FunctionBuilder;
use cdlc_ir::{FuncId, LossKind, Module, Type};
use cdlc_runtime::value::{CtorDecl, DataDecl, DataType, Target, Tensor, Value};

use super::super::check;
use crate::batch::{Batch, prepare};
use crate::plan::{Instr, Plan};

/// `tip(R[2]) | lab(R[2], R[2] * X)` folded by
/// `tip(a) => tanh(E a)`, `lab(a, (m, c)) => tanh(E a + L m + V c)`,
/// differentiated under cross-entropy.
fn lab_module() -> (Module, FuncId) {
    let v2 = || DataType::Tensor(vec![2]);
    let decl = Arc::new(DataDecl {
        name: "Lab".into(),
        ctors: vec![
            CtorDecl {
                name: "tip".into(),
                fields: vec![v2()],
            },
            CtorDecl {
                name: "lab".into(),
                fields: vec![v2(), DataType::Tuple(vec![v2(), DataType::Rec(0)])],
            },
        ],
    });
    let mut module = Module::new();
    let lab = module.add_data(decl);
    let mut b = FunctionBuilder::new(&module, "labs");
    let t = b.input(Type::Data(lab));
    let e = b.param("E", &[3, 2]);
    let l = b.param("L", &[3, 2]);
    let v = b.param("V", &[3, 3]);
    let r = b.fold(lab, t, Type::tensor(&[3]), |b, ctor, args| {
        let y = b.matmul(e, args[0]);
        if ctor == 1 {
            let (m, c) = (b.get(args[1], 0), b.get(args[1], 1));
            let z = b.matmul(l, m);
            let w = b.matmul(v, c);
            let y = b.add(y, z);
            let y = b.add(y, w);
            return b.tanh(y);
        }
        b.tanh(y)
    });
    let f = b.finish(r);
    let forward = module.add_function(f);
    let train = cdlc_ir::autodiff::differentiate(&mut module, forward, LossKind::CrossEntropy)
        .expect("the lab fold differentiates");
    (module, train)
}

fn vec2(x: f64) -> Value {
    Value::Tensor(Tensor::new(vec![2], vec![x, x + 0.5]))
}

/// A chain of `n` labs over a tip; node `k` from the top holds `a = 10k`
/// and the label `10k + 5`.
fn chain(n: usize) -> Value {
    let mut v = Value::Node {
        ctor: 0,
        fields: vec![vec2(-1.0)],
    };
    for k in (0..n).rev() {
        let a = 10.0 * k as f64;
        v = Value::Node {
            ctor: 1,
            fields: vec![vec2(a), Value::Tuple(vec![vec2(a + 5.0), v])],
        };
    }
    v
}

/// The training plan and a prepared batch of two chains.
fn labs() -> (Plan, Batch<f64>) {
    let (module, train) = lab_module();
    let plan = crate::lower::lower(&module, train, true).expect("the lab fold lowers");
    let xs = [chain(2), chain(1)];
    let ys = [Target::Class(0), Target::Class(2)];
    let xs: Vec<&Value> = xs.iter().collect();
    let ys: Vec<&Target> = ys.iter().collect();
    let batch = prepare::<f64>(&plan, &xs, Some(&ys)).expect("the batch fits");
    (plan, batch)
}

#[test]
fn a_tuples_tensor_is_gathered_after_the_plain_field_before_it() {
    let (plan, batch) = labs();
    check(&plan, &batch).expect("as prepared");
    let fd = &batch.folds[0];
    // The lowest labs: the second of the first chain (`a = 10`) and the
    // only one of the second (`a = 0`), each row `a` then its label.
    let g = fd.levels[1]
        .iter()
        .find(|g| g.ctor == 1)
        .expect("labs above the tips");
    assert_eq!(g.fields.len(), 2, "the plain field and the tuple's tensor");
    let mut rows: Vec<(f64, f64)> = (0..g.len)
        .map(|i| (g.fields[0][2 * i], g.fields[1][2 * i]))
        .collect();
    rows.sort_by(|x, y| x.0.total_cmp(&y.0));
    assert_eq!(rows, vec![(0.0, 5.0), (10.0, 15.0)]);
    assert_eq!(g.children.len(), g.len, "one child per lab, from its tuple");
}

#[test]
fn a_lab_group_missing_its_tuples_rows_is_p014() {
    let (plan, mut batch) = labs();
    let g = batch.folds[0]
        .levels
        .iter_mut()
        .flatten()
        .find(|g| g.ctor == 1)
        .expect("a group of labs");
    g.fields.pop();
    let e = check(&plan, &batch).expect_err("a tensor short");
    assert_eq!(e.code(), "P014", "{e}");
    assert!(e.to_string().contains("gathered fields"), "{e}");
}

#[test]
fn a_lab_region_missing_its_tuples_view_is_p008() {
    let (mut plan, _) = labs();
    crate::plan::verify::verify(&plan).expect("the plan verifies");
    let mut cut = 0;
    for instr in &mut plan.code {
        if let Instr::Fold(f) = instr {
            assert_eq!(f.cases[1].field_views.len(), 2, "a and the label");
            f.cases[1].field_views.pop();
            cut += 1;
        }
    }
    assert!(cut > 0, "the plan has the fold");
    let e = crate::plan::verify::verify(&plan).expect_err("a view short");
    assert_eq!(e.code(), "P008", "{e}");
    assert!(e.to_string().contains("plain fields"), "{e}");
}
