//! The window a long line is cut to, and where the label lands in it.

use super::{Excerpt, LONG_LINE, line_bounds};

/// The shown text's characters from the caret on, as many as the underline.
fn underlined(e: &Excerpt) -> String {
    e.text.chars().skip(e.caret).take(e.underline).collect()
}

#[test]
fn a_short_line_is_shown_whole() {
    let text = "model m = a >> , b\nnext line";
    let at = text.find(',').unwrap();
    let e = Excerpt::new(text, at, at + 1);
    assert_eq!(e.text, "model m = a >> , b");
    assert_eq!(underlined(&e), ",");
}

#[test]
fn a_long_line_is_cut_around_the_label_on_both_sides() {
    let text = format!("{}FOUND{}", "a".repeat(5000), "b".repeat(5000));
    let e = Excerpt::new(&text, 5000, 5005);
    assert!(
        e.text.starts_with('…') && e.text.ends_with('…'),
        "{}",
        e.text
    );
    assert_eq!(underlined(&e), "FOUND");
    assert!(e.text.chars().count() < 100, "{}", e.text);
}

#[test]
fn a_label_near_either_end_of_a_long_line_is_cut_on_one_side() {
    let text = format!("X{}Y", "-".repeat(2 * LONG_LINE));
    let first = Excerpt::new(&text, 0, 1);
    assert!(!first.text.starts_with('…') && first.text.ends_with('…'));
    assert_eq!(underlined(&first), "X");
    let last = Excerpt::new(&text, text.len() - 1, text.len());
    assert!(last.text.starts_with('…') && !last.text.ends_with('…'));
    assert_eq!(underlined(&last), "Y");
}

#[test]
fn a_long_label_is_shown_in_part_and_multibyte_text_keeps_the_caret_aligned() {
    let text = format!("{}{}", "é".repeat(1000), "ü".repeat(1000));
    let start = "é".len() * 1000;
    let e = Excerpt::new(&text, start, text.len());
    assert_eq!(underlined(&e), "ü".repeat(80));
    assert!(e.text.ends_with('…'));
    // An offset inside a character is moved to its start, not a panic.
    let e = Excerpt::new(&text, start + 1, start + 3);
    assert_eq!(underlined(&e), "ü");
}

#[test]
fn lines_end_at_either_line_break() {
    let text = "ab\r\ncd\ref\ngh";
    assert_eq!(line_bounds(text, 0), (0, 2));
    assert_eq!(line_bounds(text, 4), (4, 6));
    assert_eq!(line_bounds(text, 7), (7, 9));
    assert_eq!(line_bounds(text, text.len()), (10, 12));
}
