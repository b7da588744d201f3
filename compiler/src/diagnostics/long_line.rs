//! Diagnostics whose labels lie on very long lines (a minified or
//! generated program, a file of garbage on one line).
//!
//! Ariadne draws a label's whole source line, so a hundred errors on a
//! 10 MB line would print a gigabyte. Such a diagnostic is drawn here
//! instead, in ariadne's layout, with each label's line cut to a window
//! around the label. The header keeps the true line and column.

use super::{Diagnostic, Severity, label_order, push_block};
use crate::source::Sources;
use std::fmt::Write as _;

/// A line longer than this many bytes is shown as a window.
pub(super) const LONG_LINE: usize = 400;

/// Characters shown on each side of a label on a long line.
const CONTEXT: usize = 40;

/// The most characters of a label's own span shown.
const SPAN_SHOWN: usize = 80;

/// Whether any label of `d` lies on a line longer than `LONG_LINE`.
pub(super) fn has_long_line(d: &Diagnostic, sources: &Sources) -> bool {
    d.labels.iter().any(|l| {
        let (start, end) = line_bounds(sources.text(l.span.file), l.span.start as usize);
        end - start > LONG_LINE
    })
}

/// Renders `d`, whose labels include one on a long line, in ariadne's
/// layout without colour.
pub(super) fn render(d: &Diagnostic, sources: &Sources) -> String {
    let primary = d.span();
    let kind = match d.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let mut labels: Vec<(usize, &super::Label)> = d.labels.iter().enumerate().collect();
    labels.sort_by_key(|(i, l)| label_order(sources, l.span, primary, *i));
    let positions: Vec<(usize, usize)> = labels
        .iter()
        .map(|(_, l)| sources.line_col(l.span.file, l.span.start))
        .collect();
    let width = positions
        .iter()
        .map(|(line, _)| line.to_string().len())
        .max()
        .unwrap_or(1);
    let gutter = " ".repeat(width + 2);
    let (line, column) = sources.line_col(primary.file, primary.start);
    let mut out = format!("[{}] {kind}: {}\n", d.code, d.message);
    let _ = writeln!(
        out,
        "{gutter}╭─[ {}:{line}:{column} ]",
        sources.name(primary.file)
    );
    for ((_, label), (line, _)) in labels.iter().zip(&positions) {
        let excerpt = Excerpt::new(
            sources.text(label.span.file),
            label.span.start as usize,
            label.span.end as usize,
        );
        let _ = writeln!(out, "{gutter}│");
        let _ = writeln!(out, " {line:>width$} │ {}", excerpt.text);
        let pad = " ".repeat(excerpt.caret);
        let rest = "─".repeat(excerpt.underline.saturating_sub(1));
        let _ = writeln!(out, "{gutter}│ {pad}┬{rest}");
        let _ = writeln!(out, "{gutter}│ {pad}╰── {}", label.text);
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "{gutter}│ ");
        push_block(&mut out, &gutter, "Help", h);
    }
    for n in &d.notes {
        let _ = writeln!(out, "{gutter}│ ");
        push_block(&mut out, &gutter, "Note", n);
    }
    let _ = writeln!(out, "{}╯", "─".repeat(width + 2));
    out
}

/// The part of a label's line that is shown, and where the label is in it.
struct Excerpt {
    /// The shown characters, with `…` where the line was cut.
    text: String,
    /// The column (in shown characters) where the label starts.
    caret: usize,
    /// How many shown characters the label covers (at least one).
    underline: usize,
}

impl Excerpt {
    fn new(text: &str, start: usize, end: usize) -> Excerpt {
        let start = floor_char(text, start.min(text.len()));
        let end = floor_char(text, end.clamp(start, text.len()));
        let (line_start, line_end) = line_bounds(text, start);
        let end = end.min(line_end);
        let span_chars = text[start..end].chars().count();
        let shown_end = if span_chars > SPAN_SHOWN {
            advance(text, start, SPAN_SHOWN)
        } else {
            end
        };
        let (from, cut_left) = if line_end - line_start <= LONG_LINE {
            (line_start, false)
        } else {
            let from = back(text, start, CONTEXT).max(line_start);
            (from, from > line_start)
        };
        let (to, cut_right) = if line_end - line_start <= LONG_LINE {
            (line_end, false)
        } else {
            let to = advance(text, shown_end, CONTEXT).min(line_end);
            (to, to < line_end)
        };
        let mut shown = String::new();
        if cut_left {
            shown.push('…');
        }
        shown.extend(text[from..to].chars().map(visible));
        if cut_right || shown_end < end {
            shown.push('…');
        }
        Excerpt {
            text: shown,
            caret: usize::from(cut_left) + text[from..start].chars().count(),
            underline: text[start..shown_end].chars().count().max(1),
        }
    }
}

/// A character as it is shown: control characters (tabs included) as one
/// space, so that the underline stays under its label.
fn visible(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}

/// The byte range of the line holding `offset`, without its line break;
/// a line ends at `\n` or `\r`, as `Sources::line_col` counts them.
fn line_bounds(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |i| offset + i);
    (start, end)
}

/// The largest char boundary at or before `i`.
fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The offset `n` characters after `i` (or the end).
fn advance(text: &str, i: usize, n: usize) -> usize {
    text[i..]
        .char_indices()
        .nth(n)
        .map_or(text.len(), |(j, _)| i + j)
}

/// The offset `n` characters before `i` (or the start).
fn back(text: &str, i: usize, n: usize) -> usize {
    text[..i]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(j, _)| j)
}

#[cfg(test)]
mod tests;
