# ---------------------------------------------------------------------------
# The model-independent part of an exported module: weights files, JSON
# lines, the host-side encoder, recursion schemes as scans, the loss, the
# optimizers, sharding and training. The model-specific part (parameters,
# data types, the forward function) follows it.
# ---------------------------------------------------------------------------

import json
import math
import struct
import sys
import time

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax
import optax


# --- safetensors ------------------------------------------------------------

_ST_DTYPES = {"F32": np.float32, "F64": np.float64}


def load_weights(path):
    """Reads a safetensors file (as cdlc writes it) into {name: array}.

    Every parameter of this model must be present with its shape."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: parameter {name} has dtype {info['dtype']}; only F32 and F64 are read")
        start, end = info["data_offsets"]
        arr = np.frombuffer(raw[base + start : base + end], dtype=dtype).reshape(info["shape"])
        out[name] = arr.copy()
    for name, shape in PARAMS:
        if name not in out:
            raise ValueError(f"{path} has no parameter {name}")
        stored = STORED_SHAPES.get(name, shape)
        if tuple(out[name].shape) != tuple(stored):
            raise ValueError(f"{path}: {name} has shape {list(out[name].shape)}, the model stores {list(stored)}")
    return {name: jnp.asarray(out[name].reshape(shape)) for name, shape in PARAMS}


def save_weights(params, path, metadata=None):
    """Writes {name: array} as safetensors in slot order, in each array's dtype,
    with the stored shapes and the metadata cdlc records (`metadata` adds to it)."""
    meta = dict(WEIGHTS_METADATA)
    meta.update(metadata or {})
    header = {"__metadata__": {str(k): str(v) for k, v in meta.items()}}
    blobs = []
    offset = 0
    for name, shape in PARAMS:
        arr = np.asarray(params[name]).reshape(STORED_SHAPES.get(name, shape))
        code = "F64" if arr.dtype == np.float64 else "F32"
        arr = np.ascontiguousarray(arr, dtype=_ST_DTYPES[code])
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    import os

    os.replace(tmp, path)


def init_params(seed=0, dtype=None):
    """Small random parameters (for experiments; cdlc's own initial values
    come from `cdlc grad --out` or a trained weights file)."""
    dtype = dtype or (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    key = jax.random.PRNGKey(seed)
    out = {}
    for name, shape in PARAMS:
        key, sub = jax.random.split(key)
        fan_in = shape[-1] if shape else 1
        out[name] = (jax.random.normal(sub, shape, dtype) / math.sqrt(max(fan_in, 1))).astype(dtype)
    return out


# --- JSON lines ---------------------------------------------------------------


def read_jsonl(path):
    """The examples of a JSON-lines file: a list of {"x": ..., "y": ...}."""
    out = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if line:
                out.append(_loads(line, number))
    return out


def _loads(line, number):
    """One line's JSON. Python's parser recurses once per level, so a line
    nested deeper than the recursion limit (a tree thousands of levels deep,
    which cdlc reads) is parsed again on a thread whose stack and limit
    are sized by the line's depth."""
    try:
        return json.loads(line)
    except RecursionError:
        pass
    import threading

    depth = line.count("[") + line.count("{")
    result = {}

    def parse():
        try:
            result["value"] = json.loads(line)
        except BaseException as e:  # handed to the caller's thread
            result["error"] = e

    old_limit, old_size = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 2 * depth + 1000))
    threading.stack_size(min((64 << 20) + 1024 * depth, 4 << 30))
    try:
        t = threading.Thread(target=parse)
        t.start()
        t.join()
    finally:
        threading.stack_size(old_size)
        sys.setrecursionlimit(old_limit)
    if isinstance(result.get("error"), RecursionError):
        raise ValueError(f"line {number}: nested {depth} levels deep, more than this Python's JSON parser reads")
    if "error" in result:
        raise result["error"]
    return result["value"]


# --- the host-side encoder ---------------------------------------------------


def pow2_bucket(n):
    """The bucket of a length: the next power of two (at least 1)."""
    b = 1
    while b < n:
        b *= 2
    return b


def exact_bucket(n):
    """No bucketing: every length is its own bucket (at least 1)."""
    return max(int(n), 1)


def _list_items(v):
    """The elements of a list value, written as an array or with its
    constructors (`{"cons": [a, rest]}`), without recursion."""
    if isinstance(v, list):
        return v
    items = []
    while isinstance(v, dict) and "cons" in v:
        a, v = v["cons"]
        items.append(a)
    return items


def _ctor(data, v):
    """The constructor index and fields of a data value."""
    (name, fields), = v.items()
    for i, (cname, _) in enumerate(DATA[data]["ctors"]):
        if cname == name:
            return i, fields
    raise ValueError(f"{DATA[data]['name']} has no constructor {name}")


def _nodes(data, root):
    """The nodes of a structure children first (an explicit stack, so any
    depth works): per node (ctor, plain field values by field, children
    node ids by field, height). A nested field's value is kept with its
    children replaced by their indices among the field's children, in
    the order `_walk` meets them; its children's node ids are listed in
    that order."""
    kinds = DATA[data]["ctors"]
    nodes = []
    stack = [(root, None)]
    while stack:
        v, done = stack.pop()
        if done is None:
            c, fields = _ctor(data, v)
            kids, fields, counts = _children(kinds[c][1], fields)
            stack.append((v, (c, fields, counts)))
            for k in reversed(kids):
                stack.append((k, None))
            continue
        # The children finished last, in order, at the end of `nodes`;
        # their ids are found through the ids stack below.
        nodes.append(done)
    # Assign ids: a second pass with a stack of finished ids.
    out = []
    ids = []
    for c, fields, counts in nodes:
        nkids = sum(counts)
        kid_ids = ids[len(ids) - nkids :] if nkids else []
        if nkids:
            del ids[len(ids) - nkids :]
        height = 0
        for k in kid_ids:
            height = max(height, out[k][3] + 1)
        plain, recs = [], []
        it = iter(kid_ids)
        for (kind, *_), f, n in zip(kinds[c][1], fields, counts):
            if kind == "rec":
                recs.append(next(it))
                plain.append(None)
            elif kind == "reclist":
                recs.append([next(it) for _ in range(n)])
                plain.append(None)
            elif kind == "nested":
                recs.append([next(it) for _ in range(n)])
                plain.append(f)
            else:
                recs.append(None)
                plain.append(f)
        out.append((c, plain, recs, height))
        ids.append(len(out) - 1)
    return out


def _children(kinds, fields):
    """A node's children (values of its own data type) in order, its
    fields with each nested field's children replaced by their indices
    among that field's children, and the children count of each field."""
    kids, out, counts = [], [], []
    for (kind, *rest), f in zip(kinds, fields):
        if kind == "rec":
            kids.append(f)
            counts.append(1)
        elif kind == "reclist":
            items = _list_items(f)
            kids.extend(items)
            counts.append(len(items))
        elif kind == "nested":
            local = []

            def note(v, local=local):
                local.append(v)
                return len(local) - 1

            f = _walk(rest[0], f, note)
            kids.extend(local)
            counts.append(len(local))
        else:
            counts.append(0)
        out.append(f)
    return kids, out, counts


