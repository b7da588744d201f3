//! `--emit jax`: an instantiated model as one self-contained Python module
//! for JAX, generated from the IR (after instantiation and tying), with the
//! train block's loss, optimizer and settings.
//!
//! The module is the prelude (`prelude.py`: weights files, JSON lines, the
//! host-side encoder, scans for the recursion schemes, the loss, optax
//! optimizers, sharding, training) followed by the model's tables
//! (`PARAMS` in slot order, `DATA`, `INPUTS`, `TARGET`, `BASES`, the train
//! settings) and its `forward` function (`body.rs`). Equivariant
//! parameters stay basis coefficients; each basis is kept as its nonzero
//! entries only. Anything the exporter cannot express is an `ExportError`,
//! reported as a coded diagnostic at the model; nothing is left out
//! silently. The library does no IO: the driver writes the text.

mod body;
mod nested;
mod nonempty;
mod packed;
#[cfg(test)]
mod tests;

use crate::check::TrainSetup;
use crate::diagnostics::Diagnostic;
use crate::training::Prepared;
use cdlc_grammar::Span;
use cdlc_ir::entity::EntityRef;
use cdlc_ir::{DataId, Field, Function, Module, Op, Split, Type};
use cdlc_runtime::optim::OptimConfig;
use std::fmt::Write;

/// The versions the generated code was tested with, as the module states
/// them.
pub const TESTED_WITH: &str = "jax 0.10.2, jaxlib 0.10.2, optax 0.2.8, numpy 2.4.6, Python 3.11";

const PRELUDE: &str = include_str!("prelude.py");

/// What the exporter cannot express.
#[derive(Clone, Debug, PartialEq)]
pub enum ExportError {
    /// An op (or a use of one) with no JAX form here (E0801).
    Op(String),
    /// An input or target type the encoder does not lay out (E0802).
    Data(String),
    /// An optimizer setting with no optax form (E0803).
    Optim(String),
    /// A list `halves` splits whose emptiness the module cannot check as
    /// cdlc does (E0804).
    Unchecked(String),
}

impl ExportError {
    /// The error as a diagnostic at `span` (the model or its train block).
    pub fn to_diagnostic(&self, span: Span) -> Diagnostic {
        match self {
            ExportError::Op(what) => Diagnostic::error(
                "E0801",
                format!("this model cannot be exported to JAX: {what}"),
                span,
                "in this model",
            )
            .with_help("train it with `cdlc FILE --emit jit`, or write the model without this construct"),
            ExportError::Data(what) => Diagnostic::error(
                "E0802",
                format!("the exported module cannot encode this model's data: {what}"),
                span,
                "the model's inputs or targets",
            )
            .with_help("give the model tensors, lists of tensors or of structures, or structures whose fields are tensors, lists of tensors and children"),
            ExportError::Optim(what) => Diagnostic::error(
                "E0803",
                format!("the train block's optimizer cannot be exported: {what}"),
                span,
                "this train block",
            )
            .with_help("use sgd, momentum, nesterov, adagrad or adam"),
            ExportError::Unchecked(what) => Diagnostic::error(
                "E0804",
                format!("this model cannot be exported to JAX: {what}"),
                span,
                "in this model",
            )
            .with_help("split a list of the example, an element or field of it, or an unfold's outputs over one; or train the model with `cdlc FILE --emit jit`"),
        }
    }
}

/// The Python module for `setup`'s model, prepared as `p`. `source` names
/// the program in the module's header.
///
/// `source_sha256` is the program's hash as `cdlc` records it in the
/// weights it writes; `save_weights` records it too, so that `cdlc run`
/// accepts weights trained by the module.
pub fn jax(
    setup: &TrainSetup,
    p: &Prepared,
    source: &str,
    source_sha256: &str,
) -> Result<String, ExportError> {
    let m = &p.inst.module;
    let f = &m.functions[p.inst.func];
    let halves = halves_inputs(f);
    let packing = packed::packing(m, f);
    let mut out = header(setup, source);
    out += PRELUDE;
    out +=
        "\n\n# --- the model ---------------------------------------------------------------\n\n";
    out += &params(setup, p, source_sha256);
    out += &data_table(m, f)?;
    out += &inputs(m, f, &halves, &packing.inputs)?;
    out += &nonempty::table(m, f)?;
    out += &target(p)?;
    out += &bases(m);
    out += &train(setup)?;
    out += "\n\n";
    out += &body::forward(m, f, &packing)?;
    out += MAIN;
    Ok(out)
}

fn header(setup: &TrainSetup, source: &str) -> String {
    format!(
        "\"\"\"The model `{}` of {source}, exported by cdlc for JAX.\n\n\
         Generated from the instantiated IR with its derived weight tying; do not\n\
         edit. Depends only on jax, numpy and optax. Tested with {TESTED_WITH}.\n\n\
         `python THIS.py` trains the train block on every visible device (the batch\n\
         sharded, the parameters replicated); see `python THIS.py --help`.\n\"\"\"\n\n",
        setup.model_name
    )
}

