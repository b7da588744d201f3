//! The verifier's checks of structures held in a nested structure's
//! nodes, on the plans lowered from a real model: a node holding a list
//! of binary trees whose leaves are its children (`List(Tree(X))`,
//! `crate::fixtures::grove`). Both plans verify as lowered; a tree's fold
//! no longer marked held and one adding into cotangents other than the
//! list's pool cotangents each fail with their code.

use super::super::super::error::PlanError;
use super::super::super::*;
use super::verify;

/// The grove's plan, forward or training, checked to verify as lowered.
fn grove_plan(train: bool) -> Plan {
    let (module, func) = crate::fixtures::grove(train);
    let plan = crate::lower::lower(&module, func, train).expect("the JIT lowers the grove");
    verify(&plan).unwrap_or_else(|e| panic!("the grove's plan (train: {train}): {e}"));
    plan
}

/// Applies `corrupt` to the source of every fold over a held tree in
/// `code` and in the regions inside it, forward and backward, and counts
/// them.
fn each_held(code: &mut [Instr], corrupt: &impl Fn(&mut NestedSrc)) -> usize {
    let mut held = 0;
    for ins in code {
        let (nested, cases) = match ins {
            Instr::Fold(f) => (f.nested.as_mut(), &mut f.cases),
            Instr::FoldBackward(f) => (f.nested.as_mut(), &mut f.cases),
            _ => continue,
        };
        if let Some(n) = nested.filter(|n| n.held) {
            corrupt(n);
            held += 1;
        }
        for c in cases.iter_mut() {
            held += each_held(&mut c.code, corrupt);
        }
    }
    held
}

/// The error of the plan after `corrupt` changed the source of every
/// fold over a held tree (forward and backward), which must make it
/// fail.
fn after(train: bool, corrupt: impl Fn(&mut NestedSrc)) -> PlanError {
    let mut p = grove_plan(train);
    let held = each_held(&mut p.code, &corrupt);
    assert!(held > 0, "the grove's plan folds held trees");
    match verify(&p) {
        Ok(_) => panic!("the verifier accepted a corrupted held tree"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_code(e: &PlanError, code: &str, words: &str) {
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(words), "{e}");
}

#[test]
fn a_held_tree_not_marked_held_is_a_mismatch() {
    for train in [false, true] {
        let e = after(train, |n| n.held = false);
        assert_code(&e, "P008", "marked held");
    }
}

#[test]
fn a_held_tree_adding_into_other_cotangents_is_a_mismatch() {
    // Its own buffer, which the list's backward never zeroes and never
    // hands to the children.
    let e = after(true, |n| {
        for p in &mut n.parts {
            p.cotangents = p.gathered;
        }
    });
    assert_code(&e, "P008", "pool cotangents of a structure held");
}
