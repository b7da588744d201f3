//! Straight-line training steps against the executor: the same kernel
//! compiled twice, one with straight-line steps and one without, trained
//! side by side for several steps on batches of two shapes in turn. The
//! losses, counts of correct examples, gradients and updated parameters
//! must be equal to the bit in f64 and f32: both run the same product and
//! elementwise kernels on the same numbers in the same order.
//!
//! Cases: W3's model (`bench/w3_tiny_rnn.cdl`), every shipped example
//! (those whose plan or step is not small stay on the executor, and then
//! the comparison is trivially equal, so the test names the examples that
//! must compile), and generated Elman and gated folds with random sizes
//! (vector tails of every length) on lists of random lengths; each also
//! with its folds' element-only work hoisted into a `map`, whose steps
//! must compile too.

use std::path::Path;

use cdlc::training::{Prepared, init_params, prepare, prepare_hoisted};
use cdlc_jit::{Dtype, Elem, Options, TrainKernel};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::{check_clean, train_cases};

/// Steps run on each kernel (the first on each shape runs on the executor).
const STEPS: usize = 4;
/// The learning rate of the updates between steps.
const LR: f64 = 0.05;

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// How the straight-line kernel of a comparison runs its steps.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// The plan's looped step for every shape.
    Looped,
    /// A step unrolled over its shape from a shape's second sighting.
    Unrolled,
}

/// What the straight-line kernel of a comparison ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ran {
    /// Batch shapes the looped step ran.
    looped_shapes: usize,
    /// Looped functions compiled (one per kernel at most).
    looped_fns: usize,
    /// Batch shapes with an unrolled step.
    unrolled: usize,
}

/// Trains two copies of `p`'s kernel, straight-line and executor, on
/// `batches` in turn, in both types and both modes; returns whether the
/// straight-line kernel ran its looped step and compiled an unrolled one
/// (in both types).
#[track_caller]
fn check_straight(name: &str, p: &Prepared, params: &[Tensor], batches: &[Vec<Example>]) -> bool {
    let looped = check_mode(name, p, params, batches, Mode::Looped);
    let unrolled = check_mode(name, p, params, batches, Mode::Unrolled);
    looped.looped_shapes > 0 && unrolled.unrolled > 0
}

/// `check_straight` in one mode; what ran (the same in both types).
#[track_caller]
fn check_mode(
    name: &str,
    p: &Prepared,
    params: &[Tensor],
    batches: &[Vec<Example>],
    mode: Mode,
) -> Ran {
    let flat: Vec<f64> = params.iter().flat_map(|t| t.data.clone()).collect();
    let f64_ = compare::<f64>(name, p, &flat, batches, Dtype::F64, mode);
    let f32_ = compare::<f32>(name, p, &flat, batches, Dtype::F32, mode);
    assert_eq!(
        f64_, f32_,
        "{name} {mode:?}: ran differently in the two types"
    );
    assert!(f64_.looped_fns <= 1, "{name}: {f64_:?}");
    f64_
}

