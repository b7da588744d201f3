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

#[test]
fn nested_fields_export_with_their_children_as_rows() {
    // The case file's models: each nested field is laid out in the layout
    // of the structure its fold binds, with `ref` where a child's carrier
    // goes, and an inner data type holding them is a template of `DATA`.
    let path = cases_dir("grad").join("nested_data.cdl");
    let src = std::fs::read_to_string(&path).expect("readable");
    let want = [
        ("kid_tree", "(\"nested\", (\"data\", \"n0\"))"),
        (
            "labelled",
            "(\"nested\", (\"seqof\", (\"tuple\", [(\"tensor\", (2,)), (\"ref\",)])))",
        ),
        ("chain", "(\"nested\", (\"data\", \"n0\"))"),
        ("forest", "(\"nested\", (\"structlist\", \"n0\"))"),
        (
            "forest",
            "(\"nested\", (\"tuple\", [(\"ref\",), (\"ref\",)]))",
        ),
    ];
    for (model, field) in want {
        let program = format!(
            "{src}\ntrain {model} {{\n  data = jsonl(\"d.jsonl\")\n  loss = cross_entropy\n}}\n"
        );
        let text =
            export("nested_data.cdl", &program).unwrap_or_else(|e| panic!("{model}: {}", e.1));
        assert!(text.contains(field), "{model}: no {field}");
        if field.contains("\"n0\"") {
            assert!(
                text.contains("\"n0\": {\"name\": ")
                    && text.contains("[(\"value\", (\"ref\",))]")
                    && text.contains("\"refs\": True"),
                "{model}: no template"
            );
        }
    }
}

/// A nested field whose data type has a nested field of its own.
const NESTED_TWICE: &str = "import std.layers

functor OptF(A) = none | some(A)
data Opt(A) = fix OptF(A)
functor InnerF(A) = tip(A) | wrap(Opt(X))
data Inner(A) = fix InnerF(A)
functor OuterF(A) = leaf(A) | node(A, Inner(X))
data Outer(A) = fix OuterF(A)

algebra opt_s[h] : OptF(R[h]) -> R[h] {
  param z: R[h] = zeros
  none    => z
  some(c) => c
}

algebra inner_s[h] : InnerF(R[h]) -> R[h] {
  tip(c)  => c
  wrap(o) => fold opt_s[h] (o)
}

algebra outer_s[d, h] : OuterF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  leaf(a)    => tanh(E @ a)
  node(a, t) => tanh(E @ a + fold inner_s[h] (t))
}

model m(x: Outer(R[2])) -> R[2] { dense[3, 2](fold outer_s[2, 3] (x)) }

train m {
  data = jsonl(\"d.jsonl\")
  loss = cross_entropy
}
";

#[test]
fn a_nested_field_of_a_nested_field_is_e0802_at_the_model() {
    let (code, rendered, line) =
        export("twice.cdl", NESTED_TWICE).expect_err("a nested field of a nested field");
    assert_eq!(code, "E0802");
    assert_eq!(line, 27);
    insta::assert_snapshot!(rendered);
}

/// A list split by `halves` after a trip through a tuple the model builds.
const SPLIT_THROUGH_A_TUPLE: &str = "import std.layers

model m(xs: List(R[2])) -> R[2] {
  let p = (xs, xs) in
  let (a, b) = p in
  dense[4, 2](hylo treenn[2, 4] by halves (a))
}

train m {
  data = jsonl(\"d.jsonl\")
  loss = cross_entropy
}
";

#[test]
fn a_split_list_not_traced_to_the_example_is_e0804_at_the_model() {
    let (code, rendered, line) = export("tuple.cdl", SPLIT_THROUGH_A_TUPLE)
        .expect_err("a split list the exporter cannot check");
    assert_eq!(code, "E0804");
    assert_eq!(line, 3);
    insta::assert_snapshot!(rendered);
}
