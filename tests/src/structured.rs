//! Equivariant maps applied in a structured form (closed form, stacked
//! basis, gather) against the same maps expanded to their dense matrices:
//! equal outputs, losses and gradients in f64, on every example and on
//! generated cyclic, causal and p4 layers (whose gathers also run on the
//! JIT, against the interpreter in f64 and f32, with one gather table per
//! input channel); and p4 layers on 28×28 and
//! 64×64 images and a `cyclic` layer on 100 000 samples that train without
//! their dense maps ever being built.

use crate::{cdl_files, example_case, examples_dir};
use cdlc::training::{Prepared, loss_for};
use cdlc_ir::interp;
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// Largest relative difference between the structured and dense results
/// (both f64; they differ only in summation order).
const TOLERANCE: f64 = 1e-9;

/// The training function of `model` with every equivariant map dense.
fn prepare_dense(c: &cdlc::Compilation, model: cdlc::resolve::ItemId) -> Prepared {
    let mut inst = cdlc::instantiate::instantiate_dense(&c.program, &c.checked, &c.tyings, model)
        .expect("the model instantiates densely");
    let loss = cdlc::training::ir_loss(loss_for(c, model));
    let train = cdlc_ir::autodiff::differentiate(&mut inst.module, inst.func, loss)
        .expect("the dense model differentiates");
    Prepared { inst, train, loss }
}

/// `params` (of `p`'s slots) reshaped to the slots of `to`: a structured
/// slot holds the same numbers as the dense `[free]` one.
fn reshaped(params: &[Tensor], to: &Prepared) -> Vec<Tensor> {
    params
        .iter()
        .zip(&to.inst.slots)
        .map(|(t, s)| {
            assert_eq!(
                t.data.len(),
                s.shape.iter().product::<usize>(),
                "{}",
                s.name
            );
            Tensor::new(s.shape.clone(), t.data.clone())
        })
        .collect()
}

/// Whether any map of `p` is applied as a gather (a basis whose
/// coefficients are an activation rather than a vector).
fn has_gather(p: &Prepared) -> bool {
    p.inst
        .module
        .bases
        .iter()
        .any(|(_, b)| b.coeff_shape != [b.elements.len()])
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-6)
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Tensor(t) => t.data.clone(),
        Value::Tuple(vs) => vs.iter().flat_map(numbers).collect(),
        Value::Node { fields, .. } => fields.iter().flat_map(numbers).collect(),
    }
}

/// Compares outputs, the mean loss and every gradient of `s` (structured)
/// and `d` (dense) on `batch`, `params` being `d`'s.
#[track_caller]
fn assert_same(name: &str, s: &Prepared, d: &Prepared, params: &[Tensor], batch: &[Example]) {
    let sp = reshaped(params, s);
    for (i, e) in batch.iter().enumerate() {
        let ys = interp::forward(&s.inst.module, s.inst.func, &sp, &e.x).expect("structured runs");
        let yd = interp::forward(&d.inst.module, d.inst.func, params, &e.x).expect("dense runs");
        let (ys, yd) = (numbers(&ys), numbers(&yd));
        assert_eq!(ys.len(), yd.len());
        for (a, b) in ys.iter().zip(&yd) {
            assert!(
                rel(*a, *b) < TOLERANCE,
                "{name}: example {i}: output {a} against {b}"
            );
        }
    }
    let (ls, gs) = interp::loss_and_grad(&s.inst.module, s.train, &sp, batch).expect("structured");
    let (ld, gd) = interp::loss_and_grad(&d.inst.module, d.train, params, batch).expect("dense");
    assert!(rel(ls, ld) < TOLERANCE, "{name}: loss {ls} against {ld}");
    for ((a, b), slot) in gs.iter().zip(&gd).zip(&d.inst.slots) {
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!(
                rel(*x, *y) < TOLERANCE,
                "{name}: gradient of {}: {x} against {y}",
                slot.name
            );
        }
    }
}

#[test]
fn structured_maps_equal_the_dense_ones_on_every_example() {
    let mut gathers = Vec::new();
    for path in cdl_files(&examples_dir()) {
        let name = crate::case_name(&path);
        let (s, params, batch) = example_case(&name, 4);
        let c = crate::check_clean(&path);
        let model = cdlc::entry_model(&c, None).expect("a model");
        let d = prepare_dense(&c, model);
        let dense_params = reshaped(&params, &d);
        assert_same(&name, &s, &d, &dense_params, &batch);
        if has_gather(&s) {
            gathers.push(name);
        }
    }
    // The convolutions of the examples, and the sparse maps between graph
    // tensors, are the ones applied as gathers.
    assert_eq!(
        gathers,
        ["causal_conv", "graph_triangles", "p4_patterns", "ring_conv"]
    );
}

