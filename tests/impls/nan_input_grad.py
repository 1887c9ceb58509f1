"""Planted: the input gradient is all NaN; the forward and the filter gradient are right."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402

_impl = planted.with_spec(lambda spec: spec)
forward = _impl.forward
filter_grad = _impl.filter_grad


def input_grad(k, g, spec):
    return np.full(spec.x_shape, np.nan)
