"""Backends: the real implementations that ``check``, ``infer`` and ``explain`` run.

Stage: above ``model``; imports only the foundation and ``model`` (never ``probing``,
``checks`` or anything above: they drive backends, not the other way round).

A registry of names to backend classes, imported on first use: ``import symconv.backends``
imports no ML framework.  A backend turns one *call* (a spec, a quantity, a path and the input
arrays) into one output array; a runner executes calls in this process or in a child process
(for settings a framework reads at import time, and so that a crash stays a reported error).

>>> sorted(BACKENDS)
['jax', 'keras', 'litert', 'numpy', 'onnxruntime', 'openvino', 'tf', 'tf-xla', 'torch']
>>> Variant(onednn=False, threads=1).describe()
'cpu, oneDNN off, 1 intra-op thread'

A third party adds a backend with ``register_backend`` (see its docstring).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from typing import NamedTuple

from ..errors import SymconvError, shown
from .variants import (
    THREADS,
    Variant,
    VariantOption,
    add_variant_arguments,
    forget_options,
    parse_switch,
    variant_environment,
    variant_from_args,
)

__all__ = ["BACKENDS", "GRAD_PATHS", "THREADS", "Variant", "VariantOption", "add_variant_arguments", "create",
           "open_runner", "parse_switch", "register_backend", "require_framework", "variant_environment",
           "variant_from_args"]


class Registered(NamedTuple):
    """A registry entry: the class (or ``'module:Class'``, imported on first use), the
    top-level modules it needs, and how to install them."""

    target: object
    frameworks: tuple
    install_hint: str


BACKENDS: dict[str, Registered] = {}

GRAD_PATHS = ("raw", "tape", "both")


def register_backend(name: str, module_or_class, framework=None, install_hint: str | None = None) -> None:
    """Add a backend under ``name``, so that ``check(spec, name)``, ``--backend name`` and
    the runners can use it.

    ``module_or_class`` is a ``symconv.backends.base.Backend`` subclass or the string
    ``'package.module:ClassName'`` (imported on first use; the module must import without its
    framework, which the class imports in ``load``).  ``framework`` names the top-level
    module(s) it needs (checked with ``importlib.util.find_spec`` before it is created) and
    ``install_hint`` what to run when one is missing.

    The class sets ``name``; implements ``describe(spec, quantity, path)`` and ``run(spec,
    quantity, path, tensors) -> array`` (arrays in the spec's layouts, as ``--impl`` files take
    them), and optionally ``paths``, ``skip_reason`` and ``load``; declares
    ``framework_modules`` (the modules whose exceptions are the framework refusing a case),
    ``variant_options`` (``VariantOption``s it honours, ``THREADS`` among them if it does) and
    ``child_environment`` (constant environment variables for its child process).  A backend
    used in a child process must be importable there (defined at a module's top level).
    What can be checked of the class is checked here (or, given by its import path, when first
    imported); what its methods raise or return of the wrong type later is one SymconvError
    naming the backend and the method (``symconv.backends.guard``).

    >>> from symconv.backends.numpy_backend import NumpyBackend
    >>> class Mine(NumpyBackend):
    ...     name = "mine"
    >>> register_backend("mine", Mine)
    >>> create("mine").describe(None, "forward", "op")
    'symconv.reference.forward (NumPy loops, float64)'
    >>> del BACKENDS["mine"]
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][\w.-]*", name):
        raise SymconvError(f"backend name must be a word like 'mine' or 'my-backend', got {name!r}")
    if isinstance(module_or_class, str):
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", module_or_class):
            raise SymconvError(f"backend class must be a Backend subclass or 'package.module:ClassName', "
                               f"got {module_or_class!r}")
    else:
        _require_backend_class(name, module_or_class)
    frameworks = (framework,) if isinstance(framework, str) else tuple(framework or ())
    if not all(isinstance(f, str) and f for f in frameworks):
        raise SymconvError(f"framework must be a module name or a list of them, got {framework!r}")
    if name in BACKENDS and BACKENDS[name].target != module_or_class:
        raise SymconvError(f"backend {name!r} is already registered (as {BACKENDS[name].target!r})")
    hint = install_hint or (f"pip install {' '.join(frameworks)}" if frameworks else "")
    BACKENDS[name] = Registered(module_or_class, frameworks, hint)
    forget_options()


register_backend("numpy", "symconv.backends.numpy_backend:NumpyBackend")
register_backend("tf", "symconv.backends.tf_backend:TFBackend", "tensorflow",
                 "pip install 'symconv[tf-cpu]' (or 'symconv[tf]' for a GPU build)")
register_backend("tf-xla", "symconv.backends.tf_backend:XLABackend", "tensorflow",
                 "pip install 'symconv[tf-cpu]' (or 'symconv[tf]' for a GPU build)")
register_backend("keras", "symconv.backends.keras_backend:KerasBackend", "keras",
                 "pip install keras 'symconv[tf-cpu]'")
register_backend("torch", "symconv.backends.torch_backend:TorchBackend", "torch", "pip install 'symconv[torch]'")
register_backend("jax", "symconv.backends.jax_backend:JaxBackend", ("jax", "jaxlib"), "pip install 'symconv[jax]'")
register_backend("onnxruntime", "symconv.backends.onnx_backend:OnnxRuntimeBackend", ("onnxruntime", "onnx"),
                 "pip install 'symconv[onnx]'")
