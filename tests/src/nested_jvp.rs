//! Forward derivatives through nested fields (`Tree(X)`, `List(R[2] * X)`,
//! `Opt(X)`, `List(Tree(X))`, `X * X`): on every model of
//! `tests/cases/grad/nested_data.cdl` and on `examples/labelled_trees.cdl`,
//! against central finite differences in f64 along seeded directions, and
//! against the reverse derivative.
//!
//! The reverse derivative gives gradients with respect to parameters, and
//! the forward one derivatives along the input. They meet because in
//! these models every input tensor is read only by a product `M @ a` with
//! a parameter matrix: scaling the input by `s` is scaling those matrices
//! by `s`. So the derivative along the input itself, `J x`, paired with an
//! output weight `w`, equals the sum over those matrices of `⟨M, ∂⟨w, f⟩/∂M⟩`,
//! which the reverse derivative computes (under `mse` against the target
//! `f(x) − (n/2) w`, whose gradient with respect to the output is `w`).

use cdlc_ir::rng::Rng;
use cdlc_ir::{FuncId, LossKind, Module, interp};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::ir_cases::jvp::{Tangent, compare, direction, jvp_inputs};

/// A prepared model with its forward derivative built in a copy of its
/// module.
struct Case {
    name: String,
    module: Module,
    forward: FuncId,
    jvp: FuncId,
    slots: Vec<String>,
    params: Vec<Tensor>,
}

impl Case {
    fn new(name: &str, p: &cdlc::training::Prepared, params: Vec<Tensor>) -> Case {
        let mut module = p.inst.module.clone();
        let jvp = cdlc_ir::jvp::jvp(&mut module, p.inst.func)
            .unwrap_or_else(|e| panic!("{name}: no forward derivative: {e}"));
        Case {
            name: name.to_string(),
            module,
            forward: p.inst.func,
            jvp,
            slots: p.inst.slots.iter().map(|s| s.name.clone()).collect(),
            params,
        }
    }

    /// Checks the forward derivative at `x` along a seeded direction
    /// against finite differences, and along `x` itself against the
    /// reverse derivative through the matrices `readers`, which are the
    /// only readers of the input's tensors.
    fn check(&mut self, x: &Value, seed: u64, readers: &[&str]) {
        let mut rng = Rng::new(seed);
        let t = direction(x, &mut rng);
        let m = Tangent {
            name: self.name.clone(),
            forward: self.forward,
            jvp: self.jvp,
        };
        let largest = compare(
            &self.module,
            &m,
            &self.params,
            std::slice::from_ref(x),
            std::slice::from_ref(&t),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        assert!(largest > 1e-8, "{}: the tangent is zero", self.name);
        self.against_reverse(x, &mut rng, readers);
    }

    /// `⟨w, J x⟩` from the forward derivative against
    /// `Σ ⟨M, ∂⟨w, f⟩/∂M⟩` over the matrices `readers` from the reverse.
    fn against_reverse(&mut self, x: &Value, rng: &mut Rng, readers: &[&str]) {
        let f = &self.module.functions[self.forward];
        let dual = jvp_inputs(
            &self.module,
            f,
            std::slice::from_ref(x),
            std::slice::from_ref(x),
        )
        .expect("a structure and itself have one shape");
        let out = interp::forward(&self.module, self.jvp, &self.params, &dual[0])
            .expect("the forward derivative runs");
        let Value::Tuple(parts) = &out else {
            panic!("{}: the forward derivative returns a pair", self.name);
        };
        let (Value::Tensor(y), Value::Tensor(ydot)) = (&parts[0], &parts[1]) else {
            panic!("{}: the output is a vector", self.name);
        };
        let w: Vec<f64> = y.data.iter().map(|_| rng.normal()).collect();
        let forward: f64 = w.iter().zip(&ydot.data).map(|(a, b)| a * b).sum();

        let train = cdlc_ir::autodiff::differentiate(&mut self.module, self.forward, LossKind::Mse)
            .expect("the model has a reverse derivative under mse");
        let n = y.data.len() as f64;
        let target: Vec<f64> = y
            .data
            .iter()
            .zip(&w)
            .map(|(y, w)| y - n / 2.0 * w)
            .collect();
        let example = Example {
            x: x.clone(),
            y: Target::Tensor(Tensor::new(y.shape.clone(), target)),
        };
        let (_, grads) = interp::loss_and_grad(&self.module, train, &self.params, &[example])
            .expect("the reverse derivative runs");
        let mut reverse = 0.0;
        for r in readers {
            let k = self
                .slots
                .iter()
                .position(|s| s == r)
                .unwrap_or_else(|| panic!("{}: no slot {r} among {:?}", self.name, self.slots));
            let m = &self.params[k].data;
            reverse += m
                .iter()
                .zip(&grads[k].data)
                .map(|(a, b)| a * b)
                .sum::<f64>();
        }
        let scale = forward.abs().max(reverse.abs()).max(1e-12);
        assert!(
            forward.abs() > 1e-8,
            "{}: ⟨w, J x⟩ is zero, the comparison would be vacuous",
            self.name
        );
        assert!(
            (forward - reverse).abs() / scale < 1e-9,
            "{}: ⟨w, J x⟩ = {forward} but the reverse derivative gives {reverse}",
            self.name
        );
    }
}

/// Checks a model of the case file on the structures `tests/src/nested.rs`
/// builds for it.
#[track_caller]
fn check_case(name: &str, readers: &[&str]) {
    let (p, params) = crate::grad::grad_case("nested_data", name);
    let mut case = Case::new(name, &p, params);
    for (k, x) in crate::nested::structures(name).iter().enumerate() {
        case.check(x, 40 + k as u64, readers);
    }
}

#[test]
fn children_at_the_leaves_of_a_binary_tree() {
    check_case("kid_tree", &["kid_tree_alg.E", "kid_tree_alg.U"]);
}

#[test]
fn a_list_of_labelled_subtrees() {
    check_case(
        "labelled",
        &["labelled_alg.E", "labelled_alg.U", "labelled_alg.edges.L"],
    );
}

#[test]
fn an_optional_next_link() {
    check_case("chain", &["chain_alg.U"]);
}

#[test]
fn a_list_of_trees_of_children_and_a_pair_of_children() {
    check_case("forest", &["forest_alg.E", "forest_alg.U"]);
}

#[test]
fn the_labelled_trees_example() {
    let (p, params, batch) = crate::example_case("labelled_trees", 4);
    let mut case = Case::new("label_parity", &p, params);
    for (k, ex) in batch.iter().enumerate() {
        case.check(
            &ex.x,
            60 + k as u64,
            &["labelled.E", "labelled.U", "labelled.edges.L"],
        );
    }
}
