"""One axis of one layer: exact sparse count vectors and the tables that move them.

A layer's provenance factorises per spatial axis (and per channel axis).  On one axis, a
layer is a table: ``taps[o, t]`` is the input position that output position ``o`` reads
through its ``t``-th tap, or -1 where the tap falls into padding (``symconv.model.indexmap.AxisMap``
for a window).  Moving a vector of path counts over output positions back through the table
gives the path counts over input positions; moving it forward through the inverse table
answers the reverse question.  Vectors are windows of exact integers (NumPy int64 while the
values provably fit, Python ints beyond) or, for the exact gradient of a clone with
fractional weights, ``fractions.Fraction``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from ..model.indexmap import AxisMap

# int64 arithmetic is used while every result provably stays below this; Python ints beyond.
INT64_ROOM = 2**62


def with_room(values: np.ndarray, factor: int) -> np.ndarray:
    """``values`` unchanged, or as Python ints when ``|values| * factor`` could leave int64."""
    if values.dtype == object or not len(values):
        return values
    top = int(values.max()), int(values.min())
    if max(abs(top[0]), abs(top[1])) * max(int(factor), 1) >= INT64_ROOM:
        return values.astype(object)
    return values


def _exact_int(values: np.ndarray) -> np.ndarray:
    """An object array of Python ints (and Fractions) back to int64 when it all fits."""
    if values.dtype != object or not len(values):
        return values
    if all(type(v) is int for v in values.tolist()):
        if max(abs(v) for v in values.tolist()) < INT64_ROOM:
            return values.astype(np.int64)
    return values


@dataclass(frozen=True, eq=False)
class Vec:
    """Exact values over positions ``start .. start + len(values) - 1`` of one axis; zero
    elsewhere.  Never has a zero at either end; an empty ``values`` is the zero vector."""

    start: int
    values: np.ndarray

    @staticmethod
    def of(start: int, values) -> "Vec":
        values = np.asarray(values)
        if values.dtype != object:
            values = values.astype(np.int64)
        nz = np.flatnonzero(values != 0)
        if not len(nz):
            return ZERO
        return Vec(int(start + nz[0]), _exact_int(values[nz[0]:nz[-1] + 1]))

    @staticmethod
    def one_hot(position: int) -> "Vec":
        return Vec(int(position), np.ones(1, dtype=np.int64))

    @staticmethod
    def ones(size: int, value=1) -> "Vec":
        if value == 1:
            return Vec(0, np.ones(size, dtype=np.int64))
        return Vec.of(0, np.array([value] * size, dtype=object))

    @property
    def stop(self) -> int:
        return self.start + len(self.values)

    def __bool__(self) -> bool:
        return len(self.values) > 0

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def key(self) -> tuple:
        if self.values.dtype == object:
            return (self.start, tuple(self.values.tolist()))
        return (self.start, self.values.tobytes())

    @cached_property
    def pattern(self) -> tuple:
        """Where the vector is nonzero, as a hashable key."""
        return (self.start, len(self.values), np.packbits(self.values != 0).tobytes())

    def primitive(self) -> tuple:
        """(scale, vec) with ``self == vec * scale``, vec's integers coprime and its first value
        positive: large or fractional magnitudes move into the scale."""
        return self._primitive

    @cached_property
    def _primitive(self) -> tuple:
        if not self:
            return 0, self
        values = self.values
        if values.dtype != object:
            if values[0] == 1 or values[-1] == 1:
                return 1, self
            g = int(np.gcd.reduce(np.abs(values)))
            if values[0] < 0:
                g = -g
            if g == 1:
                return 1, self
            prim = Vec(self.start, values // g)
            prim.__dict__["_primitive"] = (1, prim)
            return g, prim
        items = values.tolist()
        den = 1
        for v in items:
            if isinstance(v, Fraction):
                den = den * v.denominator // math.gcd(den, v.denominator)
        ints = [int(v * den) for v in items]
        g = 0
        for v in ints:
            g = math.gcd(g, v)
            if g == 1:
                break
        if ints[0] < 0:
            g = -g
        prim = Vec(self.start, _exact_int(np.array([v // g for v in ints], dtype=object)))
        prim.__dict__["_primitive"] = (1, prim)
        return (Fraction(g, den) if den != 1 else g), prim

    def __eq__(self, other) -> bool:
        return isinstance(other, Vec) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def positions(self) -> np.ndarray:
        """The positions with a nonzero value."""
        return self.start + np.flatnonzero(self.values != 0)

    def dense(self, size: int) -> np.ndarray:
        out = np.zeros(size, dtype=self.values.dtype if len(self) else np.int64)
        out[self.start:self.stop] = self.values
        return out

    def total(self):
        return sum(self.values.tolist()) if self.values.dtype == object else int(self.values.sum())

    def __add__(self, other: "Vec") -> "Vec":
        if not other:
            return self
        if not self:
            return other
        lo, hi = min(self.start, other.start), max(self.stop, other.stop)
        a = with_room(self.values, 2)
        b = with_room(other.values, 2)
        dtype = object if object in (a.dtype, b.dtype) else np.int64
        out = np.zeros(hi - lo, dtype=dtype)
        out[self.start - lo:self.stop - lo] += a
        out[other.start - lo:other.stop - lo] += b
        return Vec.of(lo, out)

    def scaled(self, factor) -> "Vec":
        """Every value times an exact factor (an int or a Fraction)."""
        if factor == 1:
            return self
        if isinstance(factor, int):
            return Vec.of(self.start, with_room(self.values, abs(factor)) * factor)
        return Vec.of(self.start, self.values.astype(object) * factor)

    def sliced(self, lo: int, hi: int, shift: int = 0) -> "Vec":
        """The part over positions lo .. hi-1, moved by ``shift``."""
        a, b = max(lo, self.start), min(hi, self.stop)
        if a >= b:
            return ZERO
        return Vec.of(a + shift, self.values[a - self.start:b - self.start])

    def max_abs(self):
        vals = self.values.tolist()
        return max((abs(v) for v in vals), default=0)

    def __repr__(self):
        vals = self.values.tolist()
        shown = ", ".join(map(str, vals[:8])) + (", ..." if len(vals) > 8 else "")
        return f"Vec({self.start}: [{shown}])"


ZERO = Vec(0, np.zeros(0, dtype=np.int64))


def _scatter_add(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """out[index[j]] += values[j], exactly in int64 (the caller has checked the room)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values)
    return out


