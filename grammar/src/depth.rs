//! The nesting limit: a program whose syntax tree could be deeper than
//! `MAX_DEPTH` levels is refused before it is parsed.
//!
//! Every later stage (checking, printing, instantiation, building the IR,
//! and dropping the syntax tree) walks expressions recursively, so a deep
//! enough program would overflow the stack. The depth is measured on the
//! tokens, before any tree exists, as an upper bound of the tree's depth:
//!
//! - every open bracket `(`, `[`, `{` is one level until it closes;
//! - every link of a chain is one level: a binary operator (`+ - * / @ >>
//!   ^ -> ⊕ ⊗`, so also each prefix `-`), each `in` of a `let … in`, and
//!   each call that applies the result of a bracket (`f(x)(y)`);
//! - the links of a bracket level are forgotten at the separators that start
//!   a sibling rather than a child: `,`, `;`, `=>`, an item keyword, and a
//!   `let` or `param` that starts a statement.
//!
//! Counting on the tokens means a deep tree is never built (its drop would
//! recurse as deep as the tree). No real program comes near the limit; a
//! refused one gets one error at the token that goes too deep.

use crate::lexer::Token;

/// The deepest nesting accepted, counted as the module documentation says.
pub const MAX_DEPTH: usize = 256;

/// The byte range of the first token that nests deeper than `MAX_DEPTH`.
pub fn too_deep(tokens: &[(usize, Token, usize)]) -> Option<(usize, usize)> {
    let mut counter = Counter::default();
    let mut previous: Option<&Token> = None;
    for (start, tok, end) in tokens {
        counter.step(previous, tok);
        if counter.depth > MAX_DEPTH {
            return Some((*start, *end));
        }
        previous = Some(tok);
    }
    None
}

/// The running count: one entry of `links` per open bracket level (the
/// first for the top level), and their sum plus the open brackets in
/// `depth`.
#[derive(Default)]
pub(crate) struct Counter {
    links: Vec<usize>,
    depth: usize,
}

impl Counter {
    /// The depth after the tokens counted so far.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Counts one token, given the token before it.
    pub(crate) fn step(&mut self, previous: Option<&Token>, tok: &Token) {
        if self.links.is_empty() {
            self.links.push(0);
        }
        match tok {
            Token::LParen | Token::LBracket | Token::LBrace => {
                if matches!(tok, Token::LParen) && previous.is_some_and(closes) {
                    self.link();
                }
                self.links.push(0);
                self.depth += 1;
            }
            // A closing bracket with none open is ignored.
            Token::RParen | Token::RBracket | Token::RBrace if self.links.len() > 1 => {
                self.reset();
                self.links.pop();
                self.depth -= 1;
            }
            Token::Comma | Token::Semi | Token::FatArrow => self.reset(),
            Token::Let | Token::Param if !previous.is_some_and(continues_let) => self.reset(),
            // `data` also names a train option, where resetting is harmless.
            t if crate::starts_item(t) => self.reset(),
            t if is_link(t) => self.link(),
            _ => {}
        }
    }

    /// One more link at the innermost level.
    fn link(&mut self) {
        *self
            .links
            .last_mut()
            .expect("the top level is always there") += 1;
        self.depth += 1;
    }

    /// Forgets the innermost level's links: what follows is a sibling.
    fn reset(&mut self) {
        let level = self
            .links
            .last_mut()
            .expect("the top level is always there");
        self.depth -= *level;
        *level = 0;
    }
}

/// Whether a token links two parts of a chain (or prefixes one).
fn is_link(t: &Token) -> bool {
    matches!(
        t,
        Token::Plus
            | Token::Minus
            | Token::Star
            | Token::Slash
            | Token::At
            | Token::Compose
            | Token::Caret
            | Token::Arrow
            | Token::OPlus
            | Token::OTimes
            | Token::In
    )
}

/// Whether a token closes a bracket, so that a `(` after it applies the
/// bracket's value: `f(x)(y)` nests one level per call.
fn closes(t: &Token) -> bool {
    matches!(t, Token::RParen | Token::RBracket | Token::RBrace)
}

/// Whether a `let` after this token is the body or the value of another
/// `let` (`let a = x in let b = …`, `let a = let b = …`), and so its child.
fn continues_let(t: &Token) -> bool {
    matches!(t, Token::In | Token::Eq)
}

#[cfg(test)]
mod tests;
