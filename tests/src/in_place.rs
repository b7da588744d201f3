//! Fold regions reading and writing the carrier's rows in place
//! (`jit/src/exec/in_place.rs`): the training kernel with the placement
//! against the same kernel gathering and scattering every row, bit for bit
//! (loss and every gradient entry, f64 and f32), on the benchmark folds
//! (W2's Elman cell over lists, W3's small one, W6's GRU over lists of
//! unequal lengths, W4's TreeRNN and W7's Tree-LSTM over binary trees) and
//! on every shipped example; and the placement happens where the nodes
//! are consecutive, and never when it is switched off. The kernels with
//! the placement are checked against the interpreter by `tests/src/jit.rs`.

use crate::epilogue::bench_case;
use crate::train_cases;
use cdlc::training::Prepared;
use cdlc_jit::{Dtype, Elem, Options, Passes};
use cdlc_runtime::value::{Example, Tensor};

/// One training step in `T` with the placement on or off: the loss, the
/// flat gradient and how many buffers were placed in rows.
fn step<T: Elem>(
    p: &Prepared,
    params: &[Tensor],
    batch: &[Example],
    dtype: Dtype,
    in_place: bool,
) -> (f64, Vec<f64>, u64) {
    let opts = Options {
        dtype,
        batch: batch.len(),
    };
    let passes = Passes::new(cdlc_jit::Fusion::from_env(), false).with_in_place(in_place);
    let mut k = cdlc_jit::compile_train_passes(&p.inst.module, p.train, &opts, passes)
        .expect("the kernel compiles");
    let ps: Vec<T> = params
        .iter()
        .flat_map(|t| t.data.iter().map(|&x| T::from_f64(x)))
        .collect();
    let mut g = vec![T::from_f64(0.0); ps.len()];
    let s = k
        .step_examples(&ps, batch, &mut g)
        .expect("the kernel runs");
    let placed = k.placed_in_rows::<T>();
    (s.loss, g.iter().map(|x| x.to_f64()).collect(), placed)
}

/// The placement gives the same bits as the copies, in f64 and f32; the
/// number of buffers placed in one step (the same in both dtypes).
#[track_caller]
fn in_place_equals_copied(name: &str, p: &Prepared, params: &[Tensor], batch: &[Example]) -> u64 {
    let mut placed = Vec::new();
    for dtype in [Dtype::F64, Dtype::F32] {
        let ((loss, grads, n), (want_loss, want_grads, none)) = match dtype {
            Dtype::F64 => (
                step::<f64>(p, params, batch, dtype, true),
                step::<f64>(p, params, batch, dtype, false),
            ),
            Dtype::F32 => (
                step::<f32>(p, params, batch, dtype, true),
                step::<f32>(p, params, batch, dtype, false),
            ),
        };
        assert_eq!(none, 0, "{name} {dtype:?}: placed with the placement off");
        assert_eq!(
            loss.to_bits(),
            want_loss.to_bits(),
            "{name} {dtype:?}: loss {loss} vs {want_loss}"
        );
        assert_eq!(grads.len(), want_grads.len(), "{name}: gradient sizes");
        for (i, (a, b)) in grads.iter().zip(&want_grads).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} {dtype:?}: gradient entry {i}: {a} vs {b}"
            );
        }
        placed.push(n);
    }
    assert_eq!(placed[0], placed[1], "{name}: placed differently by dtype");
    placed[0]
}

#[test]
fn benchmark_folds_in_place_equal_copied() {
    // Lists stepped together (W2, W6 with lists of unequal lengths) and
    // binary trees (W4, W7 with its pair carrier); one example and more
    // than a block of eight rows. W3's small steps may run as
    // straight-line code, which has no executor regions to place.
    for (name, placed_somewhere) in [
        ("w2_elman", true),
        ("w6_gru", true),
        ("w4_treenn", true),
        ("w7_treelstm", true),
        ("w3_tiny_rnn", false),
    ] {
        for n in [1, 11] {
            let (p, params, batch) = bench_case(name, n);
            let placed = in_place_equals_copied(name, &p, &params, &batch);
            assert!(
                placed > 0 || !placed_somewhere,
                "{name} with {n} examples: nothing placed"
            );
        }
    }
}

#[test]
fn every_example_in_place_equals_copied() {
    let mut placed = 0;
    for c in train_cases(6) {
        placed += in_place_equals_copied(&c.name, &c.prepared, &c.params, &c.batch);
    }
    assert!(placed > 0, "no example placed a buffer");
}
