"""Geometry: the sizes and index symbols of one convolution, and its forward definition.

Every op is described as the direct convolution behind it (see ``symconv.spec``): per spatial
axis an input size (``input_size``), a kernel size, stride, dilation, pad before and an
output size (``output_size``).  A transposed convolution's y is that convolution's input side.  Channels come in
three shapes: plain (x channel ``c_i``, y channel ``c_o``), depthwise (y channel ``c*M + m``
reads x channel ``c``) and grouped (group ``q``: x channel ``q*C_i + c_i``, y channel
``q*C_o + c_o``, ``C_i`` and ``C_o`` counted per group).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Integer, KroneckerDelta, Symbol

from ..errors import SymconvError
from ..model import layout
from ..model.spec import KERNEL_LAYOUTS, ConvSpec
from . import claims as claims_mod
from .formulas import Term, index, size

AXIS_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}
OUT_LETTERS = ("i", "j", "l")
KERNEL_LETTERS = ("a", "b", "e")
INPUT_LETTERS = {"D": "z", "H": "h", "W": "w"}


def axis_names(ndim: int) -> tuple:
    """Display names of the spatial axes (W; H, W; D, H, W; X0, X1, ... beyond three)."""
    return AXIS_NAMES.get(ndim) or tuple(f"X{r}" for r in range(ndim))


def _letters(base: tuple, ndim: int, fallback: str) -> tuple:
    return base[:ndim] if ndim <= len(base) else tuple(f"{fallback}{r}" for r in range(ndim))


@dataclass(frozen=True)
class Geometry:
    """One convolution's shape, with sizes as SymPy symbols or integers.

    ``kind`` is conv, depthwise or transpose; per axis: ``input_size`` (of the
    direct convolution), ``kernel``, ``stride``, ``dilation``, ``pad`` (before) and ``output_size``
    (its output); ``batch``, ``c_in`` and ``c_out`` (depthwise: channels and multiplier;
    transpose: x's and y's channels; grouped: per group) and ``groups``.  ``full`` False
    drops batch and channels.  ``kernel_layout``: the kernel's letters (``OIHW``, ...; None:
    TensorFlow's, spatial axes first), for a spec's geometry.
    """

    kind: str
    ndim: int
    channels_last: bool
    full: bool
    input_size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad: tuple
    output_size: tuple
    batch: object = Integer(1)
    c_in: object = Integer(1)
    c_out: object = Integer(1)
    groups: object = Integer(1)
    kernel_layout: str | None = None

    @property
    def grouped(self) -> bool:
        return self.full and self.kind != "depthwise" and self.groups != 1

    # -- index symbols
    @property
    def out_idx(self):
        return tuple(index(c) for c in _letters(OUT_LETTERS, self.ndim, "i"))

    @property
    def kernel_idx(self):
        return tuple(index(c) for c in _letters(KERNEL_LETTERS, self.ndim, "a"))

    @property
    def input_idx(self):
        if self.ndim <= 3:
            return tuple(index(INPUT_LETTERS[a]) for a in AXIS_NAMES[self.ndim])
        return tuple(index(f"h{r}") for r in range(self.ndim))

    @property
    def channel_idx(self):
        """(x-side channel, y-side channel) symbols (within the group when grouped)."""
        if self.kind == "depthwise":
            return index("c"), index("m")
        return index("c_i"), index("c_o")

    @property
    def group_idx(self) -> Symbol:
        return index("q")

    def positions(self, out, kern):
        return tuple(s * o + d * a - p for o, a, s, d, p in zip(out, kern, self.stride, self.dilation, self.pad))

    # -- channels
    def x_channel(self, ci, q=None):
        return q * self.c_in + ci if self.grouped else ci

    def y_channel(self, co, q=None, ci=None):
        if self.kind == "depthwise":
            return ci * self.c_out + co
        return q * self.c_out + co if self.grouped else co

    def radices(self) -> list:
        """(radix, group symbol, local symbol) of every channel index written ``radix*u + v``."""
        ci, co = self.channel_idx
        if self.kind == "depthwise":
            return [(self.c_out, ci, co)]
        if self.grouped:
            return [(self.c_in, self.group_idx, ci), (self.c_out, self.group_idx, co)]
        return []

    def split_index(self, expr, value: int) -> dict:
        """The symbols of one entry index and their values: ``c*M + m`` at 5 gives c, m."""
        if isinstance(expr, Symbol):
            return {expr: Integer(value)}
        for radix, group, local in self.radices():
            if sympy.expand(expr - (radix * group + local)) == 0:
                return {group: Integer(value // int(radix)), local: Integer(value % int(radix))}
        raise SymconvError(f"cannot split the index {expr}")

    # -- layouts
    def activation(self, n, spatial, c):
        if not self.full:
            return tuple(spatial)
        return (n, *spatial, c) if self.channels_last else (n, c, *spatial)

    def kernel_entry(self, kern, first, second):
        """A kernel entry from its spatial indices and its two channel indices in TensorFlow's
        order (in, out; transposed: out, in; depthwise: channel, multiplier), in the layout."""
        return self._in_kernel_layout(tuple(kern), (first, second), lambda c, m: c * self.c_out + m, Integer(0))

    def _in_kernel_layout(self, spatial, channels, merged, unit):
        """Spatial values and the two channel values in TensorFlow's order, arranged in the
        kernel layout; ``merged(channel, multiplier)`` and ``unit`` give O and I where a
        depthwise kernel is written as its grouped convolution's (I = 1)."""
        if not self.full:
            return spatial
        if self.kernel_layout is None:
            return spatial + channels
        tf = KERNEL_LAYOUTS["tf"][self.kind].format(layout.spatial_letters(self.ndim))
        values = dict(zip(tf, spatial + channels))
        if not set(self.kernel_layout) <= set(values):
            values.update(O=merged(*channels), I=unit)
        return tuple(values[letter] for letter in self.kernel_layout)

    def _kernel_channels(self, ci, co, q):
        if self.kind == "transpose":
            return co, self.x_channel(ci, q)
        if self.kind == "depthwise":
            return ci, co
        return ci, self.y_channel(co, q)

    # -- the three tensors' free indices, ranges and entries
    def tensor_indices(self, tensor: str) -> tuple:
        """(index tuple in the layout, {free symbol: (lo, hi)}) of a generic entry of a tensor."""
        n, q = index("n"), self.group_idx
        ci, co = self.channel_idx
        ranges = {}
        if self.full and tensor != "k":
            ranges[n] = (Integer(0), self.batch - 1)
        if self.grouped:
            ranges[q] = (Integer(0), self.groups - 1)
        if tensor == "k":
            ranges.update({a: (Integer(0), K - 1) for a, K in zip(self.kernel_idx, self.kernel)})
            if self.full:
                ranges[ci] = (Integer(0), self.c_in - 1)
                ranges[co] = (Integer(0), self.c_out - 1)
            return self.kernel_entry(self.kernel_idx, *self._kernel_channels(ci, co, q)), ranges
        on_output = (tensor == "x") == (self.kind == "transpose")   # a transposed convolution's x: output side
        spatial = self.out_idx if on_output else self.input_idx
        sizes = self.output_size if on_output else self.input_size
        ranges.update({v: (Integer(0), s - 1) for v, s in zip(spatial, sizes)})
        if tensor == "x":
            if self.full:
                ranges[ci] = (Integer(0), self.c_in - 1)
            return self.activation(n, spatial, self.x_channel(ci, q)), ranges
        if self.full:
            ranges[co] = (Integer(0), self.c_out - 1)
            if self.kind == "depthwise":
                ranges[ci] = (Integer(0), self.c_in - 1)
        return self.activation(n, spatial, self.y_channel(co, q, ci)), ranges

    def shape(self, tensor: str) -> tuple:
        """Sizes of a tensor in the layout (symbolic or numeric)."""
        groups = self.groups if self.grouped else Integer(1)
        if tensor == "k":
            first, second = {"transpose": (self.c_out, groups * self.c_in), "depthwise": (self.c_in, self.c_out),
                             "conv": (self.c_in, groups * self.c_out)}[self.kind]
            return self._in_kernel_layout(tuple(self.kernel), (first, second), lambda c, m: c * m, Integer(1))
        on_output = (tensor == "x") == (self.kind == "transpose")
        spatial = self.output_size if on_output else self.input_size
        if tensor == "x":
            channels = groups * self.c_in
        else:
            channels = self.c_in * self.c_out if self.kind == "depthwise" else groups * self.c_out
        return self.activation(self.batch, spatial, channels)

    def definition(self) -> tuple:
        """(y entry, its defining Term): the forward convolution as a sum of products."""
        y_idx, _ = self.tensor_indices("g")
        n, q = index("n"), self.group_idx
        ci, co = self.channel_idx
        limits = []
        kern = self.kernel_idx
        k = sympy.IndexedBase("k")[self.kernel_entry(kern, *self._kernel_channels(ci, co, q))]
        if self.kind == "transpose":
            out = self.out_idx
            limits += [(o, Integer(0), s - 1) for o, s in zip(out, self.output_size)]
            limits += [(a, Integer(0), K - 1) for a, K in zip(kern, self.kernel)]
            if self.full:
                limits.append((ci, Integer(0), self.c_in - 1))
            deltas = [KroneckerDelta(p, r) for p, r in zip(self.input_idx, self.positions(out, kern))]
            x = sympy.IndexedBase("x")[self.activation(n, out, self.x_channel(ci, q))]
            return sympy.IndexedBase("y")[y_idx], Term(tuple(limits), (), (*deltas, x, k))
        limits += [(a, Integer(0), K - 1) for a, K in zip(kern, self.kernel)]
        if self.full and self.kind == "conv":
            limits.append((ci, Integer(0), self.c_in - 1))
        pos = self.positions(self.out_idx, kern)
        conditions = tuple((p, Integer(0), H - 1) for p, H in zip(pos, self.input_size))
        x = sympy.IndexedBase("x")[self.activation(n, pos, self.x_channel(ci, q))]
        return sympy.IndexedBase("y")[y_idx], Term(tuple(limits), conditions, (x, k))

    def sizes(self) -> list:
        """Every size symbol (or number), field by field: for matching two geometries."""
        out = []
        for field in ("input_size", "kernel", "stride", "dilation", "pad", "output_size"):
            out += list(getattr(self, field))
        return out + [self.batch, self.c_in, self.c_out, self.groups]


