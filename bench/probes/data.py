#!/usr/bin/env python3
"""Writes the probes' batches into bench/data/ (uniform features in
[-1, 1], uniform classes, a fixed seed): 64 signals R[16, 256] for
ring_wide.cdl and 64 point sets R[64, 32] for transformer.cdl.
p4_large.cdl generates its own images. Run from the project root."""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data")


def write(name, rows, cols, seed):
    rng = random.Random(seed)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        for _ in range(64):
            x = [[round(rng.uniform(-1, 1), 4) for _ in range(cols)] for _ in range(rows)]
            f.write(json.dumps({"x": x, "y": rng.randrange(10)}) + "\n")


write("probe_ring_wide.jsonl", 16, 256, 1)
write("probe_transformer.jsonl", 64, 32, 2)
