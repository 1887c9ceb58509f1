"""Planted: a grouped convolution that computes only its first group: the output channels of
every later group are zero (their kernel slices are never read, and get no gradient; their
input channels get none either)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402

from symconv.model import layout  # noqa: E402


def _first_group_only(spec):
    def keep(k):
        out = np.array(k, dtype=np.float64)
        canon = layout.array_to_canonical(spec, "k", out).copy()
        canon[spec.direct_output_channels // spec.conv_groups:] = 0
        return layout.array_from_canonical(spec, "k", canon)
    return keep


def forward(x, k, spec):
    return planted.exact(spec, "forward", x=x, k=_first_group_only(spec)(k))


def filter_grad(x, g, spec):
    return _first_group_only(spec)(planted.exact(spec, "filter_grad", x=x, g=g))


def input_grad(k, g, spec):
    return planted.exact(spec, "input_grad", k=_first_group_only(spec)(k), g=g)
