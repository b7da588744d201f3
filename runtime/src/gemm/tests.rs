//! Products against a naive triple loop, with transposed, offset and
//! reversed strides, through both the C ABI and the checked wrapper, on
//! both sides of the small-product threshold (`SMALL`).

use super::*;
use crate::data::splitmix::uniform;

/// `C = alpha A B + beta C` element by element, in f64.
#[allow(clippy::too_many_arguments)]
fn naive(
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    a: impl Fn(usize, usize) -> f64,
    b: impl Fn(usize, usize) -> f64,
    beta: f64,
    c: &[f64],
) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k).map(|l| a(i, l) * b(l, j)).sum();
            out[i * n + j] = alpha * dot + beta * c[i * n + j];
        }
    }
    out
}

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

fn data(stream: u64, n: usize) -> Vec<f64> {
    uniform(stream, &[n], 1.0)
        .into_iter()
        .map(f64::from)
        .collect()
}

#[test]
fn row_major_and_transposed_operands() {
    // Both sides of each threshold.
    assert!(is_small(8, 8, 16) && !is_small(8, 8, 17));
    assert!(is_small(2, 64, 128) && !is_small(2, 64, 129) && !is_small(3, 64, 64));
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 5, 7),
        (8, 8, 16),
        (8, 8, 17),
        (2, 64, 128),
        (3, 64, 64),
        (17, 33, 9),
        (64, 32, 48),
    ] {
        let a = data(1, m * k);
        let b = data(2, k * n);
        let c0 = data(3, m * n);
        // A B.
        let want = naive(
            m,
            k,
            n,
            1.5,
            |i, l| a[i * k + l],
            |l, j| b[l * n + j],
            -0.5,
            &c0,
        );
        let mut c = c0.clone();
        gemm(
            1.5,
            Mat::row_major(&a, m, k),
            Mat::row_major(&b, k, n),
            -0.5,
            MatMut::row_major(&mut c, m, n),
        )
        .expect("shapes agree");
        close(&c, &want, 1e-12);
        // A^T B^T, with A stored k x m and B stored n x k.
        let at = data(4, k * m);
        let bt = data(5, n * k);
        let want = naive(
            m,
            k,
            n,
            1.0,
            |i, l| at[l * m + i],
            |l, j| bt[j * k + l],
            0.0,
            &c0,
        );
        let mut c = vec![f64::NAN; m * n];
        gemm(
            1.0,
            Mat::row_major(&at, k, m).t(),
            Mat::row_major(&bt, n, k).t(),
            0.0,
            MatMut::row_major(&mut c, m, n),
        )
        .expect("shapes agree");
        close(&c, &want, 1e-12);
    }
}

#[test]
fn the_c_abi_in_f32_with_column_major_output() {
    let (m, k, n) = (5usize, 4usize, 3usize);
    let a: Vec<f32> = uniform(7, &[k, m], 1.0); // stored k x m: A^T
    let b: Vec<f32> = uniform(8, &[k, n], 1.0);
    let mut c = vec![0.0f32; m * n]; // column-major: (i, j) at i + j * m
    // SAFETY: every pointer covers the elements its sizes and strides reach.
    unsafe {
        cdl_sgemm_batch(
            1,
            0,
            0,
            0,
            m as i64,
            k as i64,
            n as i64,
            1.0,
            a.as_ptr(),
            1,
            m as i64,
            b.as_ptr(),
            n as i64,
            1,
            0.0,
            c.as_mut_ptr(),
            1,
            m as i64,
        );
    }
    let want = naive(
        m,
        k,
        n,
        1.0,
        |i, l| f64::from(a[l * m + i]),
        |l, j| f64::from(b[l * n + j]),
        0.0,
        &vec![0.0; m * n],
    );
    let got: Vec<f64> = (0..m * n)
        .map(|t| f64::from(c[(t / n) + (t % n) * m]))
        .collect();
    close(&got, &want, 1e-5);
}

