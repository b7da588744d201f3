//! `--emit ast`: the syntax tree in Rust's pretty `Debug` layout, printed
//! in time linear in the output.
//!
//! Rust's alternate (`{:#?}`) formatting indents through one adapter per
//! open level, so every character passes through as many adapters as it is
//! deep: printing a tree `d` levels deep costs about `d` times its output,
//! which itself grows with `d` times the lines (the indentation). At the
//! nesting limit that was 4 to 20 s. Here the tree is formatted compactly
//! (`{:?}`, one pass) and the compact text is laid out in a second pass
//! that breaks lines after each opening bracket and each `, ` and indents
//! four spaces per open bracket: the same text as `{:#?}` (the tests
//! compare them on every example), at a constant cost per character
//! written.

use cdlc_grammar::ast;

/// The syntax tree of `file`, laid out as `{:#?}` would lay it out.
pub fn ast(file: &ast::File) -> String {
    layout(&format!("{file:?}"))
}

/// Lays out compact `Debug` text (`{:?}`) as the pretty form (`{:#?}`).
///
/// Brackets and separators inside string and character literals are left
/// alone; an empty pair (`[]`, `()`, `{}`) stays on its line, as in the
/// pretty form.
pub fn layout(compact: &str) -> String {
    let bytes = compact.as_bytes();
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' => {
                let end = literal_end(bytes, i);
                out.push_str(&compact[i..end]);
                i = end;
                continue;
            }
            b'{' | b'(' | b'[' => {
                let close = closing(c);
                // `{ }` is not produced for empty structs, but an empty
                // map or list is `{}` or `[]`, kept as it is.
                if bytes.get(i + 1) == Some(&close) {
                    out.push(c as char);
                    out.push(close as char);
                    i += 2;
                    continue;
                }
                out.push(c as char);
                depth += 1;
                newline(&mut out, depth);
                // A struct's `{ ` has a space after the brace.
                i += if c == b'{' && bytes.get(i + 1) == Some(&b' ') {
                    2
                } else {
                    1
                };
                continue;
            }
            b' ' if bytes.get(i + 1) == Some(&b'}') => {
                // The space before a struct's closing brace.
                i += 1;
                continue;
            }
            b'}' | b')' | b']' => {
                out.push(',');
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c as char);
            }
            b',' if bytes.get(i + 1) == Some(&b' ') => {
                out.push(',');
                newline(&mut out, depth);
                i += 2;
                continue;
            }
            _ => {
                // Copy the run of ordinary characters at once.
                let end = bytes[i..]
                    .iter()
                    .position(|b| b"\"'{}()[], ".contains(b))
                    .map_or(bytes.len(), |k| i + k.max(1));
                out.push_str(&compact[i..end]);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The bracket that closes `open`.
fn closing(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    }
}

/// A line break followed by the indentation of `depth` levels.
fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("    ");
    }
}

/// The index just past the string or character literal starting at
/// `start` (its quote), skipping escaped characters; the end of the text
/// if it is not closed.
fn literal_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            // Debug escapes are ASCII; anything else after a backslash is
            // copied as it comes.
            b'\\' if bytes.get(i + 1).is_some_and(u8::is_ascii) => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests;
