"""A network as symconv sees it: named tensors, each made by one layer from named inputs.

Every tensor has a batch axis (provenance never leaves its batch entry), spatial axes and
one channel axis.  Each layer says, for one separable term (a count vector per spatial axis
times a count vector over channels), what the same paths look like one layer down
(``backward``) or one layer up (``forward``).  Layers never hold dense maps: per axis a small
table (``axes.Table``), per channel axis a group rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import SymconvError, shown
from .axes import ZERO, Groups, SameChannels, Table, Vec, broadcast_table, with_room
from .limits import check_entry, check_layers


@dataclass(frozen=True, eq=False)
class Term:
    """Path counts (or exact gradient values) as one separable product:
    ``coef * axes[0][p_0] * ... * channels[c]``."""

    axes: tuple
    channels: Vec
    coef: object = 1

    def __bool__(self) -> bool:
        return bool(self.coef) and bool(self.channels) and all(self.axes)

    def total(self):
        """The sum of the term over every entry (exact)."""
        value = self.coef * self.channels.total()
        for v in self.axes:
            value *= v.total()
        return value

    def normal(self) -> "Term":
        """The same term with every factor primitive (coprime integers, first one positive)."""
        coef, changed = self.coef, False
        axes = []
        for v in self.axes:
            scale, prim = v.primitive()
            coef *= scale
            changed |= prim is not v
            axes.append(prim)
        scale, channels = self.channels.primitive()
        if not changed and channels is self.channels:
            return self
        return Term(tuple(axes), channels, coef * scale)

    def factors(self) -> tuple:
        return (*self.axes, self.channels)

    def value_at(self, position) -> object:
        """The term's exact value at one (spatial..., c) position."""
        value = self.coef
        for v, p in zip(self.factors(), position):
            if not v.start <= p < v.stop:
                return 0
            x = v.values[p - v.start]
            value *= int(x) if isinstance(x, np.integer) else x
        return value


@dataclass(frozen=True)
class Shape:
    spatial: tuple
    channels: int

    @property
    def ndim(self) -> int:
        return len(self.spatial)

    def text(self) -> str:
        return "x".join(map(str, (*self.spatial, self.channels)))

    @property
    def size(self) -> int:
        return int(np.prod(self.spatial, dtype=object)) * self.channels


# How the linear clone used by the gradient check relates to symconv's exact values.
LINEAR = "linear"        # unit weights: the clone's gradient equals the exact weighted values
DATA = "data"            # the gradient picks among candidates by the data (max pooling): containment
STRUCTURAL = "support"   # a nonlinearity kept in the clone: support only


@dataclass(eq=False)
class Node:
    """One tensor of the network and the layer that makes it."""

    name: str
    kind: str
    inputs: tuple
    shape: Shape
    detail: str = ""
    label: str = ""              # the framework's class or function name
    check: str = LINEAR
    notes: tuple = ()

    def backward(self, term: Term, i: int, weighted: bool, memo=None) -> Term:
        raise NotImplementedError

    def forward(self, term: Term, i: int, weighted: bool, memo=None) -> Term:
        raise NotImplementedError

    def affine_steps(self, i: int):
        """Per spatial axis of this node, (A, B, S) of input ``i``'s axis (or None: collapsed)."""
        raise NotImplementedError


@dataclass(eq=False)
class Input(Node):
    pass


@dataclass(eq=False)
class AxisLayer(Node):
    """A layer that maps each spatial axis by a table and channels by a group rule:
    convolutions of every kind, pooling, padding, cropping, resampling, slicing, pass-through
    layers, and layers that mix channels at one position (dense, softmax, layer norm)."""

    tables: tuple = ()
    channels: object = field(default_factory=SameChannels)
    channel_weight: object = None     # exact weight of each channel tap in the clone (None: 1)

    def backward(self, term, i, weighted, memo=None):
        axes = tuple(t.move(v, weighted, memo) for t, v in zip(self.tables, term.axes))
        coef = term.coef * self.channel_weight if weighted and self.channel_weight is not None else term.coef
        return Term(axes, self.channels.move(term.channels, weighted, memo), coef)

    def forward(self, term, i, weighted, memo=None):
        axes = tuple(t.move_forward(v, weighted, memo) for t, v in zip(self.tables, term.axes))
        coef = term.coef * self.channel_weight if weighted and self.channel_weight is not None else term.coef
        return Term(axes, self.channels.move_forward(term.channels, weighted, memo), coef)

    def affine_steps(self, i):
        return tuple(t.affine for t in self.tables)


