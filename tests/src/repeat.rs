//! Expansions read in place (`cdlc_jit`'s `lower/repeat.rs`) against the
//! same plans with every expansion written out
//! (`cdlc_jit::without_repeat`): the kernels read the same numbers in the
//! same order, so losses and gradients are equal to the bit, in f64 and
//! f32. The same holds for pre-activations read by `step` only and no
//! longer stored (`lower/relu_mask.rs`, on and off with it). Checked on W5
//! and on generated DeepSets
//! of other sizes (points that are a power of two and multiples of the
//! vector width that are not; more and fewer channels), and that runs
//! splitting vectors (the DeepSets example's 10 points) stay expanded; the
//! kernels also against the interpreter, and one gradient against finite
//! differences of the kernel's own loss.

use crate::jit::{flat_step, forward_agrees, training_agrees};
use crate::jit_inputs::case_in;
use crate::structured::Numbers;
use cdlc::training::{Prepared, loss_for, prepare};
use cdlc_jit::Dtype;
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// The expansions written out in `p`'s training plan, the kernel
/// operands that read one in place, and the values its kernels store.
fn expansions(p: &Prepared) -> (usize, usize, usize) {
    let plan = cdlc_jit::lower_plan(&p.inst.module, p.train, true).expect("the plan lowers");
    let text = plan.to_string();
    let stored = text
        .lines()
        .filter(|l| l.starts_with('k'))
        .filter_map(|l| l.split("store ").nth(1))
        .map(|s| s.split(", ").count())
        .sum();
    (
        text.matches("<- expand(").count(),
        text.matches("repeat ").count(),
        stored,
    )
}

/// `p`'s plan reads every expansion in place (none are left, and there
/// were `want` before) and stores none of its `layers` pre-activations,
/// with values and gradients equal to the bit to the plan that writes
/// them, and equal to the interpreter's.
#[track_caller]
fn in_place_equals_written(
    name: &str,
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
    want: usize,
    layers: usize,
) {
    let (left, read, stored) = expansions(p);
    let (written, none, all) = cdlc_jit::without_repeat(|| expansions(p));
    assert_eq!((left, none, written), (0, 0, want), "{name}: expansions");
    assert_eq!(stored + layers, all, "{name}: stored values");
    assert!(
        read >= want,
        "{name}: {read} repeated operands for {want} expansions"
    );
    let flat: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
    for dtype in [Dtype::F64, Dtype::F32] {
        let (loss, grads) = flat_step(p, &flat, batch, dtype);
        let (want_loss, want_grads) =
            cdlc_jit::without_repeat(|| flat_step(p, &flat, batch, dtype));
        assert_eq!(
            loss.to_bits(),
            want_loss.to_bits(),
            "{name}: {dtype:?} loss"
        );
        assert!(
            grads.iter().any(|&g| g != 0.0),
            "{name}: all gradients are zero"
        );
        for (i, (a, b)) in grads.iter().zip(&want_grads).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name}: {dtype:?} gradient {i}: {a} against {b}"
            );
        }
    }
    forward_agrees(name, p, params, batch);
    training_agrees(name, p, params, batch);
}

#[test]
fn w5_reads_its_pooled_terms_in_place() {
    // Three layers forward; backward, the sum's cotangent over the points
    // and the pooled cotangents of the second and third layers (the first
    // layer's input needs no gradient).
    let path = crate::examples_dir().join("../bench/w5_deepsets.cdl");
    crate::check_clean(&path);
    let (p, params, batch) = case_in(&path, None, 3);
    in_place_equals_written("w5_deepsets", &p, &params, &batch, 6, 3);
}

/// A DeepSets over `n` points: `a` to `b` channels, `b` to `b`, sum over
/// the points and a dense read-out to `c`.
fn deepsets(n: usize, a: usize, b: usize, c: usize) -> String {
    format!(
        "import std.layers\nconst n = {n}\ngroup S = symmetric(n)\nspace Pts = R[n] under S by permute\n\
         space In = R[{a}] * Pts\nspace Hid = R[{b}] * Pts\n\
         layer phi(x: In) -> Hid equivariant S {{\n  param W: equivariant In -> Hid = glorot\n  \
         param b: invariant Hid = zeros\n  relu(W @ x + b)\n}}\n\
         layer psi(h: Hid) -> Hid equivariant S {{\n  param W: equivariant Hid -> Hid = glorot\n  \
         param b: invariant Hid = zeros\n  relu(W @ h + b)\n}}\n\
         layer pool(h: Hid) -> R[{c}] {{\n  dense[{b}, {c}](sum(h, axis = 1))\n}}\n\
         model m = phi >> psi >> pool\n"
    )
}

#[test]
fn pooled_terms_over_runs_that_split_vectors_stay_expanded() {
    // The DeepSets example: 10 points, two layers and a tied read-out.
    let (p, _, _) = crate::example_case("deepsets", 2);
    assert_eq!(expansions(&p).0, 3, "deepsets");
    for n in [7, 30] {
        let comp = cdlc::compile("generated.cdl", &deepsets(n, 2, 3, 2));
        let model = cdlc::entry_model(&comp, None).expect("a model");
        let p = prepare(&comp, model, loss_for(&comp, model)).expect("the model prepares");
        assert_eq!(expansions(&p).0, 4, "{n} points");
    }
}

#[test]
fn generated_deepsets_read_their_pooled_terms_in_place() {
    // 16 and 64 points: runs of whole vectors, a shift; 12 and 20: whole
    // vectors, a division. (Runs that split vectors stay expanded.)
    let cases = [(16, 3, 8, 2), (12, 5, 4, 3), (20, 2, 6, 4), (64, 4, 3, 2)];
    for (i, (n, a, b, c)) in cases.into_iter().enumerate() {
        let src = deepsets(n, a, b, c);
        let comp = cdlc::compile("generated.cdl", &src);
        assert!(
            comp.diagnostics.is_empty(),
            "{src}\n{:#?}",
            comp.diagnostics
        );
        let model = cdlc::entry_model(&comp, None).expect("a model");
        let p = prepare(&comp, model, loss_for(&comp, model)).expect("the model prepares");
        let mut rng = Numbers(40 + i as u64);
        let params: Vec<Tensor> = p.inst.slots.iter().map(|s| rng.tensor(&s.shape)).collect();
        let batch: Vec<Example> = (0..3)
            .map(|_| Example {
                x: Value::Tensor(rng.tensor(&[a, n])),
                y: Target::Class(((rng.next() + 1.0) * c as f64 / 2.0) as usize % c),
            })
            .collect();
        // Two layers forward; backward, the sum's cotangent over the points
        // and the second layer's pooled cotangent.
        in_place_equals_written(&format!("deepsets {n} points"), &p, &params, &batch, 4, 2);
        // One weight of the first layer's pooled term against central
        // differences of the kernel's f64 loss.
        let mut flat: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
        let (_, grads) = flat_step(&p, &flat, &batch, Dtype::F64);
        let h = 1e-6;
        for j in [0, params[0].data.len() - 1] {
            let at = flat[j];
            flat[j] = at + h;
            let up = flat_step(&p, &flat, &batch, Dtype::F64).0;
            flat[j] = at - h;
            let down = flat_step(&p, &flat, &batch, Dtype::F64).0;
            flat[j] = at;
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grads[j]).abs() <= 1e-6 * (1.0 + fd.abs()),
                "{n} points: weight {j}: {} against finite differences {fd}",
                grads[j]
            );
        }
    }
}
