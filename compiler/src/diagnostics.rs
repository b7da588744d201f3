//! Diagnostics as data, and the only renderers: ariadne for people, JSON
//! lines for editors.
//!
//! Every stage reports problems as `Diagnostic` values; nothing else in the
//! compiler formats a message for the terminal or imports ariadne.

mod long_line;

use crate::source::Sources;
use cdlc_grammar::Span;
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program is wrong; `check` exits 1.
    Error,
    /// Worth knowing; `check` still exits 0.
    Warning,
}

/// A labelled span: the first label of a diagnostic is the primary one.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What this place has to do with the problem.
    pub text: String,
}

/// One problem found in a program.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The stable code, `E0301`, explained in `docs/errors.md`.
    pub code: &'static str,
    /// Lower case, no full stop: "shape mismatch in composition".
    pub message: String,
    /// The primary label first, then secondary ones.
    pub labels: Vec<Label>,
    /// Facts worth adding.
    pub notes: Vec<String>,
    /// An action the user can take.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with `code` and `message`, primary label at `span`.
    pub fn error(
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                text: label.into(),
            }],
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with `code` and `message`, primary label at `span`.
    pub fn warning(
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span, label)
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// An error about no place in a program (a command-line argument, a
    /// file that is not a program): it has no labels, and its message,
    /// notes and help say where the problem is.
    pub fn error_without_span(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// The primary span.
    ///
    /// # Panics
    ///
    /// On a diagnostic made by `error_without_span`. Every diagnostic of
    /// the compiler's stages has a span; code that also sees the command
    /// line's diagnostics asks `primary_span`.
    pub fn span(&self) -> Span {
        self.primary_span()
            .expect("a diagnostic of a program has a primary label")
    }

    /// The primary span, or `None` for a diagnostic about no place in a
    /// program.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// A "did you mean" suggestion: the candidate closest to `name` by edit
/// distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Renders diagnostics for people, without colour when `color` is false.
pub fn render_human(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    use ariadne::{Config, IndexType, Label as ALabel, Report, ReportKind};
    let mut out = Vec::new();
    // The sources are indexed once for all diagnostics, not once each:
    // indexing is linear in the text, so a file with many errors would
    // otherwise take quadratic time.
    let mut cache = ariadne::sources(sources.iter().map(|(n, t)| (n.to_string(), t.to_string())));
    for d in diags {
        let Some(primary) = d.primary_span() else {
            out.extend_from_slice(render_without_span(d).as_bytes());
            continue;
        };
        if long_line::has_long_line(d, sources) {
            out.extend_from_slice(long_line::render(d, sources).as_bytes());
            continue;
        }
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let name = sources.name(primary.file).to_string();
        let mut report = Report::build(kind, (name, primary.range()))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_code(d.code)
            .with_message(&d.message);
        for (i, l) in d.labels.iter().enumerate() {
            let mut label = ALabel::new((sources.name(l.span.file).to_string(), l.span.range()))
                .with_message(&l.text)
                .with_order(label_order(sources, l.span, primary, i));
            if i == 0 {
                label = label.with_priority(1);
            }
            report = report.with_label(label);
        }
        for n in &d.notes {
            report = report.with_note(n);
        }
        if let Some(h) = &d.help {
            report = report.with_help(h);
        }
        report
            .finish()
            .write(&mut cache, &mut out)
            .expect("writing to a Vec cannot fail");
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A diagnostic without a label, in the layout ariadne gives the others:
/// the header line, then the help and the notes in a frame of their own
/// (ariadne draws help and notes only below a source section).
fn render_without_span(d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let mut out = format!("[{}] {kind}: {}\n", d.code, d.message);
    if d.help.is_none() && d.notes.is_empty() {
        return out;
    }
    let lines = d
        .help
        .iter()
        .map(|h| ("Help", h))
        .chain(d.notes.iter().map(|n| ("Note", n)));
    for (what, text) in lines {
        out.push_str("   │\n");
        push_block(&mut out, "   ", what, text);
    }
    out.push_str("───╯\n");
    out
}

/// A help or note after `gutter`, its continuation lines indented under
/// its first.
fn push_block(out: &mut String, gutter: &str, what: &str, text: &str) {
    for (j, line) in text.lines().enumerate() {
        let lead = if j == 0 {
            format!("{what}: ")
        } else {
            " ".repeat(what.len() + 2)
        };
        let _ = writeln!(out, "{gutter}│ {lead}{line}");
    }
}

/// The order ariadne draws a label in: the labels in the primary label's
/// file first, by line, then those of each other file, by line; labels on
/// one line keep their order in the diagnostic. Ariadne starts a new
/// section whenever a label lies above the one before it, and heads every
/// section in the primary's file with the primary's line and column; in
/// line order each file is one section, so every label is shown under its
/// own file, with its own line number.
fn label_order(sources: &Sources, span: Span, primary: Span, index: usize) -> i32 {
    let file_rank = if span.file == primary.file {
        0
    } else {
        1 + span.file.0.min(126) as usize
    };
    let line = sources.line_col(span.file, span.start).0.min((1 << 16) - 1);
    let key = (file_rank << 24) | (line << 8) | index.min(255);
    i32::try_from(key).expect("the key fits in 31 bits")
}

/// The most errors a compilation reports; the rest are summarised.
pub const MAX_ERRORS: usize = 100;

/// Keeps the first `MAX_ERRORS` errors (and the warnings among them) and
/// replaces the rest by one E0705 saying how many more there were, at the
/// first one left out, so that a file with very many errors is reported
/// (and rendered) in time proportional to the cap.
pub fn cap(diags: &mut Vec<Diagnostic>) {
    let Some(cut) = diags
        .iter()
        .enumerate()
        .filter(|(_, d)| d.severity == Severity::Error)
        .nth(MAX_ERRORS)
        .map(|(i, _)| i)
    else {
        return;
    };
    let rest = diags.split_off(cut);
    let errors = rest
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = rest.len() - errors;
    let mut summary = Diagnostic::error(
        "E0705",
        format!(
            "{errors} more error(s) and {warnings} warning(s) are not shown; the first {MAX_ERRORS} errors are above"
        ),
        rest[0].span(),
        "the first error not shown",
    )
    .with_help("fix the errors above first; many later errors often follow from them");
    let mut codes: Vec<&str> = rest.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    summary = summary.with_note(format!("codes not shown: {}", codes.join(", ")));
    diags.push(summary);
}

/// Renders diagnostics as JSON lines, one object per diagnostic. A
/// diagnostic without a span has `null` for its file and positions and no
/// labels.
pub fn render_json(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diags {
        let labels: Vec<serde_json::Value> = d
            .labels
            .iter()
            .map(|l| {
                let mut label = position_json(sources, l.span);
                label["text"] = serde_json::Value::from(l.text.as_str());
                label
            })
            .collect();
        let mut value = match d.primary_span() {
            Some(span) => position_json(sources, span),
            None => serde_json::json!({
                "file": null, "start": null, "end": null, "line": null,
                "column": null, "end_line": null, "end_column": null,
            }),
        };
        value["code"] = d.code.into();
        value["severity"] = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
        .into();
        value["message"] = d.message.as_str().into();
        value["labels"] = labels.into();
        value["notes"] = d.notes.clone().into();
        value["help"] = d.help.clone().into();
        let _ = writeln!(out, "{value}");
    }
    out
}

/// A span's file and positions as JSON: byte offsets, and lines and
/// columns from 1 (columns count characters).
fn position_json(sources: &Sources, s: Span) -> serde_json::Value {
    let (line, column) = sources.line_col(s.file, s.start);
    let (end_line, end_column) = sources.line_col(s.file, s.end);
    serde_json::json!({
        "file": sources.name(s.file),
        "start": s.start,
        "end": s.end,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
    })
}
