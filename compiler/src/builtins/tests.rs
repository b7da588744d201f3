use super::*;

#[test]
fn the_name_lists_follow_the_tables() {
    assert_eq!(POINTWISE.len(), 9);
    assert!(
        POINTWISE
            .iter()
            .all(|n| function(n).map(|f| f.kind) == Some(FunctionKind::Pointwise))
    );
    assert_eq!(BUILTINS.first(), Some(&"sum"));
    assert_eq!(function("outer").map(|f| f.arguments), Some(2));
    assert_eq!(function("mean").map(|f| f.named), Some(&["axis"][..]));
    assert_eq!(function("softmax").map(|f| f.named.len()), Some(0));
    assert!(function("dense").is_none());
}

#[test]
fn no_name_is_two_kinds_of_built_in() {
    let mut all: Vec<&str> = POINTWISE
        .iter()
        .chain(BUILTINS)
        .chain(STRUCTURAL_COALGEBRAS)
        .copied()
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a built-in name is listed twice");
}
