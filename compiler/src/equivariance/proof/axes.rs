//! The proof rules for tensor operations, stated on the representation of
//! each axis (`rep.rs`). With `g` a generator acting by `ρ(g)`, each rule
//! and its one-line proof:
//!
//! - `W @ x`, `W: equivariant A -> B`, `x` in `A`: in `B`, since
//!   `W ρ_A(g) x = ρ_B(g) W x`.
//! - `a @ b` otherwise contracts the last axis of `a` with the first of
//!   `b`; if both carry one representation `ρ` with `ρᵀρ = I` (a channel
//!   axis, a permutation, a rotation), the result carries the remaining
//!   factors: `(A ⊗ ρ) a` contracted with `(ρ ⊗ B) b` is
//!   `(A ⊗ B)(a · ρᵀρ · b)`. For Lie generators `ξᵀ + ξ = 0` does the same.
//! - `a^T` swaps two one-axis factors.
//! - `x + c` with `c` of lower rank, broadcast over the trailing axes of
//!   `x`: `c` must carry the leading factors of `x`, and the trailing
//!   factors must fix the all-ones vector, since
//!   `ρ_L c ⊗ 1 = (ρ_L ⊗ ρ_T)(c ⊗ 1)` exactly when `ρ_T 1 = 1`
//!   (permutations do; the truncating shift and rotations do not).
//! - `x * y` of two values of one space: for permutations the same space
//!   (`Px ⊙ Py = P(x ⊙ y)`); for monomial actions moving coordinates alike,
//!   the product representation (the signs multiply, so `x * x` of an odd
//!   value is invariant); otherwise the product is only followed into a
//!   contraction `sum(x * y)`, invariant when both are in one orthogonal
//!   representation (`⟨ρx, ρy⟩ = ⟨x, y⟩`). A factor constant along the
//!   acted-on axes (per channel) scales and commutes with any linear action.
//! - `sum`/`mean` along an axis that a permutation (or nothing) acts on
//!   drop its factor (`1ᵀP = 1ᵀ`); `max` also needs permutations on the
//!   other axes; over all axes, a permutation action gives an invariant.
//! - `softmax` of a vector under permutations is equivariant (it is
//!   computed entry by entry from the entry and the sum of all).
//! - `norm` over orthogonal factors is invariant; `gate` keeps the space.
//! - `outer(a, b)` carries the factors of `a` then of `b`; `concat(a, b)`
//!   the direct sum of their spaces, a plain invariant vector `c` of known
//!   length `k` being the trivial block `I_k`: `(ρ(g) a, c) = (ρ(g) ⊕
//!   I_k)(a, c)`.

use super::{AVal, Prover, R, Stop, leading_channels};
use crate::builtins::{Builtin, Function};
use crate::check::types::Ty;
use crate::diagnostics::Diagnostic;
use crate::equivariance::rep::{Fac, Rep};
use crate::hir::{BodyKind, BuiltinCall, Expr, ExprId};
use cdlc_equivariance::DiscreteClass;
use cdlc_grammar::Span;
use std::rc::Rc;

/// True for an action by permutations of coordinates (with no Lie part).
fn permutes(r: &Rep) -> bool {
    let c = r.class();
    c.lie_zero && c.discrete == DiscreteClass::Permutation
}

