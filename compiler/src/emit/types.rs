//! `--emit types`: every functor in polynomial form, every data type, and
//! every layer, model, algebra and coalgebra with its Para type and its
//! parameters' shapes.

use crate::check::types::{Namer, Ty, TyDisplay};
use crate::check::{Checked, FunctorInfo, ParamInfo, ParamKind};
use crate::resolve::Program;
use std::fmt::Write;

/// Prints the checked types of the user's file (and the functors and data
/// types it can see).
pub fn print(program: &Program, checked: &Checked) -> String {
    let mut out = String::new();
    for f in &checked.functors {
        let _ = writeln!(out, "functor {}", polynomial(f, checked));
    }
    for (id, d) in &checked.data {
        let name =
            crate::resolve::declared_name(program.item(*id)).map_or("?", |n| n.node.as_str());
        let params = match program.item(*id).kind {
            cdlc_grammar::ast::ItemKind::Data(ref dd) => {
                dd.params.iter().map(|p| p.node.clone()).collect::<Vec<_>>()
            }
            _ => Vec::new(),
        };
        let namer = ParamNamer {
            inner: checked,
            params: &params,
        };
        let fname = &checked.functors[d.functor.0 as usize].name;
        let args: Vec<String> = d
            .args
            .iter()
            .map(|a| {
                TyDisplay {
                    ty: a,
                    namer: &namer,
                }
                .to_string()
            })
            .collect();
        let _ = writeln!(
            out,
            "{} {name}({}) = {} {fname}({})",
            if d.co { "codata" } else { "data" },
            params.join(", "),
            if d.co { "cofix" } else { "fix" },
            args.join(", ")
        );
    }
    let show = |t: &Ty| {
        TyDisplay {
            ty: t,
            namer: checked,
        }
        .to_string()
    };
    for info in checked.algebras.values() {
        let sizes = size_params(&info.size_params);
        let functor = match info.functor {
            Some(f) => {
                let fi = &checked.functors[f.0 as usize];
                let args: Vec<String> = info.functor_args.iter().map(&show).collect();
                format!("{}({})", fi.name, args.join(", "))
            }
            None => "{error}".to_string(),
        };
        if info.co {
            let _ = writeln!(
                out,
                "coalgebra {}{sizes} : {} -> {functor}",
                info.name,
                show(&info.carrier)
            );
        } else {
            let _ = writeln!(
                out,
                "algebra {}{sizes} : {functor} -> {}",
                info.name,
                show(&info.carrier)
            );
        }
        write_params(&mut out, &info.params, checked);
    }
    for info in checked.defs.values() {
        let kind = match info.kind {
            cdlc_grammar::ast::DefKind::Layer => "layer",
            cdlc_grammar::ast::DefKind::Model => "model",
        };
        let _ = writeln!(
            out,
            "{kind} {}{} : {} -> {}",
            info.name,
            size_params(&info.size_params),
            show(&info.dom),
            show(&info.cod)
        );
        write_params(&mut out, &info.params, checked);
    }
    out
}

fn size_params(params: &[(String, crate::check::size::Var)]) -> String {
    if params.is_empty() {
        String::new()
    } else {
        format!(
            "[{}]",
            params
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn write_params(out: &mut String, params: &[ParamInfo], checked: &Checked) {
    for p in params {
        let ty = TyDisplay {
            ty: &p.ty,
            namer: checked,
        }
        .to_string();
        let kind = match &p.kind {
            ParamKind::Plain => String::new(),
            ParamKind::Equivariant { .. } => String::new(),
            ParamKind::Invariant(_) => "invariant ".to_string(),
        };
        let _ = writeln!(out, "  param {}: {kind}{ty}", p.name);
    }
}

/// A functor in polynomial form: `ListF(A) = 1 + A × X`.
pub fn polynomial(f: &FunctorInfo, checked: &Checked) -> String {
    let namer = ParamNamer {
        inner: checked,
        params: &f.params,
    };
    let terms: Vec<String> = f
        .ctors
        .iter()
        .map(|c| {
            if c.fields.is_empty() {
                return "1".to_string();
            }
            let factors: Vec<String> = c.fields.iter().map(|t| factor(t, &namer)).collect();
            // Equal neighbouring factors are written as a power: X × X = X².
            let mut out: Vec<String> = Vec::new();
            let mut i = 0;
            while i < factors.len() {
                let mut j = i;
                while j < factors.len() && factors[j] == factors[i] {
                    j += 1;
                }
                let k = j - i;
                out.push(if k == 1 {
                    factors[i].clone()
                } else {
                    format!("{}{}", factors[i], superscript(k))
                });
                i = j;
            }
            out.join(" × ")
        })
        .collect();
    let params = if f.params.is_empty() {
        String::new()
    } else {
        format!("({})", f.params.join(", "))
    };
    format!("{}{params} = {}", f.name, terms.join(" + "))
}

fn factor(t: &Ty, namer: &dyn Namer) -> String {
    match t {
        Ty::Arrow(i, o) => format!("[{}, {}]", factor(i, namer), factor(o, namer)),
        Ty::Tuple(ts) => ts
            .iter()
            .map(|t| factor(t, namer))
            .collect::<Vec<_>>()
            .join(" × "),
        other => TyDisplay { ty: other, namer }.to_string(),
    }
}

fn superscript(k: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    k.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).expect("a digit") as usize])
        .collect()
}

