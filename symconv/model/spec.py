"""ConvSpec: one validated convolution request, and the parsing of its fields.

Everything a user can type (shapes like ``1x3x3x1``, strides ``2,1``, padding ``SAME`` or
``1:2,0:0``, layouts like ``NCHW`` or ``OIHW``, entries like ``dk[0,0,0,0]``) is parsed here and
nowhere else: this is the edge.  Inside, every convolution is described as one *direct*
convolution from its direct input to its direct output (``symconv.quantities``):

* conv / depthwise: x is the direct input, y the direct output;
* transpose: y is the direct input, x the direct output (a transposed convolution is the input
  gradient of the direct convolution with the same kernel).

Padding is resolved on the direct input's axes.  Layouts are data (``symconv.layout``): one
permutation per tensor to the canonical orders (N, C, spatial...) for activations and (direct
output channels, direct input channels // groups, spatial...) for kernels.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Iterable, NamedTuple

import numpy as np

from ..errors import SymconvError, shown
from . import conventions, layout
from .conventions import effective_kernel, output_size
from .layout import DEFAULT_KERNEL_LAYOUT, KERNEL_LAYOUTS, spatial_letters  # noqa: F401
from .quantities import FACTORS, LAYOUT_OF, QUANTITIES, QUANTITY_OF, TENSOR_OF, as_quantity, role_of, tensor_with_role  # noqa: F401


class OpInfo(NamedTuple):
    ndim: int
    kind: str  # "conv", "depthwise" or "transpose"


OPS = {
    "conv1d": OpInfo(1, "conv"),
    "conv2d": OpInfo(2, "conv"),
    "conv3d": OpInfo(3, "conv"),
    "depthwise_conv2d": OpInfo(2, "depthwise"),
    "conv1d_transpose": OpInfo(1, "transpose"),
    "conv2d_transpose": OpInfo(2, "transpose"),
    "conv3d_transpose": OpInfo(3, "transpose"),
}

DATA_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}

# Refuse absurd sizes early: beyond these nothing below is meant to run.
MAX_ELEMENTS = 2**31
MAX_RANK = 5
# Digits of one typed integer: more cannot be a size, stride, pad or index symconv accepts.
MAX_DIGITS = 18


def int_text(text: str, field: str) -> int:
    """A typed integer (``'-12'``) whose digits fit in int64, else a SymconvError naming the field."""
    digits = text.strip().lstrip("+-").lstrip("0")
    if len(digits) > MAX_DIGITS:
        raise SymconvError(f"{field} must be at most 2**31 in size, got {shown(text.strip())}")
    return int(text)


def _as_int(value, field: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise SymconvError(f"{field} must be integers, got {shown(value)}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int_text(value, field)
    raise SymconvError(f"{field} must be integers, got {shown(value)}")


def parse_shape(value, field: str) -> tuple[int, ...]:
    """``'1x3x3x1'``, ``'1,3,3,1'`` or a sequence of ints -> tuple of positive ints."""
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"\d+(\s*[x,]\s*\d+)*", text):
            raise SymconvError(f"{field} must look like 1x3x3x1, got {shown(value)}")
        dims = tuple(int_text(p, field) for p in re.split(r"\s*[x,]\s*", text))
    else:
        try:
            dims = tuple(_as_int(v, field) for v in _at_most(value, MAX_RANK + 1))
        except TypeError:
            raise SymconvError(f"{field} must be a shape like 1x3x3x1, got {shown(value)}") from None
    if not dims or any(d < 1 for d in dims):
        raise SymconvError(f"{field} must have positive sizes, got {shown(dims)}")
    if len(dims) > MAX_RANK:
        raise SymconvError(f"{field} must have at most {MAX_RANK} dimensions (batch, spatial..., channels), "
                           f"got {shown(value)}")
    return dims


def _at_most(values, count: int) -> list:
    """The first ``count`` items of an iterable (a longer one is refused by the caller)."""
    return list(itertools.islice(iter(values), count))


def parse_per_axis(value, ndim: int, field: str, data_format: str | None = None) -> tuple[int, ...]:
    """One int, or one per spatial axis; TensorFlow's full-rank form [1, s, s, 1] (1 at the batch
    and channel axes of ``data_format``, channels last by default) is also taken."""
    if value is None:
        return (1,) * ndim
    fmt = data_format or "N" + "S" * ndim + "C"
    if isinstance(value, str):
        items = [p for p in re.split(r"[\s,x]+", value.strip()) if p]
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = [value]
    else:
        try:
            items = _at_most(value, ndim + 3)
        except TypeError:
            raise SymconvError(f"{field} must be integers, got {shown(value)}") from None
    if len(items) > ndim + 2:
        raise SymconvError(f"{field} must have 1 or {ndim} values (one per spatial axis), got {shown(value)}")
    vals = tuple(_as_int(v, field) for v in items)
    if len(vals) == 1:
        vals = vals * ndim
    elif len(vals) == ndim + 2 and vals[fmt.index("N")] == 1 and vals[fmt.index("C")] == 1:
        vals = tuple(v for v, letter in zip(vals, fmt) if letter not in "NC")
    if len(vals) != ndim:
        raise SymconvError(
            f"{field} must have 1 or {ndim} values (one per spatial axis), got {vals}")
    if any(v < 1 for v in vals):
        raise SymconvError(f"{field} must be positive integers, got {vals}")
    return vals


def parse_padding(value, ndim: int):
    """``'SAME'``, ``'VALID'``, ``'1:2,0:0'`` or ((b, a), ...) -> 'SAME' | 'VALID' | pairs."""
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in ("SAME", "VALID"):
            return text.upper()
        pairs = []
        for item in text.split(","):
            m = re.fullmatch(r"\s*([-+]?\d+)\s*(?::\s*([-+]?\d+)\s*)?", item)
            if not m:
                hint = " (SAME_LOWER is --convention same_lower with --padding SAME)" \
                    if text.upper() == "SAME_LOWER" else ""
                raise SymconvError(
                    f"padding must be SAME, VALID or before:after per axis like 1:2,0:0, got {shown(value)}{hint}")
            before = int_text(m.group(1), "padding")
            pairs.append((before, int_text(m.group(2), "padding") if m.group(2) is not None else before))
    else:
        try:
            items = _at_most(value, ndim + 1)
        except TypeError:
            raise SymconvError(f"padding must be SAME, VALID or (before, after) pairs, got {shown(value)}") from None
        pairs = []
        for item in items:
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                pairs.append((int(item), int(item)))
                continue
            try:
                b, a = item
            except (TypeError, ValueError):
                raise SymconvError(
                    f"padding must be SAME, VALID or (before, after) pairs, got {shown(value)}") from None
            pairs.append((_as_int(b, "padding"), _as_int(a, "padding")))
    if len(pairs) == 1:
        pairs = pairs * ndim
    if len(pairs) != ndim:
        raise SymconvError(
            f"padding must have one (before, after) pair per spatial axis ({ndim}), got {shown(value)}")
    return tuple(pairs)


def format_padding(padding) -> str:
    if isinstance(padding, str):
        return padding
    return ",".join(f"{b}:{a}" for b, a in padding)


def parse_kernel_layout(value, op: str) -> str:
    """A kernel layout by letters (``OIHW``, ``WIO``, ``DHWIO``, ``HWCM``, any permutation) or by a
    framework's name (``tf``, ``keras``, ``torch``, ``onnx``) -> its letters for the op; None is
    TensorFlow's."""
    info = OPS[op]
    return layout.kernel_layout_letters(value, op, info.ndim, info.kind)


