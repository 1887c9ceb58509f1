"""Python functions as a backend: what ``symconv.check_functions`` and the pytest plugin run.

The functions take and return NumPy float64 arrays in the spec's layouts, as an ``--impl``
file's do: ``forward(x, k, spec)``, ``filter_grad(x, g, spec)``, ``input_grad(k, g, spec)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import SymconvError
from ..model.quantities import INPUTS
from .base import Backend, UserCode
from .impl import require_signature, source_file


class FunctionsBackend(UserCode, Backend):
    name = "python"

    def __init__(self, functions: dict):
        super().__init__()
        unknown = sorted(set(functions) - set(INPUTS))
        if unknown:
            raise SymconvError(f"functions must be named forward, filter_grad or input_grad, got {unknown}")
        given = {q: f for q, f in functions.items() if f is not None}
        for quantity, function in given.items():
            if not callable(function):
                raise SymconvError(f"{quantity} must be callable, got {type(function).__name__}")
            require_signature(function, quantity, _name(function))
        self.functions = given
        # The files that define the functions are the user's code.
        self.user_files = {path for path in map(source_file, self.functions.values()) if path}

    @property
    def label(self) -> str:
        return "python " + ", ".join(_name(f) for f in self.functions.values())

    def describe(self, spec, quantity, path):
        return _name(self.functions[quantity]) if quantity in self.functions else quantity

    def skip_reason(self, spec, quantity, path):
        return None if quantity in self.functions else f"no {quantity} function was given"

    def run(self, spec, quantity, path, tensors):
        args = [np.array(tensors[name], dtype=np.float64) for name in INPUTS[quantity]]
        return self.call_user(self.functions[quantity], *args, spec)


def _name(function) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
