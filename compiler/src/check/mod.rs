//! Types and shapes: checks every declaration of a resolved program and
//! records what later stages need (functors in polynomial form, the
//! signatures and parameters of layers, algebras and coalgebras, the
//! training setup), and writes the HIR of every body as it types it
//! (`crate::hir`): the checker is the only stage that walks the syntax
//! tree's bodies.
//!
//! Every definition is checked generically, once, whether or not it is
//! used; sizes are polynomials over the definition's size parameters
//! (`size.rs`). A stage that finds an error records a diagnostic, gives
//! the expression the error type and goes on, so that one run reports
//! several independent problems; the error type is compatible with every
//! type, so one mistake is reported once.

pub mod constraints;
mod data_lengths;
mod decls;
mod expr;
mod recursion;
pub mod runtime_types;
pub mod size;
mod train;
pub mod types;

use crate::diagnostics::{Diagnostic, closest};
use crate::resolve::{ItemId, Program};
use cdlc_grammar::ast::{self, ItemKind};
use cdlc_grammar::{Ident, Span};

use indexmap::IndexMap;
use size::{Poly, Var};
use std::collections::{BTreeSet, HashMap};
pub use train::{DataSpec, LossKind, TrainSetup};
use types::{FunctorId, Namer, Shape, SpaceId, Ty, TyDisplay};

/// A functor: a sum of constructors, each a product of fields in which
/// `Ty::Param(i)` is the i-th parameter and `Ty::X` the carrier.
#[derive(Clone, Debug)]
pub struct FunctorInfo {
    /// The functor's name.
    pub name: String,
    /// Its parameters' names.
    pub params: Vec<String>,
    /// Its constructors in declaration order.
    pub ctors: Vec<CtorInfo>,
    /// Where it is declared (its name).
    pub span: Span,
}

/// One constructor of a functor.
#[derive(Clone, Debug)]
pub struct CtorInfo {
    /// Its name.
    pub name: String,
    /// Its fields.
    pub fields: Vec<Ty>,
    /// Where it is declared.
    pub span: Span,
}

/// A declared data or codata type: `fix F(args)` with args over the data
/// type's own parameters.
#[derive(Clone, Debug)]
pub struct DataInfo {
    /// `true` for `codata`.
    pub co: bool,
    /// The functor.
    pub functor: FunctorId,
    /// The functor's arguments, over `Ty::Param` of the data type.
    pub args: Vec<Ty>,
    /// How many parameters the data type takes.
    pub arity: usize,
}

/// A structural space: a tensor shape with an action (checked as a tensor
/// here; the equivariance stage interprets the action).
#[derive(Clone, Debug, PartialEq)]
pub enum SpaceVal {
    /// A bare tensor: channels, trivial under every group.
    Channels(Shape),
    /// `R[dims] under G by action`
    Under {
        /// The shape.
        dims: Shape,
        /// The group or monoid.
        group: ItemId,
        /// The action's name.
        action: String,
        /// Where the action is named.
        span: Span,
    },
    /// `A * B`
    Tensor(Box<SpaceVal>, Box<SpaceVal>),
    /// `A + B`
    Sum(Box<SpaceVal>, Box<SpaceVal>),
}

impl SpaceVal {
    /// The shape of the underlying tensor.
    pub fn shape(&self) -> Shape {
        match self {
            SpaceVal::Channels(s) | SpaceVal::Under { dims: s, .. } => s.clone(),
            SpaceVal::Tensor(a, b) => {
                let mut s = a.shape();
                s.extend(b.shape());
                s
            }
            SpaceVal::Sum(a, b) => {
                let (a, b) = (a.shape(), b.shape());
                match (a.first(), b.first()) {
                    (Some(x), Some(y)) => vec![x.add(y)],
                    _ => Vec::new(),
                }
            }
        }
    }
}

/// What kind of parameter a `param` declares.
#[derive(Clone, Debug)]
pub enum ParamKind {
    /// A plain tensor.
    Plain,
    /// `equivariant A -> B where ...`
    Equivariant {
        /// The domain.
        from: SpaceVal,
        /// The codomain.
        to: SpaceVal,
        /// Where the domain and the codomain are written.
        spans: (Span, Span),
        /// The checked `where` list (`local(r)`).
        constraints: constraints::WhereList,
    },
    /// `invariant A`
    Invariant(SpaceVal),
}

