//! Products with an epilogue: the program run in the direct kernel's
//! registers against the same program run per panel by a scalar loop
//! (bit for bit), and both against a plain product followed by the
//! program in f64 (to f32 rounding), on ragged shapes, per-example
//! batches, row-broadcast operands and matrixmultiply's sizes.

use super::*;
use crate::rng::Rng;

/// `tanh` as the program computes it, one number at a time.
fn tanh1(x: f32) -> f32 {
    let c = |v: f64| v as f32;
    let hi = c(7.905_311_107_635_498);
    let x = if x < hi { x } else { hi };
    let x = if -hi < x { x } else { -hi };
    let x2 = x * x;
    let alpha = [
        -2.760_768_477_423_55e-16,
        2.000_187_904_824_77e-13,
        -8.604_671_522_137_35e-11,
        5.122_297_090_371_14e-8,
        1.485_722_357_179_79e-5,
        6.372_619_288_754_36e-4,
        4.893_524_558_917_86e-3,
    ];
    let beta = [
        1.198_258_394_667_02e-6,
        1.185_347_056_866_54e-4,
        2.268_434_632_439e-3,
        4.893_525_185_543_85e-3,
    ];
    let p = alpha[1..]
        .iter()
        .fold(c(alpha[0]), |p, &a| x2.mul_add(p, c(a)));
    let q = beta[1..]
        .iter()
        .fold(c(beta[0]), |q, &b| x2.mul_add(q, c(b)));
    (x * p) / q
}

/// The program on one element, in f32 as the kernels compute it.
fn eval(ops: &[EpOp], c: f32, input: impl Fn(usize) -> f32) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::new();
    for op in ops {
        let pos = |a: usize| if 0.0 < v[a] { v[a] } else { 0.0 };
        let x = match *op {
            EpOp::C => c,
            EpOp::Input(i) => input(i),
            EpOp::Add(a, b) => v[a] + v[b],
            EpOp::Sub(a, b) => v[a] - v[b],
            EpOp::Mul(a, b) => v[a] * v[b],
            EpOp::Div(a, b) => v[a] / v[b],
            EpOp::Neg(a) => -v[a],
            EpOp::Relu(a) => pos(a),
            EpOp::Step(a) => {
                if 0.0 < v[a] {
                    1.0
                } else {
                    0.0
                }
            }
            EpOp::Tanh(a) => tanh1(v[a]),
            EpOp::Sigmoid(a) => tanh1(v[a] * 0.5).mul_add(0.5, 0.5),
        };
        v.push(x);
    }
    v
}

/// `z = C + X`, `y = tanh(z + b)`, `s = step(y) * r` with a per-row
/// broadcast `r`: two outputs (`z`, `s`) and three operands.
fn program() -> Program {
    use EpOp::*;
    Program {
        ops: vec![
            C,
            Input(0),
            Add(0, 1),
            Input(1),
            Add(2, 3),
            Tanh(4),
            Step(5),
            Input(2),
            Mul(6, 7),
            Sigmoid(8),
            Sub(9, 2),
            Neg(10),
            Relu(11),
        ],
        outputs: vec![2, 12],
    }
}

