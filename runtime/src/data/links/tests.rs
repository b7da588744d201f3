//! Paths rendered whole up to twelve segments below the root, elided in
//! the middle beyond; scopes found by counting links out.

use super::*;
use crate::value::DataType;

/// The path `x.node[1][0].node[1][0]...` of `n` segments.
fn path_of(paths: &mut Paths<'static>, n: usize) -> PathId {
    let mut at = paths.root();
    for i in 0..n {
        at = if i % 2 == 0 {
            paths.field(at, "node", 1)
        } else {
            paths.index(at, 0)
        };
    }
    at
}

#[test]
fn paths_are_whole_up_to_twelve_segments_and_elided_beyond() {
    let mut paths = Paths::new("x");
    let root = paths.root();
    assert_eq!(paths.render(root), "x");
    let twelve = path_of(&mut paths, 12);
    assert_eq!(
        paths.render(twelve),
        format!("x{}", ".node[1][0]".repeat(6))
    );
    let thirteen = path_of(&mut paths, 13);
    assert_eq!(
        paths.render(thirteen),
        format!(
            "x{}<1 more>[0]{}",
            ".node[1][0]".repeat(3),
            ".node[1][0]".repeat(2) + ".node[1]"
        )
    );
    let m = paths.mismatch(thirteen, "R", "null");
    assert_eq!((m.expected.as_str(), m.found.as_str()), ("R", "null"));
}

#[test]
fn scopes_are_found_by_counting_links_out() {
    let DataType::Data(outer) = DataType::tree(DataType::Tensor(vec![])) else {
        panic!("a data type")
    };
    let DataType::Data(inner) = DataType::list(DataType::Rec(0)) else {
        panic!("a data type")
    };
    let mut scopes = Scopes::default();
    let o = scopes.enter(&outer, None);
    let i = scopes.enter(&inner, Some(o));
    assert_eq!(scopes.up(Some(i), 0), Some(i));
    assert_eq!(scopes.up(Some(i), 1), Some(o));
    assert_eq!(scopes.up(Some(i), 2), None);
    assert_eq!(scopes.up(None, 0), None);
    assert_eq!(scopes.decl(o).name, "Tree(R)");
}

#[test]
fn recursive_positions_are_named_by_the_scopes_they_stand_for() {
    let DataType::Data(outer) = DataType::tree(DataType::Tensor(vec![2])) else {
        panic!("a data type")
    };
    // A list of pairs written inside the tree: its elements' `X` is the tree.
    let pair = DataType::Tuple(vec![DataType::Tensor(vec![2]), DataType::Rec(0)]);
    let DataType::Data(inner) = DataType::list(pair.clone()) else {
        panic!("a data type")
    };
    let mut scopes = Scopes::default();
    let o = scopes.enter(&outer, None);
    let i = scopes.enter(&inner, Some(o));
    let elem = inner.ctors[1].fields[0].to_string();
    assert_eq!(elem, "R[2] * X1");
    assert_eq!(scopes.named(&elem, Some(i)), "R[2] * Tree(R[2])");
    // The list's own name is written where the list sits, inside the tree.
    assert_eq!(inner.name, "List(R[2] * X)");
    assert_eq!(
        scopes.named(&inner.name, scopes.up(Some(i), 1)),
        "List(R[2] * Tree(R[2]))"
    );
    // Names that merely contain an `X`, and positions outside every
    // scope, stay as they are.
    assert_eq!(scopes.named("MaxX * X2 * Xs", Some(i)), "MaxX * X2 * Xs");
}
