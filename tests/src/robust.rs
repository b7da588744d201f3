//! Robustness: settings the checker must refuse or accept exactly as the
//! runtime does, and sizes, depths and data that must give coded errors
//! instead of wrong results, panics or exhausted memory.

use cdlc::diagnostics::Severity;
use cdlc_runtime::optim::OptimConfig;

/// A program training `dense[2, 3]` on spirals with `optim = {call}`.
fn with_optim(call: &str) -> String {
    format!(
        "import std.layers\nmodel net = dense[2, 3]\ntrain net {{\n  \
         data = synthetic.spirals(classes = 3, samples = 100)\n  optim = {call}\n  \
         loss = cross_entropy\n}}\n"
    )
}

/// The error codes of a program's diagnostics.
fn error_codes(src: &str) -> Vec<String> {
    cdlc::compile("t.cdl", src)
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.code.to_string())
        .collect()
}

/// An optimizer call as written, its name and its arguments by name.
type Call = (&'static str, &'static str, &'static [(&'static str, f64)]);

#[test]
fn the_checker_accepts_every_optimizer_call_the_runtime_accepts() {
    let calls: [Call; 7] = [
        (
            "adagrad(lr = 0.1, eps = 1e-6)",
            "adagrad",
            &[("lr", 0.1), ("eps", 1e-6)],
        ),
        ("adagrad(0.1)", "adagrad", &[("lr", 0.1)]),
        ("sgd(lr = 0.5)", "sgd", &[("lr", 0.5)]),
        (
            "momentum(lr = 0.1, beta = 0.5)",
            "momentum",
            &[("lr", 0.1), ("beta", 0.5)],
        ),
        (
            "nesterov(0.1, 0.8)",
            "nesterov",
            &[("lr", 0.1), ("beta", 0.8)],
        ),
        (
            "adam(beta2 = 0.99, eps = 0)",
            "adam",
            &[("beta2", 0.99), ("eps", 0.0)],
        ),
        ("adam", "adam", &[]),
    ];
    for (call, name, args) in calls {
        let c = cdlc::compile("t.cdl", &with_optim(call));
        assert!(c.diagnostics.is_empty(), "{call}: {:?}", c.diagnostics);
        let args: Vec<(String, f64)> = args.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let runtime = OptimConfig::from_call(name, &args).expect("the runtime accepts it");
        assert_eq!(c.checked.trains[0].optim, runtime, "{call}");
    }
}

#[test]
fn the_checker_refuses_every_optimizer_call_the_runtime_refuses() {
    for call in [
        "sgd(lr = -1)",
        "sgd(lr = 0)",
        "sgd",
        "adam(beta1 = 1)",
        "adam(eps = -1)",
        "momentum(lr = 0.1, beta = 1.5)",
        "adagrad(lr = 0.1, eps = -1e-6)",
        "adagrad(lr = 0.1, beta = 0.9)",
        "sgd(0.1, 0.2)",
        "rmsprop(lr = 0.1)",
    ] {
        assert_eq!(error_codes(&with_optim(call)), ["E0604"], "{call}");
    }
}

#[test]
fn a_split_that_leaves_a_part_empty_is_refused_by_check() {
    let program = |split: &str, samples: u32| {
        format!(
            "import std.layers\nmodel net = dense[2, 3]\ntrain net {{\n  \
             data = synthetic.spirals(classes = 3, samples = {samples})\n  \
             split = {split}\n  loss = cross_entropy\n}}\n"
        )
    };
    assert_eq!(error_codes(&program("0.0000001", 100)), ["E0604"]);
    assert_eq!(error_codes(&program("0.99", 10)), ["E0604"]);
    assert!(error_codes(&program("1", 10)).is_empty());
    assert!(error_codes(&program("0.5", 2)).is_empty());
}

#[test]
fn size_arithmetic_overflow_is_sticky_and_never_wraps() {
    use cdlc::check::size::{Poly, Var};
    let big = Poly::constant(1 << 32);
    let wrapped = big.mul(&big);
    assert!(wrapped.overflowed());
    assert_eq!(wrapped.as_constant(), None);
    assert!(wrapped.add(&Poly::constant(2)).overflowed());
    assert!(
        Poly::constant(i64::MAX)
            .add(&Poly::constant(1))
            .overflowed()
    );
    assert!(Poly::constant(i64::MIN).scale(-1).overflowed());
    let n = Poly::var(Var(0));
    assert!(n.scale(i64::MAX).mul(&Poly::constant(2)).overflowed());
    let square = n.mul(&n).substitute(&|_| Some(Poly::constant(1 << 32)));
    assert!(square.overflowed());
    assert_ne!(square, Poly::constant(0));
    // Ordinary arithmetic is unchanged.
    assert_eq!(
        Poly::constant(1 << 31)
            .mul(&Poly::constant(4))
            .as_constant(),
        Some(1 << 33)
    );
}

