"""Real TensorFlow against the exact model: the op x padding x convention x layout sweep.

Every case runs through ``symconv.check`` in child processes (one per variant, shared by the
backends of that variant): tf eager (raw backprop ops and GradientTape), tf-xla and Keras,
oneDNN on and off, one intra-op thread and TensorFlow's default.  A result is one of:

* ok: every entry of y, dk and dx agrees exactly;
* unsupported: TensorFlow raised (its message is kept), which is its right;
* a finding: TensorFlow returned something the model says is wrong (wrong pixels, wrong shape,
  garbage) or crashed.  Findings are listed in FINDINGS with the exact case and are expected
  failures (strict: the test fails the day TensorFlow fixes them, so the list stays true).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from symconv import ConvSpec, SymconvError
from symconv.spec import DATA_FORMATS, OPS

from .conftest import backend_missing, need_backend

PADDINGS = [("SAME", "tf"), ("SAME", "same_lower"), ("SAME", "legacy_eigen"), ("SAME", "torch"),
            ("VALID", "tf"), ("explicit", "tf")]


@dataclass(frozen=True)
class Shape:
    """One geometry per spatial axis, named for what it exercises."""

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


def _spec(op, fmt, padding, convention, shape, case_number):
    nd, kind = OPS[op]
    batch = 1 + case_number % 2
    c_in = 1 + case_number % 3
    spatial = shape.size[:nd]
    ks = shape.kernel[:nd]
    strides, dilations = shape.strides[:nd], shape.dilations[:nd]
    pad = shape.pads[:nd] if padding == "explicit" else padding
    groups = 2 if kind == "conv" and case_number % 5 == 0 else 1
    if kind == "conv":
        c_in *= groups
        kernel = (*ks, c_in // groups, groups * (1 + case_number % 2))
    elif kind == "depthwise":
        kernel = (*ks, c_in, 1 + case_number % 2)
    else:
        kernel = (*ks, 1 + case_number % 2, c_in)
    shape_x = (batch, *spatial, c_in) if fmt.endswith("C") else (batch, c_in, *spatial)
    return ConvSpec(op, shape_x, kernel, strides, dilations, pad, convention, fmt, groups)


# The founding question's geometry: stride larger than the kernel with SAME, so that the
# padding total (out - 1) * s + k - in is negative and clamping it matters.
FOUNDING = Shape("founding geometry", (3, 5, 7), (1, 1, 2), (3, 3, 4), (1, 1, 1), ((0, 0), (0, 0), (0, 0)))


def sweep_cases():
    """(case id, spec): every op x layout x padding/convention, each with a geometry taken in
    turn from SHAPES (transposed ops skip geometries whose output size they cannot define),
    then every op x layout with SAME on the founding geometry."""
    cases = []
    for number, (op, fmt) in enumerate((op, fmt) for op in OPS for fmt in DATA_FORMATS[OPS[op].ndim]):
        cases.append((f"{op}-{fmt}-SAME-tf-founding_geometry", _spec(op, fmt, "SAME", "tf", FOUNDING, number)))
    number = 0
    for op, (padding, convention) in itertools.product(OPS, PADDINGS):
        for fmt in DATA_FORMATS[OPS[op].ndim]:
            for attempt in range(len(SHAPES)):
                shape = SHAPES[(number + attempt) % len(SHAPES)]
                try:
                    spec = _spec(op, fmt, padding, convention, shape, number)
                except SymconvError:
                    continue
                label = padding if padding != "SAME" else f"SAME-{convention}"
                cases.append((f"{op}-{fmt}-{label}-{shape.name.replace(' ', '_')}", spec))
                break
            number += 1
    return cases


CASES = sweep_cases()
