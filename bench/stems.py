"""Writes bench/data/stems.jsonl: 16 bushes for bench/stems.cdl. A bush
node of depth d > 0 holds a value R[8] and a stem two levels deep: a stem
node holds a bush of depth d - 1 (below the root, a tip one time in
four; at depth 0, a tip) and, above level 0, a binary tree of 1 to 3
stems a level lower (at level 0, it stops). Roots have depth 3, so a
bush has tens to a few hundred nodes, bush, stem and tree nodes
together. The class is the bush's index modulo 4. A fixed linear
congruential generator (`rose_trees.py`'s) makes the file the same on
every machine."""

from bushes import value, write

LEVELS = 2


def tree(leaves, count):
    """A binary tree with these leaves, split in halves."""
    count[0] += 1
    if len(leaves) == 1:
        return {"leaf": [leaves[0]]}
    h = len(leaves) // 2
    return {"node": [tree(leaves[:h], count), tree(leaves[h:], count)]}


def bush(rng, depth, count, root=False):
    """A bush of this depth (a root is never a tip); `count[0]` counts its
    nodes."""
    count[0] += 1
    if depth == 0 or (not root and rng.below(4) == 0):
        return {"tip": [value(rng)]}
    return {"node": [value(rng), stem(rng, LEVELS, depth, count)]}


def stem(rng, level, depth, count):
    count[0] += 1
    held = bush(rng, depth - 1, count)
    if level == 0:
        return {"stop": [held]}
    kids = [stem(rng, level - 1, depth, count) for _ in range(1 + rng.below(3))]
    return {"stem": [held, tree(kids, count)]}


if __name__ == "__main__":
    write(bush, "bench/data/stems.jsonl")
