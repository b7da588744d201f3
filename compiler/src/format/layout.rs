//! Lines: indentation, spacing, blank lines, aligned columns and comments.
//!
//! The author's line breaks are kept, with two additions: a `{ … }` that
//! spans several lines has its contents on lines of their own, and a line
//! wider than 100 columns is broken (`breaking.rs`). Everything
//! else on a line is canonical. A line is indented two spaces per level: one level for each
//! line that left brackets open (several brackets opened on one line share
//! a level), and one more for a continuation line (one that starts with an
//! operator or follows a line ending in one). Runs of blank lines become
//! one; the file starts with its first line and ends with one newline.
//! Consecutive lines of the same kind are aligned at their `=` or `=>` (see
//! `Kind`). A trailing comment keeps its column when the code leaves room
//! for it, and otherwise follows the code after one space.

use super::pieces::{LineIndex, Piece, PieceKind};
use super::spacing::{Class, Spacer, classify, ends_operand};
use cdlc_grammar::Token;

/// The kinds of line whose columns are aligned with their neighbours'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `param W: R[h, h] = glorot`: the type and the `=` are aligned.
    PlainParam,
    /// `param W: equivariant A -> B = glorot`: only the type is aligned.
    SpaceParam,
    /// `cons(x, s) => ...` in an algebra or coalgebra: the `=>` is aligned.
    Case,
    /// `loss = mse` in a train block: the `=` is aligned.
    TrainOption,
    /// `space`, `const`, and `group` or `monoid` items: the `=` is aligned.
    Decl(u8),
}

/// One output line before alignment.
struct Line {
    /// A blank line goes before it.
    blank_before: bool,
    /// Indentation in levels.
    indent: usize,
    /// The code, cut at its alignment stops.
    parts: Vec<String>,
    /// The alignment kind, when the line has one.
    kind: Option<Kind>,
    /// A trailing or whole-line comment and its column in the source.
    comment: Option<(String, usize)>,
}

/// Lays out the pieces of `src` as formatted text, breaking lines wider
/// than the width (`breaking.rs`) until none is left that can be broken.
pub(super) fn layout(src: &str, pieces: &[Piece]) -> String {
    let mut breaks = brace_breaks(pieces);
    loop {
        let (mut lines, ranges) = lines(src, pieces, &breaks);
        let text = render(&mut lines);
        if !super::breaking::add_breaks(src, pieces, &text, &ranges, &mut breaks) {
            return text;
        }
    }
}

/// The output lines before alignment, with the range of pieces of each;
/// `breaks` marks the pieces that start a line although they follow
/// another on the same source line.
fn lines(src: &str, pieces: &[Piece], breaks: &[bool]) -> (Vec<Line>, Vec<(usize, usize)>) {
    let index = LineIndex::new(src);
    let mut state = State::default();
    let mut lines = Vec::new();
    let mut ranges = Vec::new();
    let mut last_line: Option<usize> = None;
    let mut i = 0;
    while i < pieces.len() {
        let line_no = pieces[i].line;
        let end = i
            + 1
            + (i + 1..pieces.len())
                .take_while(|&k| pieces[k].line == line_no && !breaks[k])
                .count();
        let blank_before = last_line.is_some_and(|l| line_no > l + 1);
        // A line cut from the middle of a source line has no source column
        // for its comment to keep.
        let continues_source_line = i > 0 && pieces[i - 1].line == line_no;
        let mut line = state.line(src, &index, &pieces[i..end], blank_before);
        if continues_source_line && let Some((_, column)) = &mut line.comment {
            *column = 0;
        }
        lines.push(line);
        ranges.push((i, end));
        last_line = Some(line_no);
        i = end;
    }
    (lines, ranges)
}

/// Which pieces start a new line although they follow another on the same
/// source line: a `{ … }` that spans several lines has nothing after its
/// `{` on that line and nothing before its `}`.
fn brace_breaks(pieces: &[Piece]) -> Vec<bool> {
    let mut breaks = vec![false; pieces.len()];
    let mut open = Vec::new();
    for (k, p) in pieces.iter().enumerate() {
        match &p.kind {
            PieceKind::Token(Token::LBrace) => open.push(k),
            PieceKind::Token(Token::RBrace) => {
                let Some(o) = open.pop() else { continue };
                if pieces[o].line == p.line {
                    continue;
                }
                let after = &pieces[o + 1];
                if after.line == pieces[o].line && after.kind != PieceKind::Comment {
                    breaks[o + 1] = true;
                }
                if pieces[k - 1].line == p.line {
                    breaks[k] = true;
                }
            }
            _ => {}
        }
    }
    breaks
}

