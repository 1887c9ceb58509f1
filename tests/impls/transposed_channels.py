"""Planted: the kernel's in- and out-channel axes are transposed (k[...,i,o] read as k[...,o,i])."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import planted  # noqa: E402


def _transpose(k):
    return np.swapaxes(k, -1, -2)


_impl = planted.with_kernel(_transpose)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
