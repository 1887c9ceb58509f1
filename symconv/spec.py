"""ConvSpec: one validated convolution request, and the parsing of its fields.

Everything a user can type (shapes like ``1x3x3x1``, strides ``2,1``, padding ``SAME`` or
``1:2,0:0``, entries like ``dk[0,0,0,0]``) is parsed here and nowhere else.  Inside, every
convolution is described as one *direct* convolution from a "big" tensor to a "small" one:

* conv / depthwise: x is big, y is small;
* transpose: y is big, x is small (a transposed convolution is the input gradient of the
  direct convolution with the same kernel).

Padding is resolved on the big axis.  Canonical orders are (N, C, spatial...) for
activations and (C_small, C_big // groups, spatial...) for kernels.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, NamedTuple

import numpy as np

from . import conventions
from .conventions import effective_kernel, output_size
from .errors import SymconvError, shown


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

# Each quantity is named by the tensor that holds it and by the two factors of its terms.
QUANTITIES = ("forward", "filter_grad", "input_grad")
TENSOR_OF = {"forward": "y", "filter_grad": "dk", "input_grad": "dx"}
QUANTITY_OF = {v: k for k, v in TENSOR_OF.items()}
FACTORS = {"forward": ("x", "k"), "filter_grad": ("g", "x"), "input_grad": ("g", "k")}

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


def parse_per_axis(value, ndim: int, field: str, channels_last: bool = True) -> tuple[int, ...]:
    """One int, or one per spatial axis; TensorFlow's full-rank form [1, s, s, 1] is also taken."""
    if value is None:
        return (1,) * ndim
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
    elif len(vals) == ndim + 2 and vals[0] == 1 and vals[-1 if channels_last else 1] == 1:
        vals = vals[1:-1] if channels_last else vals[2:]
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


