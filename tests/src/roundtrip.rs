//! The IR's text form reads back: for every example program and every
//! clean program of the IR, gradient and JIT cases, the instantiated module
//! (the model and its training function) printed, read and printed again
//! gives the same text; the module read back verifies; and it computes the
//! same outputs, loss and gradients in the interpreter on random inputs.

use std::path::PathBuf;

use cdlc::training::{loss_for, prepare};
use cdlc_ir::rng::Rng;
use cdlc_ir::{interp, parse, print, verify};

use crate::ir_cases::random;
use crate::{cases_dir, cdl_files, check_clean, examples_dir};

/// Random batches drawn per program.
const SEEDS: u64 = 2;
/// Examples per batch.
const BATCH: usize = 3;

/// The programs whose modules are read back.
fn programs() -> Vec<PathBuf> {
    let mut files = cdl_files(&examples_dir());
    for kind in ["ir", "grad", "jit"] {
        files.extend(cdl_files(&cases_dir(kind)));
    }
    files
}

#[test]
fn every_program_reads_back_and_computes_the_same() {
    let files = programs();
    assert!(files.len() >= 20, "only {} programs found", files.len());
    for path in files {
        let name = path.display().to_string();
        let c = check_clean(&path);
        for model in models(&c) {
            let p =
                prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            reads_back(&name, &p);
        }
    }
}

/// Every model the program declares.
fn models(c: &cdlc::Compilation) -> Vec<cdlc::resolve::ItemId> {
    use cdlc_grammar::ast::{DefKind, ItemKind};
    c.program
        .item_ids()
        .filter(|id| c.program.is_user_item(*id) && c.checked.defs.contains_key(id))
        .filter(
            |id| matches!(&c.program.item(*id).kind, ItemKind::Def(d) if d.kind == DefKind::Model),
        )
        .collect()
}

/// `cdlc FILE --emit ir` and `--emit grad` print one function with the
/// module's data types and bases (`print_function_with_data`): that text
/// reads back to itself and verifies, and the model's function read back
/// computes the same outputs, bases included.
#[test]
fn emitted_functions_read_back_with_their_bases() {
    let mut with_bases = 0;
    for path in programs() {
        let name = path.display().to_string();
        let c = check_clean(&path);
        for model in models(&c) {
            let p =
                prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let m = &p.inst.module;
            with_bases += usize::from(!m.bases.is_empty());
            for f in [p.inst.func, p.train] {
                let text = print::print_function_with_data(m, &m.functions[f]);
                let back = parse::module(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(print::print_module(&back), text, "{name}");
                verify::verify(&back).unwrap_or_else(|e| panic!("{name}: {}", verify::render(&e)));
            }
            let text = print::print_function_with_data(m, &m.functions[p.inst.func]);
            let back = parse::module(&text).expect("read above");
            let (g, _) = back.functions.iter().next().expect("one function");
            let mut rng = Rng::new(7);
            let params = random::params(&m.functions[p.inst.func], &mut rng);
            let batch = random::batch(m, p.inst.func, p.loss, &params, BATCH, &mut rng);
            for e in &batch {
                let want = interp::forward(m, p.inst.func, &params, &e.x).expect("runs");
                let got = interp::forward(&back, g, &params, &e.x).expect("runs");
                assert_eq!(got, want, "{name}: outputs differ");
            }
        }
    }
    assert!(with_bases > 0, "no program uses a basis");
}

/// Checks one prepared model's module: same text, verified, same values.
#[track_caller]
fn reads_back(name: &str, p: &cdlc::training::Prepared) {
    let m = &p.inst.module;
    let text = print::print_module(m);
    let back = parse::module(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(print::print_module(&back), text, "{name}: the text changed");
    verify::verify(&back).unwrap_or_else(|e| panic!("{name}: {}", verify::render(&e)));
    for seed in 0..SEEDS {
        let mut rng = Rng::new(seed);
        let params = random::params(&m.functions[p.inst.func], &mut rng);
        let batch = random::batch(m, p.inst.func, p.loss, &params, BATCH, &mut rng);
        for e in &batch {
            let want = interp::forward(m, p.inst.func, &params, &e.x).expect("runs");
            let got = interp::forward(&back, p.inst.func, &params, &e.x).expect("runs");
            assert_eq!(got, want, "{name}: outputs differ");
        }
        let want = interp::loss_and_grad(m, p.train, &params, &batch).expect("runs");
        let got = interp::loss_and_grad(&back, p.train, &params, &batch).expect("runs");
        assert_eq!(got, want, "{name}: loss or gradients differ");
    }
}
