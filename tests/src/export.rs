//! `--emit jax`: what cannot be exported is a located, coded error (the
//! rendered diagnostics are snapshots), and every example exports.

use crate::{cases_dir, cdl_files, examples_dir, expectations};
use cdlc::diagnostics::render_human;

/// Compiles `src` and exports its first train block; the rendered
/// diagnostic of the failure, or the module's text.
fn export(name: &str, src: &str) -> Result<String, (String, String, usize)> {
    let c = cdlc::compile(name, src);
    assert!(!c.has_errors(), "{name} does not check");
    let setup = cdlc::train_block(&c, None).expect("a train block");
    let p = cdlc::training::prepare(&c, setup.model, setup.loss).expect("the model lowers");
    cdlc::export::jax(setup, &p, name, "0").map_err(|e| {
        let d = e.to_diagnostic(c.program.item(setup.model).span);
        let (line, _) = c.sources.line_col(d.span().file, d.span().start);
        let rendered = render_human(std::slice::from_ref(&d), &c.sources, false);
        (d.code.to_string(), rendered, line)
    })
}

#[test]
fn what_cannot_be_exported_is_a_located_error() {
    let files = cdl_files(&cases_dir("export"));
    assert!(!files.is_empty());
    for path in files {
        let src = std::fs::read_to_string(&path).expect("readable");
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let (code, rendered, line) = export(&name, &src).expect_err("the export fails");
        let want = expectations(&src);
        assert_eq!(want.len(), 1, "{name}: one expectation");
        assert_eq!(
            (code.as_str(), line),
            (want[0].code.as_str(), want[0].line),
            "{name}"
        );
        let stem = path
            .file_stem()
            .expect("a stem")
            .to_string_lossy()
            .to_string();
        insta::with_settings!({ snapshot_suffix => stem, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("export", format!("----- SOURCE\n{src}----- DIAGNOSTICS\n{rendered}"));
        });
    }
}

#[test]
fn every_example_exports_with_its_slots_in_order() {
    for path in cdl_files(&examples_dir()) {
        let src = std::fs::read_to_string(&path).expect("readable");
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let text = export(&name, &src).unwrap_or_else(|e| panic!("{name}: {}", e.1));
        let c = cdlc::compile(&name, &src);
        let setup = cdlc::train_block(&c, None).expect("a train block");
        let p = cdlc::training::prepare(&c, setup.model, setup.loss).expect("lowers");
        let listed: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("PARAMS = ["))
            .skip(1)
            .take_while(|l| *l != "]")
            .map(|l| l.trim().split('"').nth(1).expect("a quoted name"))
            .collect();
        let slots: Vec<&str> = p.inst.slots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(listed, slots, "{name}");
        assert!(text.contains("def forward(P, X, dt, F):"), "{name}");
        assert!(text.contains("def prefold(P, X, dt):"), "{name}");
    }
}

/// The `INPUTS` line of an exported example.
fn inputs_line(example: &str) -> String {
    let path = examples_dir().join(example);
    let src = std::fs::read_to_string(&path).expect("readable");
    let text = export(example, &src).unwrap_or_else(|e| panic!("{example}: {}", e.1));
    text.lines()
        .find(|l| l.starts_with("INPUTS = "))
        .expect("an INPUTS line")
        .to_string()
}

#[test]
fn input_trees_are_batch_packed_and_other_inputs_are_not() {
    // tree_sum folds its input tree with parameters only: packed, and the
    // fold is read from `prefold`'s results.
    assert_eq!(inputs_line("tree_sum.cdl"), "INPUTS = [(\"packed\", 0)]");
    // A list split into halves keeps one schedule per example.
    assert!(inputs_line("hylo_parity.cdl").starts_with("INPUTS = [(\"list\", "));
    // A tensor input stays a tensor.
    assert!(inputs_line("mlp.cdl").starts_with("INPUTS = [(\"tensor\", "));
}
