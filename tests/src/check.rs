//! Programs that must check clean, and what `--emit types` prints for them.

use crate::{cases_dir, cdl_files, check_clean, examples_dir};

#[test]
fn every_example_checks_clean() {
    let files = cdl_files(&examples_dir());
    assert!(files.len() >= 13);
    for path in files {
        check_clean(&path);
    }
}

#[test]
fn types_of_the_recursive_examples() {
    for name in [
        "rnn_parity",
        "mealy_parity",
        "stream_count",
        "tree_sum",
        "hylo_parity",
        "mlp",
    ] {
        let c = check_clean(&examples_dir().join(format!("{name}.cdl")));
        let printed = cdlc::emit::types::print(&c.program, &c.checked);
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("types", printed);
        });
    }
}

#[test]
fn types_inferred_from_what_follows() {
    for path in cdl_files(&cases_dir("types")) {
        let name = crate::case_name(&path);
        let c = check_clean(&path);
        let printed = cdlc::emit::types::print(&c.program, &c.checked);
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("types", printed);
        });
    }
}

/// A train block whose model meets every list its synthetic data can give.
fn fitting(model: &str, data: &str) -> String {
    format!(
        "import std.layers\n\n{model}\n\ntrain m {{\n  data = synthetic.{data}\n  loss = cross_entropy\n}}\n"
    )
}

#[test]
fn synthetic_lengths_the_model_meets_check_clean() {
    let halves =
        "model m(xs: List(R[2])) -> R[2] { dense[32, 2](hylo treenn[2, 32] by halves (xs)) }";
    let fold = "model m(xs: List(R[2])) -> R[2] { dense[32, 2](fold elman[2, 32] (xs)) }";
    let take = "layer decode[n](z: R[2]) -> List(R[2]) {\n  let s = tanh(dense[2, 32](z))\n  \
                unfold emit[2, 32] from s take (n + 1)\n}\n\
                model m(xs: List(R[2])) -> List(R[2]) { decode[3](dense[32, 2](fold elman[2, 32] (xs))) }";
    let cases = [
        // An empty list is no problem for a fold, and a split list is never empty.
        (fold, "parity(min_length = 0, max_length = 8, samples = 10)"),
        (
            halves,
            "parity(min_length = 1, max_length = 8, samples = 10)",
        ),
        // Targets exactly as long as the output.
        (
            take,
            "running_parity(min_length = 4, max_length = 4, samples = 10)",
        ),
    ];
    for (i, (model, data)) in cases.into_iter().enumerate() {
        let src = fitting(model, data);
        let c = cdlc::compile(&format!("fits{i}.cdl"), &src);
        assert!(
            c.diagnostics.is_empty(),
            "{src}\n{}",
            cdlc::diagnostics::render_human(&c.diagnostics, &c.sources, false)
        );
    }
}
