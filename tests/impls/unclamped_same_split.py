"""Planted, after an ONNX Runtime report: SAME's total padding ((out-1)*s + k - in per axis) is
split without clamping it at zero, the before side rounded down (Python's //).  Where the stride
is larger than the kernel the total is negative, and every window starts inside the input: at
1x50x22x1 with a 5x6 kernel and strides 10,2 the total on H is -5, split -3 before, -2 after."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402

from symconv import ConvSpec  # noqa: E402


def _unclamped(spec):
    pads = []
    for n, k, s, d in zip(spec.x_shape[1:-1], spec.kernel_shape[:-2], spec.strides, spec.dilations):
        out = -(-n // s)
        total = (out - 1) * s + (k - 1) * d + 1 - n
        pads.append((total // 2, total - total // 2))
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=spec.strides, dilations=spec.dilations,
                    padding=tuple(pads), data_format=spec.data_format, groups=spec.groups)


_impl = planted.with_spec(_unclamped)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
