//! The verifier's checks of nested fields on a plan lowered from a real
//! model: a chain whose links hold `Opt(X)` (`link(a, next) => tanh(U a +
//! W (fold opt_state (next)))`), forward and training. Both plans verify
//! as lowered, and each corruption of a pool, of the fold over the nested
//! structure or of its backward fails with the code of its check.

use cdlc_ir::{FuncId, LossKind, Module};

use super::super::super::error::PlanError;
use super::super::super::*;
use super::verify;

/// The chain model's IR, as `cdlc --emit ir` prints it.
const CHAIN: &str = "\
data0 Chain(R[2]) = link(R[2], nested {Opt(X) = none | some(X1)})
data1 Opt(R[3]) = none | some(R[3])

function chain {
    params chain_alg.U: R[3, 2], chain_alg.W: R[3, 3], chain_alg.opt_state.z: R[3]
    inputs Chain(R[2])
    %0 = input 0 : Chain(R[2])
    %1 = param chain_alg.U : R[3, 2]
    %2 = param chain_alg.W : R[3, 3]
    %6 = param chain_alg.opt_state.z : R[3]
    %12 = fold Chain(R[2]) %0 : R[3] {
        link(%3: R[2], %4: Opt(R[3])) {
            %5 = matmul %1, %3 : R[3]
            %8 = fold Opt(R[3]) %4 : R[3] {
                none() {
                    yield %6
                }
                some(%7: R[3]) {
                    yield %7
                }
            }
            %9 = matmul %2, %8 : R[3]
            %10 = add %5, %9 : R[3]
            %11 = tanh %10 : R[3]
            yield %11
        }
    }
    return %12
}
";

/// The chain's plan, forward or training, checked to verify as lowered.
fn chain_plan(train: bool) -> Plan {
    let mut module: Module = cdlc_ir::parse::module(CHAIN).expect("the chain's IR reads");
    let forward: FuncId = module
        .functions
        .iter()
        .find(|(_, f)| f.name == "chain")
        .map(|(id, _)| id)
        .expect("the chain function");
    let func = if train {
        cdlc_ir::autodiff::differentiate(&mut module, forward, LossKind::CrossEntropy)
            .expect("the chain differentiates")
    } else {
        forward
    };
    let plan = crate::lower::lower(&module, func, train).expect("the JIT lowers the chain");
    verify(&plan).unwrap_or_else(|e| panic!("the chain's plan (train: {train}): {e}"));
    plan
}

/// The top-level fold over the chain, whose link case lays out a pool.
fn outer(p: &mut Plan) -> &mut FoldCode {
    p.code
        .iter_mut()
        .find_map(|i| match i {
            Instr::Fold(f) if f.cases.iter().any(|c| !c.nested.is_empty()) => Some(&mut **f),
            _ => None,
        })
        .expect("a fold with a nested field")
}

/// The fold over the nested structure inside the link case.
fn inner(f: &mut FoldCode) -> &mut FoldCode {
    f.cases
        .iter_mut()
        .flat_map(|c| c.code.iter_mut())
        .find_map(|i| match i {
            Instr::Fold(g) if g.nested.is_some() => Some(&mut **g),
            _ => None,
        })
        .expect("a fold over the nested structure")
}

/// The backward of the fold over the chain, and the case with its pool.
fn outer_back(p: &mut Plan) -> &mut FoldBackCode {
    p.code
        .iter_mut()
        .find_map(|i| match i {
            Instr::FoldBackward(f) if f.cases.iter().any(|c| !c.nested.is_empty()) => {
                Some(&mut **f)
            }
            _ => None,
        })
        .expect("a fold backward with a nested field")
}

/// The backward of the fold over the nested structure.
fn inner_back(f: &mut FoldBackCode) -> &mut FoldBackCode {
    f.cases
        .iter_mut()
        .flat_map(|c| c.code.iter_mut())
        .find_map(|i| match i {
            Instr::FoldBackward(g) if g.nested.is_some() => Some(&mut **g),
            _ => None,
        })
        .expect("a backward over the nested structure")
}