fn params(setup: &TrainSetup, p: &Prepared, source_sha256: &str) -> String {
    let mut out = String::from(
        "# The parameter slots in cdlc's order, under cdlc's qualified names.\nPARAMS = [\n",
    );
    for s in &p.inst.slots {
        writeln!(out, "    ({:?}, {}),", s.name, body::tuple(&s.shape)).expect("a String");
    }
    out += "]\n\n# The shapes the weights files store, where they differ from the slot's\n\
            # (an equivariant parameter is stored as its coefficients, `[free]`).\n\
            STORED_SHAPES = {\n";
    for s in p.inst.slots.iter().filter(|s| s.stored_shape != s.shape) {
        writeln!(out, "    {:?}: {},", s.name, body::tuple(&s.stored_shape)).expect("a String");
    }
    out += "}\n\n";
    writeln!(
        out,
        "# What the weights files record about the model they belong to.\n\
         WEIGHTS_METADATA = {{\"format\": \"cdlc-weights-1\", \"model\": {:?}, \"source_sha256\": {:?}}}\n",
        setup.model_name, source_sha256
    )
    .expect("a String");
    out
}

/// The list inputs folded by `halves`, with the tree data type they are
/// split into: the encoder lays out their trees on the host. A `halves`
/// over any other list (a list inside a region, a list field) is split in
/// the generated code (`fold_halves`).
fn halves_inputs(f: &Function) -> Vec<(u32, DataId)> {
    halves_folds(f)
        .filter_map(|(input, data)| match f.op(input) {
            Some(Op::Input(i)) => Some((*i, data)),
            _ => None,
        })
        .collect()
}

/// Every `halves` fold of `f`: the list it splits and its tree data type.
fn halves_folds(f: &Function) -> impl Iterator<Item = (cdlc_ir::Value, DataId)> + '_ {
    f.values.iter().filter_map(|(_, def)| match def {
        cdlc_ir::ValueDef::Op(Op::Fold(fold)) if fold.split == Split::Halves => {
            Some((fold.input, fold.data))
        }
        _ => None,
    })
}

/// `DATA`: every structure the encoder lays out as a level schedule or a
/// fold reads, and the templates of nested fields (`nested.rs`).
fn data_table(m: &Module, f: &Function) -> Result<String, ExportError> {
    let mut ids: Vec<DataId> = halves_folds(f).map(|(_, d)| d).collect();
    ids.extend(structure_folds(m, f));
    for d in ids.clone() {
        collect_fields(m, d, &mut ids);
    }
    for t in &f.inputs {
        collect_structures(m, t, &mut ids);
    }
    let mut templates = nested::Templates::default();
    let mut entries = Vec::new();
    let mut done: Vec<DataId> = Vec::new();
    // The templates may hold structures not met yet: lay those out too.
    while let Some(d) = ids.pop() {
        if done.contains(&d) {
            continue;
        }
        done.push(d);
        entries.push((d, data_entry(m, d, &mut templates)?));
        for s in templates.structures.drain(..) {
            collect_structures(m, &Type::Data(s), &mut ids);
        }
    }
    entries.sort_by_key(|(d, _)| *d);
    let mut out = String::from(
        "# Structures: constructors with their fields (plain tensors, children, lists of children,\n# nested fields with their templates).\nDATA = {\n",
    );
    for (_, line) in entries {
        out += &line;
    }
    out += &templates.entries();
    Ok(out + "}\n\n")
}

/// The data types of the structure folds of `f` (lists aside), whose
/// constructors `fold_structure` reads: those of the inputs, and those a
/// nested field binds inside a region.
fn structure_folds(m: &Module, f: &Function) -> Vec<DataId> {
    f.values
        .iter()
        .filter_map(|(_, def)| match def {
            cdlc_ir::ValueDef::Op(Op::Fold(fold)) if m.list_element(fold.data).is_none() => {
                Some(fold.data)
            }
            _ => None,
        })
        .collect()
}

/// One structure's line of `DATA`.
fn data_entry(
    m: &Module,
    d: DataId,
    templates: &mut nested::Templates,
) -> Result<String, ExportError> {
    let def = &m.data[d];
    let mut out = format!(
        "    {}: {{\"name\": {:?}, \"ctors\": [",
        d.index(),
        def.decl.name
    );
    for c in &def.ctors {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|fl| match fl {
                Field::Rec => Ok("(\"rec\",)".to_string()),
                Field::RecList => Ok("(\"reclist\",)".to_string()),
                Field::Nested(t) => Ok(format!("(\"nested\", {})", templates.field(m, t)?)),
                Field::Plain(t) => nested::plain_field(m, t).map_err(|_| {
                    ExportError::Data(format!(
                        "constructor `{}` of {} has a field of type {}, which the encoder does not lay out",
                        c.name,
                        def.decl.name,
                        type_name(m, t)
                    ))
                }),
            })
            .collect::<Result<_, _>>()?;
        write!(out, "({:?}, [{}]), ", c.name, fields.join(", ")).expect("a String");
    }
    Ok(out + "]},\n")
}

