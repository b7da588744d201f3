//! The nested-field checks on a hand-built group: two nodes of a
//! `node(Opt(X))` fold, each holding `some(child)`, pass as built, and a
//! corrupted pool or structure schedule gets its code; so do two twins
//! whose pairs of children (`X * X`) are read like recursive fields, and
//! two structure nodes each holding a pair of children (two pool rows).

use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};

use super::super::{Ctors, check_fold};
use super::check_nested_fields;
use crate::batch::{FoldData, GroupData, NestedData};
use crate::plan::{FoldInfo, NestedField, PlanError, Site};

/// `Opt(X)`: `none()` and `some(X)`, `X` the enclosing fold's position.
fn opt() -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: "Opt(X)".into(),
        ctors: vec![
            CtorDecl {
                name: "none".into(),
                fields: Vec::new(),
            },
            CtorDecl {
                name: "some".into(),
                fields: vec![DataType::Rec(1)],
            },
        ],
    }))
}

/// The enclosing fold: `leaf()` and `node(Opt(X))`.
fn info() -> FoldInfo {
    let decl = Arc::new(DataDecl {
        name: "Chain".into(),
        ctors: vec![
            CtorDecl {
                name: "leaf".into(),
                fields: Vec::new(),
            },
            CtorDecl {
                name: "node".into(),
                fields: vec![opt()],
            },
        ],
    });
    FoldInfo {
        decl,
        halves: false,
        input: 0,
        over_unfold: None,
        field_sizes: vec![Vec::new(), Vec::new()],
        field_lists: vec![Vec::new(), Vec::new()],
        field_structures: vec![Vec::new(), Vec::new()],
        nested_in: None,
        nested_fields: vec![
            Vec::new(),
            vec![NestedField {
                ty: opt(),
                carrier_parts: 1,
                at: 0,
                plain_before: 0,
                tuple: None,
            }],
        ],
        inner: None,
    }
}

/// A group of `len` nodes of constructor `ctor`, no tables but `children`,
/// `examples` and `elems`.
fn group(ctor: usize, first: usize, examples: Vec<u32>, elems: Vec<u32>) -> GroupData<f64> {
    GroupData {
        ctor,
        first,
        len: examples.len(),
        children: Vec::new(),
        fields: Vec::new(),
        examples,
        elems,
        list_arity: 0,
        list_offsets: vec![0],
        list_children: Vec::new(),
        field_lists: Vec::new(),
        held: Vec::new(),
        nested_fields: Vec::new(),
    }
}

/// Nodes 2 and 3 of the fold (whose leaves are 0 and 1), each holding
/// `some(leaf)`: the pool holds child 0 for node 2 and child 1 for node 3,
/// and the structures are two `some` nodes reading pool rows 0 and 1.
fn nodes() -> GroupData<f64> {
    let structures = FoldData {
        levels: vec![vec![group(1, 0, vec![0, 1], vec![0, 1])]],
        roots: vec![0, 1],
        num_nodes: 2,
    };
    let mut g = group(1, 2, vec![0, 1], Vec::new());
    g.nested_fields.push(NestedData {
        offsets: vec![0, 1, 2],
        children: vec![0, 1],
        fold: structures,
    });
    g
}

/// The code of the check `corrupt` makes fail.
fn code_after(corrupt: impl FnOnce(&mut GroupData<f64>)) -> PlanError {
    let (info, mut g) = (info(), nodes());
    check_nested_fields(&Site(vec![]), &info, &g, 4).expect("as built");
    corrupt(&mut g);
    check_nested_fields(&Site(vec![]), &info, &g, 4).expect_err("corrupted")
}

#[test]
fn a_pool_child_past_the_nodes_is_p011() {
    let e = code_after(|g| g.nested_fields[0].children[1] = 4);
    assert_eq!(e.code(), "P011", "{e}");
    assert!(e.to_string().contains("nested field 0"), "{e}");
}

