//! The fuzz targets: each takes arbitrary bytes to one reader or stage and
//! must return (with errors, if the input is bad) without panicking.

use std::path::Path;

use cdlc_equivariance::{Group, action, equivariant, invariant};
use cdlc_grammar::FileId;
use cdlc_runtime::data::TargetType;
use cdlc_runtime::value::DataType;

/// One fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `cdlc_grammar::lexer::lex`.
    Lexer,
    /// `cdlc_grammar::parse`.
    Parser,
    /// `cdlc::compile`: resolution, checking and tying derivation.
    Checker,
    /// Groups, actions and the solver, from sizes and names in the bytes.
    Equivariance,
    /// `jsonl::parse` against a tree, a list and a tensor type.
    Jsonl,
    /// `csv::parse` against a two-feature classification layout.
    Csv,
    /// `npy::read_bytes`.
    Npy,
    /// `checkpoint::parse`.
    Safetensors,
    /// The language server's message loop, fed a whole session.
    Lsp,
}

/// Every target, in the order the smoke pass runs them.
pub const TARGETS: &[Target] = &[
    Target::Lexer,
    Target::Parser,
    Target::Checker,
    Target::Equivariance,
    Target::Jsonl,
    Target::Csv,
    Target::Npy,
    Target::Safetensors,
    Target::Lsp,
];

impl Target {
    /// The name on the command line and in regression file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Lexer => "lexer",
            Target::Parser => "parser",
            Target::Checker => "checker",
            Target::Equivariance => "equivariance",
            Target::Jsonl => "jsonl",
            Target::Csv => "csv",
            Target::Npy => "npy",
            Target::Safetensors => "safetensors",
            Target::Lsp => "lsp",
        }
    }

    /// The corpus folder its seeds come from.
    pub fn corpus(self) -> &'static str {
        match self {
            Target::Lexer | Target::Parser | Target::Checker => "cdl",
            other => other.name(),
        }
    }

    /// Whether its inputs are text (token mutations apply).
    pub fn is_text(self) -> bool {
        !matches!(
            self,
            Target::Npy | Target::Safetensors | Target::Equivariance
        )
    }

    /// Runs the target on one input; panics are the failures looked for.
    pub fn run(self, input: &[u8]) {
        let text = String::from_utf8_lossy(input);
        match self {
            Target::Lexer => {
                cdlc_grammar::lexer::lex(FileId(0), &text);
            }
            Target::Parser => {
                cdlc_grammar::parse(FileId(0), &text);
            }
            Target::Checker => {
                cdlc::compile("fuzz.cdl", &text);
            }
            Target::Equivariance => equivariance(input),
            Target::Jsonl => {
                for (x, y) in data_types() {
                    let _ = cdlc_runtime::data::jsonl::parse(&text, Path::new("f.jsonl"), &x, &y);
                }
            }
            Target::Csv => {
                let _ = cdlc_runtime::data::csv::parse(
                    &text,
                    Path::new("f.csv"),
                    "y",
                    &DataType::Tensor(vec![2]),
                    &TargetType::Class(3),
                );
            }
            Target::Npy => {
                let _ = cdlc_runtime::data::npy::read_bytes(input, "f.npy".into());
            }
            Target::Safetensors => {
                let _ = cdlc_runtime::checkpoint::parse(input, Path::new("w.safetensors"));
            }
            Target::Lsp => crate::lsp::session(input),
        }
    }
}

/// The input and target types the JSON-lines target decodes against.
fn data_types() -> [(DataType, TargetType); 3] {
    [
        (
            DataType::tree(DataType::Tensor(vec![2])),
            TargetType::Tensor(vec![1]),
        ),
        (
            DataType::list(DataType::Tensor(vec![2])),
            TargetType::Seq(Box::new(TargetType::Class(2))),
        ),
        (DataType::Tensor(vec![2, 2]), TargetType::Class(3)),
    ]
}

/// Builds a group, a space and solves for maps and invariants, all chosen
/// by the input: most sizes are small, some are huge (to reach the size
/// checks), names come from the built-in lists.
fn equivariance(input: &[u8]) {
    let mut bytes = input.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let size = |b: u8, c: u8| -> usize {
        match b % 8 {
            0 => usize::MAX >> (c % 64),
            1 => 1 << (c % 40),
            _ => 1 + (c % 7) as usize,
        }
    };
    let (kind, a, b) = (next(), next(), next());
    let n = size(a, b);
    let group = match kind % 7 {
        0 => Group::cyclic(n),
        1 => Group::dihedral(n),
        2 => Group::symmetric(n),
        3 => Group::p4(n),
        4 => Group::shifts(n),
        5 => Group::p4m(n),
        _ => Ok(Group::trivial()),
    };
    let Ok(group) = group else {
        return;
    };
    let names = cdlc_equivariance::ACTIONS;
    let act = names[next() as usize % names.len()];
    let rank = 1 + next() as usize % 3;
    let shape: Vec<usize> = (0..rank).map(|_| size(next(), next())).collect();
    let Ok(space) = action(&group, act, &shape) else {
        return;
    };
    let _ = invariant(&space);
    if next() % 2 == 0 {
        let _ = equivariant(&space, &space, None);
    } else if let Ok(p) = space.power(1 + next() as usize % 3) {
        let _ = equivariant(&space, &p, Some(next() as usize % 3));
    }
}
