//! Facts about the token stream that error reporting asks for once per
//! syntax error, computed once per file.
//!
//! A file of garbage has about one error per few tokens; answering each
//! question by scanning the tokens would make reporting quadratic in the
//! file's length. Each question here is a binary search or a table lookup.

use crate::lexer::Token;

/// Indexes over one file's tokens.
pub(crate) struct TokenIndex<'t> {
    tokens: &'t [(usize, Token, usize)],
    /// The indices of the tokens that start an item, in order.
    item_starts: Vec<usize>,
    /// For each token, the index of the innermost `(` still open before it.
    enclosing_paren: Vec<Option<usize>>,
}

impl<'t> TokenIndex<'t> {
    /// Indexes `tokens` in one pass.
    pub(crate) fn new(tokens: &'t [(usize, Token, usize)]) -> TokenIndex<'t> {
        let mut item_starts = Vec::new();
        let mut enclosing_paren = Vec::with_capacity(tokens.len());
        let mut open: Vec<usize> = Vec::new();
        for (i, (_, tok, _)) in tokens.iter().enumerate() {
            enclosing_paren.push(open.last().copied());
            match tok {
                Token::LParen => open.push(i),
                Token::RParen => {
                    open.pop();
                }
                t if crate::starts_item(t) => item_starts.push(i),
                _ => {}
            }
        }
        TokenIndex {
            tokens,
            item_starts,
            enclosing_paren,
        }
    }

    /// The tokens.
    pub(crate) fn tokens(&self) -> &'t [(usize, Token, usize)] {
        self.tokens
    }

    /// The index of the first token that starts at or after byte `at`.
    pub(crate) fn first_at(&self, at: usize) -> usize {
        self.tokens.partition_point(|(l, _, _)| *l < at)
    }

    /// The index of the last item keyword before byte `at`.
    pub(crate) fn item_start_before(&self, at: usize) -> Option<usize> {
        let before = self.first_at(at);
        let k = self.item_starts.partition_point(|&i| i < before);
        k.checked_sub(1).map(|k| self.item_starts[k])
    }

    /// The index of the innermost `(` still open before token `index`.
    pub(crate) fn enclosing_paren(&self, index: usize) -> Option<usize> {
        self.enclosing_paren.get(index).copied().flatten()
    }
}
