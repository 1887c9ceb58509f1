"""Planted: one output position, the last on every spatial axis, reads its window one column to
the left (its pad before on the last axis one larger); every other output is right.  The
gradients are that forward's adjoints."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402


def _last_position(spec):
    mask = np.zeros(spec.y_shape, dtype=bool)
    mask[(slice(None),) + (-1,) * (len(spec.y_shape) - 2) + (slice(None),)] = True
    return mask


def _shifted(spec):
    befores = [b for b, _ in spec.pads]
    befores[-1] += 1
    return planted.altered(spec, befores=befores)


_impl = planted.in_region(_last_position, _shifted)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
