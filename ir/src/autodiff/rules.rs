//! One reverse rule per op.
//!
//! A rule gets the forward op, its value `y` and the cotangent `g` of `y`,
//! and returns the cotangent contribution to each operand, as ops emitted
//! into the training function. Primal values are the training function's
//! copies (`d.primal`). Rules emit nothing for operands that are not active.
//! Above each rule is its formula; `ḡ` means "broadcast back" and
//! `unbroadcast` sums a cotangent over the axes an operand was repeated on.

use cdlc_runtime::value::Tensor;

use super::{AdError, Ct, Differentiator};
use crate::ir::{
    BinOp, FoldBackwardOp, FoldOp, Op, ReduceOp, Source, Type, UnOp, UnfoldBackwardOp, UnfoldOp,
    Value,
};

type Contributions = Vec<(Value, Ct)>;

/// The contributions of forward op `op` (value `y`) with cotangent `ct`.
pub(super) fn reverse(
    d: &mut Differentiator,
    y: Value,
    op: &Op,
    ct: Ct,
) -> Result<Contributions, AdError> {
    match op {
        // Leaves: nothing flows further.
        Op::Param(_) | Op::Input(_) | Op::Const(_) | Op::Zeros(_) => Ok(Vec::new()),
        Op::Binary(bop, a, b) => {
            let g = grad(d, y, ct)?;
            binary(d, *bop, y, *a, *b, g)
        }
        Op::Unary(uop, x) => {
            let g = grad(d, y, ct)?;
            unary(d, *uop, y, *x, g)
                .ok_or_else(|| d.no_rule(y, op))
                .map(|c| c.into_iter().collect())
        }
        Op::Contract { a, b, axes } => {
            let g = grad(d, y, ct)?;
            Ok(contract(d, *a, *b, *axes, g))
        }
        // y = permute(x, p)  ⇒  dx = permute(g, p⁻¹).
        Op::Permute { x, perm } => {
            let g = grad(d, y, ct)?;
            let mut inv = vec![0u32; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p as usize] = i as u32;
            }
            Ok(vec![(*x, Ct::Val(d.b.permute(g, inv)))])
        }
        Op::Reduce { op: r, x, axis } => {
            let g = grad(d, y, ct)?;
            Ok(vec![(*x, Ct::Val(reduce(d, *r, *x, *axis, g)))])
        }
        // y = expand(x, axis, n)  ⇒  dx = Σ_axis g.
        Op::Expand { x, axis, .. } => {
            let g = grad(d, y, ct)?;
            Ok(vec![(
                *x,
                Ct::Val(d.b.reduce(ReduceOp::Sum, g, Some(*axis))),
            )])
        }
        // y = broadcast_to(x)  ⇒  dx = sum_to(g, shape x).
        Op::BroadcastTo { x, .. } => {
            let g = grad(d, y, ct)?;
            let shape = shape(d, *x);
            Ok(vec![(*x, Ct::Val(d.b.op(Op::SumTo { x: g, shape })))])
        }
        // y = sum_to(x)  ⇒  dx = broadcast_to(g, shape x).
        Op::SumTo { x, .. } => {
            let g = grad(d, y, ct)?;
            let shape = shape(d, *x);
            Ok(vec![(*x, Ct::Val(d.b.op(Op::BroadcastTo { x: g, shape })))])
        }
        // y = softmax(x)  ⇒  dx = y ⊙ (g − Σ_i g_i y_i).
        Op::Softmax(x) => {
            let g = grad(d, y, ct)?;
            let yv = d.primal(y);
            let gy = d.b.mul(g, yv);
            let s = d.b.sum(gy);
            let c = d.b.sub(g, s);
            Ok(vec![(*x, Ct::Val(d.b.mul(yv, c)))])
        }
        // y = log_softmax(x)  ⇒  dx = g − exp(y) Σ_i g_i.
        Op::LogSoftmax(x) => {
            let g = grad(d, y, ct)?;
            let yv = d.primal(y);
            let p = d.b.unary(UnOp::Exp, yv);
            let s = d.b.sum(g);
            let ps = d.b.mul(p, s);
            Ok(vec![(*x, Ct::Val(d.b.sub(g, ps)))])
        }
        // y_c = ‖x_c‖  ⇒  dx_c = g_c x_c / y_c (0 where y_c = 0).
        Op::Norm { x, .. } => {
            let g = grad(d, y, ct)?;
            let (xv, yv) = (d.primal(*x), d.primal(y));
            Ok(vec![(
                *x,
                Ct::Val(d.b.op(Op::NormGrad { x: xv, y: yv, g })),
            )])
        }
        // y = concat(a, b)  ⇒  da = g[..|a|], db = g[|a|..].
        Op::Concat(a, b) => {
            let g = grad(d, y, ct)?;
            let (na, nb) = (shape(d, *a)[0] as u32, shape(d, *b)[0] as u32);
            let mut out = Vec::new();
            if d.is_active(*a) {
                out.push((
                    *a,
                    Ct::Val(d.b.op(Op::Slice {
                        x: g,
                        start: 0,
                        len: na,
                    })),
                ));
            }
            if d.is_active(*b) {
                out.push((
                    *b,
                    Ct::Val(d.b.op(Op::Slice {
                        x: g,
                        start: na,
                        len: nb,
                    })),
                ));
            }
            Ok(out)
        }
        // y = x[s .. s + len]  ⇒  dx = concat(0_s, g, 0_rest).
        Op::Slice { x, start, len } => {
            let g = grad(d, y, ct)?;
            let n = shape(d, *x)[0];
            let (s, l) = (*start as usize, *len as usize);
            let mut acc = g;
            if s > 0 {
                let z = d.b.zeros(Type::tensor(&[s]));
                acc = d.b.concat(z, acc);
            }
            if s + l < n {
                let z = d.b.zeros(Type::tensor(&[n - s - l]));
                acc = d.b.concat(acc, z);
            }
            Ok(vec![(*x, Ct::Val(acc))])
        }
        // y = (v_0, ..., v_n)  ⇒  dv_i = g_i.
        Op::Tuple(vs) => {
            let parts = d.split(ct, vs.len());
            Ok(vs
                .iter()
                .zip(parts)
                .filter_map(|(v, c)| c.map(|c| (*v, c)))
                .collect())
        }
        // y = t.i  ⇒  dt = (0, ..., g, ..., 0), kept sparse.
        Op::Get(t, i) => {
            let Type::Tuple(ts) = d.src_type(*t) else {
                unreachable!("verified: get of a tuple")
            };
            let mut parts = vec![None; ts.len()];
            parts[*i as usize] = Some(ct);
            Ok(vec![(*t, Ct::Tuple(parts))])
        }
        // W = Σ_k c_k B_k  ⇒  dc_k = Σ_idx g[idx] B_k[idx] = basis_project(g).
        Op::BasisExpand { coeffs, basis } => {
            let g = grad(d, y, ct)?;
            Ok(vec![(
                *coeffs,
                Ct::Val(d.b.op(Op::BasisProject {
                    x: g,
                    basis: *basis,
                })),
            )])
        }
        // c = basis_project(x) is linear with adjoint basis_expand  ⇒  dx = Σ_k g_k B_k.
        Op::BasisProject { x, basis } => {
            let g = grad(d, y, ct)?;
            Ok(vec![(
                *x,
                Ct::Val(d.b.op(Op::BasisExpand {
                    coeffs: g,
                    basis: *basis,
                })),
            )])
        }
        // ℓ = loss(out, t)  ⇒  d out = g ∂ℓ/∂out (the target is data).
        Op::Loss { kind, out, target } => {
            let g = grad(d, y, ct)?;
            let (o, t) = (d.primal(*out), d.primal(*target));
            let dout = d.b.op(Op::LossGrad {
                kind: *kind,
                out: o,
                target: t,
                seed: g,
            });
            Ok(vec![(*out, Ct::Val(dout))])
        }
        Op::Fold(f) => fold(d, y, f, ct),
        Op::Unfold(u) => unfold(d, y, u, ct),
        Op::Map(m) => super::map::map(d, y, m, ct),
        // Ops that only occur in reverse code have no rule (no second
        // derivatives).
        Op::NormGrad { .. }
        | Op::MaxGrad { .. }
        | Op::LossGrad { .. }
        | Op::FoldBackward(_)
        | Op::MapBackward(_)
        | Op::UnfoldBackward(_) => Err(d.no_rule(y, op)),
    }
}

