//! Groups and spaces: `group`/`monoid` declarations become
//! `cdlc_equivariance::Group` values and space expressions become `Space`
//! values, with E0503 and E0505 for what cannot be built.
//!
//! Declarations are built once, on first use, and remembered (a failed one
//! as `None`, so its error is reported once). Space expressions written in
//! declarations and parameter types are built from the syntax tree, which
//! has the spans the diagnostics need; the spaces the checker attached to
//! types (`SpaceVal`) are built silently, since any error in them was
//! reported where they were written.

use super::Env;
use crate::check::SpaceVal;
use crate::diagnostics::Diagnostic;
use crate::resolve::ItemId;
use cdlc_equivariance::{ACTIONS, ActionError, Group, GroupError, Number, Space, SpaceError};
use cdlc_grammar::Span;
use cdlc_grammar::ast::{self, GeneratorValue, ItemKind, SizeKind, SpaceKind};

impl Env<'_> {
    /// The value of a size written in a group or space (sizes there are
    /// literals and constants only).
    pub(super) fn eval_size(&self, s: &ast::Size) -> Option<i64> {
        Some(match &s.kind {
            SizeKind::Nat(n) => i64::try_from(*n).ok()?,
            SizeKind::Name(n) => *self.checked.consts.get(n)?,
            SizeKind::Add(a, b) => self.eval_size(a)? + self.eval_size(b)?,
            SizeKind::Sub(a, b) => self.eval_size(a)? - self.eval_size(b)?,
            SizeKind::Mul(a, b) => self.eval_size(a)? * self.eval_size(b)?,
            SizeKind::Div(a, b) => {
                let d = self.eval_size(b)?;
                if d == 0 {
                    return None;
                }
                self.eval_size(a)? / d
            }
        })
    }

    fn eval_usize(&self, s: &ast::Size) -> Option<usize> {
        usize::try_from(self.eval_size(s)?).ok()
    }

    /// The group or monoid declared by item `id`, built on first use.
    pub(super) fn group(&mut self, id: ItemId) -> Option<Group> {
        if let Some(g) = self.groups.get(&id) {
            return g.clone();
        }
        // A `product` naming itself would recurse; the entry stops it.
        self.groups.insert(id, None);
        let ItemKind::Group(decl) = &self.program.item(id).kind else {
            return None;
        };
        let g = match self.build_group(decl) {
            Ok(g) => Some(g),
            Err(Some(d)) => {
                self.diags.push(d);
                None
            }
            Err(None) => None,
        };
        self.groups.insert(id, g.clone());
        g
    }

    /// The group named `name`, if it is a declared group that could be built.
    pub(super) fn group_named(&mut self, name: &str) -> Option<Group> {
        let id = self.program.lookup(name)?;
        self.group(id)
    }

    /// Builds one declaration. `Err(None)` means the checker already
    /// reported what is wrong.
    fn build_group(&mut self, decl: &ast::GroupDecl) -> Result<Group, Option<Diagnostic>> {
        let def = &decl.def;
        let head = def.head.node.as_str();
        let size = |env: &Self, k: usize| -> Result<usize, Option<Diagnostic>> {
            def.args.get(k).and_then(|a| env.eval_usize(a)).ok_or(None)
        };
        let fail = |e: GroupError| Some(group_error(decl, e));
        let g = match head {
            "trivial" => Group::trivial(),
            "cyclic" => Group::cyclic(size(self, 0)?).map_err(fail)?,
            "dihedral" => Group::dihedral(size(self, 0)?).map_err(fail)?,
            "symmetric" => Group::symmetric(size(self, 0)?).map_err(fail)?,
            "p4" => Group::p4(size(self, 0)?).map_err(fail)?,
            "p4m" => Group::p4m(size(self, 0)?).map_err(fail)?,
            "lorentz" => Group::lorentz(),
            "SO" | "O" => match (head, size(self, 0)?) {
                ("SO", 2) => Group::so2(),
                ("SO", 3) => Group::so3(),
                ("O", 2) => Group::o2(),
                ("O", 3) => Group::o3(),
                (_, n) => {
                    return Err(Some(
                        Diagnostic::error(
                            "E0505",
                            format!("`{head}({n})` is not a built-in group"),
                            def.span,
                            format!("{head}(n) is built in for n = 2 and n = 3"),
                        )
                        .with_help(format!(
                            "use `{head}(2)` or `{head}(3)`, or give the generators with `matrices(d) {{ ... }}`"
                        )),
                    ));
                }
            },
            "shifts" => {
                let n = size(self, 0)?;
                if !decl.monoid {
                    return Err(Some(
                        Diagnostic::error(
                            "E0505",
                            format!("`shifts({n})` is a monoid, not a group"),
                            def.span,
                            "the truncating shift is not invertible",
                        )
                        .with_label(decl.name.span, "declared a group here")
                        .with_help(format!(
                            "declare it with `monoid {} = shifts({n})`",
                            decl.name.node
                        )),
                    ));
                }
                Group::shifts(n).map_err(fail)?
            }
            "product" => {
                let mut parts = Vec::new();
                for a in &def.args {
                    let SizeKind::Name(n) = &a.kind else {
                        return Err(None);
                    };
                    parts.push(self.group_named(n).ok_or(None)?);
                }
                let [g, h] = <[Group; 2]>::try_from(parts).map_err(|_| None)?;
                Group::product(g, h)
            }
            "perms" => {
                let n = size(self, 0)?;
                let mut gens = Vec::new();
                for g in &def.generators {
                    let GeneratorValue::Cycles(cycles) = &g.value else {
                        return Err(Some(
                            Diagnostic::error(
                                "E0505",
                                format!("generator `{}` of `perms` is a matrix", g.name.node),
                                g.span,
                                "expected cycles of points",
                            )
                            .with_help(
                                "write permutations in cycle notation, `a: (0 1 2)(3 4)`, or declare the group with `matrices(d)`",
                            ),
                        ));
                    };
                    let cycles = cycles
                        .iter()
                        .map(|c| c.iter().map(|&p| p as usize).collect())
                        .collect();
                    gens.push((g.name.node.clone(), cycles));
                }
                Group::perms(n, gens).map_err(fail)?
            }
            "matrices" => {
                let d = size(self, 0)?;
                let mut gens = Vec::new();
                for g in &def.generators {
                    let GeneratorValue::Matrix(rows) = &g.value else {
                        return Err(Some(
                            Diagnostic::error(
                                "E0505",
                                format!("generator `{}` of `matrices` is a permutation", g.name.node),
                                g.span,
                                "expected a matrix",
                            )
                            .with_help(
                                "write matrices row by row, `r: [[0, -1], [1, 0]]`, or declare the group with `perms(n)`",
                            ),
                        ));
                    };
                    let rows = rows
                        .iter()
                        .map(|r| r.iter().map(|&v| number(v)).collect())
                        .collect();
                    gens.push((g.name.node.clone(), rows));
                }
                Group::matrices(d, gens, decl.monoid).map_err(fail)?
            }
            _ => return Err(None),
        };
        Ok(g)
    }

    /// The space declared by item `id`, built on first use.
    pub(super) fn space_item(&mut self, id: ItemId) -> Option<Space> {
        if let Some(s) = self.spaces.get(&id) {
            return s.clone();
        }
        self.spaces.insert(id, None);
        let ItemKind::Space(decl) = &self.program.item(id).kind else {
            return None;
        };
        let s = self.space_expr(&decl.def);
        self.spaces.insert(id, s.clone());
        s
    }

    /// A space expression as written, reporting E0503 and E0505.
    pub(super) fn space_expr(&mut self, e: &ast::SpaceExpr) -> Option<Space> {
        match &e.kind {
            SpaceKind::Tensor(dims) => Some(Space::bare(&self.dims(dims)?)),
            SpaceKind::Under {
                dims,
                group,
                action,
            } => {
                let shape = self.dims(dims)?;
                let g = self.group_named(&group.node)?;
                match cdlc_equivariance::action(&g, &action.node, &shape) {
                    Ok(s) => Some(s),
                    Err(err) => {
                        let d = action_error(&g, &group.node, action.span, &shape, err);
                        self.diags.push(d);
                        None
                    }
                }
            }
            SpaceKind::Name(n) => {
                let id = self.program.lookup(&n.node)?;
                self.space_item(id)
            }
            SpaceKind::Tensor2(a, b) => {
                let (a, b) = (self.space_expr(a)?, self.space_expr(b)?);
                self.product(&a, &b, e.span)
            }
            SpaceKind::Sum(a, b) => {
                let (sa, sb) = (self.space_expr(a), self.space_expr(b));
                let (sa, sb) = (sa?, sb?);
                match sa.direct_sum(&sb) {
                    Ok(s) => Some(s),
                    Err(SpaceError::DifferentGroups { left, right }) => {
                        let plus = self.op_span(a.span, b.span, &["+", "⊕"]);
                        self.diags.push(
                            Diagnostic::error(
                                "E0503",
                                format!("direct sum of spaces under different groups, {left} and {right}"),
                                plus,
                                "this sum mixes two groups",
                            )
                            .with_label(a.span, format!("a space under {left}"))
                            .with_label(b.span, format!("a space under {right}"))
                            .with_help(format!(
                                "act on both summands with one group, or use `*` (the tensor product), which gives a space under product({left}, {right})"
                            )),
                        );
                        None
                    }
                    // The checker reported summands of the wrong rank.
                    Err(_) => None,
                }
            }
            SpaceKind::Power(a, k) => {
                let s = self.space_expr(a)?;
                s.power(self.eval_usize(k)?).ok()
            }
        }
    }

    fn dims(&self, dims: &[ast::Size]) -> Option<Vec<usize>> {
        dims.iter().map(|d| self.eval_usize(d)).collect()
    }

    /// The tensor product `a ⊗ b` written at `at`, or E0703 there when it
    /// has more points than the limit.
    pub(super) fn product(&mut self, a: &Space, b: &Space, at: Span) -> Option<Space> {
        let product = tensor_within(a, b);
        if product.is_none() {
            let shown = cdlc_equivariance::show_shape(&[a.shape(), b.shape()].concat());
            let max = cdlc_equivariance::MAX_POINTS;
            self.diags.push(too_large(
                format!("the space {shown} has more than {max} points"),
                at,
            ));
        }
        product
    }

    /// A space the checker attached to a type, built silently.
    pub(super) fn space_val(&mut self, v: &SpaceVal) -> Option<Space> {
        match v {
            SpaceVal::Channels(shape) => Some(Space::bare(&concrete(shape)?)),
            SpaceVal::Under {
                dims,
                group,
                action,
                ..
            } => {
                let g = self.group(*group)?;
                cdlc_equivariance::action(&g, action, &concrete(dims)?).ok()
            }
            SpaceVal::Tensor(a, b) => tensor_within(&self.space_val(a)?, &self.space_val(b)?),
            SpaceVal::Sum(a, b) => self.space_val(a)?.direct_sum(&self.space_val(b)?).ok(),
        }
    }

    /// The space with index `id` in the checker's table.
    pub(super) fn space_tag(&mut self, id: crate::check::types::SpaceId) -> Option<Space> {
        let v = self.checked.space_table.get(id.0 as usize)?;
        self.space_val(v)
    }

    /// The span of the operator between two operands: the first of `ops`
    /// found in the text between them, else the whole expression.
    pub(super) fn op_span(&self, left: Span, right: Span, ops: &[&str]) -> Span {
        let Some(sources) = self.sources else {
            return left.to(right);
        };
        let text = sources.text(left.file);
        let (from, to) = (left.end as usize, right.start as usize);
        if let Some(between) = text.get(from..to) {
            for op in ops {
                if let Some(k) = between.find(op) {
                    return Span::new(left.file, from + k, from + k + op.len());
                }
            }
        }
        left.to(right)
    }
}