def _has_refs(spec):
    """Whether values of the layout `spec` hold children of the structure
    around them (a nested field's `("ref",)` positions)."""
    kind = spec[0]
    if kind == "ref":
        return True
    if kind == "tuple":
        return any(_has_refs(s) for s in spec[1])
    if kind == "seqof":
        return _has_refs(spec[1])
    if kind in ("data", "structlist"):
        return DATA[spec[1]].get("refs", False)
    return False


def _walk(spec, value, at_ref):
    """`value`, of the layout `spec` in cdlc's JSON form, rebuilt with
    `at_ref(v)` in place of every value `v` at a `("ref",)` position, which
    it meets depth first, fields and elements in order. An explicit stack
    again, so inner structures of any depth work."""
    root = [None]
    stack = [(spec, value, root, 0)]
    while stack:
        spec, v, into, at = stack.pop()
        kind = spec[0]
        if kind == "ref":
            into[at] = at_ref(v)
            continue
        if not _has_refs(spec):
            into[at] = v
            continue
        subs = []
        if kind == "tuple":
            into[at] = out = [None] * len(spec[1])
            subs = [(s, v[i], out, i) for i, s in enumerate(spec[1])]
        elif kind in ("seqof", "structlist"):
            items = _list_items(v)
            inner = spec[1] if kind == "seqof" else ("data", spec[1])
            into[at] = out = [None] * len(items)
            subs = [(inner, x, out, i) for i, x in enumerate(items)]
        else:
            c, fields = _ctor(spec[1], v)
            name, kinds = DATA[spec[1]]["ctors"][c]
            out = list(fields)
            into[at] = {name: out}
            for j, (fk, *rest) in enumerate(kinds):
                if fk == "rec":
                    subs.append((spec, fields[j], out, j))
                elif fk == "reclist":
                    items = _list_items(fields[j])
                    out[j] = [None] * len(items)
                    subs.extend((spec, x, out[j], i) for i, x in enumerate(items))
                elif fk == "value" and _has_refs(rest[0]):
                    subs.append((rest[0], fields[j], out, j))
        stack.extend(reversed(subs))
    return root[0]


