//! Completion: every name in scope at the cursor with its signature: the
//! locals of the enclosing item, the program's and the imported library's
//! items, the built-ins and the keywords. Clients filter by what is typed.

use super::analysis::{Analysis, local_kind};
use super::locals::locals_at;
use super::text::offset_at;
use cdlc::builtins::{BUILTINS, INITS, POINTWISE, STRUCTURAL_COALGEBRAS};
use cdlc_grammar::ast::ItemKind;
use lsp_types::{
    CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind, Position,
};

const KEYWORDS: &[&str] = &[
    "import",
    "const",
    "functor",
    "data",
    "codata",
    "group",
    "monoid",
    "space",
    "layer",
    "algebra",
    "coalgebra",
    "model",
    "train",
    "param",
    "let",
    "in",
    "fold",
    "unfold",
    "hylo",
    "from",
    "over",
    "take",
    "by",
    "equivariant",
    "invariant",
    "under",
    "where",
    "fix",
    "cofix",
    "id",
];

/// The completions at `p`.
pub fn completions(a: &Analysis, p: Position) -> Vec<CompletionItem> {
    let Some(at) = offset_at(&a.doc.text, p) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let mut locals = locals_at(&a.c, at as u32);
    locals.retain(|l| l.visible_at(at as u32));
    locals.sort_by_key(|l| std::cmp::Reverse(l.scope.0));
    for l in locals {
        if items.iter().any(|i: &CompletionItem| i.label == l.name) {
            continue;
        }
        items.push(CompletionItem {
            label: l.name.clone(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(match &l.ty {
                Some(ty) => format!("{}: {}: {ty}", local_kind(l.kind), l.name),
                None => format!("{}: {}", local_kind(l.kind), l.name),
            }),
            ..CompletionItem::default()
        });
    }
    for (name, &id) in &a.c.program.globals {
        let item = a.c.program.item(id);
        let signature = cdlc::emit::types::describe(&a.c, name);
        let detail = signature
            .as_deref()
            .and_then(|s| s.lines().nth(1))
            .map(str::to_string);
        items.push(CompletionItem {
            label: name.clone(),
            kind: Some(item_kind(&item.kind)),
            detail,
            documentation: signature.map(|value| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                })
            }),
            ..CompletionItem::default()
        });
    }
    let builtin = |name: &str, detail: &str| CompletionItem {
        label: name.to_string(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    };
    items.extend(
        POINTWISE
            .iter()
            .map(|n| builtin(n, "built-in pointwise function")),
    );
    items.extend(BUILTINS.iter().map(|n| builtin(n, "built-in function")));
    items.extend(
        INITS
            .iter()
            .map(|(n, k)| builtin(n, &format!("initialiser, {k} numbers"))),
    );
    items.extend(
        STRUCTURAL_COALGEBRAS
            .iter()
            .map(|n| builtin(n, "structural coalgebra")),
    );
    items.extend(KEYWORDS.iter().map(|k| CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        ..CompletionItem::default()
    }));
    items
}

fn item_kind(kind: &ItemKind) -> CompletionItemKind {
    match kind {
        ItemKind::Def(_) | ItemKind::Algebra(_) | ItemKind::Coalgebra(_) => {
            CompletionItemKind::FUNCTION
        }
        ItemKind::Functor(_) | ItemKind::Data(_) | ItemKind::Space(_) | ItemKind::Group(_) => {
            CompletionItemKind::CLASS
        }
        ItemKind::Const(_) => CompletionItemKind::CONSTANT,
        ItemKind::Import(_) | ItemKind::Train(_) | ItemKind::Error => CompletionItemKind::TEXT,
    }
}
