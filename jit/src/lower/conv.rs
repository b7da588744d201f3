//! Gathered equivariant maps as direct convolutions, on the finished plan.
//!
//! A map applied through a sparse inner basis is lowered as a gather
//! `z = G(x)` (`[c, K, M]` per example: every input channel's copies under
//! the `K` inner elements) and one product `y = W z`; its reverse is the
//! product `dz = Wᵀ dy` projected back, `dx = Gᵀ dz`, and the weight
//! gradient `dW = Σ_rows dy zᵀ`. When the gather's table is made of runs
//! (`ConvTaps`: each gathered entry reads one input point, and consecutive
//! entries consecutive points), those steps become `Instr::Conv` steps
//! that read `x` and `dy` where they lie:
//!
//! - the gather and every product reading `z` (the forward product and
//!   the weight gradient) become convolutions reading `x`, when nothing
//!   else reads `z` and nothing writes `x` meanwhile; the gather goes;
//! - a projection whose cotangent `dz` only a product `Wᵀ dy` writes and
//!   only the projection reads becomes the transposed convolution; the
//!   product goes.
//!
//! Each rewrite is local and checked operand by operand; what does not
//! match keeps its gather. The pass runs on the top-level code only (a
//! gathered map inside a recursion's region keeps its gather). It is on
//! unless the environment variable `CDLC_NO_CONV` is set or the lowering
//! runs inside `without` (`cdlc_jit::without_conv`), which give the
//! gathered plan to compare with.

use std::cell::Cell;
use std::sync::Arc;

use super::epilogue::touches;
use crate::plan::*;

thread_local! {
    /// Set while `without` runs on this thread.
    static OFF: Cell<bool> = const { Cell::new(false) };
}

/// Whether gathered maps become direct convolutions: unless the
/// environment variable `CDLC_NO_CONV` is set or `without` runs.
pub(crate) fn conv_enabled() -> bool {
    !OFF.get() && std::env::var_os("CDLC_NO_CONV").is_none()
}

/// Runs `f` with the pass off on this thread.
pub(crate) fn without<R>(f: impl FnOnce() -> R) -> R {
    let before = OFF.replace(true);
    let r = f();
    OFF.set(before);
    r
}

/// Whether an instruction may read `loc`: a convolution its operands,
/// others as the epilogue pass sees them.
fn reads(ins: &Instr, loc: Loc) -> bool {
    match ins {
        Instr::Conv(c) => match c.kind {
            ConvKind::Forward => c.w.loc == loc || c.x == loc,
            ConvKind::InputGrad => c.w.loc == loc || c.y == loc,
            ConvKind::WeightGrad => c.x == loc || c.y == loc,
        },
        other => super::epilogue::reads(other, loc),
    }
}

/// Rewrites the gathered maps of `code` (whose result is `output`) that are
/// convolutions as `Instr::Conv` steps.
pub(crate) fn rewrite(code: &mut Vec<Instr>, output: &Repr) {
    let mut g = 0;
    while g < code.len() {
        if !gather(code, g, output) {
            g += 1;
        }
    }
    let mut p = 0;
    while p < code.len() {
        p += usize::from(!projection(code, p, output));
    }
}

/// A gather at `g` and the products reading it as convolutions; whether
/// it was rewritten (the gather removed).
fn gather(code: &mut Vec<Instr>, g: usize, output: &Repr) -> bool {
    let Instr::Row {
        op: RowOp::BasisExpand { table },
        ins,
        dst: z,
        out_size,
        batched: true,
    } = &code[g]
    else {
        return false;
    };
    let [(x, true, x_size)] = ins[..] else {
        return false;
    };
    let (z, z_size) = (*z, *out_size);
    if mentions(output, z) || x_size != table.blocks * table.block_elements {
        return false;
    }
    let users: Vec<usize> = (0..code.len())
        .filter(|&u| u != g && reads(&code[u], Loc::Buf(z)))
        .collect();
    let Some(&last) = users.last() else {
        return false;
    };
    if users[0] < g || writes_between(code, g, last, &[x, Loc::Buf(z)]) {
        return false;
    }
    let table = table.clone();
    let Some(steps) = users
        .iter()
        .map(|&u| as_conv_over_z(&code[u], &table, x, z, z_size))
        .collect::<Option<Vec<ConvCode>>>()
    else {
        return false;
    };
    for (&u, step) in users.iter().zip(steps) {
        code[u] = Instr::Conv(Box::new(step));
    }
    code.remove(g);
    true
}

/// A product reading the gathered `z` (`x`'s gather of `table`) as a
/// convolution step: the forward product `y = W z` or the weight gradient
/// `dW = Σ_rows dy zᵀ`; `None` for any other instruction.
fn as_conv_over_z(
    ins: &Instr,
    table: &Arc<BasisTable>,
    x: Loc,
    z: usize,
    z_size: usize,
) -> Option<ConvCode> {
    let Instr::Gemm {
        m,
        k,
        n,
        a,
        b,
        c,
        c_buf,
        c_len,
        per_row: Some([sa, sb, sc]),
    } = ins
    else {
        return None;
    };
    if m.rows
        || k.rows
        || n.rows
        || b.loc != Loc::Buf(z)
        || *sb != z_size
        || c.loc != Loc::Buf(*c_buf)
    {
        return None;
    }
    let (m, k, n) = (m.fixed, k.fixed, n.fixed);
    let forward = b.rs == n && b.cs == 1;
    if forward {
        // y[p, i] = Σ_r W[p, r] z[r, i], r = q·K + e: one product per row.
        let taps = taps_of(table, k, n, z_size)?.with_out_channels(m);
        let dense = c.rs == n && c.cs == 1 && *sc == m * n && c_len.rows && c_len.fixed == m * n;
        return (dense && *sa == 0 && matches!(a.loc, Loc::Param(_))).then_some(ConvCode {
            kind: ConvKind::Forward,
            taps,
            w: *a,
            x,
            y: c.loc,
            dst: *c_buf,
        });
    }
    // dW[p, r] = Σ_rows Σ_i dy[p, i] z[r, i]: B is zᵀ, C summed.
    let transposed = b.rs == 1 && b.cs == k;
    let taps = taps_of(table, n, k, z_size)?.with_out_channels(m);
    let span = taps.shape.weight_span(c.rs, c.cs);
    let summed = *sc == 0 && !c_len.rows && c_len.fixed == span;
    let dy_rows = a.rs == k && a.cs == 1 && *sa == m * k;
    (transposed && summed && dy_rows).then_some(ConvCode {
        kind: ConvKind::WeightGrad,
        taps,
        w: *c,
        x,
        y: a.loc,
        dst: *c_buf,
    })
}

