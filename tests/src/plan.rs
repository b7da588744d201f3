//! The JIT's plans of every example: the plans of the forward and the
//! training function each pass the plan verifier, and the text form
//! (`cdlc FILE --emit plan`) of three is snapshotted: an MLP, a fold over
//! a list and a fold over a tree.

use crate::{cdl_files, check_clean, examples_dir};

/// The example `path` prepared for training, as `cdlc` prepares it.
fn prepared(path: &std::path::Path) -> cdlc::training::Prepared {
    use cdlc::training::{loss_for, prepare};
    let c = check_clean(path);
    let model = cdlc::entry_model(&c, None).expect("the example has a model");
    prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{path:?}: {e:?}"))
}

/// The plan of an example's training function, verified.
fn training_plan(name: &str) -> cdlc_jit::LoweredPlan {
    let p = prepared(&examples_dir().join(format!("{name}.cdl")));
    let plan = cdlc_jit::lower_plan(&p.inst.module, p.train, true).expect("the JIT lowers it");
    plan.verify()
        .unwrap_or_else(|e| panic!("{name}: {e}\n{plan}"));
    plan
}

#[test]
fn every_example_plan_verifies() {
    let files = cdl_files(&examples_dir());
    let mut verified = 0;
    for path in &files {
        let p = prepared(path);
        for (func, train) in [(p.inst.func, false), (p.train, true)] {
            let plan = cdlc_jit::lower_plan(&p.inst.module, func, train)
                .unwrap_or_else(|e| panic!("{path:?} (train: {train}): {e}"));
            if let Err(e) = plan.verify() {
                panic!("{path:?} (train: {train}): {e}\n{plan}");
            }
            verified += 1;
        }
    }
    assert_eq!(verified, 2 * files.len());
    assert!(files.len() >= 15, "only {} examples", files.len());
}

#[test]
fn plan_of_the_mlp() {
    insta::assert_snapshot!(training_plan("mlp").to_string());
}

#[test]
fn plan_of_a_list_fold() {
    insta::assert_snapshot!(training_plan("rnn_parity").to_string());
}

#[test]
fn plan_of_a_tree_fold() {
    insta::assert_snapshot!(training_plan("tree_sum").to_string());
}

#[test]
fn every_case_plan_verifies() {
    // Every model of the gradient and JIT cases (several a file), forward
    // and training, among them folds over structures held in fields
    // (`region_structures.cdl`, the list of rose trees of `rose.cdl`) and
    // nested fields (`nested_data.cdl`, `tests/cases/jit/nested.cdl`).
    let mut files = cdl_files(&crate::cases_dir("grad"));
    files.extend(cdl_files(&crate::cases_dir("jit")));
    let mut verified = 0;
    for path in &files {
        let c = check_clean(path);
        for (name, model) in crate::jit_fallback::models(&c) {
            let p = cdlc::training::prepare(&c, model, cdlc::training::loss_for(&c, model))
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            for (func, train) in [(p.inst.func, false), (p.train, true)] {
                let plan = match cdlc_jit::lower_plan(&p.inst.module, func, train) {
                    Ok(plan) => plan,
                    // No plan: a construct the JIT does not build, which
                    // `jit_fallback` holds to the documented list.
                    Err(e) if crate::jit_fallback::documented(&e) => continue,
                    Err(e) => panic!("{path:?} `{name}` (train: {train}): {e}"),
                };
                if let Err(e) = plan.verify() {
                    panic!("{path:?} `{name}` (train: {train}): {e}\n{plan}");
                }
                verified += 1;
            }
        }
    }
    assert!(verified >= 60, "only {verified} plans verified");
}

/// A gather repeats one pattern for every input channel, and its table is
/// kept once and walked per channel: `p4_patterns`' group convolution (6
/// input channels) gathers its input and projects the input cotangent in
/// 6 blocks; its lifting layer gathers an image without channel axes in
/// one block. (The biases, spread over the group's points channel by
/// channel, are blocked too.)
#[test]
fn gather_tables_are_kept_once_per_input_channel() {
    // The gathers as they are without direct convolutions, which replace
    // them by default (`tests/src/conv.rs`).
    let text = cdlc_jit::without_conv(|| training_plan("p4_patterns")).to_string();
    let count = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("/row <- basis_expand in 6 blocks(b"), 1, "{text}");
    assert_eq!(count("/row <- basis_project in 6 blocks(b"), 1, "{text}");
    assert_eq!(count("/row <- basis_expand(in0:64/row)"), 1, "{text}");
    assert_eq!(count("<- basis_expand in 6 blocks(param@"), 2, "{text}");
}
