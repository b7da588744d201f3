//! `cdlc fmt` on every program of the repository: the output parses to the
//! same tree, formatting it again changes nothing, every comment is kept,
//! and a program whose spacing and indentation were scrambled formats to
//! the same text as the original.

use cdlc::format::{FormatError, format, same_tree};
use cdlc_grammar::{FileId, lexer, parse};
use std::path::{Path, PathBuf};

/// Every `.cdl` file of the repository: examples, the standard library,
/// the benchmarks and every test case.
fn repository_programs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["examples", "stdlib", "bench", "tests/cases"] {
        walk(&root.join(dir), &mut files);
    }
    files.sort();
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "cdl") {
            files.push(path);
        }
    }
}

/// The comments of a program in order, without trailing white space.
pub fn comments(src: &str) -> Vec<String> {
    let lexed = lexer::lex(FileId(0), src);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut ranges: Vec<(usize, usize)> = lexed.tokens.iter().map(|(s, _, e)| (*s, *e)).collect();
    ranges.extend(
        lexed
            .docs
            .iter()
            .map(|(s, _)| (s.start as usize, s.start as usize)),
    );
    ranges.sort();
    ranges.push((src.len(), src.len()));
    for (start, end) in ranges {
        let mut gap = &src[pos.min(start)..start];
        while let Some(k) = gap.find("//") {
            let rest = &gap[k..];
            let line = rest.split('\n').next().expect("a line");
            out.push(line.trim_end().to_string());
            gap = &rest[line.len()..];
        }
        pos = pos.max(end);
    }
    out
}

/// Formats a program and checks the formatter's promises on it; `None`
/// when it has syntax errors (and was refused for them).
#[track_caller]
pub fn check_format(name: &str, src: &str) -> Option<String> {
    let out = match format(src) {
        Ok(out) => out,
        Err(FormatError::Syntax(errors)) => {
            assert!(
                !parse(FileId(0), src).1.is_empty(),
                "{name}: refused without a syntax error"
            );
            assert!(!errors.is_empty(), "{name}: refused with no error listed");
            return None;
        }
        Err(FormatError::TreeChanged) => panic!("{name}: the layout would change the tree"),
    };
    let (before, _) = parse(FileId(0), src);
    let (after, errors) = parse(FileId(0), &out);
    assert!(
        errors.is_empty(),
        "{name}: the output does not parse: {errors:?}\n{out}"
    );
    assert!(
        same_tree(&before, &after),
        "{name}: the tree changed\n{out}"
    );
    assert_eq!(
        format(&out).as_ref(),
        Ok(&out),
        "{name}: formatting twice changed it"
    );
    assert_eq!(
        comments(src),
        comments(&out),
        "{name}: comments were lost or changed"
    );
    Some(out)
}

#[test]
fn every_program_of_the_repository_keeps_its_tree_and_comments_and_is_stable() {
    let files = repository_programs();
    let mut refused = Vec::new();
    let mut unparsable = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let src = std::fs::read_to_string(path).expect("a readable program");
        if check_format(&name, &src).is_none() {
            refused.push(name.clone());
        }
        let (_, errors) = cdlc_grammar::parse(cdlc_grammar::span::FileId(0), &src);
        if !errors.is_empty() {
            unparsable.push(name);
        }
    }
    assert!(files.len() > 100, "only {} programs found", files.len());
    // Exactly the programs with syntax errors (the E01xx cases and the
    // nesting limit, E0701) cannot be formatted.
    assert!(!refused.is_empty());
    assert_eq!(refused, unparsable);
}

#[test]
fn every_parsable_program_of_the_repository_is_already_formatted() {
    for path in repository_programs() {
        let src = std::fs::read_to_string(&path).expect("a readable program");
        // Programs with syntax errors cannot be formatted (the test above).
        let Some(out) = check_format(&path.display().to_string(), &src) else {
            continue;
        };
        assert_eq!(
            out,
            src,
            "{} is not in the canonical layout; run `cdlc fmt` on it",
            path.display()
        );
    }
}

/// A program's tokens and comments again, on the same lines, with other
/// spacing and indentation: `seed` picks the widths.
fn respaced(src: &str, seed: usize) -> String {
    let lexed = lexer::lex(FileId(0), src);
    let mut out = String::new();
    let mut pos = 0;
    let mut n = seed;
    let mut prev_word = false;
    for (start, tok, end) in &lexed.tokens {
        let gap = &src[pos..*start];
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let word = tok.text().is_empty() || tok.text().chars().all(|c| c.is_alphabetic());
        if gap.contains('\n') {
            // Keep the comments and line breaks of the gap; indent anew.
            let kept: Vec<String> = gap
                .split('\n')
                .enumerate()
                .map(|(k, s)| match s.trim() {
                    t if k == 0 && !t.is_empty() => format!(" {t}"),
                    t => t.to_string(),
                })
                .collect();
            out.push_str(&kept.join("\n"));
            out.push_str(&" ".repeat((n >> 33) % 6));
        } else if !gap.is_empty() || pos == 0 {
            let min = usize::from(prev_word && word);
            out.push_str(&" ".repeat(min.max((n >> 33) % 3)));
        }
        out.push_str(&src[*start..*end]);
        prev_word = word;
        pos = *end;
    }
    out.push_str(&src[pos..]);
    out
}

