//! The forward function of an instantiated model as Python: one statement
//! per IR op, recursion-scheme regions as nested functions that the
//! prelude's scans (`fold_list`, `fold_structure`, `fold_halves`,
//! `unfold_over`, `unfold_take`) call.
//!
//! Every value `%n` becomes the Python variable `vn`. A value's Python form
//! follows its IR type: a tensor is an array of the parameters' dtype `dt`,
//! a tuple a Python tuple, a computed sequence a `Seq` (items and mask), an
//! input list the encoder's `{"items", "mask"}` dict, and any other input
//! structure its level schedule. Regions close over the values of the
//! blocks around them, as IR regions do.

use super::ExportError;
use super::packed::Packing;
use cdlc_ir::entity::EntityRef;
use cdlc_ir::{
    BinOp, Block, FoldOp, Function, Module, Op, ReduceOp, Source, Split, Type, UnOp, UnfoldOp,
    Value,
};
use std::fmt::Write;

/// Writes `def prefold(P, X, dt)` and `def forward(P, X, dt, F)` for
/// function `f` of `m`, with the folds of `packing` in `prefold`.
pub fn forward(m: &Module, f: &Function, packing: &Packing) -> Result<String, ExportError> {
    let mut g = Gen {
        m,
        f,
        packing,
        out: String::new(),
    };
    g.prefold()?;
    g.out += "\n\ndef forward(P, X, dt, F):\n";
    g.out += "    \"\"\"One example's output: `P` the parameters in slot order, `X` the\n";
    g.out += "    example's inputs as the encoder lays them out (`None` for a packed\n";
    g.out += "    input), `dt` the dtype, `F` this example's results of `prefold`.\"\"\"\n";
    g.block_body(f.entry, 1)?;
    Ok(g.out)
}

struct Gen<'a> {
    m: &'a Module,
    f: &'a Function,
    packing: &'a Packing,
    out: String,
}

fn var(v: Value) -> String {
    format!("v{}", v.index())
}

