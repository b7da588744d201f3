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
    else:
        make = (lambda: rose(rng, 2)) if kind == "rose2" else (lambda: list_and_one(rng))
        ex = [{"x": make(), "y": rng.randrange(3)} for _ in range(10)]
        loss = "cross_entropy"
    program = program_with_train(ROSE, str(tmp_path), model, loss, ex)
    # The JIT does not fold rose trees yet: f32 is compared with the interpreter.
    compare.check_against_cdlc(
        program, str(tmp_path), examples=10, data=os.path.join(str(tmp_path), "data.jsonl"), f32_backend="interp"
    )


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
    assert sched["c1"]["idx"].shape == (1, depth + 1, 1)  # one level per inner node
    assert sched["root"][0] == 2 * depth
    params = compare.params_as(mod, os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors"), jnp.float64)
    # The same fold on a shallow prefix of the spine, computed by the
    # module and by cdlc, pins down what the deep one computes; here the
    # deep fold must finish and give a finite loss.
    assert math.isfinite(float(mod.loss(params, batch)))
