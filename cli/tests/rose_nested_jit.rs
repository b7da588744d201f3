//! A model whose nodes hold a rose tree of children (`node(A, Rose(X))`,
//! a nested field whose structure holds a list of its own children)
//! trains from JSON lines on the JIT, without the interpreter fallback
//! (W0901), and in f64 reports the interpreter's losses and accuracies.

mod common;
use common::{eleven_examples, jit_trains_like_the_interpreter, scratch, vec2};

const PROGRAM: &str = "import std.layers

functor RoseF(A) = rose(A, List(X))
data Rose(A) = fix RoseF(A)

functor BushF(A) = tip(A) | node(A, Rose(X))
data Bush(A) = fix BushF(A)

algebra kids[h] : RoseF(R[h]) -> R[h] {
  param b: R[h] = normal(0.3)
  rose(c, ks) => tanh(c * fold elman[h, h] (ks) + b)
}

algebra bush[d, h] : BushF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(a)     => tanh(E @ a)
  node(a, r) => tanh(U @ a + V @ fold kids[h] (r))
}

model bushes(x: Bush(R[2])) -> R[3] { fold bush[2, 3] (x) }

train bushes {
  data   = jsonl(\"bushes.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A rose tree whose root holds `width` children (none at height 0),
/// child `i` holding `i % 3` of its own, each rose node's value a bush
/// `depth - 1` deep (every third a tip).
fn rose(width: usize, height: usize, depth: usize, k: &mut usize) -> String {
    let held = match *k % 3 {
        0 => {
            *k += 1;
            format!("{{\"tip\": [{}]}}", vec2(*k))
        }
        _ => bush(width, depth - 1, k),
    };
    let n = if height == 0 { 0 } else { width };
    let kids: Vec<String> = (0..n).map(|i| rose(i % 3, height - 1, depth, k)).collect();
    format!("{{\"rose\": [{held}, [{}]]}}", kids.join(", "))
}

/// A bush `depth` levels deep whose nodes hold rose trees of `width`
/// children at the root.
fn bush(width: usize, depth: usize, k: &mut usize) -> String {
    *k += 1;
    let a = vec2(*k);
    if depth == 0 {
        return format!("{{\"tip\": [{a}]}}");
    }
    format!("{{\"node\": [{a}, {}]}}", rose(width, 2, depth, k))
}

/// Eleven bushes of different shapes (lone tips and rose trees without
/// children among them).
fn data() -> String {
    eleven_examples(3, |i, k| bush(i % 4, i % 3, k))
}

#[test]
fn rose_trees_of_children_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("rose_nested_jit");
    std::fs::write(dir.join("bushes.cdl"), PROGRAM).unwrap();
    std::fs::write(dir.join("bushes.jsonl"), data()).unwrap();
    jit_trains_like_the_interpreter(&dir, "bushes.cdl", 2);
}
