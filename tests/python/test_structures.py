"""Rose trees, structures with several kinds of children, Mealy machines over
computed lists, and the gradient test cases' other models, exported and
compared with `cdlc grad`; deep trees encode without recursion."""

import json
import math
import os
import random

import jax.numpy as jnp
import numpy as np
import pytest

import compare

ROSE = os.path.join(compare.ROOT, "tests", "cases", "grad", "rose.cdl")
UNFOLD_FOLD = os.path.join(compare.ROOT, "tests", "cases", "grad", "unfold_fold.cdl")


def rose(rng, d, depth=0):
    """A random rose tree (recursion depth at most 3)."""
    kids = [rose(rng, d, depth + 1) for _ in range(rng.randrange(0, 4))] if depth < 3 else []
    return {"rose": [[rng.uniform(-1, 1) for _ in range(d)], kids]}


def list_and_one(rng, depth=0):
    if depth >= 3 or rng.random() < 0.3:
        return {"tip": [[rng.uniform(-1, 1), rng.uniform(-1, 1)]]}
    kids = [list_and_one(rng, depth + 1) for _ in range(rng.randrange(0, 3))]
    return {"node": [[rng.uniform(-1, 1), rng.uniform(-1, 1)], kids, list_and_one(rng, depth + 1)]}


def program_with_train(src, tmp, model, loss, examples):
    """A copy of a test case with a train block over `examples`."""
    path = os.path.join(tmp, "case.cdl")
    with open(src) as f, open(path, "w") as g:
        g.write(f.read())
        g.write(f'\ntrain {model} {{\n  data = jsonl("data.jsonl")\n  loss = {loss}\n  optim = sgd(lr = 0.1)\n}}\n')
    with open(os.path.join(tmp, "data.jsonl"), "w") as f:
        for e in examples:
            f.write(json.dumps(e) + "\n")
    return path


CASES = [
    ("forest_of_trees", "forest"),
    ("elman_tree", "rose2"),
    ("two_views_tree", "rose2"),
    ("own_value_tree", "rose2"),
    ("total_tree", "rose1"),
    ("treelstm_tree", "rose2"),
    ("mealy_tree", "rose2"),
    ("list_and_one_tree", "lao"),
]


@pytest.mark.parametrize("model,kind", CASES)
def test_rose_tree_models_equal_cdlc_grad(model, kind, tmp_path):
    rng = random.Random(7)
    if kind == "rose1":
        ex = [{"x": rose(rng, 1), "y": [rng.uniform(-1, 1)]} for _ in range(10)]
        loss = "mse"
    elif kind == "forest":
        ex = [{"x": [rose(rng, 2) for _ in range(rng.randrange(0, 4))], "y": rng.randrange(3)} for _ in range(10)]
        loss = "cross_entropy"
    else:
        make = (lambda: rose(rng, 2)) if kind == "rose2" else (lambda: list_and_one(rng))
        ex = [{"x": make(), "y": rng.randrange(3)} for _ in range(10)]
        loss = "cross_entropy"
    program = program_with_train(ROSE, str(tmp_path), model, loss, ex)
    # The JIT does not fold rose trees yet: f32 is compared with the interpreter.
    mod, _ = compare.check_against_cdlc(
        program, str(tmp_path), examples=10, data=os.path.join(str(tmp_path), "data.jsonl"), f32_backend="interp"
    )
    # A list of trees is laid out per position; a lone tree is batch-packed.
    assert mod.INPUTS[0][0] == ("structlist" if kind == "forest" else "packed")


@pytest.mark.parametrize("model", ["encode", "chained"])
def test_unfolds_over_computed_lists_equal_cdlc_grad(model, tmp_path):
    rng = random.Random(3)
    ex = [
        {"x": [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(rng.randrange(0, 7))], "y": rng.randrange(3)}
        for _ in range(12)
    ]
    program = program_with_train(UNFOLD_FOLD, str(tmp_path), model, "cross_entropy", ex)
    # The JIT does not fold computed lists yet: f32 is compared with the interpreter.
    compare.check_against_cdlc(
        program, str(tmp_path), examples=12, data=os.path.join(str(tmp_path), "data.jsonl"), f32_backend="interp"
    )


def test_a_tree_a_hundred_thousand_deep_encodes_and_folds(tmp_path):
    mod = compare.export(os.path.join(compare.ROOT, "examples", "tree_sum.cdl"), str(tmp_path))
    depth = 100_000
    leaf = lambda i: {"leaf": [[1.0 if j == i % 5 else 0.0 for j in range(5)]]}
    t = leaf(0)
    for i in range(depth):
        t = {"node": [leaf(i + 1), t]}
    batch = mod.encode([{"x": t, "y": 0}], bucket=mod.exact_bucket)
    sched = batch["x"][0]
    # Packed: one table, the leaves at once, then a scan of one node per
    # level over the 100 000 inner nodes (levels 1 to 100 000).
    assert sched["leaves"]["c0"]["idx"].shape == (1, depth + 1)
    assert sched["scan"]["c1"]["idx"].shape == (1, depth + 1, 1)
    assert sched["root"].tolist() == [[2 * depth]]
    params = compare.params_as(mod, os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors"), jnp.float64)
    # The same fold on a shallow prefix of the spine, computed by the
    # module and by cdlc, pins down what the deep one computes; here the
    # deep fold must finish and give a finite loss.
    assert math.isfinite(float(mod.loss(params, batch)))


BAGS = """import std.layers

functor BagTreeF(A) = tip(List(A)) | node(A, X, X)
data BagTree(A) = fix BagTreeF(A)

algebra bag[d, h] : BagTreeF(R[d]) -> R[h] {
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(xs)       => tanh(fold elman[d, h] (xs))
  node(a, l, r) => tanh(U @ a + V @ (l + r))
}

model bags(t: BagTree(R[2])) -> R[3] { fold bag[2, 3] (t) }
"""


def bag_tree(rng, depth=0):
    """A random tree whose tips hold lists (0 to 3 long) of R[2]."""
    if depth >= 3 or rng.random() < 0.35:
        return {"tip": [[[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(rng.randrange(0, 4))]]}
    a = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    return {"node": [a, bag_tree(rng, depth + 1), bag_tree(rng, depth + 1)]}


def test_a_structure_with_a_list_of_tensors_field_equals_cdlc_grad(tmp_path):
    rng = random.Random(11)
    ex = [{"x": bag_tree(rng), "y": rng.randrange(3)} for _ in range(12)]
    src = os.path.join(str(tmp_path), "bags_src.cdl")
    with open(src, "w") as f:
        f.write(BAGS)
    program = program_with_train(src, str(tmp_path), "bags", "cross_entropy", ex)
    # The JIT does not fold structures with list fields: f32 against the interpreter.
    mod, _ = compare.check_against_cdlc(
        program, str(tmp_path), examples=12, data=os.path.join(str(tmp_path), "data.jsonl"), f32_backend="interp"
    )
    assert any(("tip", [("plainlist", (2,))]) in d["ctors"] for d in mod.DATA.values())
