#!/usr/bin/env python3
"""f32 GFLOP/s of one product C = A B in JAX (or PyTorch) at given shapes and
layouts, for comparison with `cargo run --release -p cdlc-runtime --example
gemm_shapes` (same shape syntax).

usage: gemm_shapes.py [--lib jax|torch] [--min-time S] [MxKxN[:ab] ...]

A shape's `:ab` says how A and B are stored, `r` row-major, `c` column-major
(the transpose of a row-major array, as `x @ w.T` reads a layer's stored
weights); the default is `rr`. Without shapes: W1's forward `128x784x256:rc`
and weight gradient `256x128x784:cr`, then squares of 128 and 256. One thread:
run under `taskset -c 0` (XLA sizes its pool to the visible processors);
PyTorch is set to one thread. Each call is timed alone and the median of at
least 10 calls over `--min-time` seconds is reported.
"""
import argparse
import os
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--lib", default="jax", choices=["jax", "torch"])
ap.add_argument("--min-time", type=float, default=1.0)
ap.add_argument("shapes", nargs="*")
a = ap.parse_args()

import numpy as np  # noqa: E402

shapes = a.shapes or ["128x784x256:rc", "256x128x784:cr", "128x128x128", "256x256x256"]
rng = np.random.default_rng(0)


def operand(rows, cols, column_major):
    """A rows x cols float32 array, stored transposed when column_major."""
    x = rng.uniform(-1, 1, (cols, rows) if column_major else (rows, cols)).astype(np.float32)
    return x, column_major


if a.lib == "torch":
    import torch

    torch.set_num_threads(1)

    def prepare(x, y):
        (xa, xt), (ya, yt) = x, y
        xa, ya = torch.from_numpy(xa), torch.from_numpy(ya)

        def f():
            torch.mm(xa.t() if xt else xa, ya.t() if yt else ya)
        return f
else:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")

    def prepare(x, y):
        (xa, xt), (ya, yt) = x, y
        xa, ya = jnp.asarray(xa), jnp.asarray(ya)
        mm = jax.jit(lambda p, q: (p.T if xt else p) @ (q.T if yt else q))

        def f():
            mm(xa, ya).block_until_ready()
        return f

for s in shapes:
    dims, _, layout = s.partition(":")
    layout = layout or "rr"
    m, k, n = (int(v) for v in dims.split("x"))
    f = prepare(operand(m, k, layout[0] == "c"), operand(k, n, layout[1] == "c"))
    for _ in range(3):
        f()
    times = []
    t0 = time.perf_counter()
    while len(times) < 10 or time.perf_counter() - t0 < a.min_time:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    gf = 2.0 * m * k * n / statistics.median(times) / 1e9
    print(f"{m}x{k}x{n}:{layout:<3} {a.lib}: {gf:6.1f} GFLOP/s (median of {len(times)} calls, "
          f"load {os.getloadavg()[0]:.1f})")
