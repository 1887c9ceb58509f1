"""Backends: the real implementations that ``check``, ``infer`` and ``explain`` run.

A registry of names to classes, imported on first use: ``import symconv.backends`` imports no
ML framework.  A backend turns one *call* (a spec, a quantity, a path and the input arrays)
into one output array; a runner executes calls in this process or in a child process (for
settings a framework reads at import time, and so that a crash stays a reported error).

>>> sorted(BACKENDS)
['keras', 'numpy', 'tf', 'tf-xla']
>>> Variant(onednn=False, threads=1).describe()
'cpu, oneDNN off, 1 intra-op thread'
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ..errors import SymconvError, shown

# name -> (module, class, framework module it needs or None)
BACKENDS = {
    "numpy": ("symconv.backends.numpy_backend", "NumpyBackend", None),
    "tf": ("symconv.backends.tf_backend", "TFBackend", "tensorflow"),
    "tf-xla": ("symconv.backends.tf_backend", "XLABackend", "tensorflow"),
    "keras": ("symconv.backends.keras_backend", "KerasBackend", "keras"),
}

INSTALL_HINT = {
    "tensorflow": "pip install 'symconv[tf-cpu]' (or 'symconv[tf]' for a GPU build)",
    "keras": "pip install keras 'symconv[tf-cpu]'",
}

GRAD_PATHS = ("raw", "tape", "both")


@dataclass(frozen=True)
class Variant:
    """Settings a framework backend runs under: device, oneDNN, intra-op threads.

    ``None`` means the framework's own default.  oneDNN and thread settings are read when
    TensorFlow starts, so a variant that sets either runs in a child process.
    """

    device: str = "cpu"
    onednn: bool | None = None
    threads: int | None = None

    def __post_init__(self):
        if self.device not in ("cpu", "gpu"):
            raise SymconvError(f"device must be cpu or gpu, got {self.device!r}")
        if self.onednn not in (None, True, False):
            raise SymconvError(f"onednn must be on, off or unset, got {self.onednn!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise SymconvError(f"threads must be a positive integer, got {self.threads!r}")

    @property
    def needs_child(self) -> bool:
        return self.onednn is not None or self.threads is not None

    def describe(self) -> str:
        onednn = "oneDNN default" if self.onednn is None else f"oneDNN {'on' if self.onednn else 'off'}"
        threads = "default threads" if self.threads is None else \
            f"{self.threads} intra-op thread{'s' if self.threads != 1 else ''}"
        return f"{self.device}, {onednn}, {threads}"

    def as_json(self) -> dict:
        return {"device": self.device,
                "onednn": "default" if self.onednn is None else ("on" if self.onednn else "off"),
                "threads": "default" if self.threads is None else self.threads}


def parse_onednn(value) -> bool | None:
    """``'on'``/``'off'``/``None`` (also True/False) -> True/False/None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "1", "true"):
        return True
    if text in ("off", "0", "false"):
        return False
    if text in ("default", ""):
        return None
    raise SymconvError(f"onednn must be on or off, got {value!r}")


def require_framework(name: str) -> None:
    """Raise a one-line SymconvError naming the extra to install when a backend's framework
    is missing (checked without importing it)."""
    framework = BACKENDS[name][2]
    if framework and importlib.util.find_spec(framework) is None:
        raise SymconvError(f"backend {name!r} needs {framework}, which is not installed: "
                           f"{INSTALL_HINT[framework]}")


def create(name: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
           grad_path: str = "raw"):
    """A backend object (no framework imported yet): a registered ``name`` or a user's
    ``impl`` file.  ``grad_path`` picks the gradients' route: raw backprop ops, GradientTape
    or both (frameworks that have both)."""
    if variant is None:
        variant = Variant()
    elif not isinstance(variant, Variant):
        raise SymconvError(f"variant must be a symconv.backends.Variant (e.g. Variant(device='cpu', onednn=False)), "
                           f"got {shown(variant)}")
    if not isinstance(grad_path, str) or grad_path not in GRAD_PATHS:
        raise SymconvError(f"grad path must be one of {', '.join(GRAD_PATHS)}, got {shown(grad_path)}")
    if (name is None) == (impl is None):
        raise SymconvError(f"give exactly one of a backend ({', '.join(sorted(BACKENDS))}) or an impl file")
    if name is not None and not isinstance(name, str):
        raise SymconvError(f"backend must be one of {', '.join(sorted(BACKENDS))}, got {shown(name)}")
    if impl is not None:
        from .impl import ImplBackend
        return ImplBackend(impl)
    if name not in BACKENDS:
        raise SymconvError(f"backend must be one of {', '.join(sorted(BACKENDS))}, got {name!r}")
    require_framework(name)
    module, cls, _ = BACKENDS[name]
    return getattr(importlib.import_module(module), cls)(variant=variant, grad_path=grad_path)


def open_runner(name: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
                grad_path: str = "raw", isolate: bool = False, timeout: float | None = None, worker=None):
    """A runner that executes backend calls: in this process, or (``isolate``, a variant that
    sets oneDNN or threads, or a shared ``runner.Worker``) in a child process that a crash or
    a hang cannot take down with the caller.  Use it as a context manager, or call ``close()``."""
    from .runner import ChildRunner, LocalRunner
    backend = create(name, impl=impl, variant=variant, grad_path=grad_path)
    if isolate or worker is not None or backend.variant.needs_child:
        return ChildRunner(backend, timeout=timeout, worker=worker)
    return LocalRunner(backend)
