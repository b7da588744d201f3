//! `chunks(x, parts = k)`: the reverse derivative of cutting a vector into
//! equal parts, checked by finite differences in f64, and the JIT against
//! the interpreter, on the models of `tests/cases/jit/chunks.cdl` (a GRU
//! whose gates share two matrices, a cell with three gates from one
//! product, and parts used unevenly).

use crate::jit_inputs::check_case;

#[test]
fn a_gru_with_fused_gates() {
    check_case("chunks", "fused");
}

#[test]
fn three_gates_from_one_product() {
    check_case("chunks", "gates");
}

#[test]
fn parts_used_unevenly() {
    check_case("chunks", "parts");
}