/// The cotangent of `y` as one value.
fn grad(d: &mut Differentiator, y: Value, ct: Ct) -> Result<Value, AdError> {
    let ty = d.src_type(y).clone();
    d.materialize(y, Some(ct), &ty)
}

fn shape(d: &Differentiator, x: Value) -> Vec<usize> {
    d.src_type(x).shape().expect("verified: a tensor").to_vec()
}

/// Sums `g` over the trailing axes `x` was broadcast along.
fn unbroadcast(d: &mut Differentiator, x: Value, g: Value) -> Value {
    let sx = shape(d, x);
    if d.b.shape_of(g) == sx.as_slice() {
        g
    } else {
        d.b.op(Op::SumTo { x: g, shape: sx })
    }
}

fn binary(
    d: &mut Differentiator,
    op: BinOp,
    y: Value,
    a: Value,
    b: Value,
    g: Value,
) -> Result<Contributions, AdError> {
    let (pa, pb) = (d.primal(a), d.primal(b));
    let (mut da, mut db) = (None, None);
    match op {
        // y = a + b  ⇒  da = g, db = g.
        BinOp::Add => {
            da = Some(g);
            db = Some(g);
        }
        // y = a − b  ⇒  da = g, db = −g.
        BinOp::Sub => {
            da = Some(g);
            if d.is_active(b) {
                db = Some(d.b.neg(g));
            }
        }
        // y = a b  ⇒  da = g b, db = g a.
        BinOp::Mul => {
            if d.is_active(a) {
                da = Some(d.b.mul(g, pb));
            }
            if d.is_active(b) {
                db = Some(d.b.mul(g, pa));
            }
        }
        // y = a / b  ⇒  da = g / b, db = −g y / b.
        BinOp::Div => {
            if d.is_active(a) {
                da = Some(d.b.div(g, pb));
            }
            if d.is_active(b) {
                let py = d.primal(y);
                let gy = d.b.mul(g, py);
                let q = d.b.div(gy, pb);
                db = Some(d.b.neg(q));
            }
        }
    }
    let mut out = Vec::new();
    if let Some(da) = da.filter(|_| d.is_active(a)) {
        out.push((a, Ct::Val(unbroadcast(d, a, da))));
    }
    if let Some(db) = db.filter(|_| d.is_active(b)) {
        out.push((b, Ct::Val(unbroadcast(d, b, db))));
    }
    Ok(out)
}