#[test]
fn the_c_abi_in_f64_and_degenerate_sizes() {
    let a = [1.0, 2.0, 3.0, 4.0]; // 2 x 2
    let b = [5.0, 6.0, 7.0, 8.0];
    let mut c = [1.0, 1.0, 1.0, 1.0];
    // SAFETY: 2 x 2 row-major views of 4-element arrays.
    unsafe {
        cdl_dgemm_batch(
            1,
            0,
            0,
            0,
            2,
            2,
            2,
            1.0,
            a.as_ptr(),
            2,
            1,
            b.as_ptr(),
            2,
            1,
            2.0,
            c.as_mut_ptr(),
            2,
            1,
        )
    };
    // [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]] + 2 = [[21, 24], [45, 52]].
    assert_eq!(c, [21.0, 24.0, 45.0, 52.0]);
    // k = 0: C = beta C.
    // SAFETY: no element of A or B is reached; C is 2 x 2.
    unsafe {
        cdl_dgemm_batch(
            1,
            0,
            0,
            0,
            2,
            0,
            2,
            1.0,
            a.as_ptr(),
            0,
            1,
            b.as_ptr(),
            2,
            1,
            0.5,
            c.as_mut_ptr(),
            2,
            1,
        )
    };
    assert_eq!(c, [10.5, 12.0, 22.5, 26.0]);
    // A negative size does nothing.
    // SAFETY: nothing is reached.
    unsafe {
        cdl_dgemm_batch(
            1,
            0,
            0,
            0,
            -1,
            2,
            2,
            1.0,
            a.as_ptr(),
            2,
            1,
            b.as_ptr(),
            2,
            1,
            0.0,
            c.as_mut_ptr(),
            2,
            1,
        )
    };
    assert_eq!(c, [10.5, 12.0, 22.5, 26.0]);
}

#[test]
fn offsets_and_negative_strides() {
    // A is rows 1..3 of a 4 x 3 matrix read bottom-up; B the middle 3 x 2
    // block of a 5 x 4 matrix.
    let big_a = data(9, 12);
    let big_b = data(10, 20);
    let a = Mat {
        data: &big_a,
        offset: 2 * 3,
        rows: 2,
        cols: 3,
        row_stride: -3,
        col_stride: 1,
    };
    let b = Mat {
        data: &big_b,
        offset: 4 + 1,
        rows: 3,
        cols: 2,
        row_stride: 4,
        col_stride: 1,
    };
    let mut c = vec![0.0; 4];
    gemm(1.0, a, b, 0.0, MatMut::row_major(&mut c, 2, 2)).expect("in bounds");
    let want = naive(
        2,
        3,
        2,
        1.0,
        |i, l| big_a[(2 - i) * 3 + l],
        |l, j| big_b[(1 + l) * 4 + 1 + j],
        0.0,
        &c,
    );
    close(&c, &want, 1e-12);
}

#[test]
fn bad_views_are_errors() {
    let a = [0.0; 6];
    let mut c = [0.0; 4];
    assert!(matches!(
        gemm(
            1.0,
            Mat::row_major(&a, 2, 3),
            Mat::row_major(&a, 2, 3),
            0.0,
            MatMut::row_major(&mut c, 2, 2)
        ),
        Err(GemmError::Shape { .. })
    ));
    let too_far = Mat {
        data: &a,
        offset: 1,
        rows: 2,
        cols: 3,
        row_stride: 3,
        col_stride: 1,
    };
    assert_eq!(
        gemm(
            1.0,
            too_far,
            Mat::row_major(&a, 3, 2),
            0.0,
            MatMut::row_major(&mut c, 2, 2)
        ),
        Err(GemmError::OutOfBounds { which: "A" })
    );
    let backwards = Mat {
        data: &a,
        offset: 0,
        rows: 2,
        cols: 3,
        row_stride: -3,
        col_stride: 1,
    };
    assert_eq!(
        gemm(
            1.0,
            backwards,
            Mat::row_major(&a, 3, 2),
            0.0,
            MatMut::row_major(&mut c, 2, 2)
        ),
        Err(GemmError::OutOfBounds { which: "A" })
    );
    let mut small = [0.0; 3];
    assert_eq!(
        gemm(
            1.0,
            Mat::row_major(&a, 2, 3),
            Mat::row_major(&a, 3, 2),
            0.0,
            MatMut::row_major(&mut small, 2, 2)
        ),
        Err(GemmError::OutOfBounds { which: "C" })
    );
}

