//! Static proofs of `equivariant G` and `invariant G` claims (§5.4).
//!
//! The body of a claimed layer or model is walked once, tracking for every
//! value how it transforms when the input is transformed by `g`:
//!
//! - `Inv`: it does not change (constants, plain parameters, values
//!   computed from invariant values only: "any layer applied to invariant
//!   values gives invariant values");
//! - `Sp(B)`: it becomes `ρ_B(g) v` for a space `B` on which the group acts
//!   non-trivially;
//! - `Fixed(B)`: both — an invariant parameter of `B`, `ρ_B(g) b = b`.
//!
//! The rules: `W @ x` with `W: equivariant A -> B` and `x: A` is in `B`
//! (`ρ_B(g) W x = W ρ_A(g) x`), a plain `W` applied to a value in a space
//! fails at the `@` (E0501); `x + y` needs one space, and a value that is
//! not a fixed point of it fails (E0504); a pointwise `f` commutes with
//! `ρ(g)` when every generator permutes coordinates, with signed
//! permutations when `f` is odd, with partial permutations when `f(0) = 0`
//! (E0502 otherwise); `norm` gives an invariant per channel and `gate`
//! keeps the space for orthogonal actions; calls use the callee's claim;
//! a fold is proved by proving its algebra's cases. The first expression
//! that breaks the claim is reported, with the claim as a secondary label.
//!
//! The proofs read the checked program's HIR: bodies with every name
//! resolved, the claims with their groups, and the status of each item (an
//! item that failed to check is neither proved nor followed into, so a
//! mistake is reported once).

mod axes;

use super::rep::Rep;
use super::{Env, ParamSpaces};
use crate::builtins::Function;
use crate::check::types::Ty;
use crate::diagnostics::Diagnostic;
use crate::hir::{self, Body, BodyKind, Expr, ExprId, LocalId, Pattern, Stmt, UnfoldSource};
use crate::resolve::ItemId;
use cdlc_equivariance::{Axis, Group, Space};
use cdlc_grammar::Span;
use std::collections::HashMap;
use std::rc::Rc;

/// How a value transforms with the input.
#[derive(Clone, Debug)]
enum AVal {
    /// Unchanged; the value's rank.
    Inv(usize),
    /// Transformed by a representation with a non-trivial action, factor
    /// by factor along the axes.
    Sp(Rep),
    /// A fixed point of a space with a non-trivial action.
    Fixed(Rc<Space>),
    /// An equivariant parameter `A -> B`.
    Map(Rc<Space>, Rc<Space>),
    /// Elementwise products `a ⊙ b` of a value of the first
    /// representation and one of the second, where the action is not
    /// monomial: not a representation, followed only into a contraction
    /// (`sum`). The span is the product's, for the error if it goes
    /// anywhere else.
    Prod(Rep, Rep, Span),
    /// A product.
    Tuple(Vec<AVal>),
    /// A data type whose functor arguments transform like these.
    Data(Vec<AVal>),
    /// A morphism.
    Morph(Rc<MorphV>),
    /// Not followed (a type the rules do not cover).
    Unknown,
}

