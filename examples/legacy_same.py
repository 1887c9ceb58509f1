"""A convolution that resolves SAME by Eigen's unclamped rule in the forward and in both
gradients, before = trunc(((out-1)*s + (k-1)*d + 1 - in) / 2): consistent with itself, so only
a comparison with the model's padding catches it.

    symconv infer conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --impl examples/legacy_same.py --expect model
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import good_numpy  # noqa: E402
from founding_bug import EigenPads  # noqa: E402


def forward(x, k, spec):
    return good_numpy.forward(x, k, EigenPads(spec))


def filter_grad(x, g, spec):
    return good_numpy.filter_grad(x, g, EigenPads(spec))


def input_grad(k, g, spec):
    return good_numpy.input_grad(k, g, EigenPads(spec))