/// Names a declaration's type parameters by their written names.
struct ParamNamer<'a> {
    inner: &'a Checked,
    params: &'a [String],
}

impl Namer for ParamNamer<'_> {
    fn var(&self, v: crate::check::size::Var) -> String {
        self.inner.var(v)
    }
    fn data(&self, co: bool, f: crate::check::types::FunctorId) -> String {
        self.inner.data(co, f)
    }
    fn param(&self, i: u32) -> String {
        self.params
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("A{i}"))
    }
}

/// What the language server shows on hover over `name`: the definition's
/// checked signature (Markdown), its doc comment, and for a layer the
/// derived tying of each of its equivariant parameters.
pub fn describe(c: &crate::Compilation, name: &str) -> Option<String> {
    use cdlc_grammar::ast::ItemKind;
    let checked = &c.checked;
    let id = c.program.lookup(name)?;
    let item = c.program.item(id);
    let show = |t: &Ty| {
        TyDisplay {
            ty: t,
            namer: checked,
        }
        .to_string()
    };
    let mut sig = match &item.kind {
        ItemKind::Functor(_) => {
            let f = checked.functors.iter().find(|f| f.name == name)?;
            format!("functor {}", polynomial(f, checked))
        }
        ItemKind::Def(_) => {
            let info = checked.defs.get(&id)?;
            let kind = match info.kind {
                cdlc_grammar::ast::DefKind::Layer => "layer",
                cdlc_grammar::ast::DefKind::Model => "model",
            };
            let mut s = format!(
                "{kind} {}{} : {} -> {}\n",
                info.name,
                size_params(&info.size_params),
                show(&info.dom),
                show(&info.cod)
            );
            write_params(&mut s, &info.params, checked);
            s
        }
        ItemKind::Algebra(_) | ItemKind::Coalgebra(_) => {
            let info = checked.algebras.get(&id)?;
            let functor = info.functor.map_or("{error}".to_string(), |f| {
                let args: Vec<String> = info.functor_args.iter().map(&show).collect();
                format!(
                    "{}({})",
                    checked.functors[f.0 as usize].name,
                    args.join(", ")
                )
            });
            let mut s = if info.co {
                format!(
                    "coalgebra {}{} : {} -> {functor}\n",
                    info.name,
                    size_params(&info.size_params),
                    show(&info.carrier)
                )
            } else {
                format!(
                    "algebra {}{} : {functor} -> {}\n",
                    info.name,
                    size_params(&info.size_params),
                    show(&info.carrier)
                )
            };
            write_params(&mut s, &info.params, checked);
            s
        }
        ItemKind::Const(_) => format!("const {name} = {}", checked.consts.get(name)?),
        ItemKind::Space(_) => {
            let sid = checked.spaces.get(&id)?;
            let shape = checked.space_table[sid.0 as usize].shape();
            format!("space {name} : {}", show(&Ty::tensor(shape)))
        }
        ItemKind::Data(d) => format!("{} {name}", if d.co { "codata" } else { "data" }),
        ItemKind::Group(g) => format!("{} {name}", if g.monoid { "monoid" } else { "group" }),
        ItemKind::Import(_) | ItemKind::Train(_) | ItemKind::Error => return None,
    };
    let tyings: Vec<String> = c
        .tyings
        .params
        .iter()
        .filter(|((owner, _), _)| *owner == id)
        .filter_map(|(_, t)| {
            let name = format!("{}.{}", t.owner, t.param);
            t.basis.render(&name).lines().next().map(str::to_string)
        })
        .collect();
    for t in tyings {
        sig.push_str(&format!("\n{t}"));
    }
    let mut out = format!("```cdl\n{}\n```", sig.trim_end());
    if !item.doc.is_empty() {
        out.push_str("\n\n");
        out.push_str(&item.doc.join("\n"));
    }
    Some(out)
}
