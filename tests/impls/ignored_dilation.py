"""Planted: the dilation is ignored (taken as 1) while the pads stay the spec's."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402


def _undilated(spec):
    return planted.altered(spec, dilations=[1] * len(spec.dilations))


_impl = planted.with_spec(_undilated)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
