//! Blocked direct convolutions: every tap of a block of output points
//! accumulated in registers, the input read once per block.
//!
//! The tap-by-tap kernels (`conv::forward` and its adjoints) run one
//! product per tap, so the output is read and written once per tap and
//! each product is thin. Here a block is up to `ROWS` output channels ×
//! two strips of `LANES` points (`Strips`); for each input channel and
//! tap, the tap's vector over each strip (one masked load per piece)
//! meets the block's weights in registers, and the block is stored once:
//!
//! - `forward`: `y = W ⋆ x`;
//! - the transposed convolution `dx = Wᵀ ⋆ dy` is `forward` over the
//!   transposed strips (`Strips::transposed`) with the bank's channels
//!   swapped (`Bank::transposed`);
//! - `weight_grad`: `dW += Σ_rows dy ⋆ x`, summed lane by lane over the
//!   rows and strips in a per-call buffer of `LANES` partial sums per
//!   weight, whose lanes are added once at the end. Output channels are
//!   independent, so a range of them (`channels`) is one thread's share,
//!   and the sums do not depend on how the channels are shared.
//!
//! f32 on a processor with AVX-512F runs `conv::avx512`; anything else
//! the same loops over arrays of lanes here.

use std::any::TypeId;
use std::ops::Range;

use super::strips::{LANES, Piece, Strips};
use super::{GemmError, Shape, Weights};
use crate::float::Float;

/// Output channels per block.
pub const ROWS: usize = 8;

/// A filter bank `W[p, q, e]` at `data[p·sp + q·sq + e·se]`.
#[derive(Clone, Copy, Debug)]
pub struct Bank<'a, T> {
    /// The numbers the strides index.
    pub data: &'a [T],
    /// The stride between output channels.
    pub sp: usize,
    /// The stride between input channels.
    pub sq: usize,
    /// The stride between taps.
    pub se: usize,
}

impl<'a, T: Copy> Bank<'a, T> {
    /// The bank of weights `W[p, q·K + e]` for a convolution with `taps`
    /// taps.
    pub fn of(w: Weights<'a, T>, taps: usize) -> Bank<'a, T> {
        Bank {
            data: w.data,
            sp: w.rs,
            sq: taps * w.cs,
            se: w.cs,
        }
    }

    /// The same numbers with output and input channels swapped: the
    /// transposed convolution's bank.
    pub fn transposed(self) -> Bank<'a, T> {
        Bank {
            sp: self.sq,
            sq: self.sp,
            ..self
        }
    }

    /// Whether every weight of a convolution of shape `s` lies in `data`.
    fn fits(&self, s: &Shape) -> bool {
        let (d, c, k) = (s.out_channels, s.in_channels, s.taps);
        d * c * k == 0
            || (d - 1) * self.sp + (c - 1) * self.sq + (k - 1) * self.se < self.data.len()
    }

    /// `W[p, q, e]`.
    #[inline]
    fn at(&self, p: usize, q: usize, e: usize) -> T {
        self.data[p * self.sp + q * self.sq + e * self.se]
    }
}

/// Whether `T` is `f32` and the processor has AVX-512F.
fn avx512<T: 'static>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        TypeId::of::<T>() == TypeId::of::<f32>() && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y = W ⋆ x` for one example over `st`'s strips: `x` is `[c, N]`, `y`
/// `[d, M]`, row-major.
pub fn forward<T: Float>(
    st: &Strips<T>,
    w: Bank<'_, T>,
    x: &[T],
    y: &mut [T],
) -> Result<(), GemmError> {
    let s = &st.shape;
    check(w.fits(s), "W")?;
    check(x.len() >= s.in_channels * s.in_points, "x")?;
    check(y.len() >= s.out_channels * s.out_points, "y")?;
    if avx512::<T>() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `T` is f32 (checked above), so the casts change no
        // type; the sizes were checked; the processor has AVX-512F.
        unsafe {
            super::avx512::forward(st.retype(), cast_bank(w), x.retype(), cast_mut(y));
        }
        return Ok(());
    }
    forward_lanes(st, w, x, y);
    Ok(())
}

/// `dW[p, q·K + e] += Σ_rows Σ_i dy[p, i] · v_e(i) · x[q, σ_e(i)]` for the
/// output channels `channels`: `xs` holds `rows` examples of `[c, N]`,
/// `dys` of `[d, M]`; `dw[(p - channels.start)·cK + q·K + e]` (dense,
/// `channels.len() × cK`) receives the sums.
pub fn weight_grad<T: Float>(
    st: &Strips<T>,
    xs: &[T],
    dys: &[T],
    rows: usize,
    channels: Range<usize>,
    dw: &mut [T],
) -> Result<(), GemmError> {
    let s = &st.shape;
    let cols = s.in_channels * s.taps;
    check(channels.end <= s.out_channels, "dW")?;
    check(dw.len() >= channels.len() * cols, "dW")?;
    check(xs.len() >= rows * s.in_channels * s.in_points, "x")?;
    check(dys.len() >= rows * s.out_channels * s.out_points, "dy")?;
    // Per weight, `LANES` partial sums.
    let mut acc = vec![T::ZERO; channels.len() * cols * LANES];
    if avx512::<T>() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `forward`.
        unsafe {
            super::avx512::weight_grad(
                st.retype(),
                xs.retype(),
                dys.retype(),
                rows,
                channels.clone(),
                cast_mut(&mut acc),
            );
        }
    } else {
        weight_grad_lanes(st, xs, dys, rows, channels.clone(), &mut acc);
    }
    for (sum, lanes) in dw.iter_mut().zip(acc.chunks_exact(LANES)) {
        *sum += lanes.iter().fold(T::ZERO, |a, &b| a + b);
    }
    Ok(())
}

