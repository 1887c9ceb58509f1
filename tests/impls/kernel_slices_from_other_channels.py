"""Planted: each output channel multiplies its own inputs by another output channel's kernel
slice: with groups, every group's slices taken from the next group (a grouped kernel split
into groups at the wrong offset); without, output channel 1 computed with channel 0's slice
(a copy-paste of one slice).  In all three quantities, consistently."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402


def _sources(spec):
    out = spec.kernel_shape[-1]
    if spec.groups == 1:
        return np.array([0, 0] + list(range(2, out)))
    per = out // spec.groups
    return np.array([(co + per) % out for co in range(out)])


def forward(x, k, spec):
    return planted.exact(spec, "forward", x=x, k=np.asarray(k)[..., _sources(spec)])


def filter_grad(x, g, spec):
    dk = planted.exact(spec, "filter_grad", x=x, g=g)
    out = np.zeros_like(dk)
    for co, source in enumerate(_sources(spec)):
        out[..., source] += dk[..., co]
    return out


def input_grad(k, g, spec):
    return planted.exact(spec, "input_grad", k=np.asarray(k)[..., _sources(spec)], g=g)
