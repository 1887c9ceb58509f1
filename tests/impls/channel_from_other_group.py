"""Planted: in a grouped convolution (channels last), the last output channel is computed from
the first group's input channels instead of its own group's (an off-by-one group index for one
channel); every other channel is right.  The gradients are that forward's adjoints."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402


def _parts(spec):
    """(the wrong output channel, its group's input channels, the first group's)."""
    c_in = spec.x_shape[-1]
    per_group = c_in // spec.groups
    wrong = spec.y_shape[-1] - 1
    group = wrong // (spec.y_shape[-1] // spec.groups)
    return wrong, slice(group * per_group, (group + 1) * per_group), slice(0, per_group)


def _moved(x, spec):
    wrong, own, first = _parts(spec)
    moved = np.array(x, dtype=np.float64)
    moved[..., own] = x[..., first]
    return moved


def forward(x, k, spec):
    wrong = _parts(spec)[0]
    y = planted.exact(spec, "forward", x=x, k=k)
    y[..., wrong] = planted.exact(spec, "forward", x=_moved(x, spec), k=k)[..., wrong]
    return y


def filter_grad(x, g, spec):
    wrong = _parts(spec)[0]
    dk = planted.exact(spec, "filter_grad", x=x, g=g)
    dk[..., wrong] = planted.exact(spec, "filter_grad", x=_moved(x, spec), g=g)[..., wrong]
    return dk


def input_grad(k, g, spec):
    wrong, own, first = _parts(spec)
    others, alone = np.array(g, dtype=np.float64), np.zeros_like(g, dtype=np.float64)
    others[..., wrong], alone[..., wrong] = 0, g[..., wrong]
    dx = planted.exact(spec, "input_grad", k=k, g=others)
    from_wrong = planted.exact(spec, "input_grad", k=k, g=alone)
    dx[..., first] += from_wrong[..., own]
    return dx
