"""Writes bench/data/decoder.jsonl: 32 sequences for bench/decoder.cdl, each
64 teacher-forced decoder inputs R[32] with a class in 0..63 per position.
A fixed linear congruential generator (`rose_trees.py`'s) makes the file
the same on every machine."""

import json
import os
import sys

from rose_trees import Lcg

SEQUENCES = 32
STEPS = 64
DIM = 32
CLASSES = 64


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "data", "decoder.jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    rng = Lcg(2026)
    with open(out, "w") as f:
        for _ in range(SEQUENCES):
            xs = [[round(rng.unit(), 4) for _ in range(DIM)] for _ in range(STEPS)]
            ys = [rng.below(CLASSES) for _ in range(STEPS)]
            f.write(json.dumps({"x": xs, "y": ys}) + "\n")


if __name__ == "__main__":
    main()
