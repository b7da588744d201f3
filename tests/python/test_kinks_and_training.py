"""Derivatives at kinks equal cdlc's (relu and abs at 0, ties in max, norm
at 0), where JAX's own would differ; the exported module trains from the
command line and reaches the validation accuracy cdlc reaches."""

import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

import compare

KINKS = """model kinks(x: R[4]) -> R[4] {
  param W: R[4, 4] = ones
  param b: R[4] = zeros
  let h = W @ x + b in relu(h) + abs(h) + max(h) * x + norm(h) * x
}

train kinks {
  data = jsonl("kinks.jsonl")
  loss = mse
  optim = sgd(lr = 0.1)
}
"""


def test_derivatives_at_kinks_are_cdlc_s(tmp_path):
    tmp = str(tmp_path)
    program = os.path.join(tmp, "kinks.cdl")
    with open(program, "w") as f:
        f.write(KINKS)
    # W @ x + b is exactly 0 in every entry: every kink at once.
    with open(os.path.join(tmp, "kinks.jsonl"), "w") as f:
        f.write('{"x": [1.0, -1.0, 1.0, -1.0], "y": [1.0, 2.0, 3.0, 4.0]}\n')
    mod, batch_file = compare.check_against_cdlc(program, tmp, examples=1, data=os.path.join(tmp, "kinks.jsonl"))
    params = compare.params_as(mod, os.path.join(os.path.dirname(mod.__file__), "model.init.safetensors"), jnp.float64)
    g = jax.grad(mod.loss)(params, mod.encode(mod.read_jsonl(batch_file)))
    # Only max's first maximal entry passes a derivative back to b.
    db = np.asarray(g[[k for k in g if k.split(".")[-1] == "b"][0]])
    assert db[0] != 0 and np.all(db[1:] == 0), db
    # JAX's own abs and max would give other numbers here.
    h = jnp.zeros(4)
    assert float(jax.grad(lambda h: jnp.sum(jnp.abs(h)))(h)[0]) == 1.0
    assert float(jax.grad(lambda h: jnp.max(h))(h)[1]) != 0.0


def test_python_m_py_trains_and_reaches_cdlc_s_validation_accuracy(tmp_path):
    tmp = str(tmp_path)
    program = os.path.join(compare.ROOT, "examples", "mlp.cdl")
    out = os.path.join(tmp, "m.py")
    compare.run(program, "--emit", "jax", "--out", out, cwd=tmp)
    epochs = "6"
    p = subprocess.run([sys.executable, out, "--epochs", epochs], cwd=tmp, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith("epoch")]
    assert len(lines) == 6
    assert all("train_loss" in l and "val_loss" in l and "val_accuracy" in l for l in lines)
    jax_acc = float(re.search(r"val_accuracy ([0-9.]+)%", lines[-1]).group(1))
    ours = compare.run(program, "--emit", "jit", "--epochs", epochs, "--out", os.path.join(tmp, "run"), cwd=tmp)
    with open(os.path.join(tmp, "run", "metrics.csv")) as f:
        rows = [r.split(",") for r in f.read().strip().splitlines()]
    col = rows[0].index("val_accuracy")
    cdlc_acc = 100 * float(rows[-1][col])
    # Same data, split, order, initial weights and optimizer: the two runs
    # end close together (f32 rounding differs), and both learn.
    assert abs(jax_acc - cdlc_acc) <= 3.0, (jax_acc, cdlc_acc)
    assert jax_acc >= 80.0, lines[-1]
    # The weights JAX trained run in cdlc.
    trained = os.path.join(tmp, "m.weights.safetensors")
    outputs = compare.run("run", program, "--weights", trained, "--input", os.path.join(tmp, "m.jsonl"), cwd=tmp)
    assert len(outputs.splitlines()) == 3000
