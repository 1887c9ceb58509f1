"""The forward computes a true convolution (kernel flipped) instead of a cross-correlation."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import naive  # noqa: E402


def flip(spec, a):
    return (spec.kernel_shape[0] - 1 - a[0], spec.kernel_shape[1] - 1 - a[1])


def forward(x, k, spec):
    y = naive.forward(x, k[::-1, ::-1], spec)  # the same as reading k[flip(a)] at tap a
    return y


def filter_grad(x, g, spec):
    return naive.filter_grad(x, g, spec)


def input_grad(k, g, spec):
    return naive.input_grad(k, g, spec)
