//! Values written in case files, read against the type they must have.
//!
//! - a tensor: a number for `R`, else its entries in brackets, nested or
//!   flat (`[[1, 2], [3, 4]]` or `[1, 2, 3, 4]` for `R[2, 2]`);
//! - a tuple: `(a, b)`;
//! - a list-shaped data type and a `Seq`: its elements in brackets;
//! - any other data type: a constructor with its fields, `leaf([1])`,
//!   `node(leaf([1]), leaf([2]))`; a constructor without fields is its name.

use cdlc_ir::{Field, Module, Type};
use cdlc_runtime::value::{Tensor, Value};

/// Reads a value of type `ty` from `text`; fails with what was expected.
pub fn read(module: &Module, ty: &Type, text: &str) -> Result<Value, String> {
    let mut r = Reader { s: text, pos: 0 };
    let v = r.value(module, ty)?;
    r.spaces();
    if r.pos != r.s.len() {
        return Err(format!("unexpected `{}` after the value", &r.s[r.pos..]));
    }
    Ok(v)
}

/// Splits `a, b, (c, d)` at its top-level commas.
pub fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn spaces(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.spaces();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected `{c}` {what}, found `{}`",
                self.s[self.pos..].chars().take(12).collect::<String>()
            ))
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        self.spaces();
        let rest = &self.s[self.pos..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(rest.len());
        let x = rest[..end]
            .parse()
            .map_err(|_| format!("expected a number, found `{}`", &rest[..end]))?;
        self.pos += end;
        Ok(x)
    }

    fn value(&mut self, module: &Module, ty: &Type) -> Result<Value, String> {
        match ty {
            Type::Tensor(shape) => self.tensor(shape).map(Value::Tensor),
            Type::Tuple(ts) => {
                self.expect('(', "opening a tuple")?;
                let mut vs = Vec::new();
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        self.expect(',', "between a tuple's components")?;
                    }
                    vs.push(self.value(module, t)?);
                }
                self.expect(')', "closing a tuple")?;
                Ok(Value::Tuple(vs))
            }
            Type::Seq(elem) => self.elements(module, elem),
            Type::Data(d) => match module.list_element(*d) {
                Some(elem) => self.elements(module, &elem.clone()),
                None => self.node(module, *d),
            },
            other => Err(format!("values of type {other:?} cannot be written")),
        }
    }

    /// `[a, b, ...]` as a list of values of type `elem`.
    fn elements(&mut self, module: &Module, elem: &Type) -> Result<Value, String> {
        self.expect('[', "opening a list")?;
        let mut items = Vec::new();
        if !self.eat(']') {
            loop {
                items.push(self.value(module, elem)?);
                if self.eat(']') {
                    break;
                }
                self.expect(',', "between a list's elements")?;
            }
        }
        Ok(Value::list(items))
    }

    /// `ctor(field, ...)` of data type `d`.
    fn node(&mut self, module: &Module, d: cdlc_ir::DataId) -> Result<Value, String> {
        self.spaces();
        let rest = &self.s[self.pos..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let def = &module.data[d];
        let Some(ctor) = def.ctors.iter().position(|c| c.name == name) else {
            let names: Vec<&str> = def.ctors.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "expected a constructor of {} ({}), found `{name}`",
                def.decl.name,
                names.join(", ")
            ));
        };
        self.pos += end;
        let fields = def.ctors[ctor].fields.clone();
        let mut vs = Vec::new();
        if !fields.is_empty() {
            self.expect('(', "opening the constructor's fields")?;
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    self.expect(',', "between fields")?;
                }
                vs.push(match f {
                    Field::Rec => self.node(module, d)?,
                    Field::RecList => self.children(module, d)?,
                    Field::Plain(t) => self.value(module, t)?,
                    Field::Nested(_) => {
                        return Err(format!(
                            "a literal of {} holds a nested field, which IR cases do not write",
                            def.decl.name
                        ));
                    }
                });
            }
            self.expect(')', "closing the constructor's fields")?;
        }
        Ok(Value::Node {
            ctor: u32::try_from(ctor).expect("few constructors"),
            fields: vs,
        })
    }

    /// `[node, ...]`: a rose node's children.
    fn children(&mut self, module: &Module, d: cdlc_ir::DataId) -> Result<Value, String> {
        self.expect('[', "opening the children")?;
        let mut items = Vec::new();
        if !self.eat(']') {
            loop {
                items.push(self.node(module, d)?);
                if self.eat(']') {
                    break;
                }
                self.expect(',', "between children")?;
            }
        }
        Ok(Value::list(items))
    }

    /// A tensor of `shape`: a number, or bracketed entries, nested or flat.
    fn tensor(&mut self, shape: &[usize]) -> Result<Tensor, String> {
        let mut data = Vec::new();
        self.entries(&mut data)?;
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(format!(
                "expected {n} entries for a tensor of shape {shape:?}, found {}",
                data.len()
            ));
        }
        Ok(Tensor::new(shape.to_vec(), data))
    }

    fn entries(&mut self, out: &mut Vec<f64>) -> Result<(), String> {
        if !self.eat('[') {
            out.push(self.number()?);
            return Ok(());
        }
        if self.eat(']') {
            return Ok(());
        }
        loop {
            self.entries(out)?;
            if self.eat(']') {
                return Ok(());
            }
            self.expect(',', "between entries")?;
        }
    }
}
