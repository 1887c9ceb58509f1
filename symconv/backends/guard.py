"""Third-party backends, checked: a broken class is one line naming the backend and the method.

``check_class`` checks what can be checked of a class before it runs (when it is registered,
or first imported when registered by its import path): a name, ``describe`` and ``run``
implemented, its methods callable, and ``variant_options``, ``framework_modules`` and
``child_environment`` of the right types.  ``Guarded`` wraps an instance: what its methods
raise or return of the wrong type becomes a SymconvError (``__init__``, ``paths``,
``describe``, ``skip_reason``, ``label``) or, for ``execute``, an error outcome of that call.
Backends that ship with symconv are not wrapped: their failures are symconv's bugs.
"""

from __future__ import annotations

from ..errors import SymconvError, shorten, shown
from .base import MESSAGE_CHARS, Backend, Outcome

# Attributes a registered class must not break, with what they must be.
METHODS = ("paths", "describe", "skip_reason", "load", "run", "execute", "owns_frame")
REQUIRED = {"describe": "describe(spec, quantity, path)", "run": "run(spec, quantity, path, tensors)"}


def _raised(err: BaseException) -> str:
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {shorten(first, MESSAGE_CHARS)}" if first else type(err).__name__


def check_class(name: str, cls) -> None:
    """Refuse, in one line naming the backend, a class that cannot work as one."""
    where = f"backend {name!r}"
    label = getattr(cls, "__name__", repr(cls))
    own_name = getattr(cls, "name", None)
    if not isinstance(own_name, str) or not own_name.strip() or own_name == Backend.name:
        raise SymconvError(f"{where}: class {label} sets no name (a string such as name = {name!r})")
    for method, signature in REQUIRED.items():
        if getattr(cls, method, None) is getattr(Backend, method):
            raise SymconvError(f"{where}: class {label} does not implement {signature}")
    for method in METHODS:
        value = getattr(cls, method, None)
        if not callable(value):
            raise SymconvError(f"{where}: {label}.{method} must be a method, got {type(value).__name__} "
                               f"{shown(value)}")
    from .variants import VariantOption
    options = getattr(cls, "variant_options", ())
    if not isinstance(options, (tuple, list)) or not all(isinstance(o, VariantOption) for o in options):
        raise SymconvError(f"{where}: {label}.variant_options must be a tuple of VariantOption, got {shown(options)}")
    modules = getattr(cls, "framework_modules", ())
    if not isinstance(modules, (tuple, list)) or not all(isinstance(m, str) and m for m in modules):
        raise SymconvError(f"{where}: {label}.framework_modules must be a tuple of module names, got "
                           f"{shown(modules)}")
    environment = getattr(cls, "child_environment", {})
    if not isinstance(environment, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in environment.items()):
        raise SymconvError(f"{where}: {label}.child_environment must map names to strings, got "
                           f"{shown(environment)}")


def importable_in_a_child(name: str, backend) -> None:
    """Refuse a backend whose class a child process cannot import (a child unpickles it by its
    module and name)."""
    cls = type(getattr(backend, "inner", backend))
    label = cls.__name__
    if "<locals>" in cls.__qualname__:
        raise SymconvError(f"backend {name!r}: class {label} is defined inside a function, which a child process "
                           f"cannot import: define it at the top level of a module (or run it in this process)")
    if cls.__module__ == "__main__":
        raise SymconvError(f"backend {name!r}: class {label} is defined in the script being run (__main__), which a "
                           f"child process cannot import: define it in a module (or run it in this process)")


def construct(name: str, cls, **options):
    """An instance of a registered class; what its ``__init__`` raises is one line."""
    try:
        return cls(**options)
    except SymconvError:
        raise
    except Exception as err:
        raise SymconvError(f"backend {name!r}: {cls.__name__}.__init__ raised {_raised(err)}") from None


class Guarded:
    """A third-party backend whose methods answer in one line when they fail; every other
    attribute (and every method symconv adds to ``Backend`` later) is the backend's own."""

    def __init__(self, registered: str, inner):
        self.registered = registered
        self.inner = inner

    def __getattr__(self, attribute):
        if attribute in ("inner", "registered"):  # not yet set (unpickling)
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def _call(self, method: str, *args):
        try:
            return getattr(self.inner, method)(*args)
        except SymconvError:
            raise
        except Exception as err:
            raise SymconvError(f"{self._where(method)} raised {_raised(err)}") from None

    def _where(self, method: str) -> str:
        return f"backend {self.registered!r}: {type(self.inner).__name__}.{method}"

    @property
    def label(self) -> str:
        try:
            text = self.inner.label
        except Exception as err:
            raise SymconvError(f"{self._where('label')} raised {_raised(err)}") from None
        if not isinstance(text, str):
            raise SymconvError(f"{self._where('label')} must be a string, got {shown(text)}")
        return text

    def paths(self, spec, quantity) -> list:
        paths = self._call("paths", spec, quantity)
        if not isinstance(paths, (list, tuple)) or not paths or not all(isinstance(p, str) for p in paths):
            raise SymconvError(f"{self._where('paths')} must return a non-empty list of path names (strings), "
                               f"got {shown(paths)}")
        return list(paths)

    def describe(self, spec, quantity, path) -> str:
        text = self._call("describe", spec, quantity, path)
        if not isinstance(text, str):
            raise SymconvError(f"{self._where('describe')} must return a string, got {shown(text)}")
        return text

    def skip_reason(self, spec, quantity, path):
        reason = self._call("skip_reason", spec, quantity, path)
        if reason is not None and not isinstance(reason, str):
            raise SymconvError(f"{self._where('skip_reason')} must return None or a string, got {shown(reason)}")
        return reason

    def owns_frame(self, module, filename) -> bool:
        try:
            return bool(self.inner.owns_frame(module, filename))
        except Exception:
            return False

    def execute(self, call) -> Outcome:
        try:
            outcome = self.inner.execute(call)
        except Exception as err:
            return Outcome("error", error_type=type(err).__name__,
                           message=f"{self._where('execute')} raised {_raised(err)}")
        if not isinstance(outcome, Outcome):
            return Outcome("error", error_type="InvalidOutcome",
                           message=f"{self._where('execute')} must return an Outcome, got {shown(outcome, 80)}")
        return outcome
