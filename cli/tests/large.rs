//! Large inputs: a megabyte of syntax errors, or of garbage tokens, is
//! checked with the errors capped and summarised (E0705): the first 100
//! are shown, the summary counts the rest, and the report stays a few
//! hundred kilobytes. Nothing here is timed: that reporting stays linear
//! is checked by counting the tokens it looks at per error
//! (`grammar/src/token_index/tests.rs`), and the measured times, with the
//! command that takes them, are in `docs/reliability.md`. And a `cyclic`
//! layer on 100 000 samples checks, prints its tying and has its JIT
//! gradient checked against finite differences, without its dense map
//! ever being built.

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

/// The number of errors the E0705 summary of `report` says it leaves out.
fn not_shown(report: &str) -> usize {
    let line = report
        .lines()
        .find(|l| l.contains("[E0705]"))
        .expect("the report ends with the E0705 summary");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "more")
        .expect("the summary says how many more");
    words[at - 1].parse().expect("a count before `more`")
}

#[test]
fn a_megabyte_of_errors_is_reported_as_the_first_hundred_and_a_count_of_the_rest() {
    let dir = scratch("large");
    for (name, src, errors) in [
        ("errors.cdl", many_errors(), Some(33_000)),
        ("garbage.cdl", garbage(), None),
    ] {
        std::fs::write(dir.join(name), src).unwrap();
        let out = cdlc(&["check", name], &dir);
        let err = stderr(&out);
        let cut = (err.len().saturating_sub(2000)..err.len())
            .find(|&i| err.is_char_boundary(i))
            .unwrap_or(err.len());
        let tail = &err[cut..];
        assert_eq!(out.status.code(), Some(1), "{name}: {tail}");
        let shown = err.matches("] Error:").count();
        assert_eq!(shown, 101, "{name}: 100 errors and the summary: {tail}");
        assert!(
            err.ends_with("───╯\n"),
            "{name}: the summary comes last: {tail}"
        );
        let rest = not_shown(&err);
        match errors {
            Some(n) => assert_eq!(100 + rest, n, "{name}: one error per line: {tail}"),
            None => assert!(rest > 1_000, "{name}: {rest} not shown: {tail}"),
        }
        assert!(
            err.len() < 200_000,
            "{name}: the report is {} bytes, not capped",
            err.len()
        );
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
