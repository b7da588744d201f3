"""Hylomorphisms by `halves`: the trees `halves` makes of an input list are
batch-packed like input trees (one node table per device's share), and an
empty list under `halves`, wherever it sits in an example, stops `encode`
with cdlc's error, naming the example."""

import json
import os
import random
import subprocess

import jax
import pytest

import compare

HYLO = os.path.join(compare.ROOT, "examples", "hylo_parity.cdl")
NESTED = os.path.join(compare.ROOT, "tests", "cases", "grad", "nested_lists.cdl")


def test_packed_halves_trees_evaluate_each_node_once_with_exact_buckets(tmp_path):
    """With exact buckets, each level at its own width (`levels="own"`) and
    one shard, the packed table of a batch's `halves` trees holds exactly their nodes (2n - 1 for a list of n), one
    root per example; on eight shards each table holds its two examples'
    trees. Loss and gradients are checked against `cdlc grad` on 1 and 8
    devices by test_parallel.py."""
    mod, batch_file = compare.check_against_cdlc(HYLO, str(tmp_path), examples=16)
    assert mod.INPUTS[0][0] == "list" and mod.INPUTS[0][2][0] == "packed"
    examples = mod.read_jsonl(batch_file)
    lengths = [len(e["x"]) for e in examples]
    table = mod.encode(examples, bucket=mod.exact_bucket, levels="own")["x"][0]["halves"]
    groups = list(table["leaves"].values()) + [e for lv in table["levels"] for e in lv.values()]
    assert sum(e["idx"].shape[1] for e in groups) == sum(2 * n - 1 for n in lengths)
    assert len(set(table["root"][0].tolist())) == len(examples)
    eight = mod.encode(examples, bucket=mod.exact_bucket, shards=8, levels="own")["x"][0]["halves"]
    assert eight["root"].shape == (8, 2)


BAGS = """import std.layers

functor BagTreeF(A) = tip(List(A)) | node(A, X, X)
data BagTree(A) = fix BagTreeF(A)

algebra bag[d, h] : BagTreeF(R[d]) -> R[h] {
  param U: R[h, d] = glorot
  param V: R[h, h] = glorot
  tip(xs)       => tanh(hylo treenn[d, h] by halves (xs))
  node(a, l, r) => tanh(U @ a + V @ (l + r))
}

model bags(t: BagTree(R[2])) -> R[3] { fold bag[2, 3] (t) }
"""

KIDS = """import std.layers

functor KidsF(A) = tip(A) | many(A, List(X))
data Kids(A) = fix KidsF(A)

algebra kids[d, h] : KidsF(R[d]) -> R[h] {
  param E: R[h, d] = glorot
  param U: R[h, d] = glorot
  tip(a)      => tanh(E @ a)
  many(a, ks) => tanh(U @ a + hylo treenn[h, h] by halves (ks))
}

model kids_model(t: Kids(R[2])) -> R[3] { fold kids[2, 3] (t) }
"""

HALVED = """import std.layers

model halved(xs: List(R[2])) -> R[2] {
  param s0: R[4] = normal(0.5)
  dense[4, 2](hylo treenn[4, 4] by halves (unfold mealy[2, 4, 4] from s0 over xs))
}
"""


def vec(rng):
    return [rng.uniform(-1, 1), rng.uniform(-1, 1)]


def bag_tree(rng, empty):
    """A node over two tips; with `empty`, its right tip's list is empty."""
    left = {"tip": [[vec(rng) for _ in range(3)]]}
    right = {"tip": [[] if empty else [vec(rng)]]}
    return {"node": [vec(rng), left, right]}


def kids_tree(rng, empty):
    """A node of two children, one of which has none when `empty`."""
    inner = {"many": [vec(rng), []]} if empty else {"many": [vec(rng), [{"tip": [vec(rng)]}]]}
    return {"many": [vec(rng), [{"tip": [vec(rng)]}, inner]]}


# Per case: the program (a file or its text), the model, and an example
# whose list under `halves` is empty (`True`) or not.
CASES = {
    "input_list": (HYLO, "parity", lambda rng, e: [] if e else [vec(rng) for _ in range(3)]),
    "inner_list": (NESTED, "split_inner", lambda rng, e: [[vec(rng)], [] if e else [vec(rng)]]),
    "unfold_outputs": (HALVED, "halved", lambda rng, e: [] if e else [vec(rng), vec(rng)]),
    "list_field": (BAGS, "bags", bag_tree),
    "children": (KIDS, "kids_model", kids_tree),
}


