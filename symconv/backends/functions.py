"""Python functions as a backend: what ``symconv.check_functions`` and the pytest plugin run.

The functions take and return NumPy float64 arrays in the spec's layouts, as an ``--impl``
file's do: ``forward(x, k, spec)``, ``filter_grad(x, g, spec)``, ``input_grad(k, g, spec)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import SymconvError
from .base import INPUTS, Backend


class FunctionsBackend(Backend):
    name = "python"

    def __init__(self, functions: dict):
        super().__init__()
        unknown = sorted(set(functions) - set(INPUTS))
        if unknown:
            raise SymconvError(f"functions must be named forward, filter_grad or input_grad, got {unknown}")
        for quantity, function in functions.items():
            if function is not None and not callable(function):
                raise SymconvError(f"{quantity} must be callable, got {type(function).__name__}")
        self.functions = {q: f for q, f in functions.items() if f is not None}

    @property
    def label(self) -> str:
        return "python " + ", ".join(_name(f) for f in self.functions.values())

    def describe(self, spec, quantity, path):
        return _name(self.functions[quantity]) if quantity in self.functions else quantity

    def skip_reason(self, spec, quantity, path):
        return None if quantity in self.functions else f"no {quantity} function was given"

    def run(self, spec, quantity, path, tensors):
        args = [np.array(tensors[name], dtype=np.float64) for name in INPUTS[quantity]]
        return self.functions[quantity](*args, spec)


def _name(function) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
