//! No program falls back to the interpreter but the documented ones:
//! every model of every program in `examples/`, `tests/cases/grad/` and
//! `tests/cases/jit/` is lowered by the JIT, forward and training
//! function, and a refusal (what the driver reports as W0901 in training
//! and `cdlc run`, E0617 where a command needs the JIT) must name one of
//! the constructs `docs/status.md` lists as refused on purpose or not
//! built, with its reason.

use cdlc::training::{loss_for, prepare};
use cdlc_jit::JitError;

use crate::{cases_dir, cdl_files, check_clean, examples_dir};

/// What the JIT may still refuse, as its refusal names it, each a line of
/// the JIT section of `docs/status.md`: a nested field whose structure's
/// own nested field also holds the enclosing fold's children (or a
/// tensor or child beside its structures), which the interpreter runs.
const DOCUMENTED: &[&str] =
    &["a nested field whose structure's own nested field holds more than the structure's children"];

/// Whether `e` is one of the refusals `docs/status.md` documents.
pub(crate) fn documented(e: &JitError) -> bool {
    matches!(e, JitError::Unsupported { op, .. } if DOCUMENTED.iter().any(|d| op.contains(d)))
}

/// Every model the program declares, by name.
pub(crate) fn models(c: &cdlc::Compilation) -> Vec<(String, cdlc::resolve::ItemId)> {
    use cdlc_grammar::ast::{DefKind, ItemKind};
    c.program
        .item_ids()
        .filter(|id| c.program.is_user_item(*id) && c.checked.defs.contains_key(id))
        .filter_map(|id| match &c.program.item(id).kind {
            ItemKind::Def(d) if d.kind == DefKind::Model => Some((d.name.node.clone(), id)),
            _ => None,
        })
        .collect()
}

#[test]
fn no_program_falls_back_but_the_documented_ones() {
    let mut files = cdl_files(&examples_dir());
    for kind in ["grad", "jit"] {
        files.extend(cdl_files(&cases_dir(kind)));
    }
    let (mut lowered, mut refused, mut undocumented) = (0, Vec::new(), Vec::new());
    for path in &files {
        let c = check_clean(path);
        for (name, model) in models(&c) {
            let at = format!("{} `{name}`", path.display());
            let p =
                prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{at}: {e:?}"));
            for (func, train) in [(p.inst.func, false), (p.train, true)] {
                match cdlc_jit::lower_plan(&p.inst.module, func, train) {
                    Ok(_) => lowered += 1,
                    Err(e) if documented(&e) => refused.push(at.clone()),
                    Err(JitError::Unsupported { op, .. }) => {
                        undocumented.push(format!("{at} (train: {train}): {op}"));
                        refused.push(at.clone());
                    }
                    Err(e) => panic!("{at} (train: {train}): {e}"),
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "these fall back to the interpreter for constructs docs/status.md does not list:\n{}",
        undocumented.join("\n")
    );
    assert!(files.len() >= 25, "only {} programs", files.len());
    assert!(
        lowered >= 2 * (files.len() - refused.len()),
        "{lowered} functions lowered; refused: {refused:?}"
    );
}
