//! A model whose nodes hold lists of binary trees of children
//! (`List(Tree(X))`, a nested field whose structure holds structures of
//! children) trains from JSON lines on the JIT, without the interpreter
//! fallback (W0901), and in f64 reports the interpreter's losses and
//! accuracies.

mod common;
use common::{eleven_examples, jit_trains_like_the_interpreter, scratch, tree, vec2};

const PROGRAM: &str = "import std.layers

algebra kid_sum[h] : TreeF(R[h]) -> R[h] {
  param M: R[h, h] = glorot
  leaf(c)    => c
  node(l, r) => tanh(M @ (l + r))
}

algebra trees[h] : ListF(Tree(R[h])) -> R[h] {
  param s: R[h] = normal(0.3)
  nil          => s
  cons(t, acc) => tanh(fold kid_sum[h] (t) + acc)
}

functor GroveF(A) = tip(A) | node(A, List(Tree(X)))
data Grove(A) = fix GroveF(A)

algebra grove_alg[d, h] : GroveF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(a)      => tanh(E @ a)
  node(a, ts) => tanh(U @ a + V @ fold trees[h] (ts))
}

model grove(x: Grove(R[2])) -> R[3] { fold grove_alg[2, 3] (x) }

train grove {
  data   = jsonl(\"groves.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A grove `depth` levels deep whose nodes hold `n` trees (none when `n`
/// is 0), tree `i` with `i % 3 + 1` leaves.
fn grove(n: usize, depth: usize, k: &mut usize) -> String {
    *k += 1;
    let a = vec2(*k);
    if depth == 0 {
        return format!("{{\"tip\": [{a}]}}");
    }
    let trees: Vec<String> = (0..n)
        .map(|i| {
            let leaves: Vec<String> = (0..i % 3 + 1).map(|_| grove(n, depth - 1, k)).collect();
            tree(&leaves)
        })
        .collect();
    format!("{{\"node\": [{a}, [{}]]}}", trees.join(", "))
}

/// Eleven groves of different shapes (lone tips and empty lists among
/// them).
fn data() -> String {
    eleven_examples(3, |i, k| grove(i % 4, i % 3, k))
}

#[test]
fn lists_of_trees_of_children_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("held_nested_jit");
    std::fs::write(dir.join("groves.cdl"), PROGRAM).unwrap();
    std::fs::write(dir.join("groves.jsonl"), data()).unwrap();
    jit_trains_like_the_interpreter(&dir, "groves.cdl", 2);
}