/// One case: `count` products of `m x k` by `k x n` (B shared), operands
/// X (full, per product), b (one row shared) and r (one number per row).
fn case(
    count: usize,
    m: usize,
    k: usize,
    n: usize,
    in_registers: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, usize) {
    let mut rng = Rng::new((count * 1000 + m * 100 + k * 10 + n) as u64);
    let mut fill = |len: usize| {
        (0..len)
            .map(|_| rng.range(-1.0, 1.0) as f32)
            .collect::<Vec<f32>>()
    };
    let (a, b, x, bias, r) = (
        fill(count * m * k),
        fill(k * n),
        fill(count * m * n),
        fill(n),
        fill(count * m),
    );
    let mut c = vec![f32::NAN; count * m * n];
    let mut z = vec![f32::NAN; count * m * n];
    let mut s = vec![f32::NAN; count * m * n];
    let prog = program();
    let size = (m * n) as isize;
    let ins = [
        Operand {
            ptr: x.as_ptr(),
            step: size,
            rs: n as isize,
            cs: 1,
        },
        Operand {
            ptr: bias.as_ptr(),
            step: 0,
            rs: 0,
            cs: 1,
        },
        Operand {
            ptr: r.as_ptr(),
            step: m as isize,
            rs: 1,
            cs: 0,
        },
    ];
    let outs = [
        Output {
            ptr: z.as_mut_ptr(),
            step: size,
            rs: n as isize,
        },
        Output {
            ptr: s.as_mut_ptr(),
            step: size,
            rs: n as isize,
        },
    ];
    let (cp, zp, sp) = (
        c.as_ptr() as usize,
        z.as_mut_ptr() as usize,
        s.as_mut_ptr() as usize,
    );
    // The per-panel epilogue: units are products (count > 1) or rows.
    let calls = std::cell::Cell::new(0);
    let panel = |from: usize, to: usize| {
        calls.set(calls.get() + 1);
        let rows_of = |u: usize| {
            if count == 1 {
                u..u + 1
            } else {
                u * m..(u + 1) * m
            }
        };
        for g in (from..to).flat_map(rows_of) {
            for (j, &bj) in bias.iter().enumerate() {
                let e = g * n + j;
                // SAFETY: e is inside C, z and s (count * m * n each).
                let cv = unsafe { *(cp as *const f32).add(e) };
                let v = eval(&prog.ops, cv, |i| match i {
                    0 => x[e],
                    1 => bj,
                    _ => r[g],
                });
                // SAFETY: as above.
                unsafe {
                    *(zp as *mut f32).add(e) = v[2];
                    *(sp as *mut f32).add(e) = v[12];
                }
            }
        }
    };
    let rows = if count == 1 { 1 } else { m };
    let f = Fused {
        count,
        steps: [(m * k) as isize, 0, size],
        unit_rows: rows,
        dims: [m, k, n],
        a: (a.as_ptr(), k as isize, 1),
        b: (b.as_ptr(), n as isize, 1),
        c: (c.as_mut_ptr(), n as isize),
        program: in_registers.then_some((&prog, &ins[..], &outs[..])),
        panel: &panel,
    };
    // SAFETY: every operand and output holds count * m rows of its layout.
    unsafe { run(&f) };
    // The plain product and the program in f64, to f32 rounding.
    for p in 0..count {
        for i in 0..m {
            for j in 0..n {
                let e = (p * m + i) * n + j;
                let dot: f64 = (0..k)
                    .map(|l| f64::from(a[(p * m + i) * k + l]) * f64::from(b[l * n + j]))
                    .sum();
                assert!((f64::from(c[e]) - dot).abs() < 1e-4, "C at {e}");
                let want_z = dot + f64::from(x[e]);
                assert!((f64::from(z[e]) - want_z).abs() < 1e-4, "z at {e}");
            }
        }
    }
    (c, z, s, calls.get())
}

#[test]
fn in_registers_equals_per_panel_bit_for_bit() {
    let shapes = [
        // Ragged columns (not multiples of 16 or 32) and rows (not of 8).
        (1, 13, 37, 45),
        (1, 8, 64, 32),
        (1, 3, 100, 17),
        (1, 29, 19, 19),
        // Per-example products, as DeepSets' layers run.
        (5, 7, 9, 33),
        (3, 64, 64, 64),
    ];
    for &(count, m, k, n) in &shapes {
        let fused = case(count, m, k, n, true);
        let panels = case(count, m, k, n, false);
        // With AVX-512 these products take the direct kernel, which runs
        // the program itself: no panel is handed back.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert_eq!(fused.3, 0, "{count}x{m}x{k}x{n} ran by panels");
        }
        assert!(panels.3 > 0);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fused.0), bits(&panels.0), "C of {count}x{m}x{k}x{n}");
        assert_eq!(bits(&fused.1), bits(&panels.1), "z of {count}x{m}x{k}x{n}");
        assert_eq!(bits(&fused.2), bits(&panels.2), "s of {count}x{m}x{k}x{n}");
    }
}

#[test]
fn large_and_tiny_products_run_by_panels() {
    // matrixmultiply's sizes (B over 256 KiB, more than 8 rows) and a tiny
    // product: the program is ignored there and the panels carry the
    // epilogue; the results are those of the plain product.
    for &(count, m, k, n) in &[(1, 40, 300, 260), (1, 2, 3, 4), (2, 5, 3, 4)] {
        let (c, z, _, calls) = case(count, m, k, n, true);
        assert!(calls > 0 && c.iter().chain(&z).all(|v| v.is_finite()));
    }
}

#[test]
fn tanh_matches_the_library_to_f32_accuracy() {
    for i in -2000..=2000 {
        let x = i as f32 / 100.0;
        assert!(
            (f64::from(tanh1(x)) - f64::from(x).tanh()).abs() < 2e-6,
            "tanh({x})"
        );
    }
}

#[test]
fn programs_that_read_later_ops_do_not_fit() {
    let bad = Program {
        ops: vec![EpOp::Add(0, 1), EpOp::C],
        outputs: vec![0],
    };
    assert!(!bad.fits(0));
    assert!(program().fits(3) && !program().fits(2));
}