impl Prover<'_, '_> {
    /// A value as a representation, a fixed point counting as invariant.
    fn rep_of(v: &AVal) -> Option<Rep> {
        match v {
            AVal::Inv(r) => Some(Rep::channels(*r)),
            AVal::Fixed(s) => Some(Rep::channels_sized(s.shape())),
            AVal::Sp(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// A value as a member of a space: a fixed point of `B` is in `B`.
    fn rep_in_space(v: &AVal) -> Option<Rep> {
        match v {
            AVal::Fixed(s) => Some(Rep::of_space(s)),
            other => Self::rep_of(other),
        }
    }

    /// The value of a representation: invariant when nothing acts.
    pub(super) fn sp_rep(r: Rep) -> AVal {
        if r.is_trivial() {
            AVal::Inv(r.rank())
        } else {
            AVal::Sp(r)
        }
    }

    /// The error for an elementwise product of transforming values that
    /// reaches anything but a contraction.
    pub(super) fn prod_error(&mut self, at: Span) -> Stop {
        let g = self.claim.gname.clone();
        self.fail(
            Diagnostic::error(
                "E0502",
                format!("this elementwise product does not transform in a space of {g}"),
                at,
                format!("{g} mixes coordinates, so the product of two transforming values is followed only into a sum over its axes"),
            )
            .with_help("contract it: `sum(a * b)` of two values of one orthogonal representation is invariant; or scale by an invariant (`x * s`, `gate(x)`)"),
        )
    }

    /// Reports a stored product if `v` is one.
    /// `no_prod` for every argument.
    fn no_prods(&mut self, vs: &[AVal]) -> R<()> {
        vs.iter().try_for_each(|v| self.no_prod(v))
    }

    pub(super) fn no_prod(&mut self, v: &AVal) -> R<()> {
        match v {
            AVal::Prod(_, _, at) => Err(self.prod_error(*at)),
            _ => Ok(()),
        }
    }

    // ------------------------------------------------------------ `@` and `^T`

    pub(super) fn matmul(&mut self, w: ExprId, x: ExprId) -> R<AVal> {
        let at = self.env.op_span(self.span(w), self.span(x), &["@"]);
        let (wv, xv) = (self.expr(w)?, self.expr(x)?);
        self.no_prod(&wv)?;
        self.no_prod(&xv)?;
        match (&wv, &xv) {
            (AVal::Unknown, _) | (_, AVal::Unknown) => Err(Stop::Silent),
            (AVal::Map(a, b), _) => self.apply_map(a.clone(), b.clone(), &xv, (w, x), at),
            _ => self.contract(&wv, &xv, (w, x), at),
        }
    }

    fn apply_map(
        &mut self,
        a: Rc<cdlc_equivariance::Space>,
        b: Rc<cdlc_equivariance::Space>,
        xv: &AVal,
        (w, x): (ExprId, ExprId),
        at: Span,
    ) -> R<AVal> {
        match xv {
            AVal::Inv(r) => Ok(AVal::Inv(*r)),
            AVal::Fixed(s) => Ok(if *a == **s {
                match Self::sp_val((*b).clone()) {
                    AVal::Sp(_) => AVal::Fixed(b),
                    v => v,
                }
            } else {
                AVal::Inv(b.shape().len())
            }),
            AVal::Sp(r) if r.same(&Rep::of_space(&a)) => Ok(Self::sp_val((*b).clone())),
            AVal::Sp(r) => Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    format!(
                        "`{}` is equivariant from {}, but `{}` transforms in another space",
                        self.text(self.span(w)),
                        cdlc_equivariance::show_shape(a.shape()),
                        self.text(self.span(x))
                    ),
                    at,
                    "the map's domain and the value's space differ",
                )
                .with_label(
                    self.span(x),
                    format!("this value transforms as {}", r.describe()),
                )
                .with_help(
                    "declare the parameter's domain as the space of the value it is applied to",
                ),
            )),
            _ => Err(Stop::Silent),
        }
    }

