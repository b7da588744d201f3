//! The nesting limit: a program nested deeper than `MAX_DEPTH` levels of
//! brackets (or of prefix minus signs) is refused before it is parsed.
//!
//! Every later stage (checking, printing, instantiation, and dropping the
//! syntax tree) walks expressions recursively, so a deep enough program
//! would overflow the stack. No real program comes near this limit; a
//! refused one gets one error at the bracket that goes too deep.

use crate::lexer::Token;

/// The deepest nesting accepted: brackets `(`, `[`, `{` and runs of `-`.
pub const MAX_DEPTH: usize = 256;

/// The byte range of the first token that nests deeper than `MAX_DEPTH`.
pub fn too_deep(tokens: &[(usize, Token, usize)]) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut minus_run = 0usize;
    for (start, tok, end) in tokens {
        match tok {
            Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
        minus_run = if matches!(tok, Token::Minus) {
            minus_run + 1
        } else {
            0
        };
        if depth + minus_run > MAX_DEPTH {
            return Some((*start, *end));
        }
    }
    None
}
