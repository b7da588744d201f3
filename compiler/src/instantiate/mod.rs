//! Instantiation: a checked model → one IR function for one example.
//!
//! Size parameters are monomorphised (every size becomes a number); every
//! syntactic occurrence of a layer or a `fold`/`unfold` is an *instance*
//! with its own parameter slots, and a `let`-bound instance applied twice
//! uses the same slots (§4.2). Instances are inlined: the IR has one
//! function per model, with structured regions for the recursion schemes.
//!
//! Slots are named by the path of instances from the model: the model's
//! own parameters by their names (`V`), an instance's as `dense.W`, a
//! second occurrence of the same layer in one body as `dense#2.W`, nested
//! ones as `lift.dense.W`.
//!
//! Instantiation reads the checked program's HIR (`crate::hir`): names are
//! already resolved, sizes are polynomials, and what the checker decided
//! (the type of each expression, the channel axes `norm` and `gate` keep,
//! a named argument's value) is read from it rather than worked out again.
//!
//! The IR builder borrows the module, so data types and bases must be in
//! the module before the function is built. Lowering therefore runs again
//! from scratch whenever it meets a data type or a basis the module lacks (a
//! handful of times at most, one per distinct data type or equivariant
//! parameter declaration).
//!
//! An equivariant or invariant parameter is a slot of its coefficients in
//! the derived basis (shape `[free]`), expanded by `basis_expand` into the
//! dense map (shape `B ++ A`) or vector (shape `B`); `W @ x` with an
//! equivariant `W` (a `Ty::Map` in the HIR) contracts all of `x`'s axes
//! (`apply`).

mod expr;
mod structured;

