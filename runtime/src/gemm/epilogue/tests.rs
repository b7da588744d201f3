//! Products with an epilogue: the program run on the direct kernel's
//! tiles against the same program run per panel by a scalar loop (bit for
//! bit), and C against a plain product in f64 (to f32 rounding), for the
//! programs the JIT makes most (bias and activation, a recurrent cell,
//! the backward's `g (1 - y²)` and `g step(z)`, a broadcast pooled term)
//! on ragged shapes, per-example batches and matrixmultiply's sizes.

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

/// The operands every case offers its program: X (full, per product), b
/// (one row shared by all rows), r (one number per row) and u (one number
/// for everything).
const OPERANDS: usize = 4;

/// One case: `count` products of `m x k` by `k x n` (B shared) with
/// `prog` as the epilogue, reading the `OPERANDS`; C and the program's
/// outputs, and how many panels the epilogue was handed.
fn case(
    prog: &Program,
    count: usize,
    [m, k, n]: [usize; 3],
    in_registers: bool,
) -> (Vec<f32>, Vec<Vec<f32>>, usize) {
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
    let u = [1.0f32];
    let mut c = vec![f32::NAN; count * m * n];
    let mut outs = vec![vec![f32::NAN; count * m * n]; prog.outputs.len()];
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
        Operand {
            ptr: u.as_ptr(),
            step: 0,
            rs: 0,
            cs: 0,
        },
    ];
    let layout: Vec<Output<f32>> = outs
        .iter_mut()
        .map(|o| Output {
            ptr: o.as_mut_ptr(),
            step: size,
            rs: n as isize,
        })
        .collect();
    let cp = c.as_ptr() as usize;
    let ops: Vec<usize> = layout.iter().map(|o| o.ptr as usize).collect();
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
                // SAFETY: e is inside C and every output (count * m * n).
                let cv = unsafe { *(cp as *const f32).add(e) };
                let v = eval(&prog.ops, cv, |i| [x[e], bj, r[g], u[0]][i]);
                for (&o, &at) in prog.outputs.iter().zip(&ops) {
                    // SAFETY: as above.
                    unsafe { *(at as *mut f32).add(e) = v[o] };
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
        program: in_registers.then_some((prog, &ins[..], &layout[..])),
        panel: &panel,
    };
    // SAFETY: every operand and output holds count * m rows of its layout.
    unsafe { run(&f) };
    // The plain product in f64, to f32 rounding.
    for p in 0..count {
        for i in 0..m {
            for j in 0..n {
                let e = (p * m + i) * n + j;
                let dot: f64 = (0..k)
                    .map(|l| f64::from(a[(p * m + i) * k + l]) * f64::from(b[l * n + j]))
                    .sum();
                assert!((f64::from(c[e]) - dot).abs() < 1e-4, "C at {e}");
            }
        }
    }
    (c, outs, calls.get())
}

/// The epilogues the JIT makes most: a bias and an activation, a
/// recurrent cell's `tanh(x U + h W + b)`, the backward's `g * (1 - y²)`
/// and `g * step(z)`, a DeepSets layer's pooled term broadcast along each
/// row, and the program above with every op.
fn programs() -> Vec<(&'static str, Program)> {
    use EpOp::*;
    let p = |ops: Vec<EpOp>, outputs: Vec<usize>| Program { ops, outputs };
    vec![
        (
            "bias relu",
            p(vec![C, Input(1), Add(0, 1), Relu(2)], vec![3]),
        ),
        (
            "bias tanh",
            p(vec![C, Input(1), Add(0, 1), Tanh(2)], vec![3]),
        ),
        (
            "bias sigmoid",
            p(vec![C, Input(1), Add(0, 1), Sigmoid(2)], vec![3]),
        ),
        (
            "cell",
            p(
                vec![Input(0), C, Add(0, 1), Input(1), Add(2, 3), Tanh(4)],
                vec![2, 5],
            ),
        ),
        (
            "g (1 - y²)",
            p(
                vec![C, Mul(0, 0), Input(3), Sub(2, 1), Input(0), Mul(4, 3)],
                vec![5],
            ),
        ),
        (
            "g step(z)",
            p(vec![Input(0), C, Step(1), Mul(0, 2)], vec![3]),
        ),
        (
            "pooled",
            p(
                vec![C, Input(2), Sub(0, 1), Input(1), Add(2, 3), Relu(4)],
                vec![5],
            ),
        ),
        ("every op", program()),
    ]
}

#[test]
fn in_registers_equals_per_panel_bit_for_bit() {
    let shapes = [
        // Ragged columns (not multiples of 16 or 32) and rows (not of 8).
        (1, [13, 37, 45]),
        (1, [8, 64, 32]),
        (1, [3, 100, 17]),
        (1, [29, 19, 19]),
        (1, [21, 50, 1]),
        (1, [17, 7, 47]),
        // Per-example products, as DeepSets' layers run.
        (5, [7, 9, 33]),
        (3, [64, 64, 64]),
        (4, [6, 30, 15]),
        // The blocked kernel's sizes: several blocks of the depth (the
        // epilogue after the last), ragged rows and columns at the
        // blocks' edges.
        (1, [40, 300, 260]),
        (1, [150, 400, 70]),
        (1, [13, 200, 530]),
    ];
    for (name, prog) in programs() {
        assert!(prog.fits(OPERANDS), "{name}");
        for &(count, dims) in &shapes {
            let fused = case(&prog, count, dims, true);
            let panels = case(&prog, count, dims, false);
            let at = format!("{name}, {count} x {dims:?}");
            // With AVX-512 these products take the direct or the blocked
            // kernel, which runs the program itself: no panel is handed
            // back.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                assert_eq!(fused.2, 0, "{at} ran by panels");
            }
            assert!(panels.2 > 0);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fused.0), bits(&panels.0), "C of {at}");
            for (o, (f, p)) in fused.1.iter().zip(&panels.1).enumerate() {
                assert!(f.iter().all(|v| !v.is_nan()), "output {o} of {at}");
                assert_eq!(bits(f), bits(p), "output {o} of {at}");
            }
        }
    }
}

#[test]
fn tiny_products_run_by_panels() {
    // Tiny products: the program is ignored there and the panels carry
    // the epilogue; the results are those of the plain product.
    let prog = program();
    for &(count, dims) in &[(1, [2, 3, 4]), (2, [5, 3, 4])] {
        let (c, outs, calls) = case(&prog, count, dims, true);
        assert!(calls > 0 && c.iter().chain(&outs[0]).all(|v| v.is_finite()));
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

#[test]
fn the_blocked_kernel_runs_programs_unless_dots_might_take_the_product() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // W1's forward against its stored weights (B transposed): 19 rows
        // are the blocked kernel's, 7 rows may be `dots`'s, whose sums the
        // direct kernel would not reproduce.
        let prog = program();
        assert!(in_registers::<f32>([19, 784, 256], 784, &prog, OPERANDS));
        assert!(!in_registers::<f32>([7, 784, 256], 784, &prog, OPERANDS));
        assert!(!in_registers::<f64>([19, 784, 256], 784, &prog, OPERANDS));
    }
}
