//! The reader against the printer: every test model, forward and training
//! function, reads back to the same text and the same values; malformed
//! texts give errors at the right line and column.

use crate::interp::forward;
use crate::parse::module;
use crate::print::print_module;
use crate::rng::Rng;
use crate::testmodels::{all_models, random_input, random_params, train_fn};

/// Reads `text`, or fails with the error and the text.
#[track_caller]
fn read(text: &str) -> crate::Module {
    module(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn every_test_model_reads_back_to_the_same_text() {
    for (name, mut m) in all_models() {
        train_fn(&mut m);
        let text = print_module(&m.module);
        let back = read(&text);
        assert_eq!(print_module(&back), text, "{name}");
        crate::verify::verify(&back).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn a_model_read_back_computes_the_same_outputs() {
    let mut rng = Rng::new(5);
    for (name, m) in all_models() {
        let back = read(&print_module(&m.module));
        let f = &m.module.functions[m.forward];
        for _ in 0..3 {
            let params = random_params(f, &mut rng);
            let x = random_input(&m.module, f, &mut rng);
            let want = forward(&m.module, m.forward, &params, &x).expect("runs");
            let got = forward(&back, m.forward, &params, &x).expect("runs");
            assert_eq!(got, want, "{name}");
        }
    }
}

/// The error for a malformed text, rendered for a snapshot with the text
/// above it.
fn error_of(text: &str) -> String {
    let e = module(text).expect_err("the text is malformed");
    format!("----- TEXT\n{text}----- ERROR\n{e}\n")
}

const DENSE: &str = "function dense {
    params dense.W: R[2, 3], dense.b: R[2]
    inputs R[3]
    %0 = input 0 : R[3]
    %1 = param dense.W : R[2, 3]
    %2 = param dense.b : R[2]
    %3 = matmul %1, %0 : R[2]
    %4 = add %3, %2 : R[2]
    return %4
}
";

#[test]
fn the_dense_text_reads() {
    let m = read(DENSE);
    assert_eq!(print_module(&m), DENSE);
}

#[test]
fn malformed_texts_are_reported_where_they_go_wrong() {
    let cases = [
        ("unknown_op", DENSE.replace("matmul %1", "matmult %1")),
        ("missing_comma", DENSE.replace("add %3, %2", "add %3 %2")),
        ("wrong_type", DENSE.replace("add %3, %2 : R[2]", "add %3, %2 : R[3]")),
        ("unknown_param", DENSE.replace("param dense.b", "param dense.c")),
        ("undefined_value", DENSE.replace("return %4", "return %9")),
        ("defined_twice", DENSE.replace("%4 = add", "%3 = add")),
        ("missing_return", DENSE.replace("    return %4\n", "")),
        ("unknown_type", DENSE.replace("inputs R[3]", "inputs Q[3]")),
        ("bad_number", DENSE.replace("%0 = input 0", "%0 = input x")),
        (
            "const_size",
            DENSE.replace("%2 = param dense.b : R[2]", "%2 = const [1.0, 2.0, 3.0] : R[2]"),
        ),
        (
            "data_out_of_order",
            format!("data1 List(R[2]) = nil | cons(R[2], X)\n{DENSE}"),
        ),
        (
            "wrong_region_label",
            "data0 List(R[1]) = nil | cons(R[1], X)\n\nfunction f {\n    inputs List(R[1])\n    %0 = input 0 : List(R[1])\n    %5 = fold List(R[1]) %0 : R[1] {\n        nil() {\n            %1 = zeros : R[1]\n            yield %1\n        }\n        kons(%2: R[1], %3: R[1]) {\n            %4 = add %2, %3 : R[1]\n            yield %4\n        }\n    }\n    return %5\n}\n".to_string(),
        ),
    ];
    for (name, text) in cases {
        insta::assert_snapshot!(name, error_of(&text));
    }
}
