//! Where a space goes between two tokens on one line.
//!
//! Every token falls in one class (`classify` matches the token set
//! exhaustively, so a new token is a compile error here rather than a token
//! printed with a guessed spacing). Spacing is decided from the two tokens
//! and a little context: the open brackets (a `:` inside `[ ]` is unspaced), the item being written (the `:`
//! of an algebra or coalgebra header is spaced), whether a `^` is a tensor
//! power of spaces or a transpose, whether a `-` is unary, and whether a
//! `(` applies a `fold` or `hylo` morphism (written `fold f[d] (xs)`).

use cdlc_grammar::Token;

/// The role of a token for spacing and indentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// A name, a literal, or a keyword.
    Word,
    /// A keyword that starts a top-level item.
    ItemKeyword,
    /// `(`
    OpenParen,
    /// `[`
    OpenBracket,
    /// `{`
    OpenBrace,
    /// `)` or `]`
    Close,
    /// `}`
    CloseBrace,
    /// `,` or `;`
    Separator,
    /// `:`
    Colon,
    /// `.`
    Dot,
    /// `^`
    Caret,
    /// `-`, unary or binary.
    Minus,
    /// Any other infix operator, spaced on both sides.
    Infix,
}

/// The class of a token.
pub(super) fn classify(tok: &Token) -> Class {
    match tok {
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
        | Token::Train => Class::ItemKeyword,
        Token::Param
        | Token::Let
        | Token::In
        | Token::Fold
        | Token::Unfold
        | Token::Hylo
        | Token::From
        | Token::Over
        | Token::Take
        | Token::By
        | Token::Equivariant
        | Token::Invariant
        | Token::Under
        | Token::Where
        | Token::Fix
        | Token::Cofix
        | Token::Id
        | Token::Real
        | Token::DocComment(_)
        | Token::Ident(_)
        | Token::Int(_)
        | Token::Float(_)
        | Token::Str(_)
        | Token::UnterminatedStr(_) => Class::Word,
        Token::LParen => Class::OpenParen,
        Token::LBracket => Class::OpenBracket,
        Token::LBrace => Class::OpenBrace,
        Token::RParen | Token::RBracket => Class::Close,
        Token::RBrace => Class::CloseBrace,
        Token::Comma | Token::Semi => Class::Separator,
        Token::Colon => Class::Colon,
        Token::Dot => Class::Dot,
        Token::Caret => Class::Caret,
        Token::Minus => Class::Minus,
        Token::At
        | Token::Plus
        | Token::OPlus
        | Token::Star
        | Token::OTimes
        | Token::Slash
        | Token::Compose
        | Token::FatArrow
        | Token::Arrow
        | Token::Eq
        | Token::Bar => Class::Infix,
    }
}

/// Whether a token can end an operand, so that a `-` after it is binary and
/// a `(` after it applies it.
pub(super) fn ends_operand(tok: &Token) -> bool {
    matches!(
        tok,
        Token::Ident(_)
            | Token::Int(_)
            | Token::Float(_)
            | Token::Str(_)
            | Token::Real
            | Token::Id
            | Token::RParen
            | Token::RBracket
            | Token::RBrace
    )
}

/// Walks the token stream in order and says, for each token, whether a
/// space separates it from the token before it on the same line.
#[derive(Default)]
pub(super) struct Spacer {
    prev: Option<Token>,
    /// Whether the previous token was a unary `-`.
    prev_unary: bool,
    /// The brackets open before the next token, innermost last.
    open: Vec<Class>,
    /// The keyword of the item being written, set at depth 0.
    item: Option<Token>,
    /// Inside a space expression, where `^` is a spaced tensor power.
    in_space: bool,
    /// The depth of a `fold` or `hylo` head still being written.
    morphism_head: Option<usize>,
}

impl Spacer {
    /// Feeds the next token; returns whether a space goes before it when it
    /// follows the previous token on the same line.
    pub fn feed(&mut self, tok: &Token) -> bool {
        let space = self.space_before(tok);
        self.advance(tok);
        space
    }

    fn space_before(&self, tok: &Token) -> bool {
        let Some(prev) = &self.prev else {
            return false;
        };
        let (p, t) = (classify(prev), classify(tok));
        match (p, t) {
            (Class::OpenBrace, Class::CloseBrace) => false,
            (Class::OpenBrace, _) | (_, Class::CloseBrace) => true,
            (Class::OpenParen | Class::OpenBracket, _) | (_, Class::Close) => false,
            (_, Class::Separator) => false,
            (Class::Separator, _) => true,
            (Class::Dot, _) | (_, Class::Dot) => false,
            (_, Class::Colon) => self.header_colon(),
            (Class::Colon, _) => !self.in_brackets(),
            (Class::Caret, _) | (_, Class::Caret) => self.in_space,
            (Class::Minus, _) => !self.prev_unary,
            (_, Class::OpenParen) => {
                !ends_operand(prev) || self.morphism_head == Some(self.open.len())
            }
            (_, Class::OpenBracket) => !matches!(prev, Token::Ident(_) | Token::Real),
            _ => true,
        }
    }

    /// Whether the innermost open bracket is `[`: a `:` there separates
    /// the bounds of a range, written without spaces (`x[0:4]`).
    fn in_brackets(&self) -> bool {
        self.open.last() == Some(&Class::OpenBracket)
    }

    /// The `:` between an algebra's or coalgebra's name and its type.
    fn header_colon(&self) -> bool {
        self.open.is_empty() && matches!(self.item, Some(Token::Algebra | Token::Coalgebra))
    }

    fn advance(&mut self, tok: &Token) {
        let class = classify(tok);
        self.prev_unary = class == Class::Minus && !self.prev.as_ref().is_some_and(ends_operand);
        if self.morphism_head == Some(self.open.len())
            && !matches!(
                tok,
                Token::Ident(_) | Token::By | Token::LBracket | Token::Fold | Token::Hylo
            )
        {
            self.morphism_head = None;
        }
        match class {
            Class::ItemKeyword if self.open.is_empty() => {
                self.item = Some(tok.clone());
                self.in_space = *tok == Token::Space;
            }
            Class::OpenParen | Class::OpenBracket | Class::OpenBrace => {
                self.open.push(class);
            }
            Class::Close | Class::CloseBrace => {
                self.open.pop();
            }
            _ => {}
        }
        match tok {
            Token::Fold | Token::Hylo => self.morphism_head = Some(self.open.len()),
            Token::Equivariant | Token::Invariant => self.in_space = true,
            Token::LBrace | Token::RBrace | Token::Param | Token::Let => self.in_space = false,
            Token::Eq if self.item != Some(Token::Space) => self.in_space = false,
            _ => {}
        }
        self.prev = Some(tok.clone());
    }
}