/// A trainable parameter of a definition.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// Its name.
    pub name: String,
    /// Its type (a tensor, or `Ty::Map` for an equivariant one).
    pub ty: Ty,
    /// Plain, equivariant or invariant.
    pub kind: ParamKind,
    /// Its initialiser as written.
    pub init: ast::Init,
    /// Its initialiser, validated by the runtime's own rules; `None` when
    /// the name or the number of arguments is wrong (reported).
    pub initialiser: Option<cdlc_runtime::init::Init>,
    /// Its declaration.
    pub span: Span,
    /// Whether its declaration checked without an error (the equivariance
    /// solver skips one that did not, so that a mistake is reported once).
    pub ok: bool,
}

/// A layer's or model's checked signature and parameters.
#[derive(Clone, Debug)]
pub struct DefInfo {
    /// `layer` or `model`.
    pub kind: ast::DefKind,
    /// Its name.
    pub name: String,
    /// The item.
    pub item: ItemId,
    /// Size parameters and their variables.
    pub size_params: Vec<(String, Var)>,
    /// The domain (the product of the value parameters).
    pub dom: Ty,
    /// The codomain.
    pub cod: Ty,
    /// Where each argument's type is written (none for a point-free
    /// definition).
    pub arg_type_spans: Vec<Span>,
    /// Its `equivariant G` or `invariant G` claim, with the group resolved.
    pub claim: Option<ClaimInfo>,
    /// Its parameters, in declaration order.
    pub params: Vec<ParamInfo>,
}

/// A definition's claim of equivariance or invariance.
#[derive(Clone, Copy, Debug)]
pub struct ClaimInfo {
    /// The group (or monoid) claimed.
    pub group: ItemId,
    /// `invariant G` rather than `equivariant G`.
    pub invariant: bool,
    /// The whole claim.
    pub span: Span,
}

/// An algebra's or coalgebra's checked header and parameters.
#[derive(Clone, Debug)]
pub struct AlgebraInfo {
    /// Its name.
    pub name: String,
    /// The item.
    pub item: ItemId,
    /// `true` for a coalgebra.
    pub co: bool,
    /// Size parameters and their variables.
    pub size_params: Vec<(String, Var)>,
    /// The functor, if the header names one.
    pub functor: Option<FunctorId>,
    /// The functor's arguments.
    pub functor_args: Vec<Ty>,
    /// The carrier (for a coalgebra: the state type).
    pub carrier: Ty,
    /// Its parameters.
    pub params: Vec<ParamInfo>,
    /// Whether the header is well formed (else the cases were not checked).
    pub header_ok: bool,
}

/// The checked program.
#[derive(Debug, Default)]
pub struct Checked {
    /// Constants and their values.
    pub consts: IndexMap<String, i64>,
    /// Functors.
    pub functors: Vec<FunctorInfo>,
    /// Data types by item.
    pub data: IndexMap<ItemId, DataInfo>,
    /// Declared spaces by item, as indices into `space_table`.
    pub spaces: IndexMap<ItemId, SpaceId>,
    /// Every space a type tag refers to.
    pub space_table: Vec<SpaceVal>,
    /// Layers and models by item.
    pub defs: IndexMap<ItemId, DefInfo>,
    /// Algebras and coalgebras by item.
    pub algebras: IndexMap<ItemId, AlgebraInfo>,
    /// Training setups, in source order.
    pub trains: Vec<TrainSetup>,
    /// Size variable names, by variable.
    pub var_names: Vec<String>,
    /// The name of the data type that is exactly `fix F(params...)`, by
    /// functor: `List` for `ListF`. Types print by these names.
    pub data_names: IndexMap<(bool, FunctorId), String>,
    /// The bodies of layers, models, algebras and coalgebras, resolved and
    /// typed, and the status of every item: what later stages read.
    pub hir: crate::hir::Hir,
}

/// Checks a resolved program.
pub fn check(program: &Program, diags: &mut Vec<Diagnostic>) -> Checked {
    let mut c = Checker {
        program,
        out: Checked::default(),
        diags,
        functor_ids: HashMap::new(),
        const_state: HashMap::new(),
        data_state: HashMap::new(),
        space_state: HashMap::new(),
        calls: Vec::new(),
        point_free_in_progress: Vec::new(),
        current: Vec::new(),
        failed: program.failed.clone(),
    };
    c.run();
    let failed = std::mem::take(&mut c.failed);
    c.out.hir.set_statuses(program, &failed);
    #[cfg(debug_assertions)]
    {
        let problems = crate::hir::verify(&c.out.hir, &c.out);
        assert!(
            problems.is_empty(),
            "internal error: the HIR is unsound: {problems:#?}"
        );
    }
    c.out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    InProgress,
    Done,
}