#[test]
fn large_products_split_between_two_threads() {
    set_threads(2);
    // Wider than tall (split by columns) and taller than wide (by rows),
    // with a transposed operand and beta, all past `SPLIT`; the narrow ones
    // are split off the micro-kernel's widths so that both halves get work.
    for &(m, k, n) in &[
        (64, 200, 170),
        (170, 200, 64),
        (5, 90_000, 5),
        (3, 90_000, 8),
    ] {
        assert!(m * k * n >= SPLIT);
        let at = data(11, k * m);
        let b = data(12, k * n);
        let c0 = data(13, m * n);
        let want = naive(
            m,
            k,
            n,
            0.5,
            |i, l| at[l * m + i],
            |l, j| b[l * n + j],
            2.0,
            &c0,
        );
        let mut c = c0.clone();
        gemm(
            0.5,
            Mat::row_major(&at, k, m).t(),
            Mat::row_major(&b, k, n),
            2.0,
            MatMut::row_major(&mut c, m, n),
        )
        .expect("shapes agree");
        close(&c, &want, 1e-12);
    }
}

/// `C = alpha A B + beta C` in f32 through `Product::run`, against `naive`;
/// A is read through `a(i, l)` strides, B is row-major or (when
/// `transposed`) stored n x k.
#[allow(clippy::too_many_arguments)]
fn f32_product(m: usize, k: usize, n: usize, transposed: bool, beta: f32, c_shift: usize) {
    // A: every other column of an m x 2k matrix, so that no stride is 1.
    let a: Vec<f32> = uniform(21, &[m * 2 * k], 1.0);
    let b: Vec<f32> = uniform(22, &[k * n], 1.0);
    // C starts `c_shift` elements into its buffer, to move it off cache lines.
    let c0: Vec<f32> = uniform(23, &[m * n + c_shift], 1.0);
    let (rsb, csb) = if transposed { (1, k) } else { (n, 1) };
    let want = naive(
        m,
        k,
        n,
        0.75,
        |i, l| f64::from(a[i * 2 * k + 2 * l]),
        |l, j| f64::from(b[l * rsb + j * csb]),
        f64::from(beta),
        &c0[c_shift..]
            .iter()
            .map(|&x| f64::from(x))
            .collect::<Vec<_>>(),
    );
    let mut c = c0.clone();
    if beta == 0.0 {
        c[c_shift..].fill(f32::NAN);
    }
    let p = Product {
        m,
        k,
        n,
        alpha: 0.75,
        a: a.as_ptr(),
        rsa: 2 * k as isize,
        csa: 2,
        b: b.as_ptr(),
        rsb: rsb as isize,
        csb: csb as isize,
        beta,
        c: c[c_shift..].as_mut_ptr(),
        rsc: n as isize,
        csc: 1,
    };
    // SAFETY: the views above cover every element the sizes reach.
    unsafe { p.run() };
    let got: Vec<f64> = c[c_shift..].iter().map(|&x| f64::from(x)).collect();
    close(&got, &want, 1e-5);
}

#[test]
fn direct_f32_products_cover_every_block_and_column_tail() {
    let direct = is_x86_feature_detected_avx512();
    // Every row remainder of the 8-row blocks, column tails around the two
    // 16-lane registers of a 32-column panel (panels of at most 16 columns
    // run in one register: a classifier's 10, 16, the last 16 of 48), and
    // a B too large to take.
    for m in [3, 8, 9, 15, 16, 17, 23] {
        for n in [10, 16, 17, 31, 32, 33, 48, 70] {
            for transposed in [false, true] {
                let p = probe(m, 40, n);
                assert!(is_small(m, 40, n) || direct::takes(&p) == direct);
                f32_product(m, 40, n, transposed, 0.0, 0);
                f32_product(m, 40, n, transposed, -1.5, 3);
            }
        }
    }
    assert!(!direct::takes(&probe(9, 300, 300)));
    f32_product(9, 300, 300, true, 0.5, 0);
    f32_product(9, 300, 300, false, 0.5, 0);
    // One block of rows takes any B with contiguous rows, and only those.
    assert_eq!(direct::takes(&probe(8, 300, 300)), direct);
    let transposed = Product {
        rsb: 1,
        csb: 300,
        ..probe(8, 300, 300)
    };
    assert!(!direct::takes(&transposed));
    for m in [1, 5, 8] {
        f32_product(m, 300, 300, false, 0.5, 1);
        f32_product(m, 300, 300, true, 0.0, 0);
    }
    // k = 0 scales C by beta.
    f32_product(9, 0, 40, false, 2.0, 0);
}