/// A deterministic stream of numbers in [-1, 1).
pub(crate) struct Numbers(pub(crate) u64);

impl Numbers {
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    pub(crate) fn tensor(&mut self, shape: &[usize]) -> Tensor {
        let data = (0..shape.iter().product()).map(|_| self.next()).collect();
        Tensor::new(shape.to_vec(), data)
    }
}

/// Checks the one-layer program `src` (model `m`, input and output shapes
/// as given) structured against dense on random parameters and inputs,
/// that its map is applied as a gather, and the JIT's values and gradients
/// against the interpreter's.
#[track_caller]
fn check_generated(src: &str, input: &[usize], output: &[usize], seed: u64) {
    let c = cdlc::compile("generated.cdl", src);
    assert!(c.diagnostics.is_empty(), "{src}\n{:#?}", c.diagnostics);
    let model = cdlc::entry_model(&c, None).expect("a model");
    let s = cdlc::training::prepare(&c, model, loss_for(&c, model)).expect("structured");
    let d = prepare_dense(&c, model);
    assert!(has_gather(&s), "{src}: not applied as a gather");
    let mut rng = Numbers(seed);
    let params: Vec<Tensor> = d
        .inst
        .slots
        .iter()
        .map(|sl| rng.tensor(&sl.shape))
        .collect();
    let batch: Vec<Example> = (0..3)
        .map(|_| Example {
            x: Value::Tensor(rng.tensor(input)),
            y: Target::Tensor(rng.tensor(output)),
        })
        .collect();
    assert_same(src, &s, &d, &params, &batch);
    let sp = reshaped(&params, &s);
    crate::jit::forward_agrees(src, &s, &sp, &batch);
    crate::jit::training_agrees(src, &s, &sp, &batch);
}

#[test]
fn generated_cyclic_and_causal_convolutions_equal_their_dense_maps() {
    let cases = [
        (24, 1, 1, 3, "cyclic", "shift"),
        (30, 2, 2, 3, "cyclic", "shift"),
        (20, 1, 3, 2, "shifts", "shift_zero"),
        (27, 3, 2, 2, "shifts", "shift_zero"),
    ];
    for (i, (n, r, a, b, group, action)) in cases.into_iter().enumerate() {
        let kind = if group == "cyclic" { "group" } else { "monoid" };
        let src = format!(
            "const n = {n}\n{kind} G = {group}(n)\nspace S = R[n] under G by {action}\n\
             space A = R[{a}] * S\nspace B = R[{b}] * S\n\
             layer conv(x: A) -> B equivariant G {{\n  param K: equivariant A -> B where local({r}) = glorot\n  K @ x\n}}\n\
             model m = conv\n"
        );
        check_generated(&src, &[a, n], &[b, n], 17 + i as u64);
    }
}

#[test]
fn generated_p4_group_convolutions_equal_their_dense_maps() {
    for (i, (size, r, a, b)) in [(8, 1, 2, 1), (6, 1, 1, 2), (10, 2, 1, 1)]
        .into_iter()
        .enumerate()
    {
        let src = format!(
            "const s = {size}\ngroup P = p4(s)\nspace Img = R[s, s] under P by rotate_translate\n\
             space Ori = R[4] under P by regular\n\
             space A = R[{a}] * Ori * Img\nspace B = R[{b}] * Ori * Img\n\
             layer gconv(x: A) -> B equivariant P {{\n  param K: equivariant A -> B where local({r}) = he\n  K @ x\n}}\n\
             model m = gconv\n"
        );
        check_generated(&src, &[a, 4, size, size], &[b, 4, size, size], 5 + i as u64);
    }
}

