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
    "learned_symmetry",
    "p4_patterns",
    "ring_conv",
    "set_attention",
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
        let name = crate::case_name(&path);
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

/// Every claim of every example with a group holds numerically, in f64
/// and in f32, through `cdlc check --numeric`'s library function.
#[test]
fn numeric_equivariance_of_the_examples() {
    for name in GROUP_EXAMPLES {
        let c = crate::check_clean(&examples_dir().join(format!("{name}.cdl")));
        for f32 in [false, true] {
            let results = cdlc::equivariance::numeric::check_claims(&c, f32, 7);
            assert!(!results.is_empty(), "{name}: no claim found");
            for r in &results {
                let e = r
                    .outcome
                    .as_ref()
                    .unwrap_or_else(|why| panic!("{name}: {} not tested: {why}", r.name));
                assert!(
                    r.passed(),
                    "{name}: {} {} has relative error {e:e} > {:e} (f32: {f32})",
                    r.name,
                    r.claim,
                    r.tolerance
                );
            }
        }
    }
}

/// Every claim in the tying cases (folds over lists included) holds
/// numerically in f64.
#[test]
fn numeric_equivariance_of_the_tying_cases() {
    for path in cdl_files(&cases_dir("equivariance")) {
        let src = std::fs::read_to_string(&path).expect("readable case");
        let c = cdlc::compile(&path.display().to_string(), &src);
        assert!(!c.has_errors(), "{}: compiles", path.display());
        for r in cdlc::equivariance::numeric::check_claims(&c, false, 11) {
            let e = r
                .outcome
                .as_ref()
                .unwrap_or_else(|why| panic!("{}: {} not tested: {why}", path.display(), r.name));
            assert!(
                r.passed(),
                "{}: {} {} has error {e:e}",
                path.display(),
                r.name,
                r.claim
            );
        }
    }
}

/// The numeric check is not vacuous: a layer whose claim the static rules
/// reject (a plain weight, a plain bias) fails it too.
#[test]
fn numeric_check_catches_broken_claims() {
    for case in [
        "e0501_plain_weight",
        "e0504_plain_bias",
        "e0502_sigmoid_shift_zero",
        "e0502_tanh_rotation",
        "e0501_fold_case",
    ] {
        let path = cases_dir("errors").join(format!("{case}.cdl"));
        let src = std::fs::read_to_string(&path).expect("readable case");
        let c = cdlc::compile(case, &src);
        assert!(c.has_errors(), "{case}: the static check rejects it");
        let results = cdlc::equivariance::numeric::check_claims(&c, false, 3);
        let worst = results
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok().copied())
            .fold(0.0, f64::max);
        assert!(
            results.iter().any(|r| !r.passed()),
            "{case}: largest error only {worst:e}"
        );
    }
}

/// Reverse derivatives through `basis_expand` agree with finite
/// differences on instantiated equivariant models.
#[test]
fn gradcheck_through_basis_expansion() {
    use cdlc::training::{loss_for, prepare, split};
    for name in ["ring_conv", "causal_conv", "so3_vectors"] {
        let c = crate::check_clean(&examples_dir().join(format!("{name}.cdl")));
        let model = cdlc::entry_model(&c, None).expect("a model");
        let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            p.inst.slots.iter().any(|s| s.coefficient_std.is_some()),
            "{name}: no coefficient slot"
        );
        let setup = c.checked.trains.first().expect("a train block");
        let cdlc::check::DataSpec::Synthetic { name: data, args } = &setup.data else {
            panic!("{name}: built-in data expected");
        };
        let dataset = cdlc_runtime::data::synthetic::generate(data, args, setup.seed)
            .expect("the data set generates");
        let (train, _) = split(dataset.examples, 1.0, setup.seed);
        let batch: Vec<_> = train.into_iter().take(2).collect();
        let params: Vec<_> = p
            .inst
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| s.initial_values(100 + i as u64))
            .collect();
        let r = cdlc_ir::gradcheck::gradcheck(&p.inst.module, p.train, &params, &batch, 5)
            .expect("the check runs");
        assert!(
            r.max_rel_error() <= cdlc_ir::gradcheck::TOLERANCE,
            "{name}: {:e}\n{:#?}",
            r.max_rel_error(),
            r.params
        );
    }
}

