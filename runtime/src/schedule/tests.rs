//! Hand-built schedules, the W4 benchmark's level sizes, and a fold
//! evaluated in schedule order against direct recursion.

use std::sync::Arc;

use super::*;
use crate::data::splitmix::make_tree;
use crate::data::synthetic;
use crate::value::{CtorDecl, Tensor};

fn s(x: f64) -> Value {
    Value::Tensor(Tensor::scalar(x))
}

fn list_type() -> DataType {
    DataType::list(DataType::Tensor(vec![]))
}

/// Checks the invariants every schedule has: groups are contiguous and in
/// order, every node appears once, children come before their parents and
/// lie at lower heights.
#[track_caller]
fn check_valid(sched: &Schedule<'_>) {
    let mut height_of = vec![usize::MAX; sched.num_nodes];
    let mut next = 0u32;
    for (h, level) in sched.levels.iter().enumerate() {
        assert!(!level.groups.is_empty(), "level {h} is empty");
        let mut last_ctor = None;
        for g in &level.groups {
            assert!(
                last_ctor < Some(g.ctor),
                "constructors in order within a level"
            );
            last_ctor = Some(g.ctor);
            assert_eq!(g.first, next, "groups are numbered contiguously");
            assert_eq!(g.children.len(), g.len * g.rec_arity);
            assert_eq!(g.fields.len(), g.len * g.field_arity);
            assert_eq!(g.examples.len(), g.len);
            assert_eq!(g.list_offsets.len(), g.len * g.list_arity + 1);
            assert_eq!(g.nested_offsets.len(), g.len * g.nested_arity + 1);
            assert_eq!(g.nested_values.len(), g.len * g.nested_arity);
            for i in 0..g.len {
                let lists = &g.list_offsets[i * g.list_arity..=(i + 1) * g.list_arity];
                let in_lists = &g.list_children[lists[0] as usize..lists[g.list_arity] as usize];
                let nested = &g.nested_offsets[i * g.nested_arity..=(i + 1) * g.nested_arity];
                let in_nested =
                    &g.nested_children[nested[0] as usize..nested[g.nested_arity] as usize];
                let kids: Vec<u32> = g.children[i * g.rec_arity..(i + 1) * g.rec_arity]
                    .iter()
                    .chain(in_lists)
                    .chain(in_nested)
                    .copied()
                    .collect();
                assert!(
                    kids.iter().all(|&k| k < g.first),
                    "children are numbered before the group"
                );
                let max_kid = kids.iter().map(|&k| height_of[k as usize]).max();
                assert_eq!(
                    max_kid.map_or(0, |m| m + 1),
                    h,
                    "height is 1 + the highest child"
                );
                height_of[(g.first as usize) + i] = h;
            }
            next += g.len as u32;
        }
    }
    assert_eq!(next as usize, sched.num_nodes);
    assert!(height_of.iter().all(|&h| h != usize::MAX));
}

#[test]
fn two_lists_by_hand() {
    // [1, 2] = cons(1, cons(2, nil)) and [3] = cons(3, nil). Post-order:
    // nil_a, cons2, cons1, nil_b, cons3. Heights: nils 0, cons2 and cons3 1,
    // cons1 2. Numbers: nil_a 0, nil_b 1 | cons2 2, cons3 3 | cons1 4.
    let batch = [Value::list(vec![s(1.0), s(2.0)]), Value::list(vec![s(3.0)])];
    let sched = schedule(&batch, &list_type()).expect("lists");
    check_valid(&sched);
    assert_eq!(sched.num_nodes, 5);
    assert_eq!(sched.roots, vec![4, 3]);
    let nil = &sched.levels[0].groups[0];
    assert_eq!(
        (nil.ctor, nil.first, nil.len, nil.rec_arity, nil.field_arity),
        (0, 0, 2, 0, 0)
    );
    assert_eq!(nil.examples, vec![0, 1]);
    let l1 = &sched.levels[1].groups[0];
    assert_eq!((l1.ctor, l1.first, l1.len), (1, 2, 2));
    assert_eq!(l1.children, vec![0, 1]);
    assert_eq!(l1.fields, vec![&s(2.0), &s(3.0)]);
    let l2 = &sched.levels[2].groups[0];
    assert_eq!(
        (l2.first, l2.children.clone(), l2.fields.clone()),
        (4, vec![2], vec![&s(1.0)])
    );
}