@dataclass(frozen=True)
class ConvSpec:
    """A convolution: op, shapes (in ``data_format`` and ``kernel_layout``), strides, dilations,
    padding, convention.

    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    >>> spec.pads, spec.y_shape
    (((0, 0), (0, 0)), (1, 1, 1, 1))
    >>> ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME",
    ...          convention="legacy_eigen").pads
    ((-1, -1), (-1, -1))

    Kernel layouts are TensorFlow's unless ``kernel_layout`` names another: (spatial..., in //
    groups, out) ``HWIO`` for convolutions, (spatial..., in, multiplier) ``HWCM`` for
    depthwise_conv2d and (spatial..., out // groups, in) ``HWOI`` for the transposed
    convolutions; PyTorch's and ONNX's are ``OIHW`` (depthwise: ``OIHW`` with I = 1) and
    ``IOHW`` (transposed), and any permutation can be named by its letters.  A transposed
    convolution's ``y_shape`` defaults to Keras's choice.

    >>> torch_like = ConvSpec("conv2d", "1x2x5x5", "4x2x3x3", data_format="NCHW", kernel_layout="torch")
    >>> torch_like.kernel_layout, torch_like.kernel_spatial, torch_like.y_shape
    ('OIHW', (3, 3), (1, 4, 3, 3))
    """

    op: str
    input_shape: tuple
    kernel_shape: tuple
    strides: tuple = 1
    dilations: tuple = 1
    padding: object = "VALID"
    convention: str = conventions.DEFAULT
    data_format: str | None = None
    groups: int = 1
    output_shape_request: tuple | None = None
    kernel_layout: str | None = None

    def __post_init__(self):
        info = OPS.get(self.op) if isinstance(self.op, str) else None
        if info is None:
            raise SymconvError(f"op must be one of {', '.join(OPS)}, got {shown(self.op)}")
        nd = info.ndim
        fmt = self.data_format
        if fmt is None:
            fmt = DATA_FORMATS[nd][0]
        if not isinstance(fmt, str) or fmt.upper() not in DATA_FORMATS[nd]:
            raise SymconvError(
                f"data_format for {self.op} must be {' or '.join(DATA_FORMATS[nd])}, got {shown(fmt)}")
        fmt = fmt.upper()
        if not isinstance(self.convention, str):
            raise SymconvError(f"convention must be a name such as {conventions.DEFAULT}, got {shown(self.convention)}")
        conventions.get(self.convention)
        kernel_layout = parse_kernel_layout(self.kernel_layout, self.op)
        x_shape = parse_shape(self.input_shape, "input shape")
        k_shape = parse_shape(self.kernel_shape, "kernel shape")
        if len(x_shape) != nd + 2:
            raise SymconvError(
                f"input shape for {self.op} must have {nd + 2} dimensions ({fmt}), got {x_shape}")
        if len(k_shape) != nd + 2:
            raise SymconvError(
                f"kernel shape for {self.op} must have {nd + 2} dimensions ({kernel_layout}), got {k_shape}")
        groups = _as_int(self.groups, "groups")
        if groups < 1:
            raise SymconvError(f"groups must be a positive integer, got {groups}")
        if info.kind == "depthwise" and groups != 1:
            raise SymconvError(f"groups does not apply to depthwise_conv2d (it is the channel count), got {groups}")
        out_req = self.output_shape_request
        if out_req is not None:
            if self.role("y") != "direct_input":
                raise SymconvError(f"output shape can only be given for transposed convolutions, not {self.op}")
            out_req = parse_shape(out_req, "output shape")
            if len(out_req) != nd + 2:
                raise SymconvError(
                    f"output shape for {self.op} must have {nd + 2} dimensions ({fmt}), got {out_req}")
        for name, value in (("op", self.op), ("input_shape", x_shape), ("kernel_shape", k_shape),
                            ("strides", parse_per_axis(self.strides, nd, "strides", fmt)),
                            ("dilations", parse_per_axis(self.dilations, nd, "dilations", fmt)),
                            ("padding", parse_padding(self.padding, nd)), ("data_format", fmt),
                            ("groups", groups), ("output_shape_request", out_req), ("kernel_layout", kernel_layout)):
            object.__setattr__(self, name, value)
        for field, shape in (("input shape", x_shape), ("kernel shape", k_shape)):
            if int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
                raise SymconvError(f"{field} has more than 2**31 elements, got {shape}")
        # Keeps s*o + d*a - before far inside int64.
        for field, values in (("strides", self.strides), ("dilations", self.dilations),
                              ("padding", () if isinstance(self.padding, str) else sum(self.padding, ()))):
            if any(abs(v) > MAX_ELEMENTS for v in values):
                raise SymconvError(f"{field} must be at most 2**31 in size, got {values}")
        self._validate_channels()
        self._validate_output_request()
        if math.prod(self.y_shape) > MAX_ELEMENTS:
            raise SymconvError(f"output shape has more than 2**31 elements, got {self.y_shape}: use a smaller "
                               f"input, stride or padding")

    # ---- layout -------------------------------------------------------------------------
    @property
    def info(self) -> OpInfo:
        return OPS[self.op]

    @property
    def ndim(self) -> int:
        return self.info.ndim

    @property
    def kind(self) -> str:
        return self.info.kind

    def __getstate__(self) -> dict:
        """Only the fields travel (to a backend's worker): values computed on demand are computed
        again there, and another thread may be adding one while this one pickles."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def role(self, tensor: str) -> str:
        """The part a tensor (x, k, y, g, dx, dk) plays in the direct convolution behind the op:
        direct_input, direct_output or kernel."""
        return role_of(self.kind, tensor)

    @property
    def transposed(self) -> bool:
        """Whether the op is a transposed convolution: x is its direct convolution's output."""
        return self.role("x") == "direct_output"

    def tensor_with_role(self, role: str) -> str:
        """x, y or k: the tensor that plays ``role``."""
        return tensor_with_role(self.kind, role)

    @cached_property
    def _given_layouts(self) -> dict:
        """x's and k's layouts (y's shape follows from them)."""
        spatial = spatial_letters(self.ndim)
        output_channels = {"y": "O", "x": "I"}[self.tensor_with_role("direct_output")]
        kernel_canonical = output_channels + {"O": "I", "I": "O"}[output_channels] + spatial
        return {"x": layout.arrange(self.data_format, "NC" + spatial, self.input_shape),
                "k": layout.arrange(self.kernel_layout, kernel_canonical, self.kernel_shape)}

    @cached_property
    def layouts(self) -> dict:
        """x, k and y's ``layout.Layout``: letters, stored view and permutation to canonical."""
        y = layout.arrange(self.data_format, "NC" + spatial_letters(self.ndim), self.y_shape)
        return {**self._given_layouts, "y": y}

    @property
    def channels_last(self) -> bool:
        """Whether the data format puts channels last (for impl files that read it; symconv itself
        reads ``layouts``)."""
        return self.data_format.endswith("C")

    def _split(self, shape):
        """(batch, channels, spatial) of an activation shape in this data format."""
        fmt = self.data_format
        spatial = tuple(shape[fmt.index(a)] for a in spatial_letters(self.ndim))
        return shape[fmt.index("N")], shape[fmt.index("C")], spatial

    def _join(self, n, c, spatial):
        """An activation shape in this data format."""
        sizes = {"N": n, "C": c, **dict(zip(spatial_letters(self.ndim), spatial))}
        return tuple(sizes[letter] for letter in self.data_format)

    def activation_shape(self, n, c, spatial) -> tuple:
        """The shape of an activation with batch n, c channels and these spatial sizes, in the
        data format."""
        return self._join(n, c, spatial)

    @property
    def batch(self) -> int:
        return self._split(self.input_shape)[0]

    @property
    def kernel_spatial(self) -> tuple:
        """The kernel's spatial sizes, in canonical order (D, H, W)."""
        return tuple(self._given_layouts["k"].size(letter) for letter in spatial_letters(self.ndim))

    def _kernel_channels(self) -> tuple:
        """(direct output channels, direct input channels per group): the kernel's canonical
        channel axes."""
        k = self._given_layouts["k"]
        return tuple(k.stored_shape[k.permutation.index(axis)] for axis in (0, 1))

    def _validate_channels(self):
        c_in = self._split(self.input_shape)[1]
        out_channels, in_per_group = self._kernel_channels()
        g, shapes = self.groups, f"(input shape {self.input_shape}, kernel shape {self.kernel_shape})"
        if self.kind == "depthwise":
            letters, sizes = self.kernel_layout, self.kernel_shape
            given = sizes[letters.index("C")] if "C" in letters else out_channels
            if "C" in letters and given != c_in or "C" not in letters and (in_per_group != 1 or given % c_in):
                what = "in-channels" if "C" in letters else "out-channels (O, a multiple of them, with I = 1)"
                raise SymconvError(f"depthwise kernel {what} must equal input channels, got {given} and {c_in} "
                                   f"{shapes}")
        elif self.role("x") == "direct_input":
            if in_per_group * g != c_in:
                raise SymconvError(f"kernel in-channels times groups must equal input channels: {in_per_group} x {g} "
                                   f"!= {c_in} {shapes}")
            if out_channels % g:
                raise SymconvError(f"groups must divide the kernel's out-channels, got {g} and {out_channels}")
        else:
            if out_channels != c_in:
                raise SymconvError(f"transposed kernel's in-channels (I in {self.kernel_layout}) must equal input "
                                   f"channels, got {out_channels} and {c_in} {shapes}")
            if c_in % g:
                raise SymconvError(f"groups must divide the input channels, got {g} and {c_in}")

    # ---- the direct convolution behind every op -------------------------------------------
    @property
    def conv_groups(self) -> int:
        """The direct convolution's groups: ``groups``, or a depthwise op's input channels."""
        return self._split(self.input_shape)[1] if self.kind == "depthwise" else self.groups

    @property
    def direct_input_channels(self) -> int:
        return self._kernel_channels()[1] * self.conv_groups

    @property
    def direct_output_channels(self) -> int:
        return self._kernel_channels()[0]

    @cached_property
    def _geometry(self):
        """(direct input spatial, direct output spatial, pads) with the padding resolved per axis."""
        nd, ks = self.ndim, self.kernel_spatial
        x_sp = self._split(self.input_shape)[2]
        if self.role("x") == "direct_input":
            big = x_sp
        elif self.output_shape_request is not None:
            big = self._split(self.output_shape_request)[2]
        else:
            big = tuple(self._default_transpose_size(i, x_sp[i]) for i in range(nd))
        small, pads = [], []
        for i in range(nd):
            r = self._resolve_axis(big[i], ks[i], self.strides[i], self.dilations[i], i)
            small.append(r.out)
            pads.append((r.before, r.after))
        return tuple(big), tuple(small), tuple(pads)

    def _resolve_axis(self, size, k, s, d, axis):
        if self.padding == "SAME":
            return conventions.get(self.convention)(size, k, s, d)
        b, a = (0, 0) if self.padding == "VALID" else self.padding[axis]
        return conventions.Resolved(output_size(size, k, s, d, b, a), b, a)

    def _default_transpose_size(self, axis, size):
        """Keras Conv*DTranspose's output length (conv_utils.deconv_output_length)."""
        k, s, d = self.kernel_spatial[axis], self.strides[axis], self.dilations[axis]
        ke = effective_kernel(k, d)
        if self.padding == "SAME":  # the convention says which size (Keras: the largest)
            return conventions.get(self.convention).transposed_size(size, k, s, d)
        if self.padding == "VALID":
            return size * s + max(ke - s, 0)
        b, a = self.padding[axis]
        return max((size - 1) * s + ke - b - a, 1)

    def _validate_output_request(self):
        if self.role("x") == "direct_input":
            return
        x_n, x_c, x_sp = self._split(self.input_shape)
        big, small, _ = self._geometry
        channels = self.direct_input_channels
        if self.output_shape_request is not None:
            n, c, _ = self._split(self.output_shape_request)
            if len(self.output_shape_request) != self.ndim + 2 or n != x_n or c != channels:
                raise SymconvError(
                    f"output shape must be {self.data_format} with batch {x_n} and {channels} "
                    f"channels, got {self.output_shape_request}")
        if small != x_sp:
            raise SymconvError(
                f"output shape {self._join(x_n, channels, big)} does not convolve back to the "
                f"input's spatial size {x_sp} under padding {format_padding(self.padding)} "
                f"(it gives {small})")

    @property
    def direct_input_spatial(self) -> tuple:
        return self._geometry[0]

    @property
    def direct_output_spatial(self) -> tuple:
        return self._geometry[1]

    @property
    def pads(self) -> tuple:
        """Resolved (before, after) padding per spatial axis, on the direct convolution's input."""
        return self._geometry[2]

    @property
    def x_shape(self) -> tuple:
        return tuple(self.input_shape)

    @property
    def k_shape(self) -> tuple:
        return tuple(self.kernel_shape)

    @cached_property
    def y_shape(self) -> tuple:
        """The output's shape (one name for it: ``y_shape``, as ``x_shape`` and ``k_shape``)."""
        if self.role("y") == "direct_input":
            return self._join(self.batch, self.direct_input_channels, self.direct_input_spatial)
        return self._join(self.batch, self.direct_output_channels, self.direct_output_spatial)

    @property
    def is_empty(self) -> bool:
        """True when no window fits: the output has a zero-sized axis."""
        return 0 in self.direct_output_spatial

    def shape_of(self, tensor: str) -> tuple:
        """The shape of x, k, y, g, dx or dk."""
        return {"x": self.x_shape, "k": self.k_shape, "y": self.y_shape}[LAYOUT_OF[tensor]]

    def with_layouts(self, data_format: str | None = None, kernel_layout: str | None = None) -> "ConvSpec":
        """The same convolution with its tensors in other layouts (shapes permuted to match)."""
        data_format = (data_format or self.data_format).upper()
        kernel_layout = parse_kernel_layout(kernel_layout or self.kernel_layout, self.op)
        if (data_format, kernel_layout) == (self.data_format, self.kernel_layout):
            return self
        sizes = dict(zip(self.data_format, self.input_shape))
        permuted = lambda shape, fmt: tuple(dict(zip(self.data_format, shape))[a] for a in fmt) \
            if shape is not None and set(fmt) == set(self.data_format) else shape
        if set(data_format) != set(sizes):
            raise SymconvError(f"data_format for {self.op} must be {' or '.join(DATA_FORMATS[self.ndim])}, "
                               f"got {shown(data_format)}")
        channels = self._split(self.input_shape)[1]
        kernel = _permuted_kernel(self.kernel_layout, self.kernel_shape, kernel_layout, channels)
        return replace(self, input_shape=permuted(self.input_shape, data_format), kernel_shape=kernel,
                       data_format=data_format, kernel_layout=kernel_layout,
                       output_shape_request=permuted(self.output_shape_request, data_format))

    def describe(self) -> str:
        default = parse_kernel_layout(None, self.op)
        layout_text = "" if self.kernel_layout == default else f" ({self.kernel_layout})"
        parts = [f"{self.op} input {'x'.join(map(str, self.input_shape))} ({self.data_format})",
                 f"kernel {'x'.join(map(str, self.kernel_shape))}{layout_text}",
                 f"strides {','.join(map(str, self.strides))}",
                 f"dilations {','.join(map(str, self.dilations))}",
                 f"padding {format_padding(self.padding)}"]
        if self.padding == "SAME":
            parts.append(f"convention {self.convention}")
        if self.groups != 1:
            parts.append(f"groups {self.groups}")
        return ", ".join(parts)

    def __repr__(self):
        return f"ConvSpec({self.describe()})"


