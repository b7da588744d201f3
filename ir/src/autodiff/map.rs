//! The reverse rule of `map`, the work a fold's algebra had hoisted out of
//! it.
//!
//! `m = map f (s)` computes new plain fields `f(x_n)` at every node `n` of
//! the input structure `s`; the fold over `m` reads them. The fold's
//! backward (with `structure`) yields the cotangent of `m`: a structure of
//! the same shape whose appended fields hold `ḡ_n`, the cotangent of
//! `f(x_n)`. Then for every value `c` that `f` captures (the parameters),
//!
//!   d c = Σ_nodes ∂f/∂c (x_n) ᵀ ḡ_n,
//!
//! which `map_backward` computes with one backward region per constructor
//! (the forward region recomputed from the node's plain fields, then the
//! reverse walk over it seeded with `ḡ_n`). The input structure is data:
//! it gets no cotangent.

use super::{AdError, Ct, Differentiator};
use crate::ir::{MapBackwardOp, MapOp, Op, Value};

/// The contributions of the forward `map` `m` (value `y`) with cotangent
/// `ct`: one per active capture of its regions.
pub(super) fn map(
    d: &mut Differentiator,
    y: Value,
    m: &MapOp,
    ct: Ct,
) -> Result<Vec<(Value, Ct)>, AdError> {
    // The hoisting pass maps only structures that depend on no parameter:
    // it leaves computed structures alone (a nested field's, or one a
    // fold over such a structure binds), the fields of a structure it
    // mapped are data again (`mark_region_args` keeps the map's input's
    // own fields inactive), and it does not map a map's result again (the
    // fold it rewrote has no element work left).
    if d.is_active(m.input) {
        return Err(d.internal(
            y,
            "a `map` over a structure that depends on a parameter (the hoisting pass maps data only)",
        ));
    }
    let cotangent = d.materialize(y, Some(ct), &crate::ir::Type::Data(m.out))?;
    let captures = d.active_captures(&m.cases);
    let mut cases = Vec::with_capacity(m.cases.len());
    for (i, &case) in m.cases.iter().enumerate() {
        let mapped = d
            .module
            .mapped_fields(m.data, m.out, i)
            .expect("verified: the result is the input's type with fields appended");
        let block = d.backward_region(
            case,
            &mapped,
            |extra| Ct::Tuple(extra.iter().map(|&g| Some(Ct::Val(g))).collect()),
            &[],
            &captures,
        )?;
        cases.push(block);
    }
    let new_captures: Vec<Value> = captures.iter().map(|c| d.primal(*c)).collect();
    let input = d.primal(m.input);
    let mb = d.b.op(Op::MapBackward(MapBackwardOp {
        data: m.data,
        out: m.out,
        input,
        cotangent,
        cases,
        captures: new_captures,
    }));
    Ok(captures
        .iter()
        .enumerate()
        .map(|(k, &c)| (c, Ct::Val(d.b.get(mb, k as u32))))
        .collect())
}
