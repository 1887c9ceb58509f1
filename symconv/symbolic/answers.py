"""The answers of ``which``: one entry (``Answer``) and every entry of a tensor (``TensorAnswer``).

An answer shows its closed form first, then a bounded list of its products, in every
rendering: text here, HTML and LaTeX in ``symconv.show.notebook``, pictures in ``symconv.show.plot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy

from ..display import Rendered
from ..model import notation as render
from ..model.indexmap import Terms, maps_for
from ..model.spec import TENSOR_OF, ConvSpec, entry_name
from . import expressions as symbolic
from . import term_text

# A bare tensor with more products than this in all is shown entry by entry by closed forms.
BARE_TERM_LIMIT = 20_000
# Text output lists at most this many terms of one entry.
TEXT_TERMS = 12


def printed(expr) -> str:
    """SymPy's text of an expression, terms in the order they were built (fast: no sorting)."""
    return sympy.sstr(expr, order="none")


@dataclass
class Answer(Rendered):
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
        return printed(self.closed_form)

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


@dataclass
class TensorAnswer(Rendered):
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

