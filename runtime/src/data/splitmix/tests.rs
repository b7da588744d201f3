//! Values reproduced from the benchmark's reference implementation
//! (`common.py`, numpy), printed there and copied here.

use super::*;

#[test]
fn raw_matches_the_reference() {
    // [hex(int(v)) for v in common.u64(0, 3)] and common.u64(7, 3).
    assert_eq!(raw(0, 0), 0xe220_a839_7b1d_cdaf);
    assert_eq!(raw(0, 1), 0x910a_2dec_8902_5cc1);
    assert_eq!(raw(0, 2), 0x9758_35de_1c97_56ce);
    assert_eq!(raw(7, 0), 0xbcda_4680_438a_5951);
    assert_eq!(raw(7, 2), 0xa70e_d1d4_8cd2_f00d);
}

#[test]
fn uniform_matches_the_reference() {
    // common.uniform(1, (2, 3), 1.0).tolist()
    let want = [
        0.532_603_502_273_559_6,
        -0.747_938_036_918_640_1,
        0.401_862_382_888_793_95,
        0.265_752_434_730_529_8,
        -0.227_489_709_854_125_98,
        -0.365_709_185_600_280_76,
    ];
    let got = uniform(1, &[2, 3], 1.0);
    assert_eq!(got, want.map(|v| v as f32).to_vec());
    // W1's last input: common.uniform(1, (128, 784), 1.0)[127, 783].
    assert_eq!(
        uniform(1, &[128, 784], 1.0)[128 * 784 - 1],
        0.035_633_564_f32
    );
    // Values lie in [-a, a).
    assert!(
        uniform(3, &[1000], 0.5)
            .iter()
            .all(|v| (-0.5..0.5).contains(v))
    );
}

#[test]
fn labels_and_weights_match_the_reference() {
    // common.labels(2, 8, 10).tolist()
    assert_eq!(labels(2, 8, 10), vec![2, 9, 9, 5, 7, 6, 2, 5]);
    // common.weight(11, 256, 784)[0, :3] and [255, 783].
    let w = weight(11, 256, 784);
    assert_eq!(w.len(), 256 * 784);
    assert_eq!(
        &w[..3],
        &[
            0.025_149_401_277_303_696_f64 as f32,
            0.015_513_845_719_397_068_f64 as f32,
            -0.026_530_627_161_264_42_f64 as f32
        ]
    );
    assert_eq!(w[256 * 784 - 1], 0.002_442_79_f32);
}

fn show(t: &TreeShape) -> String {
    match t {
        TreeShape::Leaf(i) => i.to_string(),
        TreeShape::Node(l, r) => format!("({} {})", show(l), show(r)),
    }
}

#[test]
fn w4_tree_shapes_match_the_reference() {
    // The printed shape of common.make_tree(0, 32).
    let t = make_tree(0, 32);
    assert_eq!(
        show(&t),
        "(((((0 ((1 2) 3)) (4 (5 6))) 7) ((((((8 9) 10) (11 12)) 13) (((((14 ((15 16) 17)) \
         ((18 19) 20)) ((((21 22) 23) 24) 25)) 26) ((27 28) 29))) 30)) 31)"
    );
    // [common.make_tree(i, 32).height for i in range(16)]
    let heights: Vec<usize> = (0..16).map(|i| make_tree(i, 32).height()).collect();
    assert_eq!(
        heights,
        vec![11, 10, 9, 8, 11, 8, 7, 8, 9, 9, 8, 10, 9, 9, 8, 8]
    );
    assert!((0..16).all(|i| make_tree(i, 32).leaves() == 32));
}

#[test]
fn tree_values_hold_the_numbered_leaves() {
    let t = make_tree(3, 5);
    let mut seen = Vec::new();
    let v = t.to_value(&mut |i| {
        seen.push(i);
        Tensor::scalar(i as f64)
    });
    assert_eq!(
        seen,
        vec![0, 1, 2, 3, 4],
        "leaves are visited left to right"
    );
    assert!(matches!(v, Value::Node { ctor: 1, .. }));
}
