"""Planted: the pads of the spatial axes taken in reverse order (a converter that writes
ONNX's [H_begin, W_begin, H_end, W_end] as if it were per axis pairs, or TFLite's transposed
convolution with its H and W paddings swapped): right where the pads are the same on every
axis, wrong elsewhere.  The gradients are right."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402

from symconv import ConvSpec  # noqa: E402


def _swapped(spec):
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=spec.strides, dilations=spec.dilations,
                    padding=tuple(reversed(spec.pads)), data_format=spec.data_format, groups=spec.groups,
                    output_shape_request=spec.y_shape if spec.transposed else None)


def forward(x, k, spec):
    return planted.exact(_swapped(spec), "forward", x=x, k=k)


def filter_grad(x, g, spec):
    return planted.exact(spec, "filter_grad", x=x, g=g)


def input_grad(k, g, spec):
    return planted.exact(spec, "input_grad", k=k, g=g)
