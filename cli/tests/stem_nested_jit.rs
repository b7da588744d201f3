//! A model whose nodes hold a stem whose own nodes hold a binary tree of
//! stems (`node(A, Stem(X))`, `stem(A, Tree(X))`: a nested field inside a
//! nested field) trains from JSON lines on the JIT, without the
//! interpreter fallback (W0901), and in f64 reports the interpreter's
//! losses and accuracies.

mod common;
use common::{eleven_examples, jit_trains_like_the_interpreter, scratch, tree, vec2};

const PROGRAM: &str = "import std.layers

functor StemF(A) = stop(A) | stem(A, Tree(X))
data Stem(A) = fix StemF(A)

functor BushF(A) = tip(A) | node(A, Stem(X))
data Bush(A) = fix BushF(A)

algebra kid_sum[h] : TreeF(R[h]) -> R[h] {
  param M: R[h, h] = glorot
  leaf(c)    => c
  node(l, r) => tanh(M @ (l + r))
}

algebra stems[h] : StemF(R[h]) -> R[h] {
  param W: R[h, h] = glorot
  stop(c)    => c
  stem(c, t) => tanh(c + W @ fold kid_sum[h] (t))
}

algebra bush[d, h] : BushF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(a)     => tanh(E @ a)
  node(a, r) => tanh(U @ a + V @ fold stems[h] (r))
}

model bushes(x: Bush(R[2])) -> R[3] { fold bush[2, 3] (x) }

train bushes {
  data   = jsonl(\"bushes.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A stem `levels` deep whose nodes hold bushes `depth - 1` deep (every
/// third a tip); a stem above level 0 holds a tree of `1 + k % 3` stems.
fn stem(levels: usize, depth: usize, k: &mut usize) -> String {
    let held = match *k % 3 {
        0 => {
            *k += 1;
            format!("{{\"tip\": [{}]}}", vec2(*k))
        }
        _ => bush(levels, depth - 1, k),
    };
    if levels == 0 {
        return format!("{{\"stop\": [{held}]}}");
    }
    let n = 1 + *k % 3;
    let kids: Vec<String> = (0..n).map(|_| stem(levels - 1, depth, k)).collect();
    format!("{{\"stem\": [{held}, {}]}}", tree(&kids))
}

/// A bush `depth` levels deep whose nodes hold stems `levels` deep.
fn bush(levels: usize, depth: usize, k: &mut usize) -> String {
    *k += 1;
    let a = vec2(*k);
    if depth == 0 {
        return format!("{{\"tip\": [{a}]}}");
    }
    format!("{{\"node\": [{a}, {}]}}", stem(levels, depth, k))
}

/// Eleven bushes of different shapes (lone tips and stems that stop
/// among them).
fn data() -> String {
    eleven_examples(3, |i, k| bush(i % 4, i % 3, k))
}

#[test]
fn stems_holding_trees_of_stems_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("stem_nested_jit");
    std::fs::write(dir.join("bushes.cdl"), PROGRAM).unwrap();
    std::fs::write(dir.join("bushes.jsonl"), data()).unwrap();
    jit_trains_like_the_interpreter(&dir, "bushes.cdl", 2);
}
