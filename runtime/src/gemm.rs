//! Matrix products for compiled kernels: `C = alpha A B + beta C`.
//!
//! `cdl_sgemm_batch` and `cdl_dgemm_batch` have a C ABI so that compiled
//! code can call them by symbol; they run a batch of per-example products
//! (separate or summed; one product is a batch of one). Sizes and strides
//! are `i64` (Cranelift's natural integer), strides are in elements and may
//! be negative, and either operand may be transposed by swapping its
//! strides. Tiny products run in a direct loop (`is_small`), mid-sized f32
//! ones in an AVX-512 kernel without packing (`direct`), products of a
//! few rows against a large transposed operand as dot products of its
//! contiguous rows (`dots`), large f32 ones in a packed, cache-blocked
//! AVX-512 kernel (`blocked`), the rest in `matrixmultiply`; with
//! `set_threads`, large products and batches are cut in two halves that
//! run side by side.
//! `epilogue::run` runs a product with elementwise work on its output
//! applied in registers or panel by panel (`docs/jit.md`).
//! `gemm` is the safe wrapper for Rust callers: it checks shapes and that
//! every element the strides reach lies inside its slice.

use crate::float::Float;
use crate::threads;
pub use crate::threads::set_threads;

mod blocked;
pub mod conv;
mod direct;
mod dots;
pub mod epilogue;
#[cfg(test)]
mod tests;

/// Whether this processor has AVX-512F, which the f32 kernels `blocked`,
/// `direct` and `dots` need (else products go to matrixmultiply).
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512() -> bool {
    false
}

/// Defines a C-ABI batch of products for one scalar type
/// (`cdl_sgemm_batch`, `cdl_dgemm_batch`).
macro_rules! c_abi_gemm_batch {
    ($(#[$doc:meta])* $name:ident, $t:ty) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $name(
            count: i64,
            sa: i64,
            sb: i64,
            sc: i64,
            m: i64,
            k: i64,
            n: i64,
            alpha: $t,
            a: *const $t,
            rsa: i64,
            csa: i64,
            b: *const $t,
            rsb: i64,
            csb: i64,
            beta: $t,
            c: *mut $t,
            rsc: i64,
            csc: i64,
        ) {
            let (Ok(count), Ok(m), Ok(k), Ok(n)) = (
                usize::try_from(count),
                usize::try_from(m),
                usize::try_from(k),
                usize::try_from(n),
            ) else {
                return;
            };
            let p = Product {
                m,
                k,
                n,
                alpha,
                a,
                rsa: rsa as isize,
                csa: csa as isize,
                b,
                rsb: rsb as isize,
                csb: csb as isize,
                beta,
                c,
                rsc: rsc as isize,
                csc: csc as isize,
            };
            // SAFETY: the caller guarantees the pointers and strides are valid.
            unsafe {
                Batch {
                    p,
                    count,
                    steps: [sa as isize, sb as isize, sc as isize],
                }
                .run()
            }
        }
    };
}

c_abi_gemm_batch!(
    /// `count` products `C_r = alpha A_r B_r + beta C_r` in f32, for the
    /// JIT's executor (one product is a batch of one).
    ///
    /// `A_0` is `m x k` with element `(i, l)` at `a[i * rsa + l * csa]`,
    /// `B_0` is `k x n`, `C_0` is `m x n`, likewise; `A_r` starts `r * sa`
    /// elements after `a`, and so on. With `sc == 0` the products are summed
    /// into one: `C = alpha Σ_r A_r B_r + beta C`. When `beta == 0`, `C` is
    /// not read (it may hold NaNs). Nothing is done when a size or the
    /// count is negative.
    ///
    /// # Safety
    ///
    /// Every element the sizes and strides reach must be valid to read (the
    /// `A_r`, `B_r`) or to read and write (the `C_r`); no `C_r` overlaps an
    /// `A` or a `B`, and with `sc != 0` the `C_r` do not overlap each other.
    cdl_sgemm_batch,
    f32
);

c_abi_gemm_batch!(
    /// `count` products in f64, for the executor; see `cdl_sgemm_batch`.
    ///
    /// # Safety
    ///
    /// As for `cdl_sgemm_batch`.
    cdl_dgemm_batch,
    f64
);

