//! Loading and naming: parses the user's file and the standard library
//! modules it imports (the prelude always), and builds the table of global
//! names.
//!
//! Every item of every loaded file gets an `ItemId`. A name declared twice
//! in one file is E0202; a user's declaration shadows one from the standard
//! library (a Rust-style glob import). Local names (arguments, `let`s, size
//! parameters) are bound by the checker, which walks the bodies.

use crate::diagnostics::{Diagnostic, closest};
use crate::source::{STDLIB, Sources, stdlib_module};
use cdlc_grammar::ast::{self, ItemKind};
use cdlc_grammar::{Continuation, FileId, Ident, Span, SyntaxError};
use indexmap::IndexMap;
use std::collections::BTreeSet;

/// Index of an item in `Program::items`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u32);

/// A parsed file.
#[derive(Debug)]
pub struct ParsedFile {
    /// Which source it is.
    pub file: FileId,
    /// Its syntax tree.
    pub ast: ast::File,
    /// `true` for the user's file, `false` for a standard library module.
    pub is_user: bool,
}

/// Every item of the program with the table of global names.
#[derive(Debug)]
pub struct Program {
    /// The parsed files, the user's first.
    pub files: Vec<ParsedFile>,
    /// Every item: (index into `files`, index into that file's items).
    pub items: Vec<(usize, usize)>,
    /// Global names in declaration order.
    pub globals: IndexMap<String, ItemId>,
    /// Items found wrong while loading and naming: a syntax error in their
    /// text, an import of an unknown module, or a name declared twice or
    /// taken from a built-in. The checker starts its status table from it.
    pub failed: BTreeSet<ItemId>,
}

impl Program {
    /// The syntax of an item.
    pub fn item(&self, id: ItemId) -> &ast::Item {
        let (f, i) = self.items[id.0 as usize];
        &self.files[f].ast.items[i]
    }

    /// Whether the item is in the user's file.
    pub fn is_user_item(&self, id: ItemId) -> bool {
        self.files[self.items[id.0 as usize].0].is_user
    }

    /// All item ids in order.
    pub fn item_ids(&self) -> impl Iterator<Item = ItemId> + use<> {
        (0..self.items.len() as u32).map(ItemId)
    }

    /// Looks up a global name.
    pub fn lookup(&self, name: &str) -> Option<ItemId> {
        self.globals.get(name).copied()
    }

    /// Whether `name` is the name of an item of the user's file that could
    /// not be parsed (its syntax error stands for any use of it).
    pub fn is_unparsed(&self, name: &str) -> bool {
        self.files
            .iter()
            .flat_map(|f| &f.ast.unparsed)
            .any(|n| n.node == name)
    }
}

/// The name an item declares, if it declares one.
pub fn declared_name(item: &ast::Item) -> Option<&Ident> {
    match &item.kind {
        ItemKind::Const(c) => Some(&c.name),
        ItemKind::Functor(f) => Some(&f.name),
        ItemKind::Data(d) => Some(&d.name),
        ItemKind::Group(g) => Some(&g.name),
        ItemKind::Space(s) => Some(&s.name),
        ItemKind::Def(d) => Some(&d.name),
        ItemKind::Algebra(a) => Some(&a.name),
        ItemKind::Coalgebra(c) => Some(&c.name),
        ItemKind::Import(_) | ItemKind::Train(_) | ItemKind::Error => None,
    }
}

/// The standard library module that declares `name`, if one does: for the
/// help of an unknown name whose import was forgotten.
pub fn stdlib_module_declaring(name: &str) -> Option<&'static str> {
    STDLIB
        .iter()
        .map(|(path, text)| (*path, *text))
        .find_map(|(path, text)| {
            let (ast, _) = cdlc_grammar::parse(FileId(u32::MAX), text);
            ast.items
                .iter()
                .any(|item| declared_name(item).is_some_and(|n| n.node == name))
                .then_some(path)
        })
}

/// Where an import is written: its path's span, and the indices of its file
/// and of the item in that file.
type ImportAt = (Span, usize, usize);

