//! The limit on a definition's size once inlined (E0707).
//!
//! Instantiation copies a definition's body at every use, with its own
//! parameters, so a definition that uses the one before twice, sixty
//! levels over, would need 2^60 copies: the instantiated model really is
//! that large, and building it would exhaust memory. The estimate is made
//! on the tokens (`cdlc_grammar::uses::too_large`: each definition's own
//! tokens plus those of what it uses, once per use), in time linear in the
//! file, and the first definition past `MAX_INLINED_TOKENS` is refused at
//! its name before anything is instantiated.

use cdlc_grammar::uses::{MAX_INLINED_TOKENS, too_large};
use cdlc_grammar::{FileId, Span};

use crate::diagnostics::Diagnostic;

/// Adds E0707 to `diags` if a definition of `text` is too large once its
/// uses are inlined.
pub fn check(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) {
    let lexed = cdlc_grammar::lexer::lex(file, text);
    let Some(((start, end), size)) = too_large(&lexed.tokens) else {
        return;
    };
    let size = if size == usize::MAX {
        format!("more than {}", usize::MAX)
    } else {
        format!("about {size}")
    };
    diags.push(
        Diagnostic::error(
            "E0707",
            format!(
                "this definition is too large to instantiate: with the definitions it uses copied in, it is {size} tokens long, more than the {MAX_INLINED_TOKENS} a definition may have"
            ),
            Span::new(file, start, end),
            "every use of a definition is a separate copy, with its own parameters",
        )
        .with_help("use the definitions it builds on fewer times each, or nest them fewer levels deep; nothing was instantiated"),
    );
}