/// Whether a product runs in `small` rather than in `matrixmultiply`,
/// whose per-call cost (allocating and packing both operands, its thread
/// dispatch) dominates tiny products and products of one or two rows, such
/// as a batch-1 recurrent cell's `[1, 16] × [16, 16]`: at most `SMALL`
/// multiply-adds, or at most two rows and `SMALL_ROWS` entries of B.
/// Measured crossovers (`docs/performance.md`): `[1, 64] × [64, 64]` takes
/// a third of matrixmultiply's time here, `[16, 16] × [16, 16]` three times
/// as long.
fn is_small(m: usize, k: usize, n: usize) -> bool {
    let kn = k.saturating_mul(n);
    m.saturating_mul(kn) <= SMALL || (m <= 2 && kn <= SMALL_ROWS)
}

const SMALL: usize = 1024;
const SMALL_ROWS: usize = 8192;

/// Products (or batches of them) of at least this many multiply-adds are
/// split between two threads when `set_threads` allows it. Steps per second
/// with two threads at 2¹⁶ / 2¹⁷ / 2¹⁸ (rows of elementwise kernels split
/// from 2¹³ numbers): W2 685–721 / 721–727 / 705–714, W4 4480–4680 /
/// 4660–4760 / 4710–4740, W5 826–880 / 795–800 / 876–886; W1 is within
/// the noise.
const SPLIT: usize = 1 << 18;

/// One product `C = alpha A B + beta C` by raw pointers and strides (see
/// `cdl_sgemm_batch`), `A` being `m x k` with element `(i, l)` at
/// `a[i * rsa + l * csa]`, and likewise `B` (`k x n`) and `C` (`m x n`).
/// The two halves of a split product read A and B and write disjoint blocks
/// of C.
#[derive(Clone, Copy)]
struct Product<T> {
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
}

/// Which code computes a product (see `Product::kernel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// `small`: loops over rows of C, for tiny products.
    Small,
    /// `direct`: the AVX-512 kernel for f32 products whose B fits in L2.
    Direct,
    /// `dots`: the AVX-512 kernel for f32 products of a few rows against a
    /// large transposed B.
    Dots,
    /// `blocked`: the packed AVX-512 kernel for large f32 products.
    Blocked,
    /// `matrixmultiply`.
    Packed,
}

impl<T: GemmScalar> Product<T> {
    /// Computes the product; see `Batch::run`.
    ///
    /// # Safety
    ///
    /// As for `cdl_sgemm_batch`: every element the sizes and strides reach is
    /// valid, and C overlaps neither A nor B.
    unsafe fn run(self) {
        // SAFETY: forwarded from the caller.
        unsafe {
            Batch {
                p: self,
                count: 1,
                steps: [0; 3],
            }
            .run()
        }
    }