#[test]
fn a_byte_order_mark_and_cr_line_endings_give_the_same_results_everywhere() {
    let plain = "import std.layers\nmodel net = dense[2, 3]\n";
    assert!(
        cdlc::compile("t.cdl", &format!("\u{feff}{plain}"))
            .diagnostics
            .is_empty()
    );
    // Elsewhere it is an error that names the invisible character.
    let c = cdlc::compile("t.cdl", "model net = dense[2,\u{feff} 3]\n");
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == "E0103")
        .expect("E0103");
    assert!(d.message.contains("U+FEFF"), "{}", d.message);
    // Lone CR, CRLF and LF endings give one position in both reports.
    for eol in ["\n", "\r\n", "\r"] {
        let src = [
            "import std.layers",
            "model net = dense[2, 3]",
            "model m = nope",
            "",
        ]
        .join(eol);
        let c = cdlc::compile("t.cdl", &src);
        let span = c.diagnostics[0].span();
        assert_eq!(
            c.sources.line_col(span.file, span.start),
            (3, 11),
            "{eol:?}"
        );
        let human = cdlc::diagnostics::render_human(&c.diagnostics, &c.sources, false);
        assert!(human.contains("t.cdl:3:11"), "{eol:?}: {human}");
    }
}

#[test]
fn very_many_errors_are_capped_with_a_summary() {
    let src: String = (0..300)
        .map(|i| format!("model m{i} = nope{i}\n"))
        .collect();
    let c = cdlc::compile("t.cdl", &src);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes.len(), cdlc::diagnostics::MAX_ERRORS + 1);
    assert_eq!(codes.last(), Some(&"E0705"));
    let summary = c.diagnostics.last().unwrap();
    assert!(
        summary.message.starts_with("200 more error(s)"),
        "{}",
        summary.message
    );
    assert_eq!(
        c.sources
            .line_col(summary.span().file, summary.span().start)
            .0,
        101
    );
}

#[test]
fn nesting_beyond_the_limit_is_e0701_and_within_it_checks() {
    let limit = cdlc_grammar::depth::MAX_DEPTH;
    let program = |depth: usize, open: &str, close: &str| {
        format!(
            "import std.layers\nmodel m(x: R[2]) -> R[2] {{ {}x{} }}\n",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    // The checker runs on a thread with the binary's 8 MiB main stack.
    let run = |src: String| {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || error_codes(&src))
            .unwrap()
            .join()
            .unwrap()
    };
    assert!(run(program(limit - 2, "tanh(", ")")).is_empty());
    let chains = [
        ("tanh(", ")"),
        ("(", ")"),
        ("-", ""),
        ("x + ", ""),
        ("x @ ", ""),
        ("tanh >> ", ""),
        ("let y = x in ", ""),
        ("(x)", ""),
    ];
    for (open, close) in chains {
        assert_eq!(run(program(100_000, open, close)), ["E0701"], "{open}");
    }
}

#[test]
fn errors_on_a_very_long_line_show_a_window_of_it_with_the_true_position() {
    // One line of about 400 KB with a hundred errors on it: ariadne would
    // print the whole line for each.
    let pad = " ".repeat(2_000);
    let bad = format!("{pad}model bad = dense[2, 3] >> , tanh{pad}");
    let src = format!("import std.layers\n{}\n", bad.repeat(100));
    let c = cdlc::compile("t.cdl", &src);
    let human = cdlc::diagnostics::render_human(&c.diagnostics, &c.sources, false);
    assert!(human.len() < 100_000, "{} bytes rendered", human.len());
    let first = human
        .split("───╯\n")
        .next()
        .expect("one diagnostic at least");
    let span = c.diagnostics[0].span();
    let (line, column) = c.sources.line_col(span.file, span.start);
    assert!(
        first.contains(&format!("t.cdl:{line}:{column} ]")),
        "{first}"
    );
    insta::assert_snapshot!(first);
}
