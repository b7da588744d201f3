//! The Rust helpers a straight-line step calls for the operations it does
//! not write out in Cranelift: row operations and losses, which run once
//! per step (or per fold level for a row operation inside a region) and
//! share the executor's code (`rowops`), so that their numbers are the
//! executor's to the bit.
//!
//! Each helper has the signature `fn(op: *const ShimOp, ptrs: *const *mut
//! u8, ctx: *mut Ctx, rows: usize)`: the operation's description, its
//! operands' pointers in the order `trace.rs` lists them, the step's
//! counters and the row count (a constant of an unrolled step, read from
//! the schedule by a looped one).

use crate::exec::Elem;
use crate::rowops::{self, RowTarget};

use super::trace::{LossTarget, ShimOp};

/// What a straight-line step counts while it runs.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct Ctx {
    /// Examples whose first largest logit is their class (as the
    /// executor's `State::correct`).
    pub correct: usize,
    /// Whether a convolution's kernel refused its operands.
    pub failed: bool,
}

/// The helper's type.
pub(crate) type ShimFn = unsafe extern "C" fn(*const ShimOp, *const *mut u8, *mut Ctx, usize);

/// The helper for element type `T`.
pub(crate) fn shim_for<T: Elem>() -> ShimFn {
    if T::F64 { shim::<f64> } else { shim::<f32> }
}

/// Runs `op` on the operands `ptrs`.
///
/// # Safety
///
/// `op` and `ctx` are valid; `ptrs` holds as many pointers as `trace.rs`
/// lists for `op`, each covering its operand's rows (the trace was made for
/// this batch's shape, and the step checked the buffers' lengths).
unsafe extern "C" fn shim<T: Elem>(
    op: *const ShimOp,
    ptrs: *const *mut u8,
    ctx: *mut Ctx,
    rows: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        match &*op {
            ShimOp::Row { op, ins, out_size } => row::<T>(op, ins, rows, *out_size, ptrs),
            ShimOp::Loss {
                kind,
                size,
                target,
                seed,
            } => {
                let correct = loss::<T>(*kind, *size, rows, *target, *seed, ptrs);
                (*ctx).correct += correct;
            }
            ShimOp::Conv(c) => {
                if !super::conv::run::<T>(c, rows, ptrs) {
                    (*ctx).failed = true;
                }
            }
        }
    }
}

/// A row operation over `rows` rows, as the executor's `Instr::Row`.
///
/// # Safety
///
/// As for `shim`: `ins.len()` input pointers, then the output.
unsafe fn row<T: Elem>(
    op: &crate::plan::RowOp,
    ins: &[(bool, usize)],
    rows: usize,
    out_size: usize,
    ptrs: *const *mut u8,
) {
    const MAX_INS: usize = 4;
    // SAFETY: the caller's contract; the plan's row operations have at
    // most `MAX_INS` inputs (`plan::verify`: P008).
    unsafe {
        let out = *ptrs.add(ins.len()) as *mut T;
        let mut slices: [&[T]; MAX_INS] = [&[]; MAX_INS];
        for r in 0..rows {
            for (i, (sl, &(b, s))) in slices.iter_mut().zip(ins).enumerate() {
                let p = *ptrs.add(i) as *const T;
                let off = if b { r * s } else { 0 };
                *sl = std::slice::from_raw_parts(p.add(off), s);
            }
            let o = std::slice::from_raw_parts_mut(out.add(r * out_size), out_size);
            rowops::row(op, &slices[..ins.len().min(MAX_INS)], o);
        }
    }
}

/// Per-row losses or their gradients, as the executor's `loss`; returns
/// how many rows had their class as the first largest output (0 for a
/// gradient or a tensor target).
///
/// # Safety
///
/// As for `shim`: output, target (a tensor or the classes), the seed when
/// there is one, the destination.
unsafe fn loss<T: Elem>(
    kind: cdlc_ir::LossKind,
    size: usize,
    rows: usize,
    target: LossTarget,
    seed: Option<bool>,
    ptrs: *const *mut u8,
) -> usize {
    let mut correct = 0;
    // SAFETY: the caller's contract.
    unsafe {
        let po = *ptrs as *const T;
        let pt = *ptrs.add(1);
        let ps = seed.map(|b| (*ptrs.add(2) as *const T, b));
        let pd = *ptrs.add(if seed.is_some() { 3 } else { 2 }) as *mut T;
        for r in 0..rows {
            let o = std::slice::from_raw_parts(po.add(r * size), size);
            let t = match target {
                LossTarget::Class => {
                    let c = *(pt as *const u32).add(r) as usize;
                    if seed.is_none() && rowops::argmax(o) == c {
                        correct += 1;
                    }
                    RowTarget::Class(c)
                }
                LossTarget::Tensor { batched } => {
                    let off = if batched { r * size } else { 0 };
                    RowTarget::Tensor(std::slice::from_raw_parts((pt as *const T).add(off), size))
                }
            };
            match ps {
                None => *pd.add(r) = rowops::loss(kind, o, t, None),
                Some((p, b)) => {
                    let s = *p.add(if b { r } else { 0 });
                    let g = std::slice::from_raw_parts_mut(pd.add(r * size), size);
                    rowops::loss(kind, o, t, Some((g, s)));
                }
            }
        }
    }
    correct
}
