"""Layers as per-axis index maps: one builder per layer kind, shared by every importer.

Each builder takes the node it reads (for its shape), the layer's parameters as a framework
states them, and returns a graph node whose tables say, per spatial axis, which input
positions each output position reads.  SAME padding is resolved through symconv's
conventions registry (``symconv.model.conventions.get(name)(size, k, s, d)``); explicit integer
padding is taken as given.
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import SymconvError, shown
from ..model import conventions
from ..model.conventions import effective_kernel, output_size
from ..model.spec import parse_padding, parse_per_axis
from .axes import (
    Groups,
    SameChannels,
    adaptive_table,
    bilinear_table,
    identity_table,
    nearest_table,
    transposed_table,
    whole_table,
    window_table,
)
from .graph import DATA, STRUCTURAL, AxisLayer, Collapse, Flatten, Input, Merge, Node, Shape
from .limits import check_taps, check_tensor, integer


def _sizes(values) -> str:
    return "x".join(map(str, values))


def _each(values) -> str:
    """One number when every axis has it (s2), else one per axis (s2x1)."""
    return str(values[0]) if len(set(values)) == 1 else _sizes(values)


def _pads_text(pads) -> str:
    return ",".join(f"{b}:{a}" for b, a in pads)


def per_axis(value, nd: int, field: str, name: str) -> tuple:
    try:
        return parse_per_axis(value, nd, field)
    except SymconvError as err:
        raise SymconvError(f"layer {name!r}: {err}") from None


def resolve(name: str, sizes, kernel, strides, dilations, padding, convention: str = "tf") -> list:
    """Per spatial axis (out, before, after) for SAME, VALID, CAUSAL or explicit (before, after)."""
    nd = len(sizes)
    if isinstance(padding, str) and padding.strip().upper() == "CAUSAL":
        pads = [(d * (k - 1), 0) for k, d in zip(kernel, dilations)]
    else:
        try:
            padding = parse_padding(padding, nd)
        except SymconvError as err:
            raise SymconvError(f"layer {name!r}: {err}") from None
        if padding == "SAME":
            rule = conventions.get(convention)
            return [tuple(rule(n, k, s, d)) for n, k, s, d in zip(sizes, kernel, strides, dilations)]
        pads = [(0, 0)] * nd if padding == "VALID" else list(padding)
    out = []
    for n, k, s, d, (b, a) in zip(sizes, kernel, strides, dilations, pads):
        out.append((output_size(n, k, s, d, b, a), b, a))
    return out


def _padding_word(padding, convention) -> str:
    if isinstance(padding, str):
        word = padding.strip().upper()
        return f"{word}, {convention}" if word == "SAME" else word
    return "explicit"


def _check_output(name, sizes, channels, taps=None):
    """An output symconv can hold: not empty, within the limits (``symconv.network.limits``),
    and, with ``taps`` per axis, tables within them too; checked before any table is built."""
    if any(n < 1 for n in sizes):
        raise SymconvError(f"layer {name!r}: output would be empty (spatial size {_sizes(sizes)}): "
                           f"the window does not fit the padded input")
    check_tensor(name, sizes, channels)
    if taps is not None:
        check_taps(name, sizes, taps)


def _count(value, name: str, field: str) -> int:
    """A positive count (channels, groups, multiplier) given by a user or a framework."""
    try:
        count = integer(value, field)
    except SymconvError as err:
        raise SymconvError(f"layer {name!r}: {err}") from None
    if count < 1:
        raise SymconvError(f"layer {name!r}: {field} must be positive, got {count}")
    return count


def input_node(name: str, spatial, channels: int, label: str = "input") -> Input:
    spatial = tuple(_count(n, name, "input size") for n in spatial)
    channels = _count(channels, name, "input channels")
    check_tensor(name, spatial, channels, what="input")
    return Input(name, "input", (), Shape(spatial, channels), f"input {_sizes((*spatial, channels))}", label)


def conv(name: str, src: Node, kernel, strides=1, dilations=1, padding="VALID", convention="tf",
         filters=None, groups=1, multiplier=None, label="conv", ceil_mode=False) -> AxisLayer:
    """A convolution (``multiplier`` set: depthwise, output channel c*m + j reads input c)."""
    nd = src.shape.ndim
    kernel = per_axis(kernel, nd, "kernel size", name)
    strides = per_axis(strides, nd, "strides", name)
    dilations = per_axis(dilations, nd, "dilations", name)
    c_in = src.shape.channels
    if multiplier is not None:
        groups, filters, kind = c_in, c_in * _count(multiplier, name, "depth multiplier"), "depthwise"
    else:
        filters, kind = _count(filters if filters is not None else c_in, name, "filters"), f"conv{nd}d"
    groups = _count(groups, name, "groups")
    if c_in % groups or filters % groups:
        raise SymconvError(f"layer {name!r}: groups must divide input channels {c_in} and output channels "
                           f"{filters}, got {groups}")
    res = resolve(name, src.shape.spatial, kernel, strides, dilations, padding, convention)
    sizes = [r[0] for r in res]
    _check_output(name, sizes, filters, kernel)
    tables = tuple(window_table(n, o, k, s, d, b)
                   for n, (o, b, _), k, s, d in zip(src.shape.spatial, res, kernel, strides, dilations))
    detail = f"{kind} {_sizes(kernel)}"
    detail += f" s{_each(strides)}" if set(strides) != {1} else ""
    detail += f" d{_each(dilations)}" if set(dilations) != {1} else ""
    detail += f" pads {_pads_text([r[1:] for r in res])} ({_padding_word(padding, convention)})"
    if groups != 1 and multiplier is None:
        detail += f" groups {groups}"
    return AxisLayer(name, kind, (src.name,), Shape(tuple(sizes), filters), detail, label,
                     tables=tables, channels=Groups(groups, c_in, filters))


def transpose(name: str, src: Node, kernel, strides=1, dilations=1, padding="VALID", convention="tf",
              filters=None, groups=1, output_spatial=None, output_padding=None, label="conv_transpose") -> AxisLayer:
    """A transposed convolution: output (big) position o reads input i where
    ``s*i + d*a - before == o``.  ``padding``: SAME/VALID resolved on the output as TensorFlow
    and Keras do, or explicit integer pads (PyTorch's ``padding``, with ``output_padding``)."""
    nd = src.shape.ndim
    kernel = per_axis(kernel, nd, "kernel size", name)
    strides = per_axis(strides, nd, "strides", name)
    dilations = per_axis(dilations, nd, "dilations", name)
    extra = per_axis(output_padding, nd, "output padding", name) if output_padding not in (None, 0) else (0,) * nd
    c_in = src.shape.channels
    filters = _count(filters if filters is not None else c_in, name, "filters")
    groups = _count(groups, name, "groups")
    if output_spatial is not None:
        output_spatial = per_axis(output_spatial, nd, "output size", name)
    if c_in % groups or filters % groups:
        raise SymconvError(f"layer {name!r}: groups must divide input channels {c_in} and output channels "
                           f"{filters}, got {groups}")
    word = padding.strip().upper() if isinstance(padding, str) else None
    explicit = None if word in ("SAME", "VALID") else parse_padding(padding, nd)
    sizes, befores = [], []
    for i, (n, k, s, d) in enumerate(zip(src.shape.spatial, kernel, strides, dilations)):
        ke = effective_kernel(k, d)
        if explicit is not None:
            b, a = explicit[i]
            out = (n - 1) * s + ke - b - a + extra[i]
            before = b
        elif word == "SAME":
            out = n * s if not output_padding else (n - 1) * s + ke - (ke // 2) * 2 + extra[i]
            before = None
        else:
            out = n * s + max(ke - s, 0) if not output_padding else (n - 1) * s + ke + extra[i]
            before = 0
        if output_spatial is not None:
            out = output_spatial[i]
        if before is None:
            before = conventions.get(convention)(out, k, s, d).before
        sizes.append(out)
        befores.append(before)
    _check_output(name, sizes, filters, kernel)
    check_taps(name, src.shape.spatial, kernel)
    tables = tuple(transposed_table(n, o, k, s, d, b)
                   for n, o, k, s, d, b in zip(src.shape.spatial, sizes, kernel, strides, dilations, befores))
    detail = f"conv{nd}d_transpose {_sizes(kernel)} s{_each(strides)}"
    detail += f" d{_each(dilations)}" if set(dilations) != {1} else ""
    detail += f" before {','.join(map(str, befores))} ({_padding_word(padding, convention)})"
    return AxisLayer(name, "transpose", (src.name,), Shape(tuple(sizes), filters), detail, label,
                     tables=tables, channels=Groups(groups, c_in, filters))


def pool(name: str, src: Node, kind: str, size, strides=None, padding="VALID", convention="tf",
         dilations=1, divisor="valid", ceil_mode=False, label="pool") -> AxisLayer:
    """Max or average pooling.  Average pooling's weights: ``divisor`` 'valid' (TensorFlow,
    Keras: the taps inside the input), 'window' (the whole window), 'padded' (PyTorch
    ``count_include_pad``: the taps inside input plus padding) or an integer (PyTorch's
    ``divisor_override``).  ``ceil_mode``: PyTorch's, one more window where it starts inside."""
    nd = src.shape.ndim
    size = per_axis(size, nd, "pool size", name)
    strides = per_axis(strides if strides is not None else size, nd, "strides", name)
    dilations = per_axis(dilations, nd, "dilations", name)
    if kind == "avg" and divisor not in ("valid", "window", "padded"):
        if isinstance(divisor, str):
            raise SymconvError(f"layer {name!r}: divisor must be valid, window, padded or a positive integer, "
                               f"got {divisor!r}")
        divisor = _count(divisor, name, "divisor")
    res = resolve(name, src.shape.spatial, size, strides, dilations, padding, convention)
    if ceil_mode:
        res = [_ceil_mode(n, k, s, d, b, a) for n, k, s, d, (_, b, a) in
               zip(src.shape.spatial, size, strides, dilations, res)]
    sizes = [r[0] for r in res]
    _check_output(name, sizes, src.shape.channels, size)
    tables = []
    for n, (o, b, a), k, s, d in zip(src.shape.spatial, res, size, strides, dilations):
        div = None
        if kind == "avg":
            div = _divisor(divisor, n, k, s, d, b, a)
        tables.append(window_table(n, o, k, s, d, b, div))
    detail = f"{kind}pool {_sizes(size)}"
    detail += f" s{_each(strides)}" if tuple(strides) != tuple(size) else ""
    detail += f" d{_each(dilations)}" if set(dilations) != {1} else ""
    detail += f" pads {_pads_text([r[1:] for r in res])} ({_padding_word(padding, convention)})"
    node = AxisLayer(name, f"{kind}pool", (src.name,), Shape(tuple(sizes), src.shape.channels), detail, label,
                     tables=tuple(tables), channels=SameChannels())
    if kind == "max":
        node.check = DATA
        node.notes = ("max pooling: every pixel of the window is a candidate; which one the gradient "
                      "reaches depends on the data",)
    else:
        node.notes = ("average pooling: paths are counted; the gradient's values are fractions",)
    return node


def _ceil_mode(n, k, s, d, b, a):
    span = n + b + a - effective_kernel(k, d)
    out = -(-span // s) + 1 if span >= 0 else 0
    if out > 0 and (out - 1) * s >= n + b:  # the last window must start inside input or left pad
        out -= 1
    return out, b, a


def _divisor(divisor, n, k, s, d, before, after):
    if isinstance(divisor, int) and not isinstance(divisor, bool):
        return lambda o: divisor
    if divisor == "window":
        return lambda o: k

    def count(o):
        taps = [s * o + d * a - before for a in range(k)]
        lo, hi = (0, n) if divisor == "valid" else (-before, n + after)
        if divisor == "padded":  # PyTorch: window clipped to the padded extent, then counted whole
            start = s * o - before
            return min(start + effective_kernel(k, d), n + after) - start
        return sum(lo <= t < hi for t in taps)
    return count


def global_pool(name: str, src: Node, kind: str, keepdims=False, label="global_pool") -> Node:
    spatial = src.shape.spatial
    average = kind == "avg"
    notes = ("global max pooling: every position is a candidate; the data picks one",) if not average else ()
    if keepdims:
        tables = tuple(whole_table(n, Fraction(1, n) if average else None) for n in spatial)
        node = AxisLayer(name, f"global{kind}pool", (src.name,), Shape((1,) * len(spatial), src.shape.channels),
                         f"global {kind} pool (keeps dims)", label, tables=tables, channels=SameChannels())
    else:
        node = Collapse(name, f"global{kind}pool", (src.name,), Shape((), src.shape.channels),
                        f"global {kind} pool", label, in_spatial=spatial, average=average)
    node.notes = notes
    if not average:
        node.check = DATA
    return node


def adaptive_pool(name: str, src: Node, kind: str, out_spatial, label="adaptive_pool") -> AxisLayer:
    """PyTorch's adaptive pooling to ``out_spatial`` (windows of nearly equal length)."""
    out_spatial = per_axis(out_spatial, src.shape.ndim, "output size", name)
    widths = [-(-n // o) + 1 for n, o in zip(src.shape.spatial, out_spatial)]
    _check_output(name, out_spatial, src.shape.channels, widths)
    tables = tuple(adaptive_table(n, o, kind == "avg") for n, o in zip(src.shape.spatial, out_spatial))
    node = AxisLayer(name, f"adaptive{kind}pool", (src.name,), Shape(tuple(out_spatial), src.shape.channels),
                     f"adaptive {kind} pool to {_sizes(out_spatial)}", label, tables=tables)
    if kind == "max":
        node.check = DATA
        node.notes = ("adaptive max pooling: every pixel of the window is a candidate; the data picks one",)
    return node


def zero_pad(name: str, src: Node, pads, label="pad") -> AxisLayer:
    nd = src.shape.ndim
    pads = parse_padding(pads, nd) if not isinstance(pads, str) else parse_padding(pads, nd)
    if isinstance(pads, str):
        raise SymconvError(f"layer {name!r}: padding must be before:after per axis, got {pads}")
    sizes = [n + b + a for n, (b, a) in zip(src.shape.spatial, pads)]
    _check_output(name, sizes, src.shape.channels)
    tables = tuple(window_table(n, o, 1, 1, 1, b) for n, o, (b, _) in zip(src.shape.spatial, sizes, pads))
    return AxisLayer(name, "pad", (src.name,), Shape(tuple(sizes), src.shape.channels),
                     f"zero pad {_pads_text(pads)}", label, tables=tables)


def crop(name: str, src: Node, crops, label="crop") -> AxisLayer:
    nd = src.shape.ndim
    crops = parse_padding(crops, nd)
    if isinstance(crops, str) or any(b < 0 or a < 0 for b, a in crops):
        raise SymconvError(f"layer {name!r}: cropping must be nonnegative before:after per axis, got {crops}")
    sizes = [n - b - a for n, (b, a) in zip(src.shape.spatial, crops)]
    _check_output(name, sizes, src.shape.channels)
    tables = tuple(window_table(n, o, 1, 1, 1, -b) for n, o, (b, _) in zip(src.shape.spatial, sizes, crops))
    return AxisLayer(name, "crop", (src.name,), Shape(tuple(sizes), src.shape.channels),
                     f"crop {_pads_text(crops)}", label, tables=tables)


def strided_slice(name: str, src: Node, slices, label="slice") -> AxisLayer:
    """Per spatial axis a Python slice (start, stop, step) with step >= 1."""
    tables, sizes, words = [], [], []
    for n, sl in zip(src.shape.spatial, slices):
        if not isinstance(sl, slice):
            try:
                sl = slice(*sl)
            except TypeError:
                raise SymconvError(f"layer {name!r}: slices must be (start, stop, step), got {shown(sl)}") from None
        try:
            start, stop, step = sl.indices(n)
        except (TypeError, ValueError) as err:   # a step of 0, a bound that is not an integer
            raise SymconvError(f"layer {name!r}: slice {shown(sl)}: {err}") from None
        if step < 1:
            raise SymconvError(f"layer {name!r}: slice steps must be positive, got {step}")
        out = len(range(start, stop, step))
        if out < 1:
            raise SymconvError(f"layer {name!r}: slice {start}:{stop}:{step} of an axis of {n} is empty")
        tables.append(window_table(n, out, 1, step, 1, -start))
        sizes.append(out)
        words.append(f"{start}:{stop}:{step}")
    return AxisLayer(name, "slice", (src.name,), Shape(tuple(sizes), src.shape.channels),
                     f"slice {','.join(words)}", label, tables=tuple(tables))


def upsample(name: str, src: Node, factors, mode="nearest", align_corners=False, label="upsample") -> AxisLayer:
    nd = src.shape.ndim
    factors = per_axis(factors, nd, "upsampling factor", name)
    mode = str(mode).lower()
    if mode not in ("nearest", "bilinear", "linear", "trilinear"):
        raise SymconvError(f"layer {name!r}: upsampling must be nearest or bilinear, got {mode!r}")
    _check_output(name, [n * f for n, f in zip(src.shape.spatial, factors)], src.shape.channels)
    if mode == "nearest":
        tables = tuple(nearest_table(n, f) for n, f in zip(src.shape.spatial, factors))
    else:
        tables = tuple(bilinear_table(n, f, align_corners) for n, f in zip(src.shape.spatial, factors))
    sizes = tuple(n * f for n, f in zip(src.shape.spatial, factors))
    node = AxisLayer(name, f"upsample_{'nearest' if mode == 'nearest' else 'bilinear'}", (src.name,),
                     Shape(sizes, src.shape.channels), f"upsample {_sizes(factors)} {mode}", label, tables=tables)
    if mode != "nearest":
        node.notes = ("bilinear upsampling: the support is exact; each tap's weight is a fraction "
                      "(paths are counted once per pixel read)",)
    return node


def passthrough(name: str, src: Node, label="identity", kind="elementwise", weight=None) -> AxisLayer:
    """Elementwise layers and per-channel normalisation: entry (p, c) reads (p, c).  ``weight``:
    an exact constant factor kept in the checked clone (a multiplication by a number)."""
    return AxisLayer(name, kind, (src.name,), src.shape, label, label,
                     tables=tuple(identity_table(n) for n in src.shape.spatial), channel_weight=weight)


def channel_mix(name: str, src: Node, out_channels=None, label="dense", kind="dense",
                structural=False) -> AxisLayer:
    """A layer that mixes every channel at one position: dense on the channel axis, softmax or
    layer normalisation over channels."""
    c = src.shape.channels
    out = _count(out_channels if out_channels is not None else c, name, "channels")
    check_tensor(name, src.shape.spatial, out)
    node = AxisLayer(name, kind, (src.name,), Shape(src.shape.spatial, out),
                     f"{kind} {c}->{out}" if kind == "dense" else f"{kind} over channels", label,
                     tables=tuple(identity_table(n) for n in src.shape.spatial), channels=Groups(1, c, out))
    if structural:
        node.check = STRUCTURAL
        node.notes = (f"{kind} over channels: every channel at the position; not linear, so the check "
                      f"compares support only",)
    return node


def merge(name: str, srcs: list, kind: str, axis=None, label=None) -> Merge:
    """Elementwise ``kind`` (add, subtract, multiply, average, maximum, minimum) with size-1
    broadcasting, or ``concat`` along ``axis`` (-1: channels; i: spatial axis i)."""
    if len(srcs) < 2 and kind != "concat":
        raise SymconvError(f"layer {name!r}: {kind} needs at least two inputs")
    shapes = tuple(s.shape for s in srcs)
    nd = shapes[0].ndim
    if any(s.ndim != nd for s in shapes):
        raise SymconvError(f"layer {name!r}: inputs have different numbers of spatial axes: "
                           f"{', '.join(s.text() for s in shapes)}")
    if kind == "concat":
        if axis == -1:
            out = Shape(shapes[0].spatial, sum(s.channels for s in shapes))
            same = all(s.spatial == shapes[0].spatial for s in shapes)
        else:
            spatial = list(shapes[0].spatial)
            spatial[axis] = sum(s.spatial[axis] for s in shapes)
            out = Shape(tuple(spatial), shapes[0].channels)
            same = all(s.channels == shapes[0].channels and
                       all(a == b for i, (a, b) in enumerate(zip(s.spatial, shapes[0].spatial)) if i != axis)
                       for s in shapes)
        if not same:
            raise SymconvError(f"layer {name!r}: cannot concatenate {', '.join(s.text() for s in shapes)}")
        detail = f"concatenate {len(srcs)} along {'channels' if axis == -1 else f'spatial axis {axis}'}"
    else:
        spatial = tuple(max(d) for d in zip(*(s.spatial for s in shapes)))
        channels = max(s.channels for s in shapes)
        for s in shapes:
            if any(n not in (1, m) for n, m in zip((*s.spatial, s.channels), (*spatial, channels))):
                raise SymconvError(f"layer {name!r}: cannot combine {', '.join(x.text() for x in shapes)} "
                                   f"elementwise")
        out = Shape(spatial, channels)
        detail = f"{kind} of {len(srcs)}"
    check_tensor(name, out.spatial, out.channels)
    node = Merge(name, kind, tuple(s.name for s in srcs), out, detail, label or kind, in_shapes=shapes,
                 concat_axis=axis if kind == "concat" else None)
    if kind in ("multiply", "maximum", "minimum"):
        node.check = DATA if kind != "multiply" else STRUCTURAL
        node.notes = (f"{kind}: every input is read; the gradient's values depend on the data",)
    return node


def flatten(name: str, src: Node, channels_last=True, label="flatten") -> Node:
    s = src.shape
    if not s.spatial:
        return passthrough(name, src, label)
    check_tensor(name, (), s.size)
    return Flatten(name, "flatten", (src.name,), Shape((), s.size), f"flatten {s.text()}", label,
                   in_spatial=s.spatial, in_channels=s.channels, channels_last=channels_last)

