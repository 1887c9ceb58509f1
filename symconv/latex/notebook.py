"""LaTeX renderings for notebooks (MathJax): terms, closed forms, derivations, claims, entries."""

from __future__ import annotations

import sympy

from ..display import renders
from ..proof import ClaimResult, Closed, Derivation, DerivationResult, Term
from ..proof.claims_check import terms_text
from .entries import EntryReading, _sympy_sum_pieces
from .printing import entry_tex, lhs_tex, term_tex, terms_tex, tex_escape


def math_block(rows: list[str]) -> str:
    """Rows of ``lhs &= rhs`` as one display for a notebook (MathJax)."""
    return "$$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$$"


@renders("latex", Term)
def term_latex(term: Term) -> str:
    return f"$\\displaystyle {term_tex(term)}$"


@renders("latex", Closed)
def closed_latex(closed: Closed) -> str:
    """A closed form for a notebook."""
    return math_block([f"{entry_tex(closed.lhs)} &= {terms_tex(closed.terms)}"])


@renders("latex", Derivation)
def derivation_latex(deriv: Derivation) -> str:
    """A derivation for a notebook: one aligned row per step, with its title."""
    rows = []
    for step in deriv.steps:
        rows.append(f"{lhs_tex(step.lhs)} &= {terms_tex(step.terms)} && \\text{{{tex_escape(step.title)}}}")
    return math_block(rows)


@renders("latex", DerivationResult)
def result_latex(result: DerivationResult) -> str:
    """The closed forms of y, dk and dx for a notebook."""
    return math_block([f"{entry_tex(c.lhs)} &= {terms_tex(c.terms)}" for c in result.closed.values()])


@renders("latex", ClaimResult)
def claim_latex(claim_result: ClaimResult) -> str:
    """A claim and its status for a notebook."""
    claim = claim_result.claim
    status = {"proven": "proven for all sizes", "checked": "checked only", "refuted": "refuted"}[claim_result.status]
    return f"$${entry_tex(claim.lhs_entry)} = {sympy.latex(claim.rhs)} \\qquad \\text{{({status})}}$$"


@renders("text", EntryReading)
def reading_text(reading: EntryReading) -> str:
    """A requested entry as text: its products and, given tensors, its value."""
    products = " + ".join(terms_text(reading.terms)) or "0"
    return f"{reading.name} = {products}" + (f" = {reading.value}" if reading.value is not None else "")


@renders("latex", EntryReading)
def reading_latex(reading: EntryReading) -> str:
    return math_block([f"{reading.tex_name} &= {terms_tex(reading.at_entry)}",
                       "&= " + " ".join(_sympy_sum_pieces(reading.compact))])