/// What carries over from one line to the next.
#[derive(Default)]
struct State {
    spacer: Spacer,
    /// For each open bracket, the indentation of the line that opened it.
    open: Vec<usize>,
    /// The last token of the previous line with code.
    last: Option<Token>,
    /// The keyword of the current top-level item.
    item: Option<Token>,
}

impl State {
    fn line(&mut self, src: &str, index: &LineIndex, pieces: &[Piece], blank_before: bool) -> Line {
        let comment = pieces
            .last()
            .filter(|p| p.kind == PieceKind::Comment)
            .map(|p| {
                let column = src[index.start(p.line)..p.start].chars().count();
                (src[p.start..p.end].trim_end().to_string(), column)
            });
        let tokens: Vec<(&Token, &str)> = pieces
            .iter()
            .filter_map(|p| match &p.kind {
                PieceKind::Token(t) => Some((t, &src[p.start..p.end])),
                PieceKind::Comment => None,
            })
            .collect();
        let indent = self.indent(tokens.first().map(|t| t.0));
        let depth = self.open.len();
        if let Some((first, _)) = tokens.first()
            && depth == 0
            && classify(first) == Class::ItemKeyword
        {
            self.item = Some((*first).clone());
        }
        let kind = self.kind(&tokens, depth);
        let stops = stops(kind, &tokens);
        let mut parts = vec![String::new()];
        for (k, (tok, text)) in tokens.iter().enumerate() {
            let space = self.spacer.feed(tok);
            if stops.contains(&k) {
                parts.push(String::new());
            } else if space && k > 0 {
                parts.last_mut().expect("one part").push(' ');
            }
            parts.last_mut().expect("one part").push_str(text);
            self.track(tok, indent);
        }
        if let Some((tok, _)) = tokens.last() {
            self.last = Some((*tok).clone());
        }
        Line {
            blank_before,
            indent,
            parts,
            kind,
            comment,
        }
    }

    /// The indentation of a line that starts with `first` (none: a comment).
    fn indent(&self, first: Option<&Token>) -> usize {
        let base = self.open.last().map_or(0, |l| l + 1);
        let Some(first) = first else {
            return base;
        };
        match classify(first) {
            Class::Close | Class::CloseBrace => self.open.last().copied().unwrap_or(0),
            _ if self.continues(first) => base + 1,
            _ => base,
        }
    }

    /// Whether a line starting with `first` continues the previous line's
    /// expression.
    fn continues(&self, first: &Token) -> bool {
        let Some(last) = &self.last else {
            return false;
        };
        // A line after a trailing `in` is the body of the `let`, at the
        // `let`'s own level (as in Haskell), not a continuation.
        let after_operator = matches!(classify(last), Class::Infix | Class::Minus | Class::Caret);
        let operator_first = match classify(first) {
            Class::Infix | Class::Caret | Class::Dot => true,
            Class::Minus => ends_operand(last),
            _ => matches!(
                first,
                Token::In
                    | Token::By
                    | Token::From
                    | Token::Over
                    | Token::Take
                    | Token::Where
                    | Token::Under
            ),
        };
        after_operator || operator_first
    }

    /// Records the brackets a token opens or closes.
    fn track(&mut self, tok: &Token, indent: usize) {
        match classify(tok) {
            Class::OpenParen | Class::OpenBracket | Class::OpenBrace => self.open.push(indent),
            Class::Close | Class::CloseBrace => {
                self.open.pop();
            }
            _ => {}
        }
    }

