//! Every way a program that checks can still be refused with E0617 ("not
//! supported yet") before the JIT: each site that instantiation can
//! return (`cdlc::instantiate::Unsupported`) is reached by a case of
//! `tests/cases/unsupported/`, whose rendered diagnostic is a snapshot,
//! and a scan of the instantiation's sources fails when a site is added
//! without a case. The JIT's refusals are listed by `jit_fallback.rs`;
//! `docs/status.md` (IR section) says why each site is kept.

use cdlc::diagnostics::render_human;
use cdlc::training::{loss_for, prepare};
use cdlc_runtime::value::{Example, Target, Tensor, Value};

use crate::{cases_dir, cdl_files, expectations};

/// The instantiation's E0617 sites, each by the words its message starts
/// with after "not supported yet: ", and the source file that raises it.
const SITES: &[(&str, &str)] = &[
    ("mod.rs", "values of type"),
    ("mod.rs", "an equivariant map of"),
    ("expr.rs", "a fold whose carrier"),
    ("expr.rs", "an unfold whose step's output"),
];

/// The case's model prepared for training: the E0617 it is refused
/// with, rendered, checked against its `// expect:` lines.
#[track_caller]
fn check_unsupported(path: &std::path::Path) -> String {
    // Compiled under its file name, so that the snapshot names no folder.
    let file = path.file_name().expect("a file name").to_string_lossy();
    let text = std::fs::read_to_string(path).expect("readable case");
    let c = cdlc::compile(&file, &text);
    assert!(c.diagnostics.is_empty(), "{file} should check clean");
    let (name, model) = crate::jit_fallback::models(&c)
        .into_iter()
        .next()
        .expect("a case declares a model");
    let span = c.program.item(model).span;
    let d = match prepare(&c, model, loss_for(&c, model)) {
        Ok(_) => panic!("{}: `{name}` was prepared", path.display()),
        Err(e) => e.to_diagnostic(span),
    };
    let line = c.sources.line_col(d.span().file, d.span().start).0;
    let src = c.sources.text(c.file);
    let expected = expectations(src);
    assert_eq!(
        expected.len(),
        1,
        "{}: one `// expect:` line",
        path.display()
    );
    assert_eq!(
        (d.code, line),
        (expected[0].code.as_str(), expected[0].line),
        "{}",
        path.display()
    );
    let rendered = render_human(&[d], &c.sources, false);
    format!("----- SOURCE\n{src}----- DIAGNOSTICS\n{rendered}")
}

#[test]
fn every_unsupported_case_is_e0617_at_its_construct() {
    let files = cdl_files(&cases_dir("unsupported"));
    let mut rendered = String::new();
    for path in &files {
        let text = check_unsupported(path);
        rendered.push_str(&text);
        let name = crate::case_name(path);
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("unsupported", text);
        });
    }
    for (_, words) in SITES {
        assert!(
            rendered.contains(&format!("not supported yet: {words}")),
            "no case of tests/cases/unsupported reaches the site \"{words}\""
        );
    }
}

/// A new `self.unsupported(` call in the instantiation must be listed in
/// `SITES` with a case, or be made an internal error.
#[test]
fn every_site_of_the_instantiation_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/src/instantiate");
    for file in ["mod.rs", "expr.rs", "structured.rs"] {
        let src = std::fs::read_to_string(dir.join(file)).expect("a source of the instantiation");
        let found = src.matches("self.unsupported(").count();
        let listed = SITES.iter().filter(|(f, _)| *f == file).count();
        assert_eq!(
            found, listed,
            "{file} raises E0617 at {found} sites, {listed} are listed with a case"
        );
    }
}

/// A parameter without a derived tying is an internal error: the checker
/// refuses every program whose parameter the solver cannot tie, so such a
/// program never reaches instantiation.
#[test]
fn an_untied_parameter_is_refused_by_the_checker_first() {
    let src = "group C = cyclic(4)\ngroup D = cyclic(3)\n\
               space A = R[4] under C by shift\nspace B = R[3] under D by shift\n\
               model m(x: A) -> B {\n  param K: equivariant A -> B = glorot\n  K @ x\n}\n";
    let c = cdlc::compile("untied.cdl", src);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"E0503"), "{codes:?}");
}

/// Blocks and `let ... in` whose value is a morphism lower (they were
/// E0617): `let f = dense[2, 2] in f >> f` applies one instance twice, and
/// the reverse derivative agrees with finite differences in f64.
#[test]
fn morphism_valued_blocks_lower_with_their_let_instances_shared() {
    let src = "import std.layers\n\
               model shared = let f = dense[2, 2] in f >> tanh >> f\n\
               model block = { dense[2, 3] >> tanh }\n\
               model body(x: R[2]) -> R[3] { let g = { dense[2, 3] >> tanh } in g(x) }\n";
    let c = cdlc::compile("blocks.cdl", src);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    for (name, slots) in [("shared", 2), ("block", 2), ("body", 2)] {
        let model = cdlc::entry_model(&c, Some(name)).expect("a model");
        let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(p.inst.slots.len(), slots, "{name}");
        let params = cdlc::training::init_params(&p.inst, 3);
        let batch: Vec<Example> = (0..4)
            .map(|i| Example {
                x: Value::Tensor(Tensor::new(
                    vec![2],
                    vec![0.3 * i as f64 - 0.5, 0.2 + 0.1 * i as f64],
                )),
                y: Target::Class(i % 2),
            })
            .collect();
        crate::grad::check_batch_gradient(name, &p, &params, &batch);
    }
}
