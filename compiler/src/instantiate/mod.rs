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
//! The IR builder borrows the module, so data types and bases must be in
//! the module before the function is built. Lowering therefore runs again
//! from scratch whenever it meets a data type or a basis the module lacks (a
//! handful of times at most, one per distinct data type or equivariant
//! parameter declaration).
//!
//! An equivariant or invariant parameter is a slot of its coefficients in
//! the derived basis (shape `[free]`), expanded by `basis_expand` into the
//! dense map (shape `B ++ A`) or vector (shape `B`); `W @ x` with an
//! equivariant `W` contracts all of `x`'s axes (`apply`). `norm` and `gate`
//! take the channel axes of their argument from its space (`R[c] * S` has
//! the axes of `R[c]`), and fall back to "the first axis of a tensor of
//! rank ≥ 2" for values with no space, as the checker does.

use crate::check::types::{Ty, TyDisplay};
use crate::check::{AlgebraInfo, Checked, ParamKind};
use crate::equivariance::{Tyings, channel_axes};
use crate::resolve::{ItemId, Program};
use cdlc_grammar::Span;
use cdlc_grammar::ast::{self, BinOp, DefBody, ExprKind, ItemKind, Pattern, SizeKind, Stmt};
use cdlc_ir::{self as ir, FunctionBuilder, Source, Split, UnOp};
use cdlc_runtime::value::{DataDecl, DataType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

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
    /// The initialiser as written.
    pub init: ast::Init,
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
            let init = cdlc_runtime::init::Init::from_call(&self.init.name.node, &self.init.args)
                .expect("the checker accepted the initialiser");
            return cdlc_runtime::init::init_tensor(&init, &self.shape, seed);
        };
        let uniform = matches!(self.init.name.node.as_str(), "glorot" | "uniform");
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
#[derive(Debug)]
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
    let mut module = ir::Module::new();
    loop {
        match Lowerer::run(program, checked, tyings, &module, model) {
            Ok((func, slots, inputs, spans)) => {
                let func = module.add_function(func);
                return Ok(Instantiated {
                    module,
                    func,
                    slots,
                    inputs,
                    spans,
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

/// A morphism as the lowering sees it.
enum Morph {
    /// An instance of a layer or model.
    Def(Rc<Inst>),
    /// A pointwise function.
    Pointwise(UnOp),
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
    sizes: HashMap<String, i64>,
    prefix: String,
    params: RefCell<HashMap<String, ir::Value>>,
    /// Instances created by syntactic occurrences inside this one, by span.
    children: RefCell<HashMap<(u32, u32, u32), Rc<Morph>>>,
    child_names: RefCell<HashMap<String, usize>>,
}

#[derive(Clone)]
enum Local {
    Value(ir::Value),
    Morph(Rc<Morph>),
}

struct Frame {
    inst: Rc<Inst>,
    locals: Vec<(String, Local)>,
}

impl Frame {
    /// The frame of one case of an algebra or coalgebra instance: its
    /// parameters, then the case's binders bound to the region's arguments.
    fn case(
        inst: &Rc<Inst>,
        params: &[(String, Local)],
        binders: &[cdlc_grammar::Ident],
        args: Vec<ir::Value>,
    ) -> Frame {
        let mut locals = params.to_vec();
        locals.extend(
            binders
                .iter()
                .zip(args)
                .map(|(b, v)| (b.node.clone(), Local::Value(v))),
        );
        Frame {
            inst: inst.clone(),
            locals,
        }
    }
}

struct Lowerer<'a> {
    program: &'a Program,
    checked: &'a Checked,
    tyings: &'a Tyings,
    b: FunctionBuilder<'a>,
    slots: Vec<SlotInfo>,
    /// Expanded equivariant maps, with the channel axes of their codomain.
    maps: HashMap<ir::Value, usize>,
    /// Equivariant maps applied through their basis rather than expanded:
    /// the coefficient slot's value and how to apply it.
    structured: HashMap<ir::Value, Rc<Structured>>,
    /// The channel axes of values whose space is known.
    channels: HashMap<ir::Value, usize>,
    /// The source span of each recursion op built so far.
    spans: Vec<(ir::Value, Span)>,
}

type R<T> = Result<T, Restart>;

/// A lowered model: its function, slots, input types and the spans of its
/// recursion ops.
type Lowered = (
    ir::Function,
    Vec<SlotInfo>,
    Vec<DataType>,
    Vec<(ir::Value, Span)>,
);

fn span_key(s: Span) -> (u32, u32, u32) {
    (s.file.0, s.start, s.end)
}

impl<'a> Lowerer<'a> {
    fn run(
        program: &'a Program,
        checked: &'a Checked,
        tyings: &'a Tyings,
        module: &'a ir::Module,
        model: ItemId,
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
            maps: HashMap::new(),
            structured: HashMap::new(),
            channels: HashMap::new(),
            spans: Vec::new(),
        };
        let root = Rc::new(Inst {
            item: model,
            sizes: HashMap::new(),
            prefix: String::new(),
            params: RefCell::new(HashMap::new()),
            children: RefCell::new(HashMap::new()),
            child_names: RefCell::new(HashMap::new()),
        });
        let ItemKind::Def(def) = &program.item(model).kind else {
            unreachable!("a model is a definition")
        };
        let arg_tys: Vec<Ty> = match (&def.body, &info.dom) {
            (DefBody::Block { args, .. }, Ty::Tuple(ts)) if args.len() != 1 => ts.clone(),
            (_, t) => vec![t.clone()],
        };
        let mut inputs = Vec::new();
        let mut values = Vec::new();
        for t in &arg_tys {
            inputs.push(l.data_type(t)?);
            let ty = l.ir_type(t)?;
            let v = l.b.input(ty);
            l.tag(v, t);
            values.push(v);
        }
        let arg = if values.len() == 1 {
            values[0]
        } else {
            l.b.tuple(values.clone())
        };
        let out = l.apply_def(&root, arg, def)?;
        let func = l.b.finish(out);
        Ok((func, l.slots, inputs, l.spans))
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
        let module = self.b.module();
        match module.data.iter().find(|(_, d)| d.decl == decl) {
            Some((id, _)) => Ok(id),
            None => Err(Restart::Data(decl)),
        }
    }

    /// A concrete checker type as the runtime's data type (shared with the
    /// checker's data checks), or "not supported yet" for `X` under another
    /// data type in any form but a list of children (a rose tree's
    /// `List(X)`), at the constructor that has it.
    fn data_type(&self, t: &Ty) -> R<DataType> {
        fn supported(d: &DataType) -> bool {
            match d {
                DataType::Data(decl) => ir::Module::supports_data(decl),
                DataType::Tuple(ts) => ts.iter().all(supported),
                DataType::Tensor(_) | DataType::Rec(_) => true,
            }
        }
        if let Some(d) = crate::check::runtime_types::data_type(self.checked, t)
            && supported(&d)
        {
            return Ok(d);
        }
        let shown = TyDisplay {
            ty: t,
            namer: self.checked,
        }
        .to_string();
        let span = match t {
            Ty::Data { functor, args, .. } => self.checked.functors[functor.0 as usize]
                .ctors
                .iter()
                .find(|c| {
                    c.fields.iter().any(|f| {
                        let f = f.instantiate(args, Some(&Ty::X));
                        matches!(&f, Ty::Data { .. } if f.mentions_x())
                    })
                })
                .map_or(Span::default(), |c| c.span),
            _ => Span::default(),
        };
        self.unsupported(
            format!(
                "values of type {shown} (`X` under a data type other than as a list of children, `List(X)`)"
            ),
            span,
        )
    }

    // ------------------------------------------------------------ instances

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
        let size_names: Vec<String> = match &self.program.item(item).kind {
            ItemKind::Def(d) => d.size_params.iter().map(|p| p.node.clone()).collect(),
            ItemKind::Algebra(a) => a.size_params.iter().map(|p| p.node.clone()).collect(),
            ItemKind::Coalgebra(c) => c.size_params.iter().map(|p| p.node.clone()).collect(),
            _ => Vec::new(),
        };
        Rc::new(Inst {
            item,
            sizes: size_names.into_iter().zip(sizes).collect(),
            prefix,
            params: RefCell::new(HashMap::new()),
            children: RefCell::new(HashMap::new()),
            child_names: RefCell::new(HashMap::new()),
        })
    }

    /// The slot of parameter `p` of instance `inst`, created on first use.
    fn param(
        &mut self,
        inst: &Rc<Inst>,
        p: &ast::Param,
        ty: &Ty,
        kind: &ParamKind,
    ) -> R<ir::Value> {
        if let Some(v) = inst.params.borrow().get(&p.name.node) {
            return Ok(*v);
        }
        let name = if inst.prefix.is_empty() {
            p.name.node.clone()
        } else {
            format!("{}.{}", inst.prefix, p.name.node)
        };
        let v = match kind {
            ParamKind::Plain => {
                let shape = concrete(ty.shape().expect("a plain parameter is a tensor"));
                let v = self.b.param(name.clone(), &shape);
                self.slots.push(SlotInfo {
                    name,
                    stored_shape: shape.clone(),
                    shape,
                    init: p.init.clone(),
                    coefficient_std: None,
                });
                v
            }
            ParamKind::Equivariant { to, .. } | ParamKind::Invariant(to) => {
                let v = self.tied_param(inst, p, name)?;
                let channels = channel_axes(to);
                if matches!(kind, ParamKind::Equivariant { .. }) {
                    self.maps.insert(v, channels);
                } else {
                    self.channels.insert(v, channels);
                }
                v
            }
        };
        inst.params.borrow_mut().insert(p.name.node.clone(), v);
        Ok(v)
    }

    /// An equivariant or invariant parameter: a slot of coefficients in its
    /// derived basis, expanded to the dense map.
    fn tied_param(&mut self, inst: &Inst, p: &ast::Param, name: String) -> R<ir::Value> {
        let Some(tying) = self.tyings.get(inst.item, &p.name.node) else {
            return self.unsupported(
                "an equivariant parameter whose tying could not be derived",
                p.span,
            );
        };
        let coefficient_std = dense_init(&p.init).map(|init| tying.basis.init_std(init));
        if let Some(st) = Structured::worth_it(&tying.basis) {
            // The coefficients in their natural layout (out channels, in
            // channels, inner element): the same numbers as `[free]`.
            let c = self.b.param(name.clone(), &st.coeff_shape);
            self.slots.push(SlotInfo {
                name,
                shape: st.coeff_shape.clone(),
                stored_shape: vec![tying.basis.free()],
                init: p.init.clone(),
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
            return Err(Restart::Basis(ir::Basis {
                name: basis_name,
                shape: b.dense_shape(),
                elements: (0..b.free())
                    .map(|k| {
                        b.element(k)
                            .into_iter()
                            .map(|(i, v)| (u32::try_from(i).expect("a small tensor"), v))
                            .collect()
                    })
                    .collect(),
            }));
        };
        let free = tying.basis.free();
        let c = self.b.param(name.clone(), &[free]);
        self.slots.push(SlotInfo {
            name,
            shape: vec![free],
            stored_shape: vec![free],
            init: p.init.clone(),
            coefficient_std,
        });
        Ok(self.b.basis_expand(c, basis))
    }

    /// Records the channel axes of a value of type `t`, when `t` is a space.
    fn tag(&mut self, v: ir::Value, t: &Ty) {
        if let Ty::Tensor(_, Some(sid)) = t
            && let Some(sv) = self.checked.space_table.get(sid.0 as usize)
        {
            self.channels.insert(v, channel_axes(sv));
        }
    }

    /// The channel axes of `x` for `norm` and `gate`.
    fn channel_axes_of(&self, x: ir::Value) -> u32 {
        let axes = match self.channels.get(&x) {
            Some(c) => *c,
            None => usize::from(self.b.shape_of(x).len() >= 2),
        };
        u32::try_from(axes).expect("a small rank")
    }

    /// Gives `out` the space of whichever operand has its shape.
    fn propagate(&mut self, out: ir::Value, operands: &[ir::Value]) {
        let shape = self.b.shape_of(out).to_vec();
        let from = operands
            .iter()
            .find(|o| self.channels.contains_key(o) && self.b.shape_of(**o) == shape.as_slice());
        if let Some(c) = from.and_then(|o| self.channels.get(o)).copied() {
            self.channels.insert(out, c);
        }
    }

    fn subst(&self, inst: &Inst, params: &[(String, crate::check::size::Var)], t: &Ty) -> Ty {
        let map: HashMap<crate::check::size::Var, i64> = params
            .iter()
            .map(|(n, v)| {
                (
                    *v,
                    *inst
                        .sizes
                        .get(n)
                        .expect("every size parameter is instantiated"),
                )
            })
            .collect();
        t.subst_sizes(&|v| map.get(&v).map(|c| crate::check::size::Poly::constant(*c)))
    }

    fn alg_info(&self, id: ItemId) -> &'a AlgebraInfo {
        self.checked
            .algebras
            .get(&id)
            .expect("a checked algebra has a header")
    }

    /// Applies an instance of a layer or model to `arg`, inlining its body.
    fn apply_def(&mut self, inst: &Rc<Inst>, arg: ir::Value, def: &'a ast::Def) -> R<ir::Value> {
        match &def.body {
            DefBody::PointFree(e) => {
                let mut frame = Frame {
                    inst: inst.clone(),
                    locals: Vec::new(),
                };
                let m = self.morph(e, &mut frame)?;
                self.apply_morph(&m, arg)
            }
            DefBody::Block { args, block, .. } => {
                let mut frame = Frame {
                    inst: inst.clone(),
                    locals: Vec::new(),
                };
                if args.len() == 1 {
                    frame
                        .locals
                        .push((args[0].name.node.clone(), Local::Value(arg)));
                } else {
                    for (i, a) in args.iter().enumerate() {
                        let v = self.b.get(arg, i as u32);
                        frame.locals.push((a.name.node.clone(), Local::Value(v)));
                    }
                }
                self.block(block, &mut frame)
            }
        }
    }

    // ------------------------------------------------------------ expressions

    fn block(&mut self, blk: &'a ast::Block, frame: &mut Frame) -> R<ir::Value> {
        let depth = frame.locals.len();
        for s in &blk.stmts {
            match s {
                Stmt::Param(p) => {
                    let v = self.def_param(p, frame)?;
                    frame.locals.push((p.name.node.clone(), Local::Value(v)));
                }
                Stmt::Let(pat, e) => {
                    let v = self.expr_or_morph(e, frame)?;
                    self.bind(pat, v, frame);
                }
            }
        }
        let r = self.value(&blk.result, frame)?;
        frame.locals.truncate(depth);
        Ok(r)
    }

    fn def_param(&mut self, p: &ast::Param, frame: &Frame) -> R<ir::Value> {
        let item = frame.inst.item;
        let (size_params, params) = match self.checked.defs.get(&item) {
            Some(info) => (&info.size_params, &info.params),
            None => {
                let a = self.alg_info(item);
                (&a.size_params, &a.params)
            }
        };
        let info = params
            .iter()
            .find(|q| q.name == p.name.node)
            .expect("the checker recorded every parameter");
        let ty = self.subst(&frame.inst, size_params, &info.ty);
        let inst = frame.inst.clone();
        self.param(&inst, p, &ty, &info.kind)
    }

    fn bind(&mut self, pat: &Pattern, v: Local, frame: &mut Frame) {
        match (pat, v) {
            (Pattern::Name(n), v) => frame.locals.push((n.node.clone(), v)),
            (Pattern::Tuple(ps, _), Local::Value(t)) => {
                for (i, p) in ps.iter().enumerate() {
                    let vi = self.b.get(t, i as u32);
                    self.bind(p, Local::Value(vi), frame);
                }
            }
            (Pattern::Tuple(..), Local::Morph(_)) => {
                unreachable!("the checker rejects destructuring a morphism")
            }
        }
    }

    fn lookup<'f>(frame: &'f Frame, name: &str) -> Option<&'f Local> {
        frame
            .locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l)
    }

    /// An expression that may be a value or a morphism (`let enc = dense[16, 8]`).
    fn expr_or_morph(&mut self, e: &'a ast::Expr, frame: &mut Frame) -> R<Local> {
        let is_morph = match &e.kind {
            ExprKind::Inst(..) | ExprKind::Fold(..) | ExprKind::Hylo { .. } | ExprKind::Id => true,
            ExprKind::Binary(BinOp::Compose, ..) => true,
            ExprKind::Name(n) => match Self::lookup(frame, &n.node) {
                Some(Local::Morph(_)) => true,
                Some(Local::Value(_)) => false,
                None => self
                    .program
                    .lookup(&n.node)
                    .is_some_and(|id| matches!(self.program.item(id).kind, ItemKind::Def(_))),
            },
            _ => false,
        };
        if is_morph {
            Ok(Local::Morph(self.morph(e, frame)?))
        } else {
            Ok(Local::Value(self.value(e, frame)?))
        }
    }

    fn value(&mut self, e: &'a ast::Expr, frame: &mut Frame) -> R<ir::Value> {
        match &e.kind {
            ExprKind::Number(x) => Ok(self.b.scalar(*x)),
            ExprKind::Name(n) => match Self::lookup(frame, &n.node) {
                Some(Local::Value(v)) => Ok(*v),
                _ => panic!(
                    "internal error: `{}` is not a value at {:?}",
                    n.node, n.span
                ),
            },
            ExprKind::Tuple(es) => {
                let vs = es
                    .iter()
                    .map(|x| self.value(x, frame))
                    .collect::<R<Vec<_>>>()?;
                Ok(self.b.tuple(vs))
            }
            ExprKind::Block(blk) => self.block(blk, frame),
            ExprKind::LetIn(p, v, body) => {
                let depth = frame.locals.len();
                let val = self.expr_or_morph(v, frame)?;
                self.bind(p, val, frame);
                let r = self.value(body, frame)?;
                frame.locals.truncate(depth);
                Ok(r)
            }
            ExprKind::Apply(f, args) => self.apply(f, args, frame),
            ExprKind::Binary(BinOp::MatMul, a, w_x) => {
                let (w, x) = (self.value(a, frame)?, self.value(w_x, frame)?);
                if let Some(st) = self.structured.get(&w).cloned() {
                    let y = st.apply(&mut self.b, w, x);
                    if let Some(channels) = self.maps.get(&w).copied() {
                        self.channels.insert(y, channels);
                    }
                    return Ok(y);
                }
                match self.maps.get(&w).copied() {
                    Some(channels) => {
                        let y = self.b.apply(w, x);
                        self.channels.insert(y, channels);
                        Ok(y)
                    }
                    None => Ok(self.b.matmul(w, x)),
                }
            }
            ExprKind::Binary(op, a, c) => {
                let (x, y) = (self.value(a, frame)?, self.value(c, frame)?);
                let op = match op {
                    BinOp::Add => ir::BinOp::Add,
                    BinOp::Sub => ir::BinOp::Sub,
                    BinOp::Mul => ir::BinOp::Mul,
                    BinOp::Div => ir::BinOp::Div,
                    BinOp::MatMul | BinOp::Compose => unreachable!("handled above"),
                };
                // The checker's broadcasting (a scalar, or `R[c]` against
                // `R[c, ...]`) is the IR's prefix broadcasting.
                let out = self.b.binary(op, x, y);
                self.propagate(out, &[x, y]);
                Ok(out)
            }
            ExprKind::Neg(a) => {
                let x = self.value(a, frame)?;
                let out = self.b.neg(x);
                self.propagate(out, &[x]);
                Ok(out)
            }
            ExprKind::Transpose(a, _) => {
                let x = self.value(a, frame)?;
                Ok(self.b.transpose(x))
            }
            ExprKind::UnfoldOver {
                coalg,
                sizes,
                from,
                over,
            } => {
                let init = self.value(from, frame)?;
                let xs = self.value(over, frame)?;
                self.unfold(coalg, sizes, init, Some(xs), None, e.span, frame)
            }
            ExprKind::UnfoldTake {
                coalg,
                sizes,
                from,
                take,
            } => {
                let init = self.value(from, frame)?;
                let k = self.size(take, &frame.inst);
                self.unfold(coalg, sizes, init, None, Some(k), e.span, frame)
            }
            ExprKind::Inst(..) | ExprKind::Fold(..) | ExprKind::Hylo { .. } | ExprKind::Id => {
                panic!("internal error: a morphism used as a value at {:?}", e.span)
            }
            ExprKind::Error => panic!("internal error: an error node reached instantiation"),
        }
    }

    fn apply(
        &mut self,
        f: &'a ast::Expr,
        args: &'a [ast::CallArg],
        frame: &mut Frame,
    ) -> R<ir::Value> {
        if let ExprKind::Name(n) = &f.kind
            && Self::lookup(frame, &n.node).is_none()
            && crate::check::BUILTINS.contains(&n.node.as_str())
        {
            return self.builtin(&n.node, args, frame);
        }
        let vals = args
            .iter()
            .map(|a| self.value(&a.value, frame))
            .collect::<R<Vec<_>>>()?;
        let arg = if vals.len() == 1 {
            vals[0]
        } else {
            self.b.tuple(vals)
        };
        let m = self.morph(f, frame)?;
        self.apply_morph(&m, arg)
    }

    fn builtin(&mut self, name: &str, args: &'a [ast::CallArg], frame: &mut Frame) -> R<ir::Value> {
        let mut pos = Vec::new();
        let mut axis = None;
        for a in args {
            match &a.name {
                None => pos.push(self.value(&a.value, frame)?),
                Some(_) => {
                    axis = Some(match &a.value.kind {
                        ExprKind::Number(x) => *x as u32,
                        ExprKind::Name(c) => {
                            *self.checked.consts.get(&c.node).expect("a checked axis") as u32
                        }
                        _ => unreachable!("the checker accepts only constant axes"),
                    })
                }
            }
        }
        let x = pos[0];
        Ok(match name {
            "sum" => self.b.reduce(ir::ReduceOp::Sum, x, axis),
            "mean" => self.b.reduce(ir::ReduceOp::Mean, x, axis),
            "max" => self.b.reduce(ir::ReduceOp::Max, x, axis),
            "softmax" => self.b.softmax(x),
            "log_softmax" => self.b.log_softmax(x),
            "norm" => {
                let keep = self.channel_axes_of(x);
                self.b.norm(x, keep)
            }
            "gate" => {
                let keep = self.channel_axes_of(x);
                let out = self.b.gate(x, keep);
                self.propagate(out, &[x]);
                out
            }
            "outer" => self.b.outer(x, pos[1]),
            "concat" => self.b.concat(x, pos[1]),
            "chunks" => {
                let k = axis.expect("the checker requires `parts`");
                let part = self.b.shape_of(x)[0] as u32 / k;
                let parts = (0..k)
                    .map(|i| {
                        self.b.op(ir::Op::Slice {
                            x,
                            start: i * part,
                            len: part,
                        })
                    })
                    .collect();
                self.b.tuple(parts)
            }
            other => unreachable!("built-in `{other}` has no lowering"),
        })
    }

    /// The morphism an expression denotes, creating instances for the
    /// syntactic occurrences it contains (once per enclosing instance).
    fn morph(&mut self, e: &'a ast::Expr, frame: &mut Frame) -> R<Rc<Morph>> {
        match &e.kind {
            ExprKind::Name(n) => {
                if let Some(Local::Morph(m)) = Self::lookup(frame, &n.node) {
                    return Ok(m.clone());
                }
                if let Some(op) = pointwise(&n.node) {
                    return Ok(Rc::new(Morph::Pointwise(op)));
                }
                self.child(e.span, &n.node, &[], frame, Morph::Def)
            }
            ExprKind::Inst(n, sizes) => self.child(e.span, &n.node, sizes, frame, Morph::Def),
            ExprKind::Id => Ok(Rc::new(Morph::Id)),
            ExprKind::Binary(BinOp::Compose, a, c) => {
                let (ma, mc) = (self.morph(a, frame)?, self.morph(c, frame)?);
                Ok(Rc::new(Morph::Compose(ma, mc)))
            }
            ExprKind::Fold(n, sizes) => {
                self.child(e.span, &n.node, sizes, frame, |i| Morph::Fold(i, e.span))
            }
            ExprKind::Hylo { alg, alg_sizes, .. } => {
                let span = e.span;
                self.child(span, &alg.node, alg_sizes, frame, |i| Morph::Hylo(i, span))
            }
            ExprKind::Block(_) | ExprKind::LetIn(..) => {
                self.unsupported("a block or `let ... in` whose value is a morphism", e.span)
            }
            _ => unreachable!("the checker accepts no other morphism expressions"),
        }
    }

    fn child(
        &mut self,
        span: Span,
        name: &str,
        sizes: &[ast::Size],
        frame: &mut Frame,
        make: impl FnOnce(Rc<Inst>) -> Morph,
    ) -> R<Rc<Morph>> {
        if let Some(m) = frame.inst.children.borrow().get(&span_key(span)) {
            return Ok(m.clone());
        }
        let item = self
            .program
            .lookup(name)
            .expect("the checker resolved this name");
        let sizes: Vec<i64> = sizes.iter().map(|s| self.size(s, &frame.inst)).collect();
        let parent = frame.inst.clone();
        let inst = self.new_child(&parent, item, sizes);
        let m = Rc::new(make(inst));
        frame
            .inst
            .children
            .borrow_mut()
            .insert(span_key(span), m.clone());
        Ok(m)
    }

    /// Applies a morphism to a value.
    fn apply_morph(&mut self, m: &Rc<Morph>, arg: ir::Value) -> R<ir::Value> {
        match m.as_ref() {
            Morph::Pointwise(op) => {
                let out = self.b.unary(*op, arg);
                self.propagate(out, &[arg]);
                Ok(out)
            }
            Morph::Id => Ok(arg),
            Morph::Compose(f, g) => {
                let y = self.apply_morph(f, arg)?;
                self.apply_morph(g, y)
            }
            Morph::Def(inst) => {
                let ItemKind::Def(def) = &self.program.item(inst.item).kind else {
                    unreachable!("a definition instance")
                };
                let out = self.apply_def(inst, arg, def)?;
                if let Some(info) = self.checked.defs.get(&inst.item) {
                    let cod = info.cod.clone();
                    self.tag(out, &cod);
                }
                Ok(out)
            }
            Morph::Fold(inst, span) => self.fold(inst, arg, Split::Structure, *span),
            Morph::Hylo(_, span) if matches!(self.b.type_of(arg), ir::Type::Seq(_)) => self
                .unsupported(
                    "`hylo ... by halves` over a computed list (a rose node's children or an unfold's outputs)",
                    *span,
                ),
            Morph::Hylo(inst, span) => self.fold(inst, arg, Split::Halves, *span),
        }
    }

    /// The algebra's parameters as locals, created once for the instance.
    fn algebra_params(
        &mut self,
        inst: &Rc<Inst>,
        params: &'a [ast::Param],
    ) -> R<Vec<(String, Local)>> {
        let info = self.alg_info(inst.item);
        let mut locals = Vec::new();
        for p in params {
            let q = info
                .params
                .iter()
                .find(|q| q.name == p.name.node)
                .expect("checked parameter");
            let ty = self.subst(inst, &info.size_params, &q.ty);
            let v = self.param(inst, p, &ty, &q.kind)?;
            locals.push((p.name.node.clone(), Local::Value(v)));
        }
        Ok(locals)
    }

    fn fold(
        &mut self,
        inst: &Rc<Inst>,
        input: ir::Value,
        split: Split,
        span: Span,
    ) -> R<ir::Value> {
        let ItemKind::Algebra(alg) = &self.program.item(inst.item).kind else {
            unreachable!("a fold instance is an algebra")
        };
        let info = self.alg_info(inst.item);
        let functor = info.functor.expect("a checked algebra has a functor");
        let fargs: Vec<Ty> = info
            .functor_args
            .iter()
            .map(|t| self.subst(inst, &info.size_params, t))
            .collect();
        let data_ty = Ty::Data {
            co: false,
            functor,
            args: fargs,
        };
        let data = self.data_id(&data_ty)?;
        let carrier_ty = self.subst(inst, &info.size_params, &info.carrier);
        let carrier = self.ir_type(&carrier_ty)?;
        let params = self.algebra_params(inst, &alg.params)?;
        let case_types = self.b.case_types(data, &carrier);
        let ctor_names: Vec<String> = self.b.module().data[data]
            .ctors
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut cases = Vec::new();
        for (i, tys) in case_types.iter().enumerate() {
            let case = alg
                .cases
                .iter()
                .find(|c| c.ctor.node == ctor_names[i])
                .expect("the checker requires one case per constructor");
            let args = self.b.begin_region(tys);
            let mut frame = Frame::case(inst, &params, &case.binders, args);
            let r = self.value(&case.body, &mut frame)?;
            cases.push(self.b.end_region(r));
        }
        let v = self.b.fold_regions(data, split, input, carrier, cases);
        self.spans.push((v, span));
        Ok(v)
    }

    #[allow(clippy::too_many_arguments)]
    fn unfold(
        &mut self,
        coalg: &cdlc_grammar::Ident,
        sizes: &[ast::Size],
        init: ir::Value,
        xs: Option<ir::Value>,
        take: Option<i64>,
        span: Span,
        frame: &mut Frame,
    ) -> R<ir::Value> {
        let m = self.child(span, &coalg.node, sizes, frame, |i| Morph::Fold(i, span))?;
        let Morph::Fold(inst, _) = m.as_ref() else {
            unreachable!("created as a fold instance")
        };
        let ItemKind::Coalgebra(c) = &self.program.item(inst.item).kind else {
            unreachable!("an unfold instance is a coalgebra")
        };
        let params = self.algebra_params(inst, &c.params)?;
        let state = self.b.type_of(init).clone();
        let mut arg_tys = vec![state];
        if let Some(xs) = xs {
            // An input list, or a computed one (a rose node's children, an
            // unfold's outputs).
            let elem = self
                .b
                .module()
                .over_element(self.b.type_of(xs))
                .expect("the checker makes `over` a list")
                .clone();
            arg_tys.push(elem);
        }
        let case = &c.cases[0];
        let args = self.b.begin_region(&arg_tys);
        let mut inner = Frame::case(inst, &params, &case.binders, args);
        let r = self.value(&case.body, &mut inner)?;
        let body = self.b.end_region(r);
        let source = match (xs, take) {
            (Some(xs), _) => Source::Over(xs),
            (None, Some(k)) => Source::Take(k as u32),
            (None, None) => unreachable!("an unfold runs over a list or takes k steps"),
        };
        let v = self.b.unfold_region(init, source, body);
        self.spans.push((v, span));
        Ok(v)
    }

    /// A size, evaluated in an instance's size environment.
    fn size(&self, s: &ast::Size, inst: &Inst) -> i64 {
        match &s.kind {
            SizeKind::Nat(n) => *n as i64,
            SizeKind::Name(n) => inst
                .sizes
                .get(n)
                .or_else(|| self.checked.consts.get(n))
                .copied()
                .expect("the checker resolved every size"),
            SizeKind::Add(a, b) => self.size(a, inst) + self.size(b, inst),
            SizeKind::Sub(a, b) => self.size(a, inst) - self.size(b, inst),
            SizeKind::Mul(a, b) => self.size(a, inst) * self.size(b, inst),
            SizeKind::Div(a, b) => self.size(a, inst) / self.size(b, inst),
        }
    }
}

