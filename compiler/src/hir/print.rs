//! The HIR's text form: one block per body, locals as `l0`, expressions as
//! `%0` in arena order (children first), each with its checked type. Items
//! print by name, built-ins by their vocabulary name, sizes as polynomials
//! over the definition's size parameters. Deterministic: arena order only.

use super::{Body, BodyKind, Expr, ExprId, Hir, Pattern, Stmt, UnfoldSource};
use crate::check::Checked;
use crate::check::size::Poly;
use crate::check::types::{Ty, TyDisplay};
use crate::resolve::{ItemId, Program};
use std::fmt::Write as _;

/// The text of the bodies of the user's items, in source order.
pub fn print(hir: &Hir, program: &Program, checked: &Checked) -> String {
    let mut out = String::new();
    for id in program.item_ids().filter(|id| program.is_user_item(*id)) {
        if let Some(body) = hir.body(id) {
            if !out.is_empty() {
                out.push('\n');
            }
            let p = Printer {
                program,
                checked,
                body,
            };
            p.body(id, hir.status(id), &mut out);
        }
    }
    out
}

struct Printer<'a> {
    program: &'a Program,
    checked: &'a Checked,
    body: &'a Body,
}

impl Printer<'_> {
    fn body(&self, id: ItemId, status: super::Status, out: &mut String) {
        let _ = writeln!(out, "{} ({status:?})", self.item(id));
        for (l, local) in self.body.locals.iter() {
            let _ = writeln!(
                out,
                "  l{} {}: {}",
                l.index(),
                local.name,
                self.ty(&local.ty)
            );
        }
        for (h, e) in self.body.exprs.iter() {
            let ty = self.ty(self.body.ty(h));
            let _ = writeln!(out, "  %{} = {} : {ty}", h.index(), self.expr(e));
        }
        let _ = match &self.body.kind {
            BodyKind::Block { args, value } => {
                let args: Vec<String> = args.iter().map(|a| format!("l{}", a.index())).collect();
                writeln!(out, "  body({}) = {}", args.join(", "), e(*value))
            }
            BodyKind::PointFree(v) => writeln!(out, "  body = {}", e(*v)),
            BodyKind::Cases { params, cases } => {
                for p in params {
                    let _ = writeln!(out, "  param l{} = #{}", p.local.index(), p.index);
                }
                for c in cases {
                    let bs: Vec<String> = c
                        .binders
                        .iter()
                        .map(|b| format!("l{}", b.index()))
                        .collect();
                    let _ = writeln!(out, "  case {}({}) = {}", c.ctor, bs.join(", "), e(c.value));
                }
                Ok(())
            }
        };
    }

    fn item(&self, id: ItemId) -> String {
        crate::resolve::declared_name(self.program.item(id))
            .map_or_else(|| format!("item{}", id.0), |n| n.node.clone())
    }

    fn ty(&self, ty: &Ty) -> String {
        TyDisplay {
            ty,
            namer: self.checked,
        }
        .to_string()
    }

    fn sizes(&self, sizes: &[Poly]) -> String {
        if sizes.is_empty() {
            return String::new();
        }
        let name = |v: crate::check::size::Var| self.checked.var_names[v.0 as usize].clone();
        let shown: Vec<String> = sizes.iter().map(|p| p.display(&name).to_string()).collect();
        format!("[{}]", shown.join(", "))
    }

    fn expr(&self, x: &Expr) -> String {
        match x {
            Expr::Number(n) => format!("{n}"),
            Expr::Local(l) => format!("l{}", l.index()),
            Expr::Inst { item, sizes } => format!("{}{}", self.item(*item), self.sizes(sizes)),
            Expr::Pointwise(f) => f.name.to_string(),
            Expr::Id => "id".to_string(),
            Expr::Tuple(es) => format!("({})", list(es)),
            Expr::Block { stmts, result } => {
                let mut s = String::from("block {");
                for st in stmts {
                    let _ = match st {
                        Stmt::Param(p) => write!(s, " param l{} = #{};", p.local.index(), p.index),
                        Stmt::Let(pat, v) => write!(s, " let {} = {};", pattern(pat), e(*v)),
                    };
                }
                format!("{s} {} }}", e(*result))
            }
            Expr::LetIn { pat, value, body } => {
                format!("let {} = {} in {}", pattern(pat), e(*value), e(*body))
            }
            Expr::Apply { f, args } => format!("apply {}({})", e(*f), list(args)),
            Expr::Builtin(c) => {
                let mut s = format!("{}({})", c.function.name, list(&c.args));
                if let Some(k) = c.named {
                    let _ = write!(s, " named {k}");
                }
                if c.channels > 0 {
                    let _ = write!(s, " channels {}", c.channels);
                }
                s
            }
            Expr::Binary(op, a, b) => format!("{} {op:?} {}", e(*a), e(*b)),
            Expr::Compose(a, b) => format!("{} >> {}", e(*a), e(*b)),
            Expr::Neg(a) => format!("-{}", e(*a)),
            Expr::Transpose(a) => format!("{}^T", e(*a)),
            Expr::Fold { alg, sizes } => format!("fold {}{}", self.item(*alg), self.sizes(sizes)),
            Expr::Hylo { alg, sizes } => {
                format!("hylo {}{} by halves", self.item(*alg), self.sizes(sizes))
            }
            Expr::Unfold {
                coalg,
                sizes,
                from,
                source,
            } => {
                let src = match source {
                    UnfoldSource::Over(xs) => format!("over {}", e(*xs)),
                    UnfoldSource::Take(k) => {
                        format!("take {}", self.sizes(std::slice::from_ref(k)))
                    }
                };
                let (c, s) = (self.item(*coalg), self.sizes(sizes));
                format!("unfold {c}{s} from {} {src}", e(*from))
            }
            Expr::Error => "error".to_string(),
        }
    }
}

fn e(h: ExprId) -> String {
    format!("%{}", h.index())
}

fn list(es: &[ExprId]) -> String {
    es.iter().map(|h| e(*h)).collect::<Vec<_>>().join(", ")
}

fn pattern(p: &Pattern) -> String {
    match p {
        Pattern::Local(l) => format!("l{}", l.index()),
        Pattern::Tuple(ps) => format!(
            "({})",
            ps.iter().map(pattern).collect::<Vec<_>>().join(", ")
        ),
    }
}