def _permuted_kernel(letters: str, shape: tuple, other: str, channels: int) -> tuple:
    """A kernel shape in ``letters`` rearranged for ``other``: a depthwise kernel's C, M merged
    into O = C*M with I = 1, or split again (C the input's ``channels``)."""
    sizes = dict(zip(letters, shape))
    if "C" in sizes and "C" not in other:
        sizes = {**sizes, "I": 1, "O": sizes["C"] * sizes["M"]}
    if "C" in other and "C" not in sizes:
        sizes = {**sizes, "C": channels, "M": sizes["O"] // channels}
    return tuple(sizes[a] for a in other)


def parse_entry(spec: ConvSpec, text: str):
    """``'dk[0,0,0,0]'`` -> ('filter_grad', (0, 0, 0, 0)); a bare ``'y'`` -> ('forward', None)."""
    m = re.fullmatch(r"\s*(y|dk|dx)\s*(?:\[([^\]]*)\])?\s*", text) if isinstance(text, str) else None
    if not m:
        raise SymconvError(f"entry must look like y[n,i,j,c], dk[a,b,ci,co] or dx[n,h,w,c], got {shown(text)}")
    quantity = QUANTITY_OF[m.group(1)]
    if m.group(2) is None:
        return quantity, None
    items = [p.strip() for p in m.group(2).split(",")]
    if not all(re.fullmatch(r"[-+]?\d+", p) for p in items):
        raise SymconvError(f"entry indices must be integers, got {shown(text)}")
    return quantity, validate_entry(spec, quantity, tuple(int_text(p, "entry index") for p in items))


def require_spec(spec, field: str = "spec") -> ConvSpec:
    """``spec`` itself when it is a ConvSpec; a SymconvError naming what was given otherwise."""
    if not isinstance(spec, ConvSpec):
        raise SymconvError(f"{field} must be a ConvSpec (e.g. symconv.ConvSpec('conv2d', '1x3x3x1', '1x1x1x1')), "
                           f"got {type(spec).__name__} {shown(spec)}")
    return spec


def require_nonempty(spec: ConvSpec) -> None:
    """A SymconvError when the spec's output is empty (no entry has terms)."""
    if spec.is_empty:
        raise SymconvError(
            f"the output of this {spec.op} is empty (shape {spec.y_shape}): the kernel does not fit "
            f"the padded input, so no entry has terms")


def validate_entry(spec: ConvSpec, quantity: str, index: Iterable[int]) -> tuple:
    """The index of one entry of the quantity's tensor as a tuple of ints, after checking it."""
    require_nonempty(spec)
    name = TENSOR_OF[quantity]
    shape = spec.shape_of(name)
    if isinstance(index, (str, bytes)):
        raise SymconvError(f"entry index of {name} must be a sequence of {len(shape)} integers, got {shown(index)}")
    try:
        items = _at_most(index, len(shape) + 1)
    except TypeError:
        raise SymconvError(f"entry index of {name} must be a sequence of {len(shape)} integers, "
                           f"got {shown(index)}") from None
    index = tuple(_as_int(i, "entry indices") for i in items)
    if len(index) != len(shape):
        raise SymconvError(f"entry {name}{list(index)} must have {len(shape)} indices for shape {shape}")
    if any(not 0 <= i < s for i, s in zip(index, shape)):
        raise SymconvError(f"entry {name}{list(index)} is out of range for shape {shape}")
    return index


def entry_name(quantity: str, index) -> str:
    return f"{TENSOR_OF[quantity]}[{','.join(map(str, index))}]"
