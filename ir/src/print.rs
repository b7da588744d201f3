//! The text form of the IR: stable, readable, and what snapshots compare.
//!
//! Values print as `%N` (their arena index), so the text depends only on
//! the order in which ops were built. Every op line ends with the value's
//! type; regions print as indented constructor cases. Data types and bases
//! print first, then functions in order:
//!
//! ```text
//! data0 List(R[2]) = nil | cons(R[2], X)
//!
//! function rnn {
//!     params elman.W: R[4, 4]
//!     inputs List(R[2])
//!     %0 = param elman.W : R[4, 4]
//!     %1 = input 0 : List(R[2])
//!     %2 = fold data0 %1 : R[4] {
//!         nil() {
//!             ...
//!         }
//!     }
//!     return %2
//! }
//! ```

use std::fmt::{self, Write};

use crate::ir::{Block, Field, Function, Module, Op, Source, Type, Value};

mod entries;

/// Prints a whole module.
pub fn print_module(module: &Module) -> String {
    let mut out = data_declarations(module);
    bases(module, &mut out);
    for (_, f) in module.functions.iter() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&print_function(module, f));
    }
    out
}

/// Prints one function with the module's data-type declarations and bases
/// above it (what `cdlc FILE --emit ir` shows), so that the text reads
/// back (`crate::parse::module`).
pub fn print_function_with_data(module: &Module, func: &Function) -> String {
    let mut out = data_declarations(module);
    bases(module, &mut out);
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&print_function(module, func));
    out
}

/// One line per data type: `data0 List(R[2]) = nil | cons(R[2], X)`.
fn data_declarations(module: &Module) -> String {
    let mut out = String::new();
    for (id, d) in module.data.iter() {
        let ctors: Vec<String> = d
            .ctors
            .iter()
            .map(|c| {
                if c.fields.is_empty() {
                    c.name.clone()
                } else {
                    let fs: Vec<String> = c
                        .fields
                        .iter()
                        .map(|f| match f {
                            Field::Rec => "X".to_string(),
                            Field::RecList => "List(X)".to_string(),
                            Field::Nested(t) => format!("nested {}", nested_field(t)),
                            Field::Plain(t) => type_name(module, t),
                        })
                        .collect();
                    format!("{}({})", c.name, fs.join(", "))
                }
            })
            .collect();
        writeln!(out, "{id} {} = {}", d.decl.name, ctors.join(" | ")).expect("string write");
    }
    out
}

/// A nested field's runtime type, complete: `R[..]`, `X` (`Xk` from
/// inside `k` data types), `(a * b)`, and each data type written out as
/// `{NAME = ctor | ctor(field, ...)}`, since its recursive positions make it
/// no data type of the module.
fn nested_field(t: &cdlc_runtime::value::DataType) -> String {
    use cdlc_runtime::value::DataType;
    match t {
        DataType::Tensor(_) => t.to_string(),
        DataType::Rec(0) => "X".to_string(),
        DataType::Rec(k) => format!("X{k}"),
        DataType::Tuple(ts) => {
            let parts: Vec<String> = ts.iter().map(nested_field).collect();
            format!("({})", parts.join(" * "))
        }
        DataType::Data(d) => {
            let ctors: Vec<String> = d
                .ctors
                .iter()
                .map(|c| {
                    if c.fields.is_empty() {
                        c.name.clone()
                    } else {
                        let fs: Vec<String> = c.fields.iter().map(nested_field).collect();
                        format!("{}({})", c.name, fs.join(", "))
                    }
                })
                .collect();
            format!("{{{} = {}}}", d.name, ctors.join(" | "))
        }
    }
}

/// Each basis: its shape and element count (with the coefficients' shape
/// when it is not the vector `R[count]`), then one line per element, its
/// entries compacted into ranges (`entries.rs`).
fn bases(module: &Module, out: &mut String) {
    for (id, b) in module.bases.iter() {
        let coeffs = if b.coeff_shape == [b.elements.len()] {
            String::new()
        } else {
            format!(
                " of {}",
                type_name(module, &Type::Tensor(b.coeff_shape.clone()))
            )
        };
        writeln!(
            out,
            "{id} {} : {}, {} elements{coeffs}",
            b.name,
            type_name(module, &Type::Tensor(b.shape.clone())),
            b.elements.len()
        )
        .expect("string write");
        for (k, e) in b.elements.iter().enumerate() {
            writeln!(out, "    {k}: {{{}}}", entries::entries(e)).expect("string write");
        }
    }
}

