//! Tests of the nesting limit on generated programs: each kind of chain is
//! refused one token past the limit and accepted at it, and siblings do not
//! add up.

use super::*;
use crate::{FileId, SyntaxError, parse};

/// The syntax errors of a program (`TooDeep` among them, if any).
fn too_deep_at(src: &str) -> Option<usize> {
    parse(FileId(0), src).1.iter().find_map(|e| match e {
        SyntaxError::TooDeep(span) => Some(span.start as usize),
        _ => None,
    })
}

/// A model whose body is `body`.
fn model(body: &str) -> String {
    format!("model m(x: R[2]) -> R[2] {{ {body} }}\n")
}

#[test]
fn every_kind_of_chain_is_refused_past_the_limit_and_accepted_at_it() {
    // The model's `->` and its block's `{` are two levels; a call's own
    // bracket is one more.
    let chains: [(&str, &str, &str, usize); 7] = [
        ("x", " + x", "", 2),
        ("x", " @ x", "", 2),
        ("x", " >> x", "", 2),
        ("x", "^T", "", 2),
        ("", "-", "x", 2),
        ("", "let y = x in ", "x", 2),
        ("f(x)", "(x)", "", 3),
    ];
    for (head, link, tail, around) in chains {
        let n = MAX_DEPTH - around;
        let within = model(&format!("{head}{}{tail}", link.repeat(n)));
        assert_eq!(too_deep_at(&within), None, "{link:?} at the limit");
        let beyond = model(&format!("{head}{}{tail}", link.repeat(n + 1)));
        let at = too_deep_at(&beyond).unwrap_or_else(|| panic!("{link:?} past the limit"));
        // The error is in the last link, the first one too deep.
        let last_link = beyond.rfind(link.trim()).expect("the chain has links");
        assert!(
            at >= last_link && at < last_link + link.len(),
            "{link:?}: {at}"
        );
    }
}

#[test]
fn brackets_and_links_add_up() {
    let half = MAX_DEPTH / 2;
    let nested = |links: usize| {
        let open = "tanh(".repeat(half);
        model(&format!(
            "{open}x{}{}",
            " + x".repeat(links),
            ")".repeat(half)
        ))
    };
    assert_eq!(too_deep_at(&nested(half - 2)), None);
    assert!(too_deep_at(&nested(half - 1)).is_some());
}

#[test]
fn siblings_do_not_add_up() {
    let n = 4 * MAX_DEPTH;
    let statements: String = (0..n).map(|i| format!("let y{i} = x + x\n")).collect();
    assert_eq!(too_deep_at(&model(&format!("{statements} x"))), None);
    let args = vec!["x + x"; n].join(", ");
    assert_eq!(too_deep_at(&model(&format!("f({args})"))), None);
    let items: String = (0..n).map(|i| format!("const c{i} = 1 + 1\n")).collect();
    assert_eq!(too_deep_at(&items), None);
    let cases = "nil => z + z\n".repeat(n);
    assert_eq!(
        too_deep_at(&format!("algebra a : F -> R {{ {cases} }}")),
        None
    );
}

#[test]
fn closing_brackets_beyond_the_open_ones_are_harmless() {
    let src = format!("{}{}", ")".repeat(10), model("x + x"));
    assert_eq!(too_deep_at(&src), None);
}
