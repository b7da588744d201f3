//! The blocked kernel against matrixmultiply's sgemm (to f32 rounding)
//! and a naive product in f64, over shapes around every edge of its
//! tiles and blocks (1 row, 1 column, a depth of 0 or 1, ragged rows and
//! columns, several blocks of the depth, of the columns and of the rows),
//! with row-major, column-major and strided operands, `alpha` and `beta`;
//! and split between two threads, to the bit against the whole product.

use super::super::{GemmScalar, Kernel, Product};
use super::{KC, KU, MC, MR, NC, NR, blocks, takes};
use crate::data::splitmix::uniform;

/// How an operand is stored: row-major, column-major, or every other
/// element of a row-major matrix twice as wide (neither stride 1).
#[derive(Clone, Copy, Debug)]
enum Layout {
    Rows,
    Columns,
    Spread,
}

impl Layout {
    /// Elements a `rows x cols` matrix needs, and its strides.
    fn of(self, rows: usize, cols: usize) -> (usize, isize, isize) {
        let (r, c) = (rows as isize, cols as isize);
        match self {
            Layout::Rows => (rows * cols, c, 1),
            Layout::Columns => (rows * cols, 1, r),
            Layout::Spread => (rows * cols * 2, 2 * c, 2),
        }
    }
}

/// One product through `blocked::run`, checked against matrixmultiply
/// and against f64; returns C.
fn check([m, k, n]: [usize; 3], (la, lb): (Layout, Layout), alpha: f32, beta: f32) -> Vec<f32> {
    let (alen, rsa, csa) = la.of(m, k);
    let (blen, rsb, csb) = lb.of(k, n);
    let seed = (m * 7 + k * 11 + n * 13) as u64;
    let a = uniform(seed, &[alen], 1.0);
    let b = uniform(seed + 1, &[blen], 1.0);
    let c0 = uniform(seed + 2, &[m * n], 1.0);
    let product = |c: &mut Vec<f32>| Product {
        m,
        k,
        n,
        alpha,
        a: a.as_ptr(),
        rsa,
        csa,
        b: b.as_ptr(),
        rsb,
        csb,
        beta,
        c: c.as_mut_ptr(),
        rsc: n as isize,
        csc: 1,
    };
    // When beta is 0, C is not read: it starts as NaNs.
    let start = if beta == 0.0 {
        vec![f32::NAN; m * n]
    } else {
        c0.clone()
    };
    let (mut got, mut mm) = (start.clone(), start);
    let p = product(&mut got);
    assert!(takes(&p) || m * k * n < super::MIN_WORK);
    // SAFETY: the vectors hold every element the strides reach.
    unsafe {
        super::run(p);
        let q = product(&mut mm);
        f32::raw(
            m, k, n, alpha, q.a, q.rsa, q.csa, q.b, q.rsb, q.csb, beta, q.c, q.rsc, q.csc,
        );
    }
    let at = |v: &[f32], i: usize, l: usize, rs: isize, cs: isize| {
        f64::from(v[(i as isize * rs + l as isize * cs) as usize])
    };
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|l| at(&a, i, l, rsa, csa) * at(&b, l, j, rsb, csb));
            let (dot, size) = terms.fold((0.0, 0.0), |(s, z), t| (s + t, z + t.abs()));
            let keep = if beta == 0.0 {
                0.0
            } else {
                f64::from(beta) * f64::from(c0[i * n + j])
            };
            let want = f64::from(alpha) * dot + keep;
            // f32 rounding of a sum of k terms, and of the scaling.
            let tol = 1e-6 * (k as f64 + 4.0) * (f64::from(alpha.abs()) * size + keep.abs() + 1.0);
            let (g, x) = (f64::from(got[i * n + j]), f64::from(mm[i * n + j]));
            let place = format!("({i}, {j}) of {m}x{k}x{n} {la:?} {lb:?}");
            assert!((g - want).abs() <= tol, "{place}: {g} vs {want} in f64");
            assert!((g - x).abs() <= 2.0 * tol, "{place}: {g} vs {x} in sgemm");
        }
    }
    got
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

const LAYOUTS: [Layout; 3] = [Layout::Rows, Layout::Columns, Layout::Spread];

