"""Planted: one corrupted forward entry: y at the middle position and the last channel also adds
x[0,...,0,0] * k[0,...,0,0,last]; everything else is right."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402

_impl = planted.with_spec(lambda spec: spec)
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad


def corrupted_entry(spec):
    middle = tuple(n // 2 for n in spec.y_shape[1:-1])
    return (0, *middle, spec.y_shape[-1] - 1)


def forward(x, k, spec):
    y = planted.exact(spec, "forward", x=x, k=k)
    nd = len(spec.y_shape) - 2
    y[corrupted_entry(spec)] += x[(0,) * (nd + 2)] * k[(0,) * (nd + 1) + (-1,)]
    return y
