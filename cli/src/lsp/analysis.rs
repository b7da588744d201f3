//! One open document, compiled, and what its names refer to.

use super::locals::{Local, LocalKind, locals_at, resolve};
use super::text::{offset_at, word_at};
use cdlc::Compilation;
use cdlc::resolve::ItemId;
use cdlc_grammar::{FileId, Span};
use lsp_types::{Position, Uri};

/// An open document as the client last sent it.
#[derive(Clone, Debug)]
pub struct Document {
    /// Its address.
    pub uri: Uri,
    /// Its full text.
    pub text: String,
}

/// What a name in the document refers to.
pub enum Symbol {
    /// A local of the enclosing item.
    Local(Local),
    /// A top-level item of the program or of the standard library.
    Global(ItemId),
    /// A built-in function, initialiser or structural coalgebra.
    Builtin(&'static str, &'static str),
}

/// A compiled document.
pub struct Analysis<'a> {
    /// The document.
    pub doc: &'a Document,
    /// Its compilation, with the standard library modules it imports.
    pub c: Compilation,
}

impl<'a> Analysis<'a> {
    /// Compiles `doc`.
    pub fn new(doc: &'a Document) -> Analysis<'a> {
        let s = doc.uri.as_str();
        let name = s.rsplit('/').next().unwrap_or(s);
        Analysis {
            doc,
            c: cdlc::compile(name, &doc.text),
        }
    }

    /// The name at `p` and what it refers to.
    pub fn symbol_at(&self, p: Position) -> Option<(Span, Symbol)> {
        let at = offset_at(&self.doc.text, p)?;
        let (start, end) = word_at(&self.doc.text, at)?;
        let span = Span::new(self.c.file, start, end);
        let name = &self.doc.text[start..end];
        Some((span, self.symbol(name, span)?))
    }

    /// What `name`, written at `span`, refers to.
    pub fn symbol(&self, name: &str, span: Span) -> Option<Symbol> {
        let locals = locals_at(&self.c, span.start);
        if let Some(l) = resolve(&self.c, &locals, name, span) {
            return Some(Symbol::Local(l.clone()));
        }
        if let Some(id) = self.c.program.lookup(name) {
            return Some(Symbol::Global(id));
        }
        builtin(name).map(|(n, what)| Symbol::Builtin(n, what))
    }

    /// The text of a span of the document.
    pub fn slice(&self, span: Span) -> &str {
        &self.doc.text[span.range()]
    }

    /// The file and declared name of a global item.
    pub fn declaration(&self, id: ItemId) -> Option<(FileId, Span)> {
        let name = cdlc::resolve::declared_name(self.c.program.item(id))?;
        Some((name.span.file, name.span))
    }
}

/// A built-in name and what it is.
pub fn builtin(name: &str) -> Option<(&'static str, &'static str)> {
    use cdlc::builtins::{BUILTINS, INITS, POINTWISE, STRUCTURAL_COALGEBRAS};
    let find = |list: &[&'static str]| list.iter().copied().find(|n| *n == name);
    if let Some(n) = find(POINTWISE) {
        return Some((
            n,
            "built-in pointwise function: applies to every number of a tensor",
        ));
    }
    if let Some(n) = find(BUILTINS) {
        return Some((n, "built-in function"));
    }
    if let Some((n, _)) = INITS.iter().find(|(n, _)| *n == name) {
        return Some((n, "initialiser of a `param`"));
    }
    STRUCTURAL_COALGEBRAS
        .iter()
        .copied()
        .find(|n| *n == name)
        .map(|n| (n, "built-in structural coalgebra, for `hylo … by`"))
}

/// How a local is described in hover and completion.
pub fn local_kind(kind: LocalKind) -> &'static str {
    match kind {
        LocalKind::Size => "size parameter",
        LocalKind::Argument => "argument",
        LocalKind::Weight => "trainable parameter",
        LocalKind::Let => "`let` binding",
        LocalKind::Binder => "bound by this case",
    }
}
