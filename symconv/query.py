"""``which``: the exact answer to "which pixels does this entry multiply?"."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from functools import cached_property

import sympy

from . import render, symbolic
from .errors import SymconvError, shown
from .indexmap import Terms, maps_for
from .quantities import TENSOR_OF
from .spec import ConvSpec, entry_name, parse_entry, require_nonempty

# A bare tensor (every entry) is answered only up to this many products in all, and this many
# entries: both are counted before anything is listed.
BARE_TERM_LIMIT = 20_000
BARE_ENTRY_LIMIT = 1_000
# Spec fields by keyword (ConvSpec's own names and the short ones the CLI uses).
SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(ConvSpec) if f.name != "op")
SHORT_FIELDS = {"input": "input_shape", "kernel": "kernel_shape", "output_shape": "output_shape_request"}
# Text output lists at most this many terms of one entry.
TEXT_TERMS = 12


def _printed(expr) -> str:
    return sympy.sstr(expr, order="none")


@dataclass
class Answer:
    """One entry: its terms (from the index maps), explicit expression and closed form.

    Entries with more than ``symbolic.EXPLICIT_TERM_LIMIT`` terms are described by their
    closed form alone (``terms`` is None, ``term_count`` still exact).
    """

    spec: ConvSpec
    quantity: str
    index: tuple

    @property
    def entry(self) -> str:
        return entry_name(self.quantity, self.index)

    @cached_property
    def term_count(self) -> int:
        return maps_for(self.spec).count(self.quantity, self.index)

    @property
    def listed(self) -> bool:
        return self.term_count <= symbolic.EXPLICIT_TERM_LIMIT

    @cached_property
    def terms(self) -> Terms | None:
        return maps_for(self.spec).terms(self.quantity, self.index) if self.listed else None

    @cached_property
    def expression(self) -> sympy.Expr:
        """The explicit sum of products, or the closed form for an entry too large to list."""
        return symbolic.terms_expression(self.terms) if self.listed else self.closed_form

    @cached_property
    def closed_form(self) -> sympy.Expr:
        return symbolic.closed_form(self.spec, self.quantity, self.index)

    @property
    def equation(self) -> sympy.Eq:
        lhs = symbolic.entry(TENSOR_OF[self.quantity], self.index)
        return sympy.Eq(lhs, self.expression, evaluate=False)

    def to_json(self) -> dict:
        return {"entry": self.entry, "expression": _printed(self.expression),
                "closed_form": _printed(self.closed_form),
                "latex": sympy.latex(self.expression, order="none"),
                "terms": self.terms.as_json() if self.listed else None, "term_count": self.term_count,
                "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape)}

    def text(self, grids: bool = True) -> str:
        if not self.listed:
            return (f"{self.entry} = {_printed(self.closed_form)}\n  ({self.term_count} terms: "
                    f"too many to list one by one)")
        one, two = self.terms.factors
        pairs = self.terms.pairs()
        shown = [f"{render.index_text(one, f)}*{render.index_text(two, s)}" for _, f, s in pairs[:TEXT_TERMS]]
        body = " + ".join(shown) if shown else "0"
        if len(pairs) > TEXT_TERMS:
            body += f" + ... ({len(pairs)} terms)"
        lines = [f"{self.entry} = {body}"]
        if len(pairs) > TEXT_TERMS or self.closed_form.has(sympy.Sum):
            lines.append(f"  closed form: {_printed(self.closed_form)}")
        if not pairs:
            lines.append("  (every tap of this entry falls into padding)")
        if grids and pairs:
            tensor, column = ("g", self.terms.first) if self.quantity == "input_grad" else \
                ("x", self.terms.first if one == "x" else self.terms.second)
            drawn = render.grid(self.spec, tensor, column)
            if drawn:
                lines.append(f"  {tensor} entries used (#):")
                lines.extend(drawn)
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_latex_(self):
        return f"$\\displaystyle {sympy.latex(self.equation, order='none')}$"


@dataclass
class TensorAnswer:
    """Every entry of y, dk or dx."""

    spec: ConvSpec
    quantity: str
    answers: list

    def to_json(self) -> dict:
        return {"tensor": TENSOR_OF[self.quantity], "entries": [a.to_json() for a in self.answers],
                "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape)}

    def text(self) -> str:
        return "\n".join(a.text(grids=False) for a in self.answers)

    def __repr__(self):
        return self.text()

    def _repr_latex_(self):
        rows = " \\\\ ".join(sympy.latex(a.equation, order="none") for a in self.answers)
        return f"$\\begin{{aligned}} {rows} \\end{{aligned}}$"


def as_spec(spec, kwargs) -> ConvSpec:
    """A ConvSpec as given, or one built from an op name and spec fields (input=, kernel=, ...)."""
    if isinstance(spec, ConvSpec):
        if kwargs:
            raise SymconvError(f"give either a ConvSpec or spec fields, not both: {sorted(kwargs)}")
        return spec
    if not isinstance(spec, str):
        raise SymconvError(f"spec must be a ConvSpec or an op name such as 'conv2d', got {type(spec).__name__} "
                           f"{shown(spec)}")
    fields = {}
    for name, value in kwargs.items():
        full = SHORT_FIELDS.get(name, name)
        if full not in SPEC_FIELDS:
            close = difflib.get_close_matches(name, [*SHORT_FIELDS, *SPEC_FIELDS], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SymconvError(f"unknown spec field {shown(name)}{hint}: the fields are input, kernel, strides, "
                               f"dilations, padding, convention, data_format, groups and output_shape")
        if full in fields:
            raise SymconvError(f"spec field {full} is given twice")
        fields[full] = value
    missing = [short for short in ("input", "kernel") if SHORT_FIELDS[short] not in fields]
    if missing:
        raise SymconvError(f"{shown(spec)} needs {' and '.join(m + '=' for m in missing)} (shapes such as "
                           f"input='1x3x3x1', kernel='3x3x1x8'), or pass a ConvSpec")
    return ConvSpec(spec, **fields)


def which(spec, entry: str, **spec_fields):
    """Which entries does ``entry`` (``'y[...]'``, ``'dk[...]'``, ``'dx[...]'`` or a bare
    ``'y'``/``'dk'``/``'dx'``) multiply?  ``spec`` is a ConvSpec or an op name plus fields.

    >>> a = which("conv2d", "dk[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...           padding="SAME")
    >>> a.expression
    g[0, 0, 0, 0]*x[0, 0, 0, 0]
    >>> which("conv2d", "y[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...       padding="SAME", convention="legacy_eigen").terms.pairs()
    [(1, (0, 1, 1, 0), (0, 0, 0, 0))]
    >>> which("conv2d", "dk[0,0,0,0]", input="1x4096x4096x1", kernel="1x1x1x1").term_count
    16777216
    """
    spec = as_spec(spec, spec_fields)
    quantity, index = parse_entry(spec, entry)
    maps = maps_for(spec)
    if index is not None:
        maps.count(quantity, index)  # validates the request now, not when first printed
        return Answer(spec, quantity, index)
    shape = spec.shape_of(TENSOR_OF[quantity])
    require_nonempty(spec)
    entries = math.prod(shape)
    if entries > BARE_ENTRY_LIMIT:
        raise SymconvError(
            f"{TENSOR_OF[quantity]} has {entries} entries, more than the {BARE_ENTRY_LIMIT} listed one by one: "
            f"ask for one entry, e.g. --entry '{TENSOR_OF[quantity]}[{','.join('0' * len(shape))}]'")
    total = maps.product_count()
    if total > BARE_TERM_LIMIT:
        raise SymconvError(
            f"every entry of {TENSOR_OF[quantity]} holds {total} products in all, more than {BARE_TERM_LIMIT}: "
            f"ask for one entry, e.g. --entry '{TENSOR_OF[quantity]}[{','.join('0' * len(shape))}]'")
    return TensorAnswer(spec, quantity, [Answer(spec, quantity, idx) for idx in render.all_indices(shape)])
