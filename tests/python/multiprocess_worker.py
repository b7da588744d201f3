"""One process of a two-process run under `jax.distributed.initialize`
(two simulated CPU devices each, gloo collectives), started by
test_multiprocess.py: prints the loss of the whole batch sharded over all
four devices with `shard`, and the loss after two epochs of `train`."""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

import importlib.util  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")


def main():
    pid, port, module, batch_file, init = sys.argv[1:6]
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=int(pid))
    spec = importlib.util.spec_from_file_location("exported", module)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    import jax.numpy as jnp

    params = {k: v.astype(jnp.float64) for k, v in m.load_weights(init).items()}
    examples = m.read_jsonl(batch_file)
    mesh = m.make_mesh()
    assert mesh.devices.size == 4 and jax.local_device_count() == 2
    batch = m.shard(m.encode(examples, batch_size=16, shards=mesh.devices.size), mesh)
    loss = jax.jit(m.loss)(m.replicate(params, mesh), batch)
    print(f"loss {float(loss)!r}", flush=True)
    trained = m.train(params, examples, epochs=2, batch_size=8, fraction=1.0, log=lambda line: print(line, flush=True))
    print(f"after {float(jax.jit(m.loss)(trained, batch))!r}", flush=True)


if __name__ == "__main__":
    main()
