//! One function in the text form: header, `params` and `inputs` lines, op
//! lines with their regions, and `return`.
//!
//! Values keep the numbers the text gives them (`%7` is the value of arena
//! index 7), so printing the result gives the text back. The text must
//! therefore number its values from `%0` without gaps and define each once,
//! as the printer does for a verified function. The function is then put
//! through `verify_function`, whose errors are reported at the line that
//! defines the value (or opens the region) they concern.

use std::collections::HashMap;

use super::ParseError;
use super::cursor::{Cursor, Line};
use super::decls::{DataNames, read_type};
use super::ops::{Region, Scope, Use, read_head};
use crate::entity::EntityRef;
use crate::ir::{Block, BlockData, Function, Module, ParamDecl, Type, Value, ValueDef};
use crate::verify::{Location, verify_function};

/// Where a value is defined, and how.
struct Def {
    def: ValueDef,
    ty: Type,
    line: usize,
    column: usize,
}

/// Reads one function from `lines[0..]`; returns it and how many lines it
/// took.
pub(super) fn read_function(
    lines: &[Line<'_>],
    module: &Module,
    names: &DataNames,
) -> Result<(Function, usize), ParseError> {
    let mut r = Reader {
        lines,
        next: 0,
        module,
        names,
        func: Function::new(""),
        params: Vec::new(),
        defs: Vec::new(),
        uses: Vec::new(),
        block_lines: HashMap::new(),
    };
    r.header()?;
    let entry = r.func.entry;
    r.block_lines.insert(entry, lines[0].no);
    r.block(entry, "return")?;
    r.closing_brace("`}` closing the function")?;
    let func = r.assemble()?;
    Ok((func, r.next))
}

struct Reader<'a, 'm> {
    lines: &'a [Line<'a>],
    next: usize,
    module: &'m Module,
    names: &'m DataNames,
    func: Function,
    /// The parameter slots' names, in slot order.
    params: Vec<String>,
    /// Every value's definition, by value number.
    defs: Vec<Option<Def>>,
    uses: Vec<Use>,
    /// The line that opens each block.
    block_lines: HashMap<Block, usize>,
}