/// A morphism value: what `apply` does with it.
#[derive(Debug)]
enum MorphV {
    Def(ItemId),
    Pointwise(&'static Function),
    Compose(Rc<MorphV>, Rc<MorphV>),
    Id,
    Fold(ItemId),
}

/// Why a proof stopped: a diagnostic was pushed, the rules cannot follow
/// the value (an error reported elsewhere, or an unsupported type), or the
/// definitions the claim goes through nest deeper than the prover follows
/// (`MAX_DEPTH`; reported once at the claim as W0502).
enum Stop {
    Reported,
    Silent,
    TooDeep,
}

/// How many definitions deep the prover follows calls, folds and unfolds.
const MAX_DEPTH: usize = 32;

type R<T> = Result<T, Stop>;

/// The claim being proved.
struct Claim {
    group: Group,
    gname: String,
    invariant: bool,
    span: Span,
}

struct Prover<'e, 'a> {
    env: &'e mut Env<'a>,
    claim: Claim,
    /// The definition whose parameters are in scope.
    item: ItemId,
    /// The body being walked (the definition's, or a callee's).
    body: &'a Body,
    /// How each local of the body transforms.
    locals: HashMap<LocalId, AVal>,
    depth: usize,
    /// The calls of layers without a claim being proved through their
    /// bodies, outermost first.
    calls: Vec<Span>,
}

/// Proves every claim of the program.
pub(super) fn prove_claims(env: &mut Env<'_>) {
    let checked = env.checked;
    for id in env.program.item_ids() {
        let Some(c) = checked.defs.get(&id).and_then(|info| info.claim) else {
            continue;
        };
        let Some(body) = checked.hir.body(id).filter(|_| checked.hir.is_ok(id)) else {
            continue;
        };
        let BodyKind::Block { args, value } = &body.kind else {
            continue;
        };
        let Some(group) = env.group(c.group) else {
            continue;
        };
        let claim = Claim {
            group,
            gname: env.item_name(c.group),
            invariant: c.invariant,
            span: c.span,
        };
        let mut p = Prover {
            env,
            claim,
            item: id,
            body,
            locals: HashMap::new(),
            depth: 0,
            calls: Vec::new(),
        };
        // The outcome is in the diagnostics; a silent stop proves nothing
        // and reports nothing (the cause was reported elsewhere). A claim
        // whose definitions nest too deep is neither proved nor refuted,
        // and the user is told so.
        if let Err(Stop::TooDeep) = p.prove_def(id, args, *value) {
            env.diags.push(not_proved(&c, env.item_name(id)));
        }
    }
}

/// W0502: a claim the prover gave up on because the definitions it goes
/// through nest more than `MAX_DEPTH` deep.
fn not_proved(c: &crate::check::ClaimInfo, name: String) -> Diagnostic {
    Diagnostic::warning(
        "W0502",
        format!("the claim of `{name}` was not proved: the definitions it goes through nest more than {MAX_DEPTH} deep"),
        c.span,
        "neither proved nor refuted",
    )
    .with_note("the prover follows calls, folds and unfolds this many definitions deep")
    .with_help("check the claim numerically with `cdlc check --numeric`, or flatten the nesting")
}

impl<'a> Prover<'_, 'a> {
    fn prove_def(&mut self, id: ItemId, args: &[LocalId], value: ExprId) -> R<()> {
        let info = &self.env.checked.defs[&id];
        let (dom, cod) = (info.dom.clone(), info.cod.clone());
        let type_spans = info.arg_type_spans.clone();
        let arg_tys: Vec<Ty> = match (&dom, args.len()) {
            (Ty::Tuple(ts), n) if n != 1 => ts.clone(),
            (t, _) => vec![t.clone()],
        };
        for ((a, t), ty_span) in args.iter().zip(&arg_tys).zip(type_spans) {
            let v = self.aval_of_ty(t);
            if let AVal::Sp(s) = &v
                && s.group() != Some(&self.claim.group)
            {
                let under = s.group().map_or("no group".to_string(), |g| g.to_string());
                return Err(self.fail(
                        Diagnostic::error(
                            "E0503",
                            format!(
                                "argument `{}` is in a space under {under}, but the claim is about {}",
                                self.body.locals[*a].name, self.claim.group
                            ),
                            ty_span,
                            format!("a space under {under}"),
                        )
                        .with_help(format!(
                            "claim the group the inputs are under (`{} {under}`), or declare the input under {}",
                            self.claim_word(),
                            self.claim.gname
                        )),
                    ));
            }
            self.locals.insert(*a, v);
        }
        let result = self.expr(value)?;
        let expected = if self.claim.invariant {
            self.inv_of_ty(&cod)
        } else {
            self.aval_of_ty(&cod)
        };
        let at = match &self.body.exprs[value] {
            Expr::Block { result, .. } => self.span(*result),
            _ => self.span(value),
        };
        self.check_result(&result, &expected, at)
    }

    /// The source of an expression of the body being walked.
    fn span(&self, e: ExprId) -> Span {
        self.body.span(e)
    }

