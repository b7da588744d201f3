//! Large inputs: a megabyte of syntax errors, or of garbage tokens, is
//! checked in time proportional to its length, with the errors capped and
//! summarised (E0705). The time bound is a guard against a hang (reporting
//! used to be quadratic), not a speed assertion; measured times are in
//! `docs/reliability.md`.

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
