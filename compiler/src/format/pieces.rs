//! The source as a sequence of pieces: tokens and comments, each with its
//! byte range and line.
//!
//! The lexer drops plain `//` comments and keeps `///` doc comments aside;
//! the formatter needs both where they were written. The gaps between
//! tokens hold only white space and comments (the caller refuses files with
//! lexical errors), so every plain comment is found by scanning the gaps.

use cdlc_grammar::{FileId, Token, lexer};

/// What a piece is.
#[derive(Clone, Debug, PartialEq)]
pub enum PieceKind {
    /// A token of the grammar.
    Token(Token),
    /// A `//` or `///` comment, up to the end of its line.
    Comment,
}

/// A token or a comment with its place in the source.
#[derive(Clone, Debug)]
pub struct Piece {
    /// What it is.
    pub kind: PieceKind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The 0-based line it starts on.
    pub line: usize,
}

/// Splits `src` into tokens and comments, in source order.
pub fn pieces(src: &str) -> Vec<Piece> {
    let lexed = lexer::lex(FileId(0), src);
    let mut spans: Vec<(usize, usize, PieceKind)> = lexed
        .tokens
        .into_iter()
        .map(|(s, t, e)| (s, e, PieceKind::Token(t)))
        .collect();
    spans.extend(
        lexed
            .docs
            .iter()
            .map(|(span, _)| (span.start as usize, span.end as usize, PieceKind::Comment)),
    );
    spans.sort_by_key(|p| p.0);
    let mut all = Vec::with_capacity(spans.len());
    let mut pos = 0;
    for (start, end, kind) in spans {
        plain_comments(src, pos, start, &mut all);
        all.push((start, end, kind));
        pos = end;
    }
    plain_comments(src, pos, src.len(), &mut all);
    let lines = LineIndex::new(src);
    all.into_iter()
        .map(|(start, end, kind)| Piece {
            kind,
            start,
            end,
            line: lines.line(start),
        })
        .collect()
}

/// Appends the `//` comments found in `src[from..to]`, a gap between tokens.
fn plain_comments(src: &str, from: usize, to: usize, out: &mut Vec<(usize, usize, PieceKind)>) {
    let gap = &src[from..to];
    let mut i = 0;
    while let Some(k) = gap[i..].find("//") {
        let start = i + k;
        let end = gap[start..].find('\n').map_or(gap.len(), |n| start + n);
        out.push((from + start, from + end, PieceKind::Comment));
        i = end;
    }
}

/// The byte offset where each line starts, for offset-to-line lookups.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the lines of `src` (a line ends at `\n`).
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 0-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    /// The byte offset where line `line` starts.
    pub fn start(&self, line: usize) -> usize {
        self.starts[line]
    }
}