impl Gen<'_> {
    /// `prefold`: the batch-packed folds over whole batch shards, with the
    /// example-independent values their regions read.
    fn prefold(&mut self) -> Result<(), ExportError> {
        self.out += "def prefold(P, X, dt):\n";
        self.out += "    \"\"\"The packed structure folds of a whole batch (`X` its inputs), one\n";
        self.out += "    array of per-example results each, in `forward`'s `F` order.\"\"\"\n";
        let p = self.packing;
        for &v in &self.f.blocks[self.f.entry].insts {
            let op = self.f.op(v).expect("verified: block insts are ops");
            if p.folds.contains(&v) {
                let Op::Fold(fold) = op else {
                    unreachable!("packed values are folds")
                };
                let rhs = self.packed_fold(fold, 1)?;
                self.line(1, &format!("{} = {rhs}", var(v)));
            } else if !p.folds.is_empty() && p.independent.contains(&v) {
                self.op(v, op, 1)?;
            }
        }
        let results: Vec<String> = p.folds.iter().map(|v| var(*v) + ",").collect();
        self.line(1, &format!("return ({})", results.join(" ")));
        Ok(())
    }

    /// A fold over a packed input: `fold_packed` over the batch's table.
    fn packed_fold(&mut self, fold: &FoldOp, depth: usize) -> Result<String, ExportError> {
        let cases: Vec<String> = fold
            .cases
            .iter()
            .map(|&b| self.region(b, depth))
            .collect::<Result<_, _>>()?;
        let Some(Op::Input(i)) = self.f.op(fold.input) else {
            unreachable!("a packed fold reads an input")
        };
        // A list's `halves` trees are packed beside its items.
        let table = match fold.split {
            Split::Halves => format!("X[{i}][\"halves\"]"),
            Split::Structure => format!("X[{i}]"),
        };
        Ok(format!(
            "fold_packed({table}, {}, [{}], {})",
            fold.data.index(),
            cases.join(", "),
            zeros(&fold.carrier).ok_or_else(|| unsupported("a sequence carrier"))?
        ))
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out += "    ";
        }
        self.out += text;
        self.out.push('\n');
    }

    /// The statements of block `b` and its `return`.
    fn block_body(&mut self, b: Block, depth: usize) -> Result<(), ExportError> {
        let data = &self.f.blocks[b];
        for &v in &data.insts {
            let op = self.f.op(v).expect("verified: block insts are ops");
            self.op(v, op, depth)?;
        }
        let r = data.result.expect("verified: blocks have results");
        self.line(depth, &format!("return {}", var(r)));
        Ok(())
    }

    /// A nested function for region `b`, named `r<b>`.
    fn region(&mut self, b: Block, depth: usize) -> Result<String, ExportError> {
        let name = format!("r{}", b.index());
        let args: Vec<String> = self.f.blocks[b].args.iter().map(|a| var(*a)).collect();
        self.line(depth, &format!("def {name}({}):", args.join(", ")));
        self.block_body(b, depth + 1)?;
        Ok(name)
    }

    fn shape(&self, v: Value) -> &[usize] {
        self.f.types[v]
            .shape()
            .expect("verified: an elementwise operand is a tensor")
    }

    fn op(&mut self, v: Value, op: &Op, depth: usize) -> Result<(), ExportError> {
        let rhs = match op {
            Op::Param(p) => format!("P[{}]", p.index()),
            Op::Input(i) => format!("X[{i}]"),
            Op::Const(t) => format!(
                "jnp.asarray(np.array([{}], dtype=np.float64).reshape({}), dt)",
                t.data
                    .iter()
                    .map(|x| float(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                tuple(&t.shape)
            ),
            Op::Zeros(ty) => zeros(ty).ok_or_else(|| unsupported("zeros of a sequence"))?,
            Op::Binary(o, a, b) => self.binary(*o, *a, *b),
            Op::Unary(o, x) => unary(*o, &var(*x))?,
            Op::Contract { a, b, axes } => self.contract(*a, *b, *axes as usize),
            Op::Permute { x, perm } => {
                let p: Vec<usize> = perm.iter().map(|&i| i as usize).collect();
                format!("jnp.transpose({}, {})", var(*x), tuple(&p))
            }
            Op::Reduce { op, x, axis } => reduce(*op, &var(*x), *axis),
            Op::Expand { x, axis, n } => format!(
                "jnp.repeat(jnp.expand_dims({}, {axis}), {n}, axis={axis})",
                var(*x)
            ),
            Op::BroadcastTo { x, shape } => format!("bcast({}, {})", var(*x), tuple(shape)),
            Op::SumTo { x, shape } => {
                let rank = self.shape(*x).len();
                let axes: Vec<usize> = (shape.len()..rank).collect();
                format!("jnp.sum({}, axis={})", var(*x), tuple(&axes))
            }
            Op::Softmax(x) => format!("jax.nn.softmax({})", var(*x)),
            Op::LogSoftmax(x) => format!("jax.nn.log_softmax({})", var(*x)),
            Op::Norm { x, keep } => format!("cdl_norm({}, {keep})", var(*x)),
            Op::Concat(a, b) => format!("jnp.concatenate([{}, {}])", var(*a), var(*b)),
            Op::Slice { x, start, len } => format!("{}[{start}:{}]", var(*x), start + len),
            Op::Tuple(vs) => {
                let items: Vec<String> = vs.iter().map(|v| var(*v) + ",").collect();
                format!("({})", items.join(" "))
            }
            Op::Get(x, i) => format!("{}[{i}]", var(*x)),
            Op::BasisExpand { coeffs, basis } => {
                format!("basis_expand({}, BASES[{}])", var(*coeffs), basis.index())
            }
            Op::Fold(fold) => match self.packing.fold_index(v) {
                Some(k) => format!("F[{k}]"),
                None => self.fold(fold, depth)?,
            },
            Op::Unfold(u) => self.unfold(u, depth)?,
            Op::BasisProject { .. }
            | Op::NormGrad { .. }
            | Op::MaxGrad { .. }
            | Op::Loss { .. }
            | Op::LossGrad { .. }
            | Op::FoldBackward(_)
            | Op::Map(_)
            | Op::MapBackward(_)
            | Op::UnfoldBackward(_) => {
                return Err(unsupported(&format!(
                    "the `{}` op in a model's forward function",
                    op.name()
                )));
            }
        };
        self.line(depth, &format!("{} = {rhs}", var(v)));
        Ok(())
    }

    /// `a`'s last `k` axes contracted with `b`'s first `k`. When `b` has no
    /// other axes (a matrix times a vector, the common case in a region),
    /// the product is written with `b` first: under `vmap` over `b` (the
    /// nodes of a level, the examples of a batch) the batch axis then
    /// stays the result's first axis, where the per-example form would put
    /// it after `a`'s free axes and need a transpose of every result and
    /// cotangent.
    fn contract(&self, a: Value, b: Value, k: usize) -> String {
        let ra = self.shape(a).len();
        if self.shape(b).len() != k || k == 0 {
            return format!("jnp.tensordot({}, {}, axes={k})", var(a), var(b));
        }
        let of_b: Vec<usize> = (0..k).collect();
        let of_a: Vec<usize> = (ra - k..ra).collect();
        format!(
            "jnp.tensordot({}, {}, axes=({}, {}))",
            var(b),
            var(a),
            list(&of_b),
            list(&of_a)
        )
    }

    /// `a op b` with cdlc's prefix broadcasting made explicit.
    fn binary(&self, o: BinOp, a: Value, b: Value) -> String {
        let sym = match o {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        };
        let (sa, sb) = (self.shape(a), self.shape(b));
        let (ea, eb) = if sa == sb {
            (var(a), var(b))
        } else if sa.len() < sb.len() {
            (format!("bcast({}, {})", var(a), tuple(sb)), var(b))
        } else {
            (var(a), format!("bcast({}, {})", var(b), tuple(sa)))
        };
        format!("{ea} {sym} {eb}")
    }

    /// The Python form of a list-valued operand as a `Seq`.
    fn seq_of(&self, v: Value) -> Result<String, ExportError> {
        match &self.f.types[v] {
            Type::Seq(_) => Ok(var(v)),
            Type::Data(d) if self.m.list_element(*d).is_some() => {
                Ok(format!("Seq({0}[\"items\"], {0}[\"mask\"])", var(v)))
            }
            other => Err(unsupported(&format!(
                "a list of type {}",
                super::type_name(self.m, other)
            ))),
        }
    }

    fn fold(&mut self, fold: &FoldOp, depth: usize) -> Result<String, ExportError> {
        if fold.record {
            return Err(unsupported("a recording fold in a forward function"));
        }
        let cases: Vec<String> = fold
            .cases
            .iter()
            .map(|&b| self.region(b, depth))
            .collect::<Result<_, _>>()?;
        let input = var(fold.input);
        let list_shaped = self.m.list_element(fold.data).is_some();
        match (fold.split, &self.f.types[fold.input]) {
            (Split::Halves, _) if matches!(self.f.op(fold.input), Some(Op::Input(_))) => {
                Ok(format!(
                    "fold_structure({input}[\"halves\"], {}, [{}], {})",
                    fold.data.index(),
                    cases.join(", "),
                    zeros(&fold.carrier).ok_or_else(|| unsupported("a sequence carrier"))?
                ))
            }
            (Split::Halves, _) => Ok(format!(
                "fold_halves({}, [{}], {})",
                self.seq_of(fold.input)?,
                cases.join(", "),
                zeros(&fold.carrier).ok_or_else(|| unsupported("a sequence carrier"))?
            )),
            (Split::Structure, Type::Seq(_)) => {
                Ok(format!("fold_list({input}, {}, {})", cases[0], cases[1]))
            }
            (Split::Structure, Type::Data(_)) if list_shaped => Ok(format!(
                "fold_list({}, {}, {})",
                self.seq_of(fold.input)?,
                cases[0],
                cases[1]
            )),
            (Split::Structure, Type::Data(_)) => Ok(format!(
                "fold_structure({input}, {}, [{}], {})",
                fold.data.index(),
                cases.join(", "),
                zeros(&fold.carrier).ok_or_else(|| unsupported("a sequence carrier"))?
            )),
            (_, other) => Err(unsupported(&format!(
                "a fold over a value of type {other:?}"
            ))),
        }
    }

    fn unfold(&mut self, u: &UnfoldOp, depth: usize) -> Result<String, ExportError> {
        if u.record {
            return Err(unsupported("a recording unfold in a forward function"));
        }
        let body = self.region(u.body, depth)?;
        match u.source {
            Source::Over(xs) => Ok(format!(
                "unfold_over({}, {}, {body})",
                var(u.init),
                self.seq_of(xs)?
            )),
            Source::Take(k) => Ok(format!("unfold_take({}, {k}, {body})", var(u.init))),
        }
    }
}

fn unsupported(what: &str) -> ExportError {
    ExportError::Op(what.to_string())
}

fn unary(o: UnOp, x: &str) -> Result<String, ExportError> {
    Ok(match o {
        UnOp::Neg => format!("-{x}"),
        UnOp::Relu => format!("relu({x})"),
        UnOp::Tanh => format!("jnp.tanh({x})"),
        UnOp::Sigmoid => format!("sigmoid({x})"),
        UnOp::Exp => format!("jnp.exp({x})"),
        UnOp::Log => format!("jnp.log({x})"),
        UnOp::Softplus => format!("softplus({x})"),
        UnOp::Gelu => format!("gelu({x})"),
        UnOp::Abs => format!("cdl_abs({x})"),
        UnOp::Sqrt => format!("jnp.sqrt({x})"),
        UnOp::Step => format!("jnp.where({x} > 0, 1.0, 0.0).astype(dt)"),
        UnOp::Sign => format!("jnp.sign({x})"),
        UnOp::GeluDeriv => return Err(unsupported("the `gelu_deriv` op in a forward function")),
    })
}

fn reduce(op: ReduceOp, x: &str, axis: Option<u32>) -> String {
    let ax = axis.map_or("None".to_string(), |a| a.to_string());
    match op {
        ReduceOp::Sum => format!("jnp.sum({x}, axis={ax})"),
        ReduceOp::Mean => format!("jnp.mean({x}, axis={ax})"),
        ReduceOp::Max => format!("cdl_max({x}, {ax})"),
    }
}

/// Zeros of a tensor or tuple type in the dtype `dt`.
fn zeros(ty: &Type) -> Option<String> {
    match ty {
        Type::Tensor(s) => Some(format!("jnp.zeros({}, dt)", tuple(s))),
        Type::Tuple(ts) => {
            let mut out = String::from("(");
            for t in ts {
                write!(out, "{}, ", zeros(t)?).expect("writing to a String");
            }
            Some(out + ")")
        }
        _ => None,
    }
}

/// A Python list literal of integers.
fn list(xs: &[usize]) -> String {
    let items: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// A Python tuple literal of integers.
pub fn tuple(xs: &[usize]) -> String {
    match xs {
        [] => "()".to_string(),
        [x] => format!("({x},)"),
        _ => format!(
            "({})",
            xs.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A Python float literal that reads back to the same f64.
pub fn float(x: f64) -> String {
    if x.is_nan() {
        "float('nan')".to_string()
    } else if x.is_infinite() {
        if x > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        }
        .to_string()
    } else {
        format!("{x:?}")
    }
}