/// The rule of a pointwise op, or `None` for an op without one.
fn unary(
    d: &mut Differentiator,
    op: UnOp,
    y: Value,
    x: Value,
    g: Value,
) -> Option<Option<(Value, Ct)>> {
    let (px, py) = (d.primal(x), d.primal(y));
    let dx = match op {
        // y = −x  ⇒  dx = −g.
        UnOp::Neg => d.b.neg(g),
        // y = max(x, 0)  ⇒  dx = g · [x > 0] (0 at x = 0).
        UnOp::Relu => {
            let s = d.b.unary(UnOp::Step, px);
            d.b.mul(g, s)
        }
        // y = tanh x  ⇒  dx = g (1 − y²).
        UnOp::Tanh => {
            let one = d.b.scalar(1.0);
            let y2 = d.b.mul(py, py);
            let s = d.b.sub(one, y2);
            d.b.mul(g, s)
        }
        // y = σ(x)  ⇒  dx = g y (1 − y).
        UnOp::Sigmoid => {
            let one = d.b.scalar(1.0);
            let c = d.b.sub(one, py);
            let s = d.b.mul(py, c);
            d.b.mul(g, s)
        }
        // y = eˣ  ⇒  dx = g y.
        UnOp::Exp => d.b.mul(g, py),
        // y = ln x  ⇒  dx = g / x.
        UnOp::Log => d.b.div(g, px),
        // y = ln(1 + eˣ)  ⇒  dx = g σ(x).
        UnOp::Softplus => {
            let s = d.b.sigmoid(px);
            d.b.mul(g, s)
        }
        // y = gelu(x)  ⇒  dx = g gelu'(x) (see `UnOp::GeluDeriv`).
        UnOp::Gelu => {
            let s = d.b.unary(UnOp::GeluDeriv, px);
            d.b.mul(g, s)
        }
        // y = |x|  ⇒  dx = g sign(x) (0 at x = 0).
        UnOp::Abs => {
            let s = d.b.unary(UnOp::Sign, px);
            d.b.mul(g, s)
        }
        // y = √x  ⇒  dx = g / (2 y).
        UnOp::Sqrt => {
            let two = d.b.scalar(2.0);
            let t = d.b.mul(two, py);
            d.b.div(g, t)
        }
        // y = step(x) or sign(x): piecewise constant, dx = 0 almost
        // everywhere, so nothing flows back.
        UnOp::Step | UnOp::Sign => return Some(None),
        // The derivative of gelu is only emitted by the gelu rule; there are
        // no second derivatives.
        UnOp::GeluDeriv => return None,
    };
    Some(Some((x, Ct::Val(dx))))
}

