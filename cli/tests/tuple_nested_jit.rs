//! A model whose nested field is a tuple holding a vector beside a binary
//! tree of children (`node(A, R[2] * Tree(X))`, the tree reached through
//! a component of the tuple, one case ignoring it), and one whose nested
//! list's elements pair a tree of children with a vector
//! (`List(Tree(X) * R[2])`), train from JSON lines on the JIT, without
//! the interpreter fallback (W0901), and in f64 report the interpreter's
//! losses and accuracies.

mod common;
use common::{eleven_examples, jit_trains_like_the_interpreter, scratch, tree, vec2};

const PROGRAM: &str = "import std.layers

functor PairedF(A) = tip(A) | node(A, R[2] * Tree(X)) | skip(A, R[2] * Tree(X))
data Paired(A) = fix PairedF(A)

algebra kid_sum[h] : TreeF(R[h]) -> R[h] {
  param M: R[h, h] = glorot
  leaf(c)    => c
  node(l, r) => tanh(M @ (l + r))
}

algebra paired_alg[d, h] : PairedF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param L: R[h, 2] = glorot
  tip(a)     => tanh(E @ a)
  node(a, p) => let (m, t) = p in tanh(U @ a + L @ m + fold kid_sum[h] (t))
  skip(a, p) => tanh(U @ a)
}

model paired(x: Paired(R[2])) -> R[3] { fold paired_alg[2, 3] (x) }

train paired {
  data   = jsonl(\"paired.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A `Paired` structure `depth` levels deep, a `node` or a `skip` by
/// depth, whose trees hold `n` children (at least one).
fn paired(n: usize, depth: usize, k: &mut usize) -> String {
    *k += 1;
    let a = vec2(*k);
    if depth == 0 {
        return format!("{{\"tip\": [{a}]}}");
    }
    let kids: Vec<String> = (0..n.max(1)).map(|_| paired(n, depth - 1, k)).collect();
    *k += 1;
    let m = vec2(*k);
    let ctor = if depth.is_multiple_of(2) {
        "skip"
    } else {
        "node"
    };
    format!("{{\"{ctor}\": [{a}, [{m}, {}]]}}", tree(&kids))
}

#[test]
fn a_tuple_holding_a_tree_of_children_trains_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("tuple_nested_jit");
    let data = eleven_examples(3, |i, k| paired(i % 4, i % 3 + (i % 2), k));
    std::fs::write(dir.join("paired.cdl"), PROGRAM).expect("the program is written");
    std::fs::write(dir.join("paired.jsonl"), data).expect("the data is written");
    jit_trains_like_the_interpreter(&dir, "paired.cdl", 2);
}

const FOREST: &str = "import std.layers

functor ForestF(A) = tip(A) | node(A, List(Tree(X) * R[2]))
data Forest(A) = fix ForestF(A)

algebra kids[h] : TreeF(R[h]) -> R[h] {
  leaf(c)    => c
  node(l, r) => l + r
}

algebra trees[h] : ListF(Tree(R[h]) * R[2]) -> R[h] {
  param s: R[h]    = zeros
  param W: R[h, 2] = glorot
  nil          => s
  cons(p, acc) => let (t, w) = p in fold kids[h] (t) + W @ w + acc
}

algebra forest[d, h] : ForestF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(a)      => tanh(E @ a)
  node(a, ts) => tanh(U @ a + V @ fold trees[h] (ts))
}

model m(x: Forest(R[2])) -> R[2] { fold forest[2, 2] (x) }

train m {
  data   = jsonl(\"forest.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A `Forest` structure `depth` levels deep whose nodes hold `n` pairs of
/// a tree (of one to three children) and a vector.
fn forest(n: usize, depth: usize, k: &mut usize) -> String {
    *k += 1;
    let a = vec2(*k);
    if depth == 0 {
        return format!("{{\"tip\": [{a}]}}");
    }
    let elems: Vec<String> = (0..n)
        .map(|i| {
            let kids: Vec<String> = (0..i % 3 + 1).map(|_| forest(n, depth - 1, k)).collect();
            *k += 1;
            format!("[{}, {}]", tree(&kids), vec2(*k))
        })
        .collect();
    format!("{{\"node\": [{a}, [{}]]}}", elems.join(", "))
}

#[test]
fn a_list_of_trees_paired_with_vectors_trains_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("tuple_nested_forest_jit");
    let data = eleven_examples(2, |i, k| forest(i % 4, i % 3, k));
    std::fs::write(dir.join("forest.cdl"), FOREST).expect("the program is written");
    std::fs::write(dir.join("forest.jsonl"), data).expect("the data is written");
    jit_trains_like_the_interpreter(&dir, "forest.cdl", 2);
}