def program(tmp, case):
    """The case's program with a train block over three examples, the
    second of which holds an empty list under `halves`."""
    src, model, make = CASES[case]
    rng = random.Random(8)
    with open(os.path.join(tmp, "data.jsonl"), "w") as f:
        for i in range(3):
            f.write(json.dumps({"x": make(rng, i == 1), "y": i % 2}) + "\n")
    text = open(src).read() if src.endswith(".cdl") else src
    if src == HYLO:
        text = text[: text.index("train parity")]
    path = os.path.join(tmp, "case.cdl")
    with open(path, "w") as f:
        f.write(text)
        f.write(f'\ntrain {model} {{\n  data = jsonl("data.jsonl")\n  loss = cross_entropy\n  optim = sgd(lr = 0.1)\n}}\n')
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_empty_list_under_halves_stops_encode_as_it_stops_cdlc(case, tmp_path):
    tmp = str(tmp_path)
    path = program(tmp, case)
    data = os.path.join(tmp, "data.jsonl")
    out = os.path.join(tmp, "g.safetensors")
    p = subprocess.run(
        [compare.CDLC, "grad", path, "--data", data, "--out", out, "--backend", "interp"],
        cwd=tmp,
        capture_output=True,
        text=True,
    )
    assert p.returncode != 0 and "`by halves` cannot split an empty list" in p.stderr, p.stderr
    mod = compare.export(path, tmp)
    examples = mod.read_jsonl(data)
    for shards in (1, 8):
        with pytest.raises(ValueError, match="example 1: `by halves` cannot split an empty list"):
            mod.encode(examples, batch_size=8, shards=shards)
    # Without the empty list the same module equals `cdlc grad` on 1 and 8 devices.
    kept = os.path.join(tmp, "kept.jsonl")
    with open(kept, "w") as f:
        for e in (examples[0], examples[2]):
            f.write(json.dumps(e) + "\n")
    init = os.path.join(tmp, "model.init.safetensors")
    ref, _ = compare.cdlc_grad(path, kept, tmp, init=init)
    params = compare.params_as(mod, init, jax.numpy.float64)
    for mesh in (mod.make_mesh(jax.devices()[:1]), mod.make_mesh()):
        n = mesh.devices.size
        batch = mod.shard(mod.encode(mod.read_jsonl(kept), batch_size=8, shards=n), mesh)
        loss = jax.jit(mod.loss)(mod.replicate(params, mesh), batch)
        assert abs(float(loss) - ref) <= 1e-10 * abs(ref), (n, float(loss), ref)


STREAM = """import std.layers

model streamed(z: R[2]) -> R[2] {
  let s = tanh(dense[2, 4](z))
  dense[4, 2](hylo treenn[4, 4] by halves (unfold emit[4, 4] from s take 3))
}

train streamed {
  data = jsonl("data.jsonl")
  loss = cross_entropy
  optim = sgd(lr = 0.1)
}
"""


def test_a_streams_outputs_under_halves_are_never_empty_and_equal_cdlc_grad(tmp_path):
    # `take k` emits k >= 1 outputs (cdlc refuses `take 0` with E0304), so
    # no example can stop cdlc here and the encoder checks nothing.
    tmp = str(tmp_path)
    rng = random.Random(6)
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for i in range(6):
            f.write(json.dumps({"x": vec(rng), "y": i % 2}) + "\n")
    path = os.path.join(tmp, "case.cdl")
    with open(path, "w") as f:
        f.write(STREAM)
    mod, _ = compare.check_against_cdlc(path, tmp, examples=6, data=data, f32_backend="interp")
    assert mod.NONEMPTY == []
    with open(os.path.join(tmp, "zero.cdl"), "w") as f:
        f.write(STREAM.replace("take 3", "take 0"))
    p = subprocess.run([compare.CDLC, "zero.cdl", "--emit", "jax", "--out", "z.py"], cwd=tmp, capture_output=True, text=True)
    assert p.returncode == 1 and "E0304" in p.stderr, p.stderr