/// The structures `t` holds (itself, its elements, its fields' types),
/// each once.
fn collect_structures(m: &Module, t: &Type, ids: &mut Vec<DataId>) {
    match t {
        Type::Tuple(ts) => ts.iter().for_each(|t| collect_structures(m, t, ids)),
        Type::Data(d) => match m.list_element(*d) {
            None if !ids.contains(d) => {
                ids.push(*d);
                collect_fields(m, *d, ids);
            }
            None => {}
            Some(e) => collect_structures(m, e, ids),
        },
        _ => {}
    }
}

/// The structures held by the plain fields of `d`'s constructors.
fn collect_fields(m: &Module, d: DataId, ids: &mut Vec<DataId>) {
    for c in &m.data[d].ctors {
        for fl in &c.fields {
            if let Field::Plain(t) = fl {
                collect_structures(m, t, ids);
            }
        }
    }
}

/// `INPUTS`: how the encoder lays out each input.
fn inputs(
    m: &Module,
    f: &Function,
    halves: &[(u32, DataId)],
    packed: &[u32],
) -> Result<String, ExportError> {
    let specs: Vec<String> = f
        .inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let h = halves
                .iter()
                .find(|(j, _)| *j as usize == i)
                .map(|(_, d)| *d);
            input_spec(m, t, h, packed.contains(&(i as u32)))
        })
        .collect::<Result<_, _>>()?;
    Ok(format!(
        "# How `encode` lays out each input.\nINPUTS = [{}]\n\n",
        specs.join(", ")
    ))
}

/// One input's layout; `packed` lays a structure (or a list's `halves`
/// trees) out as a batch-packed table instead of one level schedule per
/// example.
fn input_spec(
    m: &Module,
    t: &Type,
    halves: Option<DataId>,
    packed: bool,
) -> Result<String, ExportError> {
    match t {
        Type::Tensor(s) => Ok(format!("(\"tensor\", {})", body::tuple(s))),
        Type::Tuple(ts) => {
            let inner: Vec<String> = ts
                .iter()
                .map(|t| input_spec(m, t, None, false))
                .collect::<Result<_, _>>()?;
            Ok(format!("(\"tuple\", [{}])", inner.join(", ")))
        }
        Type::Data(d) => match m.list_element(*d) {
            Some(Type::Tensor(s)) => Ok(format!(
                "(\"list\", {}, {})",
                body::tuple(s),
                halves_layout(halves, packed)
            )),
            Some(Type::Data(e)) if m.list_element(*e).is_none() => {
                Ok(format!("(\"structlist\", {})", e.index()))
            }
            Some(other) => Ok(format!(
                "(\"seqof\", {})",
                input_spec(m, other, None, false)?
            )),
            None if packed => Ok(format!("(\"packed\", {})", d.index())),
            None => Ok(format!("(\"data\", {})", d.index())),
        },
        other => Err(ExportError::Data(format!(
            "an input of type {}",
            type_name(m, other)
        ))),
    }
}

/// How a list input's `halves` trees are laid out: `None` (no `halves`
/// fold splits it), the tree type's id (one level schedule per example),
/// or `("packed", id)` (one node table per batch shard).
fn halves_layout(halves: Option<DataId>, packed: bool) -> String {
    match halves {
        None => "None".to_string(),
        Some(h) if packed => format!("(\"packed\", {})", h.index()),
        Some(h) => h.index().to_string(),
    }
}