#[test]
fn a_tree_by_hand() {
    // node(leaf a, node(leaf b, leaf c)): leaves a, b, c are 0, 1, 2; the
    // inner node (height 1) is 3 with children [1, 2]; the root is 4 with
    // children [0, 3].
    let t = Value::node(
        Value::leaf(s(1.0)),
        Value::node(Value::leaf(s(2.0)), Value::leaf(s(3.0))),
    );
    let sched = schedule([&t], &DataType::tree(DataType::Tensor(vec![]))).expect("a tree");
    check_valid(&sched);
    let leaves = &sched.levels[0].groups[0];
    assert_eq!((leaves.ctor, leaves.len), (0, 3));
    assert_eq!(leaves.fields, vec![&s(1.0), &s(2.0), &s(3.0)]);
    assert_eq!(sched.levels[1].groups[0].children, vec![1, 2]);
    assert_eq!(sched.levels[2].groups[0].children, vec![0, 3]);
    assert_eq!(sched.roots, vec![4]);
}

#[test]
fn w4_trees_have_the_benchmarks_level_sizes() {
    // The peers' README: 11 levels of internal nodes of sizes 169, 103, 69,
    // 50, 35, 22, 18, 15, 9, 4, 2 across the 16 trees; 496 internal nodes.
    let trees: Vec<Value> = (0..16)
        .map(|t| make_tree(t, 32).to_value(&mut |i| Tensor::scalar(i as f64)))
        .collect();
    let sched = schedule(&trees, &DataType::tree(DataType::Tensor(vec![]))).expect("trees");
    check_valid(&sched);
    let sizes: Vec<usize> = sched
        .levels
        .iter()
        .map(|l| l.groups.iter().map(|g| g.len).sum())
        .collect();
    assert_eq!(sizes, vec![512, 169, 103, 69, 50, 35, 22, 18, 15, 9, 4, 2]);
    assert_eq!(sched.num_nodes, 512 + 496);
}

#[test]
fn a_batch_of_more_nodes_than_the_limit_is_too_large() {
    // The W4 trees have 1008 nodes: scheduled within exactly that many, and
    // refused within one fewer, as a batch of more than 2^32 - 1 nodes is
    // within `MAX_NODES`, by the same walk.
    let trees: Vec<Value> = (0..16)
        .map(|t| make_tree(t, 32).to_value(&mut |i| Tensor::scalar(i as f64)))
        .collect();
    let ty = DataType::tree(DataType::Tensor(vec![]));
    let whole = schedule_within(&trees, &ty, 1008).expect("within the limit");
    assert_eq!(whole.num_nodes, 1008);
    assert_eq!(
        schedule_within(&trees, &ty, 1007).err(),
        Some(ScheduleError::TooLarge)
    );
    assert_eq!(
        schedule_within(&trees[..1], &ty, 0).err(),
        Some(ScheduleError::TooLarge)
    );
}

/// The sum of a tree's leaves, computed recursively.
fn direct_sum(v: &Value) -> f64 {
    match v {
        Value::Node { ctor: 0, fields } => fields[0].as_tensor().map_or(0.0, |t| {
            t.data.iter().enumerate().map(|(i, x)| i as f64 * x).sum()
        }),
        Value::Node { fields, .. } => 2.0 * direct_sum(&fields[0]) - direct_sum(&fields[1]),
        _ => unreachable!("trees only"),
    }
}

