//! Types, data-type declarations and bases in the text form.
//!
//! A data type is named in types by its declaration's name exactly as the
//! printer writes it (`List(R[2])`, `Tree(List(R[2]))`), so a type that
//! starts with a word is first looked up among the module's data types,
//! with its parenthesised arguments, and only then read as `R[..]`,
//! `Seq(..)`, `Class(n)` or `Tape`. Declarations come before functions, and
//! a data type before those that mention it (the printer's order, which is
//! `Module::add_data`'s interning order).

use std::collections::HashMap;
use std::sync::Arc;

use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};

use super::ParseError;
use super::cursor::{Cursor, Line};
use crate::entity::EntityRef;
use crate::example_error::data_type;
use crate::ir::{Basis, DataId, Module, Type};

/// The data types declared so far, by name.
#[derive(Default)]
pub(super) struct DataNames {
    by_name: HashMap<String, DataId>,
}

impl DataNames {
    /// The data type named `name`, if declared.
    pub fn get(&self, name: &str) -> Option<DataId> {
        self.by_name.get(name).copied()
    }
}

/// Reads a type.
pub(super) fn read_type(c: &mut Cursor<'_>, names: &DataNames) -> Result<Type, ParseError> {
    c.skip_spaces();
    if c.eat("(") {
        let mut parts = Vec::new();
        if !c.eat(")") {
            loop {
                parts.push(read_type(c, names)?);
                if c.eat(")") {
                    break;
                }
                c.expect(",")?;
            }
        }
        return Ok(Type::Tuple(parts));
    }
    let start = c.mark();
    let what = "a type (`R`, `R[2, 3]`, `(R, R)`, `Seq(R)`, `Class(3)`, `Tape` or a data type)";
    let word = c.word(what)?;
    if let Some(d) = data_name(c, word, names) {
        return Ok(Type::Data(d));
    }
    match word {
        "R" => read_dims(c).map(Type::Tensor),
        "Seq" => {
            c.expect("(")?;
            let inner = read_type(c, names)?;
            c.expect(")")?;
            Ok(Type::Seq(Box::new(inner)))
        }
        "Class" => {
            c.expect("(")?;
            let n = c.integer("a class count")?;
            c.expect(")")?;
            Ok(Type::Class(n))
        }
        "Tape" => Ok(Type::Tape),
        _ => {
            c.reset(start);
            Err(c.error(format!(
                "expected {what}, found {}: no data type of this name is declared above",
                c.found()
            )))
        }
    }
}

/// If `word` (just read), alone or with the parenthesised text that follows
/// it, names a declared data type, moves past the name and returns the type.
fn data_name(c: &mut Cursor<'_>, word: &str, names: &DataNames) -> Option<DataId> {
    let rest = c.rest();
    if rest.starts_with('(') {
        let close = matching_paren(rest)?;
        let mut full = String::from(word);
        full.push_str(&rest[..=close]);
        if let Some(d) = names.get(&full) {
            c.advance(close + 1);
            return Some(d);
        }
        return None;
    }
    names.get(word)
}

/// The byte index of the `)` that closes the `(` that `s` starts with.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads the optional `[d, ...]` after `R`.
fn read_dims(c: &mut Cursor<'_>) -> Result<Vec<usize>, ParseError> {
    if !c.rest().starts_with('[') {
        return Ok(Vec::new());
    }
    c.advance(1);
    let mut dims = Vec::new();
    loop {
        dims.push(c.integer("an extent")?);
        if c.eat("]") {
            return Ok(dims);
        }
        c.expect(",")?;
    }
}

/// Reads `dataN NAME = ctor | ctor(field, ...)` and adds the declaration.
pub(super) fn read_data(
    line: Line<'_>,
    module: &mut Module,
    names: &mut DataNames,
) -> Result<(), ParseError> {
    let mut c = Cursor::new(line);
    c.expect("data")?;
    let n = c.integer("the data type's number, as in `data0`")?;
    if n != module.data.len() {
        return Err(ParseError::new(
            line.no,
            line.indent + 1,
            format!(
                "expected `data{}` (data types are numbered in order from 0), found `data{n}`",
                module.data.len()
            ),
        ));
    }
    let name = c.until(" = ", "the data type's name")?.to_string();
    c.expect("=")?;
    let mut ctors = Vec::new();
    loop {
        ctors.push(read_ctor(&mut c, module, names)?);
        if c.at_end() {
            break;
        }
        c.expect("|")?;
    }
    if names.get(&name).is_some() {
        return Err(ParseError::new(
            line.no,
            line.indent + 1,
            format!("a data type named `{name}` is already declared; names must be distinct"),
        ));
    }
    let id = module.add_data(Arc::new(DataDecl {
        name: name.clone(),
        ctors,
    }));
    if id.index() != n {
        return Err(ParseError::new(
            line.no,
            line.indent + 1,
            format!("`data{n}` repeats the declaration of `{id}`"),
        ));
    }
    names.by_name.insert(name, id);
    Ok(())
}