    /// Computes the product on this thread, in the kernel its own shape
    /// selects.
    ///
    /// # Safety
    ///
    /// As for `run`.
    unsafe fn here(self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.with(self.kernel()) }
    }

    /// The kernel for this product: `small` for tiny ones, `direct` when it
    /// takes the product, then `dots`, then `blocked` when they do, else
    /// `matrixmultiply` (f64, or no AVX-512).
    /// A product split between threads keeps the kernel of the whole
    /// product for both halves, so that every element of C is summed in the
    /// same order whether or not the product was split.
    fn kernel(&self) -> Kernel {
        if is_small(self.m, self.k, self.n) {
            return Kernel::Small;
        }
        match (self as &dyn std::any::Any).downcast_ref::<Product<f32>>() {
            Some(p) if direct::takes(p) => Kernel::Direct,
            Some(p) if dots::takes(p) => Kernel::Dots,
            Some(p) if blocked::takes(p) => Kernel::Blocked,
            _ => Kernel::Packed,
        }
    }

    /// Computes the product on this thread in `kernel`.
    ///
    /// # Safety
    ///
    /// As for `run`; `Kernel::Direct` only for a product `direct` takes, or
    /// a block of one (a block of a product keeps its strides, and has no
    /// more rows or columns).
    unsafe fn with(self, kernel: Kernel) {
        // SAFETY: forwarded from the caller.
        unsafe {
            match kernel {
                Kernel::Small => small(self),
                Kernel::Direct => {
                    let p = (&self as &dyn std::any::Any).downcast_ref::<Product<f32>>();
                    match p {
                        Some(&p) => direct::run(p),
                        None => self.raw(),
                    }
                }
                Kernel::Dots => {
                    match (&self as &dyn std::any::Any).downcast_ref::<Product<f32>>() {
                        Some(&p) => dots::run(p),
                        None => self.raw(),
                    }
                }
                Kernel::Blocked => {
                    match (&self as &dyn std::any::Any).downcast_ref::<Product<f32>>() {
                        Some(&p) => blocked::run(p),
                        None => self.raw(),
                    }
                }
                Kernel::Packed => self.raw(),
            }
        }
    }

    /// The product in `matrixmultiply`.
    ///
    /// # Safety
    ///
    /// As for `run`.
    unsafe fn raw(self) {
        let p = self;
        // SAFETY: forwarded from the caller.
        unsafe {
            T::raw(
                p.m, p.k, p.n, p.alpha, p.a, p.rsa, p.csa, p.b, p.rsb, p.csb, p.beta, p.c, p.rsc,
                p.csc,
            )
        }
    }

    /// Two blocks of C: the columns (or rows, when C is taller than wide)
    /// up to `h` and the rest, `h` a multiple of the micro-kernel's widths
    /// when that leaves both halves something. Columns are cut where a
    /// cache line of C starts, when there is such a place, so that the two
    /// threads never write the same line of a row (false sharing).
    fn halves(self) -> (Product<T>, Product<T>) {
        /// `h`, or the nearest column after it (else before it) where a
        /// 64-byte line of a contiguous row of C starts.
        fn aligned<T>(h: usize, n: usize, c: *mut T, csc: isize) -> usize {
            let size = std::mem::size_of::<T>();
            let off = (c.wrapping_add(h) as usize % 64) / size;
            let up = h + 64 / size - off;
            match () {
                _ if csc != 1 || off == 0 => h,
                _ if up < n => up,
                _ if off < h => h - off,
                _ => h,
            }
        }
        let half = |d: usize| match (d / 2).next_multiple_of(32) {
            h if h < d => h,
            _ => d / 2,
        };
        if self.n >= self.m {
            let h = aligned(half(self.n), self.n, self.c, self.csc);
            let rest = Product {
                n: self.n - h,
                b: self.b.wrapping_offset(h as isize * self.csb),
                c: self.c.wrapping_offset(h as isize * self.csc),
                ..self
            };
            (Product { n: h, ..self }, rest)
        } else {
            let h = half(self.m);
            let rest = Product {
                m: self.m - h,
                a: self.a.wrapping_offset(h as isize * self.rsa),
                c: self.c.wrapping_offset(h as isize * self.rsc),
                ..self
            };
            (Product { m: h, ..self }, rest)
        }
    }
}

/// `count` products of `p`'s shape, the `r`-th with A, B and C moved by
/// `r` times `steps` elements; summed into one C when C's step is 0 (see
/// `cdl_sgemm_batch`).
#[derive(Clone, Copy)]
struct Batch<T> {
    p: Product<T>,
    count: usize,
    steps: [isize; 3],
}

