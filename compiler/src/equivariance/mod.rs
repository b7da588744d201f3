//! Equivariance (§5 of the language): groups and spaces → derived weight
//! tying, and the proofs of `equivariant G` / `invariant G` claims.
//!
//! Runs after `check` on a program whose items checked cleanly (an item
//! with an error is skipped, so a mistake is reported once). In order:
//!
//! 1. every `group`/`monoid` and `space` declaration is built
//!    (`build.rs`: E0503, E0505);
//! 2. every `param W: equivariant A -> B where ...` and `param b: invariant
//!    B` is solved once per declaration by `cdlc_equivariance`, giving its
//!    [`Tying`] (W0501 when only zero is allowed);
//! 3. every claim is proved statically by the rules of §5.4 (`proof.rs`:
//!    E0501, E0502, E0503, E0504).
//!
//! `numeric.rs` tests the claims numerically for `cdlc check --numeric`.
//! The solver knows nothing of CDL: this module builds groups and declared
//! spaces from their declarations, a parameter's spaces from the checker's
//! resolved values and its `local(r)` radius from the checker's `where`
//! list (`param_space.rs`), and words the solver's errors as diagnostics.

pub mod augment;
mod build;
pub mod measure;
pub mod numeric;
mod param_space;
mod proof;
mod rep;

use crate::check::{Checked, ParamInfo, ParamKind};
use crate::diagnostics::Diagnostic;
use crate::resolve::{ItemId, Program};
use crate::source::Sources;
use cdlc_equivariance::{Basis, Group, SolveError, Space};
use cdlc_grammar::Span;
use cdlc_grammar::ast::ItemKind;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The derived tying of one equivariant or invariant parameter.
#[derive(Clone, Debug)]
pub struct Tying {
    /// The layer, model, algebra or coalgebra that declares it.
    pub owner: String,
    /// The parameter's name.
    pub param: String,
    /// The domain (for an invariant parameter, the scalar space `R[]`).
    pub input: Space,
    /// The codomain (for an invariant parameter, its space).
    pub output: Space,
    /// The basis of the allowed weights; the parameter stores one
    /// coefficient per basis element.
    pub basis: Basis,
}

/// The tying of every equivariant and invariant parameter that could be
/// solved, by declaring item and parameter name, in source order.
#[derive(Clone, Debug, Default)]
pub struct Tyings {
    /// The tyings.
    pub params: IndexMap<(ItemId, String), Tying>,
}

impl Tyings {
    /// The tying of parameter `name` of item `item`.
    pub fn get(&self, item: ItemId, name: &str) -> Option<&Tying> {
        self.params.get(&(item, name.to_string()))
    }

    /// What `cdlc FILE --emit tying` prints: for every parameter, the line
    /// `<layer>.<param>: <free> free of <dense>`, then the group and the
    /// tying pattern.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (k, t) in self.params.values().enumerate() {
            if k > 0 {
                out.push('\n');
            }
            let _ = write!(
                out,
                "{}",
                t.basis.render(&format!("{}.{}", t.owner, t.param))
            );
        }
        out
    }
}