    /// The alignment kind of a line with these tokens at bracket `depth`.
    fn kind(&self, tokens: &[(&Token, &str)], depth: usize) -> Option<Kind> {
        let first = tokens.first()?.0;
        let has = |t: &Token| top_level(tokens).any(|(_, x)| x == t);
        match (first, depth) {
            (Token::Space, 0) => Some(Kind::Decl(0)),
            (Token::Const, 0) => Some(Kind::Decl(1)),
            (Token::Group | Token::Monoid, 0) => Some(Kind::Decl(2)),
            (Token::Param, _) if has(&Token::Colon) => {
                if has(&Token::Equivariant) || has(&Token::Invariant) || !has(&Token::Eq) {
                    Some(Kind::SpaceParam)
                } else {
                    Some(Kind::PlainParam)
                }
            }
            (Token::Ident(_), _)
                if depth > 0
                    && matches!(self.item, Some(Token::Algebra | Token::Coalgebra))
                    && has(&Token::FatArrow) =>
            {
                Some(Kind::Case)
            }
            (Token::Ident(_) | Token::Data, 1)
                if self.item == Some(Token::Train)
                    && tokens.get(1).is_some_and(|t| *t.0 == Token::Eq) =>
            {
                Some(Kind::TrainOption)
            }
            _ => None,
        }
    }
}

/// The tokens of a line outside any bracket opened on it, with their index.
fn top_level<'a>(tokens: &'a [(&'a Token, &'a str)]) -> impl Iterator<Item = (usize, &'a Token)> {
    let mut depth = 0usize;
    tokens.iter().enumerate().filter_map(move |(k, (t, _))| {
        let here = depth;
        match classify(t) {
            Class::OpenParen | Class::OpenBracket | Class::OpenBrace => depth += 1,
            Class::Close | Class::CloseBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
        (here == 0 && !matches!(classify(t), Class::Close | Class::CloseBrace)).then_some((k, *t))
    })
}

/// The token indices before which a line of `kind` is cut for alignment.
fn stops(kind: Option<Kind>, tokens: &[(&Token, &str)]) -> Vec<usize> {
    let first = |t: Token| top_level(tokens).find(|(_, x)| **x == t).map(|(k, _)| k);
    let last = |t: Token| {
        top_level(tokens)
            .filter(|(_, x)| **x == t)
            .last()
            .map(|(k, _)| k)
    };
    let type_column = || {
        first(Token::Colon)
            .map(|k| k + 1)
            .filter(|&k| k < tokens.len())
    };
    match kind {
        None => Vec::new(),
        Some(Kind::PlainParam) => type_column().into_iter().chain(last(Token::Eq)).collect(),
        Some(Kind::SpaceParam) => type_column().into_iter().collect(),
        Some(Kind::Case) => first(Token::FatArrow).into_iter().collect(),
        Some(Kind::TrainOption | Kind::Decl(_)) => first(Token::Eq).into_iter().collect(),
    }
}

/// Aligns runs of lines and joins everything into the output text.
fn render(lines: &mut [Line]) -> String {
    let mut start = 0;
    while start < lines.len() {
        let end = start + run_length(&lines[start..]);
        align(&mut lines[start..end]);
        start = end;
    }
    let mut out = String::new();
    for (k, line) in lines.iter().enumerate() {
        if line.blank_before && k > 0 {
            out.push('\n');
        }
        let code: String = line.parts.concat();
        let mut text = String::new();
        if !code.is_empty() {
            text = format!("{}{}", "  ".repeat(line.indent), code);
        }
        if let Some((comment, column)) = &line.comment {
            text = if code.is_empty() {
                format!("{}{}", "  ".repeat(line.indent), comment)
            } else {
                let width = text.chars().count();
                let pad = column.saturating_sub(width).max(1);
                format!("{text}{}{comment}", " ".repeat(pad))
            };
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// How many lines from the first one form its alignment run: the same kind,
/// the same indentation and number of stops, no blank line between.
fn run_length(lines: &[Line]) -> usize {
    let head = &lines[0];
    if head.kind.is_none() {
        return 1;
    }
    1 + lines[1..]
        .iter()
        .take_while(|l| {
            !l.blank_before
                && l.kind == head.kind
                && l.indent == head.indent
                && l.parts.len() == head.parts.len()
        })
        .count()
}

/// Pads the parts of each line in a run so that every stop lines up; the
/// stop itself stands for one space.
fn align(run: &mut [Line]) {
    let stops = run[0].parts.len() - 1;
    for s in 0..stops {
        let width = |l: &Line| {
            l.parts[..=s]
                .iter()
                .map(|p| p.chars().count())
                .sum::<usize>()
        };
        let column = run.iter().map(width).max().unwrap_or(0);
        for line in run.iter_mut() {
            let pad = column - width(line) + 1;
            line.parts[s].push_str(&" ".repeat(pad));
        }
    }
}
