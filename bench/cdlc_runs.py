"""Running `bench/run` and reading its report: shared by `bench/compare`
and `bench/threads`."""
import os
import subprocess


def pinned(cpus, argv):
    """`argv` pinned to the CPU list `cpus` with taskset."""
    return ["taskset", "-c", cpus] + argv


def key_values(text):
    """The `key: value` lines of a `cdlc bench` report."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(": ")
        if sep:
            out[k.strip()] = v.strip()
    return out


def run_cdlc(cpus, w, setting, min_time):
    """One `bench/run W` with `--threads setting` (`default`: no flag, so
    cdlc's `auto`), pinned to `cpus`; its record, or one with `error`."""
    argv = ["bench/run", w, "--min-time", str(min_time)]
    if setting != "default":
        argv += ["--threads", setting]
    env = dict(os.environ)
    env.pop("CDLC_THREADS", None)
    load = os.getloadavg()[0]
    p = subprocess.run(pinned(cpus, argv), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:], "loadavg": load}
    kv = key_values(p.stdout)
    if "steps_per_s" not in kv:
        return {"error": ["no steps_per_s in the output"], "loadavg": load}
    choice = "/".join(kv.get(f"threads_{k}", "?") for k in ("products", "elementwise", "rows"))
    return {
        "steps_per_s": float(kv["steps_per_s"]),
        "first_loss": kv.get("first_loss"),
        "threads": kv.get("threads"),
        "choice": choice,
        "measurements": kv.get("threads_measurements"),
        "measured_us": kv.get("threads_measured_us"),
        "split_steps": kv.get("threads_split_steps"),
        "gflops": kv.get("gflops"),
        "loadavg": load,
    }


def fmt(x):
    """A record's steps per second for a table cell."""
    if x is None:
        return "—"
    if "error" in x:
        return "failed"
    v = x["steps_per_s"]
    return f"{v:,.0f}".replace(",", " ") if v >= 100 else f"{v:.1f}"