/// Prints one function.
pub fn print_function(module: &Module, func: &Function) -> String {
    let mut p = Printer {
        module,
        func,
        out: String::new(),
    };
    p.function().expect("writing to a String cannot fail");
    p.out
}

/// A type in the text form: `R`, `R[2, 3]`, `(R, R[2])`, `List(R[2])`,
/// `Seq(R[3])`, `Class(4)`, `Tape`.
pub fn type_name(module: &Module, ty: &Type) -> String {
    match ty {
        Type::Tensor(s) if s.is_empty() => "R".to_string(),
        Type::Tensor(s) => {
            let dims: Vec<String> = s.iter().map(usize::to_string).collect();
            format!("R[{}]", dims.join(", "))
        }
        Type::Tuple(ts) => {
            let parts: Vec<String> = ts.iter().map(|t| type_name(module, t)).collect();
            format!("({})", parts.join(", "))
        }
        Type::Data(d) => match module.data.get(*d) {
            Some(def) => def.decl.name.clone(),
            None => d.to_string(),
        },
        Type::Seq(t) => format!("Seq({})", type_name(module, t)),
        Type::Class(n) => format!("Class({n})"),
        Type::Tape => "Tape".to_string(),
    }
}

struct Printer<'a> {
    module: &'a Module,
    func: &'a Function,
    out: String,
}

