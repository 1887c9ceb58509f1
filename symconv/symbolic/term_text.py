"""An entry's sum of products as text, LaTeX and JSON, written straight from its integer term list.

SymPy is not involved: building a 12,321-term ``Add`` and printing it costs seconds, while the
same string from the index arrays costs milliseconds.  The output reads as SymPy prints it
(``sstr(..., order='none')`` and ``latex``): factors in alphabetical order of their tensors
(``g`` before ``k`` before ``x``), a coefficient first, terms in the term list's order.

>>> import numpy as np
>>> from symconv.model.indexmap import Terms
>>> t = Terms("filter_grad", (0, 0, 0, 0), ("g", "x"), np.array([[0, 0, 0, 0], [0, 0, 1, 0]]),
...           np.array([[0, 1, 1, 0], [0, 1, 3, 0]]), np.array([1, 2]))
>>> sympy_text(t)
'g[0, 0, 0, 0]*x[0, 1, 1, 0] + 2*g[0, 0, 1, 0]*x[0, 1, 3, 0]'
>>> latex(t)
'{g}_{0,0,0,0} {x}_{0,1,1,0} + 2 {g}_{0,0,1,0} {x}_{0,1,3,0}'
>>> compact(t, limit=1)
'g[0,0,0,0]*x[0,1,1,0] + ... (2 terms)'
"""

from __future__ import annotations


def _rows(terms, limit: int | None = None):
    """(coefficient, first index, second index) of the first ``limit`` terms (all: None)."""
    count = len(terms) if limit is None else min(limit, len(terms))
    first, second = terms.first[:count].tolist(), terms.second[:count].tolist()
    coefs = [1] * count if terms.coefficients is None else [int(c) for c in terms.coefficients[:count].tolist()]
    return zip(coefs, first, second)


def _joined(pieces, signed: bool) -> str:
    """Terms joined by ' + ', or ' - ' before a negative coefficient (SymPy's way)."""
    out = []
    for coef, body in pieces:
        if signed and coef < 0:
            out.append((" - " if out else "-") + (f"{-coef}*" if coef != -1 else "") + body)
        else:
            out.append((" + " if out else "") + (f"{coef}*" if coef != 1 else "") + body)
    return "".join(out) or "0"


def sympy_text(terms, limit: int | None = None) -> str:
    """The sum as SymPy's ``sstr(..., order='none')`` writes it: ``g[0, 1, 1, 5]*x[0, 0, 0, 1] + ...``;
    with ``limit``, the first terms then ``+ ...`` and the count."""
    one, two = terms.factors
    swap = two < one

    def body(f, s):
        a, b = (f"{one}[{', '.join(map(str, f))}]", f"{two}[{', '.join(map(str, s))}]")
        return f"{b}*{a}" if swap else f"{a}*{b}"
    text = _joined(((c, body(f, s)) for c, f, s in _rows(terms, limit)), signed=True)
    if limit is not None and len(terms) > limit:
        text += f" + ... ({len(terms)} terms)"
    return text


def latex(terms, limit: int | None = None) -> str:
    """The sum as SymPy's ``latex`` writes it: ``{g}_{0,1,1,5} {x}_{0,0,0,1} + ...``; with
    ``limit``, the first terms then ``+ \\dots`` and the count."""
    one, two = terms.factors
    swap = two < one
    pieces = []
    for coef, f, s in _rows(terms, limit):
        a, b = f"{{{one}}}_{{{','.join(map(str, f))}}}", f"{{{two}}}_{{{','.join(map(str, s))}}}"
        body = f"{b} {a}" if swap else f"{a} {b}"
        sign = " - " if coef < 0 else " + "
        magnitude = abs(coef)
        pieces.append((sign if pieces else ("-" if coef < 0 else "")) + (f"{magnitude} " if magnitude != 1 else "")
                      + body)
    text = "".join(pieces) or "0"
    if limit is not None and len(terms) > limit:
        text += f" + \\dots \\quad \\text{{({len(terms):,} terms)}}"
    return text


def compact(terms, limit: int | None = None) -> str:
    """The terms as symconv's text shows them, factors in the term list's order and indices
    without spaces: ``x[0,1,1,0]*k[0,0,0,0] + ...``, at most ``limit`` of them, then the count."""
    one, two = terms.factors
    shown = ((c, f"{one}[{','.join(map(str, f))}]*{two}[{','.join(map(str, s))}]")
             for c, f, s in _rows(terms, limit))
    text = _joined(shown, signed=True)
    if limit is not None and len(terms) > limit:
        text += f" + ... ({len(terms)} terms)"
    return text
