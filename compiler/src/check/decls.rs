//! Declarations that are not definitions: constants, sizes, types,
//! functors, data types, groups and spaces.

use super::size::Poly;
use super::types::{FunctorId, Shape, SpaceId, Ty};
use super::{Checker, CtorInfo, DataInfo, SpaceVal, State, TypeEnv};
use crate::diagnostics::Diagnostic;
use crate::resolve::ItemId;
use cdlc_grammar::Span;
use cdlc_grammar::ast::{self, ItemKind, SizeKind, SpaceKind, TypeKind};

/// Built-in groups and monoids: name, number of size arguments.
pub(super) const GROUPS: &[(&str, usize)] = &[
    ("trivial", 0),
    ("cyclic", 1),
    ("dihedral", 1),
    ("symmetric", 1),
    ("p4", 1),
    ("p4m", 1),
    ("SO", 1),
    ("O", 1),
    ("lorentz", 0),
    ("product", 2),
    ("perms", 1),
    ("matrices", 1),
    ("shifts", 1),
];

impl Checker<'_, '_> {
    // ------------------------------------------------------------ sizes

    /// The value of a `const`, evaluating it (and what it uses) on demand.
    pub(super) fn const_value(&mut self, id: ItemId) -> Option<i64> {
        let ItemKind::Const(c) = &self.program.item(id).kind else {
            return None;
        };
        match self.const_state.get(&id) {
            Some(State::Done) => return self.out.consts.get(&c.name.node).copied(),
            Some(State::InProgress) => {
                self.error_in(
                    id,
                    Diagnostic::error(
                        "E0203",
                        format!("`{}` is defined in terms of itself", c.name.node),
                        c.value.span,
                        "this value needs the constant being defined",
                    )
                    .with_label(c.name.span, "the constant")
                    .with_help("give the constant a value that does not use it"),
                );
                return None;
            }
            None => {}
        }
        self.const_state.insert(id, State::InProgress);
        let p = self.within(id, |s| s.size(&c.value, &TypeEnv::default()));
        self.const_state.insert(id, State::Done);
        let v = p.and_then(|p| p.as_constant());
        if let Some(v) = v {
            if v < 0 {
                self.error_in(
                    id,
                    Diagnostic::error(
                        "E0304",
                        format!("size is not a natural number: `{}` is {v}", c.name.node),
                        c.value.span,
                        format!("this is {v}"),
                    )
                    .with_help("sizes are natural numbers; make the subtraction smaller"),
                );
                return None;
            }
            self.out.consts.insert(c.name.node.clone(), v);
        }
        v
    }

    /// `p`, or E0702 at `span` when its arithmetic overflowed.
    fn no_overflow(&mut self, p: Poly, span: Span) -> Option<Poly> {
        if p.overflowed() {
            return self.size_overflow(span, "its value is beyond 2^63 - 1");
        }
        Some(p)
    }

    /// E0702: a size too large to compute with.
    pub(super) fn size_overflow(&mut self, span: Span, why: &str) -> Option<Poly> {
        self.error(
            Diagnostic::error(
                "E0702",
                format!("size arithmetic overflows: {why}"),
                span,
                "this size is too large",
            )
            .with_help("sizes must stay below 2^63; no tensor of this size could be allocated"),
        );
        None
    }