register_backend("litert", "symconv.backends.litert_backend:LiteRTBackend", ("tensorflow", "ai_edge_litert"),
                 "pip install 'symconv[tf-cpu,litert]'")
register_backend("openvino", "symconv.backends.openvino_backend:OpenVINOBackend", ("openvino", "onnx"),
                 "pip install 'symconv[openvino,onnx]'")


# The backends that ship with symconv: their failures are symconv's bugs, never wrapped.
BUILTIN = frozenset(BACKENDS)


def _require_backend_class(name: str, cls) -> None:
    """A third party's class, checked as far as it can be before it runs (``guard.check_class``)."""
    from .base import Backend
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise SymconvError(f"backend class must be a Backend subclass or 'package.module:ClassName', got {cls!r}")
    from .guard import check_class
    check_class(name, cls)


def backend_class(name: str):
    """The class registered under ``name`` (importing its module, never its framework); a
    third party's class registered by its import path is checked when first imported."""
    if not isinstance(name, str) or name not in BACKENDS:
        raise SymconvError(f"backend must be one of {', '.join(sorted(BACKENDS))}, got {shown(name)}")
    target = BACKENDS[name].target
    if not isinstance(target, str):
        return target
    module, _, cls = target.partition(":")
    try:
        found = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as err:
        raise SymconvError(f"backend {name!r} is registered as {target!r}, which cannot be imported: {err}") from None
    except Exception as err:  # the module itself fails to import
        first = (str(err).strip().splitlines() or [""])[0]
        raise SymconvError(f"backend {name!r} is registered as {target!r}, whose module raised "
                           f"{type(err).__name__} when imported: {first[:300]}") from None
    if name not in BUILTIN:
        try:
            _require_backend_class(name, found)
        except SymconvError as err:
            raise SymconvError(f"{err} (registered as {target!r})") from None
    return found


def missing_framework(name: str) -> str | None:
    """The first framework module backend ``name`` needs that is not installed (None: all
    are), checked without importing it."""
    return next((f for f in BACKENDS[name].frameworks if importlib.util.find_spec(f) is None), None)


def require_framework(name: str) -> None:
    """Raise a one-line SymconvError naming the extra to install when a backend's framework
    is missing (checked without importing it)."""
    missing = missing_framework(name)
    if missing:
        raise SymconvError(f"backend {name!r} needs {missing}, which is not installed: {BACKENDS[name].install_hint}")


def create(name: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
           grad_path: str = "raw"):
    """A backend object (no framework imported yet): a registered ``name`` or a user's
    ``impl`` file.  ``grad_path`` picks the gradients' route: the framework's raw backward
    ops, its automatic differentiation (``tape``: tf.GradientTape, torch.autograd) or both
    (frameworks that have both)."""
    if variant is None:
        variant = Variant()
    elif not isinstance(variant, Variant):
        raise SymconvError(f"variant must be a symconv.backends.Variant (e.g. Variant('cpu', threads=1)), "
                           f"got {shown(variant)}")
    if not isinstance(grad_path, str) or grad_path not in GRAD_PATHS:
        raise SymconvError(f"grad path must be one of {', '.join(GRAD_PATHS)}, got {shown(grad_path)}")
    if (name is None) == (impl is None):
        raise SymconvError(f"give exactly one of a backend ({', '.join(sorted(BACKENDS))}) or an impl file")
    if name is not None and not isinstance(name, str):
        raise SymconvError(f"backend must be one of {', '.join(sorted(BACKENDS))}, got {shown(name)}")
    if impl is not None:
        if variant.device != "cpu" or variant.options:
            raise SymconvError(f"an impl file runs as it is written: --device and variant options do not apply to it, "
                               f"got {variant.describe()}")
        from .impl import ImplBackend
        return ImplBackend(impl)
    if name in BUILTIN:
        backend = backend_class(name)(variant=variant, grad_path=grad_path)  # refuses a variant it cannot run
    else:  # a third party's: what its methods raise or return wrongly is one line naming it
        from .guard import Guarded, construct
        backend = Guarded(name, construct(name, backend_class(name), variant=variant, grad_path=grad_path))
    require_framework(name)
    if name in BUILTIN:
        backend.execution.require()   # what the selected path needs beyond the backend's framework
    return backend


def open_runner(name: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
                grad_path: str = "raw", isolate: bool = False, timeout: float | None = None, worker=None):
    """A runner that executes backend calls: in this process, or (``isolate``, a ``timeout``, a
    variant that sets an option read at start-up, or a shared ``runner.Worker``) in a child
    process that a crash or a hang cannot take down with the caller.  A call in this process
    cannot be stopped when it overruns, so a timeout given always means a child process.  Use it
    as a context manager, or call ``close()``."""
    from ..model.values import timeout_seconds
    from .runner import ChildRunner, LocalRunner
    timeout = timeout_seconds(timeout)
    if not isinstance(isolate, bool) and type(isolate).__name__ != "bool_":  # NumPy's bool too
        raise SymconvError(f"isolate must be True or False, got {shown(isolate)}")
    backend = create(name, impl=impl, variant=variant, grad_path=grad_path)
    if isolate or timeout is not None or worker is not None or backend.variant.needs_child:
        if name is not None and name not in BUILTIN:
            from .guard import importable_in_a_child
            importable_in_a_child(name, backend)
        return ChildRunner(backend, timeout=timeout, worker=worker)
    return LocalRunner(backend)
