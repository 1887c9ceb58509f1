"""How result objects show themselves: as text in a REPL, as LaTeX in a notebook.

Result types (claims, facts, derivations, closed forms) are data.  Each has exactly one text
and one LaTeX rendering, written in a rendering module (``symconv.proof_text`` for text,
``symconv.latex`` for LaTeX) and registered here with ``renders``.  The data modules never
import a rendering module: the first time an object is shown, the modules named in
``RENDERING_MODULES`` are imported by name, and they register what they render.
"""

from __future__ import annotations

import importlib

RENDERING_MODULES = ("symconv.proof_text", "symconv.latex")

_RENDERERS: dict = {}
_loaded = False


def renders(kind: str, *types):
    """Register the decorated function as the ``kind`` ('text' or 'latex') rendering of
    ``types``."""
    def wrap(function):
        for cls in types:
            _RENDERERS[(kind, cls)] = function
        return function
    return wrap


def renderer(kind: str, obj):
    """The registered ``kind`` rendering of ``obj``'s type (or of its nearest base)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for name in RENDERING_MODULES:
            importlib.import_module(name)
    for cls in type(obj).__mro__:
        if (kind, cls) in _RENDERERS:
            return _RENDERERS[(kind, cls)]
    raise TypeError(f"no {kind} rendering is registered for {type(obj).__name__}")


def show(kind: str, obj, **options) -> str:
    return renderer(kind, obj)(obj, **options)


class Shown:
    """A result that prints as its text rendering (``text()``, ``repr``)."""

    def text(self, **options) -> str:
        return show("text", self, **options)

    def __repr__(self) -> str:
        return self.text()


class ShownMath(Shown):
    """A result whose LaTeX rendering is mathematics, shown by notebooks."""

    def latex(self) -> str:
        return show("latex", self)

    def _repr_latex_(self) -> str:
        return self.latex()