/// The state of one checking run.
struct Checker<'p, 'd> {
    program: &'p Program,
    out: Checked,
    diags: &'d mut Vec<Diagnostic>,
    functor_ids: HashMap<ItemId, FunctorId>,
    const_state: HashMap<ItemId, State>,
    data_state: HashMap<ItemId, State>,
    space_state: HashMap<ItemId, State>,
    /// Uses of one definition by another: (user, used, span of the use).
    calls: Vec<(ItemId, ItemId, Span)>,
    /// Point-free definitions whose signature is being inferred.
    point_free_in_progress: Vec<ItemId>,
    /// The items being checked, innermost last, each with how many errors
    /// were attributed to it so far: a constant, data type, space or
    /// point-free definition is checked on first use, inside the item that
    /// uses it. An error is attributed to the innermost.
    current: Vec<(ItemId, usize)>,
    /// Items an error was attributed to (from loading and naming, then
    /// from checking).
    failed: BTreeSet<ItemId>,
}

/// What a name means in a type or size position of one definition.
#[derive(Default, Clone)]
struct TypeEnv {
    /// Size parameters in scope.
    sizes: Vec<(String, Var)>,
    /// Type parameters in scope (functor or data declarations).
    type_params: Vec<String>,
    /// Whether `X` is the carrier (inside a functor's right-hand side).
    in_functor: bool,
}

impl Checker<'_, '_> {
    fn run(&mut self) {
        let ids: Vec<ItemId> = self.program.item_ids().collect();
        // Functors get ids first so that any type may refer to any functor.
        for &id in &ids {
            if let ItemKind::Functor(f) = &self.program.item(id).kind {
                let fid = FunctorId(self.out.functors.len() as u32);
                self.functor_ids.insert(id, fid);
                self.out.functors.push(FunctorInfo {
                    name: f.name.node.clone(),
                    params: f.params.iter().map(|p| p.node.clone()).collect(),
                    ctors: Vec::new(),
                    span: f.name.span,
                });
            }
        }
        let program = self.program;
        for &id in &ids {
            self.within(id, |c| match &program.item(id).kind {
                ItemKind::Const(_) => {
                    c.const_value(id);
                }
                ItemKind::Functor(f) => c.check_functor(id, f),
                ItemKind::Data(_) => {
                    c.data_info(id);
                }
                ItemKind::Group(g) => c.check_group(g),
                ItemKind::Space(_) => {
                    c.space_value(id);
                }
                _ => {}
            });
        }
        // Headers before bodies, so that a body may use any definition.
        for &id in &ids {
            self.within(id, |c| match &program.item(id).kind {
                ItemKind::Def(d) => c.def_header(id, d),
                ItemKind::Algebra(a) => c.algebra_header(id, a),
                ItemKind::Coalgebra(a) => c.coalgebra_header(id, a),
                _ => {}
            });
        }
        for &id in &ids {
            self.within(id, |c| match &program.item(id).kind {
                ItemKind::Def(d) => c.def_body(id, d),
                ItemKind::Algebra(a) => c.algebra_cases(id, a),
                ItemKind::Coalgebra(a) => c.coalgebra_cases(id, a),
                _ => {}
            });
        }
        self.report_definition_cycles();
        for &id in &ids {
            if let ItemKind::Train(t) = &program.item(id).kind {
                self.within(id, |c| c.check_train(t));
            }
        }
    }

    // ------------------------------------------------------------ helpers

    /// Reports an error of the item being checked.
    fn error(&mut self, d: Diagnostic) {
        debug_assert!(
            !self.current.is_empty(),
            "internal error: an error reported outside every item: {d:?}"
        );
        if let Some((item, count)) = self.current.last_mut() {
            *count += 1;
            self.failed.insert(*item);
        }
        self.diags.push(d);
    }

    /// Reports an error of `item`, which need not be the item being
    /// checked (a cycle is found where it closes, and blames the item it
    /// runs through).
    fn error_in(&mut self, item: ItemId, d: Diagnostic) {
        self.failed.insert(item);
        self.diags.push(d);
    }

    /// How many errors were attributed to the item being checked so far.
    fn errors_here(&self) -> usize {
        self.current.last().map_or(0, |(_, count)| *count)
    }

    /// Runs `f` with `item` as the item being checked.
    fn within<T>(&mut self, item: ItemId, f: impl FnOnce(&mut Self) -> T) -> T {
        self.current.push((item, 0));
        let out = f(self);
        self.current.pop();
        out
    }

