"""Certificates: inequalities between integer polynomials that SymPy checks by their form.

Every "this condition always holds" in a proof comes down to ``manifestly_nonneg``: a
polynomial in nonnegative or positive integer symbols is >= 0 when, after writing each
positive symbol as 1 + t, every coefficient is >= 0.  ``box_minimum`` and ``holds`` reduce a
linear inequality over a box of index ranges to that; ``implied`` adds hypotheses.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import sympy
from sympy.polys.domains import QQ
from sympy.polys.polyerrors import CoercionFailed
from sympy.polys.rings import ring


@lru_cache(maxsize=1 << 16)
def manifestly_nonneg(expr) -> bool:
    """True when ``expr`` is a polynomial that is >= 0 because of its form: its symbols are
    nonnegative or positive integers, and writing each positive one as 1 + t (t >= 0) leaves
    only nonnegative coefficients.

    >>> S, K = sympy.symbols("S K", integer=True, positive=True)
    >>> manifestly_nonneg(S*K - 1), manifestly_nonneg(S - K)
    (True, False)
    """
    expr = sympy.expand(expr)
    if expr.is_Number:
        return bool(expr >= 0)
    symbols = sorted(expr.free_symbols, key=str)
    if not all(s.is_integer and s.is_nonnegative for s in symbols):
        return False
    shifted = sympy.expand(expr.xreplace({s: s + 1 for s in symbols if s.is_positive}))
    try:
        poly = sympy.Poly(shifted, *symbols)
    except sympy.PolynomialError:
        return False
    return all(c >= 0 for c in poly.coeffs())


def box_minimum(expr, ranges: dict):
    """The minimum of a linear ``expr`` over the box ``ranges`` {symbol: (lo, hi)}, or None when
    a coefficient's sign is not manifest.  Each variable goes to the end its coefficient's
    sign picks: exact for a linear form over a box."""
    expr = sympy.expand(expr)
    variables = [v for v in ranges if expr.has(v)]
    if not variables:
        return expr
    try:
        poly = sympy.Poly(expr, *variables)
    except sympy.PolynomialError:
        return None
    if poly.total_degree() > 1:
        return None
    low = expr
    for v in variables:
        coeff = poly.coeff_monomial(v)
        lo, hi = ranges[v]
        if manifestly_nonneg(coeff):
            low = low.xreplace({v: lo})
        elif manifestly_nonneg(-coeff):
            low = low.xreplace({v: hi})
        else:
            return None
    return sympy.expand(low)


def holds(expr, ranges: dict) -> bool:
    """``expr >= 0`` everywhere on the box, certified by its box minimum."""
    low = box_minimum(expr, ranges)
    return low is not None and manifestly_nonneg(low)


def implied(expr, hypotheses, box: dict | None = None, equalities=()) -> bool:
    """``expr >= 0`` follows from ``hypotheses`` (each >= 0), ``equalities`` (each == 0) and the
    box: some ``expr - h1 - h2 - l*q`` (at most two hypotheses, each once or twice, and one
    equality with l = +-1) is certified >= 0 on the box."""
    if not box and not equalities:
        return _implied(sympy.expand(expr), frozenset(sympy.expand(h) for h in hypotheses))
    return _implied_on_box(expr, hypotheses, box or {}, equalities)


@lru_cache(maxsize=1 << 14)
def _implied(expr, hypotheses: frozenset) -> bool:
    """``implied`` without a box, in sparse polynomial arithmetic: every polynomial is shifted
    (positive symbols as 1 + t) once, then each candidate is a subtraction."""
    polys = [expr, *sorted(hypotheses, key=sympy.default_sort_key)]
    symbols = sorted(set().union(*(e.free_symbols for e in polys)), key=str)
    if not symbols:
        return bool(expr >= 0)
    try:
        R, *gens = ring(symbols, QQ)
        shifted = [R.from_expr(e) for e in polys]
    except (CoercionFailed, sympy.PolynomialError, ValueError):
        return _implied_on_box(expr, hypotheses, {}, ())
    shifts = [(g, g + 1) for g, s in zip(gens, symbols) if s.is_positive]
    if shifts:
        shifted = [p.compose(shifts) for p in shifted]
    unsigned = [g for g, s in zip(gens, symbols) if not (s.is_integer and s.is_nonnegative)]

    def certified(p):
        return all(c >= 0 for c in p.coeffs()) and not any(p.degree(g) > 0 for g in unsigned)

    target, hyps = shifted[0], shifted[1:]
    if certified(target):
        return True
    if any(certified(target - h) or certified(target - 2 * h) for h in hyps):
        return True
    return any(certified(target - h1 - h2) for h1, h2 in itertools.combinations(hyps, 2))


def _implied_on_box(expr, hypotheses, box: dict, equalities) -> bool:
    expr = sympy.expand(expr)
    hypotheses = sorted({sympy.expand(h) for h in hypotheses}, key=sympy.default_sort_key)
    if expr in hypotheses:
        return True
    shifts = [sympy.Integer(0)] + [l * q for q in sorted(equalities, key=sympy.default_sort_key) for l in (1, -1)]
    singles = [sympy.Integer(0)] + hypotheses + [2 * h for h in hypotheses]
    for s in singles:
        for q in shifts:
            if holds(expr - s - q, box):
                return True
    for h1, h2 in itertools.combinations(hypotheses, 2):
        for q in shifts:
            if holds(expr - h1 - h2 - q, box):
                return True
    return False


def condition_atoms(condition) -> frozenset | None:
    """A conjunction of relationals -> frozenset of expanded ``e`` meaning e >= 0; None if it
    is not such a conjunction."""
    if condition is sympy.true:
        return frozenset()
    if condition is sympy.false:
        return frozenset({sympy.Integer(-1)})
    parts = condition.args if isinstance(condition, sympy.And) else (condition,)
    atoms = set()
    for rel in parts:
        if isinstance(rel, (sympy.Ge, sympy.Gt)):
            e = rel.lhs - rel.rhs - (1 if isinstance(rel, sympy.Gt) else 0)
        elif isinstance(rel, (sympy.Le, sympy.Lt)):
            e = rel.rhs - rel.lhs - (1 if isinstance(rel, sympy.Lt) else 0)
        elif isinstance(rel, sympy.Eq):
            atoms.add(sympy.expand(rel.rhs - rel.lhs))
            e = rel.lhs - rel.rhs
        else:
            return None
        atoms.add(sympy.expand(e))
    return frozenset(atoms)
