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

use std::collections::HashMap;

use crate::depth::Counter;
use crate::lexer::Token;

/// The deepest nesting through uses accepted.
pub const MAX_USE_DEPTH: usize = 1024;

/// One item: its name token, its own depth, and the names it mentions.
struct ItemUses<'t> {
    name: Option<(usize, &'t str, usize)>,
    depth: usize,
    mentions: Vec<&'t str>,
}

/// The byte range of the name of the first item, in source order, whose
/// depth through uses is beyond `MAX_USE_DEPTH`, and that depth.
pub fn too_deep(tokens: &[(usize, Token, usize)]) -> Option<((usize, usize), usize)> {
    let items = split(tokens);
    let by_name: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.name.map(|(_, n, _)| (n, i)))
        .collect();
    let total = depths(&items, &by_name);
    items
        .iter()
        .zip(&total)
        .find(|(_, d)| **d > MAX_USE_DEPTH)
        .and_then(|(it, d)| it.name.map(|(l, _, r)| ((l, r), *d)))
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
/// items it mentions, computed with an explicit stack (the chain of uses
/// can be as long as the file).
fn depths(items: &[ItemUses<'_>], by_name: &HashMap<&str, usize>) -> Vec<usize> {
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
                    let deepest = items[item]
                        .mentions
                        .iter()
                        .filter_map(|n| by_name.get(n))
                        .filter(|&&j| state[j] == State::Done)
                        .map(|&j| total[j])
                        .max()
                        .unwrap_or(0);
                    // Every use is at least one level, however shallow the definition.
                    total[item] = items[item].depth.max(1) + deepest;
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