#[test]
fn split_f32_products_cut_columns_at_cache_lines() {
    set_threads(2);
    for c_shift in [0, 1, 5, 15] {
        f32_product(64, 64, 64, true, 1.0, c_shift);
        f32_product(32, 128, 128, false, 0.0, c_shift);
        f32_product(200, 64, 40, false, 0.0, c_shift);
    }
    let mut c = vec![0.0f32; 64 * 64 + 16];
    for shift in 0..16 {
        let p = Product {
            c: c[shift..].as_mut_ptr(),
            ..probe(64, 64, 64)
        };
        let (first, second) = p.halves();
        assert_eq!(first.n + second.n, 64);
        assert_eq!(second.c as usize % 64, 0, "C shifted by {shift}");
    }
}

fn is_x86_feature_detected_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A row-major f32 product of these sizes whose pointers are not used.
fn probe(m: usize, k: usize, n: usize) -> Product<f32> {
    Product {
        m,
        k,
        n,
        alpha: 1.0,
        a: std::ptr::null(),
        rsa: k as isize,
        csa: 1,
        b: std::ptr::null(),
        rsb: n as isize,
        csb: 1,
        beta: 0.0,
        c: std::ptr::null_mut(),
        rsc: n as isize,
        csc: 1,
    }
}

/// `count` products of `m x k` by `k x n` through `cdl_sgemm_batch`, each
/// example's A, B (transposed, stored n x k) and C one after the other,
/// against `naive`; summed into one C when `summed`.
fn f32_batch(count: usize, m: usize, k: usize, n: usize, summed: bool) {
    let a: Vec<f32> = uniform(31, &[count * m * k], 1.0);
    let b: Vec<f32> = uniform(32, &[count * n * k], 1.0);
    let outs = if summed { 1 } else { count };
    let c0: Vec<f32> = uniform(33, &[outs * m * n], 1.0);
    let mut want: Vec<f64> = c0.iter().map(|&x| 0.5 * f64::from(x)).collect();
    for r in 0..count {
        let part = naive(
            m,
            k,
            n,
            2.0,
            |i, l| f64::from(a[r * m * k + i * k + l]),
            |l, j| f64::from(b[r * n * k + j * k + l]),
            0.0,
            &vec![0.0; m * n],
        );
        let o = if summed { 0 } else { r * m * n };
        for (w, p) in want[o..o + m * n].iter_mut().zip(part) {
            *w += p;
        }
    }
    let mut c = c0.clone();
    let sc = if summed { 0 } else { m * n };
    // SAFETY: every example's operands lie inside `a`, `b` and `c`.
    unsafe {
        cdl_sgemm_batch(
            count as i64,
            (m * k) as i64,
            (n * k) as i64,
            sc as i64,
            m as i64,
            k as i64,
            n as i64,
            2.0,
            a.as_ptr(),
            k as i64,
            1,
            b.as_ptr(),
            1,
            k as i64,
            0.5,
            c.as_mut_ptr(),
            n as i64,
            1,
        )
    };
    let got: Vec<f64> = c.iter().map(|&x| f64::from(x)).collect();
    close(&got, &want, 1e-4);
}

#[test]
fn batches_of_products_separate_or_summed_on_one_and_two_threads() {
    // Tiny, direct and matrixmultiply-sized examples; an empty batch leaves
    // beta C.
    let shapes = [
        (1, 3, 4, 5),
        (7, 8, 8, 16),
        (9, 64, 64, 64),
        (3, 40, 300, 300),
        (0, 4, 4, 4),
    ];
    for (count, m, k, n) in shapes {
        f32_batch(count, m, k, n, false);
        f32_batch(count, m, k, n, true);
    }
    set_threads(2);
    for (count, m, k, n) in shapes {
        f32_batch(count, m, k, n, false);
        f32_batch(count, m, k, n, true);
    }
}

