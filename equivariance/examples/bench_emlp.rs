//! Times the solver on the cases of the EMLP peer benchmark.
//!
//! Each case builds its spaces from the group's generators and solves for
//! the equivariant basis (the analogue of EMLP's `equivariant_basis()`),
//! `--repeats` times (default 5); it prints the first run and the median of
//! all runs in seconds, the dimension found, and the method used. Run with
//! `cargo run --release -p cdlc-equivariance --example bench_emlp`.

use cdlc_equivariance::{Basis, Group, Space, action, equivariant};
use std::time::Instant;

struct Case {
    name: &'static str,
    build: fn() -> Basis,
}

fn permutation_two_tensors(n: usize) -> Basis {
    let g = Group::symmetric(n).unwrap();
    let v = action(&g, "permute", &[n]).unwrap();
    let t2 = v.tensor(&v);
    equivariant(&t2, &t2, None).unwrap()
}

fn so3_power(k: usize) -> Basis {
    let v = action(&Group::so3(), "rotate", &[3]).unwrap();
    let t = v.power(k).unwrap();
    equivariant(&t, &t, None).unwrap()
}

fn lorentz_two_tensors() -> Basis {
    let v = action(&Group::lorentz(), "lorentz", &[4]).unwrap();
    let t2 = v.tensor(&v);
    equivariant(&t2, &t2, None).unwrap()
}

fn c4_image(s: usize) -> Basis {
    let g = Group::cyclic(4).unwrap();
    let img = action(&g, "rotate", &[s, s]).unwrap();
    equivariant(&img, &img, None).unwrap()
}

fn zero_fill_shift() -> Basis {
    let g = Group::shifts(8).unwrap();
    let seq = action(&g, "shift_zero", &[8]).unwrap();
    equivariant(&seq, &seq, None).unwrap()
}

fn p4_lifting() -> Basis {
    let g = Group::p4(8).unwrap();
    let img = action(&g, "rotate_translate", &[8, 8]).unwrap();
    let ori = action(&g, "regular", &[4]).unwrap();
    let lift = Space::bare(&[6]).tensor(&ori.tensor(&img));
    equivariant(&lift, &lift, Some(1)).unwrap()
}

fn main() {
    let repeats: usize = std::env::args()
        .skip_while(|a| a != "--repeats")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let cases = [
        Case {
            name: "S_5 T(2)->T(2)",
            build: || permutation_two_tensors(5),
        },
        Case {
            name: "S_10 T(2)->T(2)",
            build: || permutation_two_tensors(10),
        },
        Case {
            name: "S_20 T(2)->T(2)",
            build: || permutation_two_tensors(20),
        },
        Case {
            name: "S_50 T(2)->T(2)",
            build: || permutation_two_tensors(50),
        },
        Case {
            name: "SO(3) V->V",
            build: || so3_power(1),
        },
        Case {
            name: "SO(3) T(2)->T(2)",
            build: || so3_power(2),
        },
        Case {
            name: "SO(3) T(3)->T(3)",
            build: || so3_power(3),
        },
        Case {
            name: "O(1,3) T(2)->T(2)",
            build: lorentz_two_tensors,
        },
        Case {
            name: "C4 8x8 image V->V",
            build: || c4_image(8),
        },
        Case {
            name: "C4 12x12 image V->V",
            build: || c4_image(12),
        },
        Case {
            name: "zero-fill shift R^8 V->V",
            build: zero_fill_shift,
        },
        Case {
            name: "p4(8) R[6]*Ori*Img local(1)",
            build: p4_lifting,
        },
    ];
    println!("| case | dense | free | method | first (s) | median (s) |");
    println!("|---|---|---|---|---|---|");
    for case in &cases {
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            let b = (case.build)();
            times.push(t.elapsed().as_secs_f64());
            last = Some(b);
        }
        let b = last.expect("at least one run");
        let first = times[0];
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "| {} | {} | {} | {:?} | {:.4} | {:.4} |",
            case.name,
            b.dense(),
            b.free(),
            b.method(),
            first,
            median
        );
    }
}
