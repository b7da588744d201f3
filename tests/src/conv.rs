//! Gathered equivariant maps applied as direct convolutions
//! (`cdlc_jit`'s `lower/conv.rs`) against the same maps gathered and
//! multiplied (`cdlc_jit::without_conv`): equal losses and gradients in
//! f64, on every example with such a map, on W8 and W9, and on generated
//! cyclic, causal and p4 layers (ring sizes, radii and channel counts,
//! p4 lifting and group layers, odd sizes); the convolutions' kernels also
//! against the interpreter (f64 and f32) and their gradients against
//! finite differences of the kernel's own loss. Every plan passes the
//! plan verifier, which debug builds run before each kernel.

use crate::jit::{flat_step, forward_agrees, training_agrees};
use crate::jit_inputs::case_in;
use crate::structured::Numbers;
use cdlc::training::{Prepared, loss_for, prepare};
use cdlc_jit::Dtype;
use cdlc_runtime::value::{Example, Target, Tensor, Value};

/// Largest difference, relative to the largest entry, between the
/// convolution's and the gather's results (both f64; they differ only in
/// summation order).
const TOLERANCE: f64 = 1e-12;

/// How many steps of `p`'s training plan are each kind of convolution:
/// forward, input gradient, weight gradient.
fn conv_steps(p: &Prepared) -> [usize; 3] {
    let plan = cdlc_jit::lower_plan(&p.inst.module, p.train, true).expect("the plan lowers");
    let text = plan.to_string();
    ["<- conv W", "<- conv_input_grad", "<- conv_weight_grad"].map(|s| text.matches(s).count())
}

#[track_caller]
fn close(name: &str, what: &str, got: &[f64], want: &[f64]) {
    let scale = want.iter().fold(1e-3, |m: f64, x| m.max(x.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= TOLERANCE * scale,
            "{name}: {what} {i}: {a} against {b}"
        );
    }
}

/// The convolutions of `p` against its gathers, and its kernels against
/// the interpreter; returns the plan's convolution steps.
#[track_caller]
fn convolutions_equal_gathers(
    name: &str,
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
) -> [usize; 3] {
    let steps = conv_steps(p);
    assert_eq!(
        cdlc_jit::without_conv(|| conv_steps(p)),
        [0; 3],
        "{name}: convolutions without the pass"
    );
    let flat: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
    let (loss, grads) = flat_step(p, &flat, batch, Dtype::F64);
    let (want_loss, want_grads) = cdlc_jit::without_conv(|| flat_step(p, &flat, batch, Dtype::F64));
    close(name, "loss", &[loss], &[want_loss]);
    assert!(
        grads.iter().any(|&g| g != 0.0),
        "{name}: all gradients are zero"
    );
    close(name, "gradient entry", &grads, &want_grads);
    forward_agrees(name, p, params, batch);
    training_agrees(name, p, params, batch);
    steps
}

#[test]
fn every_example_with_a_gathered_convolution_runs_it_directly() {
    let mut convs = Vec::new();
    for name in ["causal_conv", "graph_triangles", "p4_patterns", "ring_conv"] {
        let (p, params, batch) = crate::example_case(name, 4);
        let steps = convolutions_equal_gathers(name, &p, &params, &batch);
        if steps[0] > 0 {
            // Every forward convolution has its weight gradient.
            assert_eq!(steps[0], steps[2], "{name}: {steps:?}");
            convs.push(name);
        }
    }
    // The graph's maps permute edges without runs, and keep their gathers.
    assert_eq!(convs, ["causal_conv", "p4_patterns", "ring_conv"]);
}

#[test]
fn w8_and_w9_run_their_convolutions_directly() {
    // W8's two ring layers and W9's lifting and group layers: every
    // gather and projection becomes a convolution; the first layer has no
    // input gradient, which the model's input does not need.
    for (name, want) in [("w8_ring", [2, 1, 2]), ("w9_p4", [2, 1, 2])] {
        let path = crate::examples_dir()
            .join("../bench")
            .join(format!("{name}.cdl"));
        crate::check_clean(&path);
        let (p, params, batch) = case_in(&path, None, 3);
        assert_eq!(
            convolutions_equal_gathers(name, &p, &params, &batch),
            want,
            "{name}"
        );
    }
}

/// The two-layer program `src` on random parameters and a batch of three
/// random examples of the given shapes: its convolutions against its
/// gathers and the interpreter, and the kernel's gradient of the first
/// parameter (the layer's coefficients) against central differences of
/// the kernel's loss.
#[track_caller]
fn check_generated(src: &str, input: &[usize], output: &[usize], seed: u64) {
    let c = cdlc::compile("generated.cdl", src);
    assert!(c.diagnostics.is_empty(), "{src}\n{:#?}", c.diagnostics);
    let model = cdlc::entry_model(&c, None).expect("a model");
    let p = prepare(&c, model, loss_for(&c, model)).expect("the model prepares");
    let mut rng = Numbers(seed);
    let params: Vec<Tensor> = p.inst.slots.iter().map(|s| rng.tensor(&s.shape)).collect();
    let batch: Vec<Example> = (0..3)
        .map(|_| Example {
            x: Value::Tensor(rng.tensor(input)),
            y: Target::Tensor(rng.tensor(output)),
        })
        .collect();
    // Two layers: the second's input gradient is the first's output's.
    let steps = convolutions_equal_gathers(src, &p, &params, &batch);
    assert_eq!(steps, [2, 1, 2], "{src}");
    let mut flat: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
    let (_, grads) = flat_step(&p, &flat, &batch, Dtype::F64);
    let h = 1e-6;
    for i in [0, params[0].data.len() / 2, params[0].data.len() - 1] {
        let at = flat[i];
        flat[i] = at + h;
        let up = flat_step(&p, &flat, &batch, Dtype::F64).0;
        flat[i] = at - h;
        let down = flat_step(&p, &flat, &batch, Dtype::F64).0;
        flat[i] = at;
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - grads[i]).abs() <= 1e-6 * (1.0 + fd.abs()),
            "{src}: coefficient {i}: {} against finite differences {fd}",
            grads[i]
        );
    }
}

