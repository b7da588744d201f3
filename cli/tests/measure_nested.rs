//! `cdlc measure` on a model whose input is a tree: trained weights of an
//! equivariant fold measure at rounding level on the train block's
//! held-out trees and on `--data` trees, and `--per-layer` is refused with
//! E0611.

#[macro_use]
mod common;

use common::{cdlc, scratch, stderr, stdout};

/// A fold over trees of `cyclic(4)` vectors whose algebra is equivariant.
const TREES: &str = "group C = cyclic(4)
space Ring = R[4] under C by shift

algebra equi_sum : TreeF(Ring) -> Ring {
  param K: equivariant Ring -> Ring = glorot
  leaf(x)    => tanh(K @ x)
  node(l, r) => tanh(l + r)
}
model equi(t: Tree(Ring)) -> Ring { fold equi_sum (t) }

train equi {
  data   = jsonl(\"trees.jsonl\")
  loss   = cross_entropy
  optim  = sgd(lr = 0.1)
  epochs = 1
  batch  = 2
  split  = 0.5
}
";

/// Tree `k` of a small data set: two or three leaves of distinct vectors.
fn tree(k: usize) -> String {
    let v = |i: usize| {
        let x: Vec<String> = (0..4)
            .map(|j| format!("{:.2}", ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0))
            .collect();
        format!("{{\"leaf\": [[{}]]}}", x.join(", "))
    };
    let pair = format!("{{\"node\": [{}, {}]}}", v(k), v(k + 1));
    if k.is_multiple_of(2) {
        pair
    } else {
        format!("{{\"node\": [{pair}, {}]}}", v(k + 2))
    }
}

#[test]
fn an_equivariant_fold_over_trees_measures_at_rounding() {
    let dir = scratch("measure_trees");
    std::fs::write(dir.join("trees.cdl"), TREES).unwrap();
    let lines: String = (0..8)
        .map(|k| format!("{{\"x\": {}, \"y\": {}}}\n", tree(k), k % 4))
        .collect();
    std::fs::write(dir.join("trees.jsonl"), lines).unwrap();
    let xs: String = (0..3)
        .map(|k| format!("{{\"x\": {}}}\n", tree(k + 5)))
        .collect();
    std::fs::write(dir.join("xs.jsonl"), xs).unwrap();
    let t = cdlc(
        &[
            "trees.cdl",
            "--emit",
            "jit",
            "--backend",
            "interp",
            "--out",
            "run",
        ],
        &dir,
    );
    assert!(t.status.success(), "{}", stderr(&t));
    let measure = |extra: &[&str]| {
        let mut args = vec![
            "measure",
            "trees.cdl",
            "--weights",
            "run/weights.safetensors",
            "--message-format",
            "json",
        ];
        args.extend_from_slice(extra);
        cdlc(&args, &dir)
    };
    for (extra, inputs) in [(&[][..], 4), (&["--data", "xs.jsonl"][..], 3)] {
        let o = measure(extra);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(v["inputs"], inputs, "{v}");
        let max = v["whole"]["discrete"]["max"].as_f64().unwrap();
        assert!(max <= 1e-6, "{v}");
    }
    let refused = measure(&["--per-layer"]);
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains("E0611") && err.contains("--per-layer"),
        "{err}"
    );
}
