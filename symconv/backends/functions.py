"""Python functions as a backend: what ``symconv.check_functions`` and the pytest plugin run.

The functions take and return NumPy float64 arrays in the spec's layouts, as an ``--impl``
file's do: ``forward(x, k, spec)``, ``filter_grad(x, g, spec)``, ``input_grad(k, g, spec)``.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import SymconvError
from ..quantities import INPUTS
from .base import Backend


class FunctionsBackend(Backend):
    name = "python"
    framework_modules = ()  # the implementation is the functions' files and their neighbours: see owns_frame

    def __init__(self, functions: dict):
        super().__init__()
        unknown = sorted(set(functions) - set(INPUTS))
        if unknown:
            raise SymconvError(f"functions must be named forward, filter_grad or input_grad, got {unknown}")
        for quantity, function in functions.items():
            if function is not None and not callable(function):
                raise SymconvError(f"{quantity} must be callable, got {type(function).__name__}")
        self.functions = {q: f for q, f in functions.items() if f is not None}
        # The files that define the functions, and the files beside them, are the user's code.
        self.folders = {os.path.dirname(path) for path in map(_source_file, self.functions.values()) if path}

    def owns_frame(self, module, filename):
        return os.path.dirname(os.path.abspath(filename)) in self.folders

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


def _source_file(function) -> str | None:
    import inspect
    try:
        return os.path.abspath(inspect.getfile(inspect.unwrap(getattr(function, "func", function))))
    except TypeError:  # a built-in, or an object without a source file
        return None


def _name(function) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
