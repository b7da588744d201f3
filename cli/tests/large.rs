//! Large inputs: a megabyte of syntax errors, or of garbage tokens, is
//! checked in time proportional to its length, with the errors capped and
//! summarised (E0705). The time bound is a guard against a hang (reporting
//! used to be quadratic), not a speed assertion; measured times are in
//! `docs/reliability.md`. And a `cyclic` layer on 100 000 samples checks,
//! prints its tying and has its JIT gradient checked against finite
//! differences, without its dense map ever being built.

use std::time::{Duration, Instant};

mod common;
use common::{cdlc, scratch, stderr};

/// About one megabyte of lines, each with one syntax error.
fn many_errors() -> String {
    (0..33_000)
        .map(|i| format!("model m{i} = relu >> >> tanh\n"))
        .collect()
}

/// About one megabyte of tokens of the language in a fixed pseudo-random
/// order, with brackets only in balanced pairs.
fn garbage() -> String {
    const PIECES: [&str; 16] = [
        "( x )", "{ }", "[ 1 ]", "+", ">>", "@", "=", ",", ";", "model", "let", "in", "relu",
        "1.5", "=>", "param",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = String::new();
    while out.len() < 1_000_000 {
        // A xorshift step: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
        out.push(if state.is_multiple_of(20) { '\n' } else { ' ' });
    }
    out
}

#[test]
fn a_megabyte_of_errors_is_checked_in_bounded_time_with_a_summary() {
    let dir = scratch("large");
    for (name, src) in [("errors.cdl", many_errors()), ("garbage.cdl", garbage())] {
        std::fs::write(dir.join(name), src).unwrap();
        let start = Instant::now();
        let out = cdlc(&["check", name], &dir);
        let took = start.elapsed();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("[E0705]"),
            "{name}: {}",
            &err[err.len().saturating_sub(2000)..]
        );
        assert!(took < Duration::from_secs(60), "{name}: {took:?}");
    }
}

/// Two `cyclic(100000)` layers with `local(2)`, 1 → 4 → 1 channels, whose
/// dense maps would have 4·10^10 entries each.
const RING: &str = "const n = 100000
group C = cyclic(n)
space Sig = R[n] under C by shift
space Sig4 = R[4] * Sig
layer conv_in(x: Sig) -> Sig4 equivariant C {
  param K: equivariant Sig -> Sig4 where local(2) = glorot
  param b: invariant Sig4 = zeros
  tanh(K @ x + b)
}
layer conv_out(h: Sig4) -> Sig equivariant C {
  param K: equivariant Sig4 -> Sig where local(2) = glorot
  K @ h
}
model smooth(x: Sig) -> Sig equivariant C {
  conv_out(conv_in(x))
}
train smooth {
  data   = synthetic.ring_smooth(points = n, samples = 4)
  loss   = mse
  epochs = 1
  batch  = 4
}
";

#[test]
fn a_cyclic_layer_on_100000_samples_checks_and_its_jit_gradient_matches_finite_differences() {
    let dir = scratch("ring-100k");
    std::fs::write(dir.join("ring.cdl"), RING).unwrap();
    let checked = cdlc(&["check", "ring.cdl"], &dir);
    assert!(checked.status.success(), "{}", stderr(&checked));
    let tying = cdlc(&["ring.cdl", "--emit", "tying"], &dir);
    assert!(tying.status.success(), "{}", stderr(&tying));
    let text = String::from_utf8_lossy(&tying.stdout);
    assert!(
        text.starts_with("conv_in.K: 20 free of 40000000000\n"),
        "{}",
        &text[..text.len().min(400)]
    );
    // gradcheck fails when nothing is compared, so success means entries
    // and directions were compared within its tolerance.
    let grad = cdlc(
        &[
            "gradcheck",
            "ring.cdl",
            "--backend",
            "jit",
            "--samples",
            "1",
            "--coords",
            "3",
        ],
        &dir,
    );
    assert!(
        grad.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&grad.stdout),
        stderr(&grad)
    );
}