impl<T: GemmScalar> Batch<T> {
    /// Computes the products: when there are at least `SPLIT` multiply-adds
    /// and `threads::decide` splits products now, the batch is cut in two (separate outputs are
    /// split by products, summed ones by halves of C) and the halves run
    /// side by side; else one after the other here. Handing the helper one
    /// half of the batch instead of half of every product costs one
    /// hand-over per batch rather than one per example.
    ///
    /// # Safety
    ///
    /// As for `cdl_sgemm_batch`.
    #[inline]
    unsafe fn run(self) {
        let p = self.p;
        if self.count == 1 && is_small(p.m, p.k, p.n) {
            // The common case of a batch-1 model, without the bookkeeping.
            // SAFETY: forwarded from the caller.
            return unsafe { small(p) };
        }
        let work = p.m.saturating_mul(p.k).saturating_mul(p.n);
        let alone = self.count.saturating_mul(work) < SPLIT || p.m.max(p.n) < 2;
        let decision = (!alone).then(|| threads::decide(threads::Kind::Products));
        // The whole product's kernel, for both halves if it is split.
        let kernel = p.kernel();
        let (first, second) = if !decision.as_ref().is_some_and(|d| d.split()) {
            (self, None)
        } else if self.count >= 2 && self.steps[2] != 0 {
            let h = self.count / 2;
            let [sa, sb, sc] = self.steps;
            let at = |s: isize| h as isize * s;
            let rest = Product {
                a: p.a.wrapping_offset(at(sa)),
                b: p.b.wrapping_offset(at(sb)),
                c: p.c.wrapping_offset(at(sc)),
                ..p
            };
            let rest = Batch {
                p: rest,
                count: self.count - h,
                ..self
            };
            (Batch { count: h, ..self }, Some(rest))
        } else {
            let (x, y) = p.halves();
            (Batch { p: x, ..self }, Some(Batch { p: y, ..self }))
        };
        // SAFETY: forwarded from the caller; the halves write disjoint
        // parts of C and only read A and B.
        unsafe {
            match second {
                Some(second) => threads::join(|| first.serial(kernel), || second.serial(kernel)),
                None => first.serial(kernel),
            }
        }
        if let Some(d) = decision {
            d.done(self.count.saturating_mul(work));
        }
    }

    /// Computes the products one after the other on this thread.
    ///
    /// # Safety
    ///
    /// As for `run`.
    unsafe fn serial(self, kernel: Kernel) {
        let [sa, sb, sc] = self.steps;
        let p = self.p;
        if self.count == 0 && sc == 0 {
            // The sum of no products: C = beta C.
            // SAFETY: forwarded; k = 0 reads neither A nor B.
            return unsafe { Product { k: 0, ..p }.here() };
        }
        for r in 0..self.count as isize {
            let product = Product {
                a: p.a.wrapping_offset(r * sa),
                b: p.b.wrapping_offset(r * sb),
                c: p.c.wrapping_offset(r * sc),
                // Summed products add to the first one's.
                beta: if sc == 0 && r > 0 { T::ONE } else { p.beta },
                ..p
            };
            // SAFETY: forwarded from the caller, product by product.
            unsafe { product.with(kernel) };
        }
    }
}

/// A direct product for tiny sizes: each row of C is scaled (or cleared)
/// and then gathers `alpha a[i, l] B[l, ·]` for every `l`, a loop the
/// compiler vectorises when the rows of B and C are contiguous (with AVX2
/// and fused multiply-adds where the processor has them).
///
/// # Safety
///
/// As for `cdl_sgemm_batch`.
unsafe fn small<T: Float>(p: Product<T>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features were detected; the rest is the caller's.
        return unsafe { small_avx2(p) };
    }
    // SAFETY: forwarded from the caller.
    unsafe { small_loop::<T, false>(p) }
}

/// `small_loop` compiled for AVX2 with fused multiply-adds.
///
/// # Safety
///
/// As for `cdl_sgemm_batch`, on a processor with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn small_avx2<T: Float>(p: Product<T>) {
    // SAFETY: forwarded from the caller.
    unsafe { small_loop::<T, true>(p) }
}