/// Trailing comments keep their source column; the comparison of two
/// layouts ignores the space before them.
fn without_comment_padding(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(k) if !l[..k].trim().is_empty() => format!("{} {}", l[..k].trim_end(), &l[k..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn scrambled_spacing_formats_to_the_same_text() {
    let mut compared = 0;
    for (i, path) in repository_programs().iter().enumerate() {
        let name = path.display().to_string();
        let src = std::fs::read_to_string(path).expect("a readable program");
        let Some(canonical) = check_format(&name, &src) else {
            continue;
        };
        let scrambled = respaced(&src, i);
        let again = check_format(&format!("{name} (respaced)"), &scrambled)
            .unwrap_or_else(|| panic!("{name}: respacing broke it\n{scrambled}"));
        assert_eq!(
            without_comment_padding(&again),
            without_comment_padding(&canonical),
            "{name}: respaced as\n{scrambled}"
        );
        compared += 1;
    }
    assert!(compared > 100);
}

#[test]
fn a_messy_program_with_comments_everywhere() {
    let src = "// header comment\n\n\n\n/// doc of dense2\nlayer   dense2 [n,m] ( x :R[n] )->R[ m ]{ // opens\n\
               param W:R[m,n]=glorot   // weights\n   param bias:R[ m ]=zeros\n\
               // before the result\n    W@x+bias // result\n}\n\
               model m=dense2[2,3]>>relu\n      >>dense2[3 ,1]\n\
               train m{data=synthetic.spirals(classes=3,samples=10) // data\nloss=mse\n  epochs=-1}\n\n\n";
    let out = check_format("messy", src).expect("it parses");
    insta::assert_snapshot!(
        "messy",
        format!("----- SOURCE\n{src}----- FORMATTED\n{out}")
    );
}

#[test]
fn syntax_errors_are_refused_not_formatted() {
    let err = format("layer f(x: R[2]) R[2] { x }\n").expect_err("a syntax error");
    let FormatError::Syntax(errors) = err else {
        panic!("refused for another reason: {err:?}");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].span().start, 17);
}

#[test]
fn a_scrambled_example_comes_back_to_its_layout() {
    let src =
        std::fs::read_to_string(crate::examples_dir().join("gru_parity.cdl")).expect("the example");
    let scrambled = respaced(&src, 7);
    let out = check_format("scrambled gru_parity", &scrambled).expect("it parses");
    assert_eq!(without_comment_padding(&out), without_comment_padding(&src));
    insta::assert_snapshot!(
        "scrambled_gru_parity",
        format!("----- SOURCE\n{scrambled}\n----- FORMATTED\n{out}")
    );
}

/// Lines wider than `cdlc::format::WIDTH` are broken where the layout
/// allows: a chain after each `>>`, a call between its arguments, a tuple
/// between its fields, outermost first; a trailing comment stays with its
/// code, a short line the author broke is not joined, and every line of
/// code then fits (the promises of `check_format` hold too).
#[test]
fn long_lines_are_broken_after_compositions_and_between_arguments() {
    let src = "import std.layers\n\n\
        model chain = dense[2, 64] >> relu >> dense[64, 64] >> relu >> dense[64, 64] >> relu >> dense[64, 64] >> relu >> dense[64, 3] // a long chain\n\n\
        layer many(a: R[4], b: R[4], c: R[4], d: R[4]) -> R[4] * R[4] * R[4] {\n  \
        (dense[4, 4](a) + dense[4, 4](b), dense[4, 4](c) + dense[4, 4](d), dense[4, 4](a) + dense[4, 4](c) + dense[4, 4](d))\n}\n\n\
        model short = relu\n  >> tanh\n";
    let out = check_format("long lines", src).expect("it parses");
    for line in out.lines() {
        let code = line.split("//").next().unwrap_or("");
        assert!(
            code.trim_end().chars().count() <= cdlc::format::WIDTH,
            "too wide: {line}\n{out}"
        );
    }
    assert!(out.contains("model short = relu\n  >> tanh\n"), "{out}");
    insta::assert_snapshot!(
        "long_lines",
        format!("----- SOURCE\n{src}----- FORMATTED\n{out}")
    );
}

#[test]
fn a_one_line_block_too_wide_opens_onto_lines_of_its_own_in_one_formatting() {
    let src = "import std.layers\n\
        model m(t: R[2]) -> R[3] { let (h, c) = (dense[2, 3](t), dense[2, 3](t)) in dense[3, 3](h) + dense[3, 3](c) }\n";
    let out = check_format("one-line block", src).expect("it parses");
    assert_eq!(
        out,
        "import std.layers\n\
         model m(t: R[2]) -> R[3] {\n  \
         let (h, c) = (dense[2, 3](t), dense[2, 3](t)) in dense[3, 3](h) + dense[3, 3](c)\n}\n"
    );
}
