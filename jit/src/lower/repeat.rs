//! Expansions read in place: a vector expanded along its last axis whose
//! only readers are elementwise kernels becomes a repeated operand of
//! those kernels (`InKind::Repeat`), and the expansion is not written.
//!
//! An equivariant layer over a set adds its pooled term, one number per
//! channel and example, to every point: `expand(pooled)` writes `points`
//! copies of each number into a batch buffer as large as the layer's
//! activation, and the kernel adding it reads them back. Reading the
//! pooled vector itself, each number once per run of `every` elements,
//! takes one write and one read of that buffer out of every layer's
//! forward and backward step. The kernel reads the same numbers in the
//! same order, so its results are equal to the bit.
//!
//! The pass runs on the finished plan, at the top level only, after the
//! other plan passes. It rewrites an expansion only when nothing but
//! elementwise kernels reads its buffer (each as a full operand), nothing
//! else writes it, the plan's output does not hold it, each reading
//! kernel is run by that one instruction, and nothing writes the
//! expanded vector between the expansion and its last reader; and only
//! when each run fills whole vectors of the kernel (`RUN`).

use std::cell::Cell;

use super::conv::mentions;
use super::epilogue::{reads, touches};
use crate::plan::*;

/// Runs must hold whole vectors of the kernels (four f32 or two f64):
/// with other runs a kernel reading a repeated operand runs its scalar
/// loop, slower than writing the expansion (a DeepSets of 30 points
/// measured 20% more CPU time per step).
const RUN: usize = 4;

thread_local! {
    /// Set while `without` runs on this thread.
    static OFF: Cell<bool> = const { Cell::new(false) };
}

/// Whether expansions are read in place: unless the environment variable
/// `CDLC_NO_REPEAT` is set or `without` runs.
pub(crate) fn repeat_enabled() -> bool {
    !OFF.get() && std::env::var_os("CDLC_NO_REPEAT").is_none()
}

/// Runs `f` with the pass off on this thread.
pub(crate) fn without<R>(f: impl FnOnce() -> R) -> R {
    let before = OFF.replace(true);
    let r = f();
    OFF.set(before);
    r
}

/// Reads every expansion of `code` that qualifies in place (see the
/// module comment); `output` is the plan's result.
pub(crate) fn rewrite(code: &mut Vec<Instr>, kernels: &mut [KernelSpec], output: &Repr) {
    let mut q = 0;
    while q < code.len() {
        if in_place(code, q, kernels, output) {
            code.remove(q);
        } else {
            q += 1;
        }
    }
}

/// Rewrites the readers of the expansion at `q`, if it qualifies; the
/// caller then removes it.
fn in_place(code: &mut [Instr], q: usize, kernels: &mut [KernelSpec], output: &Repr) -> bool {
    let Instr::Row {
        op: RowOp::Expand { shape, axis, n },
        ins,
        dst,
        out_size,
        batched,
    } = &code[q]
    else {
        return false;
    };
    let [(src, src_batched, src_size)] = ins[..] else {
        return false;
    };
    if mentions(output, *dst) {
        return false;
    }
    let (every, dst, out_size, batched) = (*n, Loc::Buf(*dst), *out_size, *batched);
    if *axis + 1 != shape.len() || every % RUN != 0 || src_size * every != out_size || src == dst {
        return false;
    }
    // The readers: elementwise kernels of the expansion's size reading
    // `dst` only as a full operand of its batching.
    let full = InKind::Full { batched };
    let Some(readers) = kernel_readers(code, kernels, q, dst, |spec, j| {
        spec.inputs[j] == full && spec.n == out_size
    }) else {
        return false;
    };
    let Some(&last) = readers.last() else {
        return false;
    };
    // Nothing between the expansion and its last reader writes `src`.
    let kept = code[q + 1..last].iter().all(|ins| !writes(ins, src));
    if !kept {
        return false;
    }
    let kind = InKind::Repeat {
        batched: src_batched,
        every,
    };
    let step = if src_batched { src_size } else { 0 };
    for &i in &readers {
        let Instr::Elementwise {
            kernel,
            locs,
            steps,
            n_out,
            ..
        } = &mut code[i]
        else {
            unreachable!("a reader is an elementwise kernel");
        };
        let n_in = locs.len() - *n_out;
        for j in 0..n_in {
            if locs[j] == dst {
                locs[j] = src;
                steps[j] = step;
                kernels[*kernel].inputs[j] = kind;
            }
        }
    }
    true
}

/// Whether `ins` writes `loc` (conservatively: yes for an instruction
/// whose operands `touches` does not list).
pub(super) fn writes(ins: &Instr, loc: Loc) -> bool {
    match ins {
        Instr::Loss { dst, .. } | Instr::LossGrad { dst, .. } => Loc::Buf(*dst) == loc,
        Instr::Fused(f) => writes(&f.gemm, loc) || writes(&f.ew, loc),
        other => touches(other).is_none_or(|(_, w)| w.contains(&loc)),
    }
}

/// Whether more than one instruction of `code` runs `kernel`.
pub(super) fn run_by_more_than_one(code: &[Instr], kernel: usize) -> bool {
    code.iter()
        .filter(|c| matches!(c, Instr::Elementwise { kernel: k, .. } if *k == kernel))
        .count()
        > 1
}

/// The instructions of `code` other than `at` that read `loc`, when all
/// of them are elementwise kernels after `at`, each run by no other
/// instruction, whose inputs at `loc` all pass `accept(kernel, input)`
/// and whose outputs do not include `loc`, and no other instruction
/// writes `loc`; `None` otherwise.
pub(super) fn kernel_readers(
    code: &[Instr],
    kernels: &[KernelSpec],
    at: usize,
    loc: Loc,
    accept: impl Fn(&KernelSpec, usize) -> bool,
) -> Option<Vec<usize>> {
    let mut readers = Vec::new();
    for (i, ins) in code.iter().enumerate() {
        if i == at || !reads(ins, loc) && !writes(ins, loc) {
            continue;
        }
        let Instr::Elementwise {
            kernel,
            locs,
            n_out,
            ..
        } = ins
        else {
            return None;
        };
        let spec = &kernels[*kernel];
        let n_in = locs.len() - n_out;
        let accepted = (0..n_in).all(|j| locs[j] != loc || accept(spec, j));
        if i < at || locs[n_in..].contains(&loc) || !accepted || run_by_more_than_one(code, *kernel)
        {
            return None;
        }
        readers.push(i);
    }
    Some(readers)
}