#[test]
fn folding_in_schedule_order_matches_recursion() {
    // A non-commutative algebra: leaf(x) = sum_i i x_i, node(l, r) = 2l - r.
    let args: Vec<(String, f64)> = [
        ("modulus", 5.0),
        ("min_leaves", 1.0),
        ("max_leaves", 30.0),
        ("samples", 200.0),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    let data = synthetic::generate("sum_trees", &args, 3).expect("valid arguments");
    let batch: Vec<&Value> = data.examples.iter().map(|e| &e.x).collect();
    let sched = schedule(batch.iter().copied(), &data.signature.x).expect("trees");
    check_valid(&sched);
    let mut result = vec![f64::NAN; sched.num_nodes];
    for level in &sched.levels {
        for g in &level.groups {
            for i in 0..g.len {
                result[g.first as usize + i] = if g.ctor == 0 {
                    let t = g.fields[i].as_tensor().expect("a leaf holds a tensor");
                    t.data.iter().enumerate().map(|(i, x)| i as f64 * x).sum()
                } else {
                    2.0 * result[g.children[2 * i] as usize]
                        - result[g.children[2 * i + 1] as usize]
                };
            }
        }
    }
    for (root, v) in sched.roots.iter().zip(&batch) {
        assert_eq!(result[*root as usize], direct_sum(v));
    }
}

#[test]
fn long_lists_do_not_recurse() {
    let long = Value::list((0..200_000).map(|i| s(f64::from(i))).collect());
    let sched = schedule([&long], &list_type()).expect("a list");
    assert_eq!(sched.levels.len(), 200_001);
    assert_eq!(sched.roots, vec![200_000]);
}

#[test]
fn empty_batches_and_errors() {
    let sched = schedule(std::iter::empty(), &list_type()).expect("nothing to do");
    assert_eq!((sched.num_nodes, sched.levels.len()), (0, 0));

    let err = schedule([&s(1.0)], &list_type()).expect_err("not a list");
    assert!(matches!(err, ScheduleError::BadNode { example: 0, .. }));
    let bad = Value::Node {
        ctor: 1,
        fields: vec![
            s(1.0),
            Value::Node {
                ctor: 5,
                fields: vec![],
            },
        ],
    };
    let err = schedule([&Value::list(vec![]), &bad], &list_type()).expect_err("bad constructor");
    assert!(
        matches!(err, ScheduleError::BadNode { example: 1, .. }),
        "{err}"
    );
    assert!(matches!(
        schedule([&s(1.0)], &DataType::Tensor(vec![])),
        Err(ScheduleError::NotData { .. })
    ));
}

fn rose_type() -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: "Rose(R)".into(),
        ctors: vec![CtorDecl {
            name: "rose".into(),
            fields: vec![DataType::Tensor(vec![]), DataType::list(DataType::Rec(0))],
        }],
    }))
}

fn rose(x: f64, kids: Vec<Value>) -> Value {
    Value::Node {
        ctor: 0,
        fields: vec![s(x), Value::list(kids)],
    }
}

#[test]
fn rose_trees_by_hand() {
    // Example 0 is 1[2, 3[4]], example 1 is 5[]. Post-order: 2, 4, 3, 1, 5.
    // Heights: 2, 4 and 5 are 0, 3 is 1, 1 is 2. Numbers: 2 -> 0, 4 -> 1,
    // 5 -> 2 | 3 -> 3 | 1 -> 4.
    let batch = [
        rose(
            1.0,
            vec![rose(2.0, vec![]), rose(3.0, vec![rose(4.0, vec![])])],
        ),
        rose(5.0, vec![]),
    ];
    let sched = schedule(&batch, &rose_type()).expect("rose trees");
    check_valid(&sched);
    assert_eq!(sched.num_nodes, 5);
    assert_eq!(sched.roots, vec![4, 2]);
    let l0 = &sched.levels[0].groups[0];
    assert_eq!((l0.first, l0.len, l0.list_arity), (0, 3, 1));
    assert_eq!(l0.list_offsets, vec![0, 0, 0, 0]);
    assert!(l0.list_children.is_empty());
    assert_eq!(l0.fields, vec![&s(2.0), &s(4.0), &s(5.0)]);
    assert_eq!(l0.examples, vec![0, 0, 1]);
    let l1 = &sched.levels[1].groups[0];
    assert_eq!((l1.first, l1.len), (3, 1));
    assert_eq!(
        (l1.list_offsets.clone(), l1.list_children.clone()),
        (vec![0, 1], vec![1])
    );
    let l2 = &sched.levels[2].groups[0];
    assert_eq!((l2.first, l2.len), (4, 1));
    assert_eq!(
        (l2.list_offsets.clone(), l2.list_children.clone()),
        (vec![0, 2], vec![0, 3])
    );
    assert_eq!(l2.fields, vec![&s(1.0)]);
}

