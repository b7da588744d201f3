//! An iterative JSON reader into a flat document, for data lines whose
//! values nest to any depth.
//!
//! A reader that recurses once per level of nesting (as `serde_json`'s
//! does, with its limit of 128 levels) cannot load a tree 100 000 levels
//! deep, and neither can a recursive value type: its drop and every walk
//! over it recurse too. This reader keeps the containers it is inside on a
//! heap stack and writes every value into one vector in pre-order, each
//! node recording where its subtree ends. Reading, walking and dropping a
//! document therefore never recurse, and the memory is linear in the text.
//!
//! The grammar is RFC 8259's: `null`, `true`, `false`, numbers
//! (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), strings with the
//! escapes `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate pairs joined, a lone
//! surrogate refused), arrays and objects. Numbers are kept as their text
//! and read when asked for, so an integer class index is never rounded.

use std::borrow::Cow;
use std::fmt;

#[cfg(test)]
mod tests;

/// A parsed JSON text: its values in pre-order, each container followed by
/// its elements' subtrees.
#[derive(Debug)]
pub(crate) struct Document<'a> {
    nodes: Vec<Node<'a>>,
}

/// One value of a document.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    /// What kind of value it is.
    pub(crate) kind: Kind<'a>,
    /// The key it is stored under, when it is a member of an object.
    pub(crate) key: Option<Cow<'a, str>>,
    /// One past the index of the last node of its subtree.
    end: usize,
}

/// The kind of a JSON value, with its contents when it is a scalar.
#[derive(Debug)]
pub(crate) enum Kind<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string, with its escapes resolved.
    String(Cow<'a, str>),
    /// An array of this many elements.
    Array(usize),
    /// An object of this many members.
    Object(usize),
}

/// Why a text is not JSON, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// The 1-based column (in characters) of the offending character.
    pub(crate) column: usize,
    /// What was expected and what was found.
    pub(crate) message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

/// The index of a node in its document.
pub(crate) type NodeId = usize;

impl<'a> Document<'a> {
    /// Parses `text`, which must hold exactly one JSON value (surrounded by
    /// any whitespace).
    pub(crate) fn parse(text: &'a str) -> Result<Document<'a>, JsonError> {
        Parser {
            text,
            pos: 0,
            nodes: Vec::new(),
            open: Vec::new(),
            key: None,
        }
        .run()
    }

    /// The top-level value.
    pub(crate) fn root(&self) -> NodeId {
        0
    }

    /// The node `id`.
    pub(crate) fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id]
    }

    /// The elements of an array, or the members of an object, in order;
    /// nothing for a scalar.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_, 'a> {
        Children {
            doc: self,
            next: id + 1,
            end: self.nodes[id].end,
        }
    }

    /// The value stored under `key` in an object (the first, if the key
    /// occurs more than once), or `None`.
    pub(crate) fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        match self.nodes[id].kind {
            Kind::Object(_) => self
                .children(id)
                .find(|&c| self.nodes[c].key.as_deref() == Some(key)),
            _ => None,
        }
    }
}

/// An iterator over the direct children of a node.
pub(crate) struct Children<'d, 'a> {
    doc: &'d Document<'a>,
    next: usize,
    end: usize,
}

impl Iterator for Children<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        self.next = self.doc.nodes[id].end;
        Some(id)
    }
}

impl Node<'_> {
    /// The number's value, if this is a number.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self.kind {
            Kind::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The number as a non-negative integer, if it is written as one.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self.kind {
            Kind::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

/// A container the parser is inside.
struct Open {
    node: usize,
    object: bool,
    count: usize,
}

/// The reader's state: the text, the position, the nodes so far, the
/// containers it is inside and the key read for the next member.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    nodes: Vec<Node<'a>>,
    open: Vec<Open>,
    key: Option<Cow<'a, str>>,
}

