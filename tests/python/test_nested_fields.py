"""Nested data types (`X` under another data type: a binary tree of
children, a list of (label, subtree) pairs, an optional next link, a list
of trees of children and a pair of children; `tests/cases/grad/nested_data.cdl`),
exported and compared with `cdlc grad` on one device and on eight. The
encoder lays out each node's nested field with its children's rows where
their carriers go, and the fold gathers them there."""

import json
import os
import random

import jax
import jax.numpy as jnp
import pytest

import compare

NESTED = os.path.join(compare.ROOT, "tests", "cases", "grad", "nested_data.cdl")
ROSES = os.path.join(compare.ROOT, "tests", "cases", "grad", "nested_roses.cdl")


class Gen:
    """Random inputs of the case's four models, in cdlc's JSON form."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def vec(self):
        return [self.rng.uniform(-1, 1) for _ in range(2)]

    def tip(self):
        return {"tip": [self.vec()]}

    def tree(self, leaves):
        """A binary tree (`Tree`) over `leaves`, joined at random places."""
        ts = [{"leaf": [x]} for x in leaves]
        while len(ts) > 1:
            i = self.rng.randrange(len(ts) - 1)
            ts[i : i + 2] = [{"node": [ts[i], ts[i + 1]]}]
        return ts[0]

    def kid_tree(self, depth=3):
        if depth == 0 or self.rng.random() < 0.3:
            return self.tip()
        kids = [self.kid_tree(depth - 1) for _ in range(self.rng.randrange(1, 4))]
        return {"node": [self.vec(), self.tree(kids)]}

    def labelled(self, depth=3):
        if depth == 0 or self.rng.random() < 0.3:
            return self.tip()
        edges = [[self.vec(), self.labelled(depth - 1)] for _ in range(self.rng.randrange(0, 4))]
        return {"node": [self.vec(), edges]}

    def chain(self):
        c = {"link": [self.vec(), {"none": []}]}
        for _ in range(self.rng.randrange(0, 6)):
            c = {"link": [self.vec(), {"some": [c]}]}
        return c

    def forest(self, depth=3):
        r = self.rng.random()
        if depth == 0 or r < 0.3:
            return self.tip()
        if r < 0.6:
            return {"twin": [[self.forest(depth - 1), self.forest(depth - 1)]]}
        trees = [self.tree([self.forest(depth - 1) for _ in range(self.rng.randrange(1, 3))]) for _ in range(self.rng.randrange(0, 3))]
        return {"node": [self.vec(), trees]}

    def rose(self, depth):
        """A rose tree of bushes: each rose node holds a bush and 0-2 rose children."""
        kids = [self.rose(depth - 1) for _ in range(self.rng.randrange(0, 3))] if depth > 0 else []
        return {"rose": [self.bush(depth - 1), kids]}

    def bush(self, depth=4):
        """`Bush` of `nested_roses.cdl`: a node's field is a rose tree of its children."""
        if depth <= 0 or self.rng.random() < 0.3:
            return self.tip()
        return {"node": [self.vec(), self.rose(depth - 1)]}


def program(tmp, model, case=NESTED, make=None):
    """`case` with a train block over 12 random examples of `model`, made
    by the generator's method `make` (the model's name by default)."""
    gen = Gen(29)
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for _ in range(12):
            f.write(json.dumps({"x": getattr(gen, make or model)(), "y": gen.rng.randrange(3)}) + "\n")
    path = os.path.join(tmp, "case.cdl")
    with open(case) as f, open(path, "w") as g:
        g.write(f.read())
        g.write(f'\ntrain {model} {{\n  data = jsonl("data.jsonl")\n  loss = cross_entropy\n  optim = sgd(lr = 0.1)\n}}\n')
    return path, data


# Model -> the layout of its nested field in `DATA`.
NESTED_FIELDS = {
    "kid_tree": ("nested", ("data", "n0")),
    "labelled": ("nested", ("seqof", ("tuple", [("tensor", (2,)), ("ref",)]))),
    "chain": ("nested", ("data", "n0")),
    "forest": ("nested", ("structlist", "n0")),
}


@pytest.mark.parametrize("model", sorted(NESTED_FIELDS))
def test_nested_fields_equal_cdlc_grad_on_one_and_eight_devices(model, tmp_path):
    tmp = str(tmp_path)
    path, data = program(tmp, model)
    # The JIT does not compile these folds: f32 against the interpreter.
    mod, batch_file = compare.check_against_cdlc(path, tmp, examples=12, data=data, f32_backend="interp")
    assert mod.INPUTS[0][0] == "packed"
    fields = [f for d in mod.DATA.values() for _, fs in d["ctors"] for f in fs]
    assert NESTED_FIELDS[model] in fields, fields
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    ref, _ = compare.cdlc_grad(path, batch_file, tmp, init=init)
    params = compare.params_as(mod, init, jnp.float64)
    eight = mod.make_mesh()
    assert eight.devices.size == 8
    examples = mod.read_jsonl(batch_file)
    batch = mod.shard(mod.encode(examples, batch_size=16, shards=8), eight)
    l8, g8 = jax.jit(jax.value_and_grad(mod.loss))(mod.replicate(params, eight), batch)
    l1, g1 = jax.value_and_grad(mod.loss)(params, mod.encode(examples))
    assert abs(float(l8) - ref) <= 1e-10 * abs(ref)
    for k in g1:
        assert compare.rel_err(g8[k], g1[k]) <= 1e-10, k


def test_a_nested_field_keeps_its_children_in_order(tmp_path):
    # Two links whose labels differ only in order: the rows the encoder
    # stores for a list of (label, subtree) pairs follow the list, so
    # swapping the pairs changes the fold's result as it does in cdlc.
    tmp = str(tmp_path)
    path, _ = program(tmp, "labelled")
    mod = compare.export(path, tmp)
    a, b = {"tip": [[1.0, 0.0]]}, {"tip": [[0.0, 1.0]]}
    one = {"x": {"node": [[0.5, 0.5], [[[1.0, 0.0], a], [[0.0, 1.0], b]]]}, "y": 0}
    two = {"x": {"node": [[0.5, 0.5], [[[0.0, 1.0], b], [[1.0, 0.0], a]]]}, "y": 0}
    enc = mod.encode([one])
    rows = [r for r in jax.tree_util.tree_leaves(enc, is_leaf=mod._is_ref) if isinstance(r, mod.Ref)]
    assert rows, "the nested field stores its children's rows"
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    params = compare.params_as(mod, init, jnp.float64)
    data = os.path.join(tmp, "two.jsonl")
    with open(data, "w") as f:
        f.write(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    outs = mod.apply(params, mod.encode(mod.read_jsonl(data)))
    assert float(jnp.max(jnp.abs(outs[0] - outs[1]))) > 1e-6
    ref, _ = compare.cdlc_grad(path, data, tmp, init=init)
    assert abs(float(mod.loss(params, mod.encode(mod.read_jsonl(data)))) - ref) <= 1e-10 * abs(ref)


@pytest.mark.parametrize("model", ["bush", "cells"])
def test_rose_trees_inside_a_nested_field_equal_cdlc_grad(model, tmp_path):
    # `node(A, Rose(X))`: the field is a rose tree whose values are the
    # node's children; `cells` folds it under a (hidden, cell) carrier.
    # f64 against the interpreter, f32 against the JIT, which runs it.
    path, data = program(str(tmp_path), model, case=ROSES, make="bush")
    mod, _ = compare.check_against_cdlc(path, str(tmp_path), examples=12, data=data)
    assert mod.INPUTS[0][0] == "packed"