/// Cyclic and p4 layers with channel counts, sizes and radii drawn from a
/// seeded stream: the gather's table is kept once per input channel on the
/// JIT (`BasisTable::of` in `cdlc-jit`), and every channel count must give
/// the interpreter's values and gradients.
#[test]
fn generated_layers_with_random_channel_counts_agree_on_the_jit() {
    let mut rng = Numbers(2024);
    let mut draw =
        |lo: usize, hi: usize| lo + ((rng.next() + 1.0) / 2.0 * (hi - lo + 1) as f64) as usize;
    for i in 0..3 {
        let (n, r, a, b) = (draw(9, 26), draw(1, 3), draw(2, 6), draw(1, 5));
        let src = format!(
            "const n = {n}\ngroup G = cyclic(n)\nspace S = R[n] under G by shift\n\
             space A = R[{a}] * S\nspace B = R[{b}] * S\n\
             layer conv(x: A) -> B equivariant G {{\n  param K: equivariant A -> B where local({r}) = glorot\n  K @ x\n}}\n\
             model m = conv\n"
        );
        check_generated(&src, &[a, n], &[b, n], 40 + i);
    }
    for i in 0..2 {
        let (size, a, b) = (draw(5, 9), draw(2, 4), draw(1, 3));
        let src = format!(
            "const s = {size}\ngroup P = p4(s)\nspace Img = R[s, s] under P by rotate_translate\n\
             space Ori = R[4] under P by regular\n\
             space A = R[{a}] * Ori * Img\nspace B = R[{b}] * Ori * Img\n\
             layer gconv(x: A) -> B equivariant P {{\n  param K: equivariant A -> B where local(1) = he\n  K @ x\n}}\n\
             model m = gconv\n"
        );
        check_generated(&src, &[a, 4, size, size], &[b, 4, size, size], 60 + i);
    }
}

/// `examples/p4_patterns.cdl` on `s`×`s` images with 4 channels, prepared
/// for training: no basis of its module and no value of its training
/// function is within a hundredth of its group convolution's dense map
/// (`(4·4·s·s)²` entries).
fn p4_patterns_at(s: usize) -> Prepared {
    let src = std::fs::read_to_string(examples_dir().join("p4_patterns.cdl"))
        .expect("the example")
        .replace("const s = 8", &format!("const s = {s}"))
        .replace("R[6] * Ori * Img", "R[4] * Ori * Img");
    let c = cdlc::compile("p4_large.cdl", &src);
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
    let model = cdlc::entry_model(&c, None).expect("a model");
    let p = cdlc::training::prepare(&c, model, loss_for(&c, model)).expect("prepared");
    assert_small_beside(&p, (4 * 4 * s * s).pow(2));
    p
}

/// Asserts that `p` applies a map as a gather and that neither its bases
/// nor any value of its training function come near `dense` numbers.
#[track_caller]
fn assert_small_beside(p: &Prepared, dense: usize) {
    let entries: usize = p
        .inst
        .module
        .bases
        .iter()
        .map(|(_, b)| b.elements.iter().map(Vec::len).sum::<usize>())
        .sum();
    assert!(has_gather(p));
    assert!(
        entries * 100 < dense,
        "the module's bases hold {entries} entries, the dense map {dense}"
    );
    let f = &p.inst.module.functions[p.train];
    let largest = f
        .values
        .iter()
        .filter_map(|(v, _)| match f.types.get(v) {
            Some(cdlc_ir::Type::Tensor(s)) => Some(s.iter().product::<usize>()),
            _ => None,
        })
        .max()
        .expect("values");
    assert!(largest * 100 < dense, "a value of {largest} numbers");
}

/// `examples/p4_patterns.cdl` on 28×28 images with 4 channels: its group
/// convolution's dense map would have (4·4·28·28)² ≈ 157 M entries
/// (1.3 GB in f64). Applied as a gather, every basis of the module holds a
/// few hundred thousand entries, and a training step runs.
#[test]
fn a_p4_layer_on_28_by_28_images_takes_a_training_step_without_its_dense_map() {
    let p = p4_patterns_at(28);
    let params = cdlc::training::init_params(&p.inst, 3);
    let mut rng = Numbers(11);
    let batch = [Example {
        x: Value::Tensor(rng.tensor(&[28, 28])),
        y: Target::Class(2),
    }];
    let (loss, grads) =
        interp::loss_and_grad(&p.inst.module, p.train, &params, &batch).expect("a step runs");
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
    for (g, slot) in grads.iter().zip(&p.inst.slots) {
        assert!(g.data.iter().all(|x| x.is_finite()), "{}", slot.name);
    }
    let moved = grads
        .iter()
        .filter(|g| g.data.iter().any(|&x| x != 0.0))
        .count();
    assert!(moved >= 4, "only {moved} slots have a nonzero gradient");
}

