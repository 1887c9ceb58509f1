"""The ``--impl FILE.py`` backend: a user's own convolution code.

The file defines any of ``forward(x, k, spec)``, ``filter_grad(x, g, spec)`` and
``input_grad(k, g, spec)``.  Arrays are NumPy float64 in the spec's layouts; ``spec`` is the
ConvSpec (``op``, ``input_shape``, ``kernel_shape``, ``strides``, ``dilations``, ``padding``
as given, ``data_format``, ``groups``, and the derived ``pads``, ``x_shape``, ``k_shape``,
``y_shape``).  A function the file does not define is reported as skipped.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from ..errors import SymconvError
from ..quantities import INPUTS
from .base import Backend, Unavailable


class ImplBackend(Backend):
    name = "impl"
    framework_modules = ()  # the implementation is the user's file and its neighbours: see owns_frame

    def __init__(self, path: str):
        super().__init__()
        if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".py"):
            raise SymconvError(f"impl must be a Python file ending in .py, got {path!r}")
        if not os.path.isfile(path):
            raise SymconvError(f"impl file does not exist: {path}")
        self.given = str(path)  # as the user wrote it, for reports
        self.path = os.path.abspath(path)
        self.module = None
        self.defined = self._scan()

    def _scan(self) -> set:
        """Which of the three functions the file defines, read without running it."""
        import ast
        try:
            with open(self.path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), filename=self.path)
        except (SyntaxError, UnicodeDecodeError, OSError) as err:
            raise SymconvError(f"impl file {self.path} cannot be read as Python: {err}") from None
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        names |= {t.id for node in tree.body if isinstance(node, ast.Assign)
                  for t in node.targets if isinstance(t, ast.Name)}
        names |= {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                  for alias in node.names}
        return names & set(INPUTS)

    @property
    def label(self) -> str:
        return f"impl {self.given}"

    def owns_frame(self, module, filename):
        """The user's file and the files beside it (its own helpers) are the implementation."""
        return os.path.dirname(os.path.abspath(filename)) == os.path.dirname(self.path)

    def describe(self, spec, quantity, path):
        return f"{os.path.basename(self.path)}:{quantity}"

    def skip_reason(self, spec, quantity, path):
        if quantity not in self.defined:
            return f"{os.path.basename(self.path)} does not define {quantity}({', '.join(INPUTS[quantity])}, spec)"
        return None

    def load(self):
        name = f"symconv_impl_{abs(hash(self.path))}"
        loader_spec = importlib.util.spec_from_file_location(name, self.path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
        self.module = module

    def run(self, spec, quantity, path, tensors):
        function = getattr(self.module, quantity, None)
        if not callable(function):
            raise Unavailable(f"{os.path.basename(self.path)} does not define {quantity}")
        args = [np.array(tensors[name], dtype=np.float64) for name in INPUTS[quantity]]
        return function(*args, spec)
