//! The pass on a hand-built gathered ring map: its plan has one forward
//! convolution in place of the gather and product, the verifier accepts
//! it, and a convolution whose runs overrun its points or that writes
//! another buffer than it names is rejected.

use cdlc_ir::{FuncId, FunctionBuilder, Module, Type};

use super::*;
use crate::plan::conv_taps::tests::gather;

/// `y = K ⋆ x` over a ring of `n` points, `c` to `d` channels, taps at
/// shifts -1, 0 and 1, written as the compiler writes a gathered map.
fn ring(c: usize, n: usize, d: usize) -> (Module, FuncId) {
    let mut module = Module::new();
    let left = |i: usize| Some(((i + n - 1) % n, 1.0));
    let same = |i: usize| Some((i, 1.0));
    let right = |i: usize| Some(((i + 1) % n, 1.0));
    let basis = module.add_basis(gather(c, n, &[&left, &same, &right]));
    let mut b = FunctionBuilder::new(&module, "ring");
    let x = b.input(Type::tensor(&[c, n]));
    let k = b.param("K", &[d, c, 3]);
    let z = b.basis_expand(x, basis);
    let y = b.contract(k, z, 2);
    let f = b.finish(y);
    let func = module.add_function(f);
    (module, func)
}

fn convs(plan: &Plan) -> Vec<&ConvCode> {
    plan.code
        .iter()
        .filter_map(|i| match i {
            Instr::Conv(c) => Some(&**c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_gathered_ring_map_lowers_to_one_checked_convolution() {
    let (module, func) = ring(3, 20, 2);
    let plan = crate::lower::lower_with(&module, func, false, crate::Fusion::Off).expect("lowers");
    let found = convs(&plan);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, ConvKind::Forward);
    assert_eq!(found[0].taps.runs.len(), 5);
    assert!(
        !plan.code.iter().any(|i| matches!(i, Instr::Row { .. })),
        "the gather stays"
    );
    assert!(verify(&plan).is_ok());
    let gathered = without(|| crate::lower::lower_with(&module, func, false, crate::Fusion::Off))
        .expect("lowers");
    assert!(convs(&gathered).is_empty());
    assert!(verify(&gathered).is_ok());
}

#[test]
fn the_verifier_rejects_a_convolution_past_its_points_or_writing_elsewhere() {
    let (module, func) = ring(2, 18, 4);
    let plan = crate::lower::lower_with(&module, func, false, crate::Fusion::Off).expect("lowers");
    let broken = |edit: &dyn Fn(&mut ConvCode)| {
        let mut plan = plan.clone();
        for ins in &mut plan.code {
            if let Instr::Conv(c) = ins {
                edit(c);
            }
        }
        verify(&plan).expect_err("a broken convolution").code()
    };
    let past = |c: &mut ConvCode| {
        let mut runs = (*c.taps.runs).clone();
        runs[0].len += 1;
        c.taps.runs = Arc::new(runs);
    };
    assert_eq!(broken(&past), "P010");
    let elsewhere = |c: &mut ConvCode| c.dst += 1;
    assert_eq!(broken(&elsewhere), "P008");
}
