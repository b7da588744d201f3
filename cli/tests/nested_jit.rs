//! `examples/labelled_trees.cdl` (a nested field, `List(R[2] * X)`) and a
//! program whose nested tuples hold tensors beside children
//! (`lab(A, R[2] * X)`, `fork(X * (R[3] * X), A)`) train on the JIT,
//! without the interpreter fallback (W0901), and in f64 report the
//! interpreter's losses and accuracies. `cdlc gradcheck` draws structures
//! whose every constructor holds a child of an enclosing type (the leaves
//! of a `Tree(X)` inside a tuple) and checks them on the interpreter.

mod common;
use common::{cdlc, jit_trains_like_the_interpreter, scratch, stderr, stdout};

/// The example's path.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}.cdl", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn labelled_trees_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("nested_jit");
    jit_trains_like_the_interpreter(&dir, &example("labelled_trees"), 1);
}

const LABS: &str = "import std.layers

functor LabF(A) = tip(A) | lab(A, R[2] * X) | fork(X * (R[3] * X), A)
data Lab(A) = fix LabF(A)

algebra lab_alg[d, h] : LabF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param L: R[h, 2] = glorot
  param M: R[h, 3] = glorot
  param V: R[h, h] = glorot
  param W: R[h, h] = glorot
  tip(a)     => tanh(E @ a)
  lab(a, p)  => let (label, c) = p in tanh(E @ a + L @ label + V @ c)
  fork(p, a) => let (l, q) = p in let (m, r) = q in tanh(E @ a + M @ m + V @ l + W @ r)
}

model m(x: Lab(R[2])) -> R[2] { fold lab_alg[2, 2] (x) }

train m {
  data   = jsonl(\"labs.jsonl\")
  loss   = cross_entropy
  batch  = 4
}
";

/// A vector of `n` numbers drawn from `k`.
fn vector(n: usize, k: &mut f64) -> String {
    let xs: Vec<String> = (0..n)
        .map(|j| {
            *k += 1.0;
            format!("{:.3}", (0.7 * *k + j as f64).sin())
        })
        .collect();
    format!("[{}]", xs.join(", "))
}

/// A `Lab` structure `depth` levels deep, a `lab` or a `fork` by `depth`.
fn lab(depth: usize, k: &mut f64) -> String {
    let a = vector(2, k);
    match depth {
        0 => format!("{{\"tip\": [{a}]}}"),
        d if d % 2 == 1 => {
            let label = vector(2, k);
            format!("{{\"lab\": [{a}, [{label}, {}]]}}", lab(d - 1, k))
        }
        d => {
            let (l, m, r) = (lab(d - 1, k), vector(3, k), lab(d / 2, k));
            format!("{{\"fork\": [[{l}, [{m}, {r}]], {a}]}}")
        }
    }
}

#[test]
fn nested_tuples_holding_tensors_train_on_the_jit_with_the_interpreters_losses() {
    let dir = scratch("nested_labels_jit");
    let mut k = 0.0;
    let data: String = (0..10)
        .map(|i| format!("{{\"x\": {}, \"y\": {}}}\n", lab(i % 5, &mut k), i % 2))
        .collect();
    std::fs::write(dir.join("labs.cdl"), LABS).expect("the program is written");
    std::fs::write(dir.join("labs.jsonl"), data).expect("the data is written");
    jit_trains_like_the_interpreter(&dir, "labs.cdl", 2);
}

#[test]
fn gradcheck_draws_trees_of_children_inside_a_tuple() {
    // Every constructor of `Tree(X)` holds a child (`leaf(X)` an enclosing
    // node): the drawn structures end at the enclosing type's `tip`.
    let case = format!(
        "{}/../tests/cases/grad/reverse_sites.cdl",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = scratch("nested_gradcheck");
    let g = cdlc(&["gradcheck", &case, "--entry", "paired_tree"], &dir);
    let out = stdout(&g);
    assert!(g.status.success(), "{out}{}", stderr(&g));
    assert!(out.contains("paired_alg.L"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
}
