"""How result objects show themselves: as text in a REPL, as HTML and LaTeX in a notebook, as a
picture.

Result types (answers, reports, claims, facts, derivations, closed forms) are data.  Their
renderings are written in rendering modules (``symconv.show.proof_text`` for text,
``symconv.show.notebook`` for HTML and LaTeX tables, ``symconv.latex`` for LaTeX mathematics,
``symconv.show.plot`` for pictures) and registered here with ``renders``, one per kind and type.
The data modules never import a rendering module: the first time an object is shown in a kind,
the modules named for that kind in ``RENDERING_MODULES`` are imported by name, and they register
what they render.  ``Rendered`` gives a result its notebook and picture faces from them.
"""

from __future__ import annotations

import importlib

RENDERING_MODULES = {"text": ("symconv.show.proof_text",), "latex": ("symconv.latex", "symconv.show.notebook"),
                     "html": ("symconv.show.notebook", "symconv.network.notebook"),
                     "picture": ("symconv.show.plot", "symconv.show.report_pictures", "symconv.network.picture")}

_RENDERERS: dict = {}
_loaded: set = set()


def renders(kind: str, *types):
    """Register the decorated function as the ``kind`` ('text' or 'latex') rendering of
    ``types``."""
    def wrap(function):
        for cls in types:
            _RENDERERS[(kind, cls)] = function
        return function
    return wrap


def _lookup(kind: str, obj):
    for cls in type(obj).__mro__:
        if (kind, cls) in _RENDERERS:
            return _RENDERERS[(kind, cls)]
    return None


def _registered(kind: str, obj):
    """The rendering registered for ``obj``: the modules named for ``kind`` are imported in their
    order, each only when the ones before it render nothing for ``obj`` (a network's answer loads
    the network's renderings; a layer's answer does not)."""
    found = _lookup(kind, obj)
    for name in RENDERING_MODULES.get(kind, ()):
        if found is not None:
            break
        if name not in _loaded:
            _loaded.add(name)
            importlib.import_module(name)
            found = _lookup(kind, obj)
    return found


def renderer(kind: str, obj):
    """The registered ``kind`` rendering of ``obj``'s type (or of its nearest base)."""
    function = _registered(kind, obj)
    if function is None:
        raise TypeError(f"no {kind} rendering is registered for {type(obj).__name__}")
    return function


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


class Rendered:
    """A result whose notebook faces and picture are the renderings registered for its type:
    ``_repr_html_``, ``_repr_latex_`` (None where it has no LaTeX rendering, as Jupyter
    expects), and ``plot(path=None)``, a ``symconv.show.plot.Picture`` (written to ``path`` when
    given)."""

    def _repr_html_(self) -> str:
        return show("html", self)

    def _repr_latex_(self) -> str | None:
        function = _registered("latex", self)
        return None if function is None else function(self)

    def plot(self, path=None):
        from .errors import SymconvError
        function = _registered("picture", self)
        if function is None:
            raise SymconvError(f"{type(self).__name__} results have no picture")
        return function(self, path=path)
