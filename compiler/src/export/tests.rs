//! Unit tests of the exporter's encoding helpers and of its refusal of
//! data it does not lay out.

use super::{ExportError, base64, input_spec};
use cdlc_grammar::Span;
use cdlc_ir::{Module, Type};

#[test]
fn base64_matches_the_standard_alphabet_and_padding() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(&[0xff, 0xfe, 0x00, 0x01]), "//4AAQ==");
}

#[test]
fn tuples_nest_in_input_layouts() {
    let m = Module::default();
    let t = Type::Tuple(vec![
        Type::Tensor(vec![2]),
        Type::Tuple(vec![Type::Tensor(vec![]), Type::Tensor(vec![3, 1])]),
    ]);
    assert_eq!(
        input_spec(&m, &t, None, false),
        Ok("(\"tuple\", [(\"tensor\", (2,)), (\"tuple\", [(\"tensor\", ()), (\"tensor\", (3, 1))])])".to_string())
    );
}

#[test]
fn an_input_the_encoder_does_not_lay_out_is_e0802_naming_its_type() {
    // No model input has these types today; a data form added to the IR
    // without an encoder layout reaches this refusal instead of a panic.
    let m = Module::default();
    let t = Type::Tuple(vec![Type::Tensor(vec![2]), Type::Tape]);
    let err = input_spec(&m, &t, None, false).expect_err("a tape is not laid out");
    assert_eq!(err, ExportError::Data("an input of type a tape".into()));
    let d = err.to_diagnostic(Span::default());
    assert_eq!(d.code, "E0802");
}
