//! A direct convolution through runs of taps: the product of a map's
//! coefficients with the shifted copies of its input, computed without
//! materialising the copies.
//!
//! An equivariant map whose inner basis elements are shifts (a `cyclic(n)`
//! or p4 map with `local(r)`) is, per example,
//!
//!   y[p, i] = Σ_q Σ_e W[p, q·K + e] · v_e(i) · x[q, σ_e(i)],
//!
//! with `K` inner elements (taps), `σ_e` the point tap `e` reads for output
//! point `i` and `v_e(i)` its value. A *run* is a maximal range of output
//! points over which one tap reads consecutive input points with one value
//! (a ring's cyclic shift is two runs, a torus' translation two per row of
//! the image). Over a run the map is a product of the weights' tap slice
//! with a contiguous window of the input, so the three kernels here walk
//! the runs and stream windows of `x` and `y` in place:
//!
//! - `forward`: `y = W ⋆ x`;
//! - `input_grad`: `dx = Wᵀ ⋆ dy`, the transposed convolution;
//! - `weight_grad`: `dW += dy ⋆ x`, correlations of the output's cotangent
//!   with the input's windows.
//!
//! Each is the adjoint of the others in its operands, and each adds over
//! the runs in the same order whatever the thread count (deterministic).

use crate::float::Float;

/// A range of output points over which one tap reads consecutive input
/// points with one value: `y[·, out + t]` reads `value · x[·, src + t]` for
/// `t < len`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    /// The tap (inner basis element) `e`.
    pub tap: u32,
    /// The first output point.
    pub out: u32,
    /// The first input point.
    pub src: u32,
    /// The number of points.
    pub len: u32,
    /// The tap's value over the run.
    pub value: f64,
}

/// The sizes of a convolution through runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Output channels `d`.
    pub out_channels: usize,
    /// Input channels `c`.
    pub in_channels: usize,
    /// Taps `K` per input channel.
    pub taps: usize,
    /// Input points `N` per channel.
    pub in_points: usize,
    /// Output points `M` per channel.
    pub out_points: usize,
}

impl Shape {
    /// The numbers weights `W[p, q·K + e]` at strides `(rs, cs)` span.
    pub fn weight_span(&self, rs: usize, cs: usize) -> usize {
        let cols = self.in_channels * self.taps;
        if self.out_channels == 0 || cols == 0 {
            return 0;
        }
        (self.out_channels - 1) * rs + (cols - 1) * cs + 1
    }
}

/// The weights `W[p, q·K + e]` at `data[p·rs + (q·K + e)·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Weights<'a, T> {
    /// The numbers the strides index.
    pub data: &'a [T],
    /// The stride between output channels.
    pub rs: usize,
    /// The stride between the columns `q·K + e`.
    pub cs: usize,
}

impl<T: Float> Weights<'_, T> {
    /// `W[p, q·K + e]`.
    #[inline(always)]
    fn at(&self, p: usize, col: usize) -> T {
        self.data[p * self.rs + col * self.cs]
    }
}

/// The largest tap, output point and input point (exclusive bounds) the
/// runs reach, to be checked against the shape's `taps`, `out_points` and
/// `in_points`.
pub fn runs_reach(runs: &[Run]) -> [usize; 3] {
    runs.iter().fold([0; 3], |[t, o, s], r| {
        [
            t.max(r.tap as usize + 1),
            o.max((r.out + r.len) as usize),
            s.max((r.src + r.len) as usize),
        ]
    })
}

/// How many points one accumulator holds: one 512-bit vector of f32.
const LANES: usize = 16;