@dataclass(eq=False)
class Collapse(Node):
    """Global pooling that drops the spatial axes: each output channel reads its channel at
    every position (weight 1/size per axis for the average)."""

    in_spatial: tuple = ()
    average: bool = True

    def _weight(self, size):
        return Fraction(1, size) if self.average else 1

    def backward(self, term, i, weighted, memo=None):
        coef = term.coef
        for n in self.in_spatial:
            coef *= self._weight(n) if weighted else 1
        return Term(tuple(Vec.ones(n) for n in self.in_spatial), term.channels, coef)

    def forward(self, term, i, weighted, memo=None):
        coef = term.coef
        for v, n in zip(term.axes, self.in_spatial):
            coef *= v.total() * (self._weight(n) if weighted else 1)
        return Term((), term.channels, coef)

    def affine_steps(self, i):
        return ()


@dataclass(eq=False)
class Flatten(Node):
    """Spatial axes and channels flattened into one channel axis, in the framework's order
    (channels last: (h, w, c); channels first: (c, h, w))."""

    in_spatial: tuple = ()
    in_channels: int = 1
    channels_last: bool = True

    def _dims(self):
        if self.channels_last:
            return (*self.in_spatial, self.in_channels)
        return (self.in_channels, *self.in_spatial)

    def _split(self, factors):
        """Factors in flatten order -> (spatial vecs, channel vec)."""
        if self.channels_last:
            return tuple(factors[:-1]), factors[-1]
        return tuple(factors[1:]), factors[0]

    def backward(self, term, i, weighted, memo=None):
        raise AssertionError("Flatten expands into several terms: use backward_terms")

    def backward_terms(self, term, weighted) -> list:
        dims = self._dims()
        flat = term.channels.dense(int(np.prod(dims)))
        return [Term(*self._split(f), term.coef) for f in _separable(flat.reshape(dims))]

    def forward(self, term, i, weighted, memo=None):
        factors = (*term.axes, term.channels) if self.channels_last else (term.channels, *term.axes)
        sizes = self._dims()
        flat = np.ones(1, dtype=object)
        for v, n in zip(factors, sizes):
            flat = np.multiply.outer(flat, v.dense(n).astype(object)).reshape(-1)
        return Term((), Vec.of(0, flat), term.coef)

    def affine_steps(self, i):
        return ()


def _plain(value: Fraction):
    """A Fraction with denominator 1 as a Python int."""
    return int(value) if value.denominator == 1 else value


def _separable(tensor: np.ndarray) -> list:
    """An exact decomposition of an integer tensor into separable terms (lists of Vecs, one per
    axis): one term when the tensor is an outer product (a whole row read by a dense layer, or
    one entry), otherwise one per nonzero slice of the first axis, recursively."""
    nz = np.argwhere(tensor != 0)
    if not len(nz):
        return []
    if tensor.ndim == 1:
        return [[Vec.of(0, tensor)]]
    pivot = tuple(nz[0])
    factors = []
    for axis in range(tensor.ndim):
        index = list(pivot)
        index[axis] = slice(None)
        factors.append(tensor[tuple(index)])
    pivot_value = tensor[pivot]
    # The tensor is the outer product of its slices through the pivot, divided by
    # pivot**(ndim-1), exactly when this integer (or rational) identity holds.
    outer = factors[0].astype(object)
    for f in factors[1:]:
        outer = np.multiply.outer(outer, f.astype(object))
    if np.array_equal(outer, tensor.astype(object) * pivot_value ** (tensor.ndim - 1)):
        scale = Fraction(1, 1) / Fraction(pivot_value) ** (tensor.ndim - 1)
        first = np.array([_plain(Fraction(v) * scale) for v in factors[0].tolist()], dtype=object)
        return [[Vec.of(0, first)] + [Vec.of(0, f) for f in factors[1:]]]
    out = []
    for p in np.unique(nz[:, 0]):
        for rest in _separable(tensor[p]):
            out.append([Vec.one_hot(int(p))] + rest)
    return out


