"""The sweep's cases: ops x padding modes x conventions x layouts x degenerate shapes.

A case is a named ``ConvSpec``.  Its id reads as what it exercises, ``op-layout-padding-shape``
(``conv2d-NHWC-SAME-tf-founding_geometry``), so a failing case is recognisable from its id
alone.  Two sizes:

* ``quick``: every op x layout x padding mode once, each with one geometry taken in turn from
  SHAPES (so every degenerate shape meets every op), plus, per op x layout, SAME on the founding
  question's geometry, VALID on an input smaller than the kernel and two cases with batch 2, a
  non-square input and several channels on both sides (CHANNELS), plus cases aimed at each
  framework's own padding modes (AIMED);
* ``full``: every op x layout x padding mode x geometry, each with batch and channel counts
  1, 2 and 3 and groups, plus the quick cases.

Batch, channel and group counts vary with the case's number, so a sweep meets them all
without multiplying its length.  The lists are the same on every run.

>>> cases = sweep_cases("quick")
>>> len(cases), cases[0].case_id
(154, 'conv1d-NWC-SAME-tf-founding_geometry')
>>> len(sweep_cases("quick", ops=["conv2d"]))
25
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..errors import SymconvError, shown
from ..model.spec import DATA_FORMATS, OPS, ConvSpec

SIZES = ("quick", "full")

# (padding, convention) pairs: SAME under each registered convention that frameworks use or
# used, VALID, and explicit pads (negative ones among them).
PADDINGS = [("SAME", "tf"), ("SAME", "same_lower"), ("SAME", "legacy_eigen"), ("SAME", "torch"),
            ("VALID", "tf"), ("explicit", "tf")]
PADDING_LABELS = [padding if padding != "SAME" else f"SAME-{convention}" for padding, convention in PADDINGS]


@dataclass(frozen=True)
class Shape:
    """One geometry per spatial axis (the first ``ndim`` entries are used), named for what it
    exercises."""

    name: str
    size: tuple
    kernel: tuple
    strides: tuple
    dilations: tuple
    pads: tuple   # used when the padding is explicit


SHAPES = [
    Shape("regular", (6, 5, 4), (3, 2, 2), (1, 2, 1), (1, 1, 1), ((1, 1), (0, 1), (1, 0))),
    Shape("kernel larger than input", (2, 3, 2), (3, 4, 3), (1, 1, 1), (1, 1, 1), ((1, 0), (0, 2), (1, 1))),
    Shape("stride larger than kernel", (7, 8, 5), (2, 1, 2), (3, 4, 3), (1, 1, 1), ((0, 2), (1, 1), (2, 0))),
    Shape("output size 1", (3, 4, 3), (3, 4, 3), (2, 3, 3), (1, 1, 1), ((0, 0), (0, 0), (0, 0))),
    Shape("dilation past the input", (4, 5, 3), (3, 2, 2), (1, 1, 1), (3, 5, 4), ((2, 2), (0, 3), (1, 1))),
    Shape("stride and dilation", (7, 6, 5), (2, 3, 2), (2, 2, 1), (2, 1, 2), ((1, 0), (2, 1), (0, 1))),
    Shape("negative pads", (7, 6, 5), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((-1, 1), (1, -1), (-1, -1))),
]

# The founding question's geometry: stride larger than the kernel with SAME, so that the
# padding total (out - 1) * s + k - in is negative and clamping it matters.
FOUNDING = Shape("founding geometry", (3, 5, 7), (1, 1, 2), (3, 3, 4), (1, 1, 1), ((0, 0), (0, 0), (0, 0)))

# Batch 2, a non-square input and more than one channel on both sides of the kernel, once with
# as many output channels as input channels and once with more: a kernel or gradient whose channel
# axes are swapped (or batch and channels confused) cannot hide behind a size of one, nor behind
# an exception that a shape mismatch happens to raise.
CHANNELS = Shape("channels", (5, 4, 3), (2, 3, 2), (1, 2, 1), (1, 1, 1), ((1, 0), (0, 1), (1, 1)))
CHANNEL_COUNTS = [("SAME", (2, 2, 3)), ("explicit", (2, 3, 3))]   # padding, (batch, in, out)

# Only in the full sweep: a one-pixel input, stride larger than the input, even kernels.
FULL_SHAPES = SHAPES + [
    FOUNDING,
    Shape("input size 1", (1, 1, 1), (1, 2, 1), (1, 1, 2), (1, 1, 1), ((0, 1), (1, 0), (0, 0))),
    Shape("stride larger than input", (3, 2, 4), (2, 2, 1), (5, 3, 6), (1, 1, 1), ((1, 0), (0, 1), (2, 2))),
    Shape("even kernel dilated", (8, 7, 6), (4, 2, 2), (1, 2, 3), (2, 3, 1), ((3, 3), (1, 2), (0, 1))),
]

# Aimed at frameworks' own padding modes: SAME whose total (out-1)*s + k - in is negative (a
# rule that does not clamp it starts the window inside the input), PyTorch's padding='same' on
# an even dilated kernel, output_padding at or above the stride (allowed below the dilation),
# transposed convolutions with groups (JAX's vjp route), a dilated depthwise kernel at stride 1, negative
# pads on a transposed 3-D one.
AIMED = [
    ("conv1d-NWC-SAME-tf-padding_total_-3", dict(op="conv1d", input_shape="1x10x1", kernel_shape="1x1x1", strides=6,
                                                 padding="SAME")),
    ("conv2d-NHWC-SAME-tf-padding_total_-2", dict(op="conv2d", input_shape="1x9x9x1", kernel_shape="1x1x1x1",
                                                  strides=6, padding="SAME")),
    ("conv2d-NHWC-SAME-tf-padding_total_-4", dict(op="conv2d", input_shape="1x11x4x2", kernel_shape="1x2x2x1",
                                                  strides=(6, 1), padding="SAME")),
    ("conv1d-NCW-SAME-same_lower-padding_total_-3",
     dict(op="conv1d", input_shape="1x1x10", kernel_shape="1x1x1", strides=6, padding="SAME",
          convention="same_lower", data_format="NCW")),
    ("conv1d-NCW-SAME-same_lower-padding_total_-4",
     dict(op="conv1d", input_shape="1x1x11", kernel_shape="1x1x1", strides=6, padding="SAME",
          convention="same_lower", data_format="NCW")),
    ("conv2d-NCHW-SAME-tf-even_kernel_dilated",
     dict(op="conv2d", input_shape="1x1x5x6", kernel_shape="2x4x1x1", dilations=(1, 3), padding="SAME",
          data_format="NCHW")),
    ("conv2d_transpose-NCHW-SAME-tf-stride_larger_than_kernel",
     dict(op="conv2d_transpose", input_shape="1x1x2x3", kernel_shape="1x2x1x1", strides=3, padding="SAME",
          data_format="NCHW")),
    ("conv2d_transpose-NHWC-SAME-same_lower-groups",
     dict(op="conv2d_transpose", input_shape="1x3x3x4", kernel_shape="2x2x2x4", strides=2, padding="SAME",
          convention="same_lower", groups=2)),
    ("conv1d_transpose-NWC-explicit-output_padding_above_stride",
     dict(op="conv1d_transpose", input_shape="1x3x1", kernel_shape="2x1x1", dilations=3, padding="0:-1",
          output_shape_request="1x7x1")),
    ("conv2d-NHWC-explicit-asymmetric_pads", dict(op="conv2d", input_shape="2x6x5x2", kernel_shape="2x3x2x3",
                                                  strides=(1, 2), padding="1:0,2:1")),
    ("conv2d-NCHW-explicit-negative_pads", dict(op="conv2d", input_shape="1x2x6x5", kernel_shape="2x3x2x2",
                                                strides=(1, 2), padding="-1:2,1:-1", data_format="NCHW")),
    ("conv1d_transpose-NWC-explicit-output_padding", dict(op="conv1d_transpose", input_shape="1x3x1",
                                                          kernel_shape="2x1x1", strides=2, padding="1:0",
                                                          output_shape_request="1x6x1")),
    ("depthwise_conv2d-NHWC-SAME-tf-dilated_at_stride_1",
     dict(op="depthwise_conv2d", input_shape="1x5x4x1", kernel_shape="2x1x1x1", dilations=(2, 1), padding="SAME")),
    ("conv3d_transpose-NCDHW-explicit-negative_pads_and_strides",
     dict(op="conv3d_transpose", input_shape="1x2x2x3x2", kernel_shape="2x1x2x1x2", strides=(2, 1, 3),
          padding="-1:0,1:-1,0:2", data_format="NCDHW")),
]


@dataclass(frozen=True)
class Case:
    """One sweep case: its id, its spec, and the group it belongs to (``founding``,
    ``no_output``, ``channels``, ``grid`` or ``aimed``)."""

    case_id: str
    spec: ConvSpec
    group: str

    @property
    def padding_label(self) -> str:
        """How the summary groups it: SAME-<convention>, VALID or explicit."""
        return padding_label(self.spec)


def padding_label(spec: ConvSpec) -> str:
    if spec.padding == "SAME":
        return f"SAME-{spec.convention}"
    return "VALID" if spec.padding == "VALID" else "explicit"


def _spec(op, fmt, padding, convention, shape, case_number, batch=None, c_in=None, multiplier=None, groups=None):
    nd, kind = OPS[op]
    batch = batch or 1 + case_number % 2
    c_in = c_in or 1 + case_number % 3
    multiplier = multiplier or 1 + case_number % 2
    spatial = shape.size[:nd]
    ks = shape.kernel[:nd]
    strides, dilations = shape.strides[:nd], shape.dilations[:nd]
    pad = shape.pads[:nd] if padding == "explicit" else padding
    if groups is None:
        groups = 2 if kind == "conv" and case_number % 5 == 0 else 1
    if kind != "conv":
        groups = 1 if kind == "depthwise" else groups
    if kind == "conv":
        c_in *= groups
        kernel = (*ks, c_in // groups, groups * multiplier)
    elif kind == "depthwise":
        kernel = (*ks, c_in, multiplier)
    else:
        c_in *= groups
        kernel = (*ks, multiplier, c_in)
    shape_x = (batch, *spatial, c_in) if fmt.endswith("C") else (batch, c_in, *spatial)
    return ConvSpec(op, shape_x, kernel, strides, dilations, pad, convention, fmt, groups)


def _label(padding, convention) -> str:
    return padding if padding != "SAME" else f"SAME-{convention}"


def _quick(ops) -> list:
    cases = []
    pairs = [(op, fmt) for op in OPS for fmt in DATA_FORMATS[OPS[op].ndim]]
    for number, (op, fmt) in enumerate(pairs):
        if op not in ops:
            continue
        cases.append(Case(f"{op}-{fmt}-SAME-tf-founding_geometry", _spec(op, fmt, "SAME", "tf", FOUNDING, number),
                          "founding"))
        name = "no_output" if OPS[op].kind != "transpose" else "input_smaller_than_kernel"
        cases.append(Case(f"{op}-{fmt}-VALID-{name}", _spec(op, fmt, "VALID", "tf", SHAPES[1], number), "no_output"))
        for padding, (batch, c_in, c_out) in CHANNEL_COUNTS:
            spec = _spec(op, fmt, padding, "tf", CHANNELS, number, batch, c_in, c_out, 1)
            cases.append(Case(f"{op}-{fmt}-{padding if padding != 'SAME' else 'SAME-tf'}-channels_"
                              f"n{batch}_{c_in}_to_{c_out}", spec, "channels"))
    number = 0
    for op, (padding, convention) in itertools.product(OPS, PADDINGS):
        for fmt in DATA_FORMATS[OPS[op].ndim]:
            for attempt in range(len(SHAPES)):
                shape = SHAPES[(number + attempt) % len(SHAPES)]
                try:
                    spec = _spec(op, fmt, padding, convention, shape, number)
                except SymconvError:
                    continue  # a transposed op whose output size this geometry cannot define
                if op in ops:
                    cases.append(Case(f"{op}-{fmt}-{_label(padding, convention)}-{shape.name.replace(' ', '_')}",
                                      spec, "grid"))
                break
            number += 1
    cases.extend(Case(case_id, ConvSpec(**fields), "aimed") for case_id, fields in AIMED if fields["op"] in ops)
    return cases


# (batch, in channels, multiplier, groups) for each geometry of the full sweep.
_COUNTS = [(1, 1, 1, 1), (2, 3, 2, 1), (3, 2, 1, 2), (1, 3, 3, 3)]


def _full(ops) -> list:
    cases, seen = [], set()
    for case in _quick(ops):
        cases.append(case)
        seen.add(case.spec)
    number = 0
    for op, (padding, convention) in itertools.product(OPS, PADDINGS):
        if op not in ops:
            continue
        for fmt in DATA_FORMATS[OPS[op].ndim]:
            for shape in FULL_SHAPES:
                for batch, c_in, multiplier, groups in _COUNTS:
                    number += 1
                    try:
                        spec = _spec(op, fmt, padding, convention, shape, number, batch, c_in, multiplier,
                                     groups)
                    except SymconvError:
                        continue
                    if spec in seen:
                        continue
                    seen.add(spec)
                    counts = f"n{batch}c{spec.direct_input_channels}g{spec.groups}m{multiplier}"
                    cases.append(Case(f"{op}-{fmt}-{_label(padding, convention)}-{shape.name.replace(' ', '_')}-"
                                      f"{counts}", spec, "grid"))
    return cases


def sweep_cases(size: str = "quick", ops=None) -> list:
    """The cases of a sweep of ``size`` (quick or full), for ``ops`` (default every op)."""
    if size not in SIZES:
        raise SymconvError(f"size must be quick or full, got {shown(size)}")
    if ops is None:
        ops = tuple(OPS)
    elif isinstance(ops, str):
        ops = tuple(o.strip() for o in ops.split(",") if o.strip())
    else:
        ops = tuple(ops)
    unknown = [o for o in ops if o not in OPS]
    if unknown or not ops:
        raise SymconvError(f"ops must be among {', '.join(OPS)}, got {shown(list(ops))}")
    return _quick(ops) if size == "quick" else _full(ops)