#[test]
fn a_deep_rose_tree_does_not_recurse() {
    // A path of 200 000 nodes, each the only child of the one above.
    let mut t = rose(0.0, vec![]);
    for i in 1..200_000 {
        t = rose(i as f64, vec![t]);
    }
    let sched = schedule([&t], &rose_type()).expect("a deep rose tree");
    assert_eq!(sched.levels.len(), 200_000);
    assert_eq!(sched.roots, vec![199_999]);
    let top = &sched.levels[199_999].groups[0];
    assert_eq!(top.list_children, vec![199_998]);
    // Dropping the value would recurse as deep as the tree; the test ends
    // here, so its memory is left to the process.
    std::mem::forget(t);
}

/// `Pairs(R) = end | more((X, R))`: the recursive position inside a tuple.
fn pairs_type() -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: "Pairs(R)".into(),
        ctors: vec![
            CtorDecl {
                name: "end".into(),
                fields: vec![],
            },
            CtorDecl {
                name: "more".into(),
                fields: vec![DataType::Tuple(vec![
                    DataType::Rec(0),
                    DataType::Tensor(vec![]),
                ])],
            },
        ],
    }))
}

fn more(next: Value, x: f64) -> Value {
    Value::Node {
        ctor: 1,
        fields: vec![Value::Tuple(vec![next, s(x)])],
    }
}

#[test]
fn nested_field_in_a_tuple() {
    // more((more((end, 2)), 1)): end 0, inner more 1, outer more 2.
    let end = Value::Node {
        ctor: 0,
        fields: vec![],
    };
    let v = more(more(end, 2.0), 1.0);
    let sched = schedule([&v], &pairs_type()).expect("pairs");
    check_valid(&sched);
    assert_eq!(sched.num_nodes, 3);
    assert_eq!(sched.roots, vec![2]);
    let outer = &sched.levels[2].groups[0];
    assert_eq!((outer.nested_arity, outer.field_arity), (1, 0));
    assert_eq!(outer.nested_offsets, vec![0, 1]);
    assert_eq!(outer.nested_children, vec![1]);
    let Value::Node { fields, .. } = &v else {
        unreachable!("built as a node")
    };
    assert_eq!(outer.nested_values, vec![&fields[0]]);
}

/// `Kids(R) = tip(R) | node(R, Tree(X))`: children at a tree's leaves.
fn kids_type() -> DataType {
    DataType::Data(Arc::new(DataDecl {
        name: "Kids(R)".into(),
        ctors: vec![
            CtorDecl {
                name: "tip".into(),
                fields: vec![DataType::Tensor(vec![])],
            },
            CtorDecl {
                name: "node".into(),
                fields: vec![DataType::Tensor(vec![]), DataType::tree(DataType::Rec(0))],
            },
        ],
    }))
}

#[test]
fn nested_tree_of_children() {
    // node(0, node(leaf(tip 1), node(leaf(tip 2), leaf(node(3, leaf(tip 4))))))
    let tip = |x| Value::Node {
        ctor: 0,
        fields: vec![s(x)],
    };
    let node = |x, t| Value::Node {
        ctor: 1,
        fields: vec![s(x), t],
    };
    let inner = node(3.0, Value::leaf(tip(4.0)));
    let t = Value::node(
        Value::leaf(tip(1.0)),
        Value::node(Value::leaf(tip(2.0)), Value::leaf(inner)),
    );
    let root = node(0.0, t);
    let lone = tip(5.0);
    let sched = schedule([&root, &lone], &kids_type()).expect("kid trees");
    check_valid(&sched);
    assert_eq!(sched.num_nodes, 6);
    // Heights: tips 0 (four of them), `node 3` 1, the root 2.
    let sizes: Vec<usize> = sched
        .levels
        .iter()
        .map(|l| l.groups.iter().map(|g| g.len).sum())
        .collect();
    assert_eq!(sizes, vec![4, 1, 1]);
    let top = &sched.levels[2].groups[0];
    // Children in walking order: tip 1, tip 2, node 3.
    let kids = &top.nested_children;
    assert_eq!(kids.len(), 3);
    assert_eq!(kids[2], sched.levels[1].groups[0].first);
    let mut order = Vec::new();
    nested::holes(
        top.nested_values[0],
        &DataType::tree(DataType::Rec(0)),
        0,
        &mut order,
    )
    .expect("the field's children");
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], &node(3.0, Value::leaf(tip(4.0))));
    // A value that does not fit the field's type is a bad node.
    let bad = node(0.0, s(1.0));
    assert!(matches!(
        schedule([&bad], &kids_type()),
        Err(ScheduleError::BadNode { example: 0, .. })
    ));
}