    fn new_var(&mut self, name: &str) -> Var {
        self.out.var_names.push(name.to_string());
        Var((self.out.var_names.len() - 1) as u32)
    }

    /// Displays a type with this program's names.
    fn show(&self, ty: &Ty) -> String {
        TyDisplay {
            ty,
            namer: &self.out,
        }
        .to_string()
    }

    fn show_shape(&self, s: &Shape) -> String {
        self.show(&Ty::tensor(s.clone()))
    }

    /// An E0201 for `name`, with a "did you mean" among `candidates`.
    fn unknown(&mut self, name: &Ident, what: &str, candidates: Vec<String>) {
        if self.program.is_unparsed(&name.node) {
            return;
        }
        let mut d = Diagnostic::error(
            "E0201",
            format!("unknown {what} `{}`", name.node),
            name.span,
            "not found in this scope",
        );
        // A library name that is no global at all: its module is not imported.
        let library = match self.program.lookup(&name.node) {
            Some(_) => None,
            None => crate::resolve::stdlib_module_declaring(&name.node),
        };
        if let Some(module) = library {
            d = d.with_help(format!(
                "`{}` is defined in `{module}`: add `import {module}` at the top of the file",
                name.node
            ));
        } else if let Some(c) = closest(&name.node, candidates.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        self.error(d);
    }

    /// Global names whose item satisfies `pred`, for suggestions.
    fn globals_where(&self, pred: impl Fn(&ItemKind) -> bool) -> Vec<String> {
        self.program
            .globals
            .iter()
            .filter(|(_, id)| pred(&self.program.item(**id).kind))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Records that `user` refers to `used`, for cycle detection.
    fn record_use(&mut self, user: Option<ItemId>, used: ItemId, span: Span) {
        if let Some(user) = user {
            self.calls.push((user, used, span));
        }
    }

    /// E0203 for every cycle of definitions using each other (a layer or
    /// model that calls itself, directly or not).
    fn report_definition_cycles(&mut self) {
        let mut edges: IndexMap<ItemId, Vec<(ItemId, Span)>> = IndexMap::new();
        for (a, b, s) in &self.calls {
            edges.entry(*a).or_default().push((*b, *s));
        }
        let mut color: HashMap<ItemId, u8> = HashMap::new();
        let mut reported: Vec<ItemId> = Vec::new();
        let starts: Vec<ItemId> = edges.keys().copied().collect();
        for start in starts {
            let mut stack: Vec<(ItemId, usize)> = vec![(start, 0)];
            if color.get(&start).copied().unwrap_or(0) != 0 {
                continue;
            }
            color.insert(start, 1);
            while let Some((node, i)) = stack.pop() {
                let out = edges.get(&node).cloned().unwrap_or_default();
                if i < out.len() {
                    stack.push((node, i + 1));
                    let (next, span) = out[i];
                    match color.get(&next).copied().unwrap_or(0) {
                        0 => {
                            color.insert(next, 1);
                            stack.push((next, 0));
                        }
                        1 if !reported.contains(&next) => {
                            reported.push(next);
                            let name = crate::resolve::declared_name(self.program.item(next))
                                .map(|n| n.node.clone())
                                .unwrap_or_default();
                            self.error_in(
                                node,
                                Diagnostic::error(
                                    "E0203",
                                    format!("`{name}` is defined in terms of itself"),
                                    span,
                                    "this use closes the cycle",
                                )
                                .with_help(
                                    "a definition cannot use itself; write recursion as a `fold` over a data type",
                                ),
                            );
                        }
                        _ => {}
                    }
                } else {
                    color.insert(node, 2);
                }
            }
        }
    }
}

impl Namer for Checked {
    fn var(&self, v: Var) -> String {
        self.var_names
            .get(v.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("?{}", v.0))
    }

    fn data(&self, co: bool, f: FunctorId) -> String {
        if let Some(name) = self.data_names.get(&(co, f)) {
            return name.clone();
        }
        let fname = self
            .functors
            .get(f.0 as usize)
            .map_or("?", |i| i.name.as_str());
        format!("{} {}", if co { "cofix" } else { "fix" }, fname)
    }

    fn param(&self, i: u32) -> String {
        format!("A{i}")
    }
}

/// Returns the size variables' substitution for instantiating `params`
/// with `args`.
fn size_subst(params: &[(String, Var)], args: &[Poly]) -> impl Fn(Var) -> Option<Poly> + use<> {
    let map: HashMap<Var, Poly> = params
        .iter()
        .map(|(_, v)| *v)
        .zip(args.iter().cloned())
        .collect();
    move |v| map.get(&v).cloned()
}
