//! Runs read off gather tables: a ring's shifts, a gather whose entries
//! read two points, and a permutation without long runs.

use super::*;

/// The gather basis of a map from `c` channels on a ring of `n` points
/// whose taps read `σ_e(i)` for output point `i` (`None`: no entry), as
/// the compiler builds it: element `(q, j)` holds `(q·K·n + e·n + i, v)`
/// wherever tap `e` reads `j` at `i`.
pub(crate) fn gather(
    c: usize,
    n: usize,
    taps: &[&dyn Fn(usize) -> Option<(usize, f64)>],
) -> cdlc_ir::Basis {
    let k = taps.len();
    let mut elements = vec![Vec::new(); c * n];
    for q in 0..c {
        for (e, tap) in taps.iter().enumerate() {
            for i in 0..n {
                if let Some((j, v)) = tap(i) {
                    elements[q * n + j].push(((q * k * n + e * n + i) as u32, v));
                }
            }
        }
    }
    for element in &mut elements {
        element.sort_by_key(|&(i, _)| i);
    }
    cdlc_ir::Basis {
        name: String::new(),
        shape: vec![c, k, n],
        elements,
        coeff_shape: vec![c, n],
    }
}

#[test]
fn a_rings_shifts_are_two_runs_each() {
    let n = 12;
    let left = |i: usize| Some(((i + n - 1) % n, 1.0));
    let same = |i: usize| Some((i, 2.0));
    let right = |i: usize| Some(((i + 1) % n, 1.0));
    let table = BasisTable::of(&gather(3, n, &[&left, &same, &right]));
    assert_eq!(table.blocks, 3);
    let taps = ConvTaps::of(&table, 3).expect("a ring's shifts are runs");
    let shape = Shape {
        out_channels: 0,
        in_channels: 3,
        taps: 3,
        in_points: n,
        out_points: n,
    };
    assert_eq!(taps.shape, shape);
    let runs: Vec<(u32, u32, u32, u32, f64)> = taps
        .runs
        .iter()
        .map(|r| (r.tap, r.out, r.src, r.len, r.value))
        .collect();
    assert_eq!(
        runs,
        [
            (0, 0, 11, 1, 1.0),
            (0, 1, 0, 11, 1.0),
            (1, 0, 0, 12, 2.0),
            (2, 0, 1, 11, 1.0),
            (2, 11, 0, 1, 1.0),
        ]
    );
    assert_eq!(taps.with_out_channels(5).shape.out_channels, 5);
}

#[test]
fn a_zero_border_shift_leaves_points_unread() {
    // A causal shift: point i reads i - 1, point 0 nothing.
    let n = 9;
    let back = |i: usize| (i > 0).then(|| (i - 1, 1.0));
    let same = |i: usize| Some((i, 1.0));
    let table = BasisTable::of(&gather(2, n, &[&back, &same]));
    let taps = ConvTaps::of(&table, 2).expect("runs");
    assert_eq!(taps.runs.len(), 2);
    assert_eq!(
        (taps.runs[0].out, taps.runs[0].src, taps.runs[0].len),
        (1, 0, 8)
    );
}

#[test]
fn entries_reading_two_points_or_short_runs_keep_the_gather() {
    let n = 8;
    // Two taps' entries land on one gathered index: not one point each.
    let mut basis = gather(1, n, &[&|i: usize| Some((i, 1.0))]);
    basis.elements[3].push((0, 1.0));
    basis.elements[3].sort_by_key(|&(i, _)| i);
    assert_eq!(ConvTaps::of(&BasisTable::of(&basis), 1), None);
    // A reversal: every run one point long.
    let reverse = |i: usize| Some((n - 1 - i, 1.0));
    let table = BasisTable::of(&gather(1, n, &[&reverse]));
    assert_eq!(ConvTaps::of(&table, 1), None);
    // Taps that do not divide the block.
    let table = BasisTable::of(&gather(1, n, &[&|i: usize| Some((i, 1.0))]));
    assert_eq!(ConvTaps::of(&table, 3), None);
}
