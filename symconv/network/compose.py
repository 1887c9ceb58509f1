"""Composition: the exact provenance of one entry, layer by layer, never densely.

Going down from the entry, every tensor holds a short list of separable terms (one count
vector per spatial axis times one over channels).  A layer moves each term by its per-axis
tables and its channel rule; an add hands the same terms to each branch; a concatenation
hands each branch its slice.  Where branches meet again, terms with the same factors on all
but one axis are added on that axis, so ResNet's identity shortcuts keep the list short
(one term per distinct spatial footprint).  Counts are exact: int64 while they provably fit,
Python ints beyond.

``weighted=False`` counts paths (every tap weighs 1: for a linear stack with unit weights,
the gradient of the entry); ``weighted=True`` gives the exact gradient of the linear clone
the check builds (average pooling's 1/n, bilinear's fractions, subtraction's -1).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..errors import SymconvError
from .axes import INT64_ROOM, SameChannels, Vec
from .graph import AxisLayer, Flatten, Network, Node, Term

# Terms per tensor beyond which a trace is refused: a union this irregular is not what
# separable terms are for.
TERM_LIMIT = 20_000


def merge(terms: list) -> list:
    """Add terms that share every factor but one (exactly), until no two do.  Every term is
    first made primitive (its magnitudes in one coefficient), so equal footprints meet."""
    terms = [t.normal() for t in terms if t]
    while True:
        before = len(terms)
        terms = _merge_on(terms, "all")
        terms = _merge_on(terms, None)
        for axis in range(len(terms[0].axes) if terms else 0):
            terms = _merge_on(terms, axis)
        if len(terms) == before:
            return terms


def _merge_on(terms: list, axis) -> list:
    """Merge terms equal everywhere except on ``axis`` (None: the channels; "all": equal
    everywhere, coefficients added)."""
    if len(terms) < 2:
        return terms
    groups: dict = {}
    for t in terms:
        if axis == "all":
            key = (t.channels.key,) + tuple(v.key for v in t.axes)
        elif axis is None:
            key = tuple(v.key for v in t.axes)
        else:
            key = (t.channels.key,) + tuple(v.key for i, v in enumerate(t.axes) if i != axis)
        groups.setdefault(key, []).append(t)
    if len(groups) == len(terms):
        return terms
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        first = group[0]
        if axis == "all":
            coef = sum(t.coef for t in group)
            if coef:
                out.append(Term(first.axes, first.channels, coef))
            continue
        combined = combine([(t.coef, t.channels if axis is None else t.axes[axis]) for t in group])
        if axis is None:
            merged = Term(first.axes, combined, 1)
        else:
            axes = list(first.axes)
            axes[axis] = combined
            merged = Term(tuple(axes), first.channels, 1)
        if merged:
            out.append(merged.normal())
    return out


def combine(parts) -> Vec:
    """sum of coef * vec, exactly; in int64 when the coefficients share a large factor that
    can be taken out (the common case: counts that differ by small factors)."""
    coefs = [c for c, _ in parts]
    if all(isinstance(c, int) for c in coefs):
        g = 0
        for c in coefs:
            g = math.gcd(g, c)
        small = [c // g for c in coefs]
        top = max(abs(c) for c in small) * max(v.max_abs() for _, v in parts) * len(parts)
        if top < INT64_ROOM and all(v.values.dtype != object for _, v in parts):
            lo = min(v.start for _, v in parts)
            hi = max(v.stop for _, v in parts)
            out = np.zeros(hi - lo, dtype=np.int64)
            for c, (_, v) in zip(small, parts):
                out[v.start - lo:v.stop - lo] += c * v.values
            return Vec.of(lo, out).scaled(g)
    combined = None
    for c, v in parts:
        part = v.scaled(c)
        combined = part if combined is None else combined + part
    return combined


def entry_term(node: Node, canon) -> Term:
    """The entry itself: one-hot on every axis."""
    return Term(tuple(Vec.one_hot(p) for p in canon[1:-1]), Vec.one_hot(canon[-1]))


def backward(network: Network, target: str, canon, weighted: bool = False, keep: bool = False) -> dict:
    """Terms at every tensor the entry ``canon`` (n, spatial..., c) of ``target`` reads, by name
    (only the inputs' unless ``keep``)."""
    order = network.ancestors(target)
    node = network.nodes[target]
    # Per tensor, the lists of terms that reach it; a list handed on unchanged by a layer that
    # passes every entry through stays merged, and a tensor reached by that list alone needs
    # no merging.
    pending = {target: [([entry_term(node, canon)], True)]}
    found, memo = {}, {}
    for name in reversed(order):
        node = network.nodes[name]
        chunks = pending.pop(name, [])
        if len(chunks) == 1 and chunks[0][1]:
            terms = chunks[0][0]
        else:
            terms = merge([t for chunk, _ in chunks for t in chunk])
        if len(terms) > TERM_LIMIT:
            raise SymconvError(f"the provenance at {name!r} needs more than {TERM_LIMIT} separable terms: "
                               f"ask about a layer nearer the input")
        if keep or not node.inputs:
            found[name] = terms
        if not node.inputs:
            continue
        if _passes_through(node):
            pending.setdefault(node.inputs[0], []).append((terms, True))
            continue
        for i, src in enumerate(node.inputs):
            moved_terms = []
            for t in terms:
                if isinstance(node, Flatten):
                    moved_terms.extend(node.backward_terms(t, weighted))
                else:
                    moved = node.backward(t, i, weighted, memo)
                    if moved:
                        moved_terms.append(moved)
            pending.setdefault(src, []).append((moved_terms, False))
    return found


def _passes_through(node) -> bool:
    """A layer whose entry (p, c) reads exactly (p, c) with weight 1 (elementwise, batch norm)."""
    return isinstance(node, AxisLayer) and len(node.inputs) == 1 and node.channel_weight is None and \
        isinstance(node.channels, SameChannels) and all(t.identity for t in node.tables)


def forward(network: Network, source: str, canon, target: str, weighted: bool = False, keep: bool = False) -> dict:
    """Terms at every tensor between input entry ``canon`` of ``source`` and ``target``: for each
    entry of a tensor, the number of paths from the input entry to it."""
    between = set(network.ancestors(target)) & network.descendants(source)
    if target not in between:
        raise SymconvError(f"layer {target!r} does not read {source!r}")
    node = network.nodes[source]
    at, memo = {source: [entry_term(node, canon)]}, {}
    for name in network.nodes:
        if name not in between or name == source:
            continue
        node = network.nodes[name]
        terms = []
        for i, src in enumerate(node.inputs):
            for t in at.get(src, ()):
                moved = node.forward(t, i, weighted, memo)
                if moved:
                    terms.append(moved)
        terms = merge(terms)
        if len(terms) > TERM_LIMIT:
            raise SymconvError(f"the readers at {name!r} need more than {TERM_LIMIT} separable terms")
        at[name] = terms
    return at if keep else {target: at[target]}


def dense(terms: list, spatial, channels: int, box=None, dtype=object) -> np.ndarray:
    """The sum of the terms as a dense array (spatial..., channels), restricted to ``box`` (per
    axis (lo, hi), channels included) when given.  For answers (the input, one layer), never
    for a whole network."""
    sizes = (*spatial, channels)
    if box is None:
        box = [(0, n) for n in sizes]
    shape = tuple(hi - lo for lo, hi in box)
    out = np.zeros(shape, dtype=dtype)
    for t in terms:
        factors = [v.sliced(lo, hi, -lo).dense(hi - lo) for v, (lo, hi) in zip((*t.axes, t.channels), box)]
        block = _as(factors[0], dtype) * (t.coef if dtype is object else float(t.coef))
        for f in factors[1:]:
            block = np.multiply.outer(block, _as(f, dtype))
        out += block
    return out


def _as(values: np.ndarray, dtype) -> np.ndarray:
    if dtype is object or values.dtype != object:
        return values.astype(dtype)
    return np.array([float(v) for v in values.tolist()], dtype=dtype)


# Scaled floats keep their largest entry near 2**SCALE_BITS: far from float64's overflow, and
# 20,000 terms of them still sum without it.
SCALE_BITS = 60


def _bits(value) -> int:
    """The bit length of a value's integer part (at least 0)."""
    return int(abs(value)).bit_length()


def _scaled_floats(values: np.ndarray, shift: int) -> np.ndarray:
    """values / 2**shift as float64, each rounded once (values may be Python ints of any size)."""
    if not shift and values.dtype != object:
        return values.astype(np.float64)
    return np.array([float(Fraction(v) / (1 << shift)) if shift else float(v) for v in values.tolist()],
                    dtype=np.float64)


def scaled_dense(terms: list, spatial, channels: int, box=None) -> tuple:
    """(values, exponent): the sum of the terms over ``box`` as float64 times 2**exponent, for
    ranking and shading path counts of any size without overflow (exact values come from the
    terms: ``exact_at``).  Each factor is scaled to float64's range first, then each term's
    coefficient with what is left, so nothing overflows on the way."""
    sizes = (*spatial, channels)
    if box is None:
        box = [(0, n) for n in sizes]
    shape = tuple(hi - lo for lo, hi in box)
    out = np.zeros(shape, dtype=np.float64)
    parts = []
    for t in terms:
        factors = [v.sliced(lo, hi, -lo).dense(hi - lo) for v, (lo, hi) in zip((*t.axes, t.channels), box)]
        parts.append((t.coef, factors))
    bound = sum(abs(c) * math.prod(max((abs(v) for v in f.tolist()), default=0) for f in fs) for c, fs in parts)
    exponent = max(_bits(bound) - SCALE_BITS, 0)
    for coef, factors in parts:
        shifts = [max(_bits(max((abs(v) for v in f.tolist()), default=0)) - SCALE_BITS, 0) for f in factors]
        scale = Fraction(coef) * Fraction(2) ** (sum(shifts) - exponent)
        block = _scaled_floats(factors[0], shifts[0]) * float(scale)
        for f, shift in zip(factors[1:], shifts[1:]):
            block = np.multiply.outer(block, _scaled_floats(f, shift))
        out += block
    return out, exponent


def exact_at(terms: list, positions: np.ndarray) -> list:
    """The exact sum of the terms at each of ``positions`` (rows of (spatial..., c)), as Python
    numbers."""
    positions = np.asarray(positions, dtype=np.int64).reshape(len(positions), -1)
    bound = sum(abs(t.coef) * math.prod(v.max_abs() for v in t.factors()) for t in terms)
    if bound < INT64_ROOM and all(type(t.coef) is int and v.values.dtype != object for t in terms
                                  for v in t.factors()):
        total = np.zeros(len(positions), dtype=np.int64)   # every product and sum fits: int64 is exact
        for t in terms:
            value = np.full(len(positions), t.coef, dtype=np.int64)
            for axis, v in enumerate(t.factors()):
                local = positions[:, axis] - v.start
                inside = (local >= 0) & (local < len(v))
                value *= np.where(inside, v.values[np.clip(local, 0, len(v) - 1)], 0)
            total += value
        return [int(v) for v in total.tolist()]
    total = np.zeros(len(positions), dtype=object)
    for t in terms:
        value = np.full(len(positions), t.coef, dtype=object)
        for axis, v in enumerate(t.factors()):
            local = positions[:, axis] - v.start
            inside = (local >= 0) & (local < len(v))
            picked = np.zeros(len(positions), dtype=object)
            picked[inside] = v.values.astype(object)[local[inside]]
            value = value * picked
        total = total + value
    return [int(v) if isinstance(v, (int, np.integer)) else v for v in total.tolist()]


def support(terms: list, spatial, channels: int, box=None) -> np.ndarray:
    """Which entries the terms reach (boolean, like ``dense``).  Terms with the same nonzero
    pattern on every factor are drawn once."""
    sizes = (*spatial, channels)
    if box is None:
        box = [(0, n) for n in sizes]
    out = np.zeros(tuple(hi - lo for lo, hi in box), dtype=bool)
    patterns = {}
    for t in terms:
        patterns.setdefault(tuple(v.pattern for v in t.factors()), t)
    for t in patterns.values():
        factors = [v.sliced(lo, hi, -lo).dense(hi - lo) != 0 if (lo, hi) != (0, n) else v.dense(n) != 0
                   for v, (lo, hi), n in zip(t.factors(), box, sizes)]
        block = factors[0]
        for f in factors[1:]:
            block = np.logical_and.outer(block, f)
        out |= block
    return out


def bounding_box(terms: list, ndim: int) -> list:
    """Per axis (channels last) the smallest (lo, hi) window that holds every term."""
    if not terms:
        return [(0, 0)] * (ndim + 1)
    factors = [(*t.axes, t.channels) for t in terms]
    return [(min(f[i].start for f in factors), max(f[i].stop for f in factors)) for i in range(ndim + 1)]
