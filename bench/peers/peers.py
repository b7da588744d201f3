#!/usr/bin/env python3
"""JAX and PyTorch peers of the workloads W6-W10, written the way a user of
each framework would write them.

usage: peers.py --workload W6 --framework jax [--min-steps 20] [--min-time 2]

frameworks:
  W6 GRU over lists of 16-64 steps: jax (lax.scan over the padded batch,
     a mask keeps each list's state after its end), torch (a loop over the
     padded steps with the same mask)
  W7 binary Tree-LSTM: jax-levels (all leaves at once, then one gather and
     one product per height, jitted), torch (the natural recursion, one node
     at a time)
  W8 ring convolutions: jax (conv_general_dilated on the circularly padded
     signal), torch (conv1d after circular padding)
  W9 p4 group convolution: jax, torch (the rotated filter bank built every
     step, one 2-d convolution per layer on the circularly padded image)
  W10 small GRU over lists of 5-40 steps: as W6

One step is forward, backward and SGD (lr 0.01) on every parameter, in f32,
with the mean softmax cross-entropy, on one fixed batch. The first step is
timed alone (it includes tracing and compiling), then 5 untimed steps, then
at least --min-steps steps and --min-time seconds, each timed on its own.
Prints one JSON line: median_steps_per_s, cpu_util, loss_first, ... PEERS_THREADS
(default 2) sets the threads of every library (with 1, XLA's Eigen
products and convolutions run on the calling thread).
"""
import argparse
import json
import os
import statistics
import sys
import time

THREADS = os.environ.get("PEERS_THREADS", "2")
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, THREADS)
if THREADS == "1":
    # XLA:CPU sizes its pool from the visible CPUs; this keeps its
    # products and convolutions on the calling thread.
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import data  # noqa: E402

LR = 0.01
FRAMEWORKS = {
    "W6": ("jax", "torch"),
    "W7": ("jax-levels", "torch"),
    "W8": ("jax", "torch"),
    "W9": ("jax", "torch"),
    "W10": ("jax", "torch"),
}


def timed(step, min_steps, min_time):
    """Runs the protocol; `step()` returns the loss as a float."""
    t = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t
    for _ in range(5):
        step()
    times = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    last = first_loss
    while len(times) < min_steps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        last = step()
        times.append(time.perf_counter() - t)
    # CPUs used while timed: the process's CPU time over the wall time.
    cpu_util = (time.process_time() - cpu_start) / (time.perf_counter() - start)
    median = statistics.median(times)
    return dict(first_step_s=first, steps=len(times), median_step_s=median,
                median_steps_per_s=1.0 / median, cpu_util=cpu_util, loss_first=first_loss,
                loss_last=last)


# ====================================================================== JAX