/// The loops of `small`; `FUSED` uses `mul_add` (only where it is one
/// instruction).
///
/// # Safety
///
/// As for `cdl_sgemm_batch`.
#[inline(always)]
unsafe fn small_loop<T: Float, const FUSED: bool>(p: Product<T>) {
    let Product {
        m,
        k,
        n,
        alpha,
        a,
        rsa,
        csa,
        b,
        rsb,
        csb,
        beta,
        c,
        rsc,
        csc,
    } = p;
    let at = |i: usize, s: isize| i as isize * s;
    let madd = |x: T, v: T, o: T| if FUSED { x.mul_add(v, o) } else { o + x * v };
    // SAFETY: every offset below addresses an element of A, B or C within
    // the sizes and strides the caller vouched for; C overlaps neither.
    unsafe {
        for i in 0..m {
            let row = c.offset(at(i, rsc));
            for j in 0..n {
                let x = row.offset(at(j, csc));
                *x = if beta == T::ZERO { T::ZERO } else { beta * *x };
            }
            for l in 0..k {
                let x = alpha * *a.offset(at(i, rsa) + at(l, csa));
                let brow = b.offset(at(l, rsb));
                if csb == 1 && csc == 1 {
                    let out = std::slice::from_raw_parts_mut(row, n);
                    let inp = std::slice::from_raw_parts(brow, n);
                    for (o, &v) in out.iter_mut().zip(inp) {
                        *o = madd(x, v, *o);
                    }
                } else {
                    for j in 0..n {
                        let o = row.offset(at(j, csc));
                        *o = madd(x, *brow.offset(at(j, csb)), *o);
                    }
                }
            }
        }
    }
}

/// A matrix view into a slice: element `(i, j)` is
/// `data[offset + i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a, T> {
    /// The elements.
    pub data: &'a [T],
    /// Where element `(0, 0)` is.
    pub offset: usize,
    /// The number of rows.
    pub rows: usize,
    /// The number of columns.
    pub cols: usize,
    /// The distance between rows, in elements.
    pub row_stride: isize,
    /// The distance between columns, in elements.
    pub col_stride: isize,
}

