//! Hoisting's dual on unfolds (`cdlc_ir::passes::hoist::unfold`): on every
//! example and test case with an unfold, the module after the pass
//! verifies, reads back, and computes the same outputs in f64 as before
//! it; its training function the same loss and gradients, which also pass
//! a finite-difference check; and the JIT agrees with the interpreter on
//! the hoisted functions in f64 and f32. The unfolds rewritten are exactly
//! those whose output head is a product of values the step keeps.

use crate::grad::{
    LIST_SHAPES, Roses, grad_case, list_examples, lists_of_lists, lists_of_pairs, rose_examples,
    vector_trees,
};
use crate::jit::{flat, forward_agrees, training_agrees};
use cdlc::training::Prepared;
use cdlc_ir::Op;
use cdlc_runtime::value::{Example, Tensor};

/// Largest relative difference allowed between the two modules' outputs.
const TOLERANCE: f64 = 1e-12;

/// Largest relative difference allowed between the two training
/// functions' losses and gradients (the output head's weight gradient is
/// summed over all steps at once instead of step by step).
const GRAD_TOLERANCE: f64 = 1e-10;

/// The largest relative difference between two equally long vectors.
#[track_caller]
fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max)
}

/// `p` with its forward function's unfolds hoisted and its training
/// function derived again; `None` when no unfold was rewritten (the module
/// is then checked to be unchanged).
#[track_caller]
pub(crate) fn hoisted(name: &str, p: &Prepared) -> Option<Prepared> {
    let mut h = p.clone();
    let n = cdlc_ir::passes::hoist::unfold::hoist_function(&mut h.inst.module, h.inst.func);
    if n == 0 {
        let before = cdlc_ir::print::print_module(&p.inst.module);
        assert_eq!(
            cdlc_ir::print::print_module(&h.inst.module),
            before,
            "{name}"
        );
        return None;
    }
    let f = &h.inst.module.functions[h.inst.func];
    let unfolds = |f: &cdlc_ir::Function| {
        f.values
            .keys()
            .filter(|&v| matches!(f.op(v), Some(Op::Unfold(_))))
            .count()
    };
    assert_eq!(
        unfolds(f),
        unfolds(&p.inst.module.functions[p.inst.func]) + n,
        "{name}: one output map per unfold rewritten"
    );
    cdlc_ir::verify::verify(&h.inst.module).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let text = cdlc_ir::print::print_module(&h.inst.module);
    let read = cdlc_ir::parse::module(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        cdlc_ir::print::print_module(&read),
        text,
        "{name}: round trip"
    );
    h.train = cdlc_ir::autodiff::differentiate(&mut h.inst.module, h.inst.func, p.loss)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Some(h)
}

/// Checks the hoisted form of `p` against `p` on `batch` (outputs, loss,
/// gradients, finite differences) and the JIT against the interpreter on
/// it. Returns whether any unfold was rewritten.
#[track_caller]
pub(crate) fn check(name: &str, p: &Prepared, params: &[Tensor], batch: &[Example]) -> bool {
    let Some(h) = hoisted(name, p) else {
        return false;
    };
    for e in batch {
        let want = cdlc_ir::interp::forward(&p.inst.module, p.inst.func, params, &e.x)
            .expect("the interpreter runs");
        let got = cdlc_ir::interp::forward(&h.inst.module, h.inst.func, params, &e.x)
            .expect("the hoisted module runs");
        let w = worst(&flat(&got), &flat(&want));
        assert!(w <= TOLERANCE, "{name}: outputs differ by {w:e}");
    }
    let (l0, g0) = cdlc_ir::interp::loss_and_grad(&p.inst.module, p.train, params, batch)
        .expect("the interpreter runs");
    let (l1, g1) = cdlc_ir::interp::loss_and_grad(&h.inst.module, h.train, params, batch)
        .expect("the hoisted training function runs");
    let w = worst(&[l1], &[l0]);
    assert!(w <= GRAD_TOLERANCE, "{name}: loss {l1} against {l0}");
    for (a, b) in g1.iter().zip(&g0) {
        let w = worst(&a.data, &b.data);
        assert!(w <= GRAD_TOLERANCE, "{name}: gradients differ by {w:e}");
    }
    let report = cdlc_ir::gradcheck::gradcheck(&h.inst.module, h.train, params, batch, 3)
        .expect("the hoisted training function runs");
    assert!(report.passed(), "{name}: {report:#?}");
    training_agrees(name, &h, params, batch);
    forward_agrees(name, &h, params, batch);
    true
}

#[test]
fn hoisted_unfold_examples_agree() {
    let mut rewritten = Vec::new();
    for name in ["mealy_parity", "stream_count"] {
        let (p, params, batch) = crate::example_case(name, 6);
        if check(name, &p, &params, &batch) {
            rewritten.push(name);
        }
    }
    // Both output heads (`V @ s2`, `C @ s`) are products of the state.
    assert_eq!(rewritten, ["mealy_parity", "stream_count"]);
}