def jax_loss(workload):
    """The workload's parameters, batch and loss function, in JAX."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def cross_entropy(logits, y):
        picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    if workload in ("W6", "W10"):
        p, d = data.w6() if workload == "W6" else data.w10()
        mask = np.arange(d["x"].shape[1])[:, None] < d["lengths"][None, :]

        def loss(p, x, mask, y):
            def cell(h, inputs):
                xt, m = inputs
                z = jax.nn.sigmoid(h @ p["Wz"].T + xt @ p["Uz"].T + p["bz"])
                r = jax.nn.sigmoid(h @ p["Wr"].T + xt @ p["Ur"].T + p["br"])
                c = jnp.tanh((r * h) @ p["Wc"].T + xt @ p["Uc"].T + p["bc"])
                return jnp.where(m[:, None], (1 - z) * h + z * c, h), None
            h0 = jnp.broadcast_to(p["h0"], (x.shape[0], p["h0"].shape[0]))
            h, _ = lax.scan(cell, h0, (jnp.swapaxes(x, 0, 1), mask))
            return cross_entropy(h @ p["V"].T + p["c"], y)
        return p, (d["x"], mask, d["y"].astype(np.int32)), loss

    if workload == "W7":
        p, d = data.w7()
        n_trees, n_leaves, _ = d["leaves"].shape
        levels, roots, size = data.tree_levels(d["trees"], n_leaves)
        gates = ("i", "l", "r", "o", "u")

        def loss(p, leaves, y):
            x = leaves.reshape(n_trees * n_leaves, -1)
            c = jax.nn.sigmoid(x @ p["Ei"].T + p["ci"]) * jnp.tanh(x @ p["Eu"].T + p["cu"])
            h = jax.nn.sigmoid(x @ p["Eo"].T + p["co"]) * jnp.tanh(c)
            hs = jnp.zeros((size, h.shape[1]), jnp.float32).at[:x.shape[0]].set(h)
            cs = jnp.zeros((size, h.shape[1]), jnp.float32).at[:x.shape[0]].set(c)
            left = jnp.concatenate([p["L" + g] for g in gates]).T
            right = jnp.concatenate([p["R" + g] for g in gates]).T
            bias = jnp.concatenate([p["b" + g] for g in gates])
            at = x.shape[0]
            for li, ri in levels:
                pre = hs[li] @ left + hs[ri] @ right + bias
                i, fl, fr, o, u = jnp.split(pre, 5, axis=1)
                c = (jax.nn.sigmoid(i) * jnp.tanh(u) + jax.nn.sigmoid(fl) * cs[li]
                     + jax.nn.sigmoid(fr) * cs[ri])
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                hs = hs.at[at:at + len(li)].set(h)
                cs = cs.at[at:at + len(li)].set(c)
                at += len(li)
            return cross_entropy(hs[roots] @ p["V"].T + p["d"], y)
        return p, (d["leaves"], d["y"].astype(np.int32)), loss

    if workload == "W8":
        p, d = data.w8()

        def conv(x, k, b):
            r = k.shape[2] // 2
            xp = jnp.concatenate([x[..., -r:], x, x[..., :r]], axis=-1)
            y = lax.conv_general_dilated(xp, k, (1,), "VALID",
                                         dimension_numbers=("NCH", "OIH", "NCH"))
            return jax.nn.relu(y + b[None, :, None])

        def loss(p, x, y):
            h = conv(conv(x, p["K1"], p["b1"]), p["K2"], p["b2"])
            return cross_entropy(jnp.sum(h, axis=2) @ p["V"].T + p["c"], y)
        return p, (d["x"], d["y"].astype(np.int32)), loss

    if workload == "W9":
        p, d = data.w9()

        def conv(x, w, b):
            xp = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap")
            y = lax.conv_general_dilated(xp, w, (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
            return jax.nn.relu(y + jnp.repeat(b, 4)[None, :, None, None])

        def loss(p, x, y):
            k = p["F1"].shape[0]
            lift = jnp.stack([jnp.rot90(p["F1"], -t, axes=(1, 2)) for t in range(4)], axis=1)
            h = conv(x[:, None], lift.reshape(4 * k, 1, 3, 3), p["b1"])
            bank = jnp.stack([jnp.rot90(jnp.roll(p["F2"], t, axis=2), -t, axes=(3, 4))
                              for t in range(4)], axis=1)
            h = conv(h, bank.reshape(4 * k, 4 * k, 3, 3), p["b2"])
            return cross_entropy(jnp.sum(h, axis=(2, 3)).reshape(x.shape[0], k, 4).sum(2)
                                 @ p["V"].T + p["c"], y)
        return p, (d["x"], d["y"].astype(np.int32)), loss
    raise SystemExit(f"unknown workload {workload}")


def run_jax(workload, a):
    import jax
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    p, batch, loss = jax_loss(workload)

    def sgd(p, *batch):
        value, g = jax.value_and_grad(loss)(p, *batch)
        return jax.tree_util.tree_map(lambda w, dw: w - LR * dw, p, g), value
    step_fn = jax.jit(sgd, donate_argnums=(0,))
    state = {"p": {k: jnp.asarray(v) for k, v in p.items()}}
    batch = tuple(jnp.asarray(v) for v in batch)

    def step():
        state["p"], value = step_fn(state["p"], *batch)
        return float(jax.block_until_ready(value))
    return timed(step, a.min_steps, a.min_time), {"jax": jax.__version__}


# ================================================================== PyTorch

def torch_loss(workload, torch):
    """The workload's parameters, batch and loss function, in PyTorch."""
    import torch.nn.functional as F
    T = torch.tensor

    if workload in ("W6", "W10"):
        p, d = data.w6() if workload == "W6" else data.w10()
        x = T(d["x"]).transpose(0, 1).contiguous()
        mask = T(np.arange(x.shape[0])[:, None] < d["lengths"][None, :])

        def loss(p, y):
            h = p["h0"].expand(x.shape[1], -1)
            for t in range(x.shape[0]):
                xt = x[t]
                z = torch.sigmoid(h @ p["Wz"].T + xt @ p["Uz"].T + p["bz"])
                r = torch.sigmoid(h @ p["Wr"].T + xt @ p["Ur"].T + p["br"])
                c = torch.tanh((r * h) @ p["Wc"].T + xt @ p["Uc"].T + p["bc"])
                h = torch.where(mask[t][:, None], (1 - z) * h + z * c, h)
            return F.cross_entropy(h @ p["V"].T + p["c"], y)
        return p, T(d["y"]), loss

    if workload == "W7":
        p, d = data.w7()
        leaves = T(d["leaves"])

        def encode(p, n, t):
            if n.leaf is not None:
                x = leaves[t, n.leaf]
                c = torch.sigmoid(p["Ei"] @ x + p["ci"]) * torch.tanh(p["Eu"] @ x + p["cu"])
                return torch.sigmoid(p["Eo"] @ x + p["co"]) * torch.tanh(c), c
            hl, cl = encode(p, n.left, t)
            hr, cr = encode(p, n.right, t)

            def gate(g):
                return p["L" + g] @ hl + p["R" + g] @ hr + p["b" + g]
            c = (torch.sigmoid(gate("i")) * torch.tanh(gate("u"))
                 + torch.sigmoid(gate("l")) * cl + torch.sigmoid(gate("r")) * cr)
            return torch.sigmoid(gate("o")) * torch.tanh(c), c

        def loss(p, y):
            roots = torch.stack([encode(p, tr, t)[0] for t, tr in enumerate(d["trees"])])
            return F.cross_entropy(roots @ p["V"].T + p["d"], y)
        return p, T(d["y"]), loss

    if workload == "W8":
        p, d = data.w8()
        x = T(d["x"])

        def conv(x, k, b):
            r = k.shape[2] // 2
            return torch.relu(F.conv1d(F.pad(x, (r, r), mode="circular"), k, b))

        def loss(p, y):
            h = conv(conv(x, p["K1"], p["b1"]), p["K2"], p["b2"])
            return F.cross_entropy(h.sum(2) @ p["V"].T + p["c"], y)
        return p, T(d["y"]), loss

    if workload == "W9":
        p, d = data.w9()
        x = T(d["x"])[:, None]

        def conv(x, w, b):
            xp = F.pad(x, (1, 1, 1, 1), mode="circular")
            return torch.relu(F.conv2d(xp, w, b.repeat_interleave(4)))

        def loss(p, y):
            k = p["F1"].shape[0]
            lift = torch.stack([torch.rot90(p["F1"], -t, (1, 2)) for t in range(4)], 1)
            h = conv(x, lift.reshape(4 * k, 1, 3, 3), p["b1"])
            bank = torch.stack([torch.rot90(torch.roll(p["F2"], t, 2), -t, (3, 4))
                                for t in range(4)], 1)
            h = conv(h, bank.reshape(4 * k, 4 * k, 3, 3), p["b2"])
            pooled = h.sum((2, 3)).reshape(x.shape[0], k, 4).sum(2)
            return F.cross_entropy(pooled @ p["V"].T + p["c"], y)
        return p, T(d["y"]), loss
    raise SystemExit(f"unknown workload {workload}")


def run_torch(workload, a):
    import torch
    torch.set_num_threads(int(THREADS))
    p, y, loss = torch_loss(workload, torch)
    params = {k: torch.tensor(v).requires_grad_() for k, v in p.items()}
    opt = torch.optim.SGD(list(params.values()), lr=LR)

    def step():
        opt.zero_grad(set_to_none=True)
        value = loss(params, y)
        value.backward()
        opt.step()
        return float(value.detach())
    return timed(step, a.min_steps, a.min_time), {"torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", required=True, choices=sorted(FRAMEWORKS))
    ap.add_argument("--framework", required=True)
    ap.add_argument("--min-steps", type=int, default=20)
    ap.add_argument("--min-time", type=float, default=2.0)
    a = ap.parse_args()
    if a.framework not in FRAMEWORKS[a.workload]:
        ap.error(f"{a.workload} runs on {', '.join(FRAMEWORKS[a.workload])}")
    run = run_jax if a.framework.startswith("jax") else run_torch
    result, versions = run(a.workload, a)
    result.update(workload=a.workload, framework=a.framework, threads=int(THREADS), **versions)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