@dataclass(frozen=True, eq=False)
class Table:
    """One axis of one layer: ``taps[o, t]`` is an input position (or -1); ``weights[o, t]``
    (exact, optional) is what the tap multiplies by in the layer's linear clone."""

    taps: np.ndarray
    in_size: int
    weights: np.ndarray | None = None
    affine: tuple | None = None   # (A, B, S): output o reads about [A o + B, A o + B + S - 1]
    rule: str = ""                # the index rule in words, e.g. "2*o + a - 3"
    window: tuple | None = None   # (kernel, stride, dilation, before) of a window axis

    @property
    def out_size(self) -> int:
        return self.taps.shape[0]

    @cached_property
    def fan(self) -> int:
        """The most taps that meet at one position, either way round (bounds every sum)."""
        valid = self.taps[self.taps >= 0]
        into = int(np.bincount(valid, minlength=1).max()) if len(valid) else 0
        return max(self.taps.shape[1], into, 1)

    @cached_property
    def identity(self) -> bool:
        return self.taps.shape == (self.in_size, 1) and self.weights is None and \
            bool((self.taps[:, 0] == np.arange(self.in_size)).all())

    @cached_property
    def signature(self) -> int:
        """Equal tables (two axes of one square layer) share moved vectors."""
        weights = None if self.weights is None else tuple(map(str, self.weights.reshape(-1).tolist()))
        return hash((self.taps.shape, self.taps.tobytes(), self.in_size, weights))

    def move(self, vec: Vec, weighted: bool, memo: dict | None = None) -> Vec:
        """Path counts (or, ``weighted``, exact gradient values) over output positions ->
        the same over input positions."""
        if not vec or self.identity:
            return vec
        if memo is not None:
            key = (self.signature, bool(weighted and self.weights is not None), vec.key)
            found = memo.get(key)
            if found is None:
                found = memo[key] = self._move(vec, weighted)
            return found
        return self._move(vec, weighted)

    def _move(self, vec: Vec, weighted: bool) -> Vec:
        rows = self.taps[vec.start:vec.stop]
        valid = rows >= 0
        if not valid.any():
            return ZERO
        targets = rows[valid]
        lo, hi = int(targets.min()), int(targets.max())
        values = vec.values
        if weighted and self.weights is not None:
            contrib = (values.astype(object)[:, None] * self.weights[vec.start:vec.stop])[valid]
        else:
            values = with_room(values, self.fan)
            contrib = np.repeat(values, valid.sum(axis=1))
        if contrib.dtype == object:
            out = np.zeros(hi - lo + 1, dtype=object)
            np.add.at(out, targets - lo, contrib)
        else:
            out = _scatter_add(targets - lo, contrib, hi - lo + 1)
        return Vec.of(lo, out)

    @cached_property
    def inverse(self) -> "Table":
        """The transposed table: for each input position, the output positions that read it."""
        o, t = np.nonzero(self.taps >= 0)
        p = self.taps[o, t]
        order = np.lexsort((o, p))
        o, t, p = o[order], t[order], p[order]
        counts = np.bincount(p, minlength=self.in_size)
        width = int(counts.max()) if len(counts) else 0
        taps = np.full((self.in_size, max(width, 1)), -1, dtype=np.int64)
        slot = np.arange(len(p)) - np.concatenate([[0], np.cumsum(counts)])[p]
        taps[p, slot] = o
        weights = None
        if self.weights is not None:
            weights = np.full(taps.shape, Fraction(0), dtype=object)
            weights[p, slot] = self.weights[o, t]
        return Table(taps, self.out_size, weights)

    def move_forward(self, vec: Vec, weighted: bool, memo: dict | None = None) -> Vec:
        """The reverse question on one axis: values over input positions -> output positions."""
        if self.identity:
            return vec
        return self.inverse.move(vec, weighted, memo)

    def support(self, o: int) -> np.ndarray:
        row = self.taps[o]
        return row[row >= 0]


