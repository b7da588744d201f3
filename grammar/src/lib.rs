//! Lexer, grammar and syntax tree of CDL.
//!
//! `parse` never fails: it always returns a tree (with `Error` nodes where
//! the text could not be read) and the list of syntax errors, so that one
//! run reports several independent problems.
#![warn(missing_docs)]

pub mod ast;
pub mod depth;
pub mod lexer;
pub mod span;
mod token_index;
mod unfinished;
pub mod uses;

use ast::{BinOp, Expr, ExprKind};
use lalrpop_util::{ErrorRecovery, ParseError, lalrpop_mod};
pub use lexer::{LexError, Token};
pub use span::{FileId, Ident, Span, Spanned};
pub use unfinished::Continuation;

lalrpop_mod!(
    #[allow(clippy::all, missing_docs, unused_parens)]
    cdl
);

/// A syntax error: what was found, where, and which tokens would have fit.
#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxError {
    /// A token that cannot continue the program here.
    Unexpected {
        /// The token found, as it should be shown (`name \`x\``).
        found: String,
        /// Where.
        span: Span,
        /// The tokens that would have fit, as they should be shown.
        expected: Vec<String>,
    },
    /// The file ended in the middle of an item.
    UnexpectedEof {
        /// The end of the file.
        span: Span,
        /// The tokens that would have fit.
        expected: Vec<String>,
    },
    /// A string literal with no closing quote.
    UnterminatedString(Span),
    /// A character that starts no token.
    UnexpectedChar(char, Span),
    /// A line that starts with `(` or `-` continued the statement above it,
    /// where a `;` should have ended that statement.
    MissingSemicolon {
        /// The end of the statement, where the `;` belongs.
        after: Span,
        /// What was read as a continuation.
        next: Span,
        /// How it was read.
        reading: Continuation,
    },
    /// A block that ends with a statement and so has no value.
    NoValue {
        /// The block's closing `}`.
        close: Span,
        /// The last statement.
        last: Span,
    },
    /// Brackets (or prefix minus signs) nested deeper than
    /// `depth::MAX_DEPTH`; the file is not parsed further.
    TooDeep(Span),
    /// A definition (at its name) nested through the definitions it uses
    /// deeper than `uses::MAX_USE_DEPTH`; the file is not parsed further.
    UsesTooDeep {
        /// The definition's name.
        name: Span,
        /// Its depth through uses.
        depth: usize,
    },
}

impl SyntaxError {
    /// Where the error is.
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::Unexpected { span, .. }
            | SyntaxError::UnexpectedEof { span, .. }
            | SyntaxError::UnterminatedString(span)
            | SyntaxError::UnexpectedChar(_, span)
            | SyntaxError::TooDeep(span)
            | SyntaxError::UsesTooDeep { name: span, .. } => *span,
            SyntaxError::MissingSemicolon { after, .. } => *after,
            SyntaxError::NoValue { close, .. } => *close,
        }
    }
}

/// Parses one file. Never fails; see the crate documentation.
pub fn parse(file: FileId, src: &str) -> (ast::File, Vec<SyntaxError>) {
    let (tree, errors, _) = parse_counted(file, src);
    (tree, errors)
}

/// `parse`, and how many tokens and table entries reporting its syntax
/// errors looked at (`token_index::TokenIndex::examined`).
fn parse_counted(file: FileId, src: &str) -> (ast::File, Vec<SyntaxError>, usize) {
    let lexed = lexer::lex(file, src);
    let mut errors: Vec<SyntaxError> = lexed
        .errors
        .iter()
        .map(|e| match e {
            LexError::UnexpectedChar(c, span) => SyntaxError::UnexpectedChar(*c, *span),
            LexError::UnterminatedString(span) => SyntaxError::UnterminatedString(*span),
        })
        .collect();
    if let Some((start, end)) = depth::too_deep(&lexed.tokens) {
        errors.push(SyntaxError::TooDeep(Span::new(file, start, end)));
        return (ast::File::default(), errors, 0);
    }
    if let Some(((start, end), depth)) = uses::too_deep(&lexed.tokens) {
        let name = Span::new(file, start, end);
        errors.push(SyntaxError::UsesTooDeep { name, depth });
        return (ast::File::default(), errors, 0);
    }
    let mut recovered: Vec<ErrorRecovery<usize, Token, LexError>> = Vec::new();
    let mut blocks = Vec::new();
    let tokens = lexed.tokens.iter().cloned().map(Ok::<_, LexError>);
    let result = cdl::FileParser::new().parse(file, &mut recovered, src, &mut blocks, tokens);
    let end = Span::new(file, src.len(), src.len());
    let index = token_index::TokenIndex::new(&lexed.tokens);
    let mut failed = Vec::new();
    let mut tree = match result {
        Ok(tree) => tree,
        Err(e) => {
            failed.push(e);
            ast::File::default()
        }
    };
    failed.extend(recovered.into_iter().map(|r| r.error));
    for e in failed {
        let error = convert(file, e, end);
        tree.unparsed
            .extend(unparsed_item(file, &index, error.span().start as usize));
        let continued = match &error {
            SyntaxError::Unexpected { span, .. } => {
                unfinished::unexpected_in_continued_line(file, &index, span.start as usize, src)
            }
            _ => None,
        };
        errors.push(continued.unwrap_or(error));
    }
    errors.extend(blocks);
    errors.sort_by_key(|e| (e.span().start, e.span().end));
    attach_docs(&mut tree, &lexed.docs, src);
    (tree, errors, index.examined())
}