/// A concrete shape from the checker's sizes.
pub(super) fn concrete(shape: &[crate::check::size::Poly]) -> Option<Vec<usize>> {
    shape
        .iter()
        .map(|p| usize::try_from(p.as_constant()?).ok())
        .collect()
}

/// A matrix entry as the solver's number: exact when the literal is.
fn number(v: f64) -> Number {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return Number::int(v as i64);
    }
    Number::parse_exact(&format!("{v}")).unwrap_or(Number::Float(v))
}

/// The tensor product `a ⊗ b`, or `None` when it has more than
/// `MAX_POINTS` points: its generators are built on all its points, so the
/// size is checked first, as an action's is.
pub(super) fn tensor_within(a: &Space, b: &Space) -> Option<Space> {
    let points = a.dim().checked_mul(b.dim())?;
    (points <= cdlc_equivariance::MAX_POINTS).then(|| a.tensor(b))
}

/// E0703: a group, space or solver problem beyond the equivariance crate's
/// limits, refused before anything is allocated.
pub(super) fn too_large(message: String, span: Span) -> Diagnostic {
    Diagnostic::error("E0703", message, span, "too large to derive a tying for")
        .with_help("use a smaller group or space; the limits are in docs/errors.md (E0703)")
}

/// E0505 for a group or monoid that cannot be built from its generators.
fn group_error(decl: &ast::GroupDecl, e: GroupError) -> Diagnostic {
    let generator_span = |name: &str| {
        decl.def
            .generators
            .iter()
            .find(|g| g.name.node == name)
            .map_or(decl.def.span, |g| g.span)
    };
    let (span, label, help) = match &e {
        GroupError::TooLarge { max, .. } => (
            decl.def.span,
            "size out of range".to_string(),
            format!("give a size of at most {max}"),
        ),
        GroupError::SizeTooSmall { min, .. } => (
            decl.def.span,
            "size out of range".to_string(),
            format!("give a size of at least {min}"),
        ),
        GroupError::PointOutOfRange { generator, n, .. } => (
            generator_span(generator),
            "names a point that does not exist".to_string(),
            format!(
                "points are numbered from 0 to {}; raise the number of points or renumber the cycle",
                n.saturating_sub(1)
            ),
        ),
        GroupError::RepeatedPoint { generator, .. } => (
            generator_span(generator),
            "a point may occur once per generator".to_string(),
            "write each point in at most one cycle of a generator".to_string(),
        ),
        GroupError::WrongRowCount { generator, d, .. }
        | GroupError::WrongRowLength { generator, d, .. } => (
            generator_span(generator),
            format!("expected a {d} × {d} matrix"),
            format!("give every generator of `matrices({d})` as {d} rows of {d} entries"),
        ),
        GroupError::SingularGenerator { generator } => (
            generator_span(generator),
            "this matrix has no inverse".to_string(),
            format!(
                "declare it with `monoid {} = ...` (the solver never inverts a generator), or give an invertible matrix",
                decl.name.node
            ),
        ),
    };
    let kind = if decl.monoid { "monoid" } else { "group" };
    let code = match e {
        GroupError::TooLarge { .. } => "E0703",
        _ => "E0505",
    };
    Diagnostic::error(
        code,
        format!("{kind} `{}` cannot be built: {e}", decl.name.node),
        span,
        label,
    )
    .with_help(help)
}

