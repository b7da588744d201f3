//! Whether two syntax trees are the same, positions aside.
//!
//! Every span prints in the tree's `Debug` form as `start..end` (and only
//! spans do: numbers print as `1` or `1.0`, never with `..`), so removing
//! those ranges leaves exactly what was written: names, literals, structure
//! and doc comments.

use cdlc_grammar::ast;

/// Whether `a` and `b` differ at most in their spans.
pub fn same_tree(a: &ast::File, b: &ast::File) -> bool {
    without_positions(&format!("{a:?}")) == without_positions(&format!("{b:?}"))
}

/// `text` with every `digits..digits` range removed.
fn without_positions(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = range_at(bytes, i) {
            i += len;
        } else {
            let c = text[i..].chars().next().expect("inside the text");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a `digits..digits` range starting at byte `i` (and not in
/// the middle of a number), if there is one.
fn range_at(bytes: &[u8], i: usize) -> Option<usize> {
    if i > 0 && bytes[i - 1].is_ascii_digit() {
        return None;
    }
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let a = digits(i);
    if a == 0 || bytes.get(i + a..i + a + 2) != Some(b"..") {
        return None;
    }
    let b = digits(i + a + 2);
    (b > 0).then_some(a + 2 + b)
}
