"""Planted: the pads before on the last spatial axis are one more than the spec's (every window
reads one column further left on W)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import planted  # noqa: E402


def _shifted(spec):
    befores = [b for b, _ in spec.pads]
    befores[-1] += 1
    return planted.altered(spec, befores=befores)


_impl = planted.with_spec(_shifted)
forward = _impl.forward
filter_grad = _impl.filter_grad
input_grad = _impl.input_grad