/// The taps of `table` for a product whose gathered side has `cols`
/// columns `q·K + e` and `points` output points per example.
fn taps_of(table: &BasisTable, cols: usize, points: usize, z_size: usize) -> Option<ConvTaps> {
    let blocks = table.blocks;
    if blocks == 0 || !cols.is_multiple_of(blocks) || cols * points != z_size {
        return None;
    }
    let taps = ConvTaps::of(table, cols / blocks)?;
    (taps.shape.out_points == points).then_some(taps)
}

/// A projection at `p` and the product writing its cotangent as the
/// transposed convolution; whether it was rewritten (the product removed).
fn projection(code: &mut Vec<Instr>, p: usize, output: &Repr) -> bool {
    let Instr::Row {
        op: RowOp::BasisProject { table },
        ins,
        dst: dx,
        out_size,
        batched: true,
    } = &code[p]
    else {
        return false;
    };
    let [(Loc::Buf(dz), true, dz_size)] = ins[..] else {
        return false;
    };
    let (dx, x_size) = (*dx, *out_size);
    if mentions(output, dz) || x_size != table.blocks * table.block_elements {
        return false;
    }
    let Some(g) = code[..p]
        .iter()
        .rposition(|i| writes(i).is_none_or(|w| w.contains(&Loc::Buf(dz))))
    else {
        return false;
    };
    let readers = (0..code.len()).filter(|&u| reads(&code[u], Loc::Buf(dz)));
    if readers.ne([p]) {
        return false;
    }
    let Some(step) = as_transposed_conv(&code[g], table, dz, dz_size, dx) else {
        return false;
    };
    if writes_between(code, g, p, &[step.w.loc, step.y]) {
        return false;
    }
    code[p] = Instr::Conv(Box::new(step));
    code.remove(g);
    true
}

/// The product `dz = Wᵀ dy` (one per row) that writes the projected
/// cotangent `dz`, as the transposed convolution writing `dx`.
fn as_transposed_conv(
    ins: &Instr,
    table: &BasisTable,
    dz: usize,
    dz_size: usize,
    dx: usize,
) -> Option<ConvCode> {
    let Instr::Gemm {
        m,
        k,
        n,
        a,
        b,
        c,
        c_buf,
        c_len,
        per_row: Some([sa, sb, sc]),
    } = ins
    else {
        return None;
    };
    if m.rows || k.rows || n.rows || *c_buf != dz || c.loc != Loc::Buf(dz) {
        return None;
    }
    // dz[r, i] = Σ_p Wᵀ[r, p] dy[p, i]: A is W transposed.
    let (m, k, n) = (m.fixed, k.fixed, n.fixed);
    let taps = taps_of(table, m, n, dz_size)?.with_out_channels(k);
    let dense = c.rs == n && c.cs == 1 && *sc == dz_size && c_len.rows && c_len.fixed == dz_size;
    let dy_rows = b.rs == n && b.cs == 1 && *sb == k * n;
    let weights = *sa == 0 && matches!(a.loc, Loc::Param(_));
    (dense && dy_rows && weights).then_some(ConvCode {
        kind: ConvKind::InputGrad,
        taps,
        w: Mat {
            loc: a.loc,
            rs: a.cs,
            cs: a.rs,
        },
        x: Loc::Buf(dx),
        y: b.loc,
        dst: dx,
    })
}

/// Whether an instruction strictly between `from` and `to` may write one
/// of `locs` (an instruction whose writes are not known may).
fn writes_between(code: &[Instr], from: usize, to: usize, locs: &[Loc]) -> bool {
    code[from + 1..to]
        .iter()
        .any(|i| writes(i).is_none_or(|w| w.iter().any(|l| locs.contains(l))))
}

/// The locations an instruction writes, when known.
fn writes(ins: &Instr) -> Option<Vec<Loc>> {
    match ins {
        Instr::Loss { dst, .. } | Instr::LossGrad { dst, .. } => Some(vec![Loc::Buf(*dst)]),
        Instr::Conv(c) => Some(vec![Loc::Buf(c.dst)]),
        other => touches(other).map(|(_, w)| w),
    }
}

/// Whether the plan's result may hold buffer `b` (any form this pass does
/// not look into may).
fn mentions(r: &Repr, b: usize) -> bool {
    match r {
        Repr::Tensor { loc, .. } | Repr::Transposed { loc, .. } => *loc == Loc::Buf(b),
        Repr::Summed { buf, .. } => *buf == b,
        Repr::Tuple(rs) => rs.iter().any(|r| mentions(r, b)),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
