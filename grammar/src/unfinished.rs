//! Blocks that end with a statement instead of a value, and lines that
//! continue the statement above them.
//!
//! Newlines are whitespace, so a block's value on its own line that starts
//! with `(` or `-` continues the statement above it: `let y = relu(x)`
//! followed by `(y, x)` reads as `relu(x)(y, x)`, and the block is left
//! without a value. The grammar calls `recover` for such blocks, which splits
//! the swallowed line off again and names the missing `;`.

use crate::SyntaxError;
use crate::ast::{BinOp, Expr, ExprKind, Pattern, Stmt};
use crate::lexer::Token;
use crate::span::{FileId, Span};
use crate::token_index::TokenIndex;

/// How a line was read as part of the expression above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuation {
    /// `(a, b)` read as the arguments of a call.
    Arguments,
    /// `-y` read as a subtraction.
    Subtraction,
}

/// Recovers a block whose statements end without a value. When the last
/// statement swallowed the line after it, the line is split off again and
/// becomes the block's value (so later stages check what was meant), and
/// the error names the missing `;`; otherwise the value is an error node at
/// the closing brace. Called by the grammar's block action.
pub(crate) fn recover(
    stmts: &mut [Stmt],
    close: Span,
    src: &str,
    errors: &mut Vec<SyntaxError>,
) -> Expr {
    let last = stmts
        .last_mut()
        .expect("a block without a value has a statement");
    let (stmt_span, expr) = match last {
        Stmt::Let(p, e) => (pattern_span(p).to(e.span), Some(e)),
        Stmt::Param(p) => (p.span, None),
    };
    let Some((e, (after, from, reading))) = expr.and_then(|e| continuation(e, src).map(|c| (e, c)))
    else {
        errors.push(SyntaxError::NoValue {
            close,
            last: stmt_span,
        });
        return error_at(close);
    };
    let value = match split(e, src) {
        Some(value) if value.span.start as usize == from => value,
        // The swallowed line is inside the statement's expression rather
        // than at its end (`relu(x)` then `(y + x) * 2`): the statement and
        // the value are both left as error nodes, so that nothing is
        // reported twice.
        _ => {
            let value = error_at(Span::new(e.span.file, from, e.span.end as usize));
            *e = error_at(e.span);
            value
        }
    };
    errors.push(SyntaxError::MissingSemicolon {
        after,
        next: value.span,
        reading,
    });
    value
}

/// An error node: its error has been reported.
fn error_at(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Error,
        span,
    }
}

/// The first place in a statement's expression, in source order, where a
/// line starting with `(` or `-` continues the expression before it: the
/// last character before it, where the line starts, and how it was read.
/// Only the statement's own level is searched; a line break inside
/// parentheses or a nested block continues nothing.
fn continuation(e: &Expr, src: &str) -> Option<(Span, usize, Continuation)> {
    match &e.kind {
        ExprKind::Apply(f, _) => continuation(f, src).or_else(|| {
            let open = starts_line_after(src, f.span, '(')?;
            Some((last_char(f.span), open, Continuation::Arguments))
        }),
        ExprKind::Binary(op, a, b) => continuation(a, src)
            .or_else(|| {
                let minus = starts_line_after(src, a.span, '-').filter(|_| *op == BinOp::Sub)?;
                Some((last_char(a.span), minus, Continuation::Subtraction))
            })
            .or_else(|| continuation(b, src)),
        ExprKind::Neg(a) | ExprKind::Transpose(a, _) => continuation(a, src),
        ExprKind::LetIn(_, v, body) => continuation(v, src).or_else(|| continuation(body, src)),
        _ => None,
    }
}

/// Where a pattern is written.
fn pattern_span(p: &Pattern) -> Span {
    match p {
        Pattern::Name(n) => n.span,
        Pattern::Tuple(_, span) => *span,
    }
}

/// Splits a swallowed line off the end of `e`: returns it as an expression
/// of its own, and leaves `e` as the statement without it. Walks the right
/// spine of `e`, where a swallowed line that ends the statement lies.
fn split(e: &mut Expr, src: &str) -> Option<Expr> {
    if let Some((before, value)) = split_here(e, src) {
        *e = before;
        return Some(value);
    }
    let inner = match &mut e.kind {
        ExprKind::Binary(_, _, b) => b,
        ExprKind::Neg(a) => a,
        ExprKind::LetIn(_, _, body) => body,
        _ => return None,
    };
    let result = split(inner, src)?;
    e.span.end = inner.span.end;
    Some(result)
}

/// The statement before a swallowed line that starts at the top of `e`,
/// and the line as an expression.
fn split_here(e: &mut Expr, src: &str) -> Option<(Expr, Expr)> {
    let file = e.span.file;
    let end = e.span.end as usize;
    match &mut e.kind {
        ExprKind::Apply(f, args) => {
            let open = starts_line_after(src, f.span, '(')?;
            let span = Span::new(file, open, end);
            let value = match args.len() {
                1 if args[0].name.is_none() => {
                    let mut inner = args.pop().expect("one argument").value;
                    inner.span = span;
                    inner
                }
                _ => Expr {
                    kind: ExprKind::Tuple(args.drain(..).map(|a| a.value).collect()),
                    span,
                },
            };
            Some(((**f).clone(), value))
        }
        ExprKind::Binary(BinOp::Sub, a, b) => {
            let minus = starts_line_after(src, a.span, '-')?;
            let value = Expr {
                kind: ExprKind::Neg(b.clone()),
                span: Span::new(file, minus, end),
            };
            Some(((**a).clone(), value))
        }
        _ => None,
    }
}

/// The position of the first `c` after `before`, if only white space
/// including a line break lies between them.
fn starts_line_after(src: &str, before: Span, c: char) -> Option<usize> {
    let from = before.end as usize;
    let offset = src.get(from..)?.find(|ch: char| !ch.is_whitespace())?;
    let gap = &src[from..from + offset];
    (src[from + offset..].starts_with(c) && gap.contains('\n')).then_some(from + offset)
}

/// The last byte of a span (its last character, for the ASCII that ends an
/// expression).
fn last_char(s: Span) -> Span {
    Span {
        start: s.end.saturating_sub(1).max(s.start),
        ..s
    }
}

/// A parse error inside parentheses that open a line, right after a line
/// that ends an expression: the `(` most likely starts the block's value and
/// the `;` before it is missing. Returns the error to report instead.
pub(crate) fn unexpected_in_continued_line(
    file: FileId,
    index: &TokenIndex<'_>,
    at: usize,
    src: &str,
) -> Option<SyntaxError> {
    let open = index.enclosing_paren(index.first_at(at))?;
    if open == 0 {
        return None;
    }
    let (prev_l, prev_tok, prev_r) = index.get(open - 1)?;
    let &(open_l, _, open_r) = index.get(open)?;
    let ends_expression = matches!(
        prev_tok,
        Token::Ident(_) | Token::Int(_) | Token::Float(_) | Token::RParen | Token::RBracket
    );
    let new_line = src[*prev_r..open_l].contains('\n');
    (ends_expression && new_line).then(|| SyntaxError::MissingSemicolon {
        after: Span::new(file, *prev_l, *prev_r),
        next: Span::new(file, open_l, open_r),
        reading: Continuation::Arguments,
    })
}
