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
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let c = check_clean(&path);
        let printed = cdlc::emit::types::print(&c.program, &c.checked);
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("types", printed);
        });
    }
}