/// Parses `user` (already added to `sources` as `user_file`) and every
/// module it needs, and names the items.
pub fn resolve(sources: &mut Sources, user_file: FileId, diags: &mut Vec<Diagnostic>) -> Program {
    let mut files = Vec::new();
    let user_text = sources.text(user_file).to_string();
    let (user_ast, errs) = cdlc_grammar::parse(user_file, &user_text);
    let mut syntax_errors: Vec<Span> = Vec::new();
    push_syntax_errors(errs, diags, &mut syntax_errors);
    files.push(ParsedFile {
        file: user_file,
        ast: user_ast,
        is_user: true,
    });

    // Load the prelude and, transitively, every imported module once.
    let mut loaded: Vec<String> = Vec::new();
    // Each module to load with the import that asks for it, none for the
    // prelude.
    let mut queue: Vec<(String, Option<ImportAt>)> = vec![("std.prelude".to_string(), None)];
    let mut bad_imports: Vec<(usize, usize)> = Vec::new();
    let mut next = 0;
    loop {
        let imports: Vec<(String, ImportAt)> = files[next..]
            .iter()
            .enumerate()
            .flat_map(|(fi, f)| {
                f.ast
                    .items
                    .iter()
                    .enumerate()
                    .map(move |(ii, i)| (next + fi, ii, i))
            })
            .filter_map(|(fi, ii, item)| match &item.kind {
                ItemKind::Import(path) => Some((
                    path.iter()
                        .map(|p| p.node.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                    (path[0].span.to(path[path.len() - 1].span), fi, ii),
                )),
                _ => None,
            })
            .collect();
        next = files.len();
        queue.extend(imports.into_iter().map(|(p, s)| (p, Some(s))));
        if queue.is_empty() {
            break;
        }
        for (path, import) in std::mem::take(&mut queue) {
            if loaded.contains(&path) {
                continue;
            }
            let Some(text) = stdlib_module(&path) else {
                let (span, fi, ii) = import.expect("the prelude is always embedded");
                bad_imports.push((fi, ii));
                let mut d = Diagnostic::error(
                    "E0201",
                    format!("unknown module `{path}`"),
                    span,
                    "no module of this name",
                );
                let names = STDLIB.iter().map(|(n, _)| *n);
                d = match closest(&path, names) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!(
                        "the modules are: {}",
                        STDLIB
                            .iter()
                            .map(|(n, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                diags.push(d);
                continue;
            };
            loaded.push(path.clone());
            let file = sources.add(format!("<{path}>"), text);
            let (ast, errs) = cdlc_grammar::parse(file, text);
            push_syntax_errors(errs, diags, &mut syntax_errors);
            files.push(ParsedFile {
                file,
                ast,
                is_user: false,
            });
        }
        if next == files.len() {
            break;
        }
    }

    // Library modules first, so that the user's declarations shadow them.
    let mut items = Vec::new();
    let mut globals: IndexMap<String, ItemId> = IndexMap::new();
    let mut failed = BTreeSet::new();
    let order: Vec<usize> = (1..files.len()).chain(std::iter::once(0)).collect();
    for fi in order {
        for (ii, item) in files[fi].ast.items.iter().enumerate() {
            let id = ItemId(items.len() as u32);
            items.push((fi, ii));
            if bad_imports.contains(&(fi, ii)) || holds_syntax_error(item, &syntax_errors) {
                failed.insert(id);
            }
            let Some(name) = declared_name(item) else {
                continue;
            };
            if let Some(kind) = builtin_kind(&name.node) {
                diags.push(
                    Diagnostic::error(
                        "E0202",
                        format!("`{}` is the name of a built-in {kind}", name.node),
                        name.span,
                        "a definition with a built-in's name",
                    )
                    .with_help("choose another name: the built-in would always be the one called"),
                );
                failed.insert(id);
                continue;
            }
            if let Some(prev) = globals.get(&name.node).copied() {
                let (pf, pi) = items[prev.0 as usize];
                // A name is declared once in the whole program: a user's
                // declaration of a library name would change what the
                // library's own definitions refer to.
                if pf == fi || files[fi].is_user {
                    let prev_name = declared_name(&files[pf].ast.items[pi]).expect("named");
                    diags.push(
                        Diagnostic::error(
                            "E0202",
                            format!("`{}` is defined twice", name.node),
                            name.span,
                            "defined again here",
                        )
                        .with_label(prev_name.span, "first defined here")
                        .with_help(if pf == fi {
                            "rename one of the two definitions"
                        } else {
                            "the standard library already defines this name; choose another"
                        }),
                    );
                    failed.insert(id);
                    continue;
                }
            }
            globals.insert(name.node.clone(), id);
        }
    }
    Program {
        files,
        items,
        globals,
        failed,
    }
}

/// Reports a file's syntax errors and notes where each is reported.
fn push_syntax_errors(errs: Vec<SyntaxError>, diags: &mut Vec<Diagnostic>, at: &mut Vec<Span>) {
    for e in errs {
        let d = syntax_diagnostic(e);
        at.push(d.span());
        diags.push(d);
    }
}

/// Whether a syntax error lies in the item's text. The parser reports
/// errors by position only, so this is the one place where a position
/// decides which item failed; every later error is attributed by the stage
/// that reports it.
fn holds_syntax_error(item: &ast::Item, errors: &[Span]) -> bool {
    let span = item.span;
    errors
        .iter()
        .any(|s| s.file == span.file && s.start >= span.start && s.end <= span.end)
}

/// What a built-in name is, if `name` is one.
fn builtin_kind(name: &str) -> Option<&'static str> {
    use crate::builtins::{BUILTINS, POINTWISE, STRUCTURAL_COALGEBRAS};
    if POINTWISE.contains(&name) || BUILTINS.contains(&name) {
        Some("function")
    } else if STRUCTURAL_COALGEBRAS.contains(&name) {
        Some("structural coalgebra")
    } else {
        None
    }
}

/// Turns a syntax error into an E01xx diagnostic.
fn syntax_diagnostic(e: SyntaxError) -> Diagnostic {
    match e {
        SyntaxError::Unexpected {
            found,
            span,
            expected,
        } => {
            let keyword = reserved_word(&found).filter(|_| expected.iter().any(|e| e == "a name"));
            let d = Diagnostic::error(
                "E0101",
                format!("unexpected {found}"),
                span,
                if keyword.is_some() { "a name is expected here" } else { "unexpected here" },
            );
            match keyword {
                Some(word) => d
                    .with_note(format!("`{word}` is a keyword of CDL, which cannot be used as a name"))
                    .with_help("choose another name"),
                None => with_expected(d, &expected),
            }
        }
        SyntaxError::UnexpectedEof { span, expected } => {
            let d = Diagnostic::error(
                "E0101",
                "unexpected end of file",
                span,
                "the file ends here",
            );
            with_expected(d, &expected)
        }
        SyntaxError::UnterminatedString(span) => Diagnostic::error(
            "E0102",
            "unterminated string literal",
            span,
            "this string has no closing quote on its line",
        )
        .with_help("add `\"` at the end of the string"),
        SyntaxError::TooDeep(span) => Diagnostic::error(
            "E0701",
            format!(
                "nesting deeper than {} levels",
                cdlc_grammar::depth::MAX_DEPTH
            ),
            span,
            "this goes one level too deep",
        )
        .with_note("each open bracket, binary operator, prefix `-`, `let … in` and chained call is a level")
        .with_help(
            "name inner parts with `let` or separate definitions; the file was not checked further",
        ),
        SyntaxError::UsesTooDeep { name, depth } => Diagnostic::error(
            "E0706",
            format!(
                "definitions nested deeper than {} levels through their uses",
                cdlc_grammar::uses::MAX_USE_DEPTH
            ),
            name,
            format!("this definition is {depth} levels deep through the definitions it uses"),
        )
        .with_help("use fewer definitions in a row, each doing more; the file was not checked further"),
        SyntaxError::UnexpectedChar(c, span) => Diagnostic::error(
            "E0103",
            if c.is_control() || c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}' {
                // An invisible character is named by its code point.
                format!("unexpected character U+{:04X}", u32::from(c))
            } else {
                format!("unexpected character `{c}`")
            },
            span,
            "no token starts with this character",
        )
        .with_help("remove it; the operators are `@ + - * / ^ >> => -> = : , ; . | ⊗ ⊕`"),
        SyntaxError::MissingSemicolon {
            after,
            next,
            reading,
        } => {
            let read_as = match reading {
                Continuation::Arguments => "read as the arguments of a call to the line above",
                Continuation::Subtraction => "read as a subtraction from the line above",
            };
            Diagnostic::error(
                "E0104",
                "missing `;` before a line that starts with `(` or `-`",
                after,
                "a `;` is needed after this",
            )
            .with_label(next, format!("without it, this is {read_as}"))
            .with_help("end the statement with `;`, so that the next line starts the block's value")
        }
        SyntaxError::NoValue { close, last } => Diagnostic::error(
            "E0104",
            "this block has no value",
            close,
            "the block ends here, after a statement",
        )
        .with_label(last, "the last statement")
        .with_help("end the block with the expression that gives its value"),
    }
}

/// The word of a keyword token as the parser names it (`` `R` ``,
/// `` `let` ``), or `None` for a name, a number or punctuation.
fn reserved_word(found: &str) -> Option<&str> {
    let word = found.strip_prefix('`')?.strip_suffix('`')?;
    (word.chars().next()?.is_ascii_alphabetic()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(word)
}

fn with_expected(d: Diagnostic, expected: &[String]) -> Diagnostic {
    match expected.len() {
        0 => d,
        1 => d.with_help(format!("expected {}", expected[0])),
        n if n <= 8 => d.with_help(format!("expected one of {}", expected.join(", "))),
        _ => d.with_help(format!(
            "expected one of {}, or {} others",
            expected[..8].join(", "),
            expected.len() - 8
        )),
    }
}