    /// A size expression as a polynomial over the size parameters in `env`.
    pub(super) fn size(&mut self, s: &ast::Size, env: &TypeEnv) -> Option<Poly> {
        match &s.kind {
            SizeKind::Nat(n) => match i64::try_from(*n) {
                Ok(v) => Some(Poly::constant(v)),
                Err(_) => self.size_overflow(s.span, &format!("{n} is beyond 2^63 - 1")),
            },
            SizeKind::Name(name) => {
                if let Some((_, v)) = env.sizes.iter().rev().find(|(n, _)| n == name) {
                    return Some(Poly::var(*v));
                }
                match self.program.lookup(name) {
                    Some(id) if matches!(self.program.item(id).kind, ItemKind::Const(_)) => {
                        self.const_value(id).map(Poly::constant)
                    }
                    _ => {
                        let mut candidates =
                            self.globals_where(|k| matches!(k, ItemKind::Const(_)));
                        candidates.extend(env.sizes.iter().map(|(n, _)| n.clone()));
                        let ident = cdlc_grammar::Spanned::new(name.clone(), s.span);
                        self.unknown(&ident, "size", candidates);
                        None
                    }
                }
            }
            SizeKind::Add(a, b) => {
                let r = self.size(a, env)?.add(&self.size(b, env)?);
                self.no_overflow(r, s.span)
            }
            SizeKind::Sub(a, b) => {
                let r = self.size(a, env)?.sub(&self.size(b, env)?);
                let r = self.no_overflow(r, s.span)?;
                if let Some(v) = r.as_constant().filter(|v| *v < 0) {
                    self.error(
                        Diagnostic::error(
                            "E0304",
                            format!("size is not a natural number: this is {v}"),
                            s.span,
                            "negative size",
                        )
                        .with_help("sizes are natural numbers"),
                    );
                    return None;
                }
                Some(r)
            }
            SizeKind::Mul(a, b) => {
                let r = self.size(a, env)?.mul(&self.size(b, env)?);
                self.no_overflow(r, s.span)
            }
            SizeKind::Div(a, b) => {
                let (pa, pb) = (self.size(a, env)?, self.size(b, env)?);
                if pb.as_constant() == Some(0) {
                    self.error(Diagnostic::error(
                        "E0304",
                        "division of a size by zero",
                        b.span,
                        "this is 0",
                    ));
                    return None;
                }
                match pa.div_exact(&pb) {
                    Some(q) => Some(q),
                    None => {
                        let names = |v: super::size::Var| self.out.var_names[v.0 as usize].clone();
                        let (sa, sb) = (
                            pa.display(&names).to_string(),
                            pb.display(&names).to_string(),
                        );
                        self.error(
                            Diagnostic::error(
                                "E0304",
                                format!("size is not a natural number: `{sa}` is not provably divisible by `{sb}`"),
                                s.span,
                                "inexact division",
                            )
                            .with_help("sizes are natural numbers; divide only where the division is exact"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// A list of sizes; `None` if any is wrong (already reported).
    pub(super) fn sizes(&mut self, sizes: &[ast::Size], env: &TypeEnv) -> Option<Shape> {
        let mut out = Vec::new();
        let mut ok = true;
        for s in sizes {
            match self.size(s, env) {
                Some(p) => out.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    // ------------------------------------------------------------ types

    /// Resolves a written type.
    pub(super) fn ty(&mut self, t: &ast::Type, env: &TypeEnv) -> Ty {
        match &t.kind {
            TypeKind::Real => Ty::real(),
            TypeKind::Tensor(dims) => match self.sizes(dims, env) {
                Some(s) => Ty::tensor(s),
                None => Ty::Error,
            },
            TypeKind::Unit => Ty::Unit,
            TypeKind::Product(ts) => Ty::Tuple(ts.iter().map(|t| self.ty(t, env)).collect()),
            TypeKind::Arrow(a, b) => {
                if !env.in_functor {
                    self.error(
                        Diagnostic::error(
                            "E0303",
                            "function types are only allowed in functor constructors",
                            t.span,
                            "a function type",
                        )
                        .with_help(
                            "a Mealy-style constructor `step(I -> O * X)` is the place for `->`",
                        ),
                    );
                    return Ty::Error;
                }
                Ty::Arrow(Box::new(self.ty(a, env)), Box::new(self.ty(b, env)))
            }
            TypeKind::Fix { co, functor, args } => {
                let args: Vec<Ty> = args.iter().map(|a| self.ty(a, env)).collect();
                match self.functor_by_name(functor) {
                    Some(f) => {
                        self.check_functor_arity(f, args.len(), t.span);
                        Ty::Data {
                            co: *co,
                            functor: f,
                            args,
                        }
                    }
                    None => Ty::Error,
                }
            }
            TypeKind::Named { name, args } => self.named_type(name, args, t.span, env),
        }
    }

    fn named_type(
        &mut self,
        name: &cdlc_grammar::Ident,
        args: &[ast::Type],
        span: Span,
        env: &TypeEnv,
    ) -> Ty {
        if let Some(i) = env.type_params.iter().position(|p| *p == name.node) {
            return Ty::Param(i as u32);
        }
        if env.in_functor && name.node == "X" {
            return Ty::X;
        }
        let arg_tys: Vec<Ty> = args.iter().map(|a| self.ty(a, env)).collect();
        let Some(id) = self.program.lookup(&name.node) else {
            let mut c = self.globals_where(|k| matches!(k, ItemKind::Data(_) | ItemKind::Space(_)));
            c.extend(env.type_params.iter().cloned());
            self.unknown(name, "type", c);
            return Ty::Error;
        };
        match &self.program.item(id).kind {
            ItemKind::Data(_) => {
                let Some(info) = self.data_info(id) else {
                    return Ty::Error;
                };
                if arg_tys.len() != info.arity {
                    self.error(Diagnostic::error(
                        "E0302",
                        format!(
                            "`{}` takes {} type argument{}, found {}",
                            name.node,
                            info.arity,
                            plural(info.arity),
                            arg_tys.len()
                        ),
                        span,
                        "wrong number of type arguments",
                    ));
                    return Ty::Error;
                }
                Ty::Data {
                    co: info.co,
                    functor: info.functor,
                    args: info
                        .args
                        .iter()
                        .map(|a| a.instantiate(&arg_tys, None))
                        .collect(),
                }
            }
            ItemKind::Space(_) => {
                if !args.is_empty() {
                    self.error(Diagnostic::error(
                        "E0302",
                        format!("space `{}` takes no arguments", name.node),
                        span,
                        "arguments given here",
                    ));
                }
                match self.space_value(id) {
                    Some(sv) => Ty::Tensor(sv.shape(), self.out.spaces.get(&id).copied()),
                    None => Ty::Error,
                }
            }
            ItemKind::Functor(_) => {
                self.error(
                    Diagnostic::error(
                        "E0303",
                        format!("`{}` is a functor, not a type", name.node),
                        span,
                        "a functor used as a type",
                    )
                    .with_help(format!(
                        "use the data type it generates (`fix {}(...)`, or a `data` declaration)",
                        name.node
                    )),
                );
                Ty::Error
            }
            _ => {
                self.error(Diagnostic::error(
                    "E0303",
                    format!("`{}` is not a type", name.node),
                    name.span,
                    "expected a type here",
                ));
                Ty::Error
            }
        }
    }

    pub(super) fn functor_by_name(&mut self, name: &cdlc_grammar::Ident) -> Option<FunctorId> {
        if let Some(id) = self.program.lookup(&name.node)
            && let Some(f) = self.functor_ids.get(&id)
        {
            return Some(*f);
        }
        let c = self.globals_where(|k| matches!(k, ItemKind::Functor(_)));
        self.unknown(name, "functor", c);
        None
    }

    pub(super) fn check_functor_arity(&mut self, f: FunctorId, n: usize, span: Span) -> bool {
        let info = &self.out.functors[f.0 as usize];
        if info.params.len() != n {
            let d = Diagnostic::error(
                "E0302",
                format!(
                    "functor `{}` takes {} argument{}, found {n}",
                    info.name,
                    info.params.len(),
                    plural(info.params.len())
                ),
                span,
                "wrong number of arguments",
            )
            .with_label(info.span, "declared here");
            self.error(d);
            return false;
        }
        true
    }

    // ------------------------------------------------------------ functors and data

    pub(super) fn check_functor(&mut self, id: ItemId, f: &ast::Functor) {
        let fid = self.functor_ids[&id];
        let env = TypeEnv {
            sizes: Vec::new(),
            type_params: f.params.iter().map(|p| p.node.clone()).collect(),
            in_functor: true,
        };
        let mut ctors: Vec<CtorInfo> = Vec::new();
        for c in &f.ctors {
            if let Some(prev) = ctors.iter().find(|p| p.name == c.name.node) {
                let prev_span = prev.span;
                self.error(
                    Diagnostic::error(
                        "E0202",
                        format!(
                            "constructor `{}` is declared twice in `{}`",
                            c.name.node, f.name.node
                        ),
                        c.name.span,
                        "declared again here",
                    )
                    .with_label(prev_span, "first declared here")
                    .with_help("constructor names are unique within a functor; rename one"),
                );
                continue;
            }
            let fields: Vec<Ty> = c.fields.iter().map(|t| self.ty(t, &env)).collect();
            for (field, written) in fields.iter().zip(&c.fields) {
                self.check_positive(field, written);
            }
            ctors.push(CtorInfo {
                name: c.name.node.clone(),
                fields,
                span: c.span,
            });
        }
        self.out.functors[fid.0 as usize].ctors = ctors;
    }

    /// E0404 when `X` occurs other than strictly positively: in the domain
    /// of a function type.
    fn check_positive(&mut self, ty: &Ty, written: &ast::Type) {
        match (ty, &written.kind) {
            (Ty::Arrow(a, b), TypeKind::Arrow(wa, wb)) => {
                if a.mentions_x() {
                    self.error(
                        Diagnostic::error(
                            "E0404",
                            "the carrier `X` occurs in a negative position",
                            wa.span,
                            "`X` in the argument of a function type",
                        )
                        .with_note("a functor with `X` on the left of `->` has no initial algebra: folds over it would not terminate")
                        .with_help("`X` may occur only strictly positively: as a field, in a product, under a data type, or on the right of `->`"),
                    );
                }
                self.check_positive(b, wb);
            }
            (Ty::Tuple(ts), TypeKind::Product(ws)) => {
                for (t, w) in ts.iter().zip(ws) {
                    self.check_positive(t, w);
                }
            }
            _ => {}
        }
    }

    /// The definition of a data type, resolving it on first use.
    pub(super) fn data_info(&mut self, id: ItemId) -> Option<DataInfo> {
        if let Some(info) = self.out.data.get(&id) {
            return Some(info.clone());
        }
        let ItemKind::Data(d) = &self.program.item(id).kind else {
            return None;
        };
        if self.data_state.get(&id) == Some(&State::InProgress) {
            self.error_in(
                id,
                Diagnostic::error(
                    "E0203",
                    format!("data type `{}` is defined in terms of itself", d.name.node),
                    d.def.span,
                    "write recursion through the functor's `X` instead",
                ),
            );
            return None;
        }
        if self.data_state.get(&id) == Some(&State::Done) {
            return None;
        }
        self.data_state.insert(id, State::InProgress);
        let env = TypeEnv {
            sizes: Vec::new(),
            type_params: d.params.iter().map(|p| p.node.clone()).collect(),
            in_functor: false,
        };
        let result = self.within(id, |s| s.data_def(d, &env));
        self.data_state.insert(id, State::Done);
        if let Some(info) = &result {
            let exact = info.args.len() == info.arity
                && info
                    .args
                    .iter()
                    .enumerate()
                    .all(|(i, a)| matches!(a, Ty::Param(j) if *j as usize == i));
            if exact {
                self.out
                    .data_names
                    .entry((info.co, info.functor))
                    .or_insert(d.name.node.clone());
            }
            self.out.data.insert(id, info.clone());
        }
        result
    }

    /// The checked right-hand side of a data declaration.
    fn data_def(&mut self, d: &ast::Data, env: &TypeEnv) -> Option<DataInfo> {
        match &d.def.kind {
            TypeKind::Fix { co, functor, args } => {
                let args: Vec<Ty> = args.iter().map(|a| self.ty(a, env)).collect();
                let f = self.functor_by_name(functor);
                if *co != d.co {
                    let (kw, fx) = if d.co {
                        ("codata", "cofix")
                    } else {
                        ("data", "fix")
                    };
                    self.error(
                    Diagnostic::error(
                        "E0405",
                        format!("`{kw}` declarations are defined with `{fx}`"),
                        d.def.span,
                        format!("expected `{fx} F(...)`"),
                    )
                    .with_help("`data` is the initial algebra (`fix`), `codata` the final coalgebra (`cofix`)"),
                );
                }
                match f {
                    Some(f) if self.check_functor_arity(f, args.len(), d.def.span) => {
                        Some(DataInfo {
                            co: d.co,
                            functor: f,
                            args,
                            arity: d.params.len(),
                        })
                    }
                    _ => None,
                }
            }
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0405",
                        format!(
                            "data type `{}` must be a fixed point of a functor",
                            d.name.node
                        ),
                        d.def.span,
                        "expected `fix F(...)` or `cofix F(...)`",
                    )
                    .with_help("declare the shape as a `functor` and write `data T(A) = fix F(A)`"),
                );
                None
            }
        }
    }

    // ------------------------------------------------------------ groups and spaces

    pub(super) fn check_group(&mut self, g: &ast::GroupDecl) {
        let head = &g.def.head;
        let Some(&(_, arity)) = GROUPS.iter().find(|(n, _)| *n == head.node) else {
            let names = GROUPS.iter().map(|(n, _)| n.to_string()).collect();
            self.unknown(head, "group constructor", names);
            return;
        };
        if g.def.args.len() != arity {
            self.error(Diagnostic::error(
                "E0302",
                format!(
                    "`{}` takes {arity} argument{}, found {}",
                    head.node,
                    plural(arity),
                    g.def.args.len()
                ),
                g.def.span,
                "wrong number of arguments",
            ));
            return;
        }
        if head.node == "product" {
            for a in &g.def.args {
                let ok = matches!(&a.kind, SizeKind::Name(n)
                    if self.program.lookup(n).is_some_and(|id| matches!(self.program.item(id).kind, ItemKind::Group(_))));
                if !ok {
                    let c = self.globals_where(|k| matches!(k, ItemKind::Group(_)));
                    let ident = cdlc_grammar::Spanned::new(describe_size(a), a.span);
                    self.unknown(&ident, "group", c);
                }
            }
        } else {
            for a in &g.def.args {
                self.size(a, &TypeEnv::default());
            }
        }
        let needs_generators = matches!(head.node.as_str(), "perms" | "matrices");
        if needs_generators && g.def.generators.is_empty() {
            self.error(
                Diagnostic::error(
                    "E0302",
                    format!("`{}` needs generators in braces", head.node),
                    g.def.span,
                    "no generators given",
                )
                .with_help("for example `perms(5) { a: (0 1 2), b: (3 4) }`"),
            );
        }
        if !needs_generators && !g.def.generators.is_empty() {
            self.error(Diagnostic::error(
                "E0302",
                format!("`{}` takes no generators", head.node),
                g.def.generators[0].span,
                "generators are given only to `perms` and `matrices`",
            ));
        }
    }

    /// The structural value of a declared space, resolving it on first use.
    pub(super) fn space_value(&mut self, id: ItemId) -> Option<SpaceVal> {
        if let Some(v) = self.out.spaces.get(&id) {
            return Some(self.out.space_table[v.0 as usize].clone());
        }
        let ItemKind::Space(s) = &self.program.item(id).kind else {
            return None;
        };
        match self.space_state.get(&id) {
            Some(State::InProgress) => {
                self.error_in(
                    id,
                    Diagnostic::error(
                        "E0203",
                        format!("space `{}` is defined in terms of itself", s.name.node),
                        s.def.span,
                        "this definition needs the space being defined",
                    ),
                );
                return None;
            }
            Some(State::Done) => return None,
            None => {}
        }
        self.space_state.insert(id, State::InProgress);
        let v = self.within(id, |c| c.space_expr(&s.def));
        self.space_state.insert(id, State::Done);
        if let Some(v) = &v {
            let sid = self.intern_space(v.clone());
            self.out.spaces.insert(id, sid);
        }
        v
    }

    /// Adds a space to the table that type tags index.
    pub(super) fn intern_space(&mut self, v: SpaceVal) -> SpaceId {
        self.out.space_table.push(v);
        SpaceId((self.out.space_table.len() - 1) as u32)
    }

    /// A space expression, shape-checked as a tensor.
    pub(super) fn space_expr(&mut self, e: &ast::SpaceExpr) -> Option<SpaceVal> {
        let env = TypeEnv::default();
        match &e.kind {
            SpaceKind::Tensor(dims) => Some(SpaceVal::Channels(self.sizes(dims, &env)?)),
            SpaceKind::Under {
                dims,
                group,
                action,
            } => {
                let dims = self.sizes(dims, &env);
                let gid = match self.program.lookup(&group.node) {
                    Some(id) if matches!(self.program.item(id).kind, ItemKind::Group(_)) => {
                        Some(id)
                    }
                    _ => {
                        let c = self.globals_where(|k| matches!(k, ItemKind::Group(_)));
                        self.unknown(group, "group", c);
                        None
                    }
                };
                Some(SpaceVal::Under {
                    dims: dims?,
                    group: gid?,
                    action: action.node.clone(),
                    span: action.span,
                })
            }
            SpaceKind::Name(n) => match self.program.lookup(&n.node) {
                Some(id) if matches!(self.program.item(id).kind, ItemKind::Space(_)) => {
                    self.space_value(id)
                }
                _ => {
                    let c = self.globals_where(|k| matches!(k, ItemKind::Space(_)));
                    self.unknown(n, "space", c);
                    None
                }
            },
            SpaceKind::Tensor2(a, b) => {
                let (a, b) = (self.space_expr(a), self.space_expr(b));
                Some(SpaceVal::Tensor(Box::new(a?), Box::new(b?)))
            }
            SpaceKind::Sum(a, b) => {
                let (va, vb) = (self.space_expr(a), self.space_expr(b));
                let (va, vb) = (va?, vb?);
                for (v, w) in [(&va, a), (&vb, b)] {
                    if v.shape().len() != 1 {
                        let shown = self.show_shape(&v.shape());
                        self.error(
                            Diagnostic::error(
                                "E0301",
                                format!("a direct sum needs spaces of rank 1, found {shown}"),
                                w.span,
                                format!("this space has shape {shown}"),
                            )
                            .with_help(
                                "take the direct sum of vector spaces, or flatten the space first",
                            ),
                        );
                        return None;
                    }
                }
                Some(SpaceVal::Sum(Box::new(va), Box::new(vb)))
            }
            SpaceKind::Power(a, k) => {
                let va = self.space_expr(a)?;
                let k = self.size(k, &env)?;
                match k.as_constant() {
                    Some(k) if k >= 1 => {
                        let mut v = va.clone();
                        for _ in 1..k {
                            v = SpaceVal::Tensor(Box::new(v), Box::new(va.clone()));
                        }
                        Some(v)
                    }
                    _ => {
                        self.error(Diagnostic::error(
                            "E0304",
                            "a tensor power needs an exponent of at least 1",
                            e.span,
                            "exponent out of range",
                        ));
                        None
                    }
                }
            }
        }
    }
}

/// "s" for plural counts.
pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn describe_size(s: &ast::Size) -> String {
    match &s.kind {
        SizeKind::Name(n) => n.clone(),
        SizeKind::Nat(n) => n.to_string(),
        _ => "expression".to_string(),
    }
}