impl<'a> Reader<'a, '_> {
    /// The next line, or an error naming what was expected instead of the
    /// end of the text.
    fn line(&mut self, expected: &str) -> Result<Line<'a>, ParseError> {
        let Some(&line) = self.lines.get(self.next) else {
            let last = self.lines.last().map_or(1, |l| l.no);
            return Err(ParseError::expected(
                last + 1,
                1,
                expected,
                "the end of the text",
            ));
        };
        self.next += 1;
        Ok(line)
    }

    /// Reads `function NAME {`, then the optional `params` and `inputs`
    /// lines.
    fn header(&mut self) -> Result<(), ParseError> {
        let mut c = Cursor::new(self.line("`function NAME {`")?);
        if !c.keyword("function") {
            return Err(c.expected("`function NAME {`"));
        }
        self.func.name = c.until(" {", "the function's name")?.to_string();
        c.expect("{")?;
        c.expect_end()?;
        if let Some(&line) = self.lines.get(self.next) {
            let mut c = Cursor::new(line);
            if c.keyword("params") {
                self.next += 1;
                self.read_params(&mut c)?;
            }
        }
        if let Some(&line) = self.lines.get(self.next) {
            let mut c = Cursor::new(line);
            if c.keyword("inputs") {
                self.next += 1;
                loop {
                    let ty = read_type(&mut c, self.names)?;
                    self.func.inputs.push(ty);
                    if c.at_end() {
                        break;
                    }
                    c.expect(",")?;
                }
            }
        }
        Ok(())
    }

    /// Reads `name: R[..], ...` after `params`.
    fn read_params(&mut self, c: &mut Cursor<'_>) -> Result<(), ParseError> {
        loop {
            c.skip_spaces();
            let column = c.column();
            let name = c.name("a parameter's qualified name")?.to_string();
            if self.params.contains(&name) {
                return Err(ParseError::new(
                    c.line(),
                    column,
                    format!(
                        "the parameter `{name}` is declared twice; `param` ops name slots, so names must be distinct"
                    ),
                ));
            }
            c.expect(":")?;
            let column = c.column();
            let Type::Tensor(shape) = read_type(c, self.names)? else {
                return Err(ParseError::new(
                    c.line(),
                    column,
                    "expected a parameter's tensor type, like `R[4, 4]`",
                ));
            };
            self.func.params.push(ParamDecl {
                name: name.clone(),
                shape,
            });
            self.params.push(name);
            if c.at_end() {
                return Ok(());
            }
            c.expect(",")?;
        }
    }

    /// Reads op lines into `block` until `end %N` (`return` or `yield`).
    fn block(&mut self, block: Block, end: &str) -> Result<(), ParseError> {
        loop {
            let line = self.line(&format!("an op line or `{end} %N`"))?;
            let mut c = Cursor::new(line);
            if c.keyword(end) {
                let (v, column) = c.value()?;
                self.uses.push((v, line.no, column));
                c.expect_end()?;
                self.func.blocks[block].result = Some(v);
                return Ok(());
            }
            let v = self.inst(&mut c, end)?;
            self.func.blocks[block].insts.push(v);
        }
    }

    /// Reads `}` alone on a line.
    fn closing_brace(&mut self, what: &str) -> Result<(), ParseError> {
        let mut c = Cursor::new(self.line(what)?);
        if !c.eat("}") {
            return Err(c.expected(what));
        }
        c.expect_end()
    }

    /// Reads `%N = op ... : TYPE` and its regions, if any, in a block that
    /// ends with `end`.
    fn inst(&mut self, c: &mut Cursor<'_>, end: &str) -> Result<Value, ParseError> {
        if c.at_end() || !c.rest().trim_start().starts_with('%') {
            return Err(c.expected(&format!("an op line `%N = op ... : TYPE` or `{end} %N`")));
        }
        let (v, column) = c.value()?;
        c.expect("=")?;
        c.skip_spaces();
        let name_column = c.column();
        let name = c.word("an op name")?;
        let mut scope = Scope {
            names: self.names,
            module: self.module,
            params: &self.params,
            uses: &mut self.uses,
        };
        let head = read_head(c, name, name_column, &mut scope)?;
        c.expect(":")?;
        let ty = read_type(c, self.names)?;
        let regions = match head.region_labels(self.module) {
            Some(labels) => {
                c.expect("{")?;
                c.expect_end()?;
                let regions = self.regions(&labels)?;
                self.closing_brace("`}` closing the op's regions")?;
                regions
            }
            None => {
                c.expect_end()?;
                Vec::new()
            }
        };
        let op = head
            .finish(&ty, regions)
            .map_err(|m| ParseError::new(c.line(), name_column, m))?;
        self.define(v, ValueDef::Op(op), ty, c.line(), column)?;
        Ok(v)
    }

    /// Reads one region per label: `label(%a: T, ...) {`, its ops,
    /// `yield %N` and `}`.
    fn regions(&mut self, labels: &[String]) -> Result<Vec<Region>, ParseError> {
        let mut regions = Vec::with_capacity(labels.len());
        for label in labels {
            let line = self.line(&format!("the region `{label}(...) {{`"))?;
            let mut c = Cursor::new(line);
            let mark = c.mark();
            if c.word("a region label").ok() != Some(label.as_str()) {
                c.reset(mark);
                return Err(c.expected(&format!(
                    "the region `{label}` (regions follow the constructors in order; a step is `step`)"
                )));
            }
            let block = self.func.blocks.push(BlockData {
                args: Vec::new(),
                insts: Vec::new(),
                result: None,
            });
            self.block_lines.insert(block, line.no);
            let args = self.region_args(&mut c, block)?;
            c.expect("{")?;
            c.expect_end()?;
            self.block(block, "yield")?;
            self.closing_brace("`}` closing the region")?;
            regions.push(Region { block, args });
        }
        Ok(regions)
    }

    /// Reads `(%a: T, ...)`, defining the block's arguments.
    fn region_args(&mut self, c: &mut Cursor<'_>, block: Block) -> Result<Vec<Type>, ParseError> {
        c.expect("(")?;
        let mut types = Vec::new();
        if c.eat(")") {
            return Ok(types);
        }
        loop {
            let (v, column) = c.value()?;
            c.expect(":")?;
            let ty = read_type(c, self.names)?;
            let index = u32::try_from(types.len()).expect("few region arguments");
            self.define(
                v,
                ValueDef::Arg { block, index },
                ty.clone(),
                c.line(),
                column,
            )?;
            self.func.blocks[block].args.push(v);
            types.push(ty);
            if c.eat(")") {
                return Ok(types);
            }
            c.expect(",")?;
        }
    }

    /// Records the definition of `v`, refusing a second one.
    fn define(
        &mut self,
        v: Value,
        def: ValueDef,
        ty: Type,
        line: usize,
        column: usize,
    ) -> Result<(), ParseError> {
        let i = v.index();
        if self.defs.len() <= i {
            self.defs.resize_with(i + 1, || None);
        }
        if let Some(first) = &self.defs[i] {
            return Err(ParseError::new(
                line,
                column,
                format!("{v} is defined twice (first on line {})", first.line),
            ));
        }
        self.defs[i] = Some(Def {
            def,
            ty,
            line,
            column,
        });
        Ok(())
    }

    /// Fills the function's value arena in number order, checks every use,
    /// and verifies the function.
    fn assemble(&mut self) -> Result<Function, ParseError> {
        let header = self.lines[0].no;
        let mut func = std::mem::replace(&mut self.func, Function::new(""));
        let mut lines = Vec::with_capacity(self.defs.len());
        for (i, d) in std::mem::take(&mut self.defs).into_iter().enumerate() {
            let Some(d) = d else {
                return Err(ParseError::new(
                    header,
                    1,
                    format!("%{i} is never defined: values are numbered from %0 without gaps"),
                ));
            };
            let v = func.values.push(d.def);
            func.types.insert(v, d.ty);
            lines.push((d.line, d.column));
        }
        for &(v, line, column) in &self.uses {
            if v.index() >= lines.len() {
                return Err(ParseError::new(
                    line,
                    column,
                    format!("{v} is used but never defined"),
                ));
            }
        }
        if let Err(errors) = verify_function(self.module, &func) {
            let e = &errors[0];
            let (line, column) = match e.location {
                Location::Value(v) => lines.get(v.index()).copied().unwrap_or((header, 1)),
                Location::Block(b) => (self.block_lines.get(&b).copied().unwrap_or(header), 1),
                Location::Function => (header, 1),
            };
            let more = match errors.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(ParseError::new(
                line,
                column,
                format!("the function does not verify: {e}{more}"),
            ));
        }
        Ok(func)
    }
}
