"""Planted: a true convolution: the kernel is flipped on every spatial axis, consistently in the
forward and both gradients."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402


def _flip(k):
    return np.flip(k, axis=tuple(range(k.ndim - 2)))


_impl = planted.with_kernel(_flip)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