/// The same on 64×64 images: the group convolution's dense map would have
/// 4.3·10^9 entries (34 GB in f64); its tying is derived from the 589 824
/// entries `local(1)` keeps, and the training step runs on the gather.
#[test]
fn a_p4_layer_on_64_by_64_images_takes_a_training_step_without_its_dense_map() {
    let p = p4_patterns_at(64);
    // The read-out sums 65 536 activations: at the initial scale the logits
    // are so far apart that the loss is exactly 0 in f64, so every weight
    // is scaled down to keep a gradient to look at.
    let mut params = cdlc::training::init_params(&p.inst, 5);
    for t in &mut params {
        t.data.iter_mut().for_each(|x| *x *= 0.1);
    }
    let mut rng = Numbers(13);
    let batch = [Example {
        x: Value::Tensor(rng.tensor(&[64, 64])),
        y: Target::Class(1),
    }];
    let (loss, grads) =
        interp::loss_and_grad(&p.inst.module, p.train, &params, &batch).expect("a step runs");
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
    assert!(grads.iter().all(|g| g.data.iter().all(|x| x.is_finite())));
    let moved = grads
        .iter()
        .filter(|g| g.data.iter().any(|&x| x != 0.0))
        .count();
    assert!(moved >= 4, "only {moved} slots have a nonzero gradient");
}

/// The step of the finite differences below, and their tolerance relative
/// to the derivative (the loss is smooth at a random point; f64 central
/// differences are good to about `step²`).
const FD_STEP: f64 = 1e-5;
const FD_RTOL: f64 = 1e-6;

/// A `cyclic` layer on 100 000 samples with `local(2)`, into 4 channels and
/// back: the dense maps would have 4·10^10 entries each. The tying is
/// derived from the 500 000 entries the kernel keeps, the model's declared
/// equivariance is proved, and a training step runs in f64 with its
/// gradient checked against central finite differences in a random
/// direction.
#[test]
fn a_cyclic_layer_on_100000_samples_checks_and_takes_a_training_step() {
    let n = 100_000;
    let src = format!(
        "const n = {n}\ngroup C = cyclic(n)\nspace Sig = R[n] under C by shift\nspace Sig4 = R[4] * Sig\n\
         layer conv_in(x: Sig) -> Sig4 equivariant C {{\n  param K: equivariant Sig -> Sig4 where local(2) = glorot\n  \
         param b: invariant Sig4 = zeros\n  tanh(K @ x + b)\n}}\n\
         layer conv_out(h: Sig4) -> Sig equivariant C {{\n  param K: equivariant Sig4 -> Sig where local(2) = glorot\n  K @ h\n}}\n\
         model smooth(x: Sig) -> Sig equivariant C {{\n  conv_out(conv_in(x))\n}}\n\
         train smooth {{\n  data = synthetic.ring_smooth(points = n, samples = 8)\n  loss = mse\n}}\n"
    );
    let c = cdlc::compile("ring_100k.cdl", &src);
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
    let free: Vec<usize> = c.tyings.params.values().map(|t| t.basis.free()).collect();
    assert_eq!(free, [20, 4, 20]);
    let model = cdlc::entry_model(&c, None).expect("a model");
    let p = cdlc::training::prepare(&c, model, loss_for(&c, model)).expect("prepared");
    assert_small_beside(&p, 4 * n * n);
    let mut rng = Numbers(23);
    let params: Vec<Tensor> = p.inst.slots.iter().map(|s| rng.tensor(&s.shape)).collect();
    let batch = [Example {
        x: Value::Tensor(rng.tensor(&[n])),
        y: Target::Tensor(rng.tensor(&[n])),
    }];
    let loss_at = |ps: &[Tensor]| {
        interp::loss_and_grad(&p.inst.module, p.train, ps, &batch).expect("a step runs")
    };
    let (loss, grads) = loss_at(&params);
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
    let direction: Vec<Tensor> = params.iter().map(|t| rng.tensor(&t.shape)).collect();
    let moved = |sign: f64| -> Vec<Tensor> {
        params
            .iter()
            .zip(&direction)
            .map(|(t, d)| {
                let data = t
                    .data
                    .iter()
                    .zip(&d.data)
                    .map(|(x, y)| x + sign * FD_STEP * y);
                Tensor::new(t.shape.clone(), data.collect())
            })
            .collect()
    };
    let numeric = (loss_at(&moved(1.0)).0 - loss_at(&moved(-1.0)).0) / (2.0 * FD_STEP);
    let analytic: f64 = grads
        .iter()
        .zip(&direction)
        .flat_map(|(g, d)| g.data.iter().zip(&d.data).map(|(x, y)| x * y))
        .sum();
    assert!(
        rel(numeric, analytic) < FD_RTOL,
        "finite differences {numeric}, reverse derivative {analytic}"
    );
}
