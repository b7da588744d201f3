"""Data parallelism on eight simulated CPU devices: the batch sharded over a
Mesh, the parameters replicated. Loss and gradients equal one device's and
`cdlc grad`'s; 30 optimizer steps agree with one device's to 1e-10 in f64;
the compiled step sums gradients with an all-reduce; each device holds its
share of the batch; every bucket size gives the same loss."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import compare

PROGRAMS = ["mlp", "tree_sum", "mealy_parity", "ring_conv", "hylo_parity"]


def setup(name, tmp):
    program = os.path.join(compare.ROOT, "examples", name + ".cdl")
    mod, batch_file = compare.check_against_cdlc(program, tmp, examples=16)
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    return mod, mod.read_jsonl(batch_file), compare.params_as(mod, init, jnp.float64), batch_file, init


@pytest.mark.parametrize("name", PROGRAMS)
def test_eight_devices_match_one_and_cdlc(name, tmp_path):
    assert jax.device_count() == 8
    mod, examples, params, batch_file, init = setup(name, str(tmp_path))
    ref, _ = compare.cdlc_grad(os.path.join(compare.ROOT, "examples", name + ".cdl"), batch_file, str(tmp_path), init=init)
    one = mod.make_mesh(jax.devices()[:1])
    eight = mod.make_mesh()
    # One packed table per device; the same layout on one device.
    batch = mod.encode(examples, batch_size=16, shards=8)
    grad = jax.jit(jax.value_and_grad(mod.loss))
    l1, g1 = grad(mod.replicate(params, one), mod.shard(batch, one))
    sharded = mod.shard(batch, eight)
    l8, g8 = grad(mod.replicate(params, eight), sharded)
    assert abs(float(l8) - ref) <= 1e-10 * abs(ref)
    assert abs(float(l8) - float(l1)) <= 1e-12 * abs(float(l1))
    for k in g1:
        assert compare.rel_err(g8[k], g1[k]) <= 1e-10, k
    # Each device holds two of the sixteen examples.
    leaf = sharded["w"]
    assert len(leaf.addressable_shards) == 8
    assert all(s.data.shape == (2,) for s in leaf.addressable_shards)
    # The compiled step sums the devices' gradients with an all-reduce.
    step = mod.make_step(mod.optimizer())
    opt_state = mod.replicate(mod.optimizer().init(params), eight)
    hlo = step.lower(mod.replicate(params, eight), opt_state, sharded).compile().as_text()
    assert "all-reduce" in hlo


@pytest.mark.parametrize("name", ["tree_sum", "mealy_parity"])
def test_thirty_steps_on_one_and_eight_devices_agree(name, tmp_path):
    mod, examples, params, _, _ = setup(name, str(tmp_path))
    finals = []
    for mesh in (mod.make_mesh(jax.devices()[:1]), mod.make_mesh()):
        opt = mod.optimizer()
        p = mod.replicate(params, mesh)
        s = mod.replicate(opt.init(params), mesh)
        step = mod.make_step(opt)
        batch = mod.shard(mod.encode(examples, batch_size=16, shards=mesh.devices.size), mesh)
        for _ in range(30):
            p, s, _ = step(p, s, batch)
        finals.append(p)
    for k in params:
        a, b = np.asarray(finals[0][k]), np.asarray(finals[1][k])
        assert np.max(np.abs(a - b)) <= 1e-10 * max(np.max(np.abs(a)), 1e-300), k
        assert not np.allclose(a, np.asarray(params[k])), f"{k} moved"


@pytest.mark.parametrize("name", ["tree_sum", "mealy_parity", "hylo_parity"])
def test_every_bucket_size_gives_the_same_loss(name, tmp_path):
    mod, examples, params, _, _ = setup(name, str(tmp_path))
    losses = [
        float(mod.loss(params, mod.encode(examples, bucket=b, batch_size=n, shards=s)))
        for b in (mod.pow2_bucket, mod.exact_bucket, lambda k: k + 3)
        for n in (None, 24)
        for s in (1, 8)
    ]
    assert max(losses) - min(losses) <= 1e-12 * abs(losses[0]), losses


def test_a_packed_table_evaluates_each_node_once_with_exact_buckets(tmp_path):
    """With exact buckets, each level at its own width (`levels="own"`) and
    one shard, the packed schedule of a batch of trees holds exactly the
    batch's nodes: the leaves at once, then every level, with no padding
    rows; each group of nodes is a
    contiguous range of rows in the order the levels run (written as one
    slice), and every tree has its own root."""
    mod, examples, _, _, _ = setup("tree_sum", str(tmp_path))
    sched = mod.encode(examples, bucket=mod.exact_bucket, levels="own")["x"][0]
    assert "scan" not in sched
    widths = [e["idx"].shape[1] for e in sched["leaves"].values()]
    widths += [e["idx"].shape[1] for lv in sched["levels"] for e in lv.values()]
    nodes = sum(len(mod._nodes(0, e["x"])) for e in examples)
    assert sum(widths) == nodes
    assert sched["n"].shape == (1, nodes + 1)
    groups = [sched["leaves"][k] for k in sorted(sched["leaves"])]
    groups += [lv[k] for lv in sched["levels"] for k in sorted(lv)]
    rows = [r for e in groups for r in e["idx"][0].tolist()]
    assert rows == list(range(nodes))
    roots = sched["root"][0].tolist()
    assert len(set(roots)) == len(roots) == len(examples)
    # One table does not split over eight devices: `shard` says how to encode.
    with pytest.raises(ValueError, match="shards=8"):
        mod.shard(mod.encode(examples, batch_size=16), mod.make_mesh())
    # Sixteen examples do not split into three shards.
    with pytest.raises(ValueError, match="3 shards"):
        mod.encode(examples, shards=3)