/// Reads one constructor: its name and, in parentheses, its fields.
fn read_ctor(
    c: &mut Cursor<'_>,
    module: &Module,
    names: &DataNames,
) -> Result<CtorDecl, ParseError> {
    let name = c.word("a constructor name")?.to_string();
    let mut fields = Vec::new();
    if c.rest().starts_with('(') {
        c.advance(1);
        loop {
            fields.push(read_field(c, module, names)?);
            if c.eat(")") {
                break;
            }
            c.expect(",")?;
        }
    }
    Ok(CtorDecl { name, fields })
}

/// Reads a field: `X`, `List(X)` or a plain type.
fn read_field(
    c: &mut Cursor<'_>,
    module: &Module,
    names: &DataNames,
) -> Result<DataType, ParseError> {
    c.skip_spaces();
    let ends = |r: &str| r.starts_with(',') || r.starts_with(')');
    let rest = c.rest();
    if rest.starts_with('X') && ends(&rest[1..]) {
        c.advance(1);
        return Ok(DataType::Rec(0));
    }
    if rest.starts_with("List(X)") && ends(&rest[7..]) {
        c.advance(7);
        return Ok(DataType::list(DataType::Rec(0)));
    }
    if c.keyword("nested") {
        return read_nested(c, 0);
    }
    let column = c.column();
    let ty = read_type(c, names)?;
    data_type(module, &ty).ok_or_else(|| {
        ParseError::new(
            c.line(),
            column,
            "expected a field type made of tensors, tuples and data types (or `X`, `List(X)`), \
             found a sequence, class or tape type",
        )
    })
}

/// Reads a nested field's runtime type as `print` writes it: `R[..]`, `X`
/// or `Xk`, `(a * b)`, `{NAME = ctor | ctor(field, ...)}`. `depth` counts
/// the data types around it, which bounds the recursive positions named.
fn read_nested(c: &mut Cursor<'_>, depth: u32) -> Result<DataType, ParseError> {
    c.skip_spaces();
    if depth > 64 {
        return Err(c.error("a nested field deeper than 64 data types"));
    }
    let rest = c.rest();
    if rest.starts_with('X') {
        c.advance(1);
        let digits = c.rest().chars().take_while(char::is_ascii_digit).count();
        let k = if digits == 0 { 0 } else { c.small("a level")? };
        if k > depth {
            return Err(c.error(format!("`X{k}` names no data type around it")));
        }
        return Ok(DataType::Rec(k));
    }
    if c.eat("(") {
        let mut parts = vec![read_nested(c, depth)?];
        while c.eat("*") {
            parts.push(read_nested(c, depth)?);
        }
        c.expect(")")?;
        return Ok(DataType::Tuple(parts));
    }
    if c.eat("{") {
        let name = c.until(" = ", "the data type's name")?.to_string();
        c.expect("=")?;
        let mut ctors = Vec::new();
        loop {
            let cname = c.word("a constructor name")?.to_string();
            let mut fields = Vec::new();
            if c.eat("(") {
                loop {
                    fields.push(read_nested(c, depth + 1)?);
                    if c.eat(")") {
                        break;
                    }
                    c.expect(",")?;
                }
            }
            ctors.push(CtorDecl {
                name: cname,
                fields,
            });
            if c.eat("}") {
                break;
            }
            c.expect("|")?;
        }
        return Ok(DataType::Data(Arc::new(DataDecl { name, ctors })));
    }
    c.expect("R")?;
    Ok(DataType::Tensor(read_dims(c)?))
}