/// y[I, J] = Σ_K a[I, K] b[K, J]  ⇒
///   da[I, K] = Σ_J g[I, J] b[K, J]  = contract(g, permute(b, J ++ K), |J|),
///   db[K, J] = Σ_I a[I, K] g[I, J]  = contract(permute(a, K ++ I), g, |I|).
fn contract(d: &mut Differentiator, a: Value, b: Value, axes: u32, g: Value) -> Contributions {
    let (sa, sb) = (shape(d, a), shape(d, b));
    let k = axes as usize;
    let (ni, nj) = (sa.len() - k, sb.len() - k);
    let mut out = Vec::new();
    if d.is_active(a) {
        let pb = d.primal(b);
        let perm: Vec<u32> = (k..sb.len()).chain(0..k).map(|i| i as u32).collect();
        let bt = permuted(d, pb, perm);
        out.push((a, Ct::Val(d.b.contract(g, bt, nj as u32))));
    }
    if d.is_active(b) {
        let pa = d.primal(a);
        let perm: Vec<u32> = (ni..sa.len()).chain(0..ni).map(|i| i as u32).collect();
        let at = permuted(d, pa, perm);
        out.push((b, Ct::Val(d.b.contract(at, g, ni as u32))));
    }
    out
}

/// `permute(x, perm)`, or `x` when `perm` is the identity.
fn permuted(d: &mut Differentiator, x: Value, perm: Vec<u32>) -> Value {
    if perm.iter().enumerate().all(|(i, &p)| i as u32 == p) {
        x
    } else {
        d.b.permute(x, perm)
    }
}

fn reduce(d: &mut Differentiator, op: ReduceOp, x: Value, axis: Option<u32>, g: Value) -> Value {
    let sx = shape(d, x);
    let n: usize = match axis {
        None => sx.iter().product(),
        Some(a) => sx[a as usize],
    };
    match op {
        // y = Σ x  ⇒  dx = ḡ (broadcast over the summed axes).
        ReduceOp::Sum => spread(d, g, &sx, axis),
        // y = (1/n) Σ x  ⇒  dx = ḡ / n.
        ReduceOp::Mean => {
            let inv = d.b.constant(Tensor::scalar(1.0 / n as f64));
            let gn = d.b.mul(g, inv);
            spread(d, gn, &sx, axis)
        }
        // y = max x  ⇒  dx = g at the first maximal entry, 0 elsewhere.
        ReduceOp::Max => {
            let px = d.primal(x);
            d.b.op(Op::MaxGrad { x: px, g, axis })
        }
    }
}

/// Broadcasts a reduced cotangent back to the operand's shape.
fn spread(d: &mut Differentiator, g: Value, shape: &[usize], axis: Option<u32>) -> Value {
    match axis {
        None => d.b.op(Op::BroadcastTo {
            x: g,
            shape: shape.to_vec(),
        }),
        Some(a) => d.b.op(Op::Expand {
            x: g,
            axis: a,
            n: shape[a as usize] as u32,
        }),
    }
}

