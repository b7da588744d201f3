//! Which lists of an example must not be empty: those a hylomorphism by
//! `halves` splits, since `halves` cannot split an empty list and `cdlc`
//! stops with an error there.
//!
//! Inside the generated code an empty list under `halves` cannot stop the
//! run (padding positions hold empty lists too), so the encoder checks
//! the examples on the host, where it can name the example. This module
//! finds, for every `halves` fold, the place in an example whose length
//! the split list has: an input, then steps into it (every element of a
//! list, a component of a tuple, a field of every node of one constructor
//! of a structure, its children or a nested field). A stream's outputs
//! (`take k`) are never empty, since the checker refuses `take 0` (E0304).
//! A split list traced to neither is refused (E0804): the module could not
//! stop where cdlc stops.

use super::ExportError;
use cdlc_ir::entity::EntityRef;
use cdlc_ir::{Block, DataId, Field, Function, Module, Op, Source, Split, Value, ValueDef};

/// One step from a value of an example to values inside it.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// Every element of a list.
    Items,
    /// Component `k` of a tuple.
    Tuple(u32),
    /// Field `field` of every node of constructor `ctor` of a structure of
    /// type `data`.
    Field {
        data: DataId,
        ctor: usize,
        field: usize,
    },
}

/// A place in an example: an input and the steps into it.
type Place = (u32, Vec<Step>);

/// How long a split list is.
enum Length {
    /// As long as this place in the example.
    Of(Place),
    /// Never empty: a stream's `take k` outputs (`k` is at least 1).
    Positive,
}

/// `NONEMPTY`: the places of the lists `halves` splits, as a Python table
/// of `(input, steps)` the encoder checks every example against; E0804
/// for a split list whose length is traced to no place.
pub fn table(m: &Module, f: &Function) -> Result<String, ExportError> {
    let mut places: Vec<Place> = Vec::new();
    for (_, def) in f.values.iter() {
        if let ValueDef::Op(Op::Fold(fold)) = def
            && fold.split == Split::Halves
        {
            match length_place(m, f, fold.input) {
                Some(Length::Of(p)) if !places.contains(&p) => places.push(p),
                Some(_) => {}
                None => {
                    return Err(ExportError::Unchecked(format!(
                        "`by halves` splits a list of type {} computed in a way the exporter does not trace to the example, so the module could not stop where cdlc stops on an empty one",
                        super::type_name(m, &f.types[fold.input])
                    )));
                }
            }
        }
    }
    let mut out = String::from(
        "# Lists a hylomorphism by `halves` splits, which must not be empty:\n\
         # (input, steps into it); `encode` checks every example.\nNONEMPTY = [\n",
    );
    for (input, steps) in &places {
        let steps: Vec<String> = steps.iter().map(step).collect();
        out += &format!("    ({input}, ({})),\n", steps.join(" "));
    }
    Ok(out + "]\n\n")
}

/// A step as the encoder reads it.
fn step(s: &Step) -> String {
    match s {
        Step::Items => "(\"items\",),".to_string(),
        Step::Tuple(k) => format!("(\"tuple\", {k}),"),
        Step::Field { data, ctor, field } => {
            format!("(\"field\", {}, {ctor}, {field}),", data.index())
        }
    }
}

/// How long `v`, a list, is.
fn length_place(m: &Module, f: &Function, v: Value) -> Option<Length> {
    match f.op(v) {
        // A Mealy machine emits one output per element of its list.
        Some(Op::Unfold(u)) => match u.source {
            Source::Over(xs) => length_place(m, f, xs),
            Source::Take(_) => Some(Length::Positive),
        },
        _ => value_place(m, f, v).map(Length::Of),
    }
}

/// The place that `v` is, if `v` is a value of the example itself.
fn value_place(m: &Module, f: &Function, v: Value) -> Option<Place> {
    match &f.values[v] {
        ValueDef::Op(Op::Input(i)) => Some((*i, Vec::new())),
        ValueDef::Op(Op::Get(x, k)) => {
            let (i, mut steps) = value_place(m, f, *x)?;
            steps.push(Step::Tuple(*k));
            Some((i, steps))
        }
        ValueDef::Arg { block, index } => arg_place(m, f, *block, *index as usize),
        ValueDef::Op(_) => None,
    }
}

/// The place bound to argument `index` of region `block`: an element of
/// the list a fold or an unfold walks, or a field of a structure's node
/// (a plain field, its children, or a nested field).
fn arg_place(m: &Module, f: &Function, block: Block, index: usize) -> Option<Place> {
    match owner(f, block)? {
        Op::Fold(fold) => {
            let ctor = fold.cases.iter().position(|&b| b == block)?;
            if let Field::Rec = m.data[fold.data].ctors[ctor].fields.get(index)? {
                return None;
            }
            let (i, mut steps) = value_place(m, f, fold.input)?;
            // A list's `cons`, and a `halves` tree's leaf, bind an element;
            // any other structure binds a field of the node.
            if fold.split == Split::Halves || m.list_element(fold.data).is_some() {
                steps.push(Step::Items);
            } else {
                steps.push(Step::Field {
                    data: fold.data,
                    ctor,
                    field: index,
                });
            }
            Some((i, steps))
        }
        Op::Unfold(u) => match u.source {
            Source::Over(xs) if index == 1 => {
                let (i, mut steps) = value_place(m, f, xs)?;
                steps.push(Step::Items);
                Some((i, steps))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The op one of whose regions is `block`.
fn owner(f: &Function, block: Block) -> Option<&Op> {
    f.values.iter().find_map(|(_, def)| match def {
        ValueDef::Op(op) if op.regions().contains(&block) => Some(op),
        _ => None,
    })
}
