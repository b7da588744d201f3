//! Facts about the token stream that error reporting asks for once per
//! syntax error, computed once per file.
//!
//! A file of garbage has about one error per few tokens; answering each
//! question by scanning the tokens would make reporting quadratic in the
//! file's length. Each question here is a binary search or a table lookup.
//!
//! Every token and table entry a question looks at is counted
//! (`TokenIndex::examined`), so that a test can hold reporting to a
//! logarithmic number of looks per error without timing it.

use std::cell::Cell;

use crate::lexer::Token;

/// Indexes over one file's tokens.
pub(crate) struct TokenIndex<'t> {
    tokens: &'t [(usize, Token, usize)],
    /// The indices of the tokens that start an item, in order.
    item_starts: Vec<usize>,
    /// For each token, the index of the innermost `(` still open before it.
    enclosing_paren: Vec<Option<usize>>,
    /// How many tokens and table entries the questions have looked at.
    examined: Cell<usize>,
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
            examined: Cell::new(0),
        }
    }

    /// Token `i`, if there is one, counted as looked at.
    pub(crate) fn get(&self, i: usize) -> Option<&'t (usize, Token, usize)> {
        self.look();
        self.tokens.get(i)
    }

    /// The index of the first token that starts at or after byte `at`.
    pub(crate) fn first_at(&self, at: usize) -> usize {
        self.partition(self.tokens.len(), |i| self.tokens[i].0 < at)
    }

    /// The index of the last item keyword before byte `at`.
    pub(crate) fn item_start_before(&self, at: usize) -> Option<usize> {
        let before = self.first_at(at);
        let k = self.partition(self.item_starts.len(), |k| self.item_starts[k] < before);
        k.checked_sub(1).map(|k| self.item_starts[k])
    }

    /// The index of the innermost `(` still open before token `index`.
    pub(crate) fn enclosing_paren(&self, index: usize) -> Option<usize> {
        self.look();
        self.enclosing_paren.get(index).copied().flatten()
    }

    /// How many tokens and table entries the questions asked so far have
    /// looked at.
    pub(crate) fn examined(&self) -> usize {
        self.examined.get()
    }

    /// The number of leading indices of `0..len` for which `before` holds,
    /// `before` being true on a prefix: a binary search that counts each
    /// index it looks at.
    fn partition(&self, len: usize, before: impl Fn(usize) -> bool) -> usize {
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.look();
            if before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Counts one look at a token or a table entry.
    fn look(&self) {
        self.examined.set(self.examined.get() + 1);
    }
}

#[cfg(test)]
mod tests;