#[test]
fn every_edge_of_tiles_and_blocks_in_every_layout() {
    if !avx512() {
        return;
    }
    let shapes = [
        [1, 1, 1],
        [1, 300, 1],
        [1, 64, 700],
        [700, 64, 1],
        [37, 1, 45],
        [13, 0, 33],
        [MR, 8, NR],
        [MR + 1, 9, NR + 1],
        [MR - 1, 17, NR - 1],
        [29, KC, 47],
        [25, KC + 1, 16],
        [MC + 7, 2 * KC + 3, 40],
        [20, 30, NC + 33],
        [128, 78, 256],
    ];
    for dims in shapes {
        for la in LAYOUTS {
            for lb in LAYOUTS {
                check(dims, (la, lb), 1.0, 0.0);
            }
        }
        check(dims, (Layout::Rows, Layout::Columns), -0.75, 1.5);
        check(dims, (Layout::Columns, Layout::Rows), 2.0, -1.0);
    }
}

#[test]
fn an_mlp_layers_products_forward_and_back() {
    if !avx512() {
        return;
    }
    // A layer of 784 -> 256 on 64 rows: its forward against the stored
    // (transposed) weights, the weight gradient `dYᵀ X` and the input
    // gradient `dY W`.
    check([64, 784, 256], (Layout::Rows, Layout::Columns), 1.0, 0.0);
    check([256, 64, 784], (Layout::Columns, Layout::Rows), 1.0, 0.0);
    check([64, 256, 784], (Layout::Rows, Layout::Rows), 1.0, 1.0);
}

#[test]
fn a_split_product_equals_the_whole_to_the_bit() {
    if !avx512() {
        return;
    }
    let dims = [150, 2 * KC + 5, 300];
    let alone = check(dims, (Layout::Rows, Layout::Columns), 1.0, 0.0);
    // The two halves the dispatcher would hand two threads, one after the
    // other.
    let (m, k, n) = (dims[0], dims[1], dims[2]);
    let a = uniform((m * 7 + k * 11 + n * 13) as u64, &[m * k], 1.0);
    let b = uniform((m * 7 + k * 11 + n * 13) as u64 + 1, &[k * n], 1.0);
    let mut c = vec![f32::NAN; m * n];
    let p = Product {
        m,
        k,
        n,
        alpha: 1.0,
        a: a.as_ptr(),
        rsa: k as isize,
        csa: 1,
        b: b.as_ptr(),
        rsb: 1,
        csb: k as isize,
        beta: 0.0,
        c: c.as_mut_ptr(),
        rsc: n as isize,
        csc: 1,
    };
    assert_eq!(p.kernel(), Kernel::Blocked);
    let (x, y) = p.halves();
    // SAFETY: the vectors hold every element the strides reach; the halves
    // write disjoint blocks of C.
    unsafe {
        x.with(Kernel::Blocked);
        y.with(Kernel::Blocked);
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&c), bits(&alone));
}

#[test]
fn blocks_are_nearly_equal_and_cover_everything() {
    let cut = |total, most, unit| blocks(total, most, unit).collect::<Vec<_>>();
    assert_eq!(
        cut(784, KC, KU),
        [(0, 160), (160, 320), (320, 480), (480, 640), (640, 784)]
    );
    assert_eq!(cut(784, 512, NR), [(0, 416), (416, 784)]);
    assert_eq!(cut(784, NC, NR), [(0, 784)]);
    assert_eq!(cut(0, KC, 1), [(0, 0)]);
    assert_eq!(cut(5, MC, MR), [(0, 5)]);
    // Rounding up to the unit may leave fewer blocks, never an empty one.
    assert_eq!(cut(100, 34, 32), [(0, 64), (64, 100)]);
    for total in [1, 31, 32, 33, 511, 512, 513, 2000] {
        let b = cut(total, NC, NR);
        assert_eq!(b[0].0, 0);
        assert_eq!(b.last().unwrap().1, total);
        assert!(b.windows(2).all(|w| w[0].1 == w[1].0 && w[0].1 % NR == 0));
        assert!(b.iter().all(|&(x, y)| y - x <= NC && y > x));
    }
}
