//! The token set of CDL and the lexer that feeds the parser.
//!
//! Comments are skipped; `///` doc comments are kept aside (not in the token
//! stream) so that the parser can attach them to the item that follows.
//! Lexical errors are recorded and lexing goes on, so one run reports every
//! bad character.

use crate::span::{FileId, Span};
use logos::Logos;
use std::fmt;

/// A token of CDL. Keyword and punctuation variants are named after the
/// text they stand for (`Token::text` gives it).
#[allow(missing_docs)]
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Token {
    /// `///` comment text (without the slashes); filtered out before parsing.
    #[regex(r"///[^\n]*", |lex| lex.slice()[3..].trim().to_string(), allow_greedy = true)]
    DocComment(String),

    #[token("import")]
    Import,
    #[token("const")]
    Const,
    #[token("functor")]
    Functor,
    #[token("data")]
    Data,
    #[token("codata")]
    Codata,
    #[token("group")]
    Group,
    #[token("monoid")]
    Monoid,
    #[token("space")]
    Space,
    #[token("layer")]
    Layer,
    #[token("algebra")]
    Algebra,
    #[token("coalgebra")]
    Coalgebra,
    #[token("model")]
    Model,
    #[token("train")]
    Train,
    #[token("param")]
    Param,
    #[token("let")]
    Let,
    #[token("in")]
    In,
    #[token("fold")]
    Fold,
    #[token("unfold")]
    Unfold,
    #[token("hylo")]
    Hylo,
    #[token("from")]
    From,
    #[token("over")]
    Over,
    #[token("take")]
    Take,
    #[token("by")]
    By,
    #[token("equivariant")]
    Equivariant,
    #[token("invariant")]
    Invariant,
    #[token("under")]
    Under,
    #[token("where")]
    Where,
    #[token("fix")]
    Fix,
    #[token("cofix")]
    Cofix,
    #[token("id")]
    Id,
    #[token("R", priority = 10)]
    Real,

    /// A name.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    /// A natural-number literal.
    #[regex(r"[0-9]+", |lex| lex.slice().parse::<u64>().ok())]
    Int(u64),
    /// A literal with a fraction or an exponent.
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?", |lex| lex.slice().parse::<f64>().ok())]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+", |lex| lex.slice().parse::<f64>().ok())]
    Float(f64),
    /// A string literal, with its escapes resolved.
    #[regex(r#""([^"\\\n]|\\.)*""#, |lex| unescape(&lex.slice()[1..lex.slice().len() - 1]))]
    Str(String),
    /// A string literal that runs to the end of its line.
    #[regex(r#""([^"\\\n]|\\.)*"#, |lex| unescape(&lex.slice()[1..]))]
    UnterminatedStr(String),

    #[token("@")]
    At,
    #[token("+")]
    Plus,
    #[token("⊕")]
    OPlus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("⊗")]
    OTimes,
    #[token("/")]
    Slash,
    #[token("^")]
    Caret,
    #[token(">>")]
    Compose,
    #[token("=>")]
    FatArrow,
    #[token("->")]
    Arrow,
    #[token("=")]
    Eq,
    #[token(":")]
    Colon,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(".")]
    Dot,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("|")]
    Bar,
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::DocComment(_) => write!(f, "doc comment"),
            Token::Ident(s) => write!(f, "name `{s}`"),
            Token::Int(n) => write!(f, "number `{n}`"),
            Token::Float(x) => write!(f, "number `{x}`"),
            Token::Str(_) | Token::UnterminatedStr(_) => write!(f, "string"),
            other => write!(f, "`{}`", other.text()),
        }
    }
}

impl Token {
    /// The fixed text of a keyword or punctuation token.
    pub fn text(&self) -> &'static str {
        match self {
            Token::Import => "import",
            Token::Const => "const",
            Token::Functor => "functor",
            Token::Data => "data",
            Token::Codata => "codata",
            Token::Group => "group",
            Token::Monoid => "monoid",
            Token::Space => "space",
            Token::Layer => "layer",
            Token::Algebra => "algebra",
            Token::Coalgebra => "coalgebra",
            Token::Model => "model",
            Token::Train => "train",
            Token::Param => "param",
            Token::Let => "let",
            Token::In => "in",
            Token::Fold => "fold",
            Token::Unfold => "unfold",
            Token::Hylo => "hylo",
            Token::From => "from",
            Token::Over => "over",
            Token::Take => "take",
            Token::By => "by",
            Token::Equivariant => "equivariant",
            Token::Invariant => "invariant",
            Token::Under => "under",
            Token::Where => "where",
            Token::Fix => "fix",
            Token::Cofix => "cofix",
            Token::Id => "id",
            Token::Real => "R",
            Token::At => "@",
            Token::Plus => "+",
            Token::OPlus => "⊕",
            Token::Minus => "-",
            Token::Star => "*",
            Token::OTimes => "⊗",
            Token::Slash => "/",
            Token::Caret => "^",
            Token::Compose => ">>",
            Token::FatArrow => "=>",
            Token::Arrow => "->",
            Token::Eq => "=",
            Token::Colon => ":",
            Token::Comma => ",",
            Token::Semi => ";",
            Token::Dot => ".",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::Bar => "|",
            Token::DocComment(_)
            | Token::Ident(_)
            | Token::Int(_)
            | Token::Float(_)
            | Token::Str(_)
            | Token::UnterminatedStr(_) => "",
        }
    }
}

/// A problem found while lexing.
#[derive(Clone, Debug, PartialEq)]
pub enum LexError {
    /// A character that starts no token.
    UnexpectedChar(char, Span),
    /// A string literal with no closing quote on its line.
    UnterminatedString(Span),
}

/// The result of lexing one file.
pub struct Lexed {
    /// Tokens with their byte ranges, in order.
    pub tokens: Vec<(usize, Token, usize)>,
    /// `///` comments with their spans, in order.
    pub docs: Vec<(Span, String)>,
    /// What went wrong, in order.
    pub errors: Vec<LexError>,
}

/// Splits `src` into tokens.
pub fn lex(file: FileId, src: &str) -> Lexed {
    let mut tokens = Vec::new();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut lexer = Token::lexer(src);
    // A UTF-8 byte-order mark at the start is skipped, as in the data
    // readers; positions still count it, so they match the file's bytes.
    if src.starts_with('\u{feff}') {
        lexer.bump('\u{feff}'.len_utf8());
    }
    while let Some(tok) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(file, range.start, range.end);
        match tok {
            Ok(Token::DocComment(text)) => docs.push((span, text)),
            Ok(Token::UnterminatedStr(s)) => {
                errors.push(LexError::UnterminatedString(span));
                tokens.push((range.start, Token::Str(s), range.end));
            }
            Ok(tok) => tokens.push((range.start, tok, range.end)),
            Err(()) => {
                let c = src[range.start..].chars().next().unwrap_or('?');
                errors.push(LexError::UnexpectedChar(c, span));
            }
        }
    }
    Lexed {
        tokens,
        docs,
        errors,
    }
}
