"""``which``: the exact answer to "which pixels does this entry multiply?"."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import sympy

from . import notebook, plot, render, symbolic, term_text
from .errors import SymconvError, shown
from .indexmap import Terms, maps_for
from .spec import TENSOR_OF, ConvSpec, check_empty, entry_name, parse_entry

if TYPE_CHECKING:
    from .reverse import Readers

# A bare tensor (every entry) is answered only up to this many entries, counted before anything
# is listed; beyond this many products in all, each entry is shown by its closed form and count.
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
    """One entry: its closed form first, then its terms (from the index maps).

    An entry with more than ``symbolic.EXPLICIT_TERM_LIMIT`` terms, or one of a tensor answer
    with too many products in all to list (``compact``), is shown by its closed form and its
    exact ``term_count``; ``terms`` still lists an entry up to the explicit limit.
    Text, LaTeX and JSON of the explicit sum are written from the integer term list
    (``symconv.term_text``), never through SymPy arithmetic; ``expression`` builds the SymPy
    sum on demand.
    """

    spec: ConvSpec
    quantity: str
    index: tuple
    compact: bool = False

    @property
    def entry(self) -> str:
        return entry_name(self.quantity, self.index)

    @property
    def tensor(self) -> str:
        return TENSOR_OF[self.quantity]

    @cached_property
    def term_count(self) -> int:
        return maps_for(self.spec).count(self.quantity, self.index)

    @property
    def listed(self) -> bool:
        """Whether text and JSON list the terms (else the closed form and the count)."""
        return not self.compact and self.term_count <= symbolic.EXPLICIT_TERM_LIMIT

    @cached_property
    def terms(self) -> Terms | None:
        if self.term_count > symbolic.EXPLICIT_TERM_LIMIT:
            return None
        return maps_for(self.spec).terms(self.quantity, self.index)

    @cached_property
    def expression(self) -> sympy.Expr:
        """The explicit sum of products (SymPy), or the closed form for an entry too large to list."""
        return symbolic.terms_expression(self.terms) if self.terms is not None else self.closed_form

    @cached_property
    def closed_form(self) -> sympy.Expr:
        return symbolic.closed_form(self.spec, self.quantity, self.index)

    @cached_property
    def closed_text(self) -> str:
        return _printed(self.closed_form)

    @property
    def summed(self) -> bool:
        """Whether the closed form is a sum over ranges (more than one term)."""
        return isinstance(self.closed_form, sympy.Sum)

    @property
    def equation(self) -> sympy.Eq:
        lhs = symbolic.entry(TENSOR_OF[self.quantity], self.index)
        return sympy.Eq(lhs, self.expression, evaluate=False)

    def to_json(self) -> dict:
        listed = self.listed
        return {"entry": self.entry,
                "expression": term_text.sympy_text(self.terms) if listed else self.closed_text,
                "closed_form": self.closed_text,
                "latex": term_text.latex(self.terms) if listed else sympy.latex(self.closed_form, order="none"),
                "terms": self.terms.as_json() if listed else None, "term_count": self.term_count,
                "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape)}

    def text(self, grids: bool = True) -> str:
        if self.compact:
            return f"{self.entry} = {self.closed_text}  ({self.term_count} term{'s' if self.term_count != 1 else ''})"
        if not self.listed:
            return (f"{self.entry} = {self.closed_text}\n  ({self.term_count} terms: "
                    f"too many to list one by one)")
        listing = term_text.compact(self.terms, TEXT_TERMS)
        lines = [f"{self.entry} = {self.closed_text}", f"  = {listing}"] if self.summed else \
            [f"{self.entry} = {listing}"]
        if not len(self.terms):
            lines.append("  (every tap of this entry falls into padding)")
        if grids and len(self.terms):
            tensor, column = self.drawn()
            drawn = render.grid(self.spec, tensor, column)
            if drawn:
                lines.append(f"  {tensor} entries used (#):")
                lines.extend(drawn)
        return "\n".join(lines)

    def drawn(self) -> tuple:
        """(tensor, index rows) that a grid or a picture draws: the x entries the terms read,
        or the g entries for dx."""
        one, _ = self.terms.factors
        if self.quantity == "input_grad":
            return "g", self.terms.first
        return "x", self.terms.first if one == "x" else self.terms.second

    def __repr__(self):
        return self.text()

    def _repr_latex_(self):
        return notebook.answer_latex(self)

    def _repr_html_(self):
        return notebook.answer_html(self)

    def plot(self, path=None):
        """A picture of the pixels this entry reads (matplotlib; ``path``: also write a PNG)."""
        return plot.answer_picture(self, path)


@dataclass
class TensorAnswer:
    """Every entry of y, dk or dx; ``compact``: too many products in all to list, so each entry
    is shown by its closed form and its count."""

    spec: ConvSpec
    quantity: str
    answers: list
    compact: bool = False

    @property
    def tensor(self) -> str:
        return TENSOR_OF[self.quantity]

    def to_json(self) -> dict:
        return {"tensor": TENSOR_OF[self.quantity], "entries": [a.to_json() for a in self.answers],
                "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape)}

    def text(self) -> str:
        lines = [a.text(grids=False) for a in self.answers]
        if self.compact:
            total = sum(a.term_count for a in self.answers)
            lines.insert(0, f"every entry of {self.tensor} ({len(self.answers)} entries, {total} products in all, "
                            f"more than the {BARE_TERM_LIMIT} listed one by one) by its closed form; "
                            f"--entry '{self.tensor}[...]' lists one entry's terms")
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_latex_(self):
        return notebook.tensor_latex(self)

    def _repr_html_(self):
        return notebook.tensor_html(self)

    def plot(self, path=None):
        """Pictures of the first entries' reads, side by side (matplotlib)."""
        return plot.answers_picture(self.answers, path)


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