@dataclass(eq=False)
class Merge(Node):
    """Several tensors into one: elementwise (add, subtract, multiply, average, maximum,
    minimum; sizes of 1 broadcast) or concatenation along one axis."""

    in_shapes: tuple = ()
    concat_axis: int | None = None     # None: elementwise; -1: channels; i: spatial axis i

    def _offsets(self):
        sizes = [s.channels if self.concat_axis == -1 else s.spatial[self.concat_axis] for s in self.in_shapes]
        return np.concatenate([[0], np.cumsum(sizes)]).tolist()

    def _weight(self, i, weighted):
        """Input i's exact weight in the linear clone (``weighted == 'abs'``: its magnitude)."""
        if not weighted:
            return 1
        if self.kind == "subtract" and i == 1:
            return 1 if weighted == "abs" else -1
        if self.kind == "average":
            return Fraction(1, len(self.inputs))
        return 1

    def backward(self, term, i, weighted, memo=None):
        shape = self.in_shapes[i]
        if self.concat_axis is not None:
            lo, hi = self._offsets()[i:i + 2]
            if self.concat_axis == -1:
                return Term(term.axes, term.channels.sliced(lo, hi, -lo), term.coef)
            axes = list(term.axes)
            axes[self.concat_axis] = axes[self.concat_axis].sliced(lo, hi, -lo)
            return Term(tuple(axes), term.channels, term.coef)
        axes = tuple(_unbroadcast(v, n, m) for v, n, m in zip(term.axes, shape.spatial, self.shape.spatial))
        channels = _unbroadcast(term.channels, shape.channels, self.shape.channels)
        return Term(axes, channels, term.coef * self._weight(i, weighted))

    def forward(self, term, i, weighted, memo=None):
        if self.concat_axis is not None:
            lo = self._offsets()[i]
            if self.concat_axis == -1:
                return Term(term.axes, Vec.of(term.channels.start + lo, term.channels.values), term.coef)
            axes = list(term.axes)
            v = axes[self.concat_axis]
            axes[self.concat_axis] = Vec.of(v.start + lo, v.values)
            return Term(tuple(axes), term.channels, term.coef)
        shape = self.in_shapes[i]
        axes = tuple(_broadcast(v, n, m) for v, n, m in zip(term.axes, shape.spatial, self.shape.spatial))
        channels = _broadcast(term.channels, shape.channels, self.shape.channels)
        return Term(axes, channels, term.coef * self._weight(i, weighted))

    def affine_steps(self, i):
        if self.concat_axis is not None and self.concat_axis >= 0:
            offset = self._offsets()[i]
            return tuple((Fraction(1), Fraction(-offset if a == self.concat_axis else 0), Fraction(1))
                         for a in range(self.shape.ndim))
        shape = self.in_shapes[i]
        return tuple((Fraction(1), Fraction(0), Fraction(1)) if n == m else broadcast_table(m).affine
                     for n, m in zip(shape.spatial, self.shape.spatial))


def _unbroadcast(vec: Vec, size: int, out_size: int) -> Vec:
    if size == out_size or not vec:
        return vec
    return Vec.of(0, np.array([vec.total()], dtype=object))


def _broadcast(vec: Vec, size: int, out_size: int) -> Vec:
    if size == out_size or not vec:
        return vec
    return Vec.of(0, np.repeat(with_room(vec.values, 1), out_size))


