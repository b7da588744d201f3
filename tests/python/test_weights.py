"""Weights cross between the two sides: cdlc's trained weights load into the
module and give `cdlc grad`'s loss there; weights written by the module load
into `cdlc grad` and give the module's loss and gradients."""

import os

import jax
import jax.numpy as jnp

import compare


def test_weights_round_trip_both_ways(tmp_path):
    tmp = str(tmp_path)
    program = os.path.join(compare.ROOT, "examples", "tree_sum.cdl")
    mod, batch_file = compare.check_against_cdlc(program, tmp, examples=16)
    batch = mod.encode(mod.read_jsonl(batch_file))
    # cdlc -> JAX: one epoch of cdlc training, read by the module.
    compare.run(program, "--emit", "jit", "--epochs", "1", "--out", os.path.join(tmp, "run"), cwd=tmp)
    trained = os.path.join(tmp, "run", "weights.safetensors")
    ref, _ = compare.cdlc_grad(program, batch_file, tmp, init=trained)
    p = compare.params_as(mod, trained, jnp.float64)
    assert abs(float(mod.loss(p, batch)) - ref) <= 1e-6 * abs(ref)  # cdlc trained in f32
    # JAX -> cdlc: moved weights written by the module, read by cdlc grad.
    g = jax.grad(mod.loss)(p, batch)
    moved = {k: p[k] - 0.1 * g[k] for k in p}
    path = os.path.join(tmp, "moved.safetensors")
    mod.save_weights(moved, path)
    ref, gpath = compare.cdlc_grad(program, batch_file, tmp, init=path)
    l, g2 = jax.value_and_grad(mod.loss)(moved, batch)
    assert abs(float(l) - ref) <= 1e-10 * abs(ref)
    g_ref = mod.load_weights(gpath)
    for k in moved:
        assert compare.rel_err(g2[k], g_ref[k]) <= 1e-10, k
    again = mod.load_weights(path)
    assert all(bool(jnp.all(again[k] == moved[k])) for k in moved)
