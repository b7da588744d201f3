"""Multi-process data parallelism: two processes under
`jax.distributed.initialize`, two devices each, compute `cdlc grad`'s loss
on a batch sharded over all four devices, and train to the same
parameters."""

import os
import socket
import subprocess
import sys

import compare


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_agree_with_cdlc(tmp_path):
    program = os.path.join(compare.ROOT, "examples", "tree_sum.cdl")
    mod, batch_file = compare.check_against_cdlc(program, str(tmp_path), examples=16)
    init = os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors")
    ref, _ = compare.cdlc_grad(program, batch_file, str(tmp_path), init=init)
    worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multiprocess_worker.py")
    port = str(free_port())
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [
        subprocess.Popen(
            [sys.executable, worker, str(i), port, mod.__file__, batch_file, init],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    losses = [float(o.split("loss ")[1].split()[0]) for o, _ in outs]
    assert all(abs(l - ref) <= 1e-10 * abs(ref) for l in losses), (losses, ref)
    after = [o.split("after ")[1].split()[0] for o, _ in outs]
    assert after[0] == after[1] and float(after[0]) < ref, after
    assert all(sum(l.startswith("epoch") for l in o.splitlines()) == 2 for o, _ in outs)
