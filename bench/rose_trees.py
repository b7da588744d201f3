"""Writes bench/data/rose1000.jsonl: 16 rose trees of 1000 nodes for
bench/rose1000.cdl. Each tree grows node by node, every new node the child
of a uniformly chosen earlier one (a random recursive tree: depth about
ln 1000, children per node from 0 to about 20). Node values are R[8] with
entries in [-1, 1]; the class is the tree's index modulo 4. A fixed linear
congruential generator makes the file the same on every machine."""

import json
import os
import sys

NODES = 1000
TREES = 16
DIM = 8


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return self.state >> 11

    def below(self, n):
        return self.next() % n

    def unit(self):
        return 2.0 * (self.next() / 2**53) - 1.0


def tree(rng):
    parent = [None] + [rng.below(i) for i in range(1, NODES)]
    kids = [[] for _ in range(NODES)]
    for i in range(1, NODES):
        kids[parent[i]].append(i)
    values = [[round(rng.unit(), 4) for _ in range(DIM)] for _ in range(NODES)]
    # Built bottom-up (children have larger numbers than their parents), so
    # no recursion is needed.
    built = [None] * NODES
    for i in reversed(range(NODES)):
        built[i] = {"rose": [values[i], [built[k] for k in kids[i]]]}
    return built[0]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/data/rose1000.jsonl"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    rng = Lcg(2024)
    with open(out, "w") as f:
        for t in range(TREES):
            f.write(json.dumps({"x": tree(rng), "y": t % 4}) + "\n")


if __name__ == "__main__":
    main()