impl<'a> Parser<'a> {
    /// Reads values until the top-level one is complete. Each pass of the
    /// outer loop reads one value; the inner loop then closes the
    /// containers that end after it.
    fn run(mut self) -> Result<Document<'a>, JsonError> {
        loop {
            // Open containers until a value is complete.
            while !self.value()? {}
            loop {
                let Some(top) = self.open.last_mut() else {
                    self.skip_whitespace();
                    if self.pos < self.text.len() {
                        return Err(self.error("the end of the line after the value"));
                    }
                    return Ok(Document { nodes: self.nodes });
                };
                top.count += 1;
                let object = top.object;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            self.member_key()?;
                        }
                        break;
                    }
                    Some(b']') if !object => self.close(),
                    Some(b'}') if object => self.close(),
                    _ if object => return Err(self.error("`,` or `}`")),
                    _ => return Err(self.error("`,` or `]`")),
                }
            }
        }
    }

    /// Reads one value: a scalar whole, or the opening of a container (and
    /// its closing too, when it is empty). Returns whether the value is
    /// complete; when it is not, its first element comes next.
    fn value(&mut self) -> Result<bool, JsonError> {
        self.skip_whitespace();
        let Some(b) = self.peek() else {
            return Err(self.error("a value"));
        };
        let kind = match b {
            b'[' | b'{' => return self.open_container(b == b'{'),
            b'"' => Kind::String(self.string()?),
            b'-' | b'0'..=b'9' => Kind::Number(self.number()?),
            b'n' => self.literal("null", Kind::Null)?,
            b't' => self.literal("true", Kind::Bool(true))?,
            b'f' => self.literal("false", Kind::Bool(false))?,
            _ => return Err(self.error("a value")),
        };
        self.push(kind);
        Ok(true)
    }

    /// Adds a node whose subtree is itself, under the pending key.
    fn push(&mut self, kind: Kind<'a>) {
        let end = self.nodes.len() + 1;
        self.nodes.push(Node {
            kind,
            key: self.key.take(),
            end,
        });
    }

    /// Opens an array or object at `[` or `{`; returns whether it is
    /// already complete (empty).
    fn open_container(&mut self, object: bool) -> Result<bool, JsonError> {
        self.pos += 1;
        let node = self.nodes.len();
        self.push(if object {
            Kind::Object(0)
        } else {
            Kind::Array(0)
        });
        self.open.push(Open {
            node,
            object,
            count: 0,
        });
        self.skip_whitespace();
        let closer = if object { b'}' } else { b']' };
        if self.peek() == Some(closer) {
            // An empty container is complete; its parent counts it next.
            self.pos += 1;
            self.open.pop();
            return Ok(true);
        }
        if object {
            self.member_key()?;
        }
        Ok(false)
    }

    /// Closes the innermost container at its `]` or `}`.
    fn close(&mut self) {
        self.pos += 1;
        let open = self.open.pop().expect("a container is open");
        let end = self.nodes.len();
        let node = &mut self.nodes[open.node];
        node.end = end;
        node.kind = if open.object {
            Kind::Object(open.count)
        } else {
            Kind::Array(open.count)
        };
    }

    /// Reads `"key":` before a member's value.
    fn member_key(&mut self) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.error("a key in double quotes"));
        }
        let key = self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.error("`:` after the key"));
        }
        self.pos += 1;
        self.key = Some(key);
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Reads `word` (`null`, `true` or `false`).
    fn literal(&mut self, word: &str, kind: Kind<'a>) -> Result<Kind<'a>, JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error("a value"))
        }
    }

    /// Reads a number and returns its text.
    fn number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.at_least_one_digit()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.at_least_one_digit()?;
        }
        Ok(&self.text[start..self.pos])
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("a digit"));
        }
        self.digits();
        Ok(())
    }

    /// Reads a string at its opening quote. A string without escapes is
    /// borrowed from the text.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.error("the closing `\"` of the string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.text[start..self.pos - 1]));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(self.error("a character of the string")),
                Some(_) => self.pos += 1,
            }
        }
        let mut owned = self.text[start..self.pos].to_string();
        self.escaped_rest(&mut owned)?;
        Ok(Cow::Owned(owned))
    }

    /// Reads the rest of a string that holds an escape, appending to `out`.
    fn escaped_rest(&mut self, out: &mut String) -> Result<(), JsonError> {
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error("the closing `\"` of the string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                c if (c as u32) < 0x20 => return Err(self.error("a character of the string")),
                c => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// Reads the escape after a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape();
            }
            _ => return Err(self.error("an escape (one of `\"\\/bfnrtu`)")),
        };
        self.pos += 1;
        Ok(c)
    }

    /// Reads the four hex digits of `\u`, and a second escape when the
    /// first is a high surrogate.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high).ok_or_else(|| self.error("a character, not a surrogate"));
        }
        if !self.text[self.pos..].starts_with("\\u") {
            return Err(self.error("`\\u` and the second half of a surrogate pair"));
        }
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(self.error("the second half of a surrogate pair"));
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(code).ok_or_else(|| self.error("a character"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let bytes = self.text.as_bytes();
        let Some(digits) = bytes.get(self.pos..self.pos + 4) else {
            return Err(self.error("four hex digits"));
        };
        let mut v = 0;
        for &d in digits {
            let Some(h) = char::from(d).to_digit(16) else {
                return Err(self.error("four hex digits"));
            };
            v = v * 16 + h;
        }
        self.pos += 4;
        Ok(v)
    }

    /// An error at the current position: `expected` was wanted, and the
    /// character here (or the end of the line) was found.
    fn error(&self, expected: &str) -> JsonError {
        let column = self.text[..self.pos].chars().count() + 1;
        let found = match self.text[self.pos..].chars().next() {
            None => "the end of the line".to_string(),
            Some(c) if c.is_control() || c.is_whitespace() => format!("{c:?}"),
            Some(c) => format!("`{c}`"),
        };
        JsonError {
            column,
            message: format!("expected {expected}, found {found}"),
        }
    }
}
