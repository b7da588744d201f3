//! Tests of the JIT's own API: permutation maps, basis tables, a stream
//! of pairs read back as lists of pairs, and the CLIF text. The JIT against the
//! interpreter on whole programs is driven by the case files under
//! `tests/cases/ir/jit/` (the `cdlc-tests` crate's `ir_cases` runner).

use cdlc_ir::testmodels::dense;
use cdlc_ir::{FuncId, FunctionBuilder, LossKind, Module, Type};
use cdlc_runtime::value::{Tensor, Value};

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

/// A gather's basis repeats one pattern per input channel, offset by the
/// channel: its table is kept once and walked per block, and expanding and
/// projecting through it give what the whole table gives. A basis whose
/// blocks differ keeps one table.
#[test]
fn repeated_basis_patterns_keep_one_block_of_table() {
    use crate::plan::{BasisTable, RowOp};
    use std::sync::Arc;
    // Two channels of a 3-point gather of two elements: element (q, j)
    // puts j's value at (q, e, i) for the entries of B_e[i, j].
    let block: Vec<Vec<(u32, f64)>> = vec![
        vec![(1, 1.0), (3, 1.0)],
        vec![(2, 1.0), (4, 1.0)],
        vec![(0, 1.0), (5, 2.0)],
    ];
    let moved = |r: u32| -> Vec<Vec<(u32, f64)>> {
        let shift = |es: &Vec<(u32, f64)>| es.iter().map(|&(i, v)| (i + 6 * r, v)).collect();
        block.iter().map(shift).collect()
    };
    let elements: Vec<_> = moved(0).into_iter().chain(moved(1)).collect();
    let basis = |elements: Vec<Vec<(u32, f64)>>| cdlc_ir::Basis {
        name: String::new(),
        shape: vec![2, 2, 3],
        elements,
        coeff_shape: vec![2, 3],
    };
    let blocked = BasisTable::of(&basis(elements.clone()));
    assert_eq!(
        (blocked.blocks, blocked.block_size, blocked.block_elements),
        (2, 6, 3)
    );
    assert_eq!((blocked.index_span(), blocked.element_span()), (12, 6));
    let whole = BasisTable::new(12, &elements);
    assert_eq!(whole.blocks, 1);
    let x = [0.5, -1.0, 2.0, 3.0, 0.25, -4.0];
    let dense = [
        1.0, -2.0, 0.5, 4.0, 3.0, -1.5, 2.5, 0.75, -3.0, 1.25, 6.0, -0.5,
    ];
    for (op, input, len) in [("expand", &x[..], 12), ("project", &dense[..], 6)] {
        let run = |table: &BasisTable| {
            let table = Arc::new(table.clone());
            let op = match op {
                "expand" => RowOp::BasisExpand { table },
                _ => RowOp::BasisProject { table },
            };
            let mut out = vec![f64::NAN; len];
            crate::rowops::row(&op, &[input], &mut out);
            out
        };
        assert_eq!(run(&blocked), run(&whole), "{op}");
    }
    // The second channel's last entry no longer follows the first's.
    let mut broken = elements;
    broken[5][1].1 = 3.0;
    assert_eq!(BasisTable::of(&basis(broken)).blocks, 1);
}

#[test]
fn a_stream_of_pairs_returns_a_list_of_pairs_per_example() {
    // Each step emits `(s, tanh s)` and moves to `tanh s`: the outputs are
    // one sequence per component, read back as a list of pairs.
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
        dtype: Dtype::F64,
        batch: 2,
    };
    let mut k = compile_forward(&module, id, &opts).expect("a stream of pairs compiles");
    let xs = [[0.5, -1.0], [2.0, 0.25]];
    let inputs: Vec<Value> = xs
        .iter()
        .map(|x| Value::Tensor(Tensor::new(vec![2], x.to_vec())))
        .collect();
    let outs = k.run::<f64>(&[], &inputs).expect("the kernel runs");
    for (x, out) in xs.iter().zip(&outs) {
        let steps = out.as_list().expect("a list of outputs");
        assert_eq!(steps.len(), 3);
        let mut s = x.to_vec();
        for step in steps {
            let next: Vec<f64> = s.iter().map(|v| v.tanh()).collect();
            let Value::Tuple(pair) = step else {
                panic!("a pair per step: {step:?}")
            };
            let data: Vec<&[f64]> = pair
                .iter()
                .map(|v| match v {
                    Value::Tensor(t) => &t.data[..],
                    other => panic!("a tensor: {other:?}"),
                })
                .collect();
            for (got, want) in data.iter().zip([&s, &next]) {
                let close = got
                    .iter()
                    .zip(want.iter())
                    .all(|(a, b)| (a - b).abs() <= 1e-12);
                assert!(close && got.len() == 2, "{got:?} against {want:?}");
            }
            s = next;
        }
    }
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