#[test]
fn a_short_pool_or_a_missing_field_is_p014() {
    let e = code_after(|g| {
        g.nested_fields[0].offsets.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
    let e = code_after(|g| {
        g.nested_fields.clear();
    });
    assert_eq!(e.code(), "P014", "{e}");
}

#[test]
fn a_structure_reading_another_nodes_pool_row_is_p015() {
    let e = code_after(|g| g.nested_fields[0].fold.levels[0][0].elems.swap(0, 1));
    assert_eq!(e.code(), "P015", "{e}");
}

#[test]
fn a_structure_node_in_no_group_is_p012() {
    let e = code_after(|g| g.nested_fields[0].fold.num_nodes = 3);
    assert_eq!(e.code(), "P012", "{e}");
}

/// A fold of `tip()` and `twin(X * X)`: a twin's two children are read
/// like recursive fields, so the checker counts them among its children.
fn twin_info() -> FoldInfo {
    let pair = DataType::Tuple(vec![DataType::Rec(0), DataType::Rec(0)]);
    let decl = Arc::new(DataDecl {
        name: "Twin".into(),
        ctors: vec![
            CtorDecl {
                name: "tip".into(),
                fields: Vec::new(),
            },
            CtorDecl {
                name: "twin".into(),
                fields: vec![pair.clone()],
            },
        ],
    });
    let mut info = info();
    info.decl = decl;
    info.nested_fields[1] = vec![NestedField {
        ty: pair,
        carrier_parts: 1,
        at: 0,
        plain_before: 0,
        tuple: Some(2),
    }];
    info
}

/// Two examples, each a twin (nodes 4 and 5) of two tips (0, 1 and 2, 3).
fn twins() -> FoldData<f64> {
    let mut top = group(1, 4, vec![0, 1], Vec::new());
    top.children = vec![0, 1, 2, 3];
    FoldData {
        levels: vec![vec![group(0, 0, vec![0, 0, 1, 1], Vec::new())], vec![top]],
        roots: vec![4, 5],
        num_nodes: 6,
    }
}

/// The code of the check `corrupt` makes fail on the twins.
fn twin_code_after(corrupt: impl FnOnce(&mut GroupData<f64>)) -> PlanError {
    let (info, mut fd) = (twin_info(), twins());
    let ctors = Ctors::of(&info);
    check_fold(&Site(vec![]), &fd, 2, &ctors, None).expect("as built");
    corrupt(&mut fd.levels[1][0]);
    check_fold(&Site(vec![]), &fd, 2, &ctors, None).expect_err("corrupted")
}

#[test]
fn a_twin_missing_a_child_of_its_pair_is_p014() {
    let e = twin_code_after(|g| {
        g.children.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
    assert!(e.to_string().contains("children"), "{e}");
}

#[test]
fn a_twin_holding_another_examples_child_is_p015() {
    let e = twin_code_after(|g| g.children.swap(1, 2));
    assert_eq!(e.code(), "P015", "{e}");
}

/// `Two(X)`: `none()` and `both(X * X)`, a constructor holding two of the
/// enclosing fold's children (like a leaf of `Tree(X * X)`).
fn two() -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: "Two(X)".into(),
        ctors: vec![
            CtorDecl {
                name: "none".into(),
                fields: Vec::new(),
            },
            CtorDecl {
                name: "both".into(),
                fields: vec![DataType::Tuple(vec![DataType::Rec(1), DataType::Rec(1)])],
            },
        ],
    }))
}

/// Nodes 4 and 5 of a `leaf() | node(Two(X))` fold, of examples 0 and 1,
/// each holding `both(l, r)` of its example's two leaves: the pool's step
/// 0 holds the left children, step 1 the right ones, and each structure
/// node reads its two rows (node `i`: rows `i` and `2 + i`).
fn pairs() -> (FoldInfo, GroupData<f64>) {
    let mut info = info();
    info.nested_fields[1][0].ty = two();
    let structures = FoldData {
        levels: vec![vec![group(1, 0, vec![0, 1], vec![0, 2, 1, 3])]],
        roots: vec![0, 1],
        num_nodes: 2,
    };
    let mut g = group(1, 4, vec![0, 1], Vec::new());
    g.nested_fields.push(NestedData {
        offsets: vec![0, 2, 4],
        children: vec![0, 1, 2, 3],
        fold: structures,
    });
    (info, g)
}

/// The code of the check `corrupt` makes fail on the pairs.
fn pair_code_after(corrupt: impl FnOnce(&mut GroupData<f64>)) -> PlanError {
    let (info, mut g) = pairs();
    check_nested_fields(&Site(vec![]), &info, &g, 6).expect("as built");
    corrupt(&mut g.nested_fields[0].fold.levels[0][0]);
    check_nested_fields(&Site(vec![]), &info, &g, 6).expect_err("corrupted")
}

#[test]
fn a_structure_node_missing_one_of_its_childrens_rows_is_p014() {
    let e = pair_code_after(|s| {
        s.elems.pop();
    });
    assert_eq!(e.code(), "P014", "{e}");
    assert!(e.to_string().contains("elements"), "{e}");
}

#[test]
fn a_structure_node_reading_a_row_of_another_node_among_its_two_is_p015() {
    // Node 0 would read rows 0 and 1, row 1 being node 1's left child.
    let e = pair_code_after(|s| s.elems.swap(1, 2));
    assert_eq!(e.code(), "P015", "{e}");
}