/// The dense initialiser an equivariant parameter's coefficients imitate;
/// `None` for `zeros` and `ones`, which are used as they are.
fn dense_init(init: &ast::Init) -> Option<cdlc_equivariance::DenseInit> {
    use cdlc_equivariance::DenseInit;
    Some(match (init.name.node.as_str(), init.args.as_slice()) {
        ("glorot", _) => DenseInit::Glorot,
        ("he", _) => DenseInit::He,
        ("orthogonal", _) => DenseInit::Orthogonal,
        ("normal", [std]) => DenseInit::Normal(*std),
        ("uniform", [lo, hi]) => DenseInit::Uniform(*lo, *hi),
        _ => return None,
    })
}

/// A concrete shape.
fn concrete(s: &[crate::check::size::Poly]) -> Vec<usize> {
    s.iter()
        .map(|p| {
            let v = p.as_constant().expect("instantiated sizes are constants");
            usize::try_from(v).expect("the checker rejects negative sizes")
        })
        .collect()
}

fn pointwise(name: &str) -> Option<UnOp> {
    Some(match name {
        "relu" => UnOp::Relu,
        "tanh" => UnOp::Tanh,
        "sigmoid" => UnOp::Sigmoid,
        "exp" => UnOp::Exp,
        "log" => UnOp::Log,
        "softplus" => UnOp::Softplus,
        "gelu" => UnOp::Gelu,
        "abs" => UnOp::Abs,
        "sqrt" => UnOp::Sqrt,
        _ => return None,
    })
}

