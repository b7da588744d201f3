//! The helper a straight-line step calls for a direct convolution
//! (`Instr::Conv`): the kernels the executor runs (`exec/conv.rs`: the
//! blocked kernels over strips or, for a wide weight gradient, products
//! with the columns; tap by tap where the runs cannot be cut into
//! strips), on the calling thread. The executor's split between
//! threads cuts the same rows, and the weight gradient's channel sums do
//! not depend on the share, so the numbers are the same.

use cdlc_runtime::gemm::conv::{self, Weights};

use crate::exec::Elem;
use crate::exec::conv::{RowKernel, WeightKernel, add_sums};
use crate::plan::{ConvCode, ConvKind};

/// Runs `c` over `rows` rows; returns whether the kernels accepted every
/// row's operands (the lowering checked them, `plan::verify`, so a refusal
/// is a bug there, which the step reports as the executor does).
///
/// # Safety
///
/// `ptrs` holds the operands `trace/conv.rs` lists for `c.kind` (two
/// inputs, then the buffer written), each covering `rows` rows of its
/// size (the weights their span), and the written buffer is neither input.
pub(super) unsafe fn run<T: Elem>(c: &ConvCode, rows: usize, ptrs: *const *mut u8) -> bool {
    let s = c.taps.shape;
    let (x_size, y_size) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
    let span = s.weight_span(c.w.rs, c.w.cs);
    let runs = &c.taps.runs[..];
    // SAFETY: the caller's contract.
    let (p0, p1, out) = unsafe {
        (
            *ptrs as *const T,
            *ptrs.add(1) as *const T,
            *ptrs.add(2) as *mut T,
        )
    };
    let done = match c.kind {
        ConvKind::WeightGrad => {
            // SAFETY: the caller's contract: `x` and `y` hold `rows` rows,
            // the output the weights' span.
            let (x, y, dw) = unsafe {
                (
                    std::slice::from_raw_parts(p0, rows * x_size),
                    std::slice::from_raw_parts(p1, rows * y_size),
                    std::slice::from_raw_parts_mut(out, span),
                )
            };
            dw.fill(T::ZERO);
            match WeightKernel::<T>::new(&s, runs) {
                Some(kernel) => {
                    let (cols, d) = (s.in_channels * s.taps, s.out_channels);
                    let mut sums = vec![T::ZERO; d * cols];
                    let done = kernel.sums(runs, (x, y), rows, 0..d, &mut sums);
                    add_sums(&sums, cols, dw, (c.w.rs, c.w.cs));
                    done
                }
                None => x
                    .chunks_exact(x_size.max(1))
                    .zip(y.chunks_exact(y_size.max(1)))
                    .try_for_each(|(x, y)| conv::weight_grad(&s, runs, x, y, dw, (c.w.rs, c.w.cs))),
            }
        }
        ConvKind::Forward | ConvKind::InputGrad => {
            // SAFETY: the caller's contract.
            let w = Weights {
                data: unsafe { std::slice::from_raw_parts(p0, span) },
                rs: c.w.rs,
                cs: c.w.cs,
            };
            // SAFETY: the caller's contract: `rows` rows of the source and
            // of the output.
            unsafe { RowKernel::new(c, w).rows(p1, out, 0..rows) }
        }
    };
    done.is_ok()
}
