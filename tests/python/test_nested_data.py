"""Lists of lists, lists of tuples, a tuple-valued field and a hylomorphism
over a list computed inside the model (`tests/cases/grad/nested_lists.cdl`),
exported and compared with `cdlc grad` on one device and on eight."""

import json
import os
import random

import jax
import jax.numpy as jnp
import pytest

import compare

NESTED = os.path.join(compare.ROOT, "tests", "cases", "grad", "nested_lists.cdl")


def vec(rng, d):
    return [rng.uniform(-1, 1) for _ in range(d)]


def pair_tree(rng, depth=0):
    """A random tree whose tips hold a pair (R[3], R[2])."""
    if depth >= 3 or rng.random() < 0.4:
        return {"tip": [[vec(rng, 3), vec(rng, 2)]]}
    return {"node": [vec(rng, 2), pair_tree(rng, depth + 1), pair_tree(rng, depth + 1)]}


def example(rng, model):
    """One input of `model`. Inner lists are empty now and then, except
    under `halves` (which cdlc refuses to split when empty)."""
    if model == "lists":
        return [[vec(rng, 2) for _ in range(rng.randrange(0, 4))] for _ in range(rng.randrange(0, 4))]
    if model == "split_inner":
        return [[vec(rng, 2) for _ in range(rng.randrange(1, 7))] for _ in range(rng.randrange(0, 4))]
    if model == "tuples":
        return [[vec(rng, 2), vec(rng, 3)] for _ in range(rng.randrange(0, 5))]
    return pair_tree(rng)


def program(tmp, model):
    """The case file with a train block over 12 random examples."""
    rng = random.Random(17)
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for _ in range(12):
            f.write(json.dumps({"x": example(rng, model), "y": rng.randrange(3)}) + "\n")
    path = os.path.join(tmp, "case.cdl")
    with open(NESTED) as f, open(path, "w") as g:
        g.write(f.read())
        g.write(f'\ntrain {model} {{\n  data = jsonl("data.jsonl")\n  loss = cross_entropy\n  optim = sgd(lr = 0.1)\n}}\n')
    return path, data


LAYOUTS = {
    "lists": ("seqof", ("list", (2,), None)),
    "tuples": ("seqof", ("tuple", [("tensor", (2,)), ("tensor", (3,))])),
    "tuple_field": None,
    "split_inner": ("seqof", ("list", (2,), None)),
}


@pytest.mark.parametrize("model", sorted(LAYOUTS))
def test_nested_data_equals_cdlc_grad_on_one_and_eight_devices(model, tmp_path):
    tmp = str(tmp_path)
    path, data = program(tmp, model)
    # The JIT does not compile these nested folds: f32 against the interpreter.
    mod, batch_file = compare.check_against_cdlc(path, tmp, examples=12, data=data, f32_backend="interp")
    if LAYOUTS[model] is None:
        # A tree whose tips hold pairs: batch-packed, the pair a tuple field.
        assert mod.INPUTS[0][0] == "packed"
        assert any(("tip", [("value", ("tuple", [("tensor", (3,)), ("tensor", (2,))]))]) in d["ctors"] for d in mod.DATA.values())
    else:
        assert mod.INPUTS[0] == LAYOUTS[model]
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    ref, _ = compare.cdlc_grad(path, batch_file, tmp, init=init)
    params = compare.params_as(mod, init, jnp.float64)
    eight = mod.make_mesh()
    assert eight.devices.size == 8
    batch = mod.shard(mod.encode(mod.read_jsonl(batch_file), batch_size=16, shards=8), eight)
    l8, g8 = jax.jit(jax.value_and_grad(mod.loss))(mod.replicate(params, eight), batch)
    l1, g1 = jax.value_and_grad(mod.loss)(params, mod.encode(mod.read_jsonl(batch_file)))
    assert abs(float(l8) - ref) <= 1e-10 * abs(ref)
    for k in g1:
        assert compare.rel_err(g8[k], g1[k]) <= 1e-10, k


def test_halves_over_a_computed_list_splits_every_length_as_cdlc(tmp_path):
    # Lengths 1 to 9 in one batch: each inner list's tree is picked by its
    # length from the same padded table.
    tmp = str(tmp_path)
    path, _ = program(tmp, "split_inner")
    rng = random.Random(4)
    data = os.path.join(tmp, "lengths.jsonl")
    with open(data, "w") as f:
        for n in range(1, 10):
            f.write(json.dumps({"x": [[vec(rng, 2) for _ in range(n)]], "y": n % 3}) + "\n")
    mod, _ = compare.check_against_cdlc(path, tmp, examples=9, data=data, f32_backend="interp")
    table = mod._halves_table(16)
    assert table["root"].tolist() == [2 * n - 2 for n in range(1, 17)]


HALVED = """import std.layers

model m(xs: List(R[2])) -> R[2] {
  param s0: R[4] = normal(0.5)
  dense[4, 2](hylo treenn[4, 4] by halves (unfold mealy[2, 4, 4] from s0 over xs))
}

train m {
  data = jsonl("data.jsonl")
  loss = cross_entropy
  optim = sgd(lr = 0.1)
}
"""


def test_halves_over_an_unfolds_outputs_equals_cdlc_grad(tmp_path):
    """A hylomorphism by halves over a list computed by an unfold (every
    length from 1 to 9, so each split tree is met) against `cdlc grad`."""
    tmp = str(tmp_path)
    rng = random.Random(5)
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for n in range(1, 10):
            f.write(json.dumps({"x": [vec(rng, 2) for _ in range(n)], "y": n % 2}) + "\n")
    path = os.path.join(tmp, "case.cdl")
    with open(path, "w") as f:
        f.write(HALVED)
    # The JIT does not compile this hylomorphism: f32 against the interpreter.
    compare.check_against_cdlc(path, tmp, examples=9, data=data, f32_backend="interp")