/// c = fold alg (s)  ⇒  walk the recorded nodes parents first; at a node
/// with arguments (fields, child carriers) and carrier cotangent ḡ, the
/// backward case region recomputes the case and gives the children's
/// cotangents and the captured values' contributions, which are summed
/// over all nodes:  d capture = Σ_nodes ∂case/∂capture ᵀ ḡ_node.
///
/// A rose node's children `ks = map (fold alg) kids` are a `Seq` argument;
/// its cotangent (from the nested fold over `ks` in the case) is split
/// among the children. A fold over a computed sequence `s` (such as `ks`)
/// also gives d s: the cotangent of each `cons` node's element, in list
/// order (`elements`). A nested field (`Tree(X)`, `List(A * X)`) is bound
/// as a computed structure holding the children's carriers; a fold over it
/// gives d s as a structure of the same shape (`structure`), whose
/// entries at the children's positions are split among the children.
fn fold(d: &mut Differentiator, y: Value, f: &FoldOp, ct: Ct) -> Result<Contributions, AdError> {
    let cotangent = d.materialize(y, Some(ct), &f.carrier)?;
    let tape = d.tape(y);
    let captures = d.active_captures(&f.cases);
    let elements = d.is_active(f.input);
    // An active structure (not a computed `Seq`) is a nested field bound as
    // a computed structure, or one computed by a `map` (hoisted work): its
    // plain fields' cotangents are returned as a structure of the same
    // shape, which the nested field's split or the map's rule reads.
    // Over a mapped structure, a plain field holding a list or a structure
    // (`node(a, List(R[2]), X, X)`) is input data: its cotangent is zero
    // or unused, as the map's rule reads only the appended fields'.
    let structure = elements && matches!(d.b.type_of(d.primal(f.input)), Type::Data(_));
    let mut cases = Vec::with_capacity(f.cases.len());
    for (i, &case) in f.cases.iter().enumerate() {
        let rec: Vec<usize> = d
            .module
            .cotangent_fields(f.data, i, &f.carrier, elements)
            .into_iter()
            .map(|(j, _)| j)
            .collect();
        let block = d.backward_region(
            case,
            std::slice::from_ref(&f.carrier),
            |extra| Ct::Val(extra[0]),
            &rec,
            &captures,
        )?;
        cases.push(block);
    }
    let new_captures: Vec<Value> = captures.iter().map(|c| d.primal(*c)).collect();
    let fb = d.b.op(Op::FoldBackward(FoldBackwardOp {
        data: f.data,
        carrier: f.carrier.clone(),
        tape,
        cotangent,
        cases,
        captures: new_captures,
        elements,
        structure,
    }));
    let mut out: Contributions = captures
        .iter()
        .enumerate()
        .map(|(k, &c)| (c, Ct::Val(d.b.get(fb, k as u32))))
        .collect();
    if elements {
        let ds = d.b.get(fb, captures.len() as u32);
        out.push((f.input, Ct::Val(ds)));
    }
    Ok(out)
}

/// ys = unfold step from s₀  ⇒  walk the recorded steps last first; at step
/// t with arguments (s_t, x_t) and cotangents (ḡ_t of the output, s̄_{t+1}
/// of the next state, zero after the last step), the backward step region
/// recomputes the step and gives s̄_t and the captured values'
/// contributions, summed over steps; d s₀ = s̄_0.
fn unfold(
    d: &mut Differentiator,
    y: Value,
    u: &UnfoldOp,
    ct: Ct,
) -> Result<Contributions, AdError> {
    let seq_ty = Type::Seq(Box::new(u.output.clone()));
    let cotangent = d.materialize(y, Some(ct), &seq_ty)?;
    let tape = d.tape(y);
    let captures = d.active_captures(&[u.body]);
    let (state, input) = d.unfold_types(u);
    let extra = [u.output.clone(), state.clone()];
    // Over an active computed sequence, the elements get cotangents too.
    let elements = matches!(u.source, Source::Over(xs) if d.is_active(xs));
    let wrt: &[usize] = if elements { &[0, 1] } else { &[0] };
    let body = d.backward_region(
        u.body,
        &extra,
        |extra| Ct::Tuple(vec![Some(Ct::Val(extra[0])), Some(Ct::Val(extra[1]))]),
        wrt,
        &captures,
    )?;
    let new_captures: Vec<Value> = captures.iter().map(|c| d.primal(*c)).collect();
    let ub = d.b.op(Op::UnfoldBackward(UnfoldBackwardOp {
        tape,
        cotangent,
        state,
        input,
        output: u.output.clone(),
        body,
        captures: new_captures,
        elements,
    }));
    let mut out = Vec::new();
    if d.is_active(u.init) {
        out.push((u.init, Ct::Val(d.b.get(ub, 0))));
    }
    for (k, &c) in captures.iter().enumerate() {
        out.push((c, Ct::Val(d.b.get(ub, k as u32 + 1))));
    }
    if let (true, Source::Over(xs)) = (elements, u.source) {
        let dxs = d.b.get(ub, captures.len() as u32 + 1);
        out.push((xs, Ct::Val(dxs)));
    }
    Ok(out)
}
