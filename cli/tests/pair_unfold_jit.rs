//! A model whose unfolds emit pairs (a Mealy machine over the input list,
//! and a stream started at each element inside a fold's region) trains on
//! the JIT, without the interpreter fallback (W0901), and in f64 reports
//! the interpreter's losses and accuracies.

mod common;
use common::{jit_trains_like_the_interpreter, scratch};

const PROGRAM: &str = "import std.layers

/// Emits a view of the new state and the input mixed with it.
coalgebra pair_out[i, h] : R[h] -> Mealy(R[i], R[h] * R[i]) {
  param W: R[h, h] = orthogonal
  param U: R[h, i] = glorot
  param E: R[i, h] = glorot
  step(s, x) => let s2 = tanh(W @ s + U @ x) in ((s2, tanh(x + E @ s2)), s2)
}

/// Emits two views of its state.
coalgebra twin[h] : R[h] -> StreamF(R[h] * R[h]) {
  param A: R[h, h] = orthogonal
  param B: R[h, h] = glorot
  next(s) => let s2 = tanh(A @ s) in ((s2, tanh(B @ s)), s2)
}

algebra pair_fold[a, b, h] : ListF(R[a] * R[b]) -> R[h] {
  param s: R[h]    = zeros
  param A: R[h, a] = glorot
  param B: R[h, b] = glorot
  nil          => s
  cons(p, acc) => let (x, y) = p in tanh(A @ x + B @ y + acc)
}

algebra streamed[h] : ListF(R[h] * R[2]) -> R[h] {
  param s: R[h] = zeros
  nil          => s
  cons(p, acc) => let (x, y) = p in fold pair_fold[h, h, h] (unfold twin[h] from tanh(x + acc) take 2)
}

model m(xs: List(R[2])) -> R[2] {
  param s0: R[3]    = normal(0.5)
  param O:  R[2, 3] = glorot
  O @ (fold pair_fold[3, 2, 3] (unfold pair_out[2, 3] from s0 over xs) + fold streamed[3] (unfold pair_out[2, 3] from s0 over xs))
}

train m {
  data   = jsonl(\"pairs.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// Eleven lists of different lengths (empty ones among them).
fn data() -> String {
    (0..11)
        .map(|i| {
            let xs: Vec<String> = (0..(i * 5) % 7)
                .map(|j| {
                    let k = (i * 7 + j) as f64;
                    format!("[{:.3}, {:.3}]", (0.7 * k).sin(), (1.3 * k).cos())
                })
                .collect();
            format!("{{\"x\": [{}], \"y\": {}}}\n", xs.join(", "), i % 2)
        })
        .collect()
}

#[test]
fn unfolds_emitting_pairs_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("pair_unfold_jit");
    std::fs::write(dir.join("pairs.cdl"), PROGRAM).unwrap();
    std::fs::write(dir.join("pairs.jsonl"), data()).unwrap();
    jit_trains_like_the_interpreter(&dir, "pairs.cdl", 2);
}