def symbolic_geometry(kind: str, ndim: int, channels_last: bool = True, full: bool = True,
                      names: str = "pretty", grouped: bool = False, kernel_layout: str | None = None) -> Geometry:
    """A geometry with every size a symbol.  ``names='pretty'`` gives H, K_H, s_H, ...
    (for documents); ``names='claims'`` gives the claim language's H0, K0, S0, ...
    ``grouped`` adds a symbolic number of groups G (channels then count per group);
    ``kernel_layout`` the kernel's letters (None: TensorFlow's).
    """
    if names == "claims":
        sym = claims_mod.size_symbol
        per_axis = lambda kind_: tuple(sym(f"{kind_}{r}") for r in range(ndim))
        names_ = ("H", "K", "S", "D", "P", "OH")
        input_size, kernel, stride, dilation, pad, output_size = (per_axis(k) for k in names_)
        batch, c_in, c_out, groups = sym("N"), sym("CI"), sym("CO"), sym("G")
    else:
        axes = axis_names(ndim)
        input_size = tuple(size(a) for a in axes)
        kernel = tuple(size(f"K_{a}") for a in axes)
        stride = tuple(size(f"s_{a}") for a in axes)
        dilation = tuple(size(f"d_{a}") for a in axes)
        pad = tuple(size(f"p_{a}", signed=True) for a in axes)
        output_size = tuple(size(f"O_{a}") for a in axes)
        batch, groups = size("N"), size("G")
        c_in, c_out = (size("C"), size("M")) if kind == "depthwise" else (size("C_i"), size("C_o"))
    if not full:
        batch = c_in = c_out = Integer(1)
    if not (grouped and full and kind != "depthwise"):
        groups = Integer(1)
    return Geometry(kind, ndim, channels_last, full, input_size, kernel, stride, dilation, pad, output_size, batch,
                    c_in, c_out, groups, kernel_layout)


def spec_geometry(spec: ConvSpec, full: bool = True) -> Geometry:
    """The geometry of one spec, sizes as integers."""
    nums = lambda t: tuple(Integer(v) for v in t)
    x_channels = spec.x_shape[layout.channel_axis(spec, "x")]
    y_channels = spec.y_shape[layout.channel_axis(spec, "y")]
    if spec.kind == "depthwise":   # channel and multiplier
        groups, c_in, c_out = 1, x_channels, y_channels // x_channels
    else:
        groups, c_in, c_out = spec.groups, x_channels // spec.groups, y_channels // spec.groups
    channels_last = layout.channel_axis(spec, "x") == spec.ndim + 1
    return Geometry(spec.kind, spec.ndim, channels_last, full, nums(spec.direct_input_spatial),
                    nums(spec.kernel_spatial), nums(spec.strides), nums(spec.dilations), nums(b for b, _ in spec.pads),
                    nums(spec.direct_output_spatial), Integer(spec.batch), Integer(c_in), Integer(c_out),
                    Integer(groups), spec.kernel_layout)