#[test]
fn hoisted_unfold_test_cases_agree() {
    let mut t = Roses::new(2);
    let trees = vec![t.mixed(), t.wide(), t.leaf(), t.deep(3)];
    let pair_trees = vec![t.mixed(), t.wide(), t.leaf(), t.deep(3)];
    let cases: Vec<(&str, &str, Vec<Example>)> = vec![
        ("unfold_fold", "encode", list_examples(&[3, 0, 5])),
        ("unfold_fold", "chained", list_examples(&[3, 0, 5])),
        ("halves", "halved", list_examples(&[1, 3, 2, 6])),
        ("region_lists", "mealy_lists", lists_of_lists(LIST_SHAPES)),
        ("region_streams", "stream_leaves", vector_trees()),
        (
            "region_streams",
            "stream_list",
            list_examples(&[3, 0, 1, 4]),
        ),
        (
            "region_pairs",
            "lists_of_pairs",
            lists_of_pairs(&[&[3, 1], &[0, 2], &[], &[4]]),
        ),
        (
            "region_pairs",
            "pair_children",
            rose_examples(&grad_case("region_pairs", "pair_children").0, pair_trees),
        ),
        (
            "rose",
            "mealy_tree",
            rose_examples(&grad_case("rose", "mealy_tree").0, trees),
        ),
    ];
    let mut rewritten = Vec::new();
    for (file, model, batch) in cases {
        let (p, params) = grad_case(file, model);
        if check(model, &p, &params, &batch) {
            rewritten.push(model);
        }
    }
    for (model, batch) in crate::jit_pair_unfold::cases() {
        let (p, params) = grad_case("pair_unfolds", model);
        if check(model, &p, &params, &batch) {
            rewritten.push(model);
        }
    }
    // `region_pairs`' machine emits its state `s2` itself: nothing to
    // hoist. Every other machine and stream has a product output head
    // (inside regions too, over pairs, and nested in tuples).
    let expected = [
        "encode",
        "chained",
        "halved",
        "mealy_lists",
        "stream_leaves",
        "stream_list",
        "mealy_tree",
        "stream_pairs",
        "mealy_pairs",
        "mealy_nested",
        "chained_pairs",
        "stream_mealy",
        "halved_pairs",
        "twice_pairs",
        "list_stream_pairs",
        "tree_stream_pairs",
        "rose_pairs",
        "lists_pair_out",
        "lists_nest_out",
        "lists_halve_pairs",
    ];
    assert_eq!(rewritten, expected);
}

/// The output map of a top-level unfold reads only parameters, so the JIT
/// runs its steps (and their reverse) all at once: one product over every
/// step of every example. The machine's own unfold still runs step by
/// step.
#[test]
fn the_output_map_runs_all_steps_at_once() {
    for name in ["mealy_parity", "stream_count"] {
        let (p, _, _) = crate::example_case(name, 2);
        let h = hoisted(name, &p).expect("the example's output head is hoisted");
        for (func, train) in [(h.inst.func, false), (h.train, true)] {
            let plan = cdlc_jit::lower_plan(&h.inst.module, func, train)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Err(e) = plan.verify() {
                panic!("{name}: {e}\n{plan}");
            }
            let text = plan.to_string();
            let flat = |op: &str| {
                text.lines()
                    .filter(|l| l.contains(op) && l.contains("all steps at once"))
                    .count()
            };
            assert_eq!(flat("] unfold u1:"), 1, "{name}: {text}");
            assert_eq!(flat("] unfold u0:"), 0, "{name}: {text}");
            assert_eq!(
                flat("unfold_backward u1:"),
                usize::from(train),
                "{name}: {text}"
            );
        }
    }
}

/// Model `m` of `src`, prepared for training.
fn compiled(src: &str) -> Prepared {
    let c = cdlc::compile("m.cdl", src);
    assert!(
        c.diagnostics.is_empty(),
        "{}",
        crate::render_human(&c.diagnostics, &c.sources, false)
    );
    let model = cdlc::entry_model(&c, Some("m")).expect("the model");
    cdlc::training::prepare(&c, model, cdlc::training::loss_for(&c, model)).expect("it prepares")
}

/// A machine whose step is `STEP`, run over lists of `R[2]` with a state
/// `R[3]` and outputs `R[3]`.
fn machine(step: &str) -> String {
    format!(
        "coalgebra mm : R[3] -> Mealy(R[2], R[3]) {{\n  param W: R[3, 3] = orthogonal\n  \
         param U: R[3, 2] = glorot\n  param V: R[3, 3] = glorot\n  step(s, x) => {step}\n}}\n\n\
         model m(xs: List(R[2])) -> List(R[3]) {{\n  param s0: R[3] = zeros\n  \
         unfold mm from s0 over xs\n}}\n"
    )
}

/// Where the dual does not apply, the module comes out unchanged: the
/// output feeds the next state, the output is the state itself, or the
/// output head is elementwise only (hoisting it would copy the state for
/// nothing).
#[test]
fn unfolds_whose_output_is_kept_or_cheap_are_left_alone() {
    let steps = [
        (
            "the output feeds the next state",
            "let y = V @ s in (y, tanh(W @ s + U @ x + y))",
        ),
        (
            "the state is emitted",
            "let s2 = tanh(W @ s + U @ x) in (s2, s2)",
        ),
        (
            "an elementwise head",
            "let s2 = tanh(W @ s + U @ x) in (sigmoid(s2), s2)",
        ),
    ];
    for (what, step) in steps {
        let p = compiled(&machine(step));
        assert!(hoisted(what, &p).is_none(), "{what}");
    }
    // The same machine with a product head is rewritten.
    let p = compiled(&machine(
        "let s2 = tanh(W @ s + U @ x) in (V @ sigmoid(s2), s2)",
    ));
    assert!(hoisted("a product head", &p).is_some());
}
