"""Planted: a transposed convolution that returns its full output, (in - 1) * s + k per axis,
without cropping it to the requested size: with SAME, stride s and an odd kernel that is
(s - 1) rows and columns more than the model's, the extra ones at the end.  The gradients
are right."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402

from symconv import ConvSpec  # noqa: E402


def _full(spec):
    nd = len(spec.x_shape) - 2
    spatial = [(n - 1) * s + (k - 1) * d + 1 for n, k, s, d in
               zip(spec.x_shape[1:-1], spec.kernel_shape[:nd], spec.strides, spec.dilations)]
    request = (spec.y_shape[0], *spatial, spec.y_shape[-1])
    pads = tuple((0, 0) for _ in spatial)
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=spec.strides, dilations=spec.dilations,
                    padding=pads, data_format=spec.data_format, groups=spec.groups, output_shape_request=request)


def forward(x, k, spec):
    return planted.exact(_full(spec), "forward", x=x, k=k)


def filter_grad(x, g, spec):
    return planted.exact(spec, "filter_grad", x=x, g=g)


def input_grad(k, g, spec):
    return planted.exact(spec, "input_grad", k=k, g=g)
