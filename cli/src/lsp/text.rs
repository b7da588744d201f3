//! Positions: between the protocol's (line, UTF-16 unit) pairs and byte
//! offsets, never splitting a character, for any position a client sends.

use lsp_types::{Position, Range};

/// The byte offset of `p` in `text`: `None` past the last line; a column
/// past the end of its line (or inside a character) is moved back to the
/// end of the line (or the start of the character).
pub fn offset_at(text: &str, p: Position) -> Option<usize> {
    let mut start = 0;
    for _ in 0..p.line {
        start += text[start..].find('\n')? + 1;
    }
    let line = text[start..].split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut units = 0;
    for (i, c) in line.char_indices() {
        units += c.len_utf16() as u32;
        if units > p.character {
            return Some(start + i);
        }
    }
    Some(start + line.len())
}

/// The protocol position of byte `offset` (moved back to a character start).
pub fn position_at(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() as u32;
    let character = before[line_start..]
        .chars()
        .map(|c| c.len_utf16() as u32)
        .sum();
    Position::new(line, character)
}

/// The protocol range of bytes `start..end`.
pub fn range_of(text: &str, start: usize, end: usize) -> Range {
    Range::new(position_at(text, start), position_at(text, end))
}

/// The name (letters, digits, `_`) that touches byte `at`, as a byte range.
pub fn word_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let at = at.min(bytes.len());
    let start = at
        - bytes[..at]
            .iter()
            .rev()
            .take_while(|b| is_name(**b))
            .count();
    let end = at + bytes[at..].iter().take_while(|b| is_name(**b)).count();
    (start < end && !bytes[start].is_ascii_digit()).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_never_split_a_character() {
        let text = "é𝔸x\nab";
        assert_eq!(offset_at(text, Position::new(0, 0)), Some(0));
        assert_eq!(offset_at(text, Position::new(0, 1)), Some(2));
        // The middle of the surrogate pair of 𝔸 moves back to its start.
        assert_eq!(offset_at(text, Position::new(0, 2)), Some(2));
        assert_eq!(offset_at(text, Position::new(0, 3)), Some(6));
        assert_eq!(offset_at(text, Position::new(0, 99)), Some(7));
        assert_eq!(offset_at(text, Position::new(1, 1)), Some(9));
        assert_eq!(offset_at(text, Position::new(5, 0)), None);
        assert_eq!(position_at(text, 6), Position::new(0, 3));
        assert_eq!(position_at(text, 3), Position::new(0, 1));
        assert_eq!(word_at(text, 6), Some((6, 7)));
        assert_eq!(word_at(text, 2), None);
    }
}
