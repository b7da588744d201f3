//! `--emit ir-hoisted`: the forward IR after the hoisting pass, on an
//! example tree model (snapshot) and on a rose-tree model, while `--emit ir`
//! still prints the function that training runs.

#[macro_use]
mod common;
use common::{cdlc, scratch, stderr, stdout};

/// The example's path from the test's working folder.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}.cdl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_tree_model_s_leaf_embedding_is_shown_as_a_map() {
    let dir = scratch("hoist_tree");
    let out = cdlc(&[&example("tree_sum"), "--emit", "ir-hoisted"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("tree_sum_ir_hoisted", stdout(&out));
}

#[test]
fn a_rose_node_s_own_projection_is_hoisted_and_emit_ir_is_unchanged() {
    let dir = scratch("hoist_rose");
    std::fs::write(dir.join("rose.cdl"), rose_program!("")).unwrap();
    let hoisted = cdlc(&["rose.cdl", "--emit", "ir-hoisted"], &dir);
    assert!(hoisted.status.success(), "{}", stderr(&hoisted));
    let text = stdout(&hoisted);
    assert!(
        text.starts_with("# element-only work hoisted out of 1 fold\n"),
        "{text}"
    );
    assert!(text.contains("= map Rose(R[2]) %"), "{text}");
    assert!(
        text.contains("= fold Mapped(Rose(R[2]); (R[4])) %"),
        "{text}"
    );
    let plain = cdlc(&["rose.cdl", "--emit", "ir"], &dir);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!stdout(&plain).contains("map"), "{}", stdout(&plain));
}
