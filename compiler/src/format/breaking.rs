//! Long lines: where a line wider than [`WIDTH`] columns is broken.
//!
//! A line is read as a document in the manner of Wadler's "prettier
//! printer": the whole line is the outermost group, each bracket pair on it
//! an inner group, and the places a group may break are after each `>>`
//! and each `,` at the group's own depth. A group that fits is left flat; a
//! group that does not fit breaks at all its places, outermost first: the
//! line is broken after every `>>` (and `,`) outside its brackets, and only
//! when it has none, the outermost bracket group that reaches past the width
//! is broken after each of its arguments or tuple fields. The new lines are
//! laid out by the usual rules (`layout.rs`: one level inside an open
//! bracket, one more after a trailing operator), and a line still too wide
//! is examined again in the next round, so every decision is taken on the
//! columns the output really has. A line with no place to break (one long
//! name, one long comment) is left as it is.
//!
//! Breaks are only ever added, and a line is broken only where its layout
//! is too wide; formatting the output again finds the same lines, none too
//! wide with a place left to break, so formatting is idempotent. Short
//! lines the author broke are not joined (as `gofmt` does, unlike
//! `rustfmt`): the author's line breaks are kept (`docs/editors.md`).

use super::pieces::{Piece, PieceKind};
use super::spacing::{Class, classify};
use cdlc_grammar::Token;

/// The widest a line of code may be, in columns (a trailing comment aside).
pub const WIDTH: usize = 100;

/// Adds, to `breaks`, the breaks that the lines of `text` need; `ranges`
/// gives the pieces of each non-blank line of `text`. Returns whether any
/// was added.
pub(super) fn add_breaks(
    src: &str,
    pieces: &[Piece],
    text: &str,
    ranges: &[(usize, usize)],
    breaks: &mut [bool],
) -> bool {
    let mut added = false;
    let lines = text.lines().filter(|l| !l.is_empty());
    for (line, &(a, b)) in lines.zip(ranges) {
        for k in choose(src, &pieces[a..b], line) {
            if !breaks[a + k] {
                breaks[a + k] = true;
                added = true;
            }
        }
    }
    added
}

/// One token of a line: its index among the line's pieces, what it is,
/// where it ends in the output line, and its bracket depth on the line.
struct Tok<'a> {
    piece: usize,
    token: &'a Token,
    end: usize,
    depth: usize,
}

/// The pieces of one output line that should start new lines, by index
/// among `pieces`.
fn choose(src: &str, pieces: &[Piece], line: &str) -> Vec<usize> {
    let Some(toks) = columns(src, pieces, line) else {
        return Vec::new();
    };
    let Some(cross) = toks.iter().position(|t| t.end > WIDTH) else {
        return Vec::new();
    };
    let places = |depth: usize, from: usize, to: usize| -> Vec<usize> {
        (from..to.min(toks.len() - 1))
            .filter(|&k| toks[k].depth == depth && is_place(toks[k].token))
            .map(|k| toks[k].piece + 1)
            .filter(|&p| pieces[p].kind != PieceKind::Comment)
            .collect()
    };
    let whole = places(0, 0, toks.len());
    if !whole.is_empty() {
        return whole;
    }
    for (open, close) in groups(&toks) {
        if open <= cross && cross <= close {
            // A block on one line opens onto lines of its own first, as a
            // block written over several lines is laid out; breaking inside
            // it instead would leave a line break in a one-line block,
            // which the next formatting would open, so not idempotent.
            let closed = matches!(classify(toks[close].token), Class::CloseBrace);
            if matches!(classify(toks[open].token), Class::OpenBrace) && closed && close > open + 1
            {
                return vec![toks[open].piece + 1, toks[close].piece];
            }
            let inner = places(toks[open].depth + 1, open + 1, close);
            if !inner.is_empty() {
                return inner;
            }
        }
    }
    Vec::new()
}

/// Whether a line may break after this token.
fn is_place(t: &Token) -> bool {
    matches!(t, Token::Compose | Token::Comma)
}

/// The line's tokens with their end columns and depths; `None` when the
/// output line does not hold them in order (it always does).
fn columns<'a>(src: &str, pieces: &'a [Piece], line: &str) -> Option<Vec<Tok<'a>>> {
    let mut toks = Vec::new();
    let mut pos = 0;
    let mut depth = 0usize;
    for (k, p) in pieces.iter().enumerate() {
        let PieceKind::Token(token) = &p.kind else {
            continue;
        };
        let text = &src[p.start..p.end];
        pos += line[pos..].len() - line[pos..].trim_start().len();
        if !line[pos..].starts_with(text) {
            return None;
        }
        pos += text.len();
        let opens = matches!(
            classify(token),
            Class::OpenParen | Class::OpenBracket | Class::OpenBrace
        );
        if matches!(classify(token), Class::Close | Class::CloseBrace) {
            depth = depth.saturating_sub(1);
        }
        toks.push(Tok {
            piece: k,
            token,
            end: line[..pos].chars().count(),
            depth,
        });
        if opens {
            depth += 1;
        }
    }
    Some(toks)
}

/// The bracket pairs opened on the line, outermost first (by depth, then
/// position), each as the indices of its opening and closing token (the
/// line's last token when it closes on a later line).
fn groups(toks: &[Tok<'_>]) -> Vec<(usize, usize)> {
    let mut open = Vec::new();
    let mut out = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        match classify(t.token) {
            Class::OpenParen | Class::OpenBracket | Class::OpenBrace => open.push(k),
            Class::Close | Class::CloseBrace => {
                if let Some(o) = open.pop() {
                    out.push((o, k));
                }
            }
            _ => {}
        }
    }
    out.extend(open.into_iter().map(|o| (o, toks.len() - 1)));
    out.sort_by_key(|&(o, _)| (toks[o].depth, o));
    out
}