/// An equivariant map `R[c] ⊗ S → R[d] ⊗ T` applied through its basis,
/// with coefficients `C[p, q, e]` and inner basis elements `B_e : S → T`:
///
///   (W x)[p, i] = Σ_e Σ_q C[p, q, e] Σ_j B_e[i, j] x[q, j].
///
/// Used when that is cheaper than the dense map by a clear margin.
#[derive(Debug)]
struct Structured {
    /// `out channel axes ++ in channel axes ++ [k]`.
    coeff_shape: Vec<usize>,
    /// Rank of the input's channel axes.
    in_channel_rank: u32,
    form: Form,
}

#[derive(Debug)]
enum Form {
    /// Every inner element is `α_e I + β_e 11ᵀ` on one axis of `n` points
    /// (DeepSets-style layers), so that
    ///
    ///   W x = (Σ_e α_e C_e) x + ((Σ_e β_e C_e) Σ_j x[·, j]) 1ᵀ:
    ///
    /// `d c n` multiply-adds per example, the dense map's cost divided by `n`.
    Aggregate {
        alpha: Vec<f64>,
        beta: Vec<f64>,
        n: usize,
    },
    /// Any other inner basis, as one stacked tensor `S ++ [k] ++ T`:
    /// `z = x · Bᵀ` (all inner elements at once, a constant) and
    /// `y = C · z`, `k (n + d) c m` multiply-adds per example instead of
    /// the dense map's `d m c n` (k elements, n = |S|, m = |T|).
    Stacked {
        stacked: cdlc_runtime::value::Tensor,
        in_rank: u32,
    },
}

