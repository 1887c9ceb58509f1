"""The ``--impl FILE.py`` backend: a user's own convolution code.

The file is imported as ``python FILE.py`` would run it, with its own folder first on
``sys.path`` (so it may import the modules beside it), in the backend's process: in the child
process unless the run is in-process.  Whatever names it ends up with count, however they were
bound (``def``, ``from mylib import *``, ``forward, filter_grad, input_grad = make()``, a
decorator, an object with ``__call__``): ``forward(x, k, spec)``, ``filter_grad(x, g, spec)``,
``input_grad(k, g, spec)``.  Arrays are NumPy float64 (or the file's declared dtype) in the
spec's layouts.  A function the file does not define is reported as skipped; a name bound to
something that is not callable with three arguments is a usage error about the file.

The file may declare what it implements in a module-level table, ``SYMCONV_SUPPORTS``
(``coverage.Coverage``): a case outside it is skipped, not run.  An exception raised by the
file's functions is a failure (status ``error``), except ``NotImplementedError``: the code says
it does not do this case (``unsupported``).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys

import numpy as np

from ..errors import SymconvError
from ..model.quantities import INPUTS
from .base import Backend, Unavailable, UserCode
from .coverage import Coverage


class ImplBackend(UserCode, Backend):
    name = "impl"

    def __init__(self, path: str):
        super().__init__()
        if not isinstance(path, (str, os.PathLike)) or not str(path).endswith(".py"):
            raise SymconvError(f"impl must be a Python file ending in .py, got {path!r}")
        if not os.path.isfile(path):
            raise SymconvError(f"impl file does not exist: {path}")
        self.given = str(path)  # as the user wrote it, for reports
        self.path = os.path.abspath(path)
        self.file = os.path.basename(self.path)
        self.functions = {}
        self._function_files = set()
        self.coverage = Coverage()
        self.manifest_ = None   # what loading found: set by load() here or adopt() from a child
        self._check_syntax()

    def _check_syntax(self) -> None:
        """A file that is not Python is a usage error before anything starts."""
        import ast
        try:
            with open(self.path, encoding="utf-8") as fh:
                ast.parse(fh.read(), filename=self.path)
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError) as err:
            raise SymconvError(f"impl file {self.path} cannot be read as Python: {err}") from None

    @property
    def label(self) -> str:
        return f"impl {self.given}"

    @property
    def user_files(self) -> set:
        return {self.path} | set(self._function_files)

    def describe(self, spec, quantity, path):
        return f"{self.file}:{quantity}"

    def skip_reason(self, spec, quantity, path):
        if self.manifest_ is None:   # it failed to load: every call says so
            return None
        if quantity not in self.manifest_["defined"]:
            return f"{self.file} does not define {quantity}({', '.join(INPUTS[quantity])}, spec)"
        outside = self.coverage.excludes(spec)
        if outside:
            return f"outside what {self.file} declares in SYMCONV_SUPPORTS: {outside}"
        return None

    def load(self):
        folder = os.path.dirname(self.path)
        if folder not in sys.path[:1]:
            sys.path.insert(0, folder)
        name = f"symconv_impl_{abs(hash(self.path))}"
        loader_spec = importlib.util.spec_from_file_location(name, self.path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)   # its exceptions: the file failed to load
        self.functions = found_functions(vars(module), self.given)
        self.coverage = Coverage.from_table(getattr(module, "SYMCONV_SUPPORTS", None), self.file)
        self._function_files = {path for path in map(source_file, self.functions.values()) if path}
        self.manifest_ = self.manifest()

    def manifest(self) -> dict:
        return {"defined": sorted(self.functions), "coverage": self.coverage}

    def adopt(self, manifest: dict) -> None:
        self.manifest_ = manifest
        self.coverage = manifest["coverage"]

    def run(self, spec, quantity, path, tensors):
        function = self.functions.get(quantity)
        if function is None:
            raise Unavailable(f"{self.file} does not define {quantity}")
        dtype = np.dtype(self.coverage.dtypes[0])
        args = [np.array(tensors[name], dtype=dtype) for name in INPUTS[quantity]]
        return self.call_user(function, *args, spec)


def found_functions(namespace: dict, where: str) -> dict:
    """The quantities' functions among ``namespace``'s names: each callable with (a, b, spec);
    a name bound to anything else is a usage error about ``where``."""
    found = {}
    for quantity, inputs in INPUTS.items():
        if quantity not in namespace:
            continue
        function = namespace[quantity]
        if function is None:
            continue
        if not callable(function):
            raise SymconvError(f"{where}: {quantity} must be a function {quantity}({', '.join(inputs)}, spec), "
                               f"got {type(function).__name__}")
        require_signature(function, quantity, where)
        found[quantity] = function
    return found


def require_signature(function, quantity: str, where: str) -> None:
    """A usage error unless ``function`` can be called with the three arguments symconv passes."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):   # a built-in without a signature: the call itself will tell
        return
    try:
        signature.bind(None, None, None)
    except TypeError:
        inputs = ", ".join(INPUTS[quantity])
        raise SymconvError(f"{where}: {quantity}{signature} cannot be called as {quantity}({inputs}, spec): it must "
                           f"take three arguments") from None


def source_file(function) -> str | None:
    try:
        return os.path.abspath(inspect.getfile(inspect.unwrap(getattr(function, "func", function))))
    except TypeError:  # a built-in, or an object without a source file
        try:
            return os.path.abspath(inspect.getfile(type(function)))
        except TypeError:
            return None