/// A type as the language writes it, for messages.
pub fn type_name(m: &Module, t: &Type) -> String {
    match t {
        Type::Tensor(s) if s.is_empty() => "R".to_string(),
        Type::Tensor(s) => format!(
            "R[{}]",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Tuple(ts) => ts
            .iter()
            .map(|t| type_name(m, t))
            .collect::<Vec<_>>()
            .join(" * "),
        Type::Data(d) => m.data[*d].decl.name.clone(),
        Type::Seq(e) => format!("List({})", type_name(m, e)),
        Type::Class(n) => format!("a class below {n}"),
        Type::Tape => "a tape".to_string(),
    }
}

/// `TARGET` and `LOSS`.
fn target(p: &Prepared) -> Result<String, ExportError> {
    fn spec(t: &Type) -> Result<String, ExportError> {
        match t {
            Type::Class(n) => Ok(format!("(\"class\", {n})")),
            Type::Tensor(s) => Ok(format!("(\"tensor\", {})", body::tuple(s))),
            Type::Seq(e) => Ok(format!("(\"seq\", {})", spec(e)?)),
            other => Err(ExportError::Data(format!("a target of kind {other:?}"))),
        }
    }
    let f = &p.inst.module.functions[p.inst.func];
    let t = p
        .loss
        .target_type(&f.types[f.output()])
        .ok_or_else(|| ExportError::Data("the loss does not fit the model's output".into()))?;
    Ok(format!(
        "# The target's layout and the train block's loss.\nTARGET = {}\nLOSS = {:?}\n\n",
        spec(&t)?,
        p.loss.name()
    ))
}

/// `BASES`: each equivariant parameter's basis as its nonzero entries
/// (flat index, element, value), never as a dense tensor. The three arrays
/// are little-endian bytes in base64 (int32, int32, float64), which Python
/// reads far faster than literals.
fn bases(m: &Module) -> String {
    let mut out = String::from(
        "# Bases of equivariant parameters: shape and nonzero entries (flat index, element, value).\nBASES = {\n",
    );
    for (id, b) in m.bases.iter() {
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for (k, el) in b.elements.iter().enumerate() {
            for &(idx, v) in el {
                rows.extend_from_slice(&idx.to_le_bytes());
                cols.extend_from_slice(&(k as u32).to_le_bytes());
                vals.extend_from_slice(&v.to_le_bytes());
            }
        }
        writeln!(
            out,
            "    {}: ({}, _b64(\"{}\", \"<i4\"), _b64(\"{}\", \"<i4\"), _b64(\"{}\", \"<f8\")),",
            id.index(),
            body::tuple(&b.shape),
            base64(&rows),
            base64(&cols),
            base64(&vals)
        )
        .expect("a String");
    }
    out + "}\n\n"
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `OPTIM` and `TRAIN`: the train block's optimizer (defaults filled in as
/// cdlc fills them) and settings.
fn train(setup: &TrainSetup) -> Result<String, ExportError> {
    let f = body::float;
    let o = match setup.optim {
        OptimConfig::Sgd { lr } => format!("(\"sgd\", {{\"lr\": {}}})", f(lr)),
        OptimConfig::Momentum { lr, beta } => {
            format!(
                "(\"momentum\", {{\"lr\": {}, \"beta\": {}}})",
                f(lr),
                f(beta)
            )
        }
        OptimConfig::Nesterov { lr, beta } => {
            format!(
                "(\"nesterov\", {{\"lr\": {}, \"beta\": {}}})",
                f(lr),
                f(beta)
            )
        }
        OptimConfig::Adagrad { lr, eps } => {
            format!("(\"adagrad\", {{\"lr\": {}, \"eps\": {}}})", f(lr), f(eps))
        }
        OptimConfig::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => format!(
            "(\"adam\", {{\"lr\": {}, \"beta1\": {}, \"beta2\": {}, \"eps\": {}}})",
            f(lr),
            f(beta1),
            f(beta2),
            f(eps)
        ),
    };
    Ok(format!(
        "# The train block.\nOPTIM = {o}\nTRAIN = {{\"epochs\": {}, \"batch\": {}, \"split\": {}, \"seed\": {}}}\n",
        setup.epochs,
        setup.batch,
        f(setup.split),
        setup.seed
    ))
}

const MAIN: &str = r#"

def main(argv=None):
    """Trains the train block: `--data` (default: the .jsonl file written
    beside this module), `--init` (default: the .init.safetensors beside
    it, cdlc's initial values), `--out` for the trained weights."""
    import argparse
    import os

    base = os.path.splitext(os.path.abspath(__file__))[0]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=base + ".jsonl", help="examples as JSON lines (cdlc data)")
    ap.add_argument("--init", default=base + ".init.safetensors", help="initial weights (safetensors)")
    ap.add_argument("--out", default=base + ".weights.safetensors", help="where to write the trained weights")
    ap.add_argument("--epochs", type=int, default=None, help="override the train block's epochs")
    ap.add_argument("--x64", action="store_true", help="train in float64")
    args = ap.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    if jax.process_count() > 1:
        print(f"process {jax.process_index()} of {jax.process_count()}", file=sys.stderr)
    dt = jnp.float64 if args.x64 else jnp.float32
    params = {k: v.astype(dt) for k, v in load_weights(args.init).items()}
    examples = read_jsonl(args.data)
    print(f"training on {jax.device_count()} device(s): {len(examples)} examples", file=sys.stderr)
    params = train(params, examples, epochs=args.epochs)
    if jax.process_index() == 0:
        save_weights(params, args.out)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
"#;
