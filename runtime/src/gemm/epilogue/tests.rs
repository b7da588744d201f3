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
    Program::new(
        vec![
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
        vec![2, 12],
    )
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
    let (c, outs, calls, _) = case_with(prog, count, [m, k, n], in_registers, true);
    (c, outs, calls)
}

/// A case's operands X, b and r.
type Operands = [Vec<f32>; 3];

/// `case`, with `store_c` for the fused product, also returning the
/// operands as `[X, b, r]` (for a reference).
fn case_with(
    prog: &Program,
    count: usize,
    [m, k, n]: [usize; 3],
    in_registers: bool,
    store_c: bool,
) -> (Vec<f32>, Vec<Vec<f32>>, usize, Operands) {
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
        store_c,
        panel: &panel,
    };
    // SAFETY: every operand and output holds count * m rows of its layout.
    unsafe { run(&f) };
    let calls = calls.get();
    if !store_c && calls == 0 {
        // Only the program read C. The direct kernel (B of at most 2^16
        // numbers) left it as it was; the blocked kernel writes the
        // partial sums of all but the last block of the depth.
        if k * n <= 1 << 16 {
            assert!(c.iter().all(|v| v.is_nan()), "C written");
        }
        return (c, outs, calls, [x, bias, r]);
    }
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
    (c, outs, calls, [x, bias, r])
}

/// The epilogues the JIT makes most: a bias and an activation, a
/// recurrent cell's `tanh(x U + h W + b)`, the backward's `g * (1 - y²)`
/// and `g * step(z)`, a DeepSets layer's pooled term broadcast along each
/// row, and the program above with every op.
fn programs() -> Vec<(&'static str, Program)> {
    use EpOp::*;
    let p = Program::new;
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
            "layer with its pre-activation",
            p(
                vec![C, Input(2), Add(0, 1), Input(1), Add(2, 3), Relu(4)],
                vec![4, 5],
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

/// Ragged columns (not multiples of 16 or 32) and rows (not of 8),
/// per-example products and the blocked kernel's sizes, as
/// `(products, [m, k, n])`.
const SHAPES: [(usize, [usize; 3]); 12] = [
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

#[test]
fn in_registers_equals_per_panel_bit_for_bit() {
    for (name, prog) in programs() {
        assert!(prog.fits(OPERANDS), "{name}");
        for &(count, dims) in &SHAPES {
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
    let bad = Program::new(vec![EpOp::Add(0, 1), EpOp::C], vec![0]);
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

/// The bits of each number.
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The program on one element in f64, `tanh` exact.
fn eval64(ops: &[EpOp], c: f64, input: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut v: Vec<f64> = Vec::new();
    for op in ops {
        let step = |a: usize| if 0.0 < v[a] { 1.0 } else { 0.0 };
        let x = match *op {
            EpOp::C => c,
            EpOp::Input(i) => input(i),
            EpOp::Add(a, b) => v[a] + v[b],
            EpOp::Sub(a, b) => v[a] - v[b],
            EpOp::Mul(a, b) => v[a] * v[b],
            EpOp::Div(a, b) => v[a] / v[b],
            EpOp::Neg(a) => -v[a],
            EpOp::Relu(a) => v[a] * step(a),
            EpOp::Step(a) => step(a),
            EpOp::Tanh(a) => v[a].tanh(),
            EpOp::Sigmoid(a) => 1.0 / (1.0 + (-v[a]).exp()),
        };
        v.push(x);
    }
    v
}

#[test]
fn the_common_programs_have_native_forms() {
    let native: Vec<(&str, bool)> = programs()
        .iter()
        .map(|(name, p)| (*name, p.native().is_some()))
        .collect();
    assert_eq!(
        native,
        [
            ("bias relu", true),
            ("bias tanh", true),
            ("bias sigmoid", true),
            ("cell", false),
            ("layer with its pre-activation", true),
            ("g (1 - y²)", true),
            ("g step(z)", true),
            ("pooled", false),
            ("every op", false),
        ]
    );
    use EpOp::*;
    // A relu and a tanh of one sum, or two different sums (the cell above
    // stores a partial sum), are not one form; nor is a program whose ops
    // read later ones.
    let two_acts = Program::new(vec![C, Input(1), Add(0, 1), Relu(2), Tanh(2)], vec![3, 4]);
    let two_sums = Program::new(vec![C, Input(1), Add(0, 1), Add(0, 0)], vec![2, 3]);
    let later = Program::new(vec![Relu(1), C], vec![0]);
    assert!(two_acts.native().is_none() && two_sums.native().is_none());
    assert!(later.native().is_none());
    // The masked sum of W5's backward, `(dP + dY) * step(z)`, with three
    // terms and the sum's operands in either order.
    let w5 = Program::new(
        vec![Input(0), C, Add(0, 1), Input(1), Step(3), Mul(2, 4)],
        vec![5],
    );
    assert!(matches!(w5.native(), Some(Native::Masked { .. })));
}

/// The native forms against the same programs run op by op (bit for bit)
/// and against the programs in f64 with exact `tanh` and sigmoid (to
/// f32 rounding and the approximation's error), with C written and not.
#[test]
fn native_forms_equal_the_general_program_and_a_reference() {
    for (name, prog) in programs().into_iter().filter(|(_, p)| p.native().is_some()) {
        let general = prog.clone().general();
        for &(count, [m, k, n]) in &SHAPES {
            let at = format!("{name}, {count} x {m} x {k} x {n}");
            let native = case(&prog, count, [m, k, n], true);
            let slots = case(&general, count, [m, k, n], true);
            for (f, g) in native.1.iter().zip(&slots.1) {
                assert_eq!(bits(f), bits(g), "{at}");
            }
            let (_, unstored, _, [x, bias, r]) = case_with(&prog, count, [m, k, n], true, false);
            assert_eq!(
                unstored.iter().map(|o| bits(o)).collect::<Vec<_>>(),
                native.1.iter().map(|o| bits(o)).collect::<Vec<_>>(),
                "{at} without C"
            );
            for (e, &cv) in native.0.iter().enumerate() {
                let g = e / n;
                let input = |i: usize| f64::from([x[e], bias[e % n], r[g], 1.0][i]);
                let want = eval64(&prog.ops, f64::from(cv), input);
                for (o, &op) in prog.outputs.iter().enumerate() {
                    let got = f64::from(native.1[o][e]);
                    let tol = 1e-5 * (1.0 + want[op].abs());
                    assert!(
                        (got - want[op]).abs() <= tol,
                        "{at}: output {o} at {e}: {got} against {}",
                        want[op]
                    );
                }
            }
        }
    }
}