/// A two-layer program over a ring of `n` points under `group(n)` acting
/// by `action`: `a` to `b` channels with `local(r)`, then `b` to `b` with
/// `local(1)`.
fn ring_layer(group: &str, action: &str, n: usize, r: usize, a: usize, b: usize) -> String {
    let kind = if group == "cyclic" { "group" } else { "monoid" };
    format!(
        "const n = {n}\n{kind} G = {group}(n)\nspace S = R[n] under G by {action}\n\
         space A = R[{a}] * S\nspace B = R[{b}] * S\n\
         layer conv(x: A) -> B equivariant G {{\n  param K: equivariant A -> B where local({r}) = glorot\n  K @ x\n}}\n\
         layer mix(x: B) -> B equivariant G {{\n  param K: equivariant B -> B where local(1) = glorot\n  K @ x\n}}\n\
         model m = conv >> mix\n"
    )
}

/// Sizes large enough for the maps to be gathered rather than dense or
/// stacked (`compiler/src/instantiate/structured.rs`).
#[test]
fn generated_ring_layers_run_as_convolutions() {
    let cases = [
        ("cyclic", "shift", 17, 1, 1, 1),
        ("cyclic", "shift", 32, 2, 3, 2),
        ("cyclic", "shift", 41, 3, 2, 5),
        ("shifts", "shift_zero", 21, 2, 2, 3),
        // 33 output channels: weight gradients as products with columns
        // (`conv::columns`), zero-padded and cyclic.
        ("shifts", "shift_zero", 19, 2, 3, 33),
        ("cyclic", "shift", 40, 3, 5, 33),
    ];
    for (i, (group, action, n, r, a, b)) in cases.into_iter().enumerate() {
        let src = ring_layer(group, action, n, r, a, b);
        check_generated(&src, &[a, n], &[b, n], 90 + i as u64);
    }
}

#[test]
fn generated_p4_lifting_and_group_layers_run_as_convolutions() {
    // Lifting layers, from images to orientations.
    for (i, (size, r, b)) in [(8, 1, 2), (7, 1, 3)].into_iter().enumerate() {
        let src = format!(
            "const s = {size}\ngroup P = p4(s)\nspace Img = R[s, s] under P by rotate_translate\n\
             space Ori = R[4] under P by regular\nspace B = R[{b}] * Ori * Img\n\
             layer lift(x: Img) -> B equivariant P {{\n  param K: equivariant Img -> B where local({r}) = he\n  K @ x\n}}\n\
             layer mix(x: B) -> B equivariant P {{\n  param K: equivariant B -> B where local(1) = he\n  K @ x\n}}\n\
             model m = lift >> mix\n"
        );
        check_generated(&src, &[size, size], &[b, 4, size, size], 70 + i as u64);
    }
    // Group layers, odd and even sizes.
    // The last with 32 output channels: weight gradients as products with
    // columns.
    for (i, (size, r, a, b)) in [(7, 1, 2, 3), (10, 2, 1, 2), (7, 1, 2, 32)]
        .into_iter()
        .enumerate()
    {
        let src = format!(
            "const s = {size}\ngroup P = p4(s)\nspace Img = R[s, s] under P by rotate_translate\n\
             space Ori = R[4] under P by regular\n\
             space A = R[{a}] * Ori * Img\nspace B = R[{b}] * Ori * Img\n\
             layer gconv(x: A) -> B equivariant P {{\n  param K: equivariant A -> B where local({r}) = he\n  K @ x\n}}\n\
             layer mix(x: B) -> B equivariant P {{\n  param K: equivariant B -> B where local(1) = he\n  K @ x\n}}\n\
             model m = gconv >> mix\n"
        );
        check_generated(
            &src,
            &[a, 4, size, size],
            &[b, 4, size, size],
            80 + i as u64,
        );
    }
}

#[test]
fn w8_and_w9_convolutions_on_two_threads_equal_one() {
    // With two threads the forward and transposed convolutions halve
    // their rows and the weight gradient shares its output channels; each
    // output sums its terms as on one thread, so the f32 losses and
    // gradients are equal to the bit. (The thread count is process-wide:
    // another test of this binary may set it meanwhile, with the same
    // results.)
    for name in ["w8_ring", "w9_p4"] {
        let path = crate::examples_dir()
            .join("../bench")
            .join(format!("{name}.cdl"));
        let (p, params, batch) = case_in(&path, None, 8);
        let flat: Vec<f64> = params.iter().flat_map(|t| t.data.iter().copied()).collect();
        cdlc_runtime::gemm::set_threads(1);
        let one = flat_step(&p, &flat, &batch, Dtype::F32);
        cdlc_runtime::gemm::set_threads(2);
        let two = flat_step(&p, &flat, &batch, Dtype::F32);
        assert_eq!(one.0.to_bits(), two.0.to_bits(), "{name}: loss");
        assert!(
            one.1.iter().any(|&g| g != 0.0),
            "{name}: all gradients are zero"
        );
        for (i, (a, b)) in one.1.iter().zip(&two.1).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name}: gradient entry {i}: {a} against {b}"
            );
        }
    }
}