/// A product whose halves would each select another kernel than the whole
/// (here B of 512 x 256 is too large for `direct`, each half of its
/// columns is not) is computed bit for bit alike whether or not it is
/// split: both halves keep the whole product's kernel.
#[test]
fn a_split_product_sums_in_the_order_of_the_whole() {
    let (m, k, n) = (64, 512, 256);
    let a: Vec<f32> = uniform(31, &[m * k], 1.0);
    let b: Vec<f32> = uniform(32, &[k * n], 1.0);
    let product = |c: &mut Vec<f32>| Product {
        m,
        k,
        n,
        alpha: 1.0,
        a: a.as_ptr(),
        rsa: k as isize,
        csa: 1,
        b: b.as_ptr(),
        rsb: n as isize,
        csb: 1,
        beta: 0.0,
        c: c.as_mut_ptr(),
        rsc: n as isize,
        csc: 1,
    };
    let mut whole = vec![0.0f32; m * n];
    // SAFETY: the vectors cover every element the sizes reach.
    unsafe { product(&mut whole).here() };
    let mut split = vec![0.0f32; m * n];
    let p = product(&mut split);
    let (first, second) = p.halves();
    assert!(first.n < n && second.n < n, "the product is cut by columns");
    // SAFETY: as above; the halves write disjoint columns of C.
    unsafe {
        first.with(p.kernel());
        second.with(p.kernel());
    }
    let same = whole
        .iter()
        .zip(&split)
        .all(|(x, y)| x.to_bits() == y.to_bits());
    assert!(same, "a split product differs from the whole");
}

/// `C = alpha A B + beta C` in f32 with A's rows contiguous and B stored
/// `n x k` (a transposed row-major matrix, as in a weight gradient `dY Zᵀ`),
/// C row-major or (when `c_columns`) column-major, through `Product::run`
/// on the current thread count, against `naive`.
fn f32_dots(m: usize, k: usize, n: usize, beta: f32, c_columns: bool) {
    let a: Vec<f32> = uniform(41, &[m * k], 1.0);
    let z: Vec<f32> = uniform(42, &[n * k], 1.0);
    let c0: Vec<f32> = uniform(43, &[m * n], 1.0);
    let (rsc, csc) = if c_columns { (1, m) } else { (n, 1) };
    let c_at = |c: &[f32], i: usize, j: usize| f64::from(c[i * rsc + j * csc]);
    let start: Vec<f64> = (0..m * n).map(|x| c_at(&c0, x / n, x % n)).collect();
    let want = naive(
        m,
        k,
        n,
        0.75,
        |i, l| f64::from(a[i * k + l]),
        |l, j| f64::from(z[j * k + l]),
        f64::from(beta),
        &start,
    );
    let mut c = c0.clone();
    let p = Product {
        m,
        k,
        n,
        alpha: 0.75,
        a: a.as_ptr(),
        rsa: k as isize,
        csa: 1,
        b: z.as_ptr(),
        rsb: 1,
        csb: k as isize,
        beta,
        c: c.as_mut_ptr(),
        rsc: rsc as isize,
        csc: csc as isize,
    };
    assert_eq!(
        p.kernel() == Kernel::Dots,
        is_x86_feature_detected_avx512() && m <= 8 && !is_small(m, k, n) && !direct::takes(&p),
        "{m} x {k} x {n}"
    );
    // SAFETY: the vectors cover every element the sizes reach.
    unsafe { p.run() };
    let got: Vec<f64> = (0..m * n).map(|x| c_at(&c, x / n, x % n)).collect();
    close(&got, &want, 1e-4);
}

/// Products of at most eight rows against a transposed B too large for
/// `direct` are dot products of contiguous rows (`dots`): every row count,
/// contractions with and without a masked tail, odd and even column
/// counts, beta zero and not, C either way round, on one and two threads.
#[test]
fn dots_take_few_rows_against_a_large_transposed_operand() {
    for threads in [1, 2] {
        set_threads(threads);
        for m in 1..=8 {
            for (k, n) in [(1024, 288), (300, 301), (517, 129)] {
                f32_dots(m, k, n, 0.0, false);
                f32_dots(m, k, n, -1.5, m % 2 == 0);
            }
        }
    }
    set_threads(1);
    // Nine rows, a short contraction or a row-major B are not dots'.
    let transposed = |m: usize, k: usize, n: usize| Product {
        rsb: 1,
        csb: k as isize,
        ..probe(m, k, n)
    };
    assert!(!dots::takes(&transposed(9, 1024, 288)));
    assert!(!dots::takes(&transposed(8, 32, 4096)));
    assert!(!dots::takes(&probe(8, 1024, 288)));
    assert_eq!(
        dots::takes(&transposed(8, 1024, 288)),
        is_x86_feature_detected_avx512()
    );
    f32_dots(9, 1024, 288, 0.5, false);
}
