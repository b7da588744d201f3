//! The executor's side of `Instr::Conv`: a gathered map's product run as a
//! direct convolution per example. The runs are cut into strips once per
//! step (`cdlc_runtime::gemm::conv::strips`) and the blocked kernels
//! (`conv::blocked`) run over them: the rows of the forward and
//! input-gradient kernels cut in two halves when the thread choice
//! splits, the weight gradient's output channels shared between the two
//! threads (each channel's sums do not depend on the share). The weight
//! gradient of a convolution with many output channels runs as products
//! with its columns (`conv::columns`), shared the same way. Runs that
//! cannot be cut into strips run tap by tap (`conv::forward` and its
//! adjoints), the weight gradient then on one thread.

use cdlc_runtime::gemm::conv::blocked::{self, Bank};
use cdlc_runtime::gemm::conv::strips::Strips;
use cdlc_runtime::gemm::conv::{self, Weights, columns};

use super::*;

impl<T: Elem> Run<'_, T> {
    /// Runs one convolution step over `rows` examples.
    pub(super) fn conv(&mut self, c: &ConvCode, rows: usize) -> Result<(), JitError> {
        let s = c.taps.shape;
        let runs = &c.taps.runs[..];
        self.st.multiply_adds += (rows * s.out_channels * runs_madds(&s, runs)) as u64;
        match c.kind {
            ConvKind::WeightGrad => self.conv_weight_grad(c, rows),
            ConvKind::Forward | ConvKind::InputGrad => self.conv_rows(c, rows),
        }
    }

    /// The weight gradient `dW = Σ_rows dy ⋆ x`, its output channels
    /// shared between two threads when the choice splits.
    fn conv_weight_grad(&mut self, c: &ConvCode, rows: usize) -> Result<(), JitError> {
        let s = c.taps.shape;
        let (x_size, y_size) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
        let span = s.weight_span(c.w.rs, c.w.cs);
        let runs = &c.taps.runs[..];
        self.ensure(c.dst, span);
        let (px, py) = (self.ptr(c.x) as *const T, self.ptr(c.y) as *const T);
        // SAFETY: `x` and `y` hold `rows` rows of `c·N` and `d·M` numbers,
        // and `dst`, another buffer, the weights' span (`plan::verify`:
        // P003, P004, P005).
        let (x, y) = unsafe {
            (
                std::slice::from_raw_parts(px, rows * x_size),
                std::slice::from_raw_parts(py, rows * y_size),
            )
        };
        let dw = &mut self.st.bufs[c.dst][..span];
        dw.fill(T::ZERO);
        let Some(kernel) = WeightKernel::new(&s, runs) else {
            for (x, y) in x.chunks_exact(x_size).zip(y.chunks_exact(y_size)) {
                conv::weight_grad(&s, runs, x, y, dw, (c.w.rs, c.w.cs)).map_err(internal)?;
            }
            return Ok(());
        };
        let part = |channels, sums: &mut [T]| kernel.sums(runs, (x, y), rows, channels, sums);
        let (cols, d) = (s.in_channels * s.taps, s.out_channels);
        // The first thread's share of the channels: half when the choice
        // splits (a single channel is never split, nor measured).
        let (h, decision) = match d > 1 {
            true => split_rows(Kind::Products, rows, x_size + y_size),
            false => (rows, None),
        };
        let share = if h < rows { d.div_ceil(2) } else { d };
        let mut sums = vec![T::ZERO; d * cols];
        let (first_sums, second_sums) = sums.split_at_mut(share * cols);
        let (mut first, mut second) = (Ok(()), Ok(()));
        let mut first_half = || first = part(0..share, first_sums);
        let second_half = || second = part(share..d, second_sums);
        match share < d {
            // SAFETY: the halves write disjoint sums and read only the
            // kernel, `x` and `y`.
            true => unsafe { threads::join(first_half, second_half) },
            false => first_half(),
        }
        done(decision, rows, x_size + y_size);
        first.and(second).map_err(internal)?;
        add_sums(&sums, cols, dw, (c.w.rs, c.w.cs));
        Ok(())
    }

    /// The forward or transposed convolution, example by example, the rows
    /// cut in two halves when the choice splits.
    fn conv_rows(&mut self, c: &ConvCode, rows: usize) -> Result<(), JitError> {
        let s = c.taps.shape;
        let (x_size, y_size) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
        let span = s.weight_span(c.w.rs, c.w.cs);
        let (src, out_size) = match c.kind == ConvKind::Forward {
            true => (c.x, y_size),
            false => (c.y, x_size),
        };
        self.ensure(c.dst, rows * out_size);
        let pw = self.ptr(c.w.loc) as *const T;
        let ps = self.ptr(src) as *const T;
        let out = self.st.bufs[c.dst].as_mut_ptr();
        // SAFETY: the weights span `span` numbers at `w`, the source holds
        // `rows` rows of its size (`plan::verify`: P003, P004); `dst`,
        // ensured to `rows · out_size`, is neither (P005).
        let w = Weights {
            data: unsafe { std::slice::from_raw_parts(pw, span) },
            rs: c.w.rs,
            cs: c.w.cs,
        };
        let kernel = RowKernel::new(c, w);
        // SAFETY: the source and `dst` hold `rows` rows (above); the halves'
        // rows are disjoint.
        let each = |from: usize, to: usize| unsafe { kernel.rows(ps, out, from..to) };
        let (h, decision) = split_rows(Kind::Rows, rows, x_size + y_size);
        // SAFETY: the halves write disjoint rows of `dst` and read only the
        // weights and the source.
        let (mut first, mut second) = (Ok(()), Ok(()));
        match h < rows {
            true => unsafe { threads::join(|| first = each(0, h), || second = each(h, rows)) },
            false => first = each(0, rows),
        }
        done(decision, rows, x_size + y_size);
        first.and(second).map_err(internal)
    }
}

