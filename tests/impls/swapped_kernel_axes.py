"""Planted: the kernel's first two spatial axes are swapped (k[a,b] read as k[b,a])."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402


def _swap(k):
    return np.swapaxes(k, 0, 1)


_impl = planted.with_kernel(_swap)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