def which(spec: ConvSpec | str, entry: str | None = None, *, reads: str | None = None,
          **spec_fields) -> Answer | TensorAnswer | Readers:
    """Which entries does ``entry`` (``'y[...]'``, ``'dk[...]'``, ``'dx[...]'`` or a bare
    ``'y'``/``'dk'``/``'dx'``) multiply?  With ``reads='x[...]'`` (or ``'k[...]'``, ``'g[...]'``)
    the reverse: which entries of y, dk and dx read that entry (``symconv.reverse``).
    ``spec`` is a ConvSpec or an op name plus fields.

    >>> a = which("conv2d", "dk[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...           padding="SAME")
    >>> a.expression
    g[0, 0, 0, 0]*x[0, 0, 0, 0]
    >>> which("conv2d", "y[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...       padding="SAME", convention="legacy_eigen").terms.pairs()
    [(1, (0, 1, 1, 0), (0, 0, 0, 0))]
    >>> which("conv2d", "dk[0,0,0,0]", input="1x4096x4096x1", kernel="1x1x1x1").term_count
    16777216
    >>> which("conv2d", reads="x[0,1,1,0]", input="1x3x3x1", kernel="3x3x1x1", padding="SAME").counts()
    {'forward': 9, 'filter_grad': 9}
    """
    spec = as_spec(spec, spec_fields)
    if reads is not None:
        if entry is not None:
            raise SymconvError(f"give an entry or reads=, not both: got entry {shown(entry)} and reads {shown(reads)}")
        from .reverse import readers
        return readers(spec, reads)
    if entry is None:
        raise SymconvError("which needs an entry (e.g. 'y[0,0,0,0]', 'dk[0,0,0,0]', a bare 'dx') or reads= "
                           "(e.g. reads='x[0,0,0,0]')")
    quantity, index = parse_entry(spec, entry)
    maps = maps_for(spec)
    if index is not None:
        maps.count(quantity, index)  # validates the request now, not when first printed
        return Answer(spec, quantity, index)
    shape = spec.shape_of(TENSOR_OF[quantity])
    check_empty(spec)
    entries = math.prod(shape)
    if entries > BARE_ENTRY_LIMIT:
        raise SymconvError(
            f"{TENSOR_OF[quantity]} has {entries} entries, more than the {BARE_ENTRY_LIMIT} listed one by one: "
            f"ask for one entry, e.g. --entry '{TENSOR_OF[quantity]}[{','.join('0' * len(shape))}]'")
    compact = maps.product_count() > BARE_TERM_LIMIT
    return TensorAnswer(spec, quantity, [Answer(spec, quantity, idx, compact) for idx in render.all_indices(shape)],
                        compact)
