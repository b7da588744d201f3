//! Hover: the signature and documentation of an item, the checked type of
//! a local, what a built-in is, and for a space the group and action of
//! each of its factors.

use super::analysis::{Analysis, Symbol, local_kind};
use super::locals::{Local, LocalKind, item_at};
use super::text::range_of;
use cdlc::resolve::ItemId;
use cdlc_grammar::ast::{ItemKind, SpaceExpr, SpaceKind};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

/// The hover at `p`, if there is a name there.
pub fn hover(a: &Analysis, p: Position) -> Option<Hover> {
    let (span, symbol) = a.symbol_at(p)?;
    let value = match symbol {
        Symbol::Local(l) => {
            let decl = match &l.ty {
                Some(ty) => format!("{}: {ty}", l.name),
                None => l.name.clone(),
            };
            let mut text = format!("```cdl\n{decl}\n```\n\n{} `{}`", local_kind(l.kind), l.name);
            if l.kind == LocalKind::Weight {
                text.push_str(&weight_tying(a, &l));
            }
            text
        }
        Symbol::Global(id) => {
            let mut text = cdlc::emit::types::describe(&a.c, a.slice(span))?;
            text.push_str(&space_actions(a, id));
            text
        }
        Symbol::Builtin(name, what) => format!("```cdl\n{name}\n```\n\n{what}"),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(range_of(
            &a.doc.text,
            span.start as usize,
            span.end as usize,
        )),
    })
}

/// For an equivariant or invariant weight, its derived tying (`phi.W: 2
/// free of 100`, the line `--emit tying` prints first); empty otherwise.
fn weight_tying(a: &Analysis, l: &Local) -> String {
    let owner = item_at(&a.c, l.def.start);
    let Some(tying) = owner.and_then(|id| a.c.tyings.get(id, &l.name)) else {
        return String::new();
    };
    let name = format!("{}.{}", tying.owner, tying.param);
    tying
        .basis
        .render(&name)
        .lines()
        .next()
        .map_or(String::new(), |line| format!("\n\nderived tying: {line}"))
}

/// For a space, one line per factor with a group action: the action, the
/// group's declaration and the tensor it acts on. Empty for other items.
fn space_actions(a: &Analysis, id: ItemId) -> String {
    let ItemKind::Space(s) = &a.c.program.item(id).kind else {
        return String::new();
    };
    let mut lines = Vec::new();
    let mut seen = vec![s.name.node.clone()];
    collect_actions(a, &s.def, &mut seen, &mut lines);
    if lines.is_empty() {
        return "\n\nno group acts on it (channels only)".to_string();
    }
    format!("\n\nacted on by:\n{}", lines.join("\n"))
}

fn collect_actions(a: &Analysis, e: &SpaceExpr, seen: &mut Vec<String>, out: &mut Vec<String>) {
    match &e.kind {
        SpaceKind::Under { group, action, .. } => {
            let text = a.c.sources.text(e.span.file);
            let tensor = text[e.span.range()]
                .split(" under")
                .next()
                .unwrap_or("")
                .trim();
            let decl =
                a.c.program
                    .lookup(&group.node)
                    .map(|g| a.c.program.item(g))
                    .filter(|g| matches!(g.kind, ItemKind::Group(_)))
                    .map_or(format!("`{}` (not declared)", group.node), |g| {
                        let src = a.c.sources.text(g.span.file);
                        format!("`{}`", src[g.span.range()].trim_end())
                    });
            out.push(format!("- `{}` on `{tensor}`, by {decl}", action.node));
        }
        SpaceKind::Name(n) if !seen.contains(&n.node) => {
            seen.push(n.node.clone());
            if let Some(ItemKind::Space(s)) =
                a.c.program
                    .lookup(&n.node)
                    .map(|i| &a.c.program.item(i).kind)
            {
                collect_actions(a, &s.def, seen, out);
            }
        }
        SpaceKind::Tensor2(l, r) | SpaceKind::Sum(l, r) => {
            collect_actions(a, l, seen, out);
            collect_actions(a, r, seen, out);
        }
        SpaceKind::Power(inner, _) => collect_actions(a, inner, seen, out),
        SpaceKind::Tensor(_) | SpaceKind::Name(_) => {}
    }
}
