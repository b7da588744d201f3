//! The source texts of one compilation: the user's file and the standard
//! library modules, which are embedded in the binary so that `cdlc` works
//! from any folder.

use cdlc_grammar::FileId;

/// The standard library modules, by import path.
pub const STDLIB: &[(&str, &str)] = &[
    ("std.prelude", include_str!("../../stdlib/std/prelude.cdl")),
    ("std.layers", include_str!("../../stdlib/std/layers.cdl")),
    (
        "std.attention",
        include_str!("../../stdlib/std/attention.cdl"),
    ),
];

/// The texts a compilation reads, each with its display name.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<(String, String)>,
}

impl Sources {
    /// No files yet.
    pub fn new() -> Sources {
        Sources::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.files.push((name.into(), text.into()));
        FileId((self.files.len() - 1) as u32)
    }

    /// The display name of a file.
    pub fn name(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].0
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> &str {
        &self.files[file.0 as usize].1
    }

    /// All files as `(name, text)`, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: u32) -> (usize, usize) {
        let text = self.text(file);
        let offset = (offset as usize).min(text.len());
        // A line ends at `\n`, `\r\n` or a lone `\r`, as the human
        // renderer counts them, so both reports give the same position.
        let bytes = text.as_bytes();
        let (mut line, mut line_start) = (1, 0);
        for (i, &b) in bytes[..offset].iter().enumerate() {
            let lone_cr = b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
            if b == b'\n' || lone_cr {
                line += 1;
                line_start = i + 1;
            }
        }
        let column = text[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

/// The embedded text of a standard library module, by import path.
pub fn stdlib_module(path: &str) -> Option<&'static str> {
    STDLIB.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}
