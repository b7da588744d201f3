//! Fused epilogues: a product followed by an elementwise kernel that reads
//! its output (a bias and an activation, a recurrent cell's
//! `tanh(x U + h W + b)`, a backward `g * step(z)`) become one
//! `Instr::Fused` step, which applies the kernel to each part of the
//! product's output while it is in registers or in cache
//! (`cdlc_runtime::gemm::epilogue`).
//!
//! The pass runs on the finished plan, in every region, on the products
//! a `Fusion` choice selects (by default those over the batch's rows). A
//! product may be moved down to its kernel over instructions that neither
//! read its output nor write its operands. The product's output is still stored, so any
//! later reader (a backward pass reading the pre-activation) finds it as
//! before, and the kernel's outputs are the saved values the reverse pass
//! reads, unchanged.

use std::sync::Arc;

use cdlc_ir::{BinOp, UnOp};
use cdlc_runtime::gemm::epilogue::{EpOp, Program};

use crate::plan::*;

/// How far above a kernel its product is looked for.
const WINDOW: usize = 16;

/// Which products are fused with the elementwise kernels that read them.
/// Every choice computes the same numbers; they differ in speed
/// (`docs/performance.md`, "Fused epilogues on whole tiles").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fusion {
    /// No product.
    Off,
    /// Products over the batch's rows (a layer's `x W`, a cell's product
    /// over a level's nodes), not batches of per-example products (a
    /// DeepSets layer's product per set). Measured under load, fused
    /// products over rows tied with or beat the unfused steps, and fused
    /// per-set products ran 17–19% slower.
    Rows,
    /// Every product a fused step can run.
    All,
}

impl Fusion {
    /// The choice the environment variable `CDLC_FUSE` makes: `0` for
    /// `Off`, `rows` for `Rows`, anything else for `All`; `Rows` when it
    /// is not set.
    pub fn from_env() -> Fusion {
        match std::env::var("CDLC_FUSE") {
            Err(_) => Fusion::Rows,
            Ok(v) if v == "0" => Fusion::Off,
            Ok(v) if v == "rows" => Fusion::Rows,
            Ok(_) => Fusion::All,
        }
    }

    /// Whether this choice fuses the product `gemm`.
    fn takes(self, gemm: &Instr) -> bool {
        match self {
            Fusion::Off => false,
            Fusion::Rows => matches!(gemm, Instr::Gemm { per_row: None, .. }),
            Fusion::All => true,
        }
    }
}

impl From<bool> for Fusion {
    /// `All` for `true`, `Off` for `false`.
    fn from(all: bool) -> Fusion {
        if all { Fusion::All } else { Fusion::Off }
    }
}

/// Fuses the products `which` selects with the kernels that read them, in
/// `code` and in the regions of its recursion ops.
pub(crate) fn fuse(code: &mut Vec<Instr>, kernels: &[KernelSpec], which: Fusion) {
    for ins in code.iter_mut() {
        regions(ins, kernels, which);
    }
    let mut e = 0;
    while e < code.len() {
        if let Some(g) = product_of(code, e, kernels).filter(|&g| which.takes(&code[g])) {
            let gemm = code.remove(g);
            let mut at = e - 1;
            let ew = code[at].clone();
            let mut program = tiled(&gemm, &ew, kernels);
            let broadcast = program
                .as_mut()
                .and_then(|t| broadcast(code, at, &gemm, &ew, kernels, t));
            if let Some(b) = &broadcast
                && let Some(q) = code.iter().position(|i| same_row(i, &b.expand))
            {
                code.remove(q);
                at -= 1;
            }
            code[at] = Instr::Fused(Box::new(FusedCode {
                gemm,
                ew,
                program: program.map(Arc::new),
                broadcast,
                store_c: true,
            }));
            e = at + 1;
            continue;
        }
        e += 1;
    }
}