/// The error of the plan after `corrupt`, which must make it fail.
fn after(train: bool, corrupt: impl FnOnce(&mut Plan)) -> PlanError {
    let mut p = chain_plan(train);
    corrupt(&mut p);
    match verify(&p) {
        Ok(_) => panic!("the verifier accepted a corrupted nested plan"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_code(e: &PlanError, code: &str, words: &str) {
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(words), "{e}");
}

#[test]
fn a_case_without_its_nested_fields_pool_is_a_mismatch() {
    let e = after(false, |p| {
        for c in &mut outer(p).cases {
            c.nested.clear();
        }
    });
    assert_code(&e, "P008", "the pools of the nested fields");
}

#[test]
fn a_pool_of_the_wrong_carrier_size_is_a_mismatch() {
    let e = after(false, |p| {
        for c in &mut outer(p).cases {
            for pool in &mut c.nested {
                pool.seqs[0].1 += 1;
            }
        }
    });
    assert_code(&e, "P008", "the size of a child's carrier");
}

#[test]
fn a_pool_over_a_missing_unfold_is_out_of_range() {
    let e = after(false, |p| {
        let n = p.unfolds.len();
        for c in &mut outer(p).cases {
            for pool in &mut c.nested {
                pool.unfold = n;
            }
        }
    });
    assert_code(&e, "P001", "unfold");
}

#[test]
fn a_nested_fold_not_prepared_with_its_region_is_a_mismatch() {
    let e = after(false, |p| {
        let id = inner(outer(p)).id;
        p.folds[id].inner = None;
    });
    assert_code(
        &e,
        "P008",
        "the folds over a nested structure prepared with their region",
    );
}

#[test]
fn a_nested_fold_at_the_top_level_is_a_mismatch() {
    let e = after(false, |p| {
        let g = inner(outer(p)).clone();
        p.code.insert(0, Instr::Fold(Box::new(g)));
    });
    assert_code(
        &e,
        "P008",
        "the region depth of a fold over a nested structure",
    );
}

#[test]
fn a_pool_gathered_into_itself_is_an_overlap() {
    let e = after(false, |p| {
        let n = inner(outer(p)).nested.as_mut().expect("nested");
        n.parts[0].gathered = n.parts[0].seq;
    });
    assert_code(&e, "P005", "");
}

#[test]
fn a_view_of_a_missing_carrier_component_is_out_of_range() {
    let e = after(false, |p| {
        let n = inner(outer(p)).nested.as_mut().expect("nested");
        let parts = n.parts.len();
        let slot = n
            .views
            .iter_mut()
            .flat_map(|v| v.iter_mut())
            .find(|v| v.is_some())
            .expect("a view of a child's carrier");
        *slot = Some(parts);
    });
    assert_code(&e, "P001", "carrier component");
}

#[test]
fn a_structure_with_views_for_another_number_of_constructors_is_a_mismatch() {
    let e = after(false, |p| {
        inner(outer(p)).nested.as_mut().expect("nested").views.pop();
    });
    assert_code(&e, "P008", "the constructors of a nested structure");
}

#[test]
fn a_pool_part_read_past_its_size_is_out_of_bounds() {
    let e = after(false, |p| {
        let n = inner(outer(p)).nested.as_mut().expect("nested");
        n.parts[0].size += 1;
    });
    assert_eq!(e.code(), "P003", "{e}");
}

#[test]
fn a_backward_pool_without_its_cotangents_components_is_a_mismatch() {
    let e = after(true, |p| {
        for c in &mut outer_back(p).cases {
            for pool in &mut c.nested {
                pool.ct = Some(Vec::new());
            }
        }
    });
    assert_code(&e, "P008", "the components of the children's cotangents");
}

#[test]
fn a_child_cotangent_written_over_the_pools_cotangents_is_an_overlap() {
    let e = after(true, |p| {
        let g = inner_back(outer_back(p));
        let n = g.nested.clone().expect("nested");
        let (ctor, k) = n
            .views
            .iter()
            .enumerate()
            .find_map(|(c, v)| v.iter().position(Option::is_some).map(|k| (c, k)))
            .expect("a view of a child's carrier");
        let m = n.views[ctor][k].expect("a carrier component");
        let into = Loc::Buf(n.parts[m].cotangents);
        let skip = g.cases[ctor].rec_args.len() + g.acc.len();
        let part = g.cases[ctor]
            .result
            .iter_mut()
            .skip(skip)
            .flatten()
            .nth(k)
            .expect("the field's cotangent");
        part.loc = into;
    });
    assert_eq!(e.code(), "P005", "{e}");
}
