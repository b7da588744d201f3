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

/// A basis element's ranges read back as the entries they stand for, and
/// print again as the same ranges.
#[test]
fn basis_ranges_read_as_their_entries() {
    let text = format!(
        "basis0 b : R[3, 3], 2 elements\n    0: {{0..=8/4: 1.0}}\n    1: {{1..=3: -0.5, 5: 2.0, 7: 2.0}}\n\n{DENSE}"
    );
    let m = read(&text);
    let b = &m.bases[<crate::ir::BasisId as crate::entity::EntityRef>::new(0)];
    assert_eq!(b.elements[0], [(0, 1.0), (4, 1.0), (8, 1.0)]);
    assert_eq!(
        b.elements[1],
        [(1, -0.5), (2, -0.5), (3, -0.5), (5, 2.0), (7, 2.0)]
    );
    assert_eq!(print_module(&m), text);
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
        (
            "basis_index_out_of_range",
            format!("basis0 b : R[2], 1 elements\n    0: {{5: 1.0}}\n\n{DENSE}"),
        ),
        (
            "basis_range_off_step",
            format!("basis0 b : R[2, 2], 1 elements\n    0: {{0..=2/3: 1.0}}\n\n{DENSE}"),
        ),
        (
            "basis_range_zero_step",
            format!("basis0 b : R[2, 2], 1 elements\n    0: {{0..=3/0: 1.0}}\n\n{DENSE}"),
        ),
        (
            "basis_range_out_of_range",
            format!("basis0 b : R[2, 2], 1 elements\n    0: {{0..=4: 1.0}}\n\n{DENSE}"),
        ),
        (
            "missing_region",
            "data0 List(R[1]) = nil | cons(R[1], X)\n\nfunction f {\n    inputs List(R[1])\n    %0 = input 0 : List(R[1])\n    %2 = fold List(R[1]) %0 : R[1] {\n        nil() {\n            %1 = zeros : R[1]\n            yield %1\n        }\n    }\n    return %2\n}\n".to_string(),
        ),
        (
            "unknown_loss",
            "function f {\n    inputs R[2], R[2]\n    %0 = input 0 : R[2]\n    %1 = input 1 : R[2]\n    %2 = loss l2 %0, %1 : R\n    return %2\n}\n".to_string(),
        ),
    ];
    for (name, text) in cases {
        insta::assert_snapshot!(name, error_of(&text));
    }
}

/// One random edit of `text`: a character deleted, replaced or doubled, a
/// line deleted, doubled or swapped with the next, or a digit changed.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let l = rng.below(lines.len());
    match rng.below(6) {
        0 => {
            lines.remove(l);
        }
        1 => {
            let copy = lines[l].clone();
            lines.insert(l, copy);
        }
        2 if l + 1 < lines.len() => lines.swap(l, l + 1),
        kind => {
            let chars: Vec<char> = lines[l].chars().collect();
            if chars.is_empty() {
                return lines.join("\n");
            }
            let i = rng.below(chars.len());
            const PIECES: [&str; 12] = [
                "0",
                "7",
                "99999999999",
                "%",
                ",",
                ":",
                "(",
                ")",
                "[",
                "]",
                "{",
                "X",
            ];
            let piece = PIECES[rng.below(PIECES.len())];
            let mut out: String = chars[..i].iter().collect();
            match kind {
                3 => {}
                4 => out.push_str(piece),
                _ => {
                    out.push(chars[i]);
                    out.push(chars[i]);
                }
            }
            out.extend(&chars[i + 1..]);
            lines[l] = out;
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutated_texts_are_refused_or_read_but_never_panic() {
    let mut rng = Rng::new(17);
    let mut texts = Vec::new();
    for (_, mut m) in all_models() {
        train_fn(&mut m);
        texts.push(print_module(&m.module));
    }
    let (mut read, mut refused) = (0, 0);
    for round in 0..4000 {
        let mut text = texts[round % texts.len()].clone();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&text, &mut rng);
        }
        let outcome = std::panic::catch_unwind(|| module(&text).map(|m| print_module(&m)));
        match outcome {
            Err(_) => panic!("the reader panics on:\n{text}"),
            // Whatever reads must print back to text that reads the same.
            Ok(Ok(printed)) => {
                read += 1;
                assert_eq!(
                    module(&printed).map(|m| print_module(&m)).as_ref(),
                    Ok(&printed),
                    "{text}"
                )
            }
            Ok(Err(_)) => refused += 1,
        }
    }
    // Both outcomes occur, so the edits reach the reader's checks.
    assert!(read > 0 && refused > 0, "read {read}, refused {refused}");
}
