//! Reporting syntax errors looks at a logarithmic number of tokens per
//! error: the work is counted, not timed, so the check cannot be flaky and
//! still fails on a return of the quadratic scan (a pass over the tokens
//! per error looks at thousands of tokens per error on these inputs).

use crate::{FileId, parse_counted};

/// `lines` lines, each with one syntax error.
fn many_errors(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("model m{i} = relu >> >> tanh\n"))
        .collect()
}

/// About `bytes` bytes of the language's tokens in a fixed pseudo-random
/// order, brackets only in balanced pairs.
fn garbage(bytes: usize) -> String {
    const PIECES: [&str; 12] = [
        "( x )", "{ }", "[ 1 ]", ">>", "=", ",", ";", "model", "let", "in", "relu", "param",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = String::new();
    while out.len() < bytes {
        // A xorshift step: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
        out.push(if state.is_multiple_of(16) { '\n' } else { ' ' });
    }
    out
}

/// The most looks per error a binary search per question allows: each
/// error asks a few questions of at most `log2(tokens) + 1` looks each.
fn bound(tokens: usize) -> usize {
    4 * (usize::BITS - tokens.leading_zeros()) as usize + 8
}

#[test]
fn reporting_looks_at_a_logarithmic_number_of_tokens_per_error() {
    for (name, src) in [
        ("errors", many_errors(4_000)),
        ("garbage", garbage(120_000)),
    ] {
        let tokens = crate::lexer::lex(FileId(0), &src).tokens.len();
        let (_, errors, examined) = parse_counted(FileId(0), &src);
        assert!(
            errors.len() >= 1_000,
            "{name}: only {} errors",
            errors.len()
        );
        let per_error = examined as f64 / errors.len() as f64;
        assert!(
            examined <= errors.len() * bound(tokens),
            "{name}: {examined} looks for {} errors over {tokens} tokens ({per_error:.1} per error, at most {} allowed)",
            errors.len(),
            bound(tokens)
        );
        assert!(
            examined >= errors.len(),
            "{name}: the looks are not counted"
        );
    }
}
