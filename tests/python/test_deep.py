"""A tree 100 000 levels deep, as cdlc reads it: the exported module's
`read_jsonl` reads the line (Python's parser recurses once per level, so
it is parsed on a thread sized for it), `encode` lays it out without
recursion, and the loss and every gradient equal `cdlc grad`'s (the
level scan's derivative keeps per level only what the level's nodes
read, not the node table)."""

import os

import jax
import jax.numpy as jnp

import compare

PROGRAM = """import std.layers

model m(t: Tree(R[2])) -> R[2] {
  dense[4, 2](fold treenn[2, 4] (t))
}

train m {
  data   = jsonl("d.jsonl")
  loss   = cross_entropy
  optim  = sgd(lr = 0.01)
  epochs = 1
  batch  = 2
}
"""


def tree_line(depth, cls):
    """A tree `depth` levels deep whose spine runs down the left children,
    each right child a leaf, built without recursion."""
    leaf = lambda i: '{"leaf":[[%d.5,-1.0]]}' % (i % 3)
    parts = ['{"x":'] + ['{"node":['] * depth + [leaf(depth)]
    parts += [",%s]}" % leaf(i) for i in reversed(range(depth))]
    parts.append(',"y":%d}\n' % cls)
    return "".join(parts)


def test_a_tree_100000_levels_deep_reads_encodes_and_gives_cdlcs_loss_and_gradient(tmp_path):
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "d.jsonl"), "w") as f:
        f.write(tree_line(100_000, 0) + tree_line(3, 1))
    program = os.path.join(tmp, "m.cdl")
    with open(program, "w") as f:
        f.write(PROGRAM)
    mod = compare.export(program, tmp)
    data = os.path.join(tmp, "d.jsonl")
    examples = mod.read_jsonl(data)
    assert len(examples) == 2
    batch = mod.encode(examples)
    ref, gpath = compare.cdlc_grad(program, data, tmp, init=os.path.join(tmp, "model.init.safetensors"))
    params = compare.params_as(mod, os.path.join(tmp, "model.init.safetensors"), jnp.float64)
    loss, grads = jax.jit(jax.value_and_grad(mod.loss))(params, batch)
    assert abs(float(loss) - ref) <= 1e-10 * abs(ref), f"loss {float(loss)} against cdlc's {ref}"
    g_ref = mod.load_weights(gpath)
    for name, _ in mod.PARAMS:
        err = compare.rel_err(grads[name], g_ref[name])
        assert err <= 1e-10, f"gradient of {name}: relative error {err:.3e}"
