//! `cdlc fmt [--check] [--skip-unparsable] PATH...`: rewrites programs in
//! the canonical layout, or (with `--check`) prints how they differ from it.
//!
//! A folder stands for every `.cdl` file under it, sorted, except in hidden
//! folders and folders named `target`. A file with syntax errors is never
//! rewritten: its errors are printed and the run fails, unless
//! `--skip-unparsable` asks to name it and go on (the test cases of syntax
//! errors are such files). Exit codes: 0 when every file is formatted (or
//! was rewritten), 1 when `--check` found a file to reformat or a file could
//! not be formatted, 2 when a path cannot be read.

use super::files::FileError;
use super::report;
use cdlc::format::{FormatError, format};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `cdlc fmt`.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// Files and folders to format.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Change nothing; print a diff and exit 1 when a file is not formatted.
    #[arg(long)]
    pub check: bool,
    /// Name files with syntax errors and go on instead of failing.
    #[arg(long)]
    pub skip_unparsable: bool,
}

/// What happened to one file.
enum Outcome {
    Unchanged,
    Changed,
    Failed,
}

/// Runs `cdlc fmt`.
pub fn main(args: &FmtArgs) -> ExitCode {
    let mut files = Vec::new();
    for path in &args.paths {
        if let Err(e) = collect(path, &mut files) {
            return report::fail_alone(FileError::read(path, e).to_diagnostic(), 2);
        }
    }
    let mut failed = false;
    let mut changed = 0;
    for file in &files {
        match format_file(file, args) {
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Changed) => changed += 1,
            Ok(Outcome::Failed) => failed = true,
            Err(e) => return report::fail_alone(e.to_diagnostic(), 2),
        }
    }
    if args.check && changed > 0 {
        eprintln!(
            "{changed} of {} files are not formatted; run `cdlc fmt` on them",
            files.len()
        );
    }
    if failed || (args.check && changed > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats (or checks) one file.
fn format_file(file: &Path, args: &FmtArgs) -> Result<Outcome, FileError> {
    let text = std::fs::read_to_string(file).map_err(|e| FileError::read(file, e))?;
    let formatted = match format(&text) {
        Ok(f) => f,
        Err(FormatError::Syntax(_)) if args.skip_unparsable => {
            eprintln!("skipped {}: it has syntax errors", file.display());
            return Ok(Outcome::Unchanged);
        }
        Err(FormatError::Syntax(_)) => {
            let name = file.display().to_string();
            let c = cdlc::compile(&name, &text);
            let syntax: Vec<_> = c
                .diagnostics
                .iter()
                .filter(|d| d.code.starts_with("E01"))
                .cloned()
                .collect();
            report::print(&syntax, &c.sources);
            eprintln!("{name} was not formatted: fix its syntax errors first");
            return Ok(Outcome::Failed);
        }
        Err(FormatError::TreeChanged) => {
            let d = super::internal::diagnostic(format!(
                "{} was not formatted: the formatter's output would parse differently",
                file.display()
            ));
            report::print(&[d], &cdlc::source::Sources::new());
            return Ok(Outcome::Failed);
        }
    };
    if formatted == text {
        return Ok(Outcome::Unchanged);
    }
    if args.check {
        super::stdout::print(format_args!(
            "{}",
            diff(&file.display().to_string(), &text, &formatted)
        ));
    } else {
        write_atomically(file, &formatted).map_err(|e| FileError::write(file, e))?;
    }
    Ok(Outcome::Changed)
}

/// A unified diff from `old` to `new`, labelled with the file's name.
pub fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (formatted)"))
        .missing_newline_hint(true)
        .to_string()
}

/// Replaces a file's text through a temporary file in the same folder.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".fmt-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

/// Adds `path` (a file, or every `.cdl` file under a folder) to `files`.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if entry.is_dir() {
            if !name.starts_with('.') && name != "target" {
                collect(&entry, files)?;
            }
        } else if entry.extension().is_some_and(|e| e == "cdl") {
            files.push(entry);
        }
    }
    Ok(())
}
