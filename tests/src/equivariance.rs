//! Derived weight tying and equivariance claims, end to end.
//!
//! Cases in `cases/equivariance/` state the summary line `--emit tying`
//! must print for each parameter (`// tying: f.W: 2 free of 25`) and any
//! warnings (`// expect: W0501 line 7`); the whole rendered tying is a
//! snapshot. The examples with groups are snapshotted too.

use crate::{Expected, cases_dir, cdl_files, diagnose, examples_dir, expectations};

/// The examples that declare groups.
const GROUP_EXAMPLES: &[&str] = &[
    "causal_conv",
    "deepsets",
    "graph_triangles",
    "p4_patterns",
    "ring_conv",
    "so3_vectors",
];

/// The `// tying: ...` lines of a case.
fn tying_expectations(src: &str) -> Vec<String> {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("// tying:"))
        .map(|rest| rest.trim().to_string())
        .collect()
}

/// Compiles a tying case: exactly the expected diagnostics (warnings
/// only), every expected summary line in the order given, and no other
/// parameter. Returns the rendered tying.
#[track_caller]
fn check_tying_case(path: &std::path::Path) -> String {
    let src = std::fs::read_to_string(path).expect("readable case");
    let name = path
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .to_string();
    let (mut found, rendered_diags, errors) = diagnose(&name, &src);
    let mut expected: Vec<Expected> = expectations(&src);
    found.sort();
    expected.sort();
    assert_eq!(
        found, expected,
        "{name}: diagnostics differ\n{rendered_diags}"
    );
    assert!(!errors, "{name}: a tying case must compile");
    let c = cdlc::compile(&name, &src);
    let rendered = c.tyings.render();
    let summaries: Vec<&str> = rendered
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    let want = tying_expectations(&src);
    assert!(
        !want.is_empty(),
        "{name}: a tying case needs `// tying:` lines"
    );
    assert_eq!(summaries, want, "{name}: summary lines differ\n{rendered}");
    rendered
}

#[test]
fn tying_cases() {
    let files = cdl_files(&cases_dir("equivariance"));
    assert!(files.len() >= 10, "found only {} cases", files.len());
    for path in files {
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        let rendered = check_tying_case(&path);
        insta::with_settings!({ snapshot_suffix => name }, {
            insta::assert_snapshot!("tying", rendered);
        });
    }
}

#[test]
fn tying_of_the_examples() {
    for name in GROUP_EXAMPLES {
        let path = examples_dir().join(format!("{name}.cdl"));
        let c = crate::check_clean(&path);
        let rendered = c.tyings.render();
        assert!(
            rendered.lines().any(|l| l.contains(" free of ")),
            "{name}: no tying printed"
        );
        insta::with_settings!({ snapshot_suffix => *name }, {
            insta::assert_snapshot!("tying", rendered);
        });
    }
}

#[test]
fn summary_line_of_deepsets_phi() {
    let c = crate::check_clean(&examples_dir().join("deepsets.cdl"));
    let first = c.tyings.render().lines().next().map(str::to_string);
    assert_eq!(first.as_deref(), Some("phi.W: 640 free of 32000"));
}