/// Defines a kernel that runs its body compiled for AVX-512 when the
/// machine has it (the body's loops then keep a window in one register),
/// and as written otherwise.
macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident, $body:ident, $fast:ident, ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name<T: Float>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the feature was detected on this machine.
                return unsafe { $fast($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn $fast<T: Float>($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

dispatched!(
    /// `y = W ⋆ x` for one example: `x` is `[c, N]`, `y` `[d, M]`, both
    /// row-major; points no run writes are zero.
    forward, forward_body, forward_avx512,
    (s: &Shape, runs: &[Run], w: Weights<'_, T>, x: &[T], y: &mut [T])
);

dispatched!(
    /// `dx = Wᵀ ⋆ dy` for one example, the adjoint of `forward` in `x`:
    /// `dy` is `[d, M]`, `dx` `[c, N]`; points no run reads are zero.
    input_grad, input_grad_body, input_grad_avx512,
    (s: &Shape, runs: &[Run], w: Weights<'_, T>, dy: &[T], dx: &mut [T])
);

dispatched!(
    /// `dW += dy ⋆ x` for one example, the adjoint of `forward` in `W`:
    /// adds `Σ_t value · dy[p, out + t] · x[q, src + t]` to
    /// `dW[p, q·K + e]` at `dw[p·rs + (q·K + e)·cs]`.
    weight_grad, weight_grad_body, weight_grad_avx512,
    (s: &Shape, runs: &[Run], x: &[T], dy: &[T], dw: &mut [T], strides: (usize, usize))
);

#[inline(always)]
fn forward_body<T: Float>(s: &Shape, runs: &[Run], w: Weights<'_, T>, x: &[T], y: &mut [T]) {
    y[..s.out_channels * s.out_points].fill(T::ZERO);
    for run in runs {
        let (len, value) = (run.len as usize, T::from_f64(run.value));
        for p in 0..s.out_channels {
            let out = p * s.out_points + run.out as usize;
            windows(len, &mut y[out..out + len], |t0, acc| {
                for q in 0..s.in_channels {
                    let a = value * w.at(p, q * s.taps + run.tap as usize);
                    let src = q * s.in_points + run.src as usize + t0;
                    axpy(acc, a, &x[src..src + acc.len()]);
                }
            });
        }
    }
}

#[inline(always)]
fn input_grad_body<T: Float>(s: &Shape, runs: &[Run], w: Weights<'_, T>, dy: &[T], dx: &mut [T]) {
    dx[..s.in_channels * s.in_points].fill(T::ZERO);
    for run in runs {
        let (len, value) = (run.len as usize, T::from_f64(run.value));
        for q in 0..s.in_channels {
            let col = q * s.taps + run.tap as usize;
            let src = q * s.in_points + run.src as usize;
            windows(len, &mut dx[src..src + len], |t0, acc| {
                for p in 0..s.out_channels {
                    let a = value * w.at(p, col);
                    let out = p * s.out_points + run.out as usize + t0;
                    axpy(acc, a, &dy[out..out + acc.len()]);
                }
            });
        }
    }
}

#[inline(always)]
fn weight_grad_body<T: Float>(
    s: &Shape,
    runs: &[Run],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    (rs, cs): (usize, usize),
) {
    for run in runs {
        let (len, value) = (run.len as usize, T::from_f64(run.value));
        for p in 0..s.out_channels {
            let out = p * s.out_points + run.out as usize;
            let dy = &dy[out..out + len];
            for q in 0..s.in_channels {
                let src = q * s.in_points + run.src as usize;
                let col = q * s.taps + run.tap as usize;
                dw[p * rs + col * cs] += value * dot(dy, &x[src..src + len]);
            }
        }
    }
}

/// Walks `dst` in windows of at most `LANES` points: `fill(t0, acc)` adds
/// the window starting at point `t0` into the zeroed `acc` (its length the
/// window's), which is then added to the window of `dst`. Full windows use
/// a fixed-size accumulator, so that it stays in registers.
#[inline(always)]
fn windows<T: Float>(len: usize, dst: &mut [T], mut fill: impl FnMut(usize, &mut [T])) {
    let full = len - len % LANES;
    for t0 in (0..full).step_by(LANES) {
        let mut acc = [T::ZERO; LANES];
        fill(t0, &mut acc);
        for (d, a) in dst[t0..t0 + LANES].iter_mut().zip(acc) {
            *d += a;
        }
    }
    if full < len {
        let mut acc = [T::ZERO; LANES];
        let tail = &mut acc[..len - full];
        fill(full, tail);
        for (d, &a) in dst[full..len].iter_mut().zip(tail.iter()) {
            *d += a;
        }
    }
}

/// `acc += a · xs` (the lengths equal).
#[inline(always)]
fn axpy<T: Float>(acc: &mut [T], a: T, xs: &[T]) {
    for (o, &x) in acc.iter_mut().zip(xs) {
        *o += a * x;
    }
}

/// `Σ a_t b_t` over equal lengths, in `LANES` independent partial sums
/// added at the end.
#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for ((l, &u), &v) in lanes.iter_mut().zip(xa).zip(xb) {
            *l += u * v;
        }
    }
    for ((l, &u), &v) in lanes.iter_mut().zip(ta).zip(tb) {
        *l += u * v;
    }
    lanes.iter().fold(T::ZERO, |s, &l| s + l)
}

#[cfg(test)]
mod tests;