def _index_rule(stride, dilation, before, o="o", a="a") -> str:
    parts = [f"{stride}*{o}" if stride != 1 else o]
    if dilation:
        parts.append(f"{dilation}*{a}" if dilation != 1 else a)
    text = " + ".join(parts)
    if before:
        text += f" - {before}" if before > 0 else f" + {-before}"
    return text


def window_table(in_size: int, out_size: int, kernel: int, stride: int, dilation: int, before: int,
                 divisor=None) -> Table:
    """Output o reads input ``stride*o + dilation*a - before`` for a in 0..kernel-1 (a
    convolution, pooling, padding, cropping or slicing axis).  ``divisor(o)`` gives average
    pooling's weight 1/divisor per output position."""
    taps = AxisMap(in_size, out_size, kernel, stride, dilation, before).taps
    weights = None
    if divisor is not None:
        weights = np.empty((out_size, kernel), dtype=object)
        for o in range(out_size):
            count = divisor(o)   # 0: every tap falls into padding, and nothing is read
            weights[o, :] = Fraction(1, count) if count else Fraction(0)
    rule = _index_rule(stride, dilation if kernel > 1 else 0, before)
    if kernel > 1:
        rule += f", a = 0..{kernel - 1}"
    return Table(taps.astype(np.int64), in_size, weights,
                 (Fraction(stride), Fraction(-before), Fraction(dilation * (kernel - 1) + 1)), rule,
                 (kernel, stride, dilation, before))


def transposed_table(in_size: int, out_size: int, kernel: int, stride: int, dilation: int, before: int) -> Table:
    """A transposed convolution's axis: output (big) position o reads input (small) position i
    wherever ``stride*i + dilation*a - before == o``."""
    inverse = Table(AxisMap(out_size, in_size, kernel, stride, dilation, before).taps.astype(np.int64),
                    out_size).inverse
    span = Fraction(dilation * (kernel - 1), stride)
    rule = f"i with {_index_rule(stride, dilation, before, 'i')} = o, a = 0..{kernel - 1}"
    return Table(inverse.taps, in_size, None,
                 (Fraction(1, stride), Fraction(before, stride) - span, span + 1), rule)