/// Coefficients drawn with the slot's standard deviations have the variance
/// the dense initialiser gives a weight at the basis's fans: for DeepSets'
/// identity-and-mean basis, glorot at fans `2c` and `2d`.
#[test]
fn coefficient_init_matches_dense_variance() {
    let c = crate::check_clean(&examples_dir().join("deepsets.cdl"));
    let model = cdlc::entry_model(&c, None).expect("a model");
    let inst = cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model)
        .expect("instantiates");
    let slot = inst
        .slots
        .iter()
        .find(|s| s.name == "psi.W")
        .expect("the slot of psi.W");
    let tying = c
        .tyings
        .params
        .values()
        .find(|t| t.owner == "psi" && t.param == "W")
        .expect("psi.W is tied");
    let (d, ch) = tying.basis.channels();
    assert_eq!(tying.basis.fans(), (2.0 * ch as f64, 2.0 * d as f64));
    let want = cdlc_equivariance::DenseInit::Glorot.variance(2.0 * ch as f64, 2.0 * d as f64);
    let mut sum = 0.0;
    let mut n = 0usize;
    for seed in 0..20 {
        let coeffs = slot.initial_values(seed);
        sum += coeffs.data.iter().map(|x| x * x).sum::<f64>();
        n += coeffs.data.len();
    }
    let got = sum / n as f64;
    assert!(
        (got / want - 1.0).abs() < 0.05,
        "coefficient variance {got:e}, glorot at the basis's fans {want:e}"
    );
}

/// The instantiated model stores only the free coefficients of each
/// equivariant map.
#[test]
fn instantiated_slots_hold_coefficients() {
    let c = crate::check_clean(&examples_dir().join("p4_patterns.cdl"));
    let model = cdlc::entry_model(&c, None).expect("a model");
    let inst = cdlc::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model)
        .expect("instantiates");
    let shapes: Vec<(String, Vec<usize>)> = inst
        .slots
        .iter()
        .map(|s| (s.name.clone(), s.shape.clone()))
        .collect();
    for (slot, owner, param) in [
        ("lifting.K", "lifting", "K"),
        ("gconv.K", "gconv", "K"),
        ("readout.W", "readout", "W"),
    ] {
        let free = c
            .tyings
            .params
            .values()
            .find(|t| t.owner == owner && t.param == param)
            .expect("tied")
            .basis
            .free();
        // A slot holds the free coefficients: flat, or laid out as (out
        // channels, in channels, inner element) when the map is applied
        // through its basis.
        let held = shapes
            .iter()
            .find(|(n, _)| n == slot)
            .map(|(_, s)| s.iter().product::<usize>());
        assert_eq!(
            held,
            Some(free),
            "{slot}: expected {free} coefficients in {shapes:?}"
        );
    }
}

/// The proof rules, one file per rule in `cases/proofs/`: claims of
/// layers and models named `bad_*` are refused with exactly the
/// diagnostics the file expects (rendered as a snapshot) and are false
/// numerically; every other claim is proved and holds numerically in f64.
#[test]
fn proof_rules_agree_with_the_numeric_check() {
    let files = cdl_files(&cases_dir("proofs"));
    assert!(files.len() >= 5, "found only {} cases", files.len());
    for path in files {
        let name = crate::case_name(&path);
        let src = std::fs::read_to_string(&path).expect("readable case");
        let (mut found, rendered, _) = diagnose(&name, &src);
        let mut expected = expectations(&src);
        found.sort();
        expected.sort();
        assert_eq!(found, expected, "{name}: diagnostics differ\n{rendered}");
        let c = cdlc::compile(&name, &src);
        let results = cdlc::equivariance::numeric::check_claims(&c, false, 5);
        let bad = results.iter().filter(|r| r.name.starts_with("bad")).count();
        assert_eq!(bad, expected.len(), "{name}: one refusal per `bad_*` claim");
        for r in &results {
            let e = r
                .outcome
                .as_ref()
                .unwrap_or_else(|why| panic!("{name}: {} not tested: {why}", r.name));
            if r.name.starts_with("bad") {
                assert!(*e > 1e-6, "{name}: {} is refused but holds ({e:e})", r.name);
            } else {
                assert!(r.passed(), "{name}: {} is proved but fails ({e:e})", r.name);
            }
        }
        insta::with_settings!({ snapshot_suffix => name }, {
            insta::assert_snapshot!("proof", rendered);
        });
    }
}
