//! The hoisting pass on every example: the module after the pass computes
//! the same outputs as before it, in f64, on each example's data; it
//! verifies and prints and reads back; and the examples whose folds have
//! element-only work are exactly those hoisted.

use crate::{cdl_files, example_case, examples_dir};
use cdlc_ir::Op;
use cdlc_runtime::value::Value;

/// Largest relative difference allowed between the two modules' outputs.
const TOLERANCE: f64 = 1e-12;

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Tensor(t) => t.data.clone(),
        Value::Tuple(vs) => vs.iter().flat_map(flat).collect(),
        other => other
            .as_list()
            .map(|xs| xs.iter().flat_map(|x| flat(x)).collect())
            .unwrap_or_default(),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// How many ops of `func` satisfy `pred`, in every block.
fn count_ops(f: &cdlc_ir::Function, pred: impl Fn(&Op) -> bool) -> usize {
    f.values
        .keys()
        .filter(|&v| f.op(v).is_some_and(&pred))
        .count()
}

#[test]
fn hoisted_examples_compute_the_same_outputs() {
    let mut hoisted = Vec::new();
    for path in cdl_files(&examples_dir()) {
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let (p, params, batch) = example_case(&name, 8);
        let mut module = p.inst.module.clone();
        let n = cdlc_ir::passes::hoist::hoist_function(&mut module, p.inst.func);
        let f = &module.functions[p.inst.func];
        assert_eq!(count_ops(f, |op| matches!(op, Op::Map(_))), n, "{name}");
        if n == 0 {
            let before = cdlc_ir::print::print_module(&p.inst.module);
            assert_eq!(cdlc_ir::print::print_module(&module), before, "{name}");
            continue;
        }
        hoisted.push(name.clone());
        cdlc_ir::verify::verify(&module).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let text = cdlc_ir::print::print_module(&module);
        let read = cdlc_ir::parse::module(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            cdlc_ir::print::print_module(&read),
            text,
            "{name}: round trip"
        );
        for e in &batch {
            let want = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, &params, &e.x)
                .expect("the interpreter runs");
            let got = cdlc_ir::interp::forward(&module, p.inst.func, &params, &e.x)
                .expect("the hoisted module runs");
            let (a, b) = (flat(&got), flat(&want));
            assert_eq!(a.len(), b.len(), "{name}: output sizes differ");
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| rel(*x, *y))
                .fold(0.0, f64::max);
            assert!(worst <= TOLERANCE, "{name}: outputs differ by {worst:e}");
        }
    }
    // The folds of these examples have element-only work (an input
    // projection or a leaf embedding); the others have no fold over an
    // input structure (`hylo_parity` folds the tree `halves` builds from
    // its list, which the pass leaves alone).
    assert_eq!(hoisted, ["gru_parity", "rnn_parity", "tree_sum"]);
}
