//! Tests of the JIT's own API: permutation maps, basis tables, the error
//! for an op it cannot compile, and the CLIF text. The JIT against the
//! interpreter on whole programs is driven by the case files under
//! `tests/cases/ir/jit/` (the `cdlc-tests` crate's `ir_cases` runner).

use cdlc_ir::testmodels::dense;
use cdlc_ir::{FuncId, FunctionBuilder, LossKind, Module, Type};

use crate::{Dtype, Options, compile_forward, compile_train};

/// A module with a three-layer perceptron and its training function.
struct Model {
    module: Module,
    train: FuncId,
}

fn mlp() -> Model {
    let mut module = Module::new();
    let mut b = FunctionBuilder::new(&module, "mlp");
    let x = b.input(Type::tensor(&[5]));
    let h = dense(&mut b, "l1", 5, 9, x);
    let h = b.relu(h);
    let h = dense(&mut b, "l2", 9, 6, h);
    let h = b.relu(h);
    let y = dense(&mut b, "l3", 6, 3, h);
    let f = b.finish(y);
    let forward = module.add_function(f);
    let train = cdlc_ir::autodiff::differentiate(&mut module, forward, LossKind::CrossEntropy)
        .expect("differentiable");
    Model { module, train }
}

#[test]
fn permute_maps_match_strided_indexing() {
    let shape = [2usize, 3, 4, 5];
    for perm in [
        [0u32, 1, 2, 3],
        [3, 2, 1, 0],
        [2, 3, 0, 1],
        [1, 0, 3, 2],
        [0, 3, 1, 2],
    ] {
        let map = crate::rowops::permute_map(&shape, &perm);
        let oshape: Vec<usize> = perm.iter().map(|&p| shape[p as usize]).collect();
        let strides = [60, 20, 5, 1];
        for (i, &src) in map.iter().enumerate() {
            let mut rest = i;
            let mut want = 0;
            for d in (0..4).rev() {
                want += rest % oshape[d] * strides[perm[d] as usize];
                rest /= oshape[d];
            }
            assert_eq!(src as usize, want, "{perm:?} at {i}");
        }
    }
}

#[test]
fn basis_tables_are_sorted_and_classified() {
    use crate::plan::BasisTable;
    let t = BasisTable::new(4, &[vec![(3, 1.0), (0, 1.0)], vec![(2, 1.0), (1, 1.0)]]);
    assert_eq!(t.index, [0, 1, 2, 3]);
    assert_eq!(t.element, [0, 1, 1, 0]);
    assert!(t.dense && t.value.is_none());
    let t = BasisTable::new(5, &[vec![(3, 1.0)], vec![(1, 1.0)]]);
    assert!(!t.dense && t.value.is_none());
    let t = BasisTable::new(2, &[vec![(1, 2.0), (0, 1.0)], vec![(1, 1.0)]]);
    assert_eq!(t.index, [0, 1, 1]);
    assert_eq!(t.value.as_deref(), Some(&[1.0, 2.0, 1.0][..]));
    assert!(!t.dense);
}

#[test]
fn unsupported_ops_are_errors() {
    // A stream whose outputs are pairs is reported.
    let module = Module::new();
    let mut b = FunctionBuilder::new(&module, "pairs_out");
    let x = b.input(Type::tensor(&[2]));
    let out = b.unfold_take(x, 3, |b, s| {
        let next = b.tanh(s);
        let pair = b.tuple(vec![s, next]);
        b.tuple(vec![pair, next])
    });
    let f = b.finish(out);
    let mut module = module;
    let id = module.add_function(f);
    let opts = Options {
        dtype: Dtype::F32,
        batch: 4,
    };
    let e = compile_forward(&module, id, &opts).err();
    assert!(
        matches!(&e, Some(crate::JitError::Unsupported { op, .. }) if op.contains("not tensors")),
        "{e:?}"
    );
}

#[test]
fn clif_text_is_cranelift_ir() {
    let m = mlp();
    let k = compile_train(
        &m.module,
        m.train,
        &Options {
            dtype: Dtype::F32,
            batch: 8,
        },
    )
    .expect("compiles");
    let text = k.clif_text();
    assert!(text.contains("function"), "{text}");
    assert!(text.contains("f32x4"), "{text}");
}
