//! Go to definition: locals and items of the document, and items of the
//! standard library. The library is embedded in the binary; its modules are
//! written once, read-only, to a cache folder (`$XDG_CACHE_HOME/cdlc/VERSION/`
//! or `~/.cache/cdlc/VERSION/`) so that the editor can open them.

use super::analysis::{Analysis, Symbol};
use super::text::range_of;
use lsp_types::{GotoDefinitionResponse, Location, Position, Uri};
use std::path::PathBuf;
use std::str::FromStr;

/// Where the name at `p` is defined.
pub fn definition(a: &Analysis, p: Position) -> Option<GotoDefinitionResponse> {
    let (_, symbol) = a.symbol_at(p)?;
    let location = match symbol {
        Symbol::Local(l) => Location::new(
            a.doc.uri.clone(),
            range_of(&a.doc.text, l.def.start as usize, l.def.end as usize),
        ),
        Symbol::Global(id) => {
            let (file, span) = a.declaration(id)?;
            if file == a.c.file {
                Location::new(
                    a.doc.uri.clone(),
                    range_of(&a.doc.text, span.start as usize, span.end as usize),
                )
            } else {
                let module =
                    a.c.sources
                        .name(file)
                        .trim_matches(|c| c == '<' || c == '>');
                let text = a.c.sources.text(file);
                let uri = library_file(module, text)?;
                Location::new(uri, range_of(text, span.start as usize, span.end as usize))
            }
        }
        Symbol::Builtin(..) => return None,
    };
    Some(GotoDefinitionResponse::Scalar(location))
}

/// The cache folder of this version's standard library.
fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("cdlc").join(env!("CARGO_PKG_VERSION")))
}

/// The address of a library module (`std.layers`) written to the cache,
/// writing it first when it is missing or differs.
fn library_file(module: &str, text: &str) -> Option<Uri> {
    let relative: PathBuf = module.split('.').collect();
    let path = cache_dir()?.join(relative).with_extension("cdl");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::create_dir_all(path.parent()?).ok()?;
        if let Ok(meta) = std::fs::metadata(&path) {
            let mut perms = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&path, perms).ok()?;
        }
        std::fs::write(&path, text).ok()?;
        let mut perms = std::fs::metadata(&path).ok()?.permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&path, perms).ok()?;
    }
    let path = std::fs::canonicalize(&path).ok()?;
    Uri::from_str(&format!("file://{}", encode_path(&path.to_string_lossy()))).ok()
}

/// A path with the characters a URI cannot hold percent-encoded.
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