    /// `a @ b` for values that are not equivariant parameters: a
    /// contraction of the last axis of `a` with the first of `b`.
    fn contract(&mut self, wv: &AVal, xv: &AVal, (w, x): (ExprId, ExprId), at: Span) -> R<AVal> {
        let (Some(a), Some(b)) = (Self::rep_of(wv), Self::rep_of(xv)) else {
            return Err(Stop::Silent);
        };
        if a.is_trivial() && b.is_trivial() {
            return Ok(AVal::Inv((a.rank() + b.rank()).saturating_sub(2)));
        }
        let (Some(fa), Some(fb)) = (a.facs.last(), b.facs.first()) else {
            return Err(Stop::Silent);
        };
        if fa.rank() == 1 && fb.rank() == 1 && fa.same(fb) && fa.class().orthogonal {
            let last = a.facs.len() - 1;
            return Ok(Self::sp_rep(a.without(last).then(&b.without(0))));
        }
        let g = self.claim.gname.clone();
        if matches!(wv, AVal::Inv(_)) && matches!(fa, Fac::Chan(_)) {
            return Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    format!("plain weight `{}` applied to a value on which {g} acts", self.text(self.span(w))),
                    at,
                    format!("this product does not commute with the action of {g}"),
                )
                .with_label(self.span(x), format!("its first axis transforms under {g} ({})", b.describe()))
                .with_help(format!(
                    "declare it `param {}: equivariant A -> B = ...` with A the space of `{}`, so that the compiler derives the weight tying",
                    self.text(self.span(w)),
                    self.text(self.span(x))
                )),
            ));
        }
        let why = if fa.rank() != 1 || fb.rank() != 1 {
            "the contracted axis is part of a larger factor of the action".to_string()
        } else if !fa.same(fb) {
            format!(
                "the contracted axes transform differently ({} and {})",
                Rep {
                    facs: vec![fa.clone()]
                }
                .describe(),
                Rep {
                    facs: vec![fb.clone()]
                }
                .describe()
            )
        } else {
            format!("{g} does not act orthogonally on the contracted axes")
        };
        Err(self.fail(
            Diagnostic::error(
                "E0501",
                format!("`{}` does not commute with the action of {g}", self.text(self.span(w).to(self.span(x)))),
                at,
                why,
            )
            .with_help("contract only axes that carry the same orthogonal representation (`a^T @ b` for two values of one space), or apply an equivariant parameter (`param W: equivariant A -> B`)"),
        ))
    }

    pub(super) fn transpose(&mut self, a: ExprId, span: Span) -> R<AVal> {
        let v = self.expr(a)?;
        self.no_prod(&v)?;
        match &v {
            AVal::Inv(_) => Ok(v),
            AVal::Fixed(s) => Ok(AVal::Inv(s.shape().len())),
            AVal::Sp(r) if r.facs.len() == 2 => Ok(AVal::Sp(Rep {
                facs: vec![r.facs[1].clone(), r.facs[0].clone()],
            })),
            _ => Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    format!("the transpose of `{}` does not follow the action of {}", self.text(self.span(a)), self.claim.gname),
                    span,
                    "its two axes are acted on together, not one by one",
                )
                .with_help("transpose values whose axes transform separately (such as `R[c] * S` for a one-axis space S), or write the map as an equivariant parameter"),
            )),
        }
    }

    // ------------------------------------------------------------ `+` and `-`

    pub(super) fn add(&mut self, a: ExprId, b: ExprId) -> R<AVal> {
        let at = self.env.op_span(self.span(a), self.span(b), &["+", "-"]);
        let (va, vb) = (self.expr(a)?, self.expr(b)?);
        self.no_prod(&va)?;
        self.no_prod(&vb)?;
        match (&va, &vb) {
            (AVal::Inv(r), AVal::Inv(q)) => return Ok(AVal::Inv(*r.max(q))),
            // A constant added to a fixed point stays one when the action
            // fixes the all-ones vector.
            (AVal::Inv(0), AVal::Fixed(s)) | (AVal::Fixed(s), AVal::Inv(0)) if s.fixes_ones() => {
                return Ok(AVal::Fixed(s.clone()));
            }
            (AVal::Inv(r), AVal::Fixed(s)) | (AVal::Fixed(s), AVal::Inv(r)) => {
                return Ok(AVal::Inv((*r).max(s.shape().len())));
            }
            (AVal::Fixed(s), AVal::Fixed(t)) => {
                return Ok(if s == t {
                    va.clone()
                } else {
                    AVal::Inv(s.shape().len())
                });
            }
            _ => {}
        }
        let (Some(ra), Some(rb)) = (Self::rep_in_space(&va), Self::rep_in_space(&vb)) else {
            return Err(Stop::Silent);
        };
        if ra.rank() == rb.rank() {
            if ra.same(&rb) {
                return Ok(Self::sp_rep(ra));
            }
            return Err(self.add_mismatch((a, &va), (b, &vb), at));
        }
        let (big, small, small_e, small_v) = if ra.rank() > rb.rank() {
            (ra, rb, b, &vb)
        } else {
            (rb, ra, a, &va)
        };
        let g = self.claim.gname.clone();
        let what = self.text(self.span(small_e));
        let Some((lead, trail)) = big.split_at(small.rank()) else {
            return Err(self.not_leading(small_e, at, true));
        };
        if !lead.same(&small) {
            return Err(self.not_leading(small_e, at, true));
        }
        if trail.fixes_ones() {
            return Ok(Self::sp_rep(big));
        }
        let _ = small_v;
        Err(self.fail(
            Diagnostic::error(
                "E0504",
                format!("`{what}` is broadcast over axes on which {g} does not fix constant values"),
                self.span(small_e),
                format!("constant along {}, which {g} does not map to itself", trail.describe()),
            )
            .with_label(at, "the sum")
            .with_help(format!("a value constant along the acted-on axes stays constant only under actions that permute coordinates; add an invariant parameter of the whole space instead (`param b: invariant B`), so the compiler derives what {g} allows")),
        ))
    }

    fn not_leading(&mut self, e: ExprId, at: Span, broadcast: bool) -> Stop {
        let g = self.claim.gname.clone();
        let (span, plain) = (self.span(e), self.is_plain_param(e));
        let what = self.text(span);
        self.fail(
            Diagnostic::error(
                "E0504",
                format!("`{what}` is not invariant under {g}, but is added to a value on which it acts"),
                span,
                if plain {
                    format!("plain parameter `{what}`: not invariant under {g}")
                } else if broadcast {
                    "this value does not transform like the axes of the other operand it is broadcast along".to_string()
                } else {
                    format!("this value is not a fixed point of the action of {g}")
                },
            )
            .with_label(at, "the sum")
            .with_help(if plain {
                format!("`{what}` may hold a different value at every position (as a learned positional encoding does), so it does not move when the input is transformed; declare it `param {what}: invariant B = ...` with B the space of the other operand (under permutations: one value per channel, shared by all points)")
            } else {
                "add only values in the same space, or invariant parameters of it (`param b: invariant B`)".to_string()
            }),
        )
    }

    /// Whether `e` names a plain parameter of the item being proved, and
    /// still holds it (an invariant value).
    fn is_plain_param(&self, e: ExprId) -> bool {
        let Expr::Local(l) = &self.body.exprs[e] else {
            return false;
        };
        let name = &self.body.locals[*l].name;
        matches!(
            self.env.params.get(&(self.item, name.clone())),
            Some(super::ParamSpaces::Plain(_))
        ) && matches!(self.locals.get(l), Some(AVal::Inv(_)))
    }

    /// Two operands of one rank that transform differently.
    fn add_mismatch(
        &mut self,
        (a, va): (ExprId, &AVal),
        (b, vb): (ExprId, &AVal),
        at: Span,
    ) -> Stop {
        let (ga, gb) = (
            Self::rep_of(va).and_then(|r| r.group().cloned()),
            Self::rep_of(vb).and_then(|r| r.group().cloned()),
        );
        let transforming = |v: &AVal| matches!(v, AVal::Sp(_) | AVal::Fixed(_));
        if transforming(va) && transforming(vb) {
            if let (Some(x), Some(y)) = (&ga, &gb)
                && x != y
            {
                return self.fail(
                    Diagnostic::error(
                        "E0503",
                        format!("adding values under different groups, {x} and {y}"),
                        at,
                        "this sum mixes two groups",
                    )
                    .with_help("add values of one space; map one into the other's space with an equivariant parameter first"),
                );
            }
            let culprit = if matches!(vb, AVal::Fixed(_)) { b } else { a };
            return self.fail(
                Diagnostic::error(
                    "E0504",
                    format!(
                        "adding values of two different spaces of {}: `{}` and `{}`",
                        self.claim.gname,
                        self.text(self.span(a)),
                        self.text(self.span(b))
                    ),
                    self.span(culprit),
                    "this value is not in the space of the other operand",
                )
                .with_label(at, "the sum")
                .with_help("declare both operands in the same space (a bias as `param b: invariant B` for the space B of the other operand)"),
            );
        }
        let other = if transforming(va) { b } else { a };
        self.not_leading(other, at, false)
    }

    // ------------------------------------------------------------ `*` and `/`

    pub(super) fn mul(&mut self, a: ExprId, b: ExprId, div: bool) -> R<AVal> {
        let at = self
            .env
            .op_span(self.span(a), self.span(b), &[if div { "/" } else { "*" }]);
        let (va, vb) = (self.expr(a)?, self.expr(b)?);
        self.no_prod(&va)?;
        self.no_prod(&vb)?;
        // Products of fixed points of a permutation action are fixed points:
        // `P(b ⊙ c) = Pb ⊙ Pc = b ⊙ c`.
        if let (AVal::Fixed(s), AVal::Fixed(t)) = (&va, &vb)
            && s == t
            && permutes(&Rep::of_space(s))
        {
            return Ok(AVal::Fixed(s.clone()));
        }
        if Self::is_inv(&va) && Self::is_inv(&vb) {
            let rank = |v: &AVal| Self::rep_of(v).map_or(0, |r| r.rank());
            return Ok(AVal::Inv(rank(&va).max(rank(&vb))));
        }
        let (Some(ra), Some(rb)) = (Self::rep_in_space(&va), Self::rep_in_space(&vb)) else {
            return Err(Stop::Silent);
        };
        // The reciprocal of a transforming divisor is a pointwise function:
        // odd, and not defined at 0.
        if div && !Self::is_inv(&vb) {
            let c = rb.class();
            if !(c.lie_zero
                && matches!(
                    c.discrete,
                    DiscreteClass::Permutation | DiscreteClass::SignedPermutation
                ))
            {
                return Err(self.elementwise_error(a, b, div, at));
            }
        }
        // The larger operand, or of equal ranks the transforming one.
        let a_big = ra.rank() > rb.rank() || (ra.rank() == rb.rank() && !Self::is_inv(&va));
        // A fixed point of a space is a value of that space, not a factor
        // that may vary freely.
        let plain = |v: &AVal| matches!(v, AVal::Inv(_));
        let (big, small, small_inv, small_e) = if a_big {
            (ra, rb, plain(&vb), b)
        } else {
            (rb, ra, plain(&va), a)
        };
        if big.rank() > small.rank() || small_inv {
            let Some((lead, trail)) = big.split_at(small.rank()) else {
                return Err(self.varies_error(small_e, at));
            };
            // A factor constant along the acted-on axes scales each channel
            // and commutes with any linear action there.
            if small_inv && lead.is_trivial() && big.rank() > small.rank() {
                return Ok(Self::sp_rep(big));
            }
            if small_inv && small.rank() == 0 {
                return Ok(Self::sp_rep(big));
            }
            if small_inv || !lead.same(&small) || !trail.fixes_ones() {
                return Err(self.varies_error(small_e, at));
            }
        }
        // Broadcast, the smaller operand is `small ⊗ 1`, a value of `big`.
        let other = if big.rank() > small.rank() {
            big.clone()
        } else {
            small
        };
        self.product_of(&big, &other, (a, b), div, at)
    }

    /// The product of two values of representations `x` and `y` (one
    /// shape, the smaller already broadcast).
    fn product_of(
        &mut self,
        x: &Rep,
        y: &Rep,
        (a, b): (ExprId, ExprId),
        div: bool,
        at: Span,
    ) -> R<AVal> {
        if x.same(y) && permutes(x) {
            return Ok(AVal::Sp(x.clone()));
        }
        let partial = |r: &Rep| {
            matches!(
                r.class().discrete,
                DiscreteClass::PartialPermutation | DiscreteClass::SignedPartialPermutation
            )
        };
        if let Some(h) = x.hadamard(y)
            && !(div && partial(y))
        {
            return Ok(Self::sp_rep(h));
        }
        if div {
            return Err(self.elementwise_error(a, b, div, at));
        }
        Ok(AVal::Prod(x.clone(), y.clone(), at))
    }

    fn varies_error(&mut self, factor: ExprId, at: Span) -> Stop {
        let g = self.claim.gname.clone();
        self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "`{}` varies along the axes {g} acts on, so the product does not commute with the action",
                    self.text(self.span(factor))
                ),
                at,
                "elementwise product with a non-invariant factor",
            )
            .with_label(self.span(factor), "this factor is not constant along the group's axes")
            .with_help("multiply by an invariant scalar, or by a per-channel `R[c]` value (it broadcasts over the axes the group acts on)"),
        )
    }

    fn elementwise_error(&mut self, a: ExprId, b: ExprId, div: bool, at: Span) -> Stop {
        let g = self.claim.gname.clone();
        self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "the elementwise {} of `{}` and `{}` does not commute with the action of {g}",
                    if div { "quotient" } else { "product" },
                    self.text(self.span(a)),
                    self.text(self.span(b)),
                ),
                at,
                "elementwise operations commute only with actions that permute coordinates (up to sign)",
            )
            .with_help("use `gate(x)` or `x * s` with an invariant `s` (such as a norm) instead"),
        )
    }

    // ------------------------------------------------------------ built-ins

    pub(super) fn builtin(&mut self, call: &BuiltinCall, span: Span) -> R<AVal> {
        let name = call.function.name;
        let pos = call
            .args
            .iter()
            .map(|a| self.expr(*a))
            .collect::<R<Vec<_>>>()?;
        let axis = call.named.and_then(|v| usize::try_from(v).ok());
        let Some(x) = pos.first().cloned() else {
            return Err(Stop::Silent);
        };
        let f = call.function;
        match f.id {
            Builtin::Sum | Builtin::Mean | Builtin::Max => self.reduce(f, &x, axis, span),
            Builtin::Softmax | Builtin::LogSoftmax => {
                self.no_prods(&pos)?;
                self.softmax(name, &x, span)
            }
            Builtin::Norm | Builtin::Gate => {
                self.no_prods(&pos)?;
                let declared = call.args.first().and_then(|a| self.declared_channels(*a));
                self.norm(f, &x, declared, span)
            }
            Builtin::Outer | Builtin::Concat => {
                self.no_prods(&pos)?;
                let y = pos.get(1).cloned().ok_or(Stop::Silent)?;
                let sizes = [0, 1].map(|i| call.args.get(i).and_then(|&e| self.vector_len(e)));
                self.outer(f, &x, &y, sizes, span)
            }
            // A pointwise map applied to one argument.
            Builtin::Relu
            | Builtin::Tanh
            | Builtin::Sigmoid
            | Builtin::Exp
            | Builtin::Log
            | Builtin::Softplus
            | Builtin::Gelu
            | Builtin::Abs
            | Builtin::Sqrt => self.pointwise(f, x, span),
            // `chunks` has no proof rule: a claim through it is not proved.
            Builtin::Chunks => Err(Stop::Silent),
        }
    }

    fn reduce(&mut self, f: &Function, x: &AVal, axis: Option<usize>, span: Span) -> R<AVal> {
        let (name, max) = (f.name, f.id == Builtin::Max);
        let g = self.claim.gname.clone();
        let r = match x {
            AVal::Inv(r) => {
                return Ok(AVal::Inv(if axis.is_some() {
                    r.saturating_sub(1)
                } else {
                    0
                }));
            }
            AVal::Fixed(s) => {
                let r = s.shape().len();
                return Ok(AVal::Inv(if axis.is_some() {
                    r.saturating_sub(1)
                } else {
                    0
                }));
            }
            AVal::Prod(p, q, at) => return self.contract_product(f, p, q, *at, axis, span),
            AVal::Sp(r) => r.clone(),
            _ => return Err(Stop::Silent),
        };
        let why = match axis {
            None if permutes(&r) => return Ok(AVal::Inv(0)),
            None => format!("{g} does not just permute coordinates, so pooling does not remove it"),
            Some(k) => {
                let i = r.factor_of_axis(k).ok_or(Stop::Silent)?;
                let f = &r.facs[i];
                let rest = r.without(i);
                let along = f.rank() == 1
                    && permutes(&Rep {
                        facs: vec![f.clone()],
                    });
                let others = !max || permutes(&rest);
                if along && others {
                    return Ok(Self::sp_rep(rest));
                }
                if f.rank() != 1 {
                    format!("axis {k} is acted on together with other axes")
                } else if !along {
                    format!("{g} does not just permute the entries along axis {k}")
                } else {
                    format!("`max` commutes only with permutations, and {g} mixes the other axes")
                }
            }
        };
        Err(self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "`{name}` of this value is not {} under {g}",
                    if axis.is_none() { "invariant" } else { "equivariant" }
                ),
                span,
                why,
            )
                .with_help("pool with an equivariant parameter into a space on which the group acts trivially (`param W: equivariant B -> R[c] under G by trivial`), or take `norm(x)` for orthogonal actions"),
        ))
    }

    /// `sum(a * b)` (or `mean`), optionally along one axis: invariant along
    /// axes where `a` and `b` carry one orthogonal representation.
    fn contract_product(
        &mut self,
        f: &Function,
        p: &Rep,
        q: &Rep,
        at: Span,
        axis: Option<usize>,
        span: Span,
    ) -> R<AVal> {
        let (name, max) = (f.name, f.id == Builtin::Max);
        let aligned =
            p.facs.len() == q.facs.len() && p.facs.iter().zip(&q.facs).all(|(x, y)| x.same(y));
        let orthogonal = p.class().orthogonal;
        if !max && aligned && orthogonal {
            match axis {
                None => return Ok(AVal::Inv(0)),
                Some(k) => {
                    let i = p.factor_of_axis(k).ok_or(Stop::Silent)?;
                    let rest = p.without(i);
                    if p.facs[i].rank() == 1 && (rest.is_trivial() || permutes(&rest)) {
                        return Ok(Self::sp_rep(rest));
                    }
                }
            }
        }
        let g = self.claim.gname.clone();
        Err(self.fail(
            Diagnostic::error(
                "E0502",
                format!("`{name}` of this elementwise product is not invariant under {g}"),
                span,
                if max {
                    "only a sum of a product is a contraction".to_string()
                } else if !aligned {
                    "the two factors transform differently".to_string()
                } else if !orthogonal {
                    format!("{g} does not act orthogonally, so the sum of the product is not preserved")
                } else {
                    "the summed axis is acted on together with the axes that remain".to_string()
                },
            )
            .with_label(at, "the product")
            .with_help("sum a product of two values of one orthogonal representation over all its acted-on axes (a dot product)"),
        ))
    }

    fn softmax(&mut self, name: &str, x: &AVal, span: Span) -> R<AVal> {
        let r = match x {
            AVal::Inv(r) => return Ok(AVal::Inv(*r)),
            AVal::Fixed(s) => return Ok(AVal::Inv(s.shape().len())),
            AVal::Sp(r) => r.clone(),
            _ => return Err(Stop::Silent),
        };
        if permutes(&r) && r.rank() == 1 {
            return Ok(AVal::Sp(r));
        }
        Err(self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "`{name}` does not commute with the action of {}",
                    self.claim.gname
                ),
                span,
                "softmax commutes only with permutations of a vector's entries",
            )
            .with_help("apply it to invariant values, after pooling"),
        ))
    }

    /// `norm(x)` and `gate(x)`: the checker keeps the leading channel axes
    /// of a declared space, or the first axis of any other value of rank
    /// 2 or more; every such choice must leave only orthogonal factors to
    /// be normed.
    /// The leading channel axes of the declared space of `e`, when `e`
    /// names an argument of the definition being proved (not shadowed):
    /// then the checker's `norm` keeps exactly those axes.
    fn declared_channels(&mut self, e: ExprId) -> Option<usize> {
        let Expr::Local(l) = &self.body.exprs[e] else {
            return None;
        };
        let BodyKind::Block { args, .. } = &self.body.kind else {
            return None;
        };
        let i = args.iter().position(|a| a == l)?;
        let info = self.env.checked.defs.get(&self.item)?;
        let ty = match (&info.dom, args.len()) {
            (Ty::Tuple(ts), k) if k != 1 => ts.get(i)?.clone(),
            (t, _) => t.clone(),
        };
        let Ty::Tensor(_, Some(sid)) = ty else {
            return None;
        };
        let space = self.env.space_tag(sid)?;
        Some(leading_channels(&space))
    }

    fn norm(&mut self, f: &Function, x: &AVal, declared: Option<usize>, span: Span) -> R<AVal> {
        let (name, norm) = (f.name, f.id == Builtin::Norm);
        let r = match x {
            AVal::Inv(r) => {
                return Ok(AVal::Inv(if norm { usize::from(*r >= 2) } else { *r }));
            }
            AVal::Fixed(s) => {
                let r = s.shape().len();
                return Ok(AVal::Inv(if norm { leading_channels(s) } else { r }));
            }
            AVal::Sp(r) => r.clone(),
            _ => return Err(Stop::Silent),
        };
        let lead = r
            .facs
            .iter()
            .take_while(|f| matches!(f, Fac::Chan(_)))
            .count();
        let keeps = match declared {
            Some(k) => vec![k],
            None => vec![lead, usize::from(r.rank() >= 2)],
        };
        let ok = keeps.iter().all(|&k| {
            r.split_at(k)
                .is_some_and(|(kept, normed)| kept.is_trivial() && normed.class().orthogonal)
        });
        if ok {
            return Ok(if norm {
                AVal::Inv(keeps[0])
            } else {
                AVal::Sp(r)
            });
        }
        let c = r.class();
        Err(self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "`{name}` is not {} under {}: its action is not orthogonal on the normed axes",
                    if norm { "invariant" } else { "equivariant" },
                    self.claim.gname
                ),
                span,
                "the Euclidean norm is preserved only by orthogonal actions, over axes that the norm covers",
            )
            .with_help(if c.discrete <= DiscreteClass::PartialPermutation && c.lie_zero {
                "for this action a pointwise function works: use `relu(x)` instead".to_string()
            } else {
                "use an equivariant parameter to an invariant space instead".to_string()
            }),
        ))
    }

    /// The length of a vector expression when the checker knows it as a
    /// number (a concatenated invariant part becomes a trivial block of
    /// that size).
    fn vector_len(&self, e: ExprId) -> Option<usize> {
        match self.body.shape(e)?.as_slice() {
            [n] => usize::try_from(n.as_constant()?).ok(),
            _ => None,
        }
    }

    /// `outer(x, y)` or `concat(x, y)`; `sizes` are the arguments' lengths
    /// when they are vectors of a known size.
    fn outer(
        &mut self,
        f: &Function,
        x: &AVal,
        y: &AVal,
        sizes: [Option<usize>; 2],
        span: Span,
    ) -> R<AVal> {
        let outer = f.id == Builtin::Outer;
        if Self::is_inv(x) && Self::is_inv(y) {
            return Ok(AVal::Inv(if outer { 2 } else { 1 }));
        }
        // An invariant vector of known length in a direct sum is a block on
        // which the group acts trivially: `(ρ(g) x, c) = (ρ(g) ⊕ I)(x, c)`.
        let part = |v: &AVal, n: Option<usize>| match (v, n) {
            (AVal::Inv(1), Some(n)) if !outer => Some(Rep::channels_sized(&[n])),
            _ => Self::rep_in_space(v),
        };
        let (Some(rx), Some(ry)) = (part(x, sizes[0]), part(y, sizes[1])) else {
            return Err(Stop::Silent);
        };
        if outer {
            return Ok(Self::sp_rep(rx.then(&ry)));
        }
        if let (Some(s), Some(t)) = (rx.flat(), ry.flat())
            && let Ok(c) = s.direct_sum(&t)
        {
            return Ok(Self::sp_val(c));
        }
        Err(self.fail(
            Diagnostic::error(
                "E0503",
                format!("`concat` of these values mixes how they transform under {}", self.claim.gname),
                span,
                "the direct sum needs both parts as spaces of one group",
            )
            .with_help("concatenate vectors: values of spaces under one group, or a plain vector of a known length (a block the group leaves alone)"),
        ))
    }

    // ------------------------------------------------------------ pointwise

    /// `f(x)` for a pointwise `f`.
    pub(super) fn pointwise(&mut self, f: &Function, x: AVal, span: Span) -> R<AVal> {
        let s = match x {
            AVal::Inv(r) => return Ok(AVal::Inv(r)),
            AVal::Fixed(s) => return Ok(AVal::Inv(s.shape().len())),
            AVal::Sp(s) => s,
            AVal::Prod(_, _, at) => return Err(self.prod_error(at)),
            _ => return Err(Stop::Silent),
        };
        let c = s.class();
        let odd = f.id == Builtin::Tanh;
        let keeps_zero = fixes_zero(f.id);
        let ok = c.lie_zero
            && match c.discrete {
                DiscreteClass::Permutation => true,
                DiscreteClass::SignedPermutation => odd,
                DiscreteClass::PartialPermutation => keeps_zero,
                DiscreteClass::SignedPartialPermutation => odd && keeps_zero,
                DiscreteClass::General => false,
            };
        if ok {
            return Ok(AVal::Sp(s));
        }
        let (why, help) = if !c.lie_zero || c.discrete == DiscreteClass::General {
            (
                format!(
                    "{} acts by mixing coordinates, which no pointwise function commutes with",
                    self.claim.gname
                ),
                if c.orthogonal {
                    "use `gate(x)` (x scaled by a sigmoid of its norm), which is equivariant for orthogonal actions".to_string()
                } else {
                    "apply the nonlinearity to invariant values only (for example to `norm(x)`)"
                        .to_string()
                },
            )
        } else {
            match c.discrete {
                DiscreteClass::SignedPermutation => (
                    format!(
                        "{} flips signs, so only odd functions commute with it",
                        self.claim.gname
                    ),
                    "use an odd function such as `tanh`, or `gate(x)`".to_string(),
                ),
                DiscreteClass::PartialPermutation => (
                    format!(
                        "{} sets coordinates to 0, so only functions with f(0) = 0 commute with it",
                        self.claim.gname
                    ),
                    "use a function with f(0) = 0, such as `relu` or `tanh`".to_string(),
                ),
                _ => (
                    format!("{} flips signs and sets coordinates to 0", self.claim.gname),
                    "use an odd function with f(0) = 0, such as `tanh`".to_string(),
                ),
            }
        };
        Err(self.fail(
            Diagnostic::error(
                "E0502",
                format!(
                    "`{}` does not commute with the action of {}",
                    f.name, self.claim.gname
                ),
                span,
                why,
            )
            .with_help(help),
        ))
    }
}

/// Whether a built-in maps 0 to 0 entry by entry (so that it commutes with
/// actions that send coordinates to zero). An entry not named here is
/// taken not to, which can only refuse a proof, never admit a false one.
fn fixes_zero(id: Builtin) -> bool {
    matches!(
        id,
        Builtin::Relu | Builtin::Tanh | Builtin::Gelu | Builtin::Abs | Builtin::Sqrt
    )
}
