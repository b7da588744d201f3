//! Forward rules of the recursion ops.
//!
//! The derivative of a fold is a fold: if `y = fold(alg)(s)` then
//! `(y, ẏ) = fold(alg')(dual s)`, where `alg'` is the derivative of the
//! algebra on (carrier, tangent) pairs. Each case of `alg'` takes the dual
//! of its fields (a plain field `(x, ẋ)`, a recursive position the pair of
//! the child's carrier and its tangent, a rose node's children the sequence
//! of such pairs) and yields `(alg(fields), J_alg(fields) · tangents)`. By
//! induction on the structure this is `(y, ẏ)` at every node. A hylomorphism
//! by halves splits the dual list exactly as it splits the list, and a fold
//! over a computed sequence (a rose node's children) folds the sequence of
//! pairs.
//!
//! Likewise `unfold(coalg)` becomes the unfold of the derivative of the
//! step on (state, tangent) pairs, whose outputs are (output, tangent)
//! pairs. A sequence therefore always travels as the sequence of its pairs
//! (`Jvp::pairs`); only the function's output is split into the output
//! sequence and the tangent sequence (`split_output`).

use super::dual::Layout;
use super::{Io, Jvp, JvpError};
use crate::ir::{Block, FoldOp, Source, Type, UnfoldOp, Value};

/// `(x, x)`: the type of a value with its tangent.
fn pair_type(t: &Type) -> Type {
    Type::Tuple(vec![t.clone(), t.clone()])
}

/// Binds the forward region argument `old` to the new region's argument
/// `new`, which is its dual: a pair for a tensor or tuple (or, in a nested
/// field, a tuple paired at its leaves, as `layout` says), a sequence of
/// pairs for a sequence, the dual structure for a structure.
fn bind_arg(j: &mut Jvp, old: Value, new: Value, layout: &Layout) -> Result<(), JvpError> {
    if matches!(j.src.types[old], Type::Seq(_) | Type::Data(_)) {
        j.pairs.insert(old, new);
    } else {
        let (y, t) = super::nested::split(j, new, layout)?;
        j.env.insert(old, y);
        j.tangents.insert(old, t);
    }
    Ok(())
}

/// The dual of a forward structure or sequence, or why a recursion op's
/// input has none.
fn pair_of(j: &Jvp, v: Value) -> Result<Value, JvpError> {
    j.pairs.get(v).copied().ok_or_else(|| {
        j.unsupported(format!(
            "{v} is not an input structure or a computed sequence"
        ))
    })
}

/// The differentiated copy of forward region `block`, whose arguments'
/// duals have the types `arg_types` and the layouts `layouts`; `result`
/// turns the forward result into the region's new result.
fn region(
    j: &mut Jvp,
    block: Block,
    arg_types: &[Type],
    layouts: &[Layout],
    io: &Io,
    result: impl FnOnce(&mut Jvp, Value) -> Value,
) -> Result<Block, JvpError> {
    let args = j.b.begin_region(arg_types);
    let old: Vec<Value> = j.src.blocks[block].args.clone();
    for ((o, n), l) in old.into_iter().zip(args).zip(layouts) {
        bind_arg(j, o, n, l)?;
    }
    j.walk(block, io)?;
    let r = j.src.blocks[block]
        .result
        .expect("verified: a region has a result");
    let y = result(j, r);
    Ok(j.b.end_region(y))
}

/// `y = fold(alg)(s)`: folds the derivative of each case over the dual of
/// `s`, and binds `y` and `ẏ` to the two halves of the resulting pair.
pub(super) fn fold(j: &mut Jvp, y: Value, f: &FoldOp, io: &Io) -> Result<(), JvpError> {
    if f.record {
        return Err(j.unsupported("a recording fold occurs only in training functions"));
    }
    if !f.carrier.is_differentiable() {
        return Err(j.unsupported(format!(
            "the carrier {:?} of a fold is not made of tensors",
            f.carrier
        )));
    }
    let input = pair_of(j, f.input)?;
    let data = j.dual_of(f.data);
    let carrier = pair_type(&f.carrier);
    let types = j.b.case_types(data, &carrier);
    let mut cases = Vec::new();
    for (k, (&case, tys)) in f.cases.iter().zip(&types).enumerate() {
        let layouts = j.duals.layouts(f.data, k).to_vec();
        cases.push(region(j, case, tys, &layouts, io, |j, r| j.dual(r))?);
    }
    let out = j.b.fold_regions(data, f.split, input, carrier, cases);
    let (p, t) = (j.b.get(out, 0), j.b.get(out, 1));
    j.env.insert(y, p);
    j.tangents.insert(y, t);
    Ok(())
}

/// `ys = unfold(step)(init, source)`: unfolds the derivative of the step
/// from `(init, init')`, over the dual of the source list; `ys` travels as
/// the sequence of (output, tangent) pairs.
pub(super) fn unfold(j: &mut Jvp, ys: Value, u: &UnfoldOp, io: &Io) -> Result<(), JvpError> {
    if u.record {
        return Err(j.unsupported("a recording unfold occurs only in training functions"));
    }
    if !u.output.is_differentiable() {
        return Err(j.unsupported(format!(
            "the output {:?} of an unfold is not made of tensors",
            u.output
        )));
    }
    let init = j.dual(u.init);
    let mut arg_types = vec![j.b.type_of(init).clone()];
    let source = match u.source {
        Source::Over(xs) => {
            let p = pair_of(j, xs)?;
            let ty = j.b.type_of(p).clone();
            let elem =
                j.b.module()
                    .over_element(&ty)
                    .expect("the dual of a list is a list")
                    .clone();
            arg_types.push(elem);
            Source::Over(p)
        }
        Source::Take(k) => Source::Take(k),
    };
    let layouts = vec![Layout::Pair; arg_types.len()];
    let body = region(j, u.body, &arg_types, &layouts, io, |j, r| {
        // The step yields `(output, next state)`: pair each with its tangent.
        let (pr, tr) = (j.primal(r), j.tangent_or_zero(r));
        let parts: Vec<Value> = (0..2)
            .map(|k| {
                let y = j.b.get(pr, k);
                let t = j.b.get(tr, k);
                j.b.tuple(vec![y, t])
            })
            .collect();
        j.b.tuple(parts)
    })?;
    let out = j.b.unfold_region(init, source, body);
    j.pairs.insert(ys, out);
    Ok(())
}

/// The function's output when it is a sequence: the pair of the output
/// sequence and its tangent sequence, each taken from the sequence of
/// pairs by an unfold that keeps one half of every element.
pub(super) fn split_output(j: &mut Jvp, out: Value) -> Result<Value, JvpError> {
    let pairs = pair_of(j, out)?;
    let halves: Vec<Value> = (0..2)
        .map(|k| {
            let state = j.b.zeros(Type::scalar());
            let ty = j.b.type_of(pairs).clone();
            let elem =
                j.b.module()
                    .over_element(&ty)
                    .expect("a sequence has elements")
                    .clone();
            let args = j.b.begin_region(&[Type::scalar(), elem]);
            let half = j.b.get(args[1], k);
            let r = j.b.tuple(vec![half, args[0]]);
            let body = j.b.end_region(r);
            j.b.unfold_region(state, Source::Over(pairs), body)
        })
        .collect();
    Ok(j.b.tuple(halves))
}