/// Solves every equivariant and invariant parameter and proves every
/// claim, adding diagnostics to `diags`.
pub fn analyse(
    program: &Program,
    checked: &Checked,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Tyings {
    let mut env = Env::new(program, checked, Some(sources));
    env.build_declarations();
    env.solve_params();
    proof::prove_claims(&mut env);
    diags.append(&mut env.diags);
    env.tyings
}

/// The tyings of a checked program, without diagnostics (for the
/// instantiation, which runs on programs that checked cleanly).
pub fn tyings(program: &Program, checked: &Checked) -> Tyings {
    let mut env = Env::new(program, checked, None);
    env.build_declarations();
    env.solve_params();
    env.tyings
}

/// How many leading axes of a space are channels: those of the leading
/// bare (or trivially acted) factors, `R[c]` in `R[c] * S` (for `norm` and
/// `gate`).
pub fn channel_axes(sv: &crate::check::SpaceVal) -> usize {
    use crate::check::SpaceVal;
    fn factors<'v>(sv: &'v SpaceVal, out: &mut Vec<&'v SpaceVal>) {
        match sv {
            SpaceVal::Tensor(a, b) => {
                factors(a, out);
                factors(b, out);
            }
            other => out.push(other),
        }
    }
    let mut fs = Vec::new();
    factors(sv, &mut fs);
    if fs.len() < 2 {
        return 0;
    }
    let mut axes = 0;
    for f in &fs[..fs.len() - 1] {
        match f {
            SpaceVal::Channels(s) => axes += s.len(),
            SpaceVal::Under { dims, action, .. } if action == "trivial" => axes += dims.len(),
            _ => break,
        }
    }
    axes
}

/// The spaces of a parameter, as the proofs see it.
#[derive(Clone, Debug)]
pub(crate) enum ParamSpaces {
    /// A plain tensor of this rank.
    Plain(usize),
    /// An equivariant map.
    Map(Space, Space),
    /// An invariant vector of this space.
    Invariant(Space),
    /// Something could not be built (already reported).
    Broken,
}

/// The state of one run: what has been built, and what was found.
pub(crate) struct Env<'a> {
    program: &'a Program,
    checked: &'a Checked,
    sources: Option<&'a Sources>,
    diags: Vec<Diagnostic>,
    groups: HashMap<ItemId, Option<Group>>,
    spaces: HashMap<ItemId, Option<Space>>,
    params: HashMap<(ItemId, String), ParamSpaces>,
    tyings: Tyings,
}

