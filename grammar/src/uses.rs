//! The limit on definitions nested through their uses: a definition that
//! uses one that uses another, and so on, is inlined level by level when the
//! model is instantiated, so a long enough chain of definitions would
//! overflow the stack even though each is shallow.
//!
//! Measured on the tokens before parsing, like `depth`: an item's own depth
//! is the deepest nesting `depth` counts inside it, and its depth through
//! uses adds the deepest depth through uses of the items whose names it
//! mentions (by name, in this file; a local that shadows an item's name is
//! counted as a use, which can only overestimate). A cycle of uses adds
//! nothing here (recursion is reported by the checker).
//!
//! The same walk estimates each definition's size once inlined: its own
//! tokens plus the inlined size of every item it mentions, once per
//! mention. A definition that uses the one before twice, sixty times over,
//! would be inlined into 2^60 copies; `too_large` finds the first
//! definition whose estimate passes `MAX_INLINED_TOKENS` while everything
//! it uses stays within it, so the checker can refuse it before
//! instantiation allocates anything.

use std::collections::HashMap;

use crate::depth::Counter;
use crate::lexer::Token;

/// The deepest nesting through uses accepted.
pub const MAX_USE_DEPTH: usize = 1024;

/// The largest inlined size, in tokens, a definition may have.
pub const MAX_INLINED_TOKENS: usize = 1 << 24;

/// One item: its name token, its own depth and tokens, and the names it
/// mentions.
struct ItemUses<'t> {
    name: Option<(usize, &'t str, usize)>,
    depth: usize,
    tokens: usize,
    mentions: Vec<&'t str>,
}

/// The byte range of the name of the first item, in source order, whose
/// depth through uses is beyond `MAX_USE_DEPTH`, and that depth.
pub fn too_deep(tokens: &[(usize, Token, usize)]) -> Option<((usize, usize), usize)> {
    let items = split(tokens);
    let by_name = names(&items);
    let total = depths(&items, &by_name);
    items
        .iter()
        .zip(&total)
        .find(|(_, d)| **d > MAX_USE_DEPTH)
        .and_then(|(it, d)| it.name.map(|(l, _, r)| ((l, r), *d)))
}

/// The byte range of the name of the first item, in source order, whose
/// inlined size passes `MAX_INLINED_TOKENS` while the items it mentions
/// stay within it, and that size (saturating at `usize::MAX`).
pub fn too_large(tokens: &[(usize, Token, usize)]) -> Option<((usize, usize), usize)> {
    let items = split(tokens);
    let by_name = names(&items);
    let total = inlined_sizes(&items, &by_name);
    let within = |n: &&str| {
        by_name
            .get(n)
            .is_none_or(|&j| total[j] <= MAX_INLINED_TOKENS)
    };
    items
        .iter()
        .zip(&total)
        .find(|(it, t)| **t > MAX_INLINED_TOKENS && it.mentions.iter().all(within))
        .and_then(|(it, t)| it.name.map(|(l, _, r)| ((l, r), *t)))
}

/// Each named item's index by its name.
fn names<'t>(items: &[ItemUses<'t>]) -> HashMap<&'t str, usize> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.name.map(|(_, n, _)| (n, i)))
        .collect()
}

/// Splits the tokens into items at the item keywords outside brackets.
fn split(tokens: &[(usize, Token, usize)]) -> Vec<ItemUses<'_>> {
    let mut items: Vec<ItemUses<'_>> = Vec::new();
    let mut counter = Counter::default();
    let mut brackets = 0usize;
    let mut previous: Option<&Token> = None;
    for (i, (_, tok, _)) in tokens.iter().enumerate() {
        if brackets == 0 && crate::starts_item(tok) {
            let name = match tokens.get(i + 1) {
                Some((l, Token::Ident(n), r)) => Some((*l, n.as_str(), *r)),
                _ => None,
            };
            items.push(ItemUses {
                name,
                depth: 0,
                tokens: 0,
                mentions: Vec::new(),
            });
        }
        match tok {
            Token::LParen | Token::LBracket | Token::LBrace => brackets += 1,
            Token::RParen | Token::RBracket | Token::RBrace => {
                brackets = brackets.saturating_sub(1)
            }
            _ => {}
        }
        counter.step(previous, tok);
        previous = Some(tok);
        if let Some(item) = items.last_mut() {
            item.depth = item.depth.max(counter.depth());
            item.tokens += 1;
            if let Token::Ident(n) = tok
                && item.name.is_none_or(|(l, _, _)| l != tokens[i].0)
            {
                item.mentions.push(n);
            }
        }
    }
    items
}

/// Each item's depth through uses: its own depth plus the deepest of the
/// items it mentions.
fn depths(items: &[ItemUses<'_>], by_name: &HashMap<&str, usize>) -> Vec<usize> {
    through_uses(items, by_name, |item, used| {
        // Every use is at least one level, however shallow the definition.
        items[item].depth.max(1) + used.iter().copied().max().unwrap_or(0)
    })
}

/// Each item's inlined size: its own tokens plus the inlined size of each
/// item it mentions, once per mention, saturating.
fn inlined_sizes(items: &[ItemUses<'_>], by_name: &HashMap<&str, usize>) -> Vec<usize> {
    through_uses(items, by_name, |item, used| {
        used.iter()
            .fold(items[item].tokens, |sum, &u| sum.saturating_add(u))
    })
}

/// A value for each item computed from the values of the items it
/// mentions (`combine(item, values of its mentions, once per mention)`),
/// with an explicit stack (the chain of uses can be as long as the file).
/// A mention that closes a cycle of uses is left out.
fn through_uses(
    items: &[ItemUses<'_>],
    by_name: &HashMap<&str, usize>,
    combine: impl Fn(usize, &[usize]) -> usize,
) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; items.len()];
    let mut total = vec![0usize; items.len()];
    for root in 0..items.len() {
        if state[root] != State::New {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = State::Open;
        while let Some(&mut (item, ref mut next)) = stack.last_mut() {
            let used = items[item].mentions[*next..]
                .iter()
                .position(|n| by_name.get(n).is_some_and(|&j| state[j] == State::New));
            match used {
                Some(k) => {
                    *next += k + 1;
                    let j = by_name[items[item].mentions[*next - 1]];
                    state[j] = State::Open;
                    stack.push((j, 0));
                }
                None => {
                    let used: Vec<usize> = items[item]
                        .mentions
                        .iter()
                        .filter_map(|n| by_name.get(n))
                        .filter(|&&j| state[j] == State::Done)
                        .map(|&j| total[j])
                        .collect();
                    total[item] = combine(item, &used);
                    state[item] = State::Done;
                    stack.pop();
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests;