/// Reads `basisN NAME : R[..], K elements [of R[..]]` and the `K` lines of entries
/// that follow (`k: {index: value, ...}`), and adds the basis. Returns how
/// many lines it read.
pub(super) fn read_basis(
    lines: &[Line<'_>],
    module: &mut Module,
    names: &DataNames,
) -> Result<usize, ParseError> {
    let mut c = Cursor::new(lines[0]);
    c.expect("basis")?;
    let n = c.integer("the basis's number, as in `basis0`")?;
    if n != module.bases.len() {
        return Err(ParseError::new(
            lines[0].no,
            lines[0].indent + 1,
            format!(
                "expected `basis{}` (bases are numbered in order from 0), found `basis{n}`",
                module.bases.len()
            ),
        ));
    }
    let name = c.until(" : ", "the basis's name")?.to_string();
    c.expect(":")?;
    let column = c.column();
    let Type::Tensor(shape) = read_type(&mut c, names)? else {
        return Err(ParseError::new(
            c.line(),
            column,
            "expected the shape of the basis's elements, like `R[4, 4]`",
        ));
    };
    c.expect(",")?;
    let count = c.integer("the number of elements")?;
    c.expect("elements")?;
    let coeff_shape = read_coeff_shape(&mut c, names, count)?;
    c.expect_end()?;
    let size: usize = shape.iter().product();
    let mut elements = Vec::with_capacity(count);
    for k in 0..count {
        let Some(&line) = lines.get(1 + k) else {
            let last = lines[lines.len() - 1];
            return Err(ParseError::new(
                last.no + 1,
                1,
                format!(
                    "expected element {k} of `basis{n}` ({count} elements), found the end of the declarations"
                ),
            ));
        };
        elements.push(read_element(line, k, size)?);
    }
    module.add_basis(Basis {
        name,
        shape,
        elements,
        coeff_shape,
    });
    Ok(1 + count)
}

/// The optional `of R[...]` after a basis's element count: the shape of its
/// coefficients, which must hold `count` entries (without it, `[count]`).
fn read_coeff_shape(
    c: &mut Cursor<'_>,
    names: &DataNames,
    count: usize,
) -> Result<crate::ir::Shape, ParseError> {
    if !c.keyword("of") {
        return Ok(vec![count]);
    }
    let column = c.column();
    match read_type(c, names)? {
        Type::Tensor(shape) if shape.iter().product::<usize>() == count => Ok(shape),
        _ => Err(ParseError::new(
            c.line(),
            column,
            format!(
                "expected the shape of the coefficients, a tensor of {count} entries like `R[{count}]`"
            ),
        )),
    }
}

/// Reads `k: {index: value, first..=last/step: value, ...}`; indices must
/// lie below `size`.
fn read_element(line: Line<'_>, k: usize, size: usize) -> Result<Vec<(u32, f64)>, ParseError> {
    let mut c = Cursor::new(line);
    let column = c.column();
    let got = c.integer(&format!("element number {k}"))?;
    if got != k {
        return Err(ParseError::new(
            line.no,
            column,
            format!("expected element number {k}, found {got}"),
        ));
    }
    c.expect(":")?;
    c.expect("{")?;
    let mut entries = Vec::new();
    if !c.eat("}") {
        loop {
            read_entries(&mut c, size, &mut entries)?;
            if c.eat("}") {
                break;
            }
            c.expect(",")?;
        }
    }
    c.expect_end()?;
    Ok(entries)
}

/// Reads one entry, `index: value`, or a run of entries with one value,
/// `first..=last: value` (consecutive indices) or `first..=last/step:
/// value`, and appends it to `out`.
fn read_entries(
    c: &mut Cursor<'_>,
    size: usize,
    out: &mut Vec<(u32, f64)>,
) -> Result<(), ParseError> {
    let first = flat_index(c, size)?;
    let (mut last, mut step) = (first, 1);
    if c.eat("..=") {
        let column = c.column();
        last = flat_index(c, size)?;
        if c.eat("/") {
            let column = c.column();
            step = c.small("a range's step")?;
            if step == 0 {
                return Err(ParseError::new(
                    c.line(),
                    column,
                    "expected a step of at least 1, found 0",
                ));
            }
        }
        if last < first || (last - first) % step != 0 {
            return Err(ParseError::new(
                c.line(),
                column,
                format!(
                    "expected the last index of a range from {first} in steps of {step}, found {last}"
                ),
            ));
        }
    }
    c.expect(":")?;
    let x = c.number()?;
    out.extend((first..=last).step_by(step as usize).map(|i| (i, x)));
    Ok(())
}

/// Reads a flat index below `size`.
fn flat_index(c: &mut Cursor<'_>, size: usize) -> Result<u32, ParseError> {
    let column = c.column();
    let i = c.small("an entry's flat index")?;
    if i as usize >= size {
        return Err(ParseError::new(
            c.line(),
            column,
            format!("expected a flat index below {size} (the elements' size), found {i}"),
        ));
    }
    Ok(i)
}