impl<'a> Env<'a> {
    fn new(program: &'a Program, checked: &'a Checked, sources: Option<&'a Sources>) -> Env<'a> {
        Env {
            program,
            checked,
            sources,
            diags: Vec::new(),
            groups: HashMap::new(),
            spaces: HashMap::new(),
            params: HashMap::new(),
            tyings: Tyings::default(),
        }
    }

    /// The name an item is declared with.
    fn item_name(&self, id: ItemId) -> String {
        crate::resolve::declared_name(self.program.item(id))
            .map(|n| n.node.clone())
            .unwrap_or_default()
    }

    /// Builds every group and space declaration, used or not.
    fn build_declarations(&mut self) {
        for id in self.program.item_ids() {
            let item = self.program.item(id);
            if !self.checked.hir.is_ok(id) {
                self.groups.entry(id).or_insert(None);
                self.spaces.entry(id).or_insert(None);
                continue;
            }
            match &item.kind {
                ItemKind::Group(_) => {
                    self.group(id);
                }
                ItemKind::Space(_) => {
                    self.space_item(id);
                }
                _ => {}
            }
        }
    }

    /// Solves the parameters of every layer, model, algebra and coalgebra,
    /// as the checker recorded them (`DefInfo::params`,
    /// `AlgebraInfo::params`: spaces resolved, `where` list checked).
    fn solve_params(&mut self) {
        for id in self.program.item_ids() {
            let params = match (self.checked.defs.get(&id), self.checked.algebras.get(&id)) {
                (Some(d), _) => &d.params,
                (None, Some(a)) => &a.params,
                (None, None) => continue,
            };
            let owner = self.item_name(id);
            for p in params {
                let spaces = if p.ok {
                    self.solve_param(id, &owner, p)
                } else {
                    ParamSpaces::Broken
                };
                self.params.insert((id, p.name.clone()), spaces);
            }
        }
    }

    fn solve_param(&mut self, id: ItemId, owner: &str, p: &ParamInfo) -> ParamSpaces {
        let (input, output, local, what) = match &p.kind {
            ParamKind::Plain => {
                return ParamSpaces::Plain(p.ty.shape().map_or(0, Vec::len));
            }
            ParamKind::Equivariant {
                from,
                to,
                spans,
                constraints,
            } => {
                let (a, b) = (
                    self.param_space(from, spans.0),
                    self.param_space(to, spans.1),
                );
                let (Some(a), Some(b)) = (a, b) else {
                    return ParamSpaces::Broken;
                };
                (a, b, constraints.local, Some((*spans, constraints.span)))
            }
            ParamKind::Invariant(s) => {
                let Some(b) = self.param_space(s, p.span) else {
                    return ParamSpaces::Broken;
                };
                (Space::scalar(b.group()), b, None, None)
            }
        };
        let solved = if what.is_some() {
            cdlc_equivariance::equivariant(&input, &output, local)
        } else {
            cdlc_equivariance::invariant(&output)
        };
        let basis = match solved {
            Ok(b) => b,
            Err(e) => {
                self.report_solve_error(p, e, what);
                return ParamSpaces::Broken;
            }
        };
        if basis.free() == 0 {
            self.report_zero_map(p, &basis, what.is_some());
        }
        let spaces = if what.is_some() {
            ParamSpaces::Map(input.clone(), output.clone())
        } else {
            ParamSpaces::Invariant(output.clone())
        };
        self.tyings.params.insert(
            (id, p.name.clone()),
            Tying {
                owner: owner.to_string(),
                param: p.name.clone(),
                input,
                output,
                basis,
            },
        );
        spaces
    }

    /// Words a solver error; `spans` are where the map's sides and its
    /// `where` list are written (none for an invariant vector).
    fn report_solve_error(
        &mut self,
        p: &ParamInfo,
        e: SolveError,
        spans: Option<((Span, Span), Option<Span>)>,
    ) {
        let ty_span = spans.map_or(p.span, |((a, b), _)| a.to(b));
        let d = match &e {
            SolveError::DifferentGroups { input, output } => Diagnostic::error(
                "E0503",
                format!("`{}` maps a space under {input} to a space under {output}", p.name),
                ty_span,
                "the two sides are under different groups",
            )
            .with_help(format!(
                "put both spaces under one group (a map between {input} and {output} spaces has no equivariance constraint to solve)"
            )),
            SolveError::TooLarge { .. } => build::too_large(
                format!("`{}` cannot be tied: {e}", p.name),
                ty_span,
            ),
            SolveError::LocalMismatch { .. } | SolveError::LocalAcrossSum => {
                let at = spans.and_then(|(_, w)| w).unwrap_or(ty_span);
                Diagnostic::error(
                    "E0505",
                    format!("`local` does not apply to `{}`: {e}", p.name),
                    at,
                    "distance is not defined between these spaces",
                )
                .with_label(ty_span, "the map")
                .with_help(
                    "use `local(r)` between spaces whose point axes match (same number, sizes and action), or drop it",
                )
            }
        };
        self.diags.push(d);
    }

    fn report_zero_map(&mut self, p: &ParamInfo, basis: &Basis, map: bool) {
        let d = if map {
            let shown = |s: &[usize]| cdlc_equivariance::show_shape(s);
            Diagnostic::warning(
                "W0501",
                format!(
                    "only the zero map from {} to {} is equivariant under {}",
                    shown(basis.in_shape()),
                    shown(basis.out_shape()),
                    basis.group()
                ),
                p.span,
                format!("`{}` has 0 free parameters and is always zero", p.name),
            )
            .with_help(
                "remove the parameter, or change the spaces so that a nonzero equivariant map exists (another action, or a different codomain)",
            )
        } else {
            Diagnostic::warning(
                "W0501",
                format!(
                    "no nonzero vector of {} is invariant under {}",
                    cdlc_equivariance::show_shape(basis.out_shape()),
                    basis.group()
                ),
                p.span,
                format!("`{}` has 0 free parameters and is always zero", p.name),
            )
            .with_help("remove the parameter; it contributes nothing")
        };
        self.diags.push(d);
    }
}