/// Marks the fused steps of `code` (not of regions, whose buffers the
/// recursion ops may read through views) whose product's output only
/// their program reads: nothing else in `code` reads it, the plan's result
/// `output` does not hold it, and the kernel reads it only as its product
/// element. Their kernels leave C unwritten when the program runs in
/// registers. Run after every pass that adds readers.
pub(crate) fn unstored(code: &mut [Instr], kernels: &[KernelSpec], output: &Repr) {
    for f in 0..code.len() {
        let Instr::Fused(fc) = &code[f] else { continue };
        let (
            Instr::Gemm { c_buf, .. },
            Instr::Elementwise {
                kernel,
                locs,
                n_out,
                ..
            },
        ) = (&fc.gemm, &fc.ew)
        else {
            continue;
        };
        let c = Loc::Buf(*c_buf);
        let spec = &kernels[*kernel];
        let only_as_c = locs[..locs.len() - n_out]
            .iter()
            .zip(&spec.inputs)
            .all(|(&l, &k)| l != c || k == (InKind::Full { batched: true }));
        let unread = code
            .iter()
            .enumerate()
            .all(|(i, ins)| i == f || !reads(ins, c));
        let dead =
            fc.program.is_some() && only_as_c && unread && !super::conv::mentions(output, *c_buf);
        if dead && let Instr::Fused(fc) = &mut code[f] {
            fc.store_c = false;
        }
    }
}

/// Fuses inside the regions of a recursion op.
fn regions(ins: &mut Instr, kernels: &[KernelSpec], which: Fusion) {
    match ins {
        Instr::Fold(f) => f
            .cases
            .iter_mut()
            .for_each(|c| fuse(&mut c.code, kernels, which)),
        Instr::FoldBackward(f) => f
            .cases
            .iter_mut()
            .for_each(|c| fuse(&mut c.code, kernels, which)),
        Instr::Unfold(u) => fuse(&mut u.body, kernels, which),
        Instr::UnfoldBackward(u) => fuse(&mut u.body, kernels, which),
        _ => {}
    }
}

/// Whether two instructions are the same row op writing the same buffer.
fn same_row(a: &Instr, b: &Instr) -> bool {
    matches!((a, b), (Instr::Row { dst: x, .. }, Instr::Row { dst: y, .. }) if x == y)
}

/// A kernel input of the fused step at `at` that is a per-row vector
/// expanded along each product's columns (`expand` of a `[c]` vector to
/// `[c, n]` on its last axis, C being `[c, n]` per product), read by
/// nothing else in `code` and movable to the fused step: the program reads
/// the vector as a broadcast operand instead (`Broadcast`).
fn broadcast(
    code: &[Instr],
    at: usize,
    gemm: &Instr,
    ew: &Instr,
    kernels: &[KernelSpec],
    tiled: &mut Tiled,
) -> Option<Broadcast> {
    let (
        Instr::Gemm {
            m,
            n,
            per_row: Some(_),
            ..
        },
        Instr::Elementwise { kernel, locs, .. },
    ) = (gemm, ew)
    else {
        return None;
    };
    let spec = &kernels[*kernel];
    for slot in tiled.inputs.iter_mut() {
        let (input, _) = *slot;
        let Loc::Buf(x) = locs[input] else { continue };
        if spec.inputs[input] != (InKind::Full { batched: true }) {
            continue;
        }
        let Some(q) = code[..at]
            .iter()
            .rposition(|i| matches!(i, Instr::Row { dst, .. } if *dst == x))
        else {
            continue;
        };
        let Instr::Row {
            op:
                RowOp::Expand {
                    shape,
                    axis,
                    n: reps,
                },
            ins,
            batched: true,
            ..
        } = &code[q]
        else {
            continue;
        };
        let along_rows = shape.len() == 2 && *axis == 1 && shape[0] == m.fixed && *reps == n.fixed;
        let [(src, true, c)] = ins[..] else { continue };
        let alone = code
            .iter()
            .enumerate()
            .all(|(i, ins)| i == q || i == at || !reads(ins, locs[input]))
            && code[q + 1..at]
                .iter()
                .all(|i| touches(i).is_some_and(|(_, w)| !w.contains(&src)));
        if along_rows && c == m.fixed && alone {
            *slot = (input, [c as isize, 1, 0]);
            return Some(Broadcast {
                input,
                src,
                expand: code[q].clone(),
            });
        }
    }
    None
}

