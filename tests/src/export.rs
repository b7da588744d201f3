//! `--emit jax`: every example exports, and so do nested lists, lists of
//! tuples, tuple fields and `halves` over a list inside a region.

use crate::{cases_dir, cdl_files, examples_dir};
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
fn nested_lists_tuples_and_halves_over_a_region_list_export() {
    // The case file's models, each with a train block: lists of lists and
    // of tuples lay out their elements by the elements' own layouts, a
    // tuple field is a `value` field, and a `halves` over a list that is
    // not an input is split in the generated code.
    let path = cases_dir("grad").join("nested_lists.cdl");
    let src = std::fs::read_to_string(&path).expect("readable");
    let want = [
        (
            "lists",
            "INPUTS = [(\"seqof\", (\"list\", (2,), None))]",
            "",
        ),
        (
            "tuples",
            "INPUTS = [(\"seqof\", (\"tuple\", [(\"tensor\", (2,)), (\"tensor\", (3,))]))]",
            "",
        ),
        (
            "tuple_field",
            "INPUTS = [(\"packed\", ",
            "(\"tip\", [(\"value\", (\"tuple\", [(\"tensor\", (3,)), (\"tensor\", (2,))]))])",
        ),
        (
            "split_inner",
            "INPUTS = [(\"seqof\", (\"list\", (2,), None))]",
            "fold_halves(",
        ),
    ];
    for (model, inputs, also) in want {
        let program = format!(
            "{src}\ntrain {model} {{\n  data = jsonl(\"d.jsonl\")\n  loss = cross_entropy\n}}\n"
        );
        let text =
            export("nested_lists.cdl", &program).unwrap_or_else(|e| panic!("{model}: {}", e.1));
        let line = text
            .lines()
            .find(|l| l.starts_with("INPUTS = "))
            .expect("an INPUTS line");
        assert!(line.starts_with(inputs), "{model}: {line}");
        assert!(text.contains(also), "{model}: no {also}");
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
        let c = cdlc::compile(&name, &src);
        let setup = cdlc::train_block(&c, None).expect("a train block");
        let p = cdlc::training::prepare(&c, setup.model, setup.loss).expect("lowers");
        if crate::has_nested_field(&p.inst.module) {
            // A nested field is refused with the exporter's coded error.
            let e = export(&name, &src).expect_err("a nested field does not export");
            assert!(
                e.0 == "E0802" && e.1.contains("nested field"),
                "{name}: {e:?}"
            );
            continue;
        }
        let text = export(&name, &src).unwrap_or_else(|e| panic!("{name}: {}", e.1));
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