/// Adds the blocked weight gradient's sums (`cols` per output channel) into
/// the weights' gradient `dw` at its strides.
pub(crate) fn add_sums<T: Elem>(sums: &[T], cols: usize, dw: &mut [T], (rs, cs): (usize, usize)) {
    for (p, row) in sums.chunks_exact(cols).enumerate() {
        for (col, &v) in row.iter().enumerate() {
            dw[p * rs + col * cs] += v;
        }
    }
}

/// A weight gradient's kernel over a range of output channels, each
/// channel's sums independent of the range: products with the columns
/// (`conv::columns`) when the convolution has many output channels, else
/// the blocked kernel over strips. The executor and the straight-line
/// helper both run it, so their numbers are the same.
pub(crate) enum WeightKernel<T> {
    /// `conv::columns::weight_grad`.
    Columns(conv::Shape),
    /// `conv::blocked::weight_grad` over the strips.
    Blocked(Strips<T>),
}

impl<T: Elem> WeightKernel<T> {
    /// The kernel for `runs` of shape `s`, or `None` when only the
    /// tap-by-tap kernel (`conv::weight_grad`) takes them.
    pub(crate) fn new(s: &conv::Shape, runs: &[conv::Run]) -> Option<Self> {
        let [taps, out, src] = conv::runs_reach(runs);
        let inside = taps <= s.taps && out <= s.out_points && src <= s.in_points;
        match columns::wide(s) && inside {
            true => Some(WeightKernel::Columns(*s)),
            false => Strips::new(s, runs).map(WeightKernel::Blocked),
        }
    }

    /// The sums `dW[p, q·K + e]` of `channels` over `rows` examples of `x`
    /// and `dy`, into `sums` (dense, `channels.len() × cK`).
    pub(crate) fn sums(
        &self,
        runs: &[conv::Run],
        (x, dy): (&[T], &[T]),
        rows: usize,
        channels: std::ops::Range<usize>,
        sums: &mut [T],
    ) -> Result<(), cdlc_runtime::gemm::GemmError> {
        match self {
            WeightKernel::Columns(s) => {
                columns::weight_grad(s, runs, (x, dy), rows, channels, sums)
            }
            WeightKernel::Blocked(st) => blocked::weight_grad(st, x, dy, rows, channels, sums),
        }
    }
}

/// A forward or transposed convolution's per-example kernel, its strips
/// and bank built once per step: the blocked kernel when the runs were cut
/// into strips, else tap by tap. The executor and the straight-line
/// helper (`straight/conv.rs`) both run it, so their numbers are the same.
pub(crate) struct RowKernel<'a, T> {
    shape: conv::Shape,
    runs: &'a [conv::Run],
    w: Weights<'a, T>,
    blocked: Option<(Strips<T>, Bank<'a, T>)>,
    forward: bool,
}

impl<'a, T: Elem> RowKernel<'a, T> {
    /// The kernel of `c` (`Forward` or `InputGrad`) with weights `w`.
    pub(crate) fn new(c: &'a ConvCode, w: Weights<'a, T>) -> Self {
        let (shape, runs) = (c.taps.shape, &c.taps.runs[..]);
        let forward = c.kind == ConvKind::Forward;
        let strips = match forward {
            true => Strips::<T>::new(&shape, runs),
            false => Strips::<T>::transposed(&shape, runs),
        };
        let bank = Bank::of(w, shape.taps);
        let bank = if forward { bank } else { bank.transposed() };
        RowKernel {
            shape,
            runs,
            w,
            blocked: strips.map(|st| (st, bank)),
            forward,
        }
    }

    /// Runs examples `rows` of `src` into the same rows of `out`.
    ///
    /// # Safety
    ///
    /// `src` holds those rows of the source's size (the input's forward, the
    /// output's backward), `out` those rows of the other, and `out` is not
    /// read by `src` or the weights.
    pub(crate) unsafe fn rows(
        &self,
        src: *const T,
        out: *mut T,
        rows: std::ops::Range<usize>,
    ) -> Result<(), cdlc_runtime::gemm::GemmError> {
        let s = &self.shape;
        let (x_size, y_size) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
        let (src_size, out_size) = match self.forward {
            true => (x_size, y_size),
            false => (y_size, x_size),
        };
        for row in rows {
            // SAFETY: the caller's contract.
            let (a, o) = unsafe {
                (
                    std::slice::from_raw_parts(src.add(row * src_size), src_size),
                    std::slice::from_raw_parts_mut(out.add(row * out_size), out_size),
                )
            };
            match (&self.blocked, self.forward) {
                (Some((st, bank)), _) => blocked::forward(st, *bank, a, o)?,
                (None, true) => conv::forward(s, self.runs, self.w, a, o)?,
                (None, false) => conv::input_grad(s, self.runs, self.w, a, o)?,
            }
        }
        Ok(())
    }
}

/// A product of the convolution that does not fit its operands: a bug in
/// the lowering, which the plan verifier should have caught.
fn internal(e: cdlc_runtime::gemm::GemmError) -> JitError {
    JitError::Internal(format!("a convolution's product: {e:?}"))
}

/// The multiply-adds of one example's convolution per output channel.
fn runs_madds(s: &conv::Shape, runs: &[conv::Run]) -> usize {
    s.in_channels * runs.iter().map(|r| r.len as usize).sum::<usize>()
}