fn convert(file: FileId, e: ParseError<usize, Token, LexError>, end: Span) -> SyntaxError {
    match e {
        ParseError::InvalidToken { location } => SyntaxError::Unexpected {
            found: "an invalid token".to_string(),
            span: Span::new(file, location, location + 1),
            expected: Vec::new(),
        },
        ParseError::UnrecognizedEof { expected, .. } => SyntaxError::UnexpectedEof {
            span: end,
            expected: expected.iter().map(|e| display_expected(e)).collect(),
        },
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => SyntaxError::Unexpected {
            found: tok.to_string(),
            span: Span::new(file, l, r),
            expected: expected.iter().map(|e| display_expected(e)).collect(),
        },
        ParseError::ExtraToken { token: (l, tok, r) } => SyntaxError::Unexpected {
            found: tok.to_string(),
            span: Span::new(file, l, r),
            expected: Vec::new(),
        },
        ParseError::User { error } => match error {
            LexError::UnexpectedChar(c, span) => SyntaxError::UnexpectedChar(c, span),
            LexError::UnterminatedString(span) => SyntaxError::UnterminatedString(span),
        },
    }
}

/// The name of the item a parse error at `at` fell in: the name after the
/// last item keyword before it. The item is dropped from the tree; later
/// stages use its name to stay quiet about uses of it.
fn unparsed_item(file: FileId, index: &token_index::TokenIndex<'_>, at: usize) -> Option<Ident> {
    let keyword = index.item_start_before(at)?;
    let (_, item, _) = index.get(keyword)?;
    match index.get(keyword + 1) {
        Some((l, Token::Ident(name), r)) if !matches!(item, Token::Train) => {
            Some(Spanned::new(name.clone(), Span::new(file, *l, *r)))
        }
        _ => None,
    }
}

/// Whether a token is the keyword that starts an item.
pub(crate) fn starts_item(t: &Token) -> bool {
    matches!(
        t,
        Token::Import
            | Token::Const
            | Token::Functor
            | Token::Data
            | Token::Codata
            | Token::Group
            | Token::Monoid
            | Token::Space
            | Token::Layer
            | Token::Algebra
            | Token::Coalgebra
            | Token::Model
            | Token::Train
    )
}

/// Turns lalrpop's terminal names (`"\"=>\""`, `"name"`) into what a user
/// reads: `` `=>` ``, `a name`.
fn display_expected(terminal: &str) -> String {
    let inner = terminal.trim_matches('"');
    match inner {
        "name" => "a name".to_string(),
        "integer" => "a whole number".to_string(),
        "decimal" => "a number".to_string(),
        "string" => "a string".to_string(),
        other if terminal.starts_with('"') => format!("`{}`", other.replace("\\\"", "\"")),
        other => other.to_string(),
    }
}

/// Gives each item the `///` comments that stand directly above it: a run
/// of `///` lines with no blank line between them or before the item. A run
/// separated from the next item by a blank line (a file's own description,
/// say) belongs to no item.
fn attach_docs(tree: &mut ast::File, docs: &[(Span, String)], src: &str) {
    // Only white space, and at most one line break: the next line.
    let adjacent = |from: u32, to: u32| {
        let gap = &src[from as usize..to as usize];
        gap.trim().is_empty() && gap.matches('\n').count() <= 1
    };
    let mut next_doc = 0;
    for item in &mut tree.items {
        let start = item.span.start;
        let mut run: Vec<String> = Vec::new();
        let mut run_end: Option<u32> = None;
        while next_doc < docs.len() && docs[next_doc].0.end <= start {
            let (span, text) = &docs[next_doc];
            if !run_end.is_some_and(|e| adjacent(e, span.start)) {
                run.clear();
            }
            run.push(text.clone());
            run_end = Some(span.end);
            next_doc += 1;
        }
        if let Some(e) = run_end
            && adjacent(e, start)
        {
            item.doc = run;
        }
    }
}

/// Builds a binary expression; used by the grammar's actions.
pub(crate) fn bin(file: FileId, l: usize, r: usize, op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        span: Span::new(file, l, r),
    }
}

#[cfg(test)]
mod tests;
