"""Shared helpers of the export tests: run cdlc, import a generated module,
compare its loss and gradients with `cdlc grad`'s."""

import importlib.util
import os
import subprocess
import sys

import numpy as np

CDLC = os.environ.get("CDLC_BIN", "cdlc")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, cwd):
    """Runs cdlc; returns its standard output, failing with its errors."""
    p = subprocess.run([CDLC, *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"cdlc {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout


_EXPORTS = {}
_CHECKS = {}


def export(program, tmp):
    """Exports `program` to tmp/model.py (with its data and initial
    weights beside it) and imports it as a fresh module. A program is
    exported once per session; later calls return the first module, whose
    files stay in the first call's folder (`mod.__file__`)."""
    if program in _EXPORTS:
        return _EXPORTS[program]
    out = os.path.join(tmp, "model.py")
    run(program, "--emit", "jax", "--out", out, cwd=tmp)
    spec = importlib.util.spec_from_file_location(f"m{abs(hash(out))}", out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _EXPORTS[program] = mod
    return mod


def cdlc_grad(program, data, tmp, dtype="f64", backend="interp", init=None):
    """`cdlc grad`'s loss and gradients ({name: array})."""
    out = os.path.join(tmp, f"grad-{backend}-{dtype}.safetensors")
    args = ["grad", program, "--data", data, "--out", out, "--backend", backend, "--dtype", dtype]
    if init:
        args += ["--init", init]
    text = run(*args, cwd=tmp)
    loss = float(text.split("loss:")[1].split()[0])
    return loss, out


def first_lines(src, dst, n):
    with open(src) as f, open(dst, "w") as g:
        for i, line in enumerate(f):
            if i >= n:
                break
            g.write(line)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.max(np.abs(b)) if b.size else 0.0, 1e-300)
    return float(np.max(np.abs(a - b)) / scale) if a.size else 0.0


def params_as(mod, path, dtype):
    import jax.numpy as jnp

    return {k: v.astype(dtype) for k, v in mod.load_weights(path).items()}


def check_against_cdlc(program, tmp, examples=16, f32=True, data=None, f32_backend="jit"):
    """Exports `program`, takes the first `examples` of its data (or `data`,
    a .jsonl path) and checks the module's loss and every gradient against
    `cdlc grad`: f64 with the interpreter to 1e-10 relative, f32 with the
    JIT (or `f32_backend`) to 1e-4. Returns the module and the f64 batch file."""
    import jax
    import jax.numpy as jnp

    key = (program, examples, data, f32, f32_backend)
    if key in _CHECKS:
        return _CHECKS[key]
    mod = export(program, tmp)
    tmp = os.path.dirname(mod.__file__)
    batch_file = os.path.join(tmp, f"batch{examples}.jsonl")
    first_lines(data or os.path.join(tmp, "model.jsonl"), batch_file, examples)
    init = os.path.join(tmp, "model.init.safetensors")
    batch = mod.encode(mod.read_jsonl(batch_file))
    for dtype, backend, tol, on in (("f64", "interp", 1e-10, True), ("f32", f32_backend, 1e-4, f32)):
        if not on:
            continue
        ref, gpath = cdlc_grad(program, batch_file, tmp, dtype=dtype, backend=backend, init=init)
        params = params_as(mod, init, jnp.float64 if dtype == "f64" else jnp.float32)
        l, g = jax.value_and_grad(mod.loss)(params, batch)
        assert l.dtype == (jnp.float64 if dtype == "f64" else jnp.float32)
        assert abs(float(l) - ref) <= tol * abs(ref), f"{dtype}: loss {float(l)} against cdlc's {ref}"
        g_ref = mod.load_weights(gpath)
        for name, _ in mod.PARAMS:
            err = rel_err(g[name], g_ref[name])
            assert err <= tol, f"{dtype}: gradient of {name}: relative error {err:.3e}"
    _CHECKS[key] = (mod, batch_file)
    return mod, batch_file