impl Printer<'_> {
    fn ty(&self, v: Value) -> String {
        match self.func.types.get(v) {
            Some(t) => type_name(self.module, t),
            None => "?".to_string(),
        }
    }

    fn function(&mut self) -> fmt::Result {
        let f = self.func;
        writeln!(self.out, "function {} {{", f.name)?;
        if !f.params.is_empty() {
            let ps: Vec<String> = f
                .params
                .iter()
                .map(|(_, p)| {
                    format!(
                        "{}: {}",
                        p.name,
                        type_name(self.module, &Type::Tensor(p.shape.clone()))
                    )
                })
                .collect();
            writeln!(self.out, "    params {}", ps.join(", "))?;
        }
        if !f.inputs.is_empty() {
            let is: Vec<String> = f.inputs.iter().map(|t| type_name(self.module, t)).collect();
            writeln!(self.out, "    inputs {}", is.join(", "))?;
        }
        self.block_body(f.entry, 1)?;
        match f.blocks[f.entry].result {
            Some(r) => writeln!(self.out, "    return {r}")?,
            None => writeln!(self.out, "    return ?")?,
        }
        writeln!(self.out, "}}")
    }

    fn block_body(&mut self, b: Block, depth: usize) -> fmt::Result {
        for &v in &self.func.blocks[b].insts {
            self.inst(v, depth)?;
        }
        Ok(())
    }

    fn region(&mut self, label: &str, b: Block, depth: usize) -> fmt::Result {
        let pad = "    ".repeat(depth);
        let args: Vec<String> = self.func.blocks[b]
            .args
            .iter()
            .map(|a| format!("{a}: {}", self.ty(*a)))
            .collect();
        writeln!(self.out, "{pad}{label}({}) {{", args.join(", "))?;
        self.block_body(b, depth + 1)?;
        match self.func.blocks[b].result {
            Some(r) => writeln!(self.out, "{pad}    yield {r}")?,
            None => writeln!(self.out, "{pad}    yield ?")?,
        }
        writeln!(self.out, "{pad}}}")
    }

    fn inst(&mut self, v: Value, depth: usize) -> fmt::Result {
        let pad = "    ".repeat(depth);
        let Some(op) = self.func.op(v) else {
            return writeln!(self.out, "{pad}{v} = <block argument in insts>");
        };
        let head = self.op_text(op);
        write!(self.out, "{pad}{v} = {head} : {}", self.ty(v))?;
        let regions = op.regions();
        if regions.is_empty() {
            return writeln!(self.out);
        }
        writeln!(self.out, " {{")?;
        let labels = self.region_labels(op);
        for (b, label) in regions.into_iter().zip(labels) {
            self.region(&label, b, depth + 1)?;
        }
        writeln!(self.out, "{pad}}}")
    }

    fn region_labels(&self, op: &Op) -> Vec<String> {
        let ctor_names = |d| {
            self.module
                .data
                .get(d)
                .map(|def| def.ctors.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default()
        };
        match op {
            Op::Fold(f) => ctor_names(f.data),
            Op::Map(m) => ctor_names(m.data),
            Op::MapBackward(m) => ctor_names(m.data),
            Op::FoldBackward(f) => ctor_names(f.data),
            _ => vec!["step".to_string()],
        }
    }

    fn op_text(&self, op: &Op) -> String {
        let name = op.name();
        let list = |vs: &[Value]| -> String {
            vs.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match op {
            Op::Param(p) => match self.func.params.get(*p) {
                Some(d) => format!("param {}", d.name),
                None => format!("param {p}"),
            },
            Op::Input(i) => format!("input {i}"),
            Op::Const(t) if t.shape.is_empty() => format!("const {:?}", t.data[0]),
            // Every value, so that the text rebuilds the constant; its
            // type gives the shape.
            Op::Const(t) => format!("const {:?}", t.data),
            Op::Zeros(_) => name.to_string(),
            Op::Binary(_, a, b) | Op::Concat(a, b) => format!("{name} {a}, {b}"),
            Op::Contract { a, b, axes } if *axes > 1 => format!("{name} {a}, {b}, axes {axes}"),
            Op::Contract { a, b, .. } => format!("{name} {a}, {b}"),
            Op::Unary(_, x) | Op::Softmax(x) | Op::LogSoftmax(x) => format!("{name} {x}"),
            Op::Permute { x, perm } => format!("{name} {x}, {perm:?}"),
            Op::Reduce { x, axis: None, .. } => format!("{name} {x}"),
            Op::Reduce {
                x, axis: Some(a), ..
            } => format!("{name} {x}, axis {a}"),
            Op::Expand { x, axis, n } => format!("{name} {x}, axis {axis}, {n}"),
            Op::BroadcastTo { x, .. } | Op::SumTo { x, .. } => format!("{name} {x}"),
            Op::Norm { x, keep } => format!("{name} {x}, keep {keep}"),
            Op::NormGrad { x, y, g } => format!("{name} {x}, {y}, {g}"),
            Op::MaxGrad { x, g, axis: None } => format!("{name} {x}, {g}"),
            Op::MaxGrad {
                x,
                g,
                axis: Some(a),
            } => format!("{name} {x}, {g}, axis {a}"),
            Op::Slice { x, start, len } => format!("{name} {x}, {start}, {len}"),
            Op::Tuple(vs) => format!("{name} {}", list(vs)),
            Op::Get(t, i) => format!("{name} {t}, {i}"),
            Op::BasisExpand { coeffs, basis } => format!("{name} {coeffs}, {basis}"),
            Op::BasisProject { x, basis } => format!("{name} {x}, {basis}"),
            Op::Loss { kind, out, target } => format!("{name} {kind} {out}, {target}"),
            Op::LossGrad {
                kind,
                out,
                target,
                seed,
            } => format!("{name} {kind} {out}, {target}, {seed}"),
            Op::Fold(f) => format!(
                "{name} {} {}",
                type_name(self.module, &Type::Data(f.data)),
                f.input
            ),
            // The result type printed after the op names the mapped data
            // type.
            Op::Map(m) => format!(
                "{name} {} {}",
                type_name(self.module, &Type::Data(m.data)),
                m.input
            ),
            Op::MapBackward(m) => format!(
                "{name} {} {} {}, {} wrt [{}]",
                type_name(self.module, &Type::Data(m.data)),
                type_name(self.module, &Type::Data(m.out)),
                m.input,
                m.cotangent,
                list(&m.captures)
            ),
            Op::FoldBackward(f) => format!(
                "{name} {} {}, {} wrt [{}]{}",
                type_name(self.module, &Type::Data(f.data)),
                f.tape,
                f.cotangent,
                list(&f.captures),
                match (f.elements, f.structure) {
                    (true, true) => ", elements, structure",
                    (true, false) => ", elements",
                    _ => "",
                }
            ),
            Op::Unfold(u) => match u.source {
                Source::Over(xs) => format!("{name} {}, {xs}", u.init),
                Source::Take(k) => format!("{name} {}, {k}", u.init),
            },
            Op::UnfoldBackward(u) => format!(
                "{name} {}, {} wrt [{}]{}",
                u.tape,
                u.cotangent,
                list(&u.captures),
                if u.elements { ", elements" } else { "" }
            ),
        }
    }
}

#[cfg(test)]
mod tests;
