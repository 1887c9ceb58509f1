"""The ``numpy`` backend: symconv's loop-based NumPy reference, in float64."""

from __future__ import annotations

import numpy as np

from ..model import reference
from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    framework_modules = ()  # symconv's own reference: anything it raises is a bug in symconv

    def describe(self, spec, quantity, path):
        return f"symconv.reference.{quantity} (NumPy loops, float64)"

    def run(self, spec, quantity, path, tensors):
        as64 = {name: np.asarray(arr, dtype=np.float64) for name, arr in tensors.items()}
        return reference.evaluate(spec, quantity, **as64)