use crate::check::size::{Poly, Var};
use crate::check::types::{Ty, TyDisplay};
use crate::check::{AlgebraInfo, Checked, ParamInfo, ParamKind};
use crate::equivariance::Tyings;
use crate::hir::{Body, BodyKind, ExprId, LocalId};
use crate::resolve::{ItemId, Program};
use cdlc_grammar::Span;
use cdlc_ir::{self as ir, FunctionBuilder};
use cdlc_runtime::init::Init;
use cdlc_runtime::value::{DataDecl, DataType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use structured::Structured;

/// A parameter slot of the instantiated model, with what initialising it
/// needs.
#[derive(Clone, Debug)]
pub struct SlotInfo {
    /// The qualified name.
    pub name: String,
    /// The slot's shape.
    pub shape: Vec<usize>,
    /// The parameter's shape in weights files (`weights.safetensors`): the
    /// slot's shape for a plain parameter; `[free]` for the coefficients of
    /// an equivariant or invariant parameter, in the order `--emit tying`
    /// prints its basis, whichever way the model applies them (the slot of
    /// a map applied per channel pair is `[out channels, in channels, k]`,
    /// the same numbers in the same order).
    pub stored_shape: Vec<usize>,
    /// The initialiser, as the checker validated it.
    pub init: Init,
    /// For the coefficients of an equivariant or invariant parameter with a
    /// random initialiser: the standard deviation of each coefficient, so
    /// that the expanded map's entries have the variance the initialiser
    /// gives a dense map (`Basis::init_std`). Draw coefficient `k` with
    /// mean 0 and this deviation: uniformly on `±√3·σ_k` for `glorot` and
    /// `uniform`, normally otherwise (see [`SlotInfo::initial_values`]).
    /// `None` for plain parameters and for `zeros`/`ones`, which use the
    /// initialiser on the slot's shape as it is.
    pub coefficient_std: Option<Vec<f64>>,
}

impl SlotInfo {
    /// The slot's initial values, drawn from `seed`.
    pub fn initial_values(&self, seed: u64) -> cdlc_runtime::value::Tensor {
        let Some(std) = &self.coefficient_std else {
            return cdlc_runtime::init::init_tensor(&self.init, &self.shape, seed);
        };
        let uniform = matches!(self.init, Init::Glorot | Init::Uniform(..));
        let mut rng = cdlc_equivariance::Rng::new(seed);
        let data = std
            .iter()
            .map(|s| {
                if uniform {
                    (2.0 * rng.uniform() - 1.0) * 3f64.sqrt() * s
                } else {
                    rng.normal() * s
                }
            })
            .collect();
        cdlc_runtime::value::Tensor::new(self.shape.clone(), data)
    }
}

/// A model as one IR function.
#[derive(Clone, Debug)]
pub struct Instantiated {
    /// The module holding the function, its data types and bases.
    pub module: ir::Module,
    /// The model's function.
    pub func: ir::FuncId,
    /// The parameter slots in slot order.
    pub slots: Vec<SlotInfo>,
    /// The type of each input, as data loaders check it.
    pub inputs: Vec<DataType>,
    /// The source span of each recursion op of the function (`fold`,
    /// `hylo`, `unfold`), by its value, in the order they were built: where
    /// a message about one of them points.
    pub spans: Vec<(ir::Value, Span)>,
    /// The argument of each application `f(x)` in the model's own body
    /// that is built in the function's top-level block, by the
    /// application's expression: what `measure --per-layer` evaluates to
    /// measure a layer on the values it receives inside the model.
    pub applied: Vec<AppliedArg>,
}

/// The argument of one application `f(x)` in a model's own body.
#[derive(Clone, Debug)]
pub struct AppliedArg {
    /// The application.
    pub expr: crate::hir::ExprId,
    /// Its argument, a value of the function's top-level block.
    pub arg: ir::Value,
    /// The sizes `f` is instantiated with there (empty for a function
    /// that is not a named definition).
    pub sizes: HashMap<Var, i64>,
}

impl Instantiated {
    /// The source span of the recursion op `v` of the model's function.
    pub fn span_of(&self, v: ir::Value) -> Option<Span> {
        self.spans.iter().find(|(w, _)| *w == v).map(|(_, s)| *s)
    }
}

/// Why a model cannot be instantiated yet: a limit of this compiler, not
/// an error in the program (those were reported by the checker).
#[derive(Clone, Debug, PartialEq)]
pub struct Unsupported {
    /// What is not supported.
    pub what: String,
    /// Where.
    pub span: Span,
}

enum Restart {
    /// The module needs this data type first.
    Data(Arc<DataDecl>),
    /// The module needs this basis first.
    Basis(ir::Basis),
    /// A construct this compiler does not lower yet.
    Unsupported(Unsupported),
}

/// Instantiates model `model` (which must have checked without errors),
/// solving the tying of its equivariant parameters.
pub fn instantiate(
    program: &Program,
    checked: &Checked,
    model: ItemId,
) -> Result<Instantiated, Unsupported> {
    let tyings = crate::equivariance::tyings(program, checked);
    instantiate_with(program, checked, &tyings, model)
}

/// Instantiates model `model` (or a layer without size parameters) with
/// the tyings already derived (`Compilation::tyings`).
pub fn instantiate_with(
    program: &Program,
    checked: &Checked,
    tyings: &Tyings,
    model: ItemId,
) -> Result<Instantiated, Unsupported> {
    instantiate_forms(program, checked, tyings, model, HashMap::new(), false)
}

/// `instantiate_with` for a definition with size parameters, at `sizes`
/// (as an application in another body instantiates it).
pub fn instantiate_sized(
    program: &Program,
    checked: &Checked,
    tyings: &Tyings,
    item: ItemId,
    sizes: HashMap<Var, i64>,
) -> Result<Instantiated, Unsupported> {
    instantiate_forms(program, checked, tyings, item, sizes, false)
}

/// `instantiate_with`, with every equivariant map expanded to its dense
/// map instead of applied in a structured form: the reference the
/// structured forms are tested against (same slots, same numbers).
pub fn instantiate_dense(
    program: &Program,
    checked: &Checked,
    tyings: &Tyings,
    model: ItemId,
) -> Result<Instantiated, Unsupported> {
    instantiate_forms(program, checked, tyings, model, HashMap::new(), true)
}

fn instantiate_forms(
    program: &Program,
    checked: &Checked,
    tyings: &Tyings,
    model: ItemId,
    sizes: HashMap<Var, i64>,
    dense: bool,
) -> Result<Instantiated, Unsupported> {
    let mut module = ir::Module::new();
    loop {
        match Lowerer::run(program, checked, tyings, &module, model, &sizes, dense) {
            Ok((func, slots, inputs, spans, applied)) => {
                let func = module.add_function(func);
                return Ok(Instantiated {
                    module,
                    func,
                    slots,
                    inputs,
                    spans,
                    applied,
                });
            }
            Err(Restart::Data(decl)) => {
                module.add_data(decl);
            }
            Err(Restart::Basis(basis)) => {
                module.add_basis(basis);
            }
            Err(Restart::Unsupported(u)) => return Err(u),
        }
    }
}

/// `r`, with an error that has no place yet placed at `span`.
fn located<T>(r: R<T>, span: Span) -> R<T> {
    match r {
        Err(Restart::Unsupported(u)) if u.span == Span::default() => {
            Err(Restart::Unsupported(Unsupported { span, ..u }))
        }
        r => r,
    }
}

/// Where the `i`-th input of `model` is typed: its argument's type, or the
/// model's name when it is written without arguments.
fn input_span(program: &Program, model: ItemId, i: usize) -> Span {
    use cdlc_grammar::ast::{DefBody, ItemKind};
    match &program.item(model).kind {
        ItemKind::Def(d) => match &d.body {
            DefBody::Block { args, .. } if i < args.len() => args[i].ty.span,
            _ => d.name.span,
        },
        _ => program.item(model).span,
    }
}

/// A morphism as the lowering sees it.
enum Morph {
    /// An instance of a layer or model.
    Def(Rc<Inst>),
    /// A pointwise function.
    Pointwise(ir::UnOp),
    /// `f >> g`
    Compose(Rc<Morph>, Rc<Morph>),
    /// `id`
    Id,
    /// `fold alg` with the algebra's instance.
    Fold(Rc<Inst>, Span),
    /// `hylo alg by halves`, with where it is written.
    Hylo(Rc<Inst>, Span),
}

/// One instance: its sizes, its slots and the instances inside it.
struct Inst {
    item: ItemId,
    /// The value of each of the item's size parameters.
    sizes: HashMap<Var, i64>,
    prefix: String,
    /// The slots of the item's parameters, by index, created on first use.
    params: RefCell<HashMap<usize, ir::Value>>,
    /// Instances created by the occurrences in the item's body, by node.
    children: RefCell<HashMap<ExprId, Rc<Morph>>>,
    child_names: RefCell<HashMap<String, usize>>,
}

#[derive(Clone)]
enum Local {
    Value(ir::Value),
    Morph(Rc<Morph>),
}

/// The body being lowered for one instance, with its locals so far.
struct Frame<'a> {
    inst: Rc<Inst>,
    body: &'a Body,
    locals: HashMap<LocalId, Local>,
}