impl Structured {
    /// The structured form of `basis`, if it is worth using.
    fn worth_it(basis: &cdlc_equivariance::Basis) -> Option<Structured> {
        let (d, c) = basis.channels();
        let (t, s) = basis.inner_shapes();
        let (m, n): (usize, usize) = (t.iter().product(), s.iter().product());
        let k = basis.pattern().count();
        if basis.in_shape().is_empty() || k == 0 {
            return None;
        }
        let out_channels = &basis.out_shape()[..basis.out_shape().len() - t.len()];
        let in_channels = &basis.in_shape()[..basis.in_shape().len() - s.len()];
        let mut coeff_shape: Vec<usize> = out_channels.to_vec();
        coeff_shape.extend(in_channels);
        coeff_shape.push(k);
        let form = match Form::aggregate(basis) {
            Some(form) => form,
            None if 2 * k * (n + d) * c * m <= d * m * c * n => Form::stacked(basis),
            None => return None,
        };
        Some(Structured {
            coeff_shape,
            in_channel_rank: in_channels.len() as u32,
            form,
        })
    }

    /// `W @ x` for the coefficient slot `c`.
    fn apply(&self, b: &mut FunctionBuilder<'_>, c: ir::Value, x: ir::Value) -> ir::Value {
        match &self.form {
            Form::Aggregate { alpha, beta, n } => {
                let mut combine = |w: &[f64]| {
                    let w = b.constant(cdlc_runtime::value::Tensor::new(vec![w.len()], w.to_vec()));
                    b.contract(c, w, 1)
                };
                let (a, g) = (combine(alpha), combine(beta));
                // x: in channels ++ [n]; the points are its last axis.
                let last = u32::try_from(b.shape_of(x).len() - 1).expect("a small rank");
                let local = b.contract(a, x, self.in_channel_rank);
                let total = b.reduce(ir::ReduceOp::Sum, x, Some(last));
                let pooled = b.contract(g, total, self.in_channel_rank);
                let out_last = u32::try_from(b.shape_of(pooled).len()).expect("a small rank");
                let spread = b.op(ir::Op::Expand {
                    x: pooled,
                    axis: out_last,
                    n: u32::try_from(*n).expect("a small set"),
                });
                b.add(local, spread)
            }
            Form::Stacked { stacked, in_rank } => {
                let stacked = b.constant(stacked.clone());
                // z: in channels ++ [k] ++ T
                let z = b.contract(x, stacked, *in_rank);
                // y: out channels ++ T
                b.contract(c, z, self.in_channel_rank + 1)
            }
        }
    }
}

