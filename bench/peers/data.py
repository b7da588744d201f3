"""The data and initial weights of the workloads W6-W10, drawn from SplitMix64.

The generator is the one every workload of this project uses
(`bench/README.md`, "Same data, same weights, same work"):
`raw(stream, i) = mix64((stream << 32) | i)`, `uniform(stream, shape, a)` the
row-major fill `(2 * ((raw >> 40) * 2^-24) - 1) * a` rounded to f32,
`labels(stream, n, C) = raw mod C`, `weight(stream, out, in) =
uniform(stream, [out, in], 1/sqrt(in))`. `runtime/examples/bench_prepare`
writes the same numbers for cdlc; the first step's loss checks that both
sides compute the same thing.
"""
import numpy as np

MASK = (1 << 64) - 1


def mix64(z):
    """The SplitMix64 step on a numpy uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def raw(stream, count):
    """The first `count` raw values of `stream`."""
    keys = (np.uint64(stream) << np.uint64(32)) | np.arange(count, dtype=np.uint64)
    return mix64(keys)


def raw_one(stream, i):
    """raw(stream, i) as a Python integer."""
    z = (((stream << 32) | i) + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform(stream, shape, a):
    n = int(np.prod(shape))
    u = (raw(stream, n) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return ((2.0 * u - 1.0) * a).astype(np.float32).reshape(shape)


def labels(stream, n, classes):
    return (raw(stream, n) % np.uint64(classes)).astype(np.int64)


def weight(stream, fan_out, fan_in):
    return uniform(stream, (fan_out, fan_in), 1.0 / np.sqrt(fan_in))


def zeros(*shape):
    return np.zeros(shape, dtype=np.float32)


# ------------------------------------------------------------------ W6

def w6():
    """GRU over lists of 16-64 steps: x [32, 64, 32] (example, step, feature),
    lengths 16 + raw(3, i) mod 49, labels of 10 classes."""
    return gru(32, 64, 32, 128, 10, 16, 49)


def w10():
    """W6's streams at a small step's sizes: x [4, 40, 16], hidden 32,
    lengths 5 + raw(3, i) mod 36, labels of 10 classes."""
    return gru(4, 40, 16, 32, 10, 5, 36)


def gru(B, T, D, H, C, shortest, spread):
    """A GRU workload: batch B, longest T, features D, hidden H, classes C,
    example i of shortest + raw(3, i) mod spread steps."""
    p = {}
    for g, name in enumerate("zrc"):
        p["W" + name] = weight(11 + g, H, H)
        p["U" + name] = weight(14 + g, H, D)
        p["b" + name] = zeros(H)
    p["h0"] = zeros(H)
    p["V"], p["c"] = weight(17, C, H), zeros(C)
    lengths = (shortest + raw(3, B) % np.uint64(spread)).astype(np.int64)
    return p, dict(x=uniform(1, (B, T, D), 1.0), lengths=lengths, y=labels(2, B, C))


# ------------------------------------------------------------------ W7

class Tree:
    """A binary tree: a leaf number, or a left and right subtree."""

    def __init__(self, leaf=None, left=None, right=None):
        self.leaf, self.left, self.right = leaf, left, right


def make_tree(t, n_leaves):
    """Tree t's shape: stream 1000 + t consumed in pre-order; a node of n > 1
    leaves puts 1 + (x mod (n - 1)) of them on its left."""
    stream = 1000 + t
    state = {"counter": 0, "leaf": 0}

    def build(n):
        if n <= 1:
            i = state["leaf"]
            state["leaf"] += 1
            return Tree(leaf=i)
        x = raw_one(stream, state["counter"])
        state["counter"] += 1
        k = 1 + x % (n - 1)
        left = build(k)
        return Tree(left=left, right=build(n - k))

    return build(n_leaves)


def w7():
    """Binary Tree-LSTM over W4's 16 trees of 32 leaves, features 16, hidden 64."""
    N, L, K, H, C = 16, 32, 16, 64, 5
    p = {}
    for s, name in zip(range(11, 14), ("Ei", "Eo", "Eu")):
        p[name] = weight(s, H, K)
    for name in ("ci", "co", "cu"):
        p[name] = zeros(H)
    node = ("Li", "Ri", "Ll", "Rl", "Lr", "Rr", "Lo", "Ro", "Lu", "Ru")
    for s, name in zip(range(14, 24), node):
        p[name] = weight(s, H, H)
    for name in ("bi", "bl", "br", "bo", "bu"):
        p[name] = zeros(H)
    p["V"], p["d"] = weight(27, C, H), zeros(C)
    trees = [make_tree(t, L) for t in range(N)]
    return p, dict(leaves=uniform(1, (N, L, K), 1.0), trees=trees, y=labels(2, N, C))


def tree_levels(trees, n_leaves):
    """The level schedule of a batch of trees: node table rows 0 .. leaves-1
    are the leaves (tree-major), then every inner node by height. Returns
    (levels as (left rows, right rows) per height, root rows, table size)."""
    by_height = {}

    def walk(n, t):
        if n.leaf is not None:
            return t * n_leaves + n.leaf, 0
        lr, lh = walk(n.left, t)
        rr, rh = walk(n.right, t)
        h = 1 + max(lh, rh)
        slot = by_height.setdefault(h, [])
        slot.append((lr, rr, n))
        n.row = (h, len(slot) - 1)
        return n.row, h

    roots = [walk(tr, t)[0] for t, tr in enumerate(trees)]
    base, start = len(trees) * n_leaves, {}
    for h in sorted(by_height):
        start[h] = base
        base += len(by_height[h])

    def row(r):
        return r if isinstance(r, int) else start[r[0]] + r[1]

    levels = [(np.array([row(a) for a, _, _ in by_height[h]]),
               np.array([row(b) for _, b, _ in by_height[h]])) for h in sorted(by_height)]
    return levels, np.array([row(r) for r in roots]), base


# ------------------------------------------------------------------ W8

def w8():
    """Ring convolutions: x [64, 8, 128] channels first, filter banks
    [out, in, 5] (tap j at offset j - 2), 10 classes."""
    B, N, D, K, C, R = 64, 128, 8, 32, 10, 2
    taps = 2 * R + 1
    p = dict(K1=uniform(11, (K, D, taps), 1.0 / np.sqrt(D * taps)), b1=zeros(K),
             K2=uniform(12, (K, K, taps), 1.0 / np.sqrt(K * taps)), b2=zeros(K),
             V=weight(13, C, K), c=zeros(C))
    return p, dict(x=uniform(1, (B, D, N), 1.0), y=labels(2, B, C))


# ------------------------------------------------------------------ W9

def w9():
    """p4 on 16x16 images: x [32, 16, 16]; lifting bank [8, 3, 3]; group bank
    [8, 8, 4, 3, 3] (out, in, input orientation relative to the output's,
    taps); tap [a, b] at offset (a - 1, b - 1); 10 classes."""
    B, S, K, C = 32, 16, 8, 10
    p = dict(F1=uniform(11, (K, 3, 3), 1.0 / 3.0), b1=zeros(K),
             F2=uniform(12, (K, K, 4, 3, 3), 1.0 / np.sqrt(K * 4 * 9)), b2=zeros(K),
             V=weight(13, C, K), c=zeros(C))
    return p, dict(x=uniform(1, (B, S, S), 1.0), y=labels(2, B, C))