impl<'a, T> Mat<'a, T> {
    /// A dense row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Mat<'a, T> {
        Mat {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same elements.
    pub fn t(self) -> Mat<'a, T> {
        Mat {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// A mutable matrix view; see `Mat`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// The elements.
    pub data: &'a mut [T],
    /// Where element `(0, 0)` is.
    pub offset: usize,
    /// The number of rows.
    pub rows: usize,
    /// The number of columns.
    pub cols: usize,
    /// The distance between rows, in elements.
    pub row_stride: isize,
    /// The distance between columns, in elements.
    pub col_stride: isize,
}

impl<'a, T> MatMut<'a, T> {
    /// A dense row-major `rows x cols` matrix.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> MatMut<'a, T> {
        MatMut {
            data,
            offset: 0,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }
}

/// A product whose operands do not fit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GemmError {
    /// The inner or outer dimensions disagree.
    #[error("cannot multiply {a_rows}x{a_cols} by {b_rows}x{b_cols} into {c_rows}x{c_cols}")]
    Shape {
        /// Rows of A.
        a_rows: usize,
        /// Columns of A.
        a_cols: usize,
        /// Rows of B.
        b_rows: usize,
        /// Columns of B.
        b_cols: usize,
        /// Rows of C.
        c_rows: usize,
        /// Columns of C.
        c_cols: usize,
    },
    /// A view reaches outside its slice.
    #[error("matrix {which} reaches outside its data")]
    OutOfBounds {
        /// `A`, `B` or `C`.
        which: &'static str,
    },
}

/// The scalar types `gemm` supports.
pub trait GemmScalar: Float + 'static {
    /// The raw product; see `cdl_sgemm_batch` for the contract.
    ///
    /// # Safety
    ///
    /// As for `cdl_sgemm_batch`, with strides already checked.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

macro_rules! impl_gemm_scalar {
    ($t:ty, $f:path) => {
        impl GemmScalar for $t {
            unsafe fn raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: $t,
                a: *const $t,
                rsa: isize,
                csa: isize,
                b: *const $t,
                rsb: isize,
                csb: isize,
                beta: $t,
                c: *mut $t,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded from the caller.
                unsafe { $f(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_gemm_scalar!(f32, matrixmultiply::sgemm);
impl_gemm_scalar!(f64, matrixmultiply::dgemm);

/// Whether every element of a `rows x cols` view lies in `0..len`.
fn in_bounds(len: usize, offset: usize, rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    // The lowest and highest offsets along one axis.
    let span = |n: usize, s: isize| {
        let far = (n as i128 - 1) * s as i128;
        (far.min(0), far.max(0))
    };
    let (r_lo, r_hi) = span(rows, rs);
    let (c_lo, c_hi) = span(cols, cs);
    let lo = offset as i128 + r_lo + c_lo;
    let hi = offset as i128 + r_hi + c_hi;
    lo >= 0 && hi < len as i128
}

/// `C = alpha A B + beta C`, checked. When `beta == 0`, `C` is not read.
pub fn gemm<T: GemmScalar>(
    alpha: T,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<(), GemmError> {
    if let Some(p) = checked(alpha, (a, b), beta, c)? {
        // SAFETY: `checked` vouches for the views.
        unsafe { p.run() };
    }
    Ok(())
}

/// `gemm` on this thread, never split, in the kernel that a product of
/// `whole` rows (of which this one is a block of rows with the same
/// strides) selects: blocks of rows computed apart, on one thread or two,
/// then sum every element of C in the same order.
pub(crate) fn gemm_block<T: GemmScalar>(
    alpha: T,
    (a, b): (Mat<'_, T>, Mat<'_, T>),
    beta: T,
    c: MatMut<'_, T>,
    whole: usize,
) -> Result<(), GemmError> {
    if let Some(p) = checked(alpha, (a, b), beta, c)? {
        // SAFETY: `checked` vouches for the views; the kernel of the whole
        // product takes a block of its rows (`Product::with`).
        unsafe { p.with(Product { m: whole, ..p }.kernel()) };
    }
    Ok(())
}

/// The product of the views after `check_views`, or `None` when C is
/// empty. Every element the product reaches lies in its view's slice, and
/// C, a unique borrow, overlaps neither input.
fn checked<T: GemmScalar>(
    alpha: T,
    (a, b): (Mat<'_, T>, Mat<'_, T>),
    beta: T,
    c: MatMut<'_, T>,
) -> Result<Option<Product<T>>, GemmError> {
    check_views(&a, &b, &c)?;
    if c.rows == 0 || c.cols == 0 {
        return Ok(None);
    }
    // SAFETY: the views were checked.
    Ok(Some(unsafe { viewed(alpha, a, b, beta, c) }))
}

/// Whether the views' shapes agree and every element they reach lies in
/// its slice.
fn check_views<T>(a: &Mat<'_, T>, b: &Mat<'_, T>, c: &MatMut<'_, T>) -> Result<(), GemmError> {
    if a.cols != b.rows || a.rows != c.rows || b.cols != c.cols {
        return Err(GemmError::Shape {
            a_rows: a.rows,
            a_cols: a.cols,
            b_rows: b.rows,
            b_cols: b.cols,
            c_rows: c.rows,
            c_cols: c.cols,
        });
    }
    let checks = [
        (
            "A",
            a.data.len(),
            a.offset,
            a.rows,
            a.cols,
            a.row_stride,
            a.col_stride,
        ),
        (
            "B",
            b.data.len(),
            b.offset,
            b.rows,
            b.cols,
            b.row_stride,
            b.col_stride,
        ),
        (
            "C",
            c.data.len(),
            c.offset,
            c.rows,
            c.cols,
            c.row_stride,
            c.col_stride,
        ),
    ];
    for (which, len, offset, rows, cols, rs, cs) in checks {
        if !in_bounds(len, offset, rows, cols, rs, cs) {
            return Err(GemmError::OutOfBounds { which });
        }
    }
    Ok(())
}

/// The product of views `gemm` checked.
///
/// # Safety
///
/// The shapes agree and every element the views reach lies in its slice.
unsafe fn viewed<T: GemmScalar>(
    alpha: T,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Product<T> {
    // An empty A or B has no element (0, 0); its pointer is never read.
    let ptr = |data: &[T], offset: usize| data.as_ptr().wrapping_add(offset);
    // SAFETY: the offset lies in the slice (the caller).
    unsafe {
        Product {
            m: a.rows,
            k: a.cols,
            n: b.cols,
            alpha,
            a: ptr(a.data, a.offset),
            rsa: a.row_stride,
            csa: a.col_stride,
            b: ptr(b.data, b.offset),
            rsb: b.row_stride,
            csb: b.col_stride,
            beta,
            c: c.data.as_mut_ptr().add(c.offset),
            rsc: c.row_stride,
            csc: c.col_stride,
        }
    }
}