def nearest_table(in_size: int, factor: int) -> Table:
    """Nearest-neighbour upsampling by an integer factor: output o reads input o // factor."""
    return Table((np.arange(in_size * factor) // factor)[:, None].astype(np.int64), in_size, None,
                 (Fraction(1, factor), Fraction(1 - factor, factor), Fraction(2 * factor - 1, factor)),
                 f"o // {factor}")


def bilinear_table(in_size: int, factor: int, align_corners: bool = False) -> Table:
    """Bilinear upsampling by an integer factor: output o reads the two input positions around
    its source coordinate, with fractional weights.  Half-pixel centres (TensorFlow's
    ``resize_bilinear(half_pixel_centers=True)``, Keras, PyTorch ``align_corners=False``):
    ``src = (o + 1/2) / factor - 1/2``, clamped to the input; ``align_corners=True``:
    ``src = o (in - 1) / (out - 1)``.  Taps with weight 0 are left out; two taps that land on the
    same position (at the clamped borders) are one tap with their weights added."""
    out_size = in_size * factor
    taps = np.full((out_size, 2), -1, dtype=np.int64)
    weights = np.full((out_size, 2), Fraction(0), dtype=object)
    for o in range(out_size):
        if align_corners:
            src = Fraction(o * (in_size - 1), out_size - 1) if out_size > 1 else Fraction(0)
        else:
            src = max(Fraction(2 * o + 1, 2 * factor) - Fraction(1, 2), Fraction(0))
        low = min(int(src // 1), in_size - 1)
        lerp = src - low
        pairs = {}
        for pos, w in ((low, 1 - lerp), (min(low + 1, in_size - 1), lerp)):
            if w:
                pairs[pos] = pairs.get(pos, Fraction(0)) + w
        for t, (pos, w) in enumerate(sorted(pairs.items())):
            taps[o, t], weights[o, t] = pos, w
    if align_corners:
        scale = Fraction(in_size - 1, out_size - 1) if out_size > 1 else Fraction(0)
        affine, rule = (scale, Fraction(0), Fraction(2)), f"floor(o*{in_size - 1}/{out_size - 1}) and the next"
    else:
        affine = (Fraction(1, factor), Fraction(1 - factor, 2 * factor), Fraction(2))
        rule = f"floor((o + 1/2)/{factor} - 1/2) and the next, clamped"
    return Table(taps, in_size, weights, affine, rule)


def adaptive_table(in_size: int, out_size: int, average: bool) -> Table:
    """Adaptive pooling (PyTorch): output o reads ``floor(o*in/out) .. ceil((o+1)*in/out) - 1``,
    weight 1/(window length) for the average."""
    starts = [o * in_size // out_size for o in range(out_size)]
    ends = [-(-(o + 1) * in_size // out_size) for o in range(out_size)]
    width = max(e - s for s, e in zip(starts, ends))
    taps = np.full((out_size, width), -1, dtype=np.int64)
    weights = np.full((out_size, width), Fraction(0), dtype=object) if average else None
    for o, (s, e) in enumerate(zip(starts, ends)):
        taps[o, :e - s] = np.arange(s, e)
        if average:
            weights[o, :e - s] = Fraction(1, e - s)
    scale = Fraction(in_size, out_size)
    return Table(taps, in_size, weights, (scale, Fraction(0), Fraction(width)),
                 f"floor(o*{in_size}/{out_size}) .. ceil((o+1)*{in_size}/{out_size}) - 1")


def whole_table(in_size: int, weight=None) -> Table:
    """One output position that reads the whole axis (global pooling with kept dimensions)."""
    weights = None if weight is None else np.array([[weight] * in_size], dtype=object)
    return Table(np.arange(in_size, dtype=np.int64)[None, :], in_size, weights,
                 (Fraction(0), Fraction(0), Fraction(in_size)), f"0..{in_size - 1}")


def broadcast_table(out_size: int) -> Table:
    """An axis of size 1 broadcast to ``out_size`` positions (every output reads position 0)."""
    return Table(np.zeros((out_size, 1), dtype=np.int64), 1, None,
                 (Fraction(0), Fraction(0), Fraction(1)), "0")


def identity_table(size: int) -> Table:
    return Table(np.arange(size, dtype=np.int64)[:, None], size, None,
                 (Fraction(1), Fraction(0), Fraction(1)), "o", (1, 1, 1, 0))


@dataclass(frozen=True)
class Groups:
    """The channel factor of a layer: output channels in ``groups`` blocks, each reading every
    input channel of its block (dense: 1 group; depthwise: one group per input channel)."""

    groups: int
    c_in: int
    c_out: int

    def move(self, vec: Vec, weighted: bool = False, memo: dict | None = None) -> Vec:
        return _memo(memo, ("groups", self, vec.key), lambda: _group_move(vec, self.groups, self.c_out, self.c_in))

    def move_forward(self, vec: Vec, weighted: bool = False, memo: dict | None = None) -> Vec:
        return _memo(memo, ("groups^T", self, vec.key),
                     lambda: _group_move(vec, self.groups, self.c_in, self.c_out))

    def describe(self) -> str:
        if self.groups == 1:
            return f"every one of the {self.c_in} input channels"
        if self.groups == self.c_in:
            return "its own input channel (depthwise)"
        return f"the {self.c_in // self.groups} input channels of its group ({self.groups} groups)"


def _memo(memo, key, compute):
    if memo is None:
        return compute()
    found = memo.get(key)
    if found is None:
        found = memo[key] = compute()
    return found


def _group_move(vec: Vec, groups: int, size_from: int, size_to: int) -> Vec:
    if not vec:
        return ZERO
    per_from, per_to = size_from // groups, size_to // groups
    g0, g1 = vec.start // per_from, (vec.stop - 1) // per_from + 1
    block = np.zeros((g1 - g0) * per_from, dtype=vec.values.dtype)
    block[vec.start - g0 * per_from:vec.stop - g0 * per_from] = vec.values
    block = with_room(block, per_from)
    sums = block.reshape(g1 - g0, per_from).sum(axis=1)
    return Vec.of(g0 * per_to, np.repeat(sums, per_to))


@dataclass(frozen=True)
class SameChannels:
    """Channel c of the output reads channel c of the input (pooling, padding, elementwise)."""

    def move(self, vec: Vec, weighted: bool = False, memo: dict | None = None) -> Vec:
        return vec

    move_forward = move

    def describe(self) -> str:
        return "the same channel"
