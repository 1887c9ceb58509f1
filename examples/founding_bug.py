"""The 2017 TensorFlow bug as an implementation: the forward resolves SAME with Eigen's
unclamped padding, before = trunc(((out-1)*s + (k-1)*d + 1 - in) / 2), while both gradients
use the clamped rule (spec.pads under the default `tf` convention).  symconv finds it:

    symconv check conv2d --input 1x3x3x1 --kernel 1x1x1x1 --strides 3 --padding SAME --impl examples/founding_bug.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import good_numpy  # noqa: E402


class EigenPads:
    """The spec as the 2017 CPU forward saw it: the same in every way but its pads."""

    def __init__(self, spec):
        self.spec = spec
        self.pads = []
        for size, k, s, d in zip(spec.x_shape[1:3], spec.kernel_shape[:2], spec.strides, spec.dilations):
            out = -(-size // s)
            total = (out - 1) * s + (k - 1) * d + 1 - size
            before = int(total / 2)  # C division truncates toward zero; no clamping
            self.pads.append((before, total - before))

    def __getattr__(self, name):
        return getattr(self.spec, name)


def forward(x, k, spec):
    return good_numpy.forward(x, k, EigenPads(spec))


filter_grad = good_numpy.filter_grad
input_grad = good_numpy.input_grad
