"""Planted: the stride of the first spatial axis is ignored (taken as 1); the first window and the
output size stay the spec's."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402


def _unstrided(spec):
    return planted.altered(spec, strides=[1] + list(spec.strides[1:]))


_impl = planted.with_spec(_unstrided)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