impl Form {
    /// The `Aggregate` form, when every inner element is `α I + β 11ᵀ`
    /// on one axis.
    fn aggregate(basis: &cdlc_equivariance::Basis) -> Option<Form> {
        let (t, s) = basis.inner_shapes();
        if t.len() != 1 || t != s {
            return None;
        }
        let n = s[0];
        let (mut alpha, mut beta) = (Vec::new(), Vec::new());
        for e in 0..basis.pattern().count() {
            let mut dense = vec![0.0; n * n];
            for (u, v) in basis.inner_element(e) {
                dense[u as usize] = v;
            }
            let diagonal = dense[0];
            let off = if n > 1 { dense[1] } else { 0.0 };
            let fits = (0..n * n).all(|u| {
                let want = if u / n == u % n { diagonal } else { off };
                dense[u] == want
            });
            if !fits {
                return None;
            }
            alpha.push(diagonal - off);
            beta.push(off);
        }
        Some(Form::Aggregate { alpha, beta, n })
    }

    fn stacked(basis: &cdlc_equivariance::Basis) -> Form {
        let (t, s) = basis.inner_shapes();
        let (m, n): (usize, usize) = (t.iter().product(), s.iter().product());
        let k = basis.pattern().count();
        // stacked[j..., e, i...] = B_e[i, j]
        let mut data = vec![0.0; n * k * m];
        for e in 0..k {
            for (u, v) in basis.inner_element(e) {
                let (i, j) = (u as usize / n, u as usize % n);
                data[(j * k + e) * m + i] = v;
            }
        }
        let mut shape: Vec<usize> = s.to_vec();
        shape.push(k);
        shape.extend(t);
        Form::Stacked {
            stacked: cdlc_runtime::value::Tensor::new(shape, data),
            in_rank: s.len() as u32,
        }
    }
}
