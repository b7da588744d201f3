"""Writes bench/data/bush.jsonl: 16 bushes for bench/bush.cdl. A bush node
of depth d > 0 holds a value R[8] and a rose tree of 2 to 8 rose nodes (a
random recursive tree: each new rose node the child of a uniformly chosen
earlier one); each rose node holds a bush of depth d - 1 (below the root,
a tip one time in four; at depth 0, a tip). Roots have depth 3, so a bush
has tens to a few hundred nodes, bush and rose nodes together (about 200
on average). The class is the bush's index modulo 4. A fixed linear
congruential generator (`rose_trees.py`'s) makes the file the same on
every machine."""

import json
import os
import sys

from rose_trees import Lcg

TREES = 16
DEPTH = 3
DIM = 8


def value(rng):
    return [round(rng.unit(), 4) for _ in range(DIM)]


def bush(rng, depth, count, root=False):
    """A bush of this depth (a root is never a tip); `count[0]` counts its
    nodes."""
    count[0] += 1
    if depth == 0 or (not root and rng.below(4) == 0):
        return {"tip": [value(rng)]}
    a = value(rng)
    n = 2 + rng.below(7)
    parent = [None] + [rng.below(i) for i in range(1, n)]
    kids = [[] for _ in range(n)]
    for i in range(1, n):
        kids[parent[i]].append(i)
    held = [bush(rng, depth - 1, count) for _ in range(n)]
    count[0] += n
    built = [None] * n
    for i in reversed(range(n)):
        built[i] = {"rose": [held[i], [built[k] for k in kids[i]]]}
    return {"node": [a, built[0]]}


def write(make, default_out):
    """Writes `TREES` bushes made by `make(rng, DEPTH, count, root=True)`
    to the path given on the command line, or else `default_out`, from
    one fixed generator, each labelled with its index modulo 4."""
    out = sys.argv[1] if len(sys.argv) > 1 else default_out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    rng = Lcg(2026)
    sizes = []
    with open(out, "w") as f:
        for t in range(TREES):
            count = [0]
            x = make(rng, DEPTH, count, root=True)
            sizes.append(count[0])
            f.write(json.dumps({"x": x, "y": t % 4}) + "\n")
    print(f"{out}: {TREES} bushes of {min(sizes)} to {max(sizes)} nodes, {sum(sizes)} in all")


if __name__ == "__main__":
    write(bush, "bench/data/bush.jsonl")