@dataclass(frozen=True)
class ConvSpec:
    """A convolution: op, shapes (in ``data_format``), strides, dilations, padding, convention.

    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    >>> spec.pads, spec.output_shape
    (((0, 0), (0, 0)), (1, 1, 1, 1))
    >>> ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME",
    ...          convention="legacy_eigen").pads
    ((-1, -1), (-1, -1))

    Kernel layouts are TensorFlow's: (spatial..., in // groups, out) for convolutions,
    (spatial..., in, multiplier) for depthwise_conv2d and (spatial..., out, in) for the
    transposed convolutions, whose ``output_shape`` defaults to Keras's choice.
    """

    op: str
    input_shape: tuple
    kernel_shape: tuple
    strides: tuple = 1
    dilations: tuple = 1
    padding: object = "VALID"
    convention: str = "tf"
    data_format: str | None = None
    groups: int = 1
    output_shape_request: tuple | None = None

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
            raise SymconvError(f"convention must be a name such as tf, got {shown(self.convention)}")
        conventions.get(self.convention)
        x_shape = parse_shape(self.input_shape, "input shape")
        k_shape = parse_shape(self.kernel_shape, "kernel shape")
        if len(x_shape) != nd + 2:
            raise SymconvError(
                f"input shape for {self.op} must have {nd + 2} dimensions ({fmt}), got {x_shape}")
        if len(k_shape) != nd + 2:
            raise SymconvError(
                f"kernel shape for {self.op} must have {nd + 2} dimensions, got {k_shape}")
        groups = _as_int(self.groups, "groups")
        if groups < 1:
            raise SymconvError(f"groups must be a positive integer, got {groups}")
        if info.kind == "depthwise" and groups != 1:
            raise SymconvError(f"groups does not apply to depthwise_conv2d (it is the channel count), got {groups}")
        out_req = self.output_shape_request
        if out_req is not None:
            if info.kind != "transpose":
                raise SymconvError(f"output shape can only be given for transposed convolutions, not {self.op}")
            out_req = parse_shape(out_req, "output shape")
            if len(out_req) != nd + 2:
                raise SymconvError(
                    f"output shape for {self.op} must have {nd + 2} dimensions ({fmt}), got {out_req}")
        for name, value in (("op", self.op), ("input_shape", x_shape), ("kernel_shape", k_shape),
                            ("strides", parse_per_axis(self.strides, nd, "strides", fmt.endswith("C"))),
                            ("dilations", parse_per_axis(self.dilations, nd, "dilations", fmt.endswith("C"))),
                            ("padding", parse_padding(self.padding, nd)), ("data_format", fmt),
                            ("groups", groups), ("output_shape_request", out_req)):
            object.__setattr__(self, name, value)
        for field, shape in (("input shape", x_shape), ("kernel shape", k_shape)):
            if int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
                raise SymconvError(f"{field} has more than 2**31 elements, got {shape}")
        # Keeps s*o + d*a - before far inside int64.
        for field, values in (("strides", self.strides), ("dilations", self.dilations),
                              ("padding", () if isinstance(self.padding, str) else sum(self.padding, ()))):
            if any(abs(v) > MAX_ELEMENTS for v in values):
                raise SymconvError(f"{field} must be at most 2**31 in size, got {values}")
        self._check_channels()
        self._check_output_request()
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

    @property
    def channels_last(self) -> bool:
        return self.data_format.endswith("C")

    def _split(self, shape):
        """(batch, channels, spatial) of an activation shape in this data format."""
        if self.channels_last:
            return shape[0], shape[-1], tuple(shape[1:-1])
        return shape[0], shape[1], tuple(shape[2:])

    def _join(self, n, c, spatial):
        return (n, *spatial, c) if self.channels_last else (n, c, *spatial)

    @property
    def batch(self) -> int:
        return self._split(self.input_shape)[0]

    @property
    def kernel_spatial(self) -> tuple:
        return tuple(self.kernel_shape[:self.ndim])

    def _check_channels(self):
        c_in = self._split(self.input_shape)[1]
        k_in, k_out = self.kernel_shape[-2:]
        g = self.groups
        if self.kind == "conv":
            if k_in * g != c_in:
                raise SymconvError(
                    f"kernel in-channels times groups must equal input channels: {k_in} x {g} != {c_in} "
                    f"(input shape {self.input_shape}, kernel shape {self.kernel_shape})")
            if k_out % g:
                raise SymconvError(f"groups must divide the kernel's out-channels, got {g} and {k_out}")
        elif self.kind == "depthwise":
            if k_in != c_in:
                raise SymconvError(
                    f"depthwise kernel in-channels must equal input channels, got {k_in} and {c_in} "
                    f"(input shape {self.input_shape}, kernel shape {self.kernel_shape})")
        else:
            if k_out != c_in:
                raise SymconvError(
                    f"transposed kernel's last dimension must equal input channels, got {k_out} and {c_in} "
                    f"(input shape {self.input_shape}, kernel shape {self.kernel_shape})")
            if c_in % g:
                raise SymconvError(f"groups must divide the input channels, got {g} and {c_in}")

    # ---- the direct convolution behind every op -------------------------------------------
    @property
    def big_channels(self) -> int:
        if self.kind == "transpose":
            return self.kernel_shape[-2] * self.groups
        return self._split(self.input_shape)[1]

    @property
    def small_channels(self) -> int:
        if self.kind == "depthwise":
            return self.kernel_shape[-2] * self.kernel_shape[-1]
        return self.kernel_shape[-1]

    @property
    def conv_groups(self) -> int:
        return self.big_channels if self.kind == "depthwise" else self.groups

    @cached_property
    def _geometry(self):
        """(big spatial, small spatial, pads) with the padding resolved per axis."""
        nd, ks = self.ndim, self.kernel_spatial
        x_sp = self._split(self.input_shape)[2]
        if self.kind != "transpose":
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

    def _check_output_request(self):
        if self.kind != "transpose":
            return
        x_n, x_c, x_sp = self._split(self.input_shape)
        big, small, _ = self._geometry
        if self.output_shape_request is not None:
            n, c, _ = self._split(self.output_shape_request)
            if len(self.output_shape_request) != self.ndim + 2 or n != x_n or c != self.big_channels:
                raise SymconvError(
                    f"output shape must be {self.data_format} with batch {x_n} and {self.big_channels} "
                    f"channels, got {self.output_shape_request}")
        if small != x_sp:
            raise SymconvError(
                f"output shape {self._join(x_n, self.big_channels, big)} does not convolve back to the "
                f"input's spatial size {x_sp} under padding {format_padding(self.padding)} "
                f"(it gives {small})")

    @property
    def big_spatial(self) -> tuple:
        return self._geometry[0]

    @property
    def small_spatial(self) -> tuple:
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

    @property
    def y_shape(self) -> tuple:
        n = self.batch
        if self.kind == "transpose":
            return self._join(n, self.big_channels, self.big_spatial)
        return self._join(n, self.small_channels, self.small_spatial)

    output_shape = y_shape

    @property
    def is_empty(self) -> bool:
        """True when no window fits: the output has a zero-sized axis."""
        return 0 in self.small_spatial

    def shape_of(self, tensor: str) -> tuple:
        return {"x": self.x_shape, "k": self.k_shape, "y": self.y_shape, "g": self.y_shape,
                "dx": self.x_shape, "dk": self.k_shape}[tensor]

    def describe(self) -> str:
        parts = [f"{self.op} input {'x'.join(map(str, self.input_shape))} ({self.data_format})",
                 f"kernel {'x'.join(map(str, self.kernel_shape))}",
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


def as_quantity(name) -> str:
    """The quantity a name means: ``'y'``/``'forward'``, ``'dk'``/``'filter_grad'``,
    ``'dx'``/``'input_grad'``.

    >>> as_quantity("dk"), as_quantity("input_grad")
    ('filter_grad', 'input_grad')
    """
    if isinstance(name, str):
        key = name.strip()
        if key in QUANTITY_OF:
            return QUANTITY_OF[key]
        if key in QUANTITIES:
            return key
    raise SymconvError(f"quantity must be one of y (forward), dk (filter_grad) or dx (input_grad), "
                       f"got {shown(name)}")


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
    return quantity, check_entry(spec, quantity, tuple(int_text(p, "entry index") for p in items))


def require_spec(spec, field: str = "spec") -> ConvSpec:
    """``spec`` itself when it is a ConvSpec; a SymconvError naming what was given otherwise."""
    if not isinstance(spec, ConvSpec):
        raise SymconvError(f"{field} must be a ConvSpec (e.g. symconv.ConvSpec('conv2d', '1x3x3x1', '1x1x1x1')), "
                           f"got {type(spec).__name__} {shown(spec)}")
    return spec


def check_empty(spec: ConvSpec) -> None:
    if spec.is_empty:
        raise SymconvError(
            f"the output of this {spec.op} is empty (shape {spec.y_shape}): the kernel does not fit "
            f"the padded input, so no entry has terms")


def check_entry(spec: ConvSpec, quantity: str, index: Iterable[int]) -> tuple:
    check_empty(spec)
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