impl<'a> Frame<'a> {
    fn new(inst: &Rc<Inst>, body: &'a Body) -> Frame<'a> {
        Frame {
            inst: inst.clone(),
            body,
            locals: HashMap::new(),
        }
    }
}

struct Lowerer<'a> {
    program: &'a Program,
    checked: &'a Checked,
    tyings: &'a Tyings,
    b: FunctionBuilder<'a>,
    slots: Vec<SlotInfo>,
    /// Equivariant maps applied through their basis rather than expanded:
    /// the coefficient slot's value and how to apply it.
    structured: HashMap<ir::Value, Rc<Structured>>,
    /// Every equivariant map expanded to the dense map (`instantiate_dense`).
    dense: bool,
    /// The source span of each recursion op built so far.
    spans: Vec<(ir::Value, Span)>,
    /// The top-level arguments of the model's own applications so far.
    applied: Vec<AppliedArg>,
}

type R<T> = Result<T, Restart>;

/// A lowered model: its function, slots, input types, the spans of its
/// recursion ops and the arguments of its body's applications.
type Lowered = (
    ir::Function,
    Vec<SlotInfo>,
    Vec<DataType>,
    Vec<(ir::Value, Span)>,
    Vec<AppliedArg>,
);

impl<'a> Lowerer<'a> {
    fn run(
        program: &'a Program,
        checked: &'a Checked,
        tyings: &'a Tyings,
        module: &'a ir::Module,
        model: ItemId,
        sizes: &HashMap<Var, i64>,
        dense: bool,
    ) -> R<Lowered> {
        let info = checked
            .defs
            .get(&model)
            .expect("a checked model has a signature");
        let mut l = Lowerer {
            program,
            checked,
            tyings,
            b: FunctionBuilder::new(module, info.name.clone()),
            slots: Vec::new(),
            structured: HashMap::new(),
            dense,
            spans: Vec::new(),
            applied: Vec::new(),
        };
        let root = Rc::new(Inst {
            item: model,
            sizes: sizes.clone(),
            prefix: String::new(),
            params: RefCell::new(HashMap::new()),
            children: RefCell::new(HashMap::new()),
            child_names: RefCell::new(HashMap::new()),
        });
        let several =
            matches!(l.body(model).kind, BodyKind::Block { ref args, .. } if args.len() != 1);
        let arg_tys: Vec<Ty> = match &info.dom {
            Ty::Tuple(ts) if several => ts.clone(),
            t => vec![t.clone()],
        };
        let mut inputs = Vec::new();
        let mut values = Vec::new();
        for (i, t) in arg_tys.iter().enumerate() {
            let t = &l.subst(&root, t);
            let at = input_span(program, model, i);
            inputs.push(located(l.data_type(t), at)?);
            let ty = located(l.ir_type(t), at)?;
            values.push(l.b.input(ty));
        }
        let arg = if values.len() == 1 {
            values[0]
        } else {
            l.b.tuple(values.clone())
        };
        let out = l.apply_def(&root, arg)?;
        let func = l.b.finish(out);
        Ok((func, l.slots, inputs, l.spans, l.applied))
    }

