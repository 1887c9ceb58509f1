"""Planted: SAME resolved by TensorFlow 1.x's Eigen rule (unclamped, legacy_eigen) everywhere."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402

from symconv import ConvSpec  # noqa: E402


def _legacy(spec):
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=spec.strides, dilations=spec.dilations,
                    padding="SAME", convention="legacy_eigen", data_format=spec.data_format, groups=spec.groups)


_impl = planted.with_spec(_legacy)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