/// Whether an instruction may read `loc` (every instruction this pass does
/// not look into may).
pub(super) fn reads(ins: &Instr, loc: Loc) -> bool {
    match ins {
        Instr::Loss { out, target, .. } => {
            *out == loc || matches!(target, TargetLoc::Tensor(l, _) if *l == loc)
        }
        Instr::LossGrad {
            out, seed, target, ..
        } => *out == loc || seed.0 == loc || matches!(target, TargetLoc::Tensor(l, _) if *l == loc),
        Instr::Fused(f) => reads(&f.gemm, loc) || reads(&f.ew, loc),
        other => touches(other).is_none_or(|(r, _)| r.contains(&loc)),
    }
}

/// The product an elementwise kernel at `e` can fuse with: the nearest
/// product above it whose output it reads as a full per-row operand, of a
/// shape a fused step runs (`unit_shape`), with nothing between them that
/// reads its output or writes its operands.
fn product_of(code: &[Instr], e: usize, kernels: &[KernelSpec]) -> Option<usize> {
    let Instr::Elementwise {
        kernel,
        locs,
        batched: true,
        ..
    } = &code[e]
    else {
        return None;
    };
    let spec = &kernels[*kernel];
    let reads_c = |c: usize| {
        locs.iter()
            .zip(&spec.inputs)
            .any(|(&l, k)| l == Loc::Buf(c) && *k == InKind::Full { batched: true })
    };
    let mut between: Vec<(Vec<Loc>, Vec<Loc>)> = Vec::new();
    for g in (e.saturating_sub(WINDOW)..e).rev() {
        let ins = &code[g];
        if let Instr::Gemm { c_buf, a, b, .. } = ins
            && reads_c(*c_buf)
        {
            let shape_ok = unit_shape(ins).is_some_and(|(_, size)| size == spec.n);
            let c = Loc::Buf(*c_buf);
            let clear = between.iter().all(|(r, w)| {
                !r.contains(&c) && !w.contains(&c) && !w.contains(&a.loc) && !w.contains(&b.loc)
            });
            return (shape_ok && clear).then_some(g);
        }
        between.push(touches(ins)?);
    }
    None
}

/// A product a fused step runs, as `(rows of C per unit, numbers of C per
/// unit)`: one product over the rows (`m` a multiple of the rows) or one
/// product per row with separate outputs, C's rows contiguous.
pub(crate) fn unit_shape(gemm: &Instr) -> Option<(usize, usize)> {
    let Instr::Gemm {
        m,
        k,
        n,
        c,
        c_buf,
        c_len,
        per_row,
        ..
    } = gemm
    else {
        return None;
    };
    let dense = c.loc == Loc::Buf(*c_buf) && c.rs == n.fixed && c.cs == 1 && !n.rows && !k.rows;
    let size = m.fixed * n.fixed;
    let ok = match per_row {
        None => m.rows && c_len.rows && c_len.fixed == size,
        Some([_, _, sc]) => !m.rows && *sc == size && c_len.rows && c_len.fixed == size,
    };
    (dense && ok && size > 0).then_some((m.fixed, size))
}

