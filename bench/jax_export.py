"""Times the exported JAX module of a benchmark workload with the peers'
protocol, beside the hand-written JAX peer in the same process tree.

Usage (from the project root, after `cdlc bench/wN.cdl --emit jax --out
M.py` and `bench/run WN` or the `bench_prepare` example have written
bench/data/):

    python bench/jax_export.py W2 M.py [--peers PEERS_DIR]

One step is the jitted `value_and_grad` of the module's `loss` and the plain
SGD update p <- p - 0.01 grad, parameters donated, on the workload's fixed
batch, in f32; the first step's loss is printed to compare with the peers'.
With `--peers`, the peer script runs the hand-written JAX version of the
same workload right after, in a fresh process, and its line follows. With
`--peers` and `--interleave N`, the peer's own jitted step (built by its
`jax_run`) runs in this process instead, alternating with the export's step
for N steps each, so that both meet the same load on a shared machine; the
line then gives both medians and their ratio.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

PEER = {"W2": "jax", "W4": "jax-levels"}


def bench(step, min_steps=20, min_time=2.0, warmup=5):
    t0 = time.perf_counter()
    loss0 = float(step())
    first = time.perf_counter() - t0
    for _ in range(warmup):
        float(step())
    times = []
    start = time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        float(step())
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"first_step_s": first, "steps": len(times), "median_steps_per_s": 1 / med, "loss_first": loss0}


def peer_step(peers, workload):
    """The peer's jitted step, as its `jax_run` builds it: the peer script's
    `bench` is replaced by one that keeps the step instead of timing it."""
    sys.path.insert(0, peers)
    import peers as peer

    kept = {}

    def keep(step, sync, *args, **kwargs):
        kept["step"], kept["sync"] = step, sync
        return {}

    peer.bench = keep
    variant = PEER[workload].split("-", 1)[1] if "-" in PEER[workload] else ""
    peer.jax_run(workload, variant, argparse.Namespace(min_steps=0, min_time=0.0))
    return lambda: kept["sync"](kept["step"]())


def interleaved(steps, n, warmup=5):
    """Median steps/s of each step function, run alternately n times each
    after `warmup` untimed calls each (and the first, compiling, call)."""
    times = [[] for _ in steps]
    for step in steps:
        for _ in range(1 + warmup):
            float(step())
    for _ in range(n):
        for k, step in enumerate(steps):
            t = time.perf_counter()
            float(step())
            times[k].append(time.perf_counter() - t)
    return [1 / statistics.median(ts) for ts in times]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("module")
    ap.add_argument("--peers", help="the folder of the peer scripts (peers.py)")
    ap.add_argument("--bucket", choices=["pow2", "exact"], default="exact")
    ap.add_argument("--interleave", type=int, metavar="N", help="with --peers: alternate N steps of each in this process")
    a = ap.parse_args()
    import jax

    jax.config.update("jax_platforms", "cpu")
    spec = importlib.util.spec_from_file_location("exported", a.module)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    stem = a.workload.lower()
    params = {k: v.astype("float32") for k, v in m.load_weights(f"bench/data/{stem}.safetensors").items()}
    # One fixed batch compiles once: "exact" pads nothing (each level of a
    # packed table at its own width); "pow2" is what training uses.
    bucket, levels = (m.exact_bucket, "own") if a.bucket == "exact" else (m.pow2_bucket, "common")
    batch = jax.device_put(m.encode(m.read_jsonl(f"bench/data/{stem}.jsonl"), bucket=bucket, dtype="float32", levels=levels))

    def update(p, b):
        l, g = jax.value_and_grad(m.loss)(p, b)
        return jax.tree_util.tree_map(lambda x, y: x - 0.01 * y, p, g), l

    update = jax.jit(update, donate_argnums=(0,))
    state = {"p": params}

    def step():
        state["p"], l = update(state["p"], batch)
        return l

    if a.peers and a.interleave:
        ours, theirs = interleaved([step, peer_step(os.path.abspath(a.peers), a.workload)], a.interleave)
        r = {"workload": a.workload, "interleaved_steps": a.interleave, "export_steps_per_s": ours}
        r.update({"peer": PEER[a.workload], "peer_steps_per_s": theirs, "peer_over_export": theirs / ours})
        r["loadavg"] = os.getloadavg()[0]
        print(json.dumps(r))
        return
    r = bench(step)
    r.update({"workload": a.workload, "framework": f"cdlc-export ({a.bucket} buckets)"})
    print(json.dumps(r))
    if a.peers:
        env = dict(os.environ, PYTHONPATH=a.peers)
        out = subprocess.run(
            [sys.executable, os.path.join(a.peers, "peers.py"), "--workload", a.workload, "--framework", PEER[a.workload]],
            capture_output=True, text=True, env=env, cwd=a.peers,
        )
        print(out.stdout.strip() or out.stderr.strip())


if __name__ == "__main__":
    main()