    /// The HIR body of a layer, model, algebra or coalgebra that checked.
    fn body(&self, item: ItemId) -> &'a Body {
        self.checked
            .hir
            .body(item)
            .expect("an item that checked without errors has a body")
    }

    // ------------------------------------------------------------ types

    fn unsupported<T>(&self, what: impl Into<String>, span: Span) -> R<T> {
        Err(Restart::Unsupported(Unsupported {
            what: what.into(),
            span,
        }))
    }

    /// A concrete checker type as an IR type.
    fn ir_type(&mut self, t: &Ty) -> R<ir::Type> {
        Ok(match t {
            Ty::Tensor(s, _) => ir::Type::Tensor(concrete(s)),
            Ty::Tuple(ts) => ir::Type::Tuple(ts.iter().map(|t| self.ir_type(t)).collect::<R<_>>()?),
            Ty::Data { .. } => ir::Type::Data(self.data_id(t)?),
            other => panic!("internal error: no IR type for {other:?}"),
        })
    }

    fn data_id(&mut self, t: &Ty) -> R<ir::DataId> {
        let DataType::Data(decl) = self.data_type(t)? else {
            unreachable!("data_type of a data type")
        };
        match self.b.module().find_data(&decl) {
            Some(id) => Ok(id),
            None => Err(Restart::Data(decl)),
        }
    }

    /// A concrete checker type as the runtime's data type (shared with the
    /// checker's data checks).
    fn data_type(&self, t: &Ty) -> R<DataType> {
        match crate::check::runtime_types::data_type(self.checked, t) {
            Some(d) => Ok(d),
            None => {
                let shown = TyDisplay {
                    ty: t,
                    namer: self.checked,
                };
                // The caller places the error (`located`): at the model's
                // argument or at the fold whose data holds the type.
                self.unsupported(
                    format!(
                        "values of type `{shown}`: a model's inputs and the structures it \
                         folds hold tensors, tuples and data types, and the unit type `1` \
                         has no runtime value"
                    ),
                    Span::default(),
                )
            }
        }
    }

    // ------------------------------------------------------------ instances

    /// The size parameters and parameters of a layer, model, algebra or
    /// coalgebra.
    fn signature(&self, item: ItemId) -> (&'a [(String, Var)], &'a [ParamInfo]) {
        match self.checked.defs.get(&item) {
            Some(info) => (&info.size_params, &info.params),
            None => {
                let a = self.alg_info(item);
                (&a.size_params, &a.params)
            }
        }
    }

    fn new_child(&mut self, parent: &Rc<Inst>, item: ItemId, sizes: Vec<i64>) -> Rc<Inst> {
        let name = crate::resolve::declared_name(self.program.item(item))
            .map(|n| n.node.clone())
            .unwrap_or_default();
        let k = {
            let mut names = parent.child_names.borrow_mut();
            let k = names.entry(name.clone()).or_insert(0);
            *k += 1;
            *k
        };
        let local = if k == 1 { name } else { format!("{name}#{k}") };
        let prefix = if parent.prefix.is_empty() {
            local
        } else {
            format!("{}.{local}", parent.prefix)
        };
        let (size_params, _) = self.signature(item);
        Rc::new(Inst {
            item,
            sizes: size_params.iter().map(|(_, v)| *v).zip(sizes).collect(),
            prefix,
            params: RefCell::new(HashMap::new()),
            children: RefCell::new(HashMap::new()),
            child_names: RefCell::new(HashMap::new()),
        })
    }

    /// The slot of parameter `index` of instance `inst`, created on first
    /// use.
    fn param(&mut self, inst: &Rc<Inst>, index: usize) -> R<ir::Value> {
        if let Some(v) = inst.params.borrow().get(&index) {
            return Ok(*v);
        }
        let (_, params) = self.signature(inst.item);
        let p = &params[index];
        let ty = self.subst(inst, &p.ty);
        let name = if inst.prefix.is_empty() {
            p.name.clone()
        } else {
            format!("{}.{}", inst.prefix, p.name)
        };
        let init = p
            .initialiser
            .clone()
            .expect("an item that checked without errors has valid initialisers");
        let v = match &p.kind {
            ParamKind::Plain => {
                let shape = concrete(ty.shape().expect("a plain parameter is a tensor"));
                let v = self.b.param(name.clone(), &shape);
                self.slots.push(SlotInfo {
                    name,
                    stored_shape: shape.clone(),
                    shape,
                    init,
                    coefficient_std: None,
                });
                v
            }
            ParamKind::Equivariant { .. } | ParamKind::Invariant(_) => {
                self.tied_param(inst, p, name, init)?
            }
        };
        inst.params.borrow_mut().insert(index, v);
        Ok(v)
    }

    /// An equivariant or invariant parameter: a slot of coefficients in its
    /// derived basis, expanded to the dense map.
    fn tied_param(&mut self, inst: &Inst, p: &ParamInfo, name: String, init: Init) -> R<ir::Value> {
        // The solver derives a tying for every parameter that checked, or
        // reports why it cannot (E0503, E0505, E0703), and a program with
        // an error is never instantiated: a missing tying is a bug.
        let tying = self.tyings.get(inst.item, &p.name).unwrap_or_else(|| {
            panic!(
                "internal error: no tying was derived for the checked parameter `{}`",
                p.name
            )
        });
        let coefficient_std = dense_init(&init).map(|d| tying.basis.init_std(d));
        let structured = (!self.dense).then(|| Structured::worth_it(&tying.basis));
        if let Some(mut st) = structured.flatten() {
            if let Some(gather) = st.pending_basis() {
                let name = format!("{}.{}", tying.owner, tying.param);
                match self.b.module().bases.iter().find(|(_, b)| b.name == name) {
                    Some((id, _)) => st.bind(id),
                    None => {
                        return Err(Restart::Basis(ir::Basis {
                            name,
                            ..gather.clone()
                        }));
                    }
                }
            }
            // The coefficients in their natural layout (out channels, in
            // channels, inner element): the same numbers as `[free]`.
            let c = self.b.param(name.clone(), &st.coeff_shape);
            self.slots.push(SlotInfo {
                name,
                shape: st.coeff_shape.clone(),
                stored_shape: vec![tying.basis.free()],
                init,
                coefficient_std,
            });
            self.structured.insert(c, Rc::new(st));
            return Ok(c);
        }
        let basis_name = format!("{}.{}", tying.owner, tying.param);
        let found = self
            .b
            .module()
            .bases
            .iter()
            .find(|(_, b)| b.name == basis_name)
            .map(|(id, _)| id);
        let Some(basis) = found else {
            let b = &tying.basis;
            if b.dense() > u32::MAX as usize {
                let what = format!(
                    "an equivariant map of {} entries ({} coefficients) without a structured form: its dense map is too large to build",
                    b.dense(),
                    b.free()
                );
                return self.unsupported(what, p.span);
            }
            return Err(Restart::Basis(ir::Basis::vector(
                basis_name,
                b.dense_shape(),
                (0..b.free())
                    .map(|k| {
                        b.element(k)
                            .into_iter()
                            .map(|(i, v)| (u32::try_from(i).expect("a small tensor"), v))
                            .collect()
                    })
                    .collect(),
            )));
        };
        let free = tying.basis.free();
        let c = self.b.param(name.clone(), &[free]);
        self.slots.push(SlotInfo {
            name,
            shape: vec![free],
            stored_shape: vec![free],
            init,
            coefficient_std,
        });
        Ok(self.b.basis_expand(c, basis))
    }

    /// A type of the instance's item with its sizes filled in.
    fn subst(&self, inst: &Inst, t: &Ty) -> Ty {
        t.subst_sizes(&|v| inst.sizes.get(&v).map(|c| Poly::constant(*c)))
    }

    /// A size of the instance's item's body, as a number.
    fn size(&self, p: &Poly, inst: &Inst) -> i64 {
        p.substitute(&|v| inst.sizes.get(&v).map(|c| Poly::constant(*c)))
            .as_constant()
            .expect("a body's sizes are over its item's size parameters, all instantiated")
    }

    fn alg_info(&self, id: ItemId) -> &'a AlgebraInfo {
        self.checked
            .algebras
            .get(&id)
            .expect("a checked algebra has a header")
    }

    /// Applies an instance of a layer or model to `arg`, inlining its body.
    fn apply_def(&mut self, inst: &Rc<Inst>, arg: ir::Value) -> R<ir::Value> {
        let body = self.body(inst.item);
        let mut frame = Frame::new(inst, body);
        match &body.kind {
            BodyKind::PointFree(e) => {
                let m = self.morph(*e, &mut frame)?;
                self.apply_morph(&m, arg)
            }
            BodyKind::Block { args, value } => {
                if let [only] = args.as_slice() {
                    frame.locals.insert(*only, Local::Value(arg));
                } else {
                    for (i, a) in args.iter().enumerate() {
                        let v = self.b.get(arg, i as u32);
                        frame.locals.insert(*a, Local::Value(v));
                    }
                }
                self.value(*value, &mut frame)
            }
            BodyKind::Cases { .. } => {
                unreachable!("an instance applied as a layer is a definition")
            }
        }
    }
}

/// The dense initialiser an equivariant parameter's coefficients imitate;
/// `None` for `zeros` and `ones`, which are used as they are.
fn dense_init(init: &Init) -> Option<cdlc_equivariance::DenseInit> {
    use cdlc_equivariance::DenseInit;
    Some(match init {
        Init::Glorot => DenseInit::Glorot,
        Init::He => DenseInit::He,
        Init::Orthogonal => DenseInit::Orthogonal,
        Init::Normal(std) => DenseInit::Normal(*std),
        Init::Uniform(lo, hi) => DenseInit::Uniform(*lo, *hi),
        Init::Zeros | Init::Ones => return None,
    })
}

/// A concrete shape.
fn concrete(s: &[Poly]) -> Vec<usize> {
    s.iter()
        .map(|p| {
            let v = p.as_constant().expect("instantiated sizes are constants");
            usize::try_from(v).expect("the checker rejects negative sizes")
        })
        .collect()
}