@dataclass(eq=False)
class Opaque(Node):
    """A layer symconv cannot map (a reshape, a lambda, a nested model): tracing through it is
    refused with its name; tracing around it works."""

    def _refuse(self):
        raise SymconvError(f"layer {self.name!r} ({self.label}) cannot be traced through: symconv maps "
                           f"convolutions, pooling, padding, cropping, resampling, slicing, elementwise, "
                           f"normalisation, add and concatenate layers; ask about a layer before it")

    def backward(self, term, i, weighted, memo=None):
        self._refuse()

    def forward(self, term, i, weighted, memo=None):
        self._refuse()

    def affine_steps(self, i):
        self._refuse()


@dataclass
class Network:
    """Named nodes in topological order, one or more inputs, and how entries are written."""

    nodes: dict
    inputs: tuple
    channels_last: bool = True
    source: str = "chain"
    title: str = ""
    batch: int = 1
    aliases: dict = field(default_factory=dict)

    def __post_init__(self):
        check_layers(len(self.nodes) - len(self.inputs))

    # ---- names ---------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        if isinstance(name, str):
            key = self.aliases.get(name, name)
            if key in self.nodes:
                return self.nodes[key]
        names = list(self.nodes)
        listing = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        raise SymconvError(f"layer must be one of the network's layers ({listing}), got {shown(name)}")

    @property
    def input(self) -> Node:
        return self.nodes[self.inputs[0]]

    # ---- entries ---------------------------------------------------------------------------
    def canonical(self, node: Node, index) -> tuple:
        """A user index (the framework's layout) -> (n, spatial..., c), validated."""
        index = check_entry(index)
        shape = self.user_shape(node)
        if len(index) != len(shape):
            raise SymconvError(f"entry {node.name}{list(index)} must have {len(shape)} indices for shape "
                               f"{'x'.join(map(str, shape))}")
        if any(not 0 <= i < s for i, s in zip(index, shape)):
            raise SymconvError(f"entry {node.name}{list(index)} is out of range for shape "
                               f"{'x'.join(map(str, shape))}")
        if self.channels_last or not node.shape.spatial:
            return index
        return (index[0], *index[2:], index[1])

    def user_index(self, node: Node, canon) -> tuple:
        canon = tuple(canon)
        if self.channels_last or not node.shape.spatial:
            return canon
        return (canon[0], canon[-1], *canon[1:-1])

    def user_shape(self, node: Node) -> tuple:
        s = node.shape
        if self.channels_last or not s.spatial:
            return (self.batch, *s.spatial, s.channels)
        return (self.batch, s.channels, *s.spatial)

    # ---- graph -----------------------------------------------------------------------------
    def ancestors(self, name: str) -> list:
        """Names of the nodes ``name`` depends on (itself included), in topological order."""
        seen, stack = set(), [name]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.nodes[n].inputs)
        return [n for n in self.nodes if n in seen]

    def descendants(self, name: str) -> set:
        users = {}
        for n, node in self.nodes.items():
            for src in node.inputs:
                users.setdefault(src, []).append(n)
        seen, stack = set(), [name]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(users.get(n, ()))
        return seen

    def consumers(self) -> dict:
        users = {}
        for n, node in self.nodes.items():
            for src in node.inputs:
                users.setdefault(src, []).append(n)
        return users

    def describe(self) -> str:
        return f"{self.title or self.source} ({len(self.nodes)} tensors)"


def check_shape(node: Node, framework_shape, channels_last: bool) -> None:
    """symconv's output shape for a layer must equal the framework's, or the map is wrong."""
    if framework_shape is None:
        return
    dims = tuple(int(d) for d in framework_shape[1:])
    mine = (*node.shape.spatial, node.shape.channels) if channels_last or not node.shape.spatial else \
        (node.shape.channels, *node.shape.spatial)
    if dims != mine:
        raise SymconvError(f"layer {node.name!r} ({node.label}): symconv computes output shape "
                           f"{'x'.join(map(str, mine))} but the model has {'x'.join(map(str, dims))}")


__all__ = ["AxisLayer", "Collapse", "Flatten", "Groups", "Input", "Merge", "Network", "Node", "Opaque",
           "SameChannels", "Shape", "Table", "Term", "ZERO"]
