"""Bounded compilation: `encode` pads every shape of a batch to a bucket (a
packed table's level count and one width per constructor too), so that a
data set of many shapes compiles a few programs. Padded and unpadded
batches give `cdlc grad`'s loss and gradients; training steps over a data
set of many shapes compile once per signature of shapes, and there are few."""

import json
import os
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import compare
from test_structures import ROSE, program_with_train, rose


def example(name):
    return os.path.join(compare.ROOT, "examples", name + ".cdl")


def signature(batch):
    """What a jitted function's cache is keyed on: the tree and every shape."""
    leaves, tree = jax.tree_util.tree_flatten(batch)
    return str(tree), tuple((np.shape(a), np.asarray(a).dtype.str) for a in leaves)


def batches(mod, examples, size, **kw):
    return [mod.encode(examples[at : at + size], batch_size=size, **kw) for at in range(0, len(examples), size)]


def binary_tree(rng, depth):
    """A random tree of `tree_sum`'s type, at most `depth` levels deep."""
    if depth == 0 or rng.random() < 0.25:
        return {"leaf": [[rng.uniform(-1, 1) for _ in range(5)]]}
    return {"node": [binary_tree(rng, depth - 1), binary_tree(rng, depth - 1)]}


def many_trees(n, seed, depth=10):
    """`tree_sum` examples of many shapes: depths below `depth`, bushy or thin."""
    rng = random.Random(seed)
    return [{"x": binary_tree(rng, rng.randrange(depth)), "y": rng.randrange(5)} for _ in range(n)]


def rose_program(tmp, n, seed):
    rng = random.Random(seed)
    ex = [{"x": rose(rng, 2), "y": rng.randrange(3)} for _ in range(n)]
    return program_with_train(ROSE, tmp, "elman_tree", "cross_entropy", ex), ex


def data_set(name, tmp):
    """(program, module, examples, batch size): the example's own data, or
    for a rose tree and for `tree_sum`, data of many shapes."""
    if name == "rose":
        program, ex = rose_program(tmp, 200, 11)
        return program, compare.export(program, tmp), ex, 8
    mod = compare.export(example(name), tmp)
    if name == "tree_sum":
        return example(name), mod, many_trees(200, 5), 8
    ex = mod.read_jsonl(os.path.join(os.path.dirname(mod.__file__), "model.jsonl"))
    return example(name), mod, ex, mod.TRAIN["batch"]


# (example, kind of input, the most signatures its data may give)
SHAPES = [
    ("labelled_trees", "packed", 6),
    ("tree_sum", "packed", 8),
    ("rose", "packed", 4),
    ("hylo_parity", "list", 4),
    ("mealy_parity", "list", 4),
]


@pytest.mark.parametrize("name,kind,most", SHAPES)
def test_a_data_set_of_many_shapes_encodes_to_few_signatures(name, kind, most, tmp_path):
    """Every batch of the data set, with the default buckets: at most `most`
    signatures. Packed tables with each level at its own width
    (`levels="own"`) give more, which is what the common widths remove."""
    _, mod, ex, size = data_set(name, str(tmp_path))
    assert mod.INPUTS[0][0] == kind
    common = {signature(b) for b in batches(mod, ex, size)}
    assert len(common) <= most, f"{len(common)} signatures over {-(-len(ex) // size)} batches"
    if name in ("labelled_trees", "tree_sum", "hylo_parity"):
        own = {signature(b) for b in batches(mod, ex, size, levels="own")}
        assert len(own) > 2 * len(common), (len(own), len(common))


@pytest.mark.parametrize("name", ["labelled_trees", "tree_sum", "rose", "hylo_parity"])
def test_padded_and_unpadded_batches_equal_cdlc_grad(name, tmp_path):
    """One batch encoded with the default buckets (common level widths,
    padding levels and rows) and with none (exact lengths, each level at
    its own width): loss and every gradient equal `cdlc grad`'s, f64 with
    the interpreter to 1e-10 relative, f32 to 1e-4 (the JIT, or the
    interpreter where the JIT does not fold the model)."""
    tmp = str(tmp_path)
    program, mod, ex, _ = data_set(name, tmp)
    batch_file = os.path.join(os.path.dirname(mod.__file__), f"shapes-{name}.jsonl")
    examples = ex[:12]
    with open(batch_file, "w") as f:
        for e in examples:
            f.write(json.dumps(e) + "\n")
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    padded = mod.encode(examples)
    exact = mod.encode(examples, bucket=mod.exact_bucket, levels="own")
    if mod.INPUTS[0][0] == "packed":
        # The default really pads: more rows than the batch has nodes.
        assert padded["x"][0]["n"].shape[1] > exact["x"][0]["n"].shape[1]
    f32_backend = "interp" if name == "rose" else "jit"
    for dtype, backend, tol in (("f64", "interp", 1e-10), ("f32", f32_backend, 1e-4)):
        ref, gpath = compare.cdlc_grad(program, batch_file, tmp, dtype=dtype, backend=backend, init=init)
        g_ref = mod.load_weights(gpath)
        params = compare.params_as(mod, init, jnp.float64 if dtype == "f64" else jnp.float32)
        for batch in (padded, exact):
            l, g = jax.value_and_grad(mod.loss)(params, batch)
            assert abs(float(l) - ref) <= tol * abs(ref), f"{dtype}: loss {float(l)} against cdlc's {ref}"
            for p, _ in mod.PARAMS:
                err = compare.rel_err(g[p], g_ref[p])
                assert err <= tol, f"{dtype}: gradient of {p}: relative error {err:.3e}"


def test_training_steps_compile_once_per_signature(tmp_path):
    """Steps over 10 batches of trees of depths 0 to 7: the step compiles
    once per signature (the module's counter), 3 times in all, and its
    loss equals that of a batch without padding."""
    mod = compare.export(example("tree_sum"), str(tmp_path))
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    params = compare.params_as(mod, init, jnp.float64)
    opt = mod.optimizer()
    state = opt.init(params)
    step = mod.make_step(opt)
    before = mod.COMPILES["step"]
    ex = many_trees(160, 5, depth=8)
    padded = batches(mod, ex, 16)
    losses = [float(step(params, state, b)[2]) for b in padded]
    compiled = mod.COMPILES["step"] - before
    assert compiled == len({signature(b) for b in padded}) <= 4, compiled
    exact = mod.encode(ex[:16], bucket=mod.exact_bucket, levels="own")
    assert abs(losses[0] - float(mod.loss(params, exact))) <= 1e-12 * abs(losses[0])
