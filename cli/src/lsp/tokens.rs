//! Semantic tokens: every token and comment of the document classified
//! (keywords, items by kind, locals, built-ins, numbers, strings, comments,
//! operators) and encoded as the protocol's relative five-number groups.

use super::analysis::{Analysis, Symbol};
use super::locals::LocalKind;
use super::text::position_at;
use cdlc::format::pieces::{PieceKind, pieces};
use cdlc_grammar::ast::ItemKind;
use cdlc_grammar::{Span, Token};
use lsp_types::{Position, SemanticToken, SemanticTokenType, SemanticTokensLegend};

/// The token types, in the order of their indices.
const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::TYPE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::NUMBER,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::PROPERTY,
];

/// The legend announced in the server's capabilities.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

fn index(t: SemanticTokenType) -> u32 {
    TYPES
        .iter()
        .position(|x| *x == t)
        .expect("a type of the legend") as u32
}

/// The document's semantic tokens.
pub fn semantic_tokens(a: &Analysis) -> Vec<SemanticToken> {
    let text = &a.doc.text;
    let mut out = Vec::new();
    let mut last = (0, 0);
    let mut cursor = Cursor::default();
    for piece in pieces(text) {
        let Some(kind) = classify(a, &piece.kind, piece.start, piece.end) else {
            continue;
        };
        let start = cursor.advance(text, piece.start);
        let length = text[piece.start..piece.end]
            .chars()
            .map(|c| c.len_utf16() as u32)
            .sum();
        let delta_start = if start.line == last.0 {
            start.character - last.1
        } else {
            start.character
        };
        out.push(SemanticToken {
            delta_line: start.line - last.0,
            delta_start,
            length,
            token_type: index(kind),
            token_modifiers_bitset: 0,
        });
        last = (start.line, start.character);
    }
    out
}

/// A position in the document that moves forward only, so that the
/// positions of all tokens, in order, cost one pass over the text (asking
/// `position_at` for each would cost a pass per token).
#[derive(Default)]
struct Cursor {
    offset: usize,
    line: u32,
    character: u32,
}

impl Cursor {
    /// The position of byte `to`, which is not before the last one asked
    /// for (an earlier one is computed from the start).
    fn advance(&mut self, text: &str, to: usize) -> Position {
        if to < self.offset || !text.is_char_boundary(to) {
            return position_at(text, to);
        }
        for c in text[self.offset..to].chars() {
            if c == '\n' {
                self.line += 1;
                self.character = 0;
            } else {
                self.character += c.len_utf16() as u32;
            }
        }
        self.offset = to;
        Position::new(self.line, self.character)
    }
}

fn classify(a: &Analysis, kind: &PieceKind, start: usize, end: usize) -> Option<SemanticTokenType> {
    let tok = match kind {
        PieceKind::Comment => return Some(SemanticTokenType::COMMENT),
        PieceKind::Token(t) => t,
    };
    Some(match tok {
        Token::Ident(name) => name_type(a, name, Span::new(a.c.file, start, end)),
        Token::Int(_) | Token::Float(_) => SemanticTokenType::NUMBER,
        Token::Str(_) | Token::UnterminatedStr(_) => SemanticTokenType::STRING,
        Token::Real => SemanticTokenType::TYPE,
        Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::Comma
        | Token::Semi
        | Token::Dot
        | Token::Colon => return None,
        t if !t.text().is_empty() && t.text().chars().all(|c| c.is_ascii_alphabetic()) => {
            SemanticTokenType::KEYWORD
        }
        _ => SemanticTokenType::OPERATOR,
    })
}

fn name_type(a: &Analysis, name: &str, span: Span) -> SemanticTokenType {
    match a.symbol(name, span) {
        Some(Symbol::Local(l)) => match l.kind {
            LocalKind::Argument | LocalKind::Binder | LocalKind::Size => {
                SemanticTokenType::PARAMETER
            }
            LocalKind::Weight | LocalKind::Let => SemanticTokenType::VARIABLE,
        },
        Some(Symbol::Global(id)) => match a.c.program.item(id).kind {
            ItemKind::Def(_) | ItemKind::Algebra(_) | ItemKind::Coalgebra(_) => {
                SemanticTokenType::FUNCTION
            }
            ItemKind::Const(_) => SemanticTokenType::VARIABLE,
            _ => SemanticTokenType::TYPE,
        },
        Some(Symbol::Builtin(..)) => SemanticTokenType::FUNCTION,
        None => SemanticTokenType::PROPERTY,
    }
}