fn check(ok: bool, which: &'static str) -> Result<(), GemmError> {
    ok.then_some(()).ok_or(GemmError::OutOfBounds { which })
}

/// Strip `j`'s vector of tap `e` over `x` (one input channel), into `v`.
#[inline]
fn tap_lanes<T: Float>(pieces: &[Piece<T>], start: usize, x: &[T], v: &mut [T; LANES]) {
    *v = [T::ZERO; LANES];
    for p in pieces {
        for (l, lane) in v.iter_mut().enumerate() {
            if p.mask & (1 << l) != 0 {
                let at = (start + l) as i64 + i64::from(p.delta);
                *lane = p.value * x[at as usize];
            }
        }
    }
}

/// `forward` on arrays of lanes: the reference the AVX-512 kernel follows
/// (one block of output channels × one strip at a time here).
fn forward_lanes<T: Float>(st: &Strips<T>, w: Bank<'_, T>, x: &[T], y: &mut [T]) {
    let s = &st.shape;
    let (n, m) = (s.in_points, s.out_points);
    let mut v = [T::ZERO; LANES];
    for j in 0..st.count() {
        let start = j * LANES;
        let width = (m - start).min(LANES);
        for p in 0..s.out_channels {
            let mut acc = [T::ZERO; LANES];
            for q in 0..s.in_channels {
                let xq = &x[q * n..(q + 1) * n];
                for e in 0..s.taps {
                    tap_lanes(st.pieces(j, e), start, xq, &mut v);
                    let wt = w.at(p, q, e);
                    for (a, &b) in acc.iter_mut().zip(&v) {
                        *a = wt.mul_add(b, *a);
                    }
                }
            }
            y[p * m + start..p * m + start + width].copy_from_slice(&acc[..width]);
        }
    }
}

/// `weight_grad`'s lane sums on arrays of lanes.
fn weight_grad_lanes<T: Float>(
    st: &Strips<T>,
    xs: &[T],
    dys: &[T],
    rows: usize,
    channels: Range<usize>,
    acc: &mut [T],
) {
    let s = &st.shape;
    let (n, m, k) = (s.in_points, s.out_points, s.taps);
    let cols = s.in_channels * k;
    let mut v = [T::ZERO; LANES];
    for row in 0..rows {
        let x = &xs[row * s.in_channels * n..];
        let dy = &dys[row * s.out_channels * m..];
        for j in 0..st.count() {
            let start = j * LANES;
            let width = (m - start).min(LANES);
            for col in 0..cols {
                let (q, e) = (col / k, col % k);
                tap_lanes(st.pieces(j, e), start, &x[q * n..(q + 1) * n], &mut v);
                for (i, p) in channels.clone().enumerate() {
                    let d = &dy[p * m + start..p * m + start + width];
                    let a = &mut acc[(i * cols + col) * LANES..][..LANES];
                    for ((a, &d), &v) in a.iter_mut().zip(d).zip(&v) {
                        *a = d.mul_add(v, *a);
                    }
                }
            }
        }
    }
}

/// `s` as a mutable slice of f32.
///
/// # Safety
///
/// `T` is f32.
#[cfg(target_arch = "x86_64")]
unsafe fn cast_mut<T>(s: &mut [T]) -> &mut [f32] {
    // SAFETY: `T` is f32, so the layout is the same.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) }
}

/// A bank of `T` as one of f32.
///
/// # Safety
///
/// `T` is f32.
#[cfg(target_arch = "x86_64")]
unsafe fn cast_bank<T>(b: Bank<'_, T>) -> Bank<'_, f32> {
    Bank {
        // SAFETY: forwarded from the caller.
        data: unsafe { std::slice::from_raw_parts(b.data.as_ptr() as *const f32, b.data.len()) },
        sp: b.sp,
        sq: b.sq,
        se: b.se,
    }
}

/// A borrowed value of a type generic in the scalar `T`, seen as the same
/// type over f32.
#[cfg(target_arch = "x86_64")]
trait Retype<T> {
    /// The type over f32.
    type Of: ?Sized;
    /// `self` over f32.
    ///
    /// # Safety
    ///
    /// `T` is f32.
    unsafe fn retype(&self) -> &Self::Of;
}

#[cfg(target_arch = "x86_64")]
impl<T> Retype<T> for [T] {
    type Of = [f32];
    unsafe fn retype(&self) -> &[f32] {
        // SAFETY: `T` is f32, so the layout is the same.
        unsafe { std::slice::from_raw_parts(self.as_ptr() as *const f32, self.len()) }
    }
}

#[cfg(target_arch = "x86_64")]
impl<T> Retype<T> for Strips<T> {
    type Of = Strips<f32>;
    unsafe fn retype(&self) -> &Strips<f32> {
        // SAFETY: `T` is f32, so `Strips<T>` is `Strips<f32>`.
        unsafe { &*(self as *const Strips<T> as *const Strips<f32>) }
    }
}

#[cfg(test)]
pub(super) mod tests;
