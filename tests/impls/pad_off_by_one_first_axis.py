"""Planted: the pads before on the first spatial axis are one less than the spec's (an off-by-one
pad: every window reads one row lower on H)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402


def _shifted(spec):
    befores = [b for b, _ in spec.pads]
    befores[0] -= 1
    return planted.altered(spec, befores=befores)


_impl = planted.with_spec(_shifted)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
