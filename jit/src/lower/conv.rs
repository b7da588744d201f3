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

/// A product of one `[m, k] × [k, n]` per row with fixed sizes, writing
/// its own buffer: what every rewrite here starts from.
struct RowProduct {
    m: usize,
    k: usize,
    n: usize,
    a: Mat,
    b: Mat,
    c: Mat,
    c_buf: usize,
    c_len: Dim,
    /// The steps between rows of A, B and C.
    steps: [usize; 3],
}

impl RowProduct {
    /// `ins` as a per-row product with fixed sizes writing `c_buf`, or
    /// `None`.
    fn of(ins: &Instr) -> Option<RowProduct> {
        let Instr::Gemm {
            m,
            k,
            n,
            a,
            b,
            c,
            c_buf,
            c_len,
            per_row: Some(steps),
        } = ins
        else {
            return None;
        };
        let fixed = !(m.rows || k.rows || n.rows);
        (fixed && c.loc == Loc::Buf(*c_buf)).then_some(RowProduct {
            m: m.fixed,
            k: k.fixed,
            n: n.fixed,
            a: *a,
            b: *b,
            c: *c,
            c_buf: *c_buf,
            c_len: *c_len,
            steps: *steps,
        })
    }

    /// Whether C is one dense row-major `[m, n]` block per row.
    fn dense_out(&self) -> bool {
        let size = self.m * self.n;
        let c = &self.c;
        c.rs == self.n
            && c.cs == 1
            && self.steps[2] == size
            && self.c_len.rows
            && self.c_len.fixed == size
    }

    /// Whether A is the same parameter for every row: the weights.
    fn weights_a(&self) -> bool {
        self.steps[0] == 0 && matches!(self.a.loc, Loc::Param(_))
    }
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
    let p = RowProduct::of(ins)?;
    if p.b.loc != Loc::Buf(z) || p.steps[1] != z_size {
        return None;
    }
    let (m, k, n) = (p.m, p.k, p.n);
    let forward = p.b.rs == n && p.b.cs == 1;
    if forward {
        // y[p, i] = Σ_r W[p, r] z[r, i], r = q·K + e: one product per row.
        let taps = taps_of(table, k, n, z_size)?.with_out_channels(m);
        return (p.dense_out() && p.weights_a()).then_some(ConvCode {
            kind: ConvKind::Forward,
            taps,
            w: p.a,
            x,
            y: p.c.loc,
            dst: p.c_buf,
        });
    }
    // dW[p, r] = Σ_rows Σ_i dy[p, i] z[r, i]: B is zᵀ, C summed.
    let transposed = p.b.rs == 1 && p.b.cs == k;
    let taps = taps_of(table, n, k, z_size)?.with_out_channels(m);
    let span = taps.shape.weight_span(p.c.rs, p.c.cs);
    let summed = p.steps[2] == 0 && !p.c_len.rows && p.c_len.fixed == span;
    let dy_rows = p.a.rs == k && p.a.cs == 1 && p.steps[0] == m * k;
    (transposed && summed && dy_rows).then_some(ConvCode {
        kind: ConvKind::WeightGrad,
        taps,
        w: p.c,
        x,
        y: p.a.loc,
        dst: p.c_buf,
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
    let p = RowProduct::of(ins)?;
    if p.c_buf != dz {
        return None;
    }
    // dz[r, i] = Σ_p Wᵀ[r, p] dy[p, i]: A is W transposed.
    let (m, k, n) = (p.m, p.k, p.n);
    let taps = taps_of(table, m, n, dz_size)?.with_out_channels(k);
    let dy_rows = p.b.rs == n && p.b.cs == 1 && p.steps[1] == k * n;
    (p.dense_out() && dy_rows && p.weights_a()).then_some(ConvCode {
        kind: ConvKind::InputGrad,
        taps,
        w: Mat {
            loc: p.a.loc,
            rs: p.a.cs,
            cs: p.a.rs,
        },
        x: Loc::Buf(dx),
        y: p.b.loc,
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
pub(super) fn mentions(r: &Repr, b: usize) -> bool {
    match r {
        Repr::Tensor { loc, .. } | Repr::Transposed { loc, .. } => *loc == Loc::Buf(b),
        Repr::Summed { buf, .. } => *buf == b,
        Repr::Tuple(rs) => rs.iter().any(|r| mentions(r, b)),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
