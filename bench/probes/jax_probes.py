#!/usr/bin/env python3
"""JAX peers of the probes in this folder, written the way a JAX user
would: `ring` (ring_wide.cdl: conv_general_dilated on the circularly
padded signal), `p4` (p4_large.cdl: the rotated filter bank built every
step, one 2-d convolution per layer on the circularly padded image) and
`transformer` (transformer.cdl: two heads, layer norms, a perceptron).
Same shapes as the programs, their own random data, one XLA thread; one
step is forward, backward and SGD (lr 0.01) in f32.

usage: jax_probes.py ring|p4|transformer

Prints the median steps per second and the CPU time per timed step
(compare the latter with cdlc's under load: run both pinned to one CPU).
"""
import os
import statistics
import sys
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

which = sys.argv[1]
rng = np.random.default_rng(0)


def g(*s):
    return jnp.asarray(rng.normal(0, 0.1, s), jnp.float32)


if which == "ring":
    B, Ci, H, N, T = 64, 16, 64, 256, 7
    x = jnp.asarray(rng.uniform(-1, 1, (B, Ci, N)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, B))
    p = {"K1": jnp.asarray(rng.normal(0, 0.1, (H, Ci, T)), jnp.float32), "b1": jnp.zeros((H,), jnp.float32),
         "K2": jnp.asarray(rng.normal(0, 0.05, (H, H, T)), jnp.float32), "b2": jnp.zeros((H,), jnp.float32),
         "W": jnp.asarray(rng.normal(0, 0.1, (10, H)), jnp.float32), "c": jnp.zeros((10,), jnp.float32)}
    def conv(h, K):
        h = jnp.concatenate([h[..., -3:], h, h[..., :3]], axis=-1)
        return jax.lax.conv_general_dilated(h, K, (1,), "VALID", dimension_numbers=("NCH", "OIH", "NCH"))
    def loss(p):
        h = jax.nn.relu(conv(x, p["K1"]) + p["b1"][None, :, None])
        h = jax.nn.relu(conv(h, p["K2"]) + p["b2"][None, :, None])
        o = h.sum(-1) @ p["W"].T + p["c"]
        return -jnp.mean(jax.nn.log_softmax(o)[jnp.arange(B), y])
elif which == "p4":
    B, S, C = 32, 28, 16
    x = jnp.asarray(rng.uniform(-1, 1, (B, 1, S, S)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 4, B))
    p = {"K1": jnp.asarray(rng.normal(0, 0.3, (C, 1, 3, 3)), jnp.float32), "b1": jnp.zeros((C,), jnp.float32),
         "K2": jnp.asarray(rng.normal(0, 0.05, (C, C, 4, 3, 3)), jnp.float32), "b2": jnp.zeros((C,), jnp.float32),
         "W": jnp.asarray(rng.normal(0, 0.1, (4, C)), jnp.float32), "c": jnp.zeros((4,), jnp.float32)}
    def pad(h):
        return jnp.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap")
    def conv(h, K):
        return jax.lax.conv_general_dilated(pad(h), K, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    def loss(p):
        # lifting: 4 rotated copies of the filter
        K1 = jnp.concatenate([jnp.rot90(p["K1"], r, axes=(2, 3)) for r in range(4)], 0)  # [4C,1,3,3]
        h = jax.nn.relu(conv(x, K1) + jnp.tile(p["b1"], 4)[None, :, None, None])  # [B, 4C, S, S]
        banks = []
        for r in range(4):
            Kr = jnp.roll(jnp.rot90(p["K2"], r, axes=(3, 4)), r, axis=2)  # [C, C, 4, 3, 3]
            banks.append(Kr.reshape(C, 4 * C, 3, 3))
        K2 = jnp.concatenate(banks, 0)
        h = jax.nn.relu(conv(h, K2) + jnp.tile(p["b2"], 4)[None, :, None, None])
        o = h.sum((2, 3)).reshape(B, 4, C).sum(1) @ p["W"].T + p["c"]
        return -jnp.mean(jax.nn.log_softmax(o)[jnp.arange(B), y])
elif which == "transformer":
    B, d, k, h, n = 64, 64, 16, 128, 32
    x = jnp.asarray(rng.uniform(-1, 1, (B, n, d)), jnp.float32)  # points first
    y = jnp.asarray(rng.integers(0, 10, B))
    p = {"h0": {"q": g(d, k), "k": g(d, k), "v": g(d, k), "o": g(k, d), "s": jnp.ones(())},
         "h1": {"q": g(d, k), "k": g(d, k), "v": g(d, k), "o": g(k, d), "s": jnp.ones(())},
         "n1g": jnp.ones(d), "n1b": jnp.zeros(d), "n2g": jnp.ones(d), "n2b": jnp.zeros(d),
         "W1": g(d, h), "b1": jnp.zeros(h), "W2": g(h, d), "b2": jnp.zeros(d), "W": g(d, 10), "c": jnp.zeros(10)}
    def head(q, x):
        s = q["s"] * (x @ q["q"]) @ jnp.swapaxes(x @ q["k"], -1, -2)
        a = jax.nn.softmax(s, axis=-1)
        return (a @ (x @ q["v"])) @ q["o"]
    def norm(x, g_, b_):
        c = x - x.mean(-1, keepdims=True)
        return g_ * c / jnp.sqrt((c * c).mean(-1, keepdims=True) + 1e-5) + b_
    def loss(p):
        y1 = norm(x + head(p["h0"], x) + head(p["h1"], x), p["n1g"], p["n1b"])
        y2 = norm(y1 + jax.nn.relu(y1 @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"], p["n2g"], p["n2b"])
        o = y2.sum(1) @ p["W"] + p["c"]
        return -jnp.mean(jax.nn.log_softmax(o)[jnp.arange(B), y])
else:
    sys.exit(f"no probe {which}: ring, p4 or transformer")


@jax.jit
def step(p):
    lv, gr = jax.value_and_grad(loss)(p)
    return lv, jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, p, gr)


lv, p = step(p)
lv.block_until_ready()
for _ in range(3):
    lv, p = step(p)
lv.block_until_ready()
ts = []
t0 = time.perf_counter()
c0 = time.process_time()
while len(ts) < 5 or time.perf_counter() - t0 < 3:
    t = time.perf_counter()
    lv, p = step(p)
    lv.block_until_ready()
    ts.append(time.perf_counter() - t)
cpu = 1000 * (time.process_time() - c0) / len(ts)
print(f"{which}: {1 / statistics.median(ts):.2f} steps/s, {cpu:.2f} ms of CPU per step")