/// E0505 for an action that does not exist, does not apply to the group,
/// or does not fit the shape; the help names the actions that would work.
/// E0703 for a space beyond the limits.
pub(super) fn action_error(
    g: &Group,
    gname: &str,
    span: Span,
    shape: &[usize],
    e: ActionError,
) -> Diagnostic {
    // A space beyond the limits fits no action; trying each would only
    // repeat the refusal.
    let too_large = matches!(e, ActionError::TooLarge { .. });
    let fitting: Vec<&str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| !too_large && *a != "trivial" && cdlc_equivariance::action(g, a, shape).is_ok())
        .collect();
    let shown = cdlc_equivariance::show_shape(shape);
    let (label, help) = match &e {
        ActionError::TooLarge { max, .. } => (
            "too many points".to_string(),
            format!("declare the space on at most {max} points"),
        ),
        ActionError::Unknown { action } => (
            "no such action".to_string(),
            match crate::diagnostics::closest(action, ACTIONS.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "name a built-in action: `permute` or `shift` for points, `rotate` for grids and vectors, `defining` for a group given by generators, `trivial` for channels".to_string(),
            },
        ),
        ActionError::NotForGroup { defined_for, .. } => (
            format!("not an action of {g}"),
            if fitting.is_empty() {
                format!(
                    "this action is defined for {defined_for}; {gname} acts on {shown} only by `trivial`"
                )
            } else {
                format!("{gname} acts on {shown} by {}", quoted(&fitting))
            },
        ),
        ActionError::WrongShape { expected, .. } => (
            format!("does not act on {shown}"),
            if fitting.is_empty() {
                format!("declare the space on {expected}")
            } else {
                format!(
                    "declare the space on {expected}, or use {} on {shown}",
                    quoted(&fitting)
                )
            },
        ),
    };
    let code = if too_large { "E0703" } else { "E0505" };
    Diagnostic::error(code, e.to_string(), span, label).with_help(help)
}

fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    q.join(", ")
}