@jax.tree_util.register_pytree_node_class
class Ref:
    """Rows of the node table around a nested field: where the encoder
    lays out a child, it stores the child's row, and the fold gathers the
    child's carrier there (`_resolve`)."""

    def __init__(self, idx):
        self.idx = idx

    def tree_flatten(self):
        return (self.idx,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def _is_ref(a):
    return isinstance(a, Ref)


def _refs_to_rows(enc, n):
    """An encoded nested field with its padding references (-1) sent to
    the table's dummy row `n`."""
    return jax.tree_util.tree_map(lambda a: Ref(np.where(a.idx < 0, n, a.idx).astype(np.int32)) if _is_ref(a) else a, enc, is_leaf=_is_ref)


def _resolve(enc, table):
    """A nested field as its region takes it: the carriers of the rows its
    references name, gathered from `table`, in their places."""
    return jax.tree_util.tree_map(lambda a: _gather(table, a.idx) if _is_ref(a) else a, enc, is_leaf=_is_ref)


def _nested_value(spec, value, rows):
    """A node's nested field with its children's rows in their places."""
    return _walk(spec, value, lambda k: rows[k])


def _halves_nodes(items):
    """The nodes of the tree `halves` makes of a list (one element: leaf;
    more: node of the first half and the rest), children first."""
    if not items:
        raise ValueError("`by halves` cannot split an empty list")
    out = []
    stack = [(0, len(items), False)]
    ids = []
    while stack:
        lo, hi, expanded = stack.pop()
        if hi - lo == 1:
            out.append((0, [items[lo]], [None], 0))
            ids.append(len(out) - 1)
        elif not expanded:
            mid = lo + (hi - lo) // 2
            stack.append((lo, hi, True))
            stack.append((mid, hi, False))
            stack.append((lo, mid, False))
        else:
            r = ids.pop()
            l = ids.pop()
            out.append((1, [None, None], [l, r], max(out[l][3], out[r][3]) + 1))
            ids.append(len(out) - 1)
    return out


def _is_rec(data, c):
    return any(kind in ("rec", "reclist", "nested") for kind, *_ in DATA[data]["ctors"][c][1])


def _schedule(data, per_example, bucket, dtype):
    """Level schedules of a batch of structures (each a node list from
    `_nodes`), padded to common bucketed sizes. Node ids index a table of
    `n + 1` carriers per example whose last row is a dummy that padding
    reads and writes."""
    ctors = DATA[data]["ctors"]
    n = bucket(max(len(ns) for ns in per_example))
    levels = bucket(max(max((h for c, _, _, h in ns if _is_rec(data, c)), default=-1) + 1 for ns in per_example))
    B = len(per_example)
    out = {"root": np.array([len(ns) - 1 for ns in per_example], np.int32), "n": np.zeros((B, n + 1), np.int8)}
    for c, (cname, fields) in enumerate(ctors):
        rec = _is_rec(data, c)
        groups = []
        for ns in per_example:
            g = {}
            for i, (cc, plain, recs, h) in enumerate(ns):
                if cc == c:
                    g.setdefault(h if rec else 0, []).append((i, plain, recs))
            groups.append(g)
        width = bucket(max((len(v) for g in groups for v in g.values()), default=0))
        lead = (B, levels, width) if rec else (B, width)
        ent = {"idx": np.full(lead, n, np.int32)}
        for j, (kind, *rest) in enumerate(fields):
            if kind == "rec":
                ent[f"f{j}"] = np.full(lead, n, np.int32)
            elif kind == "reclist":
                k = bucket(max((len(r[j]) for g in groups for v in g.values() for _, _, r in v), default=0))
                ent[f"f{j}"] = np.full(lead + (k,), n, np.int32)
                ent[f"m{j}"] = np.zeros(lead + (k,), bool)
            elif kind == "plainlist":
                k = bucket(max((len(_list_items(p[j])) for g in groups for v in g.values() for _, p, _ in v), default=0))
                ent[f"f{j}"] = _plain_list_arrays(lead, k, rest[0], dtype)
            elif kind in ("value", "nested"):
                ent[f"f{j}"] = {}
            else:
                ent[f"f{j}"] = np.zeros(lead + tuple(rest[0]), dtype)
        for b, g in enumerate(groups):
            for h, members in g.items():
                for w, (i, plain, recs) in enumerate(members):
                    at = (b, h, w) if rec else (b, w)
                    ent["idx"][at] = i
                    for j, (kind, *_) in enumerate(fields):
                        if kind == "rec":
                            ent[f"f{j}"][at] = recs[j]
                        elif kind == "reclist":
                            kids = recs[j]
                            ent[f"f{j}"][at + (slice(0, len(kids)),)] = kids
                            ent[f"m{j}"][at + (slice(0, len(kids)),)] = True
                        elif kind == "plainlist":
                            _fill_plain_list(ent[f"f{j}"], at, plain[j], dtype)
                        elif kind == "value":
                            ent[f"f{j}"][at] = plain[j]
                        elif kind == "nested":
                            ent[f"f{j}"][at] = _nested_value(fields[j][1], plain[j], recs[j])
                        else:
                            ent[f"f{j}"][at] = np.asarray(plain[j], dtype)
        _encode_value_fields(ent, fields, lead, bucket, dtype, n)
        out[f"c{c}"] = ent
    return out


def _encode_value_fields(ent, fields, lead, bucket, dtype, n):
    """Lays out the fields of a group of nodes that `_encode_values` lays
    out (`ent`'s entries for them hold position -> value): values, and
    nested fields, whose padding references then read the dummy row `n`."""
    for j, (kind, *rest) in enumerate(fields):
        if kind == "value":
            ent[f"f{j}"] = _encode_values(rest[0], lead, ent[f"f{j}"], bucket, dtype)
        elif kind == "nested":
            ent[f"f{j}"] = _refs_to_rows(_encode_values(rest[0], lead, ent[f"f{j}"], bucket, dtype), n)


def _plain_list_arrays(lead, k, shape, dtype):
    """Room for a list-of-tensors field of nodes: items padded to `k`, a mask."""
    return {"items": np.zeros(tuple(lead) + (k,) + tuple(shape), dtype), "mask": np.zeros(tuple(lead) + (k,), bool)}


def _fill_plain_list(arrays, at, value, dtype):
    """Writes one node's list-of-tensors field at position `at`."""
    items = _list_items(value)
    if items:
        shape = arrays["items"].shape[len(at) + 1 :]
        arrays["items"][at + (slice(0, len(items)),)] = np.asarray(items, dtype).reshape((len(items),) + shape)
    arrays["mask"][at + (slice(0, len(items)),)] = True


def _filler_nodes(data):
    """The node list of the smallest structure of `data`: one node of the
    first constructor without single children (zeros, no list entries).
    It fills the padding positions of a list of structures."""
    for c, (_, fields) in enumerate(DATA[data]["ctors"]):
        if all(kind not in ("rec", "nested") for kind, *_ in fields):
            plain = [_field_filler(kind, rest) for kind, *rest in fields]
            recs = [[] if kind == "reclist" else None for kind, *_ in fields]
            return [(c, plain, recs, 0)]
    raise ValueError(f"{DATA[data]['name']} has no constructor without children to pad a list with")


def _field_filler(kind, rest):
    """The value of a plain field in a padding node (None for children)."""
    if kind == "plain":
        return np.zeros(rest[0]).tolist()
    if kind == "plainlist":
        return []
    if kind == "value":
        return _filler(rest[0])
    return None


def _filler(spec):
    """A value of an input layout's type, in cdlc's JSON form, that fills
    padding positions (zeros, empty lists, the smallest structure)."""
    kind = spec[0]
    if kind == "ref":
        return -1
    if kind == "tensor":
        return np.zeros(spec[1]).tolist()
    if kind == "tuple":
        return [_filler(s) for s in spec[1]]
    if kind in ("list", "structlist", "seqof"):
        return []
    for c, (name, fields) in enumerate(DATA[spec[1]]["ctors"]):
        if all(kind not in ("rec", "nested") for kind, *_ in fields):
            return {name: [[] if k == "reclist" else _field_filler(k, rest) for k, *rest in fields]}
    raise ValueError(f"{DATA[spec[1]]['name']} has no constructor without children to pad with")


def _encode_values(spec, lead, at_values, bucket, dtype):
    """A plain field whose type is a tuple, a list of anything or a
    structure, for every position of `lead` (`at_values`: position ->
    value; other positions hold the filler): the field's own layout with
    leading axes `lead`."""
    positions = list(np.ndindex(*lead))
    fill = _filler(spec)
    values = [at_values.get(p, fill) for p in positions] or [fill]
    enc = _encode_input(spec, values, bucket, dtype)
    return jax.tree_util.tree_map(lambda a: a[: len(positions)].reshape(tuple(lead) + a.shape[1:]), enc)


def _struct_list(data, values, bucket, dtype):
    """A batch of lists of structures: the elements' level schedules (one
    per example and position, padding positions holding the smallest
    structure) with leading axes (examples, positions), and a mask."""
    items = [_list_items(v) for v in values]
    L = bucket(max(len(x) for x in items))
    filler = _filler_nodes(data)
    flat = [_nodes(data, x[i]) if i < len(x) else filler for x in items for i in range(L)]
    sched = _schedule(data, flat, bucket, dtype)
    sched = jax.tree_util.tree_map(lambda a: a.reshape((len(values), L) + a.shape[1:]), sched)
    mask = np.array([[i < len(x) for i in range(L)] for x in items], bool)
    return {"items": sched, "mask": mask}


def _seq_of(spec, values, bucket, dtype):
    """A batch of lists whose elements are tuples or lists: the elements of
    every example and position (padding positions hold the filler) laid
    out by their own layout with leading axes (examples, positions), and a
    mask."""
    items = [_list_items(v) for v in values]
    L = bucket(max(len(x) for x in items))
    fill = _filler(spec)
    flat = [x[i] if i < len(x) else fill for x in items for i in range(L)]
    enc = _encode_input(spec, flat, bucket, dtype)
    enc = jax.tree_util.tree_map(lambda a: a.reshape((len(values), L) + a.shape[1:]), enc)
    mask = np.array([[i < len(x) for i in range(L)] for x in items], bool)
    return {"items": enc, "mask": mask}


# Packed tables with at most this many levels unroll the level loop (each
# level at its own bucketed width); deeper ones scan over levels padded to
# one width.
UNROLL_LEVELS = 32


def _pack_shard(data, trees):
    """One node table for several structures (node lists from `_nodes`):
    the trees' nodes one after another, children renumbered; returns the
    nodes and each tree's root row."""
    nodes, roots = [], []
    for ns in trees:
        off = len(nodes)
        for c, plain, recs, h in ns:
            moved = [None if r is None else (r + off if isinstance(r, int) else [k + off for k in r]) for r in recs]
            nodes.append((c, plain, moved, h))
        roots.append(len(nodes) - 1)
    return nodes, roots


def _entries(data, c, groups, lead_shape, bucket, dtype, n):
    """The arrays of constructor `c`'s nodes for every shard (`groups[s]`,
    a list of (row, plain, recs)), padded to `lead_shape` = (shards, width):
    idx (the row written), and per field its children's rows, a padded
    list of rows with a mask, or its plain values."""
    fields = DATA[data]["ctors"][c][1]
    ent = {"idx": np.full(lead_shape, n, np.int32)}
    for j, (kind, *rest) in enumerate(fields):
        if kind == "rec":
            ent[f"f{j}"] = np.full(lead_shape, n, np.int32)
        elif kind == "reclist":
            k = bucket(max((len(r[j]) for g in groups for _, _, r in g), default=0))
            ent[f"f{j}"] = np.full(lead_shape + (k,), n, np.int32)
            ent[f"m{j}"] = np.zeros(lead_shape + (k,), bool)
        elif kind == "plainlist":
            k = bucket(max((len(_list_items(p[j])) for g in groups for _, p, _ in g), default=0))
            ent[f"f{j}"] = _plain_list_arrays(lead_shape, k, rest[0], dtype)
        elif kind in ("value", "nested"):
            ent[f"f{j}"] = {}
        else:
            ent[f"f{j}"] = np.zeros(lead_shape + tuple(rest[0]), dtype)
    for s, g in enumerate(groups):
        for w, (i, plain, recs) in enumerate(g):
            ent["idx"][s, w] = i
            for j, (kind, *_) in enumerate(fields):
                if kind == "rec":
                    ent[f"f{j}"][s, w] = recs[j]
                elif kind == "reclist":
                    ent[f"f{j}"][s, w, : len(recs[j])] = recs[j]
                    ent[f"m{j}"][s, w, : len(recs[j])] = True
                elif kind == "plainlist":
                    _fill_plain_list(ent[f"f{j}"], (s, w), plain[j], dtype)
                elif kind == "value":
                    ent[f"f{j}"][(s, w)] = plain[j]
                elif kind == "nested":
                    ent[f"f{j}"][(s, w)] = _nested_value(fields[j][1], plain[j], recs[j])
                else:
                    ent[f"f{j}"][s, w] = np.asarray(plain[j], dtype)
    _encode_value_fields(ent, fields, lead_shape, bucket, dtype, n)
    return ent


def _level_rows(data, keys, widths, height):
    """Row offsets of the unrolled packed table: the leaf groups, then each
    level's groups, in the order `fold_packed` runs them (constructor keys
    sorted as text), each group a contiguous range of its bucketed width,
    so a group's results are written as one slice. Returns {key: offset}
    and the row count."""
    order = sorted(((c, -1) for c, h in keys if h == -1), key=lambda k: f"c{k[0]}")
    for h in range(height):
        order += sorted(((c, hh) for c, hh in keys if hh == h and _is_rec(data, c)), key=lambda k: f"c{k[0]}")
    offsets, at = {}, 0
    for key in order:
        offsets[key] = at
        at += widths[key]
    return offsets, at


def _renumber(by, offsets, tables):
    """The shards' nodes and roots with rows moved to their groups' ranges."""
    moved = []
    for s, b in enumerate(by):
        new = {}
        for key, members in b.items():
            for w, (i, _, _) in enumerate(members):
                new[i] = offsets[key] + w

        def mv(r):
            return None if r is None else (new[r] if isinstance(r, int) else [new[k] for k in r])

        moved.append({key: [(new[i], plain, [mv(r) for r in recs]) for i, plain, recs in members] for key, members in b.items()})
        tables[s] = (tables[s][0], [new[r] for r in tables[s][1]])
    return moved


def _packed(data, per_example, bucket, dtype, shards, levels="common"):
    """A batch's structures as `shards` packed node tables (one per device
    the batch is split over), the same idea as cdlc's own batching: the
    constructors without children of every tree at once, then level k =
    every node of height k of every tree of the shard. Row `n` of each
    table is a dummy that padding reads and writes.

    With `levels="common"` the table's shapes come from a few bucketed
    numbers only, so that a data set compiles a bounded number of
    programs: `bucket(height)` levels (those past the height hold padding
    only), and one width per constructor for all its levels, `bucket` of
    its widest group in any shard (a constructor absent from the batch
    keeps its group of padding). With `levels="own"` each level has its
    own bucketed width and only the constructors it holds: fewer padding
    rows, but the level widths of most batches give a new program. Up to
    UNROLL_LEVELS levels, rows are numbered as `fold_packed` runs them
    (leaves, then level by level), each group of nodes a contiguous range,
    so that its results are written as one slice rather than scattered."""
    ctors = DATA[data]["ctors"]
    per = len(per_example) // shards
    tables = [_pack_shard(data, per_example[s * per : (s + 1) * per]) for s in range(shards)]
    by = [{} for _ in range(shards)]
    for s, (nodes, _) in enumerate(tables):
        for i, (c, plain, recs, h) in enumerate(nodes):
            key = (c, h if _is_rec(data, c) else -1)
            by[s].setdefault(key, []).append((i, plain, recs))
    rec = [c for c in range(len(ctors)) if _is_rec(data, c)]
    height = max((h for b in by for _, h in b), default=-1) + 1
    if levels == "common":
        height = bucket(height) if height else 0
        keys = [(c, -1) for c in range(len(ctors)) if c not in rec] + [(c, h) for h in range(height) for c in rec]
        common = [bucket(max((len(m) for b in by for (cc, _), m in b.items() if cc == c), default=0)) for c in range(len(ctors))]
        widths = {key: common[key[0]] for key in keys}
    elif levels == "own":
        keys = sorted({k for b in by for k in b})
        widths = {key: bucket(max(len(b.get(key, ())) for b in by)) for key in keys}
    else:
        raise ValueError(f'encode: levels must be "common" or "own", not {levels!r}')
    if height > UNROLL_LEVELS:
        # The level scan takes one width per constructor.
        for c in {c for c, _ in widths if c in rec}:
            w = max(v for (cc, _), v in widths.items() if cc == c)
            widths.update({(c, h): w for h in range(height)})
    if height <= UNROLL_LEVELS:
        offsets, n = _level_rows(data, keys, widths, height)
        by = _renumber(by, offsets, tables)
    else:
        n = bucket(max(len(nodes) for nodes, _ in tables))
    out = {
        "root": np.array([roots for _, roots in tables], np.int32),
        "n": np.zeros((shards, n + 1), np.int8),
        "leaves": {},
        "levels": [],
    }

    def group(c, h):
        return _entries(data, c, [b.get((c, h), []) for b in by], (shards, widths[(c, h)]), bucket, dtype, n)

    for c in range(len(ctors)):
        if (c, -1) in widths:
            out["leaves"][f"c{c}"] = group(c, -1)
    if height <= UNROLL_LEVELS:
        out["levels"] = [{f"c{c}": group(c, h) for c in rec if (c, h) in widths} for h in range(height)]
        return out
    out["scan"] = {f"c{c}": jax.tree_util.tree_map(lambda *xs: np.stack(xs, axis=1), *[group(c, h) for h in range(height)]) for c in rec if (c, 0) in widths}
    return out


def _encode_input(spec, values, bucket, dtype, shards=1, levels="common"):
    kind = spec[0]
    if kind == "ref":
        # Rows of the node table around a nested field (-1 for padding).
        return Ref(np.asarray(values, np.int32).reshape((len(values),)))
    if kind == "tensor":
        return np.asarray(values, dtype).reshape((len(values),) + tuple(spec[1]))
    if kind == "tuple":
        return tuple(_encode_input(s, [v[i] for v in values], bucket, dtype, shards, levels) for i, s in enumerate(spec[1]))
    if kind == "list":
        _, shape, halves = spec
        items = [_list_items(v) for v in values]
        L = bucket(max(len(x) for x in items))
        arr = np.zeros((len(values), L) + tuple(shape), dtype)
        mask = np.zeros((len(values), L), bool)
        for b, x in enumerate(items):
            if x:
                arr[b, : len(x)] = np.asarray(x, dtype).reshape((len(x),) + tuple(shape))
            mask[b, : len(x)] = True
        out = {"items": arr, "mask": mask}
        if isinstance(halves, tuple):
            out["halves"] = _packed(halves[1], [_halves_nodes(x) for x in items], bucket, dtype, shards, levels)
        elif halves is not None:
            out["halves"] = _schedule(halves, [_halves_nodes(x) for x in items], bucket, dtype)
        return out
    if kind == "data":
        return _schedule(spec[1], [_nodes(spec[1], v) for v in values], bucket, dtype)
    if kind == "structlist":
        return _struct_list(spec[1], values, bucket, dtype)
    if kind == "seqof":
        return _seq_of(spec[1], values, bucket, dtype)
    if kind == "packed":
        return _packed(spec[1], [_nodes(spec[1], v) for v in values], bucket, dtype, shards, levels)
    raise ValueError(f"unknown input kind {kind}")


def _encode_target(spec, ys, bucket, dtype):
    kind = spec[0]
    if kind == "class":
        return np.asarray(ys, np.int32)
    if kind == "tensor":
        return np.asarray(ys, dtype).reshape((len(ys),) + tuple(spec[1]))
    L = bucket(max(len(y) for y in ys))
    inner = spec[1]
    pad = 0 if inner[0] == "class" else np.zeros(tuple(inner[1])).tolist()
    items = _encode_target(inner, [y[i] if i < len(y) else pad for y in ys for i in range(L)], bucket, dtype)
    items = items.reshape((len(ys), L) + items.shape[1:])
    mask = np.array([[i < len(y) for i in range(L)] for y in ys], bool)
    return {"items": items, "mask": mask}


def _places(value, steps):
    """Every value reached from `value` along `steps` (a `NONEMPTY` entry's):
    each element of a list, a tuple's component, or one field of every
    node of a constructor. Iterative, like the rest of the encoder."""
    values = [value]
    for step in steps:
        reached = []
        for v in values:
            if step[0] == "items":
                reached.extend(_list_items(v))
            elif step[0] == "tuple":
                reached.append(v[step[1]])
            else:
                # A plain or nested field's value, or a node's children.
                _, data, ctor, field = step
                reached.extend(recs[field] if plain[field] is None else plain[field] for c, plain, recs, _ in _nodes(data, v) if c == ctor)
        values = reached
    return values


def _check_nonempty(xs):
    """Stops, as cdlc does, on an example with an empty list where a
    hylomorphism by `halves` splits one (`NONEMPTY`), naming the example
    (counted from 0). The padded arrays could not stop the run there."""
    for b, x in enumerate(xs):
        for input, steps in NONEMPTY:
            value = x if len(INPUTS) == 1 else x[input]
            if any(not _list_items(v) for v in _places(value, steps)):
                raise ValueError(f"example {b}: `by halves` cannot split an empty list ({_describe(input, steps)})")


def _describe(input, steps):
    """A `NONEMPTY` place in words, for the encoder's error."""
    words = [f"input {input}"]
    for step in steps:
        if step[0] == "items":
            words.append("an element of it")
        elif step[0] == "tuple":
            words.append(f"component {step[1]}")
        else:
            words.append(f"field {step[3]} of a `{DATA[step[1]]['ctors'][step[2]][0]}` node")
    return ", ".join(words)


def encode(examples, bucket=pow2_bucket, batch_size=None, dtype=np.float64, shards=1, levels="common"):
    """Turns examples in cdlc's JSON-lines form into one batch of arrays.

    Lists are padded to `bucket(longest)` with a mask; structures become
    level schedules: batch-packed tables (`shards` of them, one per
    device the batch is split over) where the model allows, else one
    schedule per example. Every shape is a bucket's (`levels="common"`:
    a packed table's level count and its constructors' widths too, see
    `_packed`), so that a data set's batches compile a few programs;
    padding is masked or never read, so it changes neither the loss nor
    the gradients. `batch_size` pads the batch with copies of the first
    example weighted zero (`w`), so that a batch splits evenly over
    devices. Nothing here recurses, so structures of any depth encode."""
    examples = list(examples)
    if not examples:
        raise ValueError("encode needs at least one example")
    real = len(examples)
    if batch_size is not None and batch_size > real:
        examples = examples + [examples[0]] * (batch_size - real)
    if len(examples) % shards:
        raise ValueError(f"encode: {len(examples)} examples do not split into {shards} shards; pass batch_size= a multiple of it")
    xs = [e["x"] for e in examples]
    _check_nonempty(xs[:real])
    if len(INPUTS) == 1:
        x = (_encode_input(INPUTS[0], xs, bucket, dtype, shards, levels),)
    else:
        x = tuple(_encode_input(s, [v[i] for v in xs], bucket, dtype, shards, levels) for i, s in enumerate(INPUTS))
    y = _encode_target(TARGET, [e["y"] for e in examples], bucket, dtype)
    w = np.zeros((len(examples),), dtype)
    w[:real] = 1.0
    return {"x": x, "y": y, "w": w}


# --- sequences and recursion schemes -----------------------------------------


@jax.tree_util.register_pytree_node_class
class Seq:
    """A sequence padded to a fixed length: `items` stacked on axis 0 and a
    boolean `mask` whose true entries are a prefix."""

    def __init__(self, items, mask):
        self.items = items
        self.mask = mask

    def tree_flatten(self):
        return (self.items, self.mask), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


def _where(m, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(jnp.reshape(m, m.shape + (1,) * (a.ndim - m.ndim)), a, b), new, old)


def fold_list(seq, nil, cons):
    """The fold of a list with `nil` and `cons` regions, as cdlc associates
    it: cons(x0, cons(x1, ... nil)), a scan from the last element."""

    def step(carry, xm):
        x, m = xm
        return _where(m, cons(x, carry), carry), None

    out, _ = lax.scan(step, nil(), (seq.items, seq.mask), reverse=True)
    return out


def unfold_over(init, seq, body):
    """A Mealy machine: one step per element, in order; the outputs as a
    sequence with the input's mask. Padding steps keep the state."""

    def step(state, xm):
        x, m = xm
        out, nxt = body(state, x)
        return _where(m, nxt, state), out

    _, outs = lax.scan(step, init, (seq.items, seq.mask))
    return Seq(outs, seq.mask)


def unfold_take(init, k, body):
    """A stream: `k` steps without input."""

    def step(state, _):
        out, nxt = body(state)
        return nxt, out

    _, outs = lax.scan(step, init, None, length=k)
    return Seq(outs, jnp.ones((k,), bool))


def _gather(table, idx):
    """The rows `idx` of every array of `table`. The encoder's rows are
    never negative and always inside the table (padding reads the dummy
    row), so the gather neither wraps nor clamps them."""
    return jax.tree_util.tree_map(lambda t: t.at[idx].get(mode="promise_in_bounds", wrap_negative_indices=False), table)


def _scatter(table, idx, vals):
    """`table` with rows `idx` set to `vals` (rows as `_gather` takes them).

    The rows are declared unique. Only padding repeats a row (the dummy
    row, which no real node reads, so its cotangent is zero and which of
    the padding writes lands there does not matter). Declared unique, the
    scatter's derivative needs only `idx`: without it JAX's derivative of
    a scatter that may repeat rows builds table-sized masks, and a level
    scan keeps them for every level (memory of levels times nodes: 1.6 GB
    for a tree 10 000 levels deep, beyond reach at 100 000)."""
    return jax.tree_util.tree_map(lambda t, v: t.at[idx].set(v, mode="promise_in_bounds", wrap_negative_indices=False, unique_indices=True), table, vals)


def _map_case(case, args, idx):
    """A constructor's region on every node of a group at once (`idx`, the
    nodes' rows, fixes the count when the constructor has no fields)."""
    return jax.vmap(lambda _, *a: case(*a))(idx, *args)


def fold_structure(sched, data, cases, zero):
    """The fold of one structure from its level schedule: constructors
    without children first, then one scan step per level, each gathering
    the children's carriers, running the constructor's region on every
    node of the level at once, and scattering the results."""
    ctors = DATA[data]["ctors"]
    n1 = sched["n"].shape[0]
    table = jax.tree_util.tree_map(lambda z: jnp.zeros((n1,) + z.shape, z.dtype), zero)

    def args_of(ent, fields, table):
        args = []
        for j, (kind, *_) in enumerate(fields):
            if kind == "rec":
                args.append(_gather(table, ent[f"f{j}"]))
            elif kind == "reclist":
                args.append(Seq(_gather(table, ent[f"f{j}"]), ent[f"m{j}"]))
            elif kind == "nested":
                args.append(_resolve(ent[f"f{j}"], table))
            else:
                args.append(ent[f"f{j}"])
        return args

    rec = []
    for c, (_, fields) in enumerate(ctors):
        ent = sched[f"c{c}"]
        if _is_rec(data, c):
            rec.append(c)
            continue
        if ent["idx"].shape[0] == 0:
            continue
        out = _map_case(cases[c], args_of(ent, fields, table), ent["idx"])
        table = _scatter(table, ent["idx"], out)
    levels = {c: sched[f"c{c}"] for c in rec if sched[f"c{c}"]["idx"].shape[1] > 0}
    if levels and sched[f"c{rec[0]}"]["idx"].shape[0] > 0:

        def level(table, lv):
            for c in levels:
                out = _map_case(cases[c], args_of(lv[c], ctors[c][1], table), lv[c]["idx"])
                table = _scatter(table, lv[c]["idx"], out)
            return table, None

        table, _ = lax.scan(level, table, levels)
    return _gather(table, sched["root"])


def fold_packed(sched, data, cases, zero):
    """The fold of every structure of a batch from its packed tables (one
    per shard): the constructors without children of all trees at once,
    then each level of all trees at once (unrolled, or scanned when the
    tables are deep), gathering children's carriers and scattering the
    results; then each example's root row. Returns the per-example
    carriers, stacked on a leading batch axis."""
    ctors = DATA[data]["ctors"]

    def run(ent, c, table, at=None):
        args = []
        for j, (kind, *_) in enumerate(ctors[c][1]):
            if kind == "rec":
                args.append(_gather(table, ent[f"f{j}"]))
            elif kind == "reclist":
                args.append(Seq(_gather(table, ent[f"f{j}"]), ent[f"m{j}"]))
            elif kind == "nested":
                args.append(_resolve(ent[f"f{j}"], table))
            else:
                args.append(ent[f"f{j}"])
        out = _map_case(cases[c], args, ent["idx"])
        if at is None:
            return _scatter(table, ent["idx"], out)
        return jax.tree_util.tree_map(lambda t, v: lax.dynamic_update_slice_in_dim(t, v, at, 0), table, out)

    def level(table, lv, at=None):
        # `at`: the first row of this level's groups, which then lie one
        # after another (the unrolled table); None: scatter by `idx`.
        for key, ent in sorted(lv.items()):
            w = ent["idx"].shape[0]
            if w and at is None:
                table = run(ent, int(key[1:]), table)
            elif w:
                table = run(ent, int(key[1:]), table, at)
                at += w
        return table, at

    def one(s):
        n1 = s["n"].shape[0]
        table = jax.tree_util.tree_map(lambda z: jnp.zeros((n1,) + z.shape, z.dtype), zero)
        unrolled = "scan" not in s
        table, at = level(table, s["leaves"], 0 if unrolled else None)
        for lv in s["levels"]:
            table, at = level(table, lv, at)
        if not unrolled:
            table, _ = lax.scan(lambda t, lv: (level(t, lv)[0], None), table, s["scan"])
        return _gather(table, s["root"])

    if sched["root"].shape[0] == 1:
        # One table (one device's batch): no shard axis to map over, so
        # the gathers and scatters stay unbatched.
        return one(jax.tree_util.tree_map(lambda a: a[0], sched))
    out = jax.vmap(one)(sched)
    return jax.tree_util.tree_map(lambda a: jnp.reshape(a, (-1,) + a.shape[2:]), out)


_HALVES_TABLES = {}


def _halves_table(L):
    """For every length n of 1..L, the level schedule of the tree `halves`
    makes of n elements, padded to common sizes and stacked on a leading
    axis (row n - 1): the leaves' rows and elements, per level the nodes'
    rows and their children's rows, the root's row. Row 2L - 1 is the
    dummy that padding reads and writes. Built once per L, on the host."""
    if L in _HALVES_TABLES:
        return _HALVES_TABLES[L]
    dummy = 2 * L - 1
    trees = [_halves_nodes(list(range(n))) for n in range(1, L + 1)]
    height = max(h for ns in trees for _, _, _, h in ns)
    per_level = [max(sum(1 for c, _, _, h in ns if c == 1 and h == lv) for ns in trees) for lv in range(1, height + 1)]
    t = {
        "leaf": np.full((L, L), dummy, np.int32),
        "item": np.zeros((L, L), np.int32),
        "node": [np.full((L, 3, w), dummy, np.int32) for w in per_level],
        "root": np.array([len(ns) - 1 for ns in trees], np.int32),
    }
    for k, ns in enumerate(trees):
        at = [0] * (height + 1)
        for row, (c, plain, recs, h) in enumerate(ns):
            if c == 0:
                t["leaf"][k, at[0]] = row
                t["item"][k, at[0]] = plain[0]
                at[0] += 1
            else:
                t["node"][h - 1][k, :, at[h]] = (row, recs[0], recs[1])
                at[h] += 1
    _HALVES_TABLES[L] = t
    return t


def fold_halves(seq, cases, zero):
    """The hylomorphism `halves` over a list computed in the model: the
    tree of the list's length is picked from `_halves_table` (its length
    is only known when the model runs) and folded level by level, leaves
    first, as `fold_structure` does. cdlc stops with an error on an empty
    list here; this computes the fold of one zero element instead, because
    padding positions of lists hold empty lists and a NaN there would
    reach every gradient (docs/export.md lists the difference)."""
    L = seq.mask.shape[0]
    t = _halves_table(L)
    n = jnp.sum(seq.mask.astype(jnp.int32))
    k = jnp.maximum(n, 1) - 1
    table = jax.tree_util.tree_map(lambda z: jnp.zeros((2 * L,) + z.shape, z.dtype), zero)
    items = _gather(seq.items, jnp.asarray(t["item"])[k])
    items = jax.tree_util.tree_map(lambda a: jnp.where(jnp.reshape(n > 0, (1,) * a.ndim), a, jnp.zeros_like(a)), items)
    table = _scatter(table, jnp.asarray(t["leaf"])[k], jax.vmap(cases[0])(items))
    for lv in t["node"]:
        rows = jnp.asarray(lv)[k]
        out = jax.vmap(cases[1])(_gather(table, rows[1]), _gather(table, rows[2]))
        table = _scatter(table, rows[0], out)
    return _gather(table, jnp.asarray(t["root"])[k])


# --- kinks: derivatives as cdlc takes them ------------------------------------


def relu(x):
    """max(x, 0); its derivative at 0 is 0 (jnp.where's)."""
    return jnp.where(x > 0, x, jnp.zeros_like(x))


@jax.custom_jvp
def cdl_abs(x):
    """|x|; its derivative at 0 is 0 (JAX's abs takes 1 there)."""
    return jnp.abs(x)


@cdl_abs.defjvp
def _cdl_abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.abs(x), jnp.sign(x) * t


def softplus(x):
    """ln(1 + e^x), computed stably."""
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def sigmoid(x):
    return 1 / (1 + jnp.exp(-x))


def gelu(x):
    """The tanh approximation of GELU, as cdlc computes it."""
    k = math.sqrt(2 / math.pi)
    return 0.5 * x * (1 + jnp.tanh(k * (x + 0.044715 * x * x * x)))


def _norm(x, keep):
    """The Euclidean norm over all but the first `keep` axes; its
    derivative at 0 is 0 (JAX's would be NaN)."""
    return jnp.sqrt(jnp.sum(x * x, axis=tuple(range(keep, x.ndim))))


cdl_norm = jax.custom_jvp(_norm, nondiff_argnums=(1,))


@cdl_norm.defjvp
def _cdl_norm_jvp(keep, primals, tangents):
    (x,), (t,) = primals, tangents
    axes = tuple(range(keep, x.ndim))
    y = jnp.sqrt(jnp.sum(x * x, axis=axes))
    inv = jnp.where(y > 0, 1 / jnp.where(y > 0, y, 1), 0)
    inv = jnp.reshape(inv, y.shape + (1,) * (x.ndim - keep))
    return y, jnp.sum(x * t * inv, axis=axes)


def _first_max_onehot(x, axis):
    """One at the first maximal entry (over all axes, or along `axis`)."""
    if axis is None:
        flat = jnp.reshape(x, (-1,))
        return jnp.reshape(jax.nn.one_hot(jnp.argmax(flat), flat.shape[0], dtype=x.dtype), x.shape)
    hot = jax.nn.one_hot(jnp.argmax(x, axis=axis), x.shape[axis], dtype=x.dtype)
    return jnp.moveaxis(hot, -1, axis)


def _max(x, axis):
    """The maximum; its derivative goes to the first maximal entry (JAX
    shares it between ties)."""
    return jnp.max(x, axis=axis)


cdl_max = jax.custom_jvp(_max, nondiff_argnums=(1,))


@cdl_max.defjvp
def _cdl_max_jvp(axis, primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.max(x, axis=axis), jnp.sum(_first_max_onehot(x, axis) * t, axis=axis)


def bcast(x, shape):
    """Prefix broadcasting: `x`'s shape is a prefix of `shape`."""
    x = jnp.reshape(x, x.shape + (1,) * (len(shape) - x.ndim))
    return jnp.broadcast_to(x, shape)


def _b64(text, dtype):
    """An array from little-endian bytes in base64 (the bases' entries)."""
    import base64

    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def basis_expand(c, basis):
    """W = sum_k c_k B_k over the basis's nonzero entries only (a sparse
    contraction: one product and one segment sum per nonzero). The
    coefficients are a vector, or an activation for a map applied as a
    gather; either way they are read in row-major order."""
    shape, rows, cols, vals = basis
    flat = jax.ops.segment_sum(jnp.reshape(c, (-1,))[cols] * vals.astype(c.dtype), rows, num_segments=int(np.prod(shape, dtype=np.int64)))
    return jnp.reshape(flat, shape)


# --- the loss ----------------------------------------------------------------


def _loss_one(kind, out, y):
    if kind == "cross_entropy":
        return -jnp.take(jax.nn.log_softmax(out), y)
    if kind == "binary_cross_entropy":
        return jnp.mean(softplus(out) - y * out)
    return jnp.mean((out - y) ** 2)


def _example_loss(kind, out, y):
    if isinstance(out, Seq):
        L = out.mask.shape[0]
        ys, ym = y["items"], y["mask"]
        if ys.shape[0] < L:
            pad = ((0, L - ys.shape[0]),) + ((0, 0),) * (ys.ndim - 1)
            ys, ym = jnp.pad(ys, pad), jnp.pad(ym, ((0, L - ym.shape[0]),))
        ys, ym = ys[:L], ym[:L]
        m = out.mask & ym
        per = jax.vmap(lambda o, t: _loss_one(kind, o, t))(out.items, ys)
        count = jnp.sum(m)
        return jnp.sum(jnp.where(m, per, 0)) / jnp.maximum(count, 1).astype(per.dtype)
    return _loss_one(kind, out, y)


def _dtype_of(params):
    leaves = jax.tree_util.tree_leaves(params)
    return leaves[0].dtype if leaves else (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)


def _cast(tree, dtype):
    return jax.tree_util.tree_map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _per_example(spec, a):
    """An encoded input as `forward` takes it, one example at a time: a
    packed structure is folded in `prefold` (None here), and a list's
    packed `halves` table is left out (its leading axis is the shards')."""
    if spec[0] == "packed":
        return None
    if spec[0] == "list" and isinstance(spec[2], tuple):
        return {"items": a["items"], "mask": a["mask"]}
    return a


def _packed_tables(batch):
    """The packed node tables of an encoded batch (leading axis: shards)."""
    for spec, a in zip(INPUTS, batch["x"]):
        if spec[0] == "packed":
            yield a
        elif spec[0] == "list" and isinstance(spec[2], tuple):
            yield a["halves"]


def apply(params, batch):
    """The model's outputs for every example of an encoded batch (a `Seq`
    for a list output), computed in the parameters' dtype."""
    dt = _dtype_of(params)
    P = [params[name] for name, _ in PARAMS]
    x = _cast(batch["x"], dt)
    folded = prefold(P, x, dt)
    per_example = tuple(_per_example(spec, a) for spec, a in zip(INPUTS, x))
    return jax.vmap(lambda xs, fs: forward(P, xs, dt, fs))(per_example, folded)


def loss(params, batch):
    """The mean loss over the batch's real examples, exactly as cdlc
    defines it (padding examples have weight 0)."""
    dt = _dtype_of(params)
    out = apply(params, batch)
    y = _cast(batch["y"], dt)
    per = jax.vmap(lambda o, t: _example_loss(LOSS, o, t))(out, y)
    w = jnp.asarray(batch["w"], dt)
    return jnp.sum(per * w) / jnp.sum(w)


def _correct(kind, out, y):
    """(right, counted) of one example, as cdlc counts accuracy."""
    if isinstance(out, Seq):
        L = out.mask.shape[0]
        ys, ym = y["items"][:L], y["mask"][:L]
        r, c = jax.vmap(lambda o, t: _correct(kind, o, t))(out.items, ys)
        m = out.mask & ym
        return jnp.sum(jnp.where(m, r, 0)), jnp.sum(jnp.where(m, c, 0))
    if kind == "cross_entropy":
        return (jnp.argmax(out) == y).astype(jnp.int32), jnp.int32(1)
    return jnp.sum((out > 0) == (y >= 0.5)).astype(jnp.int32), jnp.int32(out.size)


def _sums(params, batch):
    """(summed loss, right, counted) over a batch's real examples; right and
    counted are 0 for a loss without accuracy. Scalars, so that a batch
    sharded over many processes gives replicated results."""
    out = apply(params, batch)
    dt = _dtype_of(params)
    y = _cast(batch["y"], dt)
    w = jnp.asarray(batch["w"], dt)
    per = jax.vmap(lambda o, t: _example_loss(LOSS, o, t))(out, y)
    total = jnp.sum(per * w)
    if LOSS == "mse":
        return total, jnp.int32(0), jnp.int32(0)
    r, c = jax.vmap(lambda o, t: _correct(LOSS, o, t))(out, y)
    real = (w > 0).astype(jnp.int32)
    return total, jnp.sum(r * real), jnp.sum(c * real)


# The programs JAX has traced, and so XLA compiled, in this process for
# training steps (`make_step`) and for `evaluate`: a jitted function's
# Python body runs once per new signature of shapes, the cache misses.
COMPILES = {"step": 0, "evaluate": 0}


@jax.jit
def _sums_jit(params, batch):
    COMPILES["evaluate"] += 1
    return _sums(params, batch)


def evaluate(params, batch):
    """(summed loss, right, counted) over an encoded batch's real examples
    as Python numbers; right and counted are 0 for a loss without accuracy."""
    total, right, count = _sums_jit(params, batch)
    return float(total), int(right), int(count)


# --- optimizers ---------------------------------------------------------------


def _adagrad(lr, eps):
    """cdlc's adagrad: s += g^2; p -= lr g / (sqrt(s) + eps)."""

    def init(params):
        return jax.tree_util.tree_map(jnp.zeros_like, params)

    def update(g, s, params=None):
        s = jax.tree_util.tree_map(lambda s, g: s + g * g, s, g)
        u = jax.tree_util.tree_map(lambda g, s: -lr * g / (jnp.sqrt(s) + eps), g, s)
        return u, s

    return optax.GradientTransformation(init, update)


def optimizer(spec=None):
    """The train block's optimizer as an optax transformation."""
    name, a = spec or OPTIM
    if name == "sgd":
        return optax.sgd(a["lr"])
    if name == "momentum":
        return optax.sgd(a["lr"], momentum=a["beta"])
    if name == "nesterov":
        return optax.sgd(a["lr"], momentum=a["beta"], nesterov=True)
    if name == "adagrad":
        return _adagrad(a["lr"], a["eps"])
    return optax.adam(a["lr"], b1=a["beta1"], b2=a["beta2"], eps=a["eps"])


# --- data order: cdlc's seeded shuffles and split --------------------------------

_M64 = (1 << 64) - 1


def mix64(z):
    """SplitMix64's step, as cdlc's runtime computes it."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def shuffled(n, seed):
    """cdlc's seeded Fisher-Yates permutation of range(n)."""
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = mix64((seed + i) & _M64) % (i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def split(examples, fraction, seed):
    """cdlc's seeded training/validation split."""
    order = shuffled(len(examples), mix64(seed ^ 0x5EED))
    n_train = int(math.floor(len(examples) * fraction + 0.5))
    return [examples[i] for i in order[:n_train]], [examples[i] for i in order[n_train:]]


# --- data parallelism -----------------------------------------------------------


def make_mesh(devices=None):
    """A one-axis mesh ("batch") over all visible devices (of every process)."""
    devices = jax.devices() if devices is None else devices
    return jax.sharding.Mesh(np.array(devices), ("batch",))


def _place(a, sharding):
    """A global array on `sharding` from a host array every process holds
    whole: each process fills only its own devices' pieces."""
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])


def shard(batch, mesh):
    """Places an encoded batch on `mesh`: every array is split along its
    first (example, or packed-table) axis over the mesh's "batch" axis. The
    batch size must be a multiple of the device count (`encode(...,
    batch_size=...)` pads), and packed tables as many as the devices (or a
    multiple: `encode(..., shards=...)`).
    Under `jax.distributed`, every process passes the same whole batch."""
    ndev = mesh.devices.size
    for a in _packed_tables(batch):
        if a["root"].shape[0] % ndev:
            raise ValueError(f"shard: the batch was packed into {a['root'].shape[0]} table(s), which do not split over {ndev} devices; encode it with shards={ndev}")
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    return jax.tree_util.tree_map(lambda a: _place(a, spec), batch)


def replicate(params, mesh):
    """Places the parameters (or optimizer state) whole on every device."""
    spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    return jax.tree_util.tree_map(lambda a: _place(a, spec), params)


def make_step(opt):
    """One jitted training step: the loss, its gradient and the update.
    With a sharded batch and replicated parameters XLA computes each
    device's share and sums the gradients with an all-reduce."""

    @jax.jit
    def step(params, state, batch):
        COMPILES["step"] += 1
        l, g = jax.value_and_grad(loss)(params, batch)
        u, state = opt.update(g, state, params)
        return optax.apply_updates(params, u), state, l

    return step


def train(params, examples, epochs=None, batch_size=None, seed=None, fraction=None, mesh=None, bucket=pow2_bucket, levels="common", log=print):
    """Runs the train block: cdlc's split, per-epoch shuffles, optimizer and
    hyper-parameters; each batch sharded over `mesh` (default: all
    devices) with the parameters replicated. Prints one line per epoch and
    returns the parameters."""
    epochs = TRAIN["epochs"] if epochs is None else epochs
    batch_size = TRAIN["batch"] if batch_size is None else batch_size
    seed = TRAIN["seed"] if seed is None else seed
    fraction = TRAIN["split"] if fraction is None else fraction
    mesh = make_mesh() if mesh is None else mesh
    ndev = mesh.devices.size
    padded = -(-batch_size // ndev) * ndev
    dt = np.dtype(_dtype_of(params))
    tr, val = split(list(examples), fraction, seed)
    opt = optimizer()
    state = replicate(opt.init(params), mesh)
    params = replicate(params, mesh)
    step = make_step(opt)
    for epoch in range(1, epochs + 1):
        started = time.time()
        order = shuffled(len(tr), mix64((seed ^ ((epoch * 0x9E37) & _M64)) & _M64))
        total = 0.0
        for at in range(0, len(order), batch_size):
            chunk = [tr[i] for i in order[at : at + batch_size]]
            batch = shard(encode(chunk, bucket=bucket, batch_size=padded, dtype=dt, shards=ndev, levels=levels), mesh)
            params, state, l = step(params, state, batch)
            total += float(l) * len(chunk)
        line = f"epoch {epoch:>3}/{epochs}  train_loss {total / max(len(tr), 1):.5f}"
        if val:
            vl, right, count = 0.0, 0, 0
            for at in range(0, len(val), batch_size):
                chunk = val[at : at + batch_size]
                l, r, c = evaluate(params, shard(encode(chunk, bucket=bucket, batch_size=padded, dtype=dt, shards=ndev, levels=levels), mesh))
                vl, right, count = vl + l, right + r, count + c
            line += f"  val_loss {vl / len(val):.5f}"
            if count:
                line += f"  val_accuracy {100 * right / count:.2f}%"
        line += f"  {len(tr) / max(time.time() - started, 1e-9):.0f} ex/s"
        log(line)
    return params
