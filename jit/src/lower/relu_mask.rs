//! ReLU's derivative read from its output: a kernel that stores both
//! `x` and `relu(x)`, where every later reader of `x` only takes
//! `step(x)`, stores `relu(x)` alone, and the readers take
//! `step(relu(x))`.
//!
//! The reverse derivative of `relu` is `g · step(x)`, so a training step
//! keeps a layer's pre-activation `x` beside its activation `relu(x)`
//! only to take the step of it: a batch buffer as large as the
//! activation written in the forward and read once in the backward.
//! `step(relu(x)) = step(x)` for every `x` (both are 1 exactly when
//! `x > 0`; a NaN or a zero of either sign gives 0 on both sides), so the
//! backward reads the activation instead, and the forward kernel writes
//! one buffer fewer. Results are equal to the bit.
//!
//! The pass runs on the finished plan, at the top level only, after
//! `repeat.rs`. It rewrites a pre-activation only when nothing but
//! elementwise kernels reads it (each through `step` alone), the plan's
//! output does not hold it, each kernel involved is run by one
//! instruction, and nothing writes the activation between the producer
//! and the last reader.

use super::conv::mentions;
use super::repeat::{kernel_readers, run_by_more_than_one, writes};
use crate::plan::*;
use cdlc_ir::UnOp;

/// Rewrites every pre-activation of `code` that qualifies (see the module
/// comment); `output` is the plan's result.
pub(crate) fn rewrite(code: &mut [Instr], kernels: &mut [KernelSpec], output: &Repr) {
    for p in 0..code.len() {
        // One pair at a time: removing an output renumbers the later ones.
        while relu_pairs(code, p, kernels)
            .into_iter()
            .any(|(o, r)| mask_from_output(code, p, o, r, kernels, output))
        {}
    }
}

/// The pairs of outputs `(x, relu x)`, by output index, of the kernel at
/// `p` (none if it is not a kernel).
fn relu_pairs(code: &[Instr], p: usize, kernels: &[KernelSpec]) -> Vec<(usize, usize)> {
    let Instr::Elementwise { kernel, .. } = &code[p] else {
        return Vec::new();
    };
    let spec = &kernels[*kernel];
    spec.outputs
        .iter()
        .enumerate()
        .filter_map(|(o, &x)| {
            let r = spec
                .outputs
                .iter()
                .position(|&y| matches!(spec.ops[y], KOp::Un(UnOp::Relu, a) if a == x))?;
            Some((o, r))
        })
        .collect()
}

/// Points the readers of the producer at `p`'s output `o` (a
/// pre-activation) to its output `r` (the activation) and stops storing
/// `o`, if they qualify; whether it did.
fn mask_from_output(
    code: &mut [Instr],
    p: usize,
    o: usize,
    r: usize,
    kernels: &mut [KernelSpec],
    output: &Repr,
) -> bool {
    let Instr::Elementwise {
        kernel,
        locs,
        n_out,
        batched,
        ..
    } = &code[p]
    else {
        return false;
    };
    let (producer, n_in, batched) = (*kernel, locs.len() - n_out, *batched);
    let (pre, post) = (locs[n_in + o], locs[n_in + r]);
    let Loc::Buf(pre_buf) = pre else {
        return false;
    };
    if mentions(output, pre_buf) || run_by_more_than_one(code, producer) {
        return false;
    }
    let full = InKind::Full { batched };
    let Some(readers) = kernel_readers(code, kernels, p, pre, |spec, j| {
        spec.inputs[j] == full && only_stepped(spec, j)
    }) else {
        return false;
    };
    let Some(&last) = readers.last() else {
        return false;
    };
    if code[p + 1..last].iter().any(|ins| writes(ins, post)) {
        return false;
    }
    for &i in &readers {
        if let Instr::Elementwise { locs, n_out, .. } = &mut code[i] {
            let n_in = locs.len() - *n_out;
            for l in &mut locs[..n_in] {
                if *l == pre {
                    *l = post;
                }
            }
        }
    }
    if let Instr::Elementwise {
        locs, steps, n_out, ..
    } = &mut code[p]
    {
        let n_in = locs.len() - *n_out;
        locs.remove(n_in + o);
        steps.remove(n_in + o);
        *n_out -= 1;
        kernels[producer].outputs.remove(o);
    }
    true
}

/// Whether kernel input `j` is read only through `step`.
fn only_stepped(spec: &KernelSpec, j: usize) -> bool {
    let loads: Vec<usize> = (0..spec.ops.len())
        .filter(|&i| matches!(spec.ops[i], KOp::Input(k) if k == j))
        .collect();
    spec.ops.iter().all(|op| match *op {
        KOp::Un(UnOp::Step, _) | KOp::Input(_) => true,
        KOp::Un(_, a) => !loads.contains(&a),
        KOp::Bin(_, a, b) => !loads.contains(&a) && !loads.contains(&b),
    }) && !spec.outputs.iter().any(|x| loads.contains(x))
}