/// The locations an instruction reads and writes, for the simple
/// instructions a product may be moved over; `None` for the others.
pub(super) fn touches(ins: &Instr) -> Option<(Vec<Loc>, Vec<Loc>)> {
    match ins {
        Instr::Gemm { a, b, c_buf, .. } => Some((vec![a.loc, b.loc], vec![Loc::Buf(*c_buf)])),
        Instr::Elementwise { locs, n_out, .. } => {
            let n_in = locs.len() - n_out;
            Some((locs[..n_in].to_vec(), locs[n_in..].to_vec()))
        }
        Instr::Row { ins, dst, .. } => {
            Some((ins.iter().map(|i| i.0).collect(), vec![Loc::Buf(*dst)]))
        }
        Instr::SumRows { src, dst, .. } => Some((vec![*src], vec![Loc::Buf(*dst)])),
        Instr::SumCombine { a, b, dst, .. } => Some((vec![a.loc, b.loc], vec![Loc::Buf(*dst)])),
        _ => None,
    }
}

/// The kernel as a tile program for the direct product kernel, with its
/// operands' layouts; `None` when an op has no tile form or an operand
/// cannot be addressed per row of C (a shared row or one number per
/// example when a unit has several rows of C).
fn tiled(gemm: &Instr, ew: &Instr, kernels: &[KernelSpec]) -> Option<Tiled> {
    let (
        Instr::Gemm {
            n, c_buf, per_row, ..
        },
        Instr::Elementwise {
            kernel,
            locs,
            n_out,
            ..
        },
    ) = (gemm, ew)
    else {
        return None;
    };
    let (unit_rows, size) = unit_shape(gemm)?;
    let spec = &kernels[*kernel];
    let cols = n.fixed as isize;
    let per_product = per_row.is_some();
    let layout = |kind: InKind| -> Option<[isize; 3]> {
        match (kind, per_product) {
            (InKind::Full { batched: true }, false) => Some([0, cols, 1]),
            (InKind::Full { batched: true }, true) => Some([size as isize, cols, 1]),
            (InKind::Full { batched: false }, false) if unit_rows == 1 => Some([0, 0, 1]),
            (InKind::Full { batched: false }, true) => Some([0, cols, 1]),
            (InKind::Scalar { batched: true }, false) if unit_rows == 1 => Some([0, 1, 0]),
            (InKind::Scalar { batched: true }, true) => Some([1, 0, 0]),
            (InKind::Scalar { batched: false }, _) => Some([0, 0, 0]),
            _ => None,
        }
    };
    let mut inputs = Vec::new();
    let mut slot = vec![None; spec.inputs.len()];
    for (i, (&kind, &loc)) in spec.inputs.iter().zip(locs).enumerate() {
        if loc != Loc::Buf(*c_buf) || kind != (InKind::Full { batched: true }) {
            slot[i] = Some(inputs.len());
            inputs.push((i, layout(kind)?));
        }
    }
    let ops = spec
        .ops
        .iter()
        .map(|op| match *op {
            KOp::Input(i) => Some(slot[i].map_or(EpOp::C, EpOp::Input)),
            KOp::Bin(o, a, b) => Some(match o {
                BinOp::Add => EpOp::Add(a, b),
                BinOp::Sub => EpOp::Sub(a, b),
                BinOp::Mul => EpOp::Mul(a, b),
                BinOp::Div => EpOp::Div(a, b),
            }),
            KOp::Un(o, a) => match o {
                UnOp::Neg => Some(EpOp::Neg(a)),
                UnOp::Relu => Some(EpOp::Relu(a)),
                UnOp::Step => Some(EpOp::Step(a)),
                UnOp::Tanh => Some(EpOp::Tanh(a)),
                UnOp::Sigmoid => Some(EpOp::Sigmoid(a)),
                _ => None,
            },
        })
        .collect::<Option<Vec<_>>>()?;
    let program = Program::new(ops, spec.outputs.clone());
    let step = if per_product { size as isize } else { 0 };
    let outputs = vec![[step, cols]; *n_out];
    program.fits(inputs.len()).then_some(Tiled {
        program,
        inputs,
        outputs,
    })
}
