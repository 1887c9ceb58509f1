"""Execution paths: how a layer reaches a framework's kernels, as data.

A backend is a framework; an *execution path* is one road a convolution takes through it to
production: the op called eagerly, a layer object, a compiled graph (``torch.compile``, XLA, a JAX
``jit``), a graph exported to ONNX, a model converted for a deployment runtime (LiteRT, OpenVINO).
Each path says how the layer is built and run (``kind`` and ``how``), which quantities it can
produce (a deployment runtime runs forward only; a compiled path produces gradients through its
autodiff), which variant options select it, and which framework versions it needs.  Backends
declare their paths (``Backend.execution_paths``); a backend object knows the one its variant
selects (``Backend.execution``), and reports, JSON and the conformance matrix name it.

>>> from symconv.backends import Variant, create
>>> create("torch", variant=Variant(compile="inductor")).execution.name
'torch-compile-inductor'
>>> create("torch").execution.kind
'eager op'
>>> print(describe_paths("onnxruntime"))   # doctest: +ELLIPSIS
onnxruntime-direct  runtime   forward  ...
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field

from ..errors import SymconvError

# How a layer is built and run, from the closest to the framework's own call to the furthest.
KINDS = ("reference", "eager op", "layer object", "compiled", "exported", "converted", "runtime")
ALL_QUANTITIES = ("forward", "filter_grad", "input_grad")
BUILD_SECONDS = 180.0   # what a compiler or converter may take the first time it meets a spec
FORWARD_ONLY = ("forward",)


@dataclass(frozen=True)
class Requirement:
    """A distribution a path needs (``module``: its top-level module, found without importing
    it), at least ``minimum`` (None: any version), installed by ``extra``."""

    distribution: str
    module: str
    minimum: str | None = None
    extra: str = ""

    def problem(self) -> str | None:
        """Why this requirement is not met here, or None."""
        if importlib.util.find_spec(self.module) is None:
            return f"{self.distribution} is not installed"
        if self.minimum is None:
            return None
        found = installed_version(self.distribution)
        if found is not None and version_tuple(found) < version_tuple(self.minimum):
            return f"{self.distribution} >= {self.minimum} is needed, {found} is installed"
        return None

    def text(self) -> str:
        return self.distribution + (f" >= {self.minimum}" if self.minimum else "")


def installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    for name in (distribution, distribution + "-cpu"):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def version_tuple(text: str) -> tuple:
    """'2.13.0+cpu' -> (2, 13, 0): the leading numbers, compared as integers."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:4])


@dataclass(frozen=True)
class ExecutionPath:
    """One road through a framework.  ``selects``: the (option, value) pairs of the variant
    that choose it (empty: the backend's default path); ``quantities``: what it can produce;
    ``gradients``: how (or why not)."""

    name: str
    backend: str
    kind: str
    framework: str
    how: str
    quantities: tuple = ALL_QUANTITIES
    gradients: str = ""
    selects: tuple = ()
    requires: tuple = ()
    build_seconds: float = 0.0   # more seconds a call may take when it builds (compiles, converts) its graph
    notes: tuple = field(default=(), compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SymconvError(f"execution path kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def matches(self, variant) -> int | None:
        """How many of the variant's options select this path (None: the variant asks for
        another path)."""
        if any(variant.get(option) != value for option, value in self.selects):
            return None
        return len(self.selects)

    def problems(self) -> list:
        return [p for p in (r.problem() for r in self.requires) if p]

    def require(self) -> None:
        """A one-line SymconvError naming what to install when a requirement is not met."""
        problems = self.problems()
        if problems:
            extras = sorted({r.extra for r in self.requires if r.extra and r.problem()})
            hint = f": pip install 'symconv[{','.join(extras)}]'" if extras else ""
            raise SymconvError(f"execution path {self.name} needs {'; '.join(problems)}{hint}")

    def produces(self, quantity: str) -> bool:
        return quantity in self.quantities

    def as_json(self) -> dict:
        return {"name": self.name, "backend": self.backend, "kind": self.kind, "framework": self.framework,
                "how": self.how, "quantities": list(self.quantities), "gradients": self.gradients,
                "selects": {option: value for option, value in self.selects},
                "requires": [r.text() for r in self.requires]}

    def text(self) -> str:
        return f"{self.name} ({self.kind})"


def reference_path(name: str) -> ExecutionPath:
    """The path of a backend that declares none (a third party's, an impl file)."""
    return ExecutionPath(name, name, "reference" if name == "numpy" else "eager op", name, f"backend {name}")


def path_for(backend_class, name: str, variant) -> ExecutionPath:
    """The path a variant selects among those a backend class declares: the one whose options
    it matches most specifically; the backend's first path when none is declared."""
    declared = tuple(getattr(backend_class, "execution_paths", ()) or ())
    if not declared:
        return reference_path(name)
    scored = [(path.matches(variant), i, path) for i, path in enumerate(declared)]
    scored = [(score, -i, path) for score, i, path in scored if score is not None]
    if not scored:
        return declared[0]
    return max(scored, key=lambda item: item[:2])[2]


def registered_paths() -> dict:
    """name -> ExecutionPath over every registered backend whose module imports."""
    from .variants import _importable_classes
    out = {}
    for cls in _importable_classes():
        for path in getattr(cls, "execution_paths", ()) or ():
            out.setdefault(path.name, path)
    return out


def paths_of(backend: str) -> list:
    return [path for path in registered_paths().values() if path.backend == backend]


def flags_of(path: ExecutionPath) -> list:
    """The command-line options that select a path (``--compile inductor``)."""
    from .variants import known_options
    known = known_options()
    out = []
    for option, value in path.selects:
        known_option = known.get(option)
        out += [known_option.flag if known_option else f"--{option}",
                known_option.as_text(value) if known_option else str(value)]
    return out


def describe_paths(backend: str | None = None) -> str:
    """A table of the registered paths (of one backend): name, kind, quantities, flags, how."""
    rows = [p for p in registered_paths().values() if backend is None or p.backend == backend]
    lines = []
    for path in rows:
        quantities = "forward" if path.quantities == FORWARD_ONLY else "y, dk, dx"
        flags = " ".join(["--backend", path.backend, *flags_of(path)])
        lines.append(f"{path.name:<19} {path.kind:<9} {quantities:<8} {flags}: {path.how}")
    return "\n".join(lines)


def execution_of(backend: str, variant=None) -> ExecutionPath | None:
    """The path a registered backend takes under a variant (None for a name that is not a
    registered backend: an impl file, Python functions)."""
    from . import BACKENDS, Variant, backend_class
    if not isinstance(backend, str) or backend not in BACKENDS:
        return None
    try:
        cls = backend_class(backend)
    except SymconvError:
        return None
    return path_for(cls, backend, variant if variant is not None else Variant())


def is_default(path: ExecutionPath | None) -> bool:
    """Whether a path is its backend's default road (no option selects it)."""
    return path is None or not path.selects
