//! The reader's view of one line: a position, small lexing steps, and
//! errors that say where they are, what was expected and what was found.
//!
//! The text form is line-structured, so every step works inside one line;
//! columns count characters from 1 and include the line's indentation.

use super::ParseError;
use crate::ir::Value;

/// Characters that end a word or a number.
const PUNCTUATION: &[char] = &[',', ':', '(', ')', '[', ']', '{', '}', '=', '|', '%', ';'];

/// One line of the text, without its indentation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Line<'a> {
    /// The 1-based line number.
    pub no: usize,
    /// How many characters of indentation were cut off.
    pub indent: usize,
    /// The line's text after its indentation.
    pub text: &'a str,
}

/// A position inside one line.
pub(super) struct Cursor<'a> {
    line: Line<'a>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `line`.
    pub fn new(line: Line<'a>) -> Cursor<'a> {
        Cursor { line, pos: 0 }
    }

    /// The line number.
    pub fn line(&self) -> usize {
        self.line.no
    }

    /// The 1-based column of the next character.
    pub fn column(&self) -> usize {
        self.line.indent + self.line.text[..self.pos].chars().count() + 1
    }

    /// The text not yet read.
    pub fn rest(&self) -> &'a str {
        &self.line.text[self.pos..]
    }

    /// Skips spaces.
    pub fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// An error at the cursor: `expected` was wanted, the next token was
    /// found instead.
    pub fn expected(&self, expected: &str) -> ParseError {
        ParseError::expected(self.line(), self.column(), expected, &self.found())
    }

    /// An error at the cursor with its own wording.
    pub fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line(), self.column(), message)
    }

    /// The next token as an error message shows it.
    pub fn found(&self) -> String {
        let rest = self.rest().trim_start();
        let Some(first) = rest.chars().next() else {
            return "the end of the line".to_string();
        };
        if PUNCTUATION.contains(&first) && first != '%' {
            return format!("`{first}`");
        }
        let end = rest[first.len_utf8()..]
            .find(|c: char| c.is_whitespace() || (PUNCTUATION.contains(&c) && c != '.'))
            .map_or(rest.len(), |i| i + first.len_utf8());
        format!("`{}`", &rest[..end])
    }

    /// Reads `lit` (after spaces) if it comes next.
    pub fn eat(&mut self, lit: &str) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Reads `lit` (after spaces) or fails naming it.
    pub fn expect(&mut self, lit: &str) -> Result<(), ParseError> {
        if self.eat(lit) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{lit}`")))
        }
    }

    /// Reads a keyword: `word` followed by a space or the end of the line.
    pub fn keyword(&mut self, word: &str) -> bool {
        self.skip_spaces();
        let rest = self.rest();
        let ends = rest
            .get(word.len()..)
            .is_some_and(|r| r.is_empty() || r.starts_with(' '));
        if rest.starts_with(word) && ends {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Whether nothing but spaces is left.
    pub fn at_end(&self) -> bool {
        self.rest().trim().is_empty()
    }

    /// Fails unless nothing but spaces is left.
    pub fn expect_end(&self) -> Result<(), ParseError> {
        if self.at_end() {
            Ok(())
        } else {
            let mut c = Cursor {
                line: self.line,
                pos: self.pos,
            };
            c.skip_spaces();
            Err(c.expected("the end of the line"))
        }
    }

    /// Reads a word: letters, digits, `_` and `.` (an op, a loss, a label).
    pub fn word(&mut self, what: &str) -> Result<&'a str, ParseError> {
        self.skip_spaces();
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(self.expected(what));
        }
        self.pos += end;
        Ok(&rest[..end])
    }

    /// Reads a name that may hold any character but spaces, `,` and `:`
    /// (a parameter's qualified name).
    pub fn name(&mut self, what: &str) -> Result<&'a str, ParseError> {
        self.skip_spaces();
        let rest = self.rest();
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',' || c == ':')
            .unwrap_or(rest.len());
        if end == 0 {
            return Err(self.expected(what));
        }
        self.pos += end;
        Ok(&rest[..end])
    }

    /// Reads everything up to (not including) `stop`, trimmed; fails if
    /// `stop` does not follow on this line.
    pub fn until(&mut self, stop: &str, what: &str) -> Result<&'a str, ParseError> {
        self.skip_spaces();
        let rest = self.rest();
        match rest.find(stop) {
            Some(i) if !rest[..i].trim().is_empty() => {
                self.pos += i;
                Ok(rest[..i].trim_end())
            }
            _ => Err(self.expected(&format!("{what} followed by `{}`", stop.trim()))),
        }
    }

    /// Reads a non-negative integer.
    pub fn integer(&mut self, what: &str) -> Result<usize, ParseError> {
        self.skip_spaces();
        let rest = self.rest();
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n = rest[..end].parse().map_err(|_| self.expected(what))?;
        self.pos += end;
        Ok(n)
    }

    /// Reads a non-negative integer that fits in a `u32`.
    pub fn small(&mut self, what: &str) -> Result<u32, ParseError> {
        let start = Cursor {
            line: self.line,
            pos: self.pos,
        };
        let n = self.integer(what)?;
        u32::try_from(n).map_err(|_| start.error(format!("{what} {n} is too large")))
    }

    /// Reads a number as Rust writes an `f64` with `{:?}` (`1.0`, `-2e-7`,
    /// `NaN`, `inf`).
    pub fn number(&mut self) -> Result<f64, ParseError> {
        self.skip_spaces();
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(rest.len());
        let x = rest[..end].parse().map_err(|_| self.expected("a number"))?;
        self.pos += end;
        Ok(x)
    }

    /// Reads a value `%N`, with the column it starts at.
    pub fn value(&mut self) -> Result<(Value, usize), ParseError> {
        self.skip_spaces();
        let column = self.column();
        if !self.rest().starts_with('%') {
            return Err(self.expected("a value like `%4`"));
        }
        self.pos += 1;
        let n = self.small("a value number after `%`")?;
        Ok((crate::entity::EntityRef::new(n as usize), column))
    }

    /// The byte position, to come back to.
    pub fn mark(&self) -> usize {
        self.pos
    }

    /// Goes back to a position from `mark`.
    pub fn reset(&mut self, mark: usize) {
        self.pos = mark;
    }

    /// Moves forward by `n` bytes of the rest.
    pub fn advance(&mut self, n: usize) {
        self.pos += n;
    }
}
