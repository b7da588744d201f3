//! Tests of the limit on definitions nested through their uses.

use super::*;
use crate::{FileId, SyntaxError, parse};

/// The name and depth of the `UsesTooDeep` error of a program, if any.
fn too_deep_at(src: &str) -> Option<(String, usize)> {
    parse(FileId(0), src).1.iter().find_map(|e| match e {
        SyntaxError::UsesTooDeep { name, depth } => Some((src[name.range()].to_string(), *depth)),
        _ => None,
    })
}

/// `n` layers, each composing the one before with `tanh`.
fn chain(n: usize) -> String {
    let mut src = String::from("layer l0 = dense[2, 2]\n");
    for i in 1..n {
        src.push_str(&format!("layer l{i} = l{} >> tanh\n", i - 1));
    }
    src
}

#[test]
fn a_chain_of_definitions_is_refused_at_the_first_one_too_deep() {
    // Each layer is one level (its `>>`); `l0` is one level as well.
    assert_eq!(too_deep_at(&chain(MAX_USE_DEPTH)), None);
    assert_eq!(
        too_deep_at(&chain(100_000)),
        Some((format!("l{MAX_USE_DEPTH}"), MAX_USE_DEPTH + 1))
    );
}

#[test]
fn depths_through_uses_add_the_deepest_use() {
    let deep = format!("layer a(x: R[2]) -> R[2] {{ x{} }}\n", " + x".repeat(200));
    // `a` is 202 levels (`->`, `{` and 200 links); five uses in a row
    // of a definition that is one level each add 5.
    let mut src = deep.clone();
    let mut previous = "a".to_string();
    for i in 0..5 {
        src.push_str(&format!("layer b{i} = {previous} >> tanh\n"));
        previous = format!("b{i}");
    }
    assert_eq!(too_deep_at(&src), None);
    let lexed = crate::lexer::lex(FileId(0), &src);
    let items = split(&lexed.tokens);
    let by_name = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.name.map(|(_, n, _)| (n, i)))
        .collect();
    assert_eq!(depths(&items, &by_name).last(), Some(&207));
}

#[test]
fn cycles_and_shadowing_locals_do_not_loop() {
    let src = "layer f = g >> tanh\nlayer g = f >> tanh\nlayer h(f: R[2]) -> R[2] { f }\n";
    assert_eq!(too_deep_at(src), None);
}

/// Layer `l{i}` applies `l{i-1}` twice, for `n` layers after `l0`.
fn doubling(n: usize) -> String {
    let mut src = String::from("layer l0(x: R[2]) -> R[2] { tanh(x) }\n");
    for i in 1..=n {
        let p = i - 1;
        src.push_str(&format!(
            "layer l{i}(x: R[2]) -> R[2] {{ l{p}(l{p}(x)) }}\n"
        ));
    }
    src
}

#[test]
fn a_definition_doubling_per_level_is_too_large_at_the_first_level_past_the_limit() {
    let lexed = crate::lexer::lex(FileId(0), &doubling(60));
    let items = split(&lexed.tokens);
    let sizes = inlined_sizes(&items, &names(&items));
    // `l0` is 21 tokens, each later layer 24 of its own and two copies of
    // the one before.
    assert_eq!(sizes[0], 21);
    assert_eq!(sizes[1], 24 + 2 * 21);
    assert_eq!(sizes[2], 24 + 2 * sizes[1]);
    let first = sizes
        .iter()
        .position(|&s| s > MAX_INLINED_TOKENS)
        .expect("sixty doublings pass the limit");
    let ((l, r), size) = too_large(&lexed.tokens).expect("refused");
    let src = doubling(60);
    assert_eq!(&src[l..r], format!("l{first}"));
    assert_eq!(size, sizes[first]);
    // Within the limit: nothing is refused.
    assert_eq!(
        too_large(&crate::lexer::lex(FileId(0), &doubling(first - 1)).tokens),
        None
    );
}

#[test]
fn long_chains_and_cycles_stay_small() {
    assert_eq!(
        too_large(&crate::lexer::lex(FileId(0), &chain(100_000)).tokens),
        None
    );
    let src = "layer f = g >> g >> tanh\nlayer g = f >> f >> tanh\n";
    assert_eq!(too_large(&crate::lexer::lex(FileId(0), src).tokens), None);
}