    /// Walks another body (a callee's, an algebra's) with `f`, then returns
    /// to the current one.
    fn within<T>(&mut self, item: ItemId, body: &'a Body, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = (std::mem::take(&mut self.locals), self.item, self.body);
        self.item = item;
        self.body = body;
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        (self.locals, self.item, self.body) = saved;
        r
    }

    fn claim_word(&self) -> &'static str {
        if self.claim.invariant {
            "invariant"
        } else {
            "equivariant"
        }
    }

    /// Adds the secondary label at the claim and records the diagnostic.
    fn fail(&mut self, d: Diagnostic) -> Stop {
        let text = format!(
            "`{} {}` is claimed here",
            self.claim_word(),
            self.claim.gname
        );
        let d = d.with_label(self.claim.span, text);
        let d = match self.calls.first() {
            Some(call) => d.with_label(*call, "the value reaches it through this call"),
            None => d,
        };
        self.env.diags.push(d);
        Stop::Reported
    }

    fn text(&self, span: Span) -> String {
        match self.env.sources {
            Some(s) => s
                .text(span.file)
                .get(span.range())
                .unwrap_or("this value")
                .to_string(),
            None => "this value".to_string(),
        }
    }

    // ------------------------------------------------------------ values of types

    fn sp_val(space: Space) -> AVal {
        Self::sp_rep(Rep::of_space(&space))
    }

    /// How a value of a declared type transforms.
    fn aval_of_ty(&mut self, t: &Ty) -> AVal {
        match t {
            Ty::Tensor(_, Some(sid)) => match self.env.space_tag(*sid) {
                Some(s) => Self::sp_val(s),
                None => AVal::Unknown,
            },
            Ty::Tensor(s, None) => AVal::Inv(s.len()),
            Ty::Tuple(ts) => AVal::Tuple(ts.iter().map(|t| self.aval_of_ty(t)).collect()),
            Ty::Data { args, .. } => AVal::Data(args.iter().map(|t| self.aval_of_ty(t)).collect()),
            _ => AVal::Unknown,
        }
    }

    /// An invariant value of a declared type.
    fn inv_of_ty(&self, t: &Ty) -> AVal {
        match t {
            Ty::Tensor(s, _) => AVal::Inv(s.len()),
            Ty::Tuple(ts) => AVal::Tuple(ts.iter().map(|t| self.inv_of_ty(t)).collect()),
            Ty::Data { args, .. } => AVal::Data(args.iter().map(|t| self.inv_of_ty(t)).collect()),
            _ => AVal::Unknown,
        }
    }

    fn is_inv(v: &AVal) -> bool {
        match v {
            AVal::Inv(_) | AVal::Fixed(_) => true,
            AVal::Tuple(vs) | AVal::Data(vs) => vs.iter().all(Self::is_inv),
            _ => false,
        }
    }

    /// The name of parameter `index` of the item whose body is walked.
    fn param_name(&self, index: usize) -> &'a str {
        let checked = self.env.checked;
        let params = match checked.defs.get(&self.item) {
            Some(info) => &info.params,
            None => &checked.algebras[&self.item].params,
        };
        &params[index].name
    }

    fn param_val(&self, index: usize) -> R<AVal> {
        let name = self.param_name(index);
        match self.env.params.get(&(self.item, name.to_string())) {
            Some(ParamSpaces::Plain(r)) => Ok(AVal::Inv(*r)),
            Some(ParamSpaces::Map(a, b)) => Ok(AVal::Map(Rc::new(a.clone()), Rc::new(b.clone()))),
            Some(ParamSpaces::Invariant(s)) => Ok(if s.is_trivial_action() {
                AVal::Inv(s.shape().len())
            } else {
                AVal::Fixed(Rc::new(s.clone()))
            }),
            Some(ParamSpaces::Broken) | None => Err(Stop::Silent),
        }
    }

    // ------------------------------------------------------------ expressions

    fn block(&mut self, stmts: &[Stmt], result: ExprId) -> R<AVal> {
        for s in stmts {
            match s {
                Stmt::Param(p) => {
                    let v = self.param_val(p.index)?;
                    self.locals.insert(p.local, v);
                }
                Stmt::Let(pat, e) => {
                    let v = self.expr(*e)?;
                    self.bind(pat, v);
                }
            }
        }
        self.expr(result)
    }

    fn bind(&mut self, pat: &Pattern, v: AVal) {
        match (pat, v) {
            (Pattern::Local(l), v) => {
                self.locals.insert(*l, v);
            }
            (Pattern::Tuple(ps), AVal::Tuple(vs)) if vs.len() == ps.len() => {
                for (p, v) in ps.iter().zip(vs) {
                    self.bind(p, v);
                }
            }
            (Pattern::Tuple(ps), _) => {
                for p in ps {
                    self.bind(p, AVal::Unknown);
                }
            }
        }
    }

    fn morph(m: MorphV) -> R<AVal> {
        Ok(AVal::Morph(Rc::new(m)))
    }

    fn expr(&mut self, e: ExprId) -> R<AVal> {
        let span = self.span(e);
        match &self.body.exprs[e] {
            Expr::Local(l) => Ok(self.locals.get(l).cloned().unwrap_or(AVal::Unknown)),
            Expr::Inst { item, .. } => Self::morph(MorphV::Def(*item)),
            Expr::Pointwise(f) => Self::morph(MorphV::Pointwise(f)),
            Expr::Number(_) => Ok(AVal::Inv(0)),
            Expr::Tuple(es) => Ok(AVal::Tuple(
                es.iter().map(|x| self.expr(*x)).collect::<R<_>>()?,
            )),
            Expr::Block { stmts, result } => self.block(stmts, *result),
            Expr::LetIn { pat, value, body } => {
                let val = self.expr(*value)?;
                self.bind(pat, val);
                self.expr(*body)
            }
            Expr::Apply { f, args } => self.apply(*f, args, span),
            Expr::Builtin(call) => self.builtin(call, span),
            Expr::Binary(hir::BinOp::MatMul, w, x) => self.matmul(*w, *x),
            Expr::Binary(hir::BinOp::Add | hir::BinOp::Sub, a, b) => self.add(*a, *b),
            Expr::Binary(hir::BinOp::Mul, a, b) => self.mul(*a, *b, false),
            Expr::Binary(hir::BinOp::Div, a, b) => self.mul(*a, *b, true),
            Expr::Compose(a, b) => {
                let (ma, mb) = (self.expr(*a)?, self.expr(*b)?);
                match (ma, mb) {
                    (AVal::Morph(f), AVal::Morph(g)) => Self::morph(MorphV::Compose(f, g)),
                    _ => Err(Stop::Silent),
                }
            }
            Expr::Neg(a) => self.expr(*a),
            Expr::Transpose(a) => self.transpose(*a, span),
            Expr::Id => Self::morph(MorphV::Id),
            Expr::Fold { alg, .. } | Expr::Hylo { alg, .. } => Self::morph(MorphV::Fold(*alg)),
            Expr::Unfold {
                coalg,
                from,
                source,
                ..
            } => {
                let s = self.expr(*from)?;
                match source {
                    UnfoldSource::Over(xs) => {
                        let xs = self.expr(*xs)?;
                        self.unfold(*coalg, &[s, xs], span)
                    }
                    UnfoldSource::Take(_) => self.unfold(*coalg, &[s], span),
                }
            }
            Expr::Error => Err(Stop::Silent),
        }
    }

    /// `unfold c from s over xs` (or `take k`): proved like a fold, through
    /// the coalgebra's one case. The state binder gets the initial state's
    /// transformation, the input binder the list elements'; the case must
    /// give the next state the same transformation (so that every step
    /// sees the same), and its output's transformation is the elements' of
    /// the resulting list.
    fn unfold(&mut self, coalg: ItemId, inputs: &[AVal], span: Span) -> R<AVal> {
        if inputs.iter().all(Self::is_inv) {
            return Ok(AVal::Data(vec![AVal::Inv(0)]));
        }
        if let Some(out) = self.unfold_case(coalg, inputs)? {
            return Ok(AVal::Data(vec![out]));
        }
        Err(self.fail(
            Diagnostic::error(
                "E0501",
                format!(
                    "`unfold` over values on which {} acts is not proved {}",
                    self.claim.gname,
                    self.claim_word()
                ),
                span,
                "the coalgebra's state and input transform with the action",
            )
            .with_help("apply the unfold to invariant values (for example after `norm`), or move it out of the claimed layer"),
        ))
    }

    /// The output transformation of a coalgebra's case, if the case proves
    /// the step equivariant; `None` when its shape is not one this rule
    /// covers.
    fn unfold_case(&mut self, coalg: ItemId, inputs: &[AVal]) -> R<Option<AVal>> {
        // An error already reported inside the coalgebra is not repeated
        // as a failed proof.
        let checked: &'a crate::check::Checked = self.env.checked;
        let Some(body) = checked.hir.body(coalg).filter(|_| checked.hir.is_ok(coalg)) else {
            return Err(Stop::Silent);
        };
        let BodyKind::Cases { params, cases } = &body.kind else {
            return Err(Stop::Silent);
        };
        let [case] = cases.as_slice() else {
            return Ok(None);
        };
        let state = inputs[0].clone();
        let element = match inputs.get(1) {
            None => None,
            Some(AVal::Data(elems)) if elems.len() == 1 => Some(elems[0].clone()),
            Some(_) => return Ok(None),
        };
        if case.binders.len() != 1 + usize::from(element.is_some()) || self.depth > MAX_DEPTH {
            return Ok(None);
        }
        self.within(coalg, body, |p| p.unfold_step(params, case, state, element))
    }

    /// The coalgebra's case with the state and element's transformations
    /// (inside the coalgebra's body).
    fn unfold_step(
        &mut self,
        params: &[hir::ParamDecl],
        case: &hir::Case,
        mut state: AVal,
        element: Option<AVal>,
    ) -> R<Option<AVal>> {
        let mut outcome = Ok(None);
        for p in params {
            match self.param_val(p.index) {
                Ok(v) => {
                    self.locals.insert(p.local, v);
                }
                Err(e) => outcome = Err(e),
            }
        }
        // An invariant initial state is a fixed point of the state's space: if
        // a step makes the state transform, the proof is run again with the
        // state in that space, and must then close.
        for round in 0..2 {
            if outcome.is_err() {
                break;
            }
            self.locals.insert(case.binders[0], state.clone());
            if let Some(x) = element.clone() {
                self.locals.insert(case.binders[1], x);
            }
            outcome = self.expr(case.value).and_then(|r| match r {
                AVal::Tuple(parts) if parts.len() == 2 => {
                    if round == 0 && Self::is_inv(&state) && !Self::is_inv(&parts[1]) {
                        state = parts[1].clone();
                        return Ok(None);
                    }
                    self.check_result(&parts[1], &state, self.span(case.value))?;
                    Ok(Some(parts[0].clone()))
                }
                _ => Ok(None),
            });
            if matches!(outcome, Ok(Some(_))) {
                break;
            }
        }
        outcome
    }

    fn apply(&mut self, f: ExprId, args: &[ExprId], span: Span) -> R<AVal> {
        let vals = args.iter().map(|a| self.expr(*a)).collect::<R<Vec<_>>>()?;
        let arg = if vals.len() == 1 {
            vals.into_iter().next().expect("one argument")
        } else {
            AVal::Tuple(vals)
        };
        match self.expr(f)? {
            AVal::Morph(m) => self.apply_morph(&m, arg, span),
            _ => Err(Stop::Silent),
        }
    }

    fn apply_morph(&mut self, m: &MorphV, arg: AVal, span: Span) -> R<AVal> {
        match m {
            MorphV::Pointwise(f) => self.pointwise(f, arg, span),
            MorphV::Id => Ok(arg),
            MorphV::Compose(f, g) => {
                let y = self.apply_morph(f, arg, span)?;
                self.apply_morph(g, y, span)
            }
            MorphV::Def(id) => self.call(*id, arg, span),
            MorphV::Fold(id) => self.fold(*id, arg, span),
        }
    }

    // The rules for tensor operations are in `proof/axes.rs`.

    /// A call of a layer or model.
    fn call(&mut self, id: ItemId, arg: AVal, span: Span) -> R<AVal> {
        let checked = self.env.checked;
        let Some(info) = checked.defs.get(&id) else {
            return Err(Stop::Silent);
        };
        if Self::is_inv(&arg) {
            return Ok(self.inv_of_ty(&info.cod));
        }
        let Some(body) = checked.hir.body(id) else {
            return Err(Stop::Silent);
        };
        match (&body.kind, info.claim) {
            (BodyKind::PointFree(e), _) => {
                if self.depth > MAX_DEPTH {
                    return Err(Stop::TooDeep);
                }
                // The definition's own item stays in scope: a point-free
                // body declares no parameters.
                let item = self.item;
                self.within(item, body, |p| match p.expr(*e) {
                    Ok(AVal::Morph(m)) => p.apply_morph(&m, arg, span),
                    Ok(_) => Err(Stop::Silent),
                    Err(s) => Err(s),
                })
            }
            (BodyKind::Block { args, value }, None) => self.inline(id, args, *value, arg, span),
            (BodyKind::Block { .. }, Some(c)) => self.claimed_call(info, c, &arg, span),
            (BodyKind::Cases { .. }, _) => Err(Stop::Silent),
        }
    }

    /// A call of a layer with a claim: its declared spaces, by the claim.
    fn claimed_call(
        &mut self,
        info: &crate::check::DefInfo,
        c: crate::check::ClaimInfo,
        arg: &AVal,
        span: Span,
    ) -> R<AVal> {
        let Some(g) = self.env.group(c.group) else {
            return Err(Stop::Silent);
        };
        let name = &info.name;
        if g != self.claim.group {
            let declared = self.env.item_name(c.group);
            return Err(self.fail(
                Diagnostic::error(
                    "E0503",
                    format!(
                        "`{name}` is declared for {declared}, not for {}",
                        self.claim.gname
                    ),
                    span,
                    format!("a layer under {g}"),
                )
                .with_help(format!(
                    "call layers claimed under {} only",
                    self.claim.gname
                )),
            ));
        }
        let expected = self.aval_of_ty(&info.dom);
        if !matches_val(arg, &expected) {
            return Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    format!("`{name}` is equivariant on its declared input space, but this argument transforms differently"),
                    span,
                    "the argument is not in the space the layer is declared on",
                )
                .with_help(format!("pass `{name}` a value of its declared input space")),
            ));
        }
        Ok(if c.invariant {
            self.inv_of_ty(&info.cod)
        } else {
            self.aval_of_ty(&info.cod)
        })
    }

    /// A call of a layer without a claim, applied to transforming values:
    /// its body is proved with the arguments' transformations (a layer of
    /// the standard library is generic and cannot name a group itself).
    fn inline(
        &mut self,
        id: ItemId,
        args: &[LocalId],
        value: ExprId,
        arg: AVal,
        span: Span,
    ) -> R<AVal> {
        let checked: &'a crate::check::Checked = self.env.checked;
        let hir = &checked.hir;
        if !hir.is_ok(id) {
            return Err(Stop::Silent);
        }
        if self.depth > MAX_DEPTH {
            return Err(Stop::TooDeep);
        }
        let Some(body) = hir.body(id) else {
            return Err(Stop::Silent);
        };
        let vals = match (arg, args.len()) {
            (v, 1) => vec![v],
            (AVal::Tuple(vs), n) if vs.len() == n => vs,
            _ => return Err(Stop::Silent),
        };
        self.calls.push(span);
        let r = self.within(id, body, |p| {
            for (a, v) in args.iter().zip(vals) {
                p.locals.insert(*a, v);
            }
            p.expr(value)
        });
        self.calls.pop();
        r
    }

    /// `fold alg (xs)` (and `hylo alg by halves (xs)`): proved by proving
    /// each case of the algebra with its fields' transformations.
    fn fold(&mut self, id: ItemId, arg: AVal, _span: Span) -> R<AVal> {
        let checked = self.env.checked;
        let Some(info) = checked.algebras.get(&id) else {
            return Err(Stop::Silent);
        };
        if Self::is_inv(&arg) {
            return Ok(self.inv_of_ty(&info.carrier));
        }
        let (AVal::Data(elems), Some(functor)) = (arg, info.functor) else {
            return Err(Stop::Silent);
        };
        let Some(body) = checked.hir.body(id).filter(|_| checked.hir.is_ok(id)) else {
            return Err(Stop::Silent);
        };
        let BodyKind::Cases { params, cases } = &body.kind else {
            return Err(Stop::Silent);
        };
        if self.depth > MAX_DEPTH {
            return Err(Stop::TooDeep);
        }
        let carrier = self.aval_of_ty(&info.carrier);
        let ctors = &checked.functors[functor.0 as usize].ctors;
        let outcome = self.within(id, body, |p| {
            for q in params {
                let v = p.param_val(q.index)?;
                p.locals.insert(q.local, v);
            }
            for case in cases {
                let ctor = &ctors[case.ctor];
                for (b, field) in case.binders.iter().zip(&ctor.fields) {
                    let v = match field {
                        Ty::Param(i) => elems.get(*i as usize).cloned().unwrap_or(AVal::Unknown),
                        Ty::X => carrier.clone(),
                        t => p.aval_of_ty(t),
                    };
                    p.locals.insert(*b, v);
                }
                let r = p.expr(case.value)?;
                p.check_result(&r, &carrier, p.span(case.value))?;
            }
            Ok(())
        });
        outcome.map(|()| carrier)
    }

    /// The declared output must transform as the body's result does.
    fn check_result(&mut self, result: &AVal, expected: &AVal, span: Span) -> R<()> {
        match (result, expected) {
            (AVal::Prod(_, _, at), _) => Err(self.prod_error(*at)),
            (AVal::Tuple(rs), AVal::Tuple(es)) | (AVal::Data(rs), AVal::Data(es))
                if rs.len() == es.len() =>
            {
                for (r, e) in rs.iter().zip(es) {
                    self.check_result(r, e, span)?;
                }
                Ok(())
            }
            (r, e) if matches_val(r, e) => Ok(()),
            (AVal::Sp(_), AVal::Inv(_)) => Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    format!(
                        "the result transforms under {}, but the output is declared invariant",
                        self.claim.gname
                    ),
                    span,
                    "this value still carries the action",
                )
                .with_help("pool it to an invariant first: an equivariant parameter into a space on which the group acts trivially, `sum(x)` for permutations, or `norm(x)` for orthogonal actions"),
            )),
            (AVal::Inv(_), AVal::Sp(_)) => Err(self.fail(
                Diagnostic::error(
                    "E0504",
                    format!(
                        "the result does not transform with {}, but the output is declared in a space on which it acts",
                        self.claim.gname
                    ),
                    span,
                    "this value is not computed equivariantly from the input",
                )
                .with_help("compute the result from the input with equivariant parameters; a plain parameter or constant does not transform"),
            )),
            (AVal::Sp(_) | AVal::Fixed(_), AVal::Sp(_)) => Err(self.fail(
                Diagnostic::error(
                    "E0501",
                    "the result is in another space than the declared output".to_string(),
                    span,
                    "this value transforms differently from the declared output",
                )
                .with_help("map it to the declared output space with an equivariant parameter, or declare the output as its space"),
            )),
            _ => Err(Stop::Silent),
        }
    }
}

/// Whether a value transforms as the declared `expected` one.
fn matches_val(v: &AVal, expected: &AVal) -> bool {
    match (v, expected) {
        (AVal::Unknown, _) | (_, AVal::Unknown) => true,
        (AVal::Inv(_) | AVal::Fixed(_), AVal::Inv(_)) => true,
        (AVal::Sp(s), AVal::Sp(t)) => s.same(t),
        (AVal::Fixed(s), AVal::Sp(t)) => Rep::of_space(s).same(t),
        (AVal::Tuple(a), AVal::Tuple(b)) | (AVal::Data(a), AVal::Data(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches_val(x, y))
        }
        _ => false,
    }
}

/// The number of leading channel axes of a space (`R[c] * S`).
fn leading_channels(s: &Space) -> usize {
    s.axes().iter().take_while(|a| **a == Axis::Channel).count()
}