#[track_caller]
fn compare<T: Elem>(
    name: &str,
    p: &Prepared,
    init: &[f64],
    batches: &[Vec<Example>],
    dtype: Dtype,
    mode: Mode,
) -> Ran {
    let opts = Options {
        dtype,
        batch: batches[0].len(),
    };
    let compile = || {
        cdlc_jit::compile_train(&p.inst.module, p.train, &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let (mut straight, mut exec): (TrainKernel, TrainKernel) = (compile(), compile());
    straight.set_straight(true);
    straight.set_straight_unroll(match mode {
        Mode::Looped => None,
        Mode::Unrolled => Some(2),
    });
    exec.set_straight(false);
    let prepared: Vec<_> = batches
        .iter()
        .map(|b| {
            let x = straight.prepare(b).expect("the batch fits");
            let y = exec.prepare(b).expect("the batch fits");
            (x, y)
        })
        .collect();
    let mut ps: Vec<T> = init.iter().map(|&x| T::from_f64(x)).collect();
    let mut qs = ps.clone();
    let (mut g, mut h) = (vec![T::ZERO; ps.len()], vec![T::ZERO; ps.len()]);
    for step in 0..STEPS * batches.len() {
        let (x, y) = &prepared[step % batches.len()];
        let a = straight.step(&ps, x, &mut g).expect("the step runs");
        let b = exec.step(&qs, y, &mut h).expect("the step runs");
        let at = format!("{name} {dtype:?} {mode:?} step {step}");
        assert_eq!(
            a.loss.to_bits(),
            b.loss.to_bits(),
            "{at}: loss {a:?} vs {b:?}"
        );
        assert_eq!(a.correct, b.correct, "{at}: correct");
        assert_eq!(
            straight.multiply_adds::<T>(),
            exec.multiply_adds::<T>(),
            "{at}: multiply-adds"
        );
        for (i, (u, v)) in g.iter().zip(&h).enumerate() {
            assert!(
                u.to_f64().to_bits() == v.to_f64().to_bits(),
                "{at}: gradient {i}: {u:?} vs {v:?}"
            );
        }
        for ((p, q), (u, v)) in ps.iter_mut().zip(&mut qs).zip(g.iter().zip(&h)) {
            *p -= T::from_f64(LR) * *u;
            *q -= T::from_f64(LR) * *v;
        }
    }
    assert_eq!(
        (exec.straight_shapes(), exec.straight_looped()),
        (0, (0, 0)),
        "{name}: the executor compiled a step"
    );
    let (looped_shapes, looped_fns) = straight.straight_looped();
    Ran {
        looped_shapes,
        looped_fns,
        unrolled: straight.straight_shapes(),
    }
}

/// A list of `len` random vectors of `d` numbers with a random class below
/// `classes`.
fn list_example(rng: &mut Rng, len: usize, d: usize, classes: usize) -> Example {
    let items = (0..len)
        .map(|_| Value::Tensor(Tensor::new(vec![d], (0..d).map(|_| rng.unit()).collect())))
        .collect();
    Example {
        x: Value::list(items),
        y: Target::Class(rng.below(classes)),
    }
}

fn prepared(c: &cdlc::Compilation) -> Prepared {
    let setup = &c.checked.trains[0];
    prepare(c, setup.model, setup.loss).expect("the model prepares")
}

/// The first train block's model with its folds' element-only work
/// hoisted; asserts that the training function runs a `map_backward`.
#[track_caller]
fn hoisted(name: &str, c: &cdlc::Compilation) -> Prepared {
    let setup = &c.checked.trains[0];
    let p = prepare_hoisted(c, setup.model, setup.loss).expect("the model prepares");
    let f = &p.inst.module.functions[p.train];
    let maps = f
        .values
        .keys()
        .filter(|&v| matches!(f.op(v), Some(cdlc_ir::Op::MapBackward(_))))
        .count();
    assert!(maps > 0, "{name}: nothing was hoisted");
    p
}

#[test]
fn w3_straight_steps_equal_the_executor() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/w3_tiny_rnn.cdl");
    let c = check_clean(&path);
    let p = prepared(&c);
    let mut rng = Rng(3);
    let one = |rng: &mut Rng, len| vec![list_example(rng, len, 4, 10)];
    let batches = [one(&mut rng, 20), one(&mut rng, 7)];
    let params = init_params(&p.inst, 3);
    assert!(
        check_straight("w3", &p, &params, &batches),
        "W3's step should compile"
    );
    let h = hoisted("w3", &c);
    assert!(
        check_straight("w3 hoisted", &h, &params, &batches),
        "W3's hoisted step should compile"
    );
}

#[test]
fn hoisted_examples_straight_steps_equal_the_executor() {
    // The list examples whose folds have element-only work: each one's
    // hoisted step is small and must compile (`tree_sum`'s step stays on
    // the executor, hoisted or not).
    for name in ["rnn_parity", "gru_parity"] {
        let (_, params, batch) = crate::example_case(name, 4);
        let c = check_clean(&crate::examples_dir().join(format!("{name}.cdl")));
        let p = hoisted(name, &c);
        let (a, b) = batch.split_at(batch.len() / 2);
        let batches = [batch.clone(), a.to_vec(), b.to_vec()];
        assert!(
            check_straight(&format!("{name} hoisted"), &p, &params, &batches),
            "{name}'s hoisted step should compile"
        );
    }
}

#[test]
fn examples_straight_steps_equal_the_executor() {
    // Small steps whose plans have only supported instructions: these must
    // compile (the others are compared too, on the executor both times).
    const MUST: [&str; 5] = ["mlp", "rnn_parity", "gru_parity", "deepsets", "ring_conv"];
    let (mut compiled, mut gathered) = (Vec::new(), Vec::new());
    for case in train_cases(4) {
        let (a, b) = case.batch.split_at(case.batch.len() / 2);
        let batches = [case.batch.clone(), a.to_vec(), b.to_vec()];
        let batches: Vec<Vec<Example>> = batches.into_iter().filter(|b| !b.is_empty()).collect();
        // A plan with a direct convolution (`ring_conv`'s) compiles it as
        // a call of the runtime's convolution kernel; its gathered plan
        // (no convolution) must compile too.
        let check = || check_straight(&case.name, &case.prepared, &case.params, &batches);
        if check() {
            compiled.push(case.name.clone());
        }
        if case.name == "ring_conv" {
            let p = &case.prepared;
            let plan = cdlc_jit::lower_plan(&p.inst.module, p.train, true).expect("it lowers");
            assert!(
                plan.to_string().contains("conv_weight_grad"),
                "ring_conv's plan should hold its convolutions:\n{plan}"
            );
        }
        if cdlc_jit::without_conv(check) {
            gathered.push(case.name);
        }
    }
    for name in MUST {
        assert!(
            compiled.iter().any(|c| c == name),
            "{name} should run straight-line steps; compiled: {compiled:?}"
        );
        assert!(
            gathered.iter().any(|c| c == name),
            "{name} without convolutions should run straight-line steps: {gathered:?}"
        );
    }
}

#[test]
fn generated_folds_straight_steps_equal_the_executor() {
    let mut rng = Rng(15);
    for case in 0..6 {
        let (d, h, classes) = (1 + rng.below(9), 1 + rng.below(19), 2 + rng.below(7));
        let cell = if case % 2 == 0 { "elman" } else { "gru" };
        let src = format!(
            "import std.layers\n\n\
             model g(xs: List(R[{d}])) -> R[{classes}] {{\n  \
             dense[{h}, {classes}](fold {cell}[{d}, {h}] (xs))\n}}\n\n\
             train g {{\n  data = jsonl(\"g.jsonl\")\n  loss = cross_entropy\n  \
             optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 2\n  split = 1.0\n}}\n"
        );
        let c = cdlc::compile("generated.cdl", &src);
        assert!(c.diagnostics.is_empty(), "case {case}: {src}");
        let p = prepared(&c);
        let batch = |rows: usize, rng: &mut Rng| -> Vec<Example> {
            (0..rows)
                .map(|_| {
                    let len = 1 + rng.below(12);
                    list_example(rng, len, d, classes)
                })
                .collect()
        };
        let batches = [
            batch(1 + rng.below(4), &mut rng),
            batch(1 + rng.below(4), &mut rng),
        ];
        let params = init_params(&p.inst, case as u64);
        let name = format!("generated {cell}[{d}, {h}] -> {classes}");
        assert!(
            check_straight(&name, &p, &params, &batches),
            "{name} should compile"
        );
        let h = hoisted(&name, &c);
        assert!(
            check_straight(&format!("{name} hoisted"), &h, &params, &batches),
            "{name} hoisted should compile"
        );
    }
}

/// Batches `0..n` of lists: batch `i` has `1 + i % 8` rows, each a list of
/// a random length in `lens`.
fn list_batches(
    rng: &mut Rng,
    n: usize,
    lens: std::ops::RangeInclusive<usize>,
    d: usize,
    classes: usize,
) -> Vec<Vec<Example>> {
    (0..n)
        .map(|i| {
            (0..1 + i % 8)
                .map(|_| {
                    let len = lens.start() + rng.below(lens.end() - lens.start() + 1);
                    list_example(rng, len, d, classes)
                })
                .collect()
        })
        .collect()
}

/// A random binary tree of `leaves` leaves of `d` numbers.
fn random_tree(rng: &mut Rng, leaves: usize, d: usize) -> Value {
    if leaves == 1 {
        let x = (0..d).map(|_| rng.unit()).collect();
        return Value::leaf(Value::Tensor(Tensor::new(vec![d], x)));
    }
    let left = 1 + rng.below(leaves - 1);
    let l = random_tree(rng, left, d);
    Value::node(l, random_tree(rng, leaves - left, d))
}

/// Batches `0..n` of trees: batch `i` has `1 + i % 8` rows, each a tree of
/// 1 to 9 leaves of random shape.
fn tree_batches(rng: &mut Rng, n: usize, d: usize, classes: usize) -> Vec<Vec<Example>> {
    (0..n)
        .map(|i| {
            (0..1 + i % 8)
                .map(|_| {
                    let leaves = 1 + rng.below(9);
                    Example {
                        x: random_tree(rng, leaves, d),
                        y: Target::Class(rng.below(classes)),
                    }
                })
                .collect()
        })
        .collect()
}

/// Trains `src`'s first train block in the looped mode on `batches` (of
/// distinct shapes) against the executor, and checks that one compiled
/// function ran every shape (a shape larger than any before runs its first
/// step on the executor, which sizes the buffers).
#[track_caller]
fn check_many_shapes(name: &str, src: &str, batches: &[Vec<Example>]) {
    let c = cdlc::compile("generated.cdl", src);
    assert!(c.diagnostics.is_empty(), "{name}: {:?}", c.diagnostics);
    let p = prepared(&c);
    let params = init_params(&p.inst, 7);
    let ran = check_mode(name, &p, &params, batches, Mode::Looped);
    assert_eq!(
        ran,
        Ran {
            looped_shapes: batches.len(),
            looped_fns: 1,
            unrolled: 0,
        },
        "{name}: one looped function should serve all {} shapes",
        batches.len()
    );
}

#[test]
fn looped_steps_serve_lists_of_many_lengths() {
    let mut rng = Rng(40);
    for (cell, d, h) in [("gru", 3, 8), ("elman", 5, 6)] {
        let src = format!(
            "import std.layers\n\n\
             model g(xs: List(R[{d}])) -> R[4] {{\n  \
             dense[{h}, 4](fold {cell}[{d}, {h}] (xs))\n}}\n\n\
             train g {{\n  data = jsonl(\"g.jsonl\")\n  loss = cross_entropy\n  \
             optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 8\n  split = 1.0\n}}\n"
        );
        let batches = list_batches(&mut rng, 10, 5..=40, d, 4);
        check_many_shapes(&format!("{cell} over lists of 5-40"), &src, &batches);
    }
}

#[test]
fn looped_steps_serve_trees_of_many_shapes() {
    let mut rng = Rng(41);
    let treenn = "import std.layers\n\n\
        model t(x: Tree(R[3])) -> R[4] {\n  dense[8, 4](fold treenn[3, 8] (x))\n}\n\n\
        train t {\n  data = jsonl(\"t.jsonl\")\n  loss = cross_entropy\n  \
        optim = sgd(lr = 0.01)\n  epochs = 1\n  batch = 8\n  split = 1.0\n}\n";
    check_many_shapes("treenn", treenn, &tree_batches(&mut rng, 10, 3, 4));
    // W7's Tree-LSTM (a pair carrier, a gate per child), smaller.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/w7_treelstm.cdl");
    let w7 = std::fs::read_to_string(path).expect("W7 is shipped");
    let small = w7
        .replace("Tree(R[16])) -> R[5]", "Tree(R[3])) -> R[4]")
        .replace("treelstm[16, 64]", "treelstm[3, 6]")
        .replace("dense[64, 5]", "dense[6, 4]");
    assert_ne!(small, w7, "W7's sizes moved");
    check_many_shapes("tree-lstm", &small, &tree_batches(&mut rng, 10, 3, 4));
}
