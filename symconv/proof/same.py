"""SAME conventions: what each registered rule guarantees, proven from the rule itself.

For every convention in the registry (``symconv.conventions``) and every property below, the
property is proven for every input size, kernel size, stride and dilation from the
convention's SymPy rule, or refuted by the smallest counterexample, or (when neither a proof
nor a counterexample is found) reported as checked up to a bound.

The method works on the rule's expressions as they are.  Every ``max``, ``min``, bracket and
truncation splits the proof into cases, each given by polynomial hypotheses (``>= 0``); every
``floor(a/b)`` or ``ceiling(a/b)`` becomes a quotient certified by the two inequalities that
define it (``0 <= a - b*q <= b - 1``), or, when no quotient is found, a new integer with those
two inequalities as hypotheses.  A property is then, case by case, a polynomial identity
(SymPy ``expand``) or an inequality certified from the case's hypotheses
(``certificates.implied``).  Cases whose hypotheses contradict each other are dropped (also
certified).  Nothing is assumed beyond the definitions of floor, ceiling, max and min.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import sympy
from sympy import Integer, Piecewise, Symbol

from ..model import conventions
from ..model.conventions import DEFAULT, DILATION, KERNEL, SIZE, STRIDE, output_size
from ..model.exact import trunc
from .certificates import implied


class _Unsupported(Exception):
    """An expression the method does not handle: the property is then only checked."""


@dataclass
class _Case:
    hypotheses: tuple = ()
    memo: dict = field(default_factory=dict)

    def assume(self, h) -> "_Case | None":
        """This case with ``h >= 0`` added; None when that contradicts the hypotheses."""
        h = sympy.expand(h)
        if h.is_Number:
            return self if h >= 0 else None
        if implied(h, self.hypotheses):
            return self
        if implied(-h - 1, self.hypotheses):
            return None
        return _Case(self.hypotheses + (h,), dict(self.memo))


_fresh = itertools.count(1)


def _integer_poly(expr) -> bool:
    expr = sympy.expand(expr)
    if not expr.free_symbols:
        return expr.is_Integer
    try:
        return all(c.is_Integer for c in sympy.Poly(expr, *sorted(expr.free_symbols, key=str)).coeffs())
    except sympy.PolynomialError:
        return False


def _quotient_candidates(num, den, memo):
    out = []
    for (kind, known_num, known_den), value in memo.items():   # near a quotient already known
        if known_den == den:
            shift = _quotient_candidates(sympy.expand(num - known_num), den, {})
            out += [sympy.expand(value + q) for q in shift]
    gens = sorted(num.free_symbols | den.free_symbols, key=str)
    if den.free_symbols:
        for first in sorted(den.free_symbols, key=str):
            order = [first] + [g for g in gens if g != first]
            try:
                q, _ = sympy.div(num, den, *order)
            except sympy.PolynomialError:
                continue
            out += [q - 1, q, q + 1]
    elif den.is_Integer and den != 0:
        q = sympy.expand(num / den)
        if _integer_poly(q):
            out.append(q)
    out += [Integer(-1), Integer(0), Integer(1)]
    seen, unique = set(), []
    for q in out:
        q = sympy.expand(q)
        if q not in seen and _integer_poly(q):
            seen.add(q)
            unique.append(q)
    return unique


def _rounded(kind: str, arg, case: _Case):
    """floor or ceiling of ``arg`` in one case: (case, value) pairs."""
    out = []
    num, den = sympy.together(arg).as_numer_denom()
    for c, n_val in _eval(sympy.expand(num), case):
        for c2, d_val in _eval(den, c):
            n_val, d_val = sympy.expand(n_val), sympy.expand(d_val)
            if not (_integer_poly(n_val) and _integer_poly(d_val)):
                raise _Unsupported(f"{kind} of a non-integer quotient")
            if not implied(d_val - 1, c2.hypotheses):
                if implied(-d_val - 1, c2.hypotheses):
                    n_val, d_val = -n_val, -d_val
                else:
                    raise _Unsupported("a divisor of unknown sign")
            key = (kind, n_val, d_val)
            if key in c2.memo:
                out.append((c2, c2.memo[key]))
                continue
            # floor: 0 <= n - d*q <= d - 1; ceiling: 0 <= d*q - n <= d - 1
            gap = (lambda q: n_val - d_val * q) if kind == "floor" else (lambda q: d_val * q - n_val)
            value = next((q for q in _quotient_candidates(n_val, d_val, c2.memo)
                          if implied(gap(q), c2.hypotheses) and implied(d_val - 1 - gap(q), c2.hypotheses)), None)
            if value is None:
                value = _new_integer(kind, n_val, d_val, c2)
                c2 = _Case(c2.hypotheses + (sympy.expand(gap(value)), sympy.expand(d_val - 1 - gap(value))),
                           dict(c2.memo))
            c2.memo[key] = value
            out.append((c2, value))
    return out


def _new_integer(kind, num, den, case):
    """A new integer standing for floor/ceiling(num/den), written as a bound plus or minus a
    nonnegative symbol where a bound is certain."""
    m = Symbol(f"m{next(_fresh)}", integer=True, nonnegative=True)
    # floor(n/d) >= L  iff  n - d*L >= 0;  ceiling(n/d) >= L  iff  n - d*(L-1) - 1 >= 0
    at_least = (lambda L: num - den * L) if kind == "floor" else (lambda L: num - den * (L - 1) - 1)
    # floor(n/d) <= L  iff  d*(L+1) - 1 - n >= 0;  ceiling(n/d) <= L  iff  d*L - n >= 0
    at_most = (lambda L: den * (L + 1) - 1 - num) if kind == "floor" else (lambda L: den * L - num)
    for bound in (1, 0):
        if implied(sympy.expand(at_least(bound)), case.hypotheses):
            return bound + m
    for bound in (-1, 0):
        if implied(sympy.expand(at_most(bound)), case.hypotheses):
            return bound - m
    return Symbol(f"m{next(_fresh)}", integer=True)


def _relation(rel):
    """A comparison as polynomials that are >= 0 (a list: all of them) and its negation (a
    list of alternatives, each such a list)."""
    num, den = sympy.together(rel.lhs - rel.rhs).as_numer_denom()
    if not (den.is_Integer and den > 0):
        raise _Unsupported("a comparison with a non-constant denominator")
    if isinstance(rel, sympy.Ge):
        return [num], [[-num - 1]]
    if isinstance(rel, sympy.Gt):
        return [num - 1], [[-num]]
    if isinstance(rel, sympy.Le):
        return [-num], [[num - 1]]
    if isinstance(rel, sympy.Lt):
        return [-num - 1], [[num]]
    if isinstance(rel, sympy.Eq):
        return [num, -num], [[num - 1], [-num - 1]]
    raise _Unsupported(type(rel).__name__)


def _assume_all(case, expressions):
    """Cases in which every expression is >= 0 (each evaluated in the case first)."""
    cases = [case]
    for e in expressions:
        nxt = []
        for c in cases:
            for c2, value in _eval(e, c):
                c3 = c2.assume(value)
                if c3 is not None:
                    nxt.append(c3)
        cases = nxt
    return cases


def _eval(expr, case: _Case) -> list:
    """``expr`` in ``case`` as (case, polynomial value) pairs covering the case."""
    expr = sympy.sympify(expr)
    if expr.is_Number or expr.is_Symbol:
        return [(case, expr)]
    if isinstance(expr, trunc):
        return _eval(expr.as_piecewise(), case)
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        return _rounded("floor" if isinstance(expr, sympy.floor) else "ceiling", expr.args[0], case)
    if isinstance(expr, (sympy.Max, sympy.Min)):
        first, rest = expr.args[0], expr.args[1:]
        other = expr.func(*rest) if len(rest) > 1 else rest[0]
        sign = 1 if isinstance(expr, sympy.Max) else -1
        out = []
        for c, a in _eval(first, case):
            for c2, b in _eval(other, c):
                for pick, h in ((a, sign * (a - b)), (b, sign * (b - a) - 1)):
                    c3 = c2.assume(h)
                    if c3 is not None:
                        out.append((c3, pick))
        return out
    if isinstance(expr, sympy.Abs):
        return _eval(sympy.Max(expr.args[0], -expr.args[0]), case)
    if isinstance(expr, Piecewise):
        out, previous = [], [case]      # previous: the cases where no earlier condition holds
        for value, cond in expr.args:
            nxt = []
            for c in previous:
                if cond is sympy.true:
                    holds_cases, negations = [c], []
                else:
                    atoms = cond.args if isinstance(cond, sympy.And) else (cond,)
                    positives, alternatives = [], []
                    for rel in atoms:
                        pos, neg = _relation(rel)
                        positives += pos
                        alternatives += neg
                    holds_cases = _assume_all(c, positives)
                    negations = [c2 for alt in alternatives for c2 in _assume_all(c, alt)]
                for c2 in holds_cases:
                    out += _eval(value, c2)
                nxt += negations
            previous = nxt
        return out
    if isinstance(expr, (sympy.Add, sympy.Mul)) or (isinstance(expr, sympy.Pow) and expr.exp.is_Integer):
        results = [(case, [])]
        for arg in expr.args:
            results = [(c2, values + [v]) for c, values in results for c2, v in _eval(arg, c)]
        return [(c, sympy.expand(expr.func(*values))) for c, values in results]
    raise _Unsupported(type(expr).__name__)


def prove_nonneg(expr) -> bool:
    """``expr >= 0`` for every size, by the method above."""
    try:
        return all(implied(value, c.hypotheses) for c, value in _eval(expr, _Case()))
    except _Unsupported:
        return False


def prove_equal(lhs, rhs) -> bool:
    """``lhs == rhs`` for every size: the left side's cases first, then the right side in each."""
    try:
        for c, a in _eval(lhs, _Case()):
            for c2, b in _eval(rhs, c):
                d = sympy.expand(a - b)
                if d != 0 and not (implied(d, c2.hypotheses) and implied(-d, c2.hypotheses)):
                    return False
        return True
    except _Unsupported:
        return False


# ---- the properties ---------------------------------------------------------------------------------

def _windows(r):
    """The number of windows the padded axis holds (the registry's output_size, symbolically)."""
    span = SIZE + r.before + r.after - (KERNEL - 1) * DILATION - 1
    return Piecewise((sympy.floor(span / STRIDE) + 1, span >= 0), (0, True))


@dataclass(frozen=True)
class Property:
    key: str
    text: str
    goals: object      # Resolved (mine, default's) -> [("eq", a, b) | ("ge", e)]
    numeric: object    # (mine, default's, in, k, s, d) -> bool
    versus_default: bool = False


PROPERTIES = (
    Property("windows", "the padded axis holds exactly out windows (so the pads and out agree)",
             lambda r, t: [("eq", _windows(r), r.out)],
             lambda r, t, *a: output_size(*a, r.before, r.after) == r.out),
    Property("ceil", "out = ceil(in/s)", lambda r, t: [("eq", r.out, sympy.ceiling(SIZE / STRIDE))],
             lambda r, t, i, k, s, d: r.out == -(-i // s)),
    Property("nonnegative", "the pads are never negative", lambda r, t: [("ge", r.before), ("ge", r.after)],
             lambda r, t, *a: r.before >= 0 and r.after >= 0),
    Property("odd-after", "after - before is 0 or 1 (an odd total puts the extra pixel after)",
             lambda r, t: [("ge", r.after - r.before), ("ge", 1 - r.after + r.before)],
             lambda r, t, *a: r.after - r.before in (0, 1)),
    Property("odd-before", "before - after is 0 or 1 (an odd total puts the extra pixel before)",
             lambda r, t: [("ge", r.before - r.after), ("ge", 1 - r.before + r.after)],
             lambda r, t, *a: r.before - r.after in (0, 1)),
    Property("symmetric", "before = after", lambda r, t: [("eq", r.before, r.after)],
             lambda r, t, *a: r.before == r.after),
    Property("default-out", f"the same out as {DEFAULT}", lambda r, t: [("eq", r.out, t.out)],
             lambda r, t, *a: r.out == t.out, True),
    Property("default-total", f"the same total padding as {DEFAULT}",
             lambda r, t: [("eq", r.before + r.after, t.before + t.after)],
             lambda r, t, *a: r.before + r.after == t.before + t.after, True),
    Property("default-pads", f"the same pads as {DEFAULT}",
             lambda r, t: [("eq", r.before, t.before), ("eq", r.after, t.after)],
             lambda r, t, *a: (r.before, r.after) == (t.before, t.after), True),
)


@dataclass
class Finding:
    """One property of one convention: proven, holding up to the bound, or refuted."""

    prop: Property
    proven: bool
    counterexample: tuple | None    # (in, k, s, d) where it fails

    @property
    def holds(self) -> bool:
        return self.counterexample is None


def _applies(prop: Property, name: str) -> bool:
    return not prop.versus_default or name != DEFAULT


@lru_cache(maxsize=4)
def _default_values(default, bound: int) -> tuple:
    return tuple((args, default(*args)) for args in itertools.product(range(1, bound + 1), repeat=4))


@lru_cache(maxsize=256)
def _proven(convention, key: str) -> bool:
    """Whether one property of one convention object is proven (cached: a proof does not
    depend on the bound)."""
    prop = next(p for p in PROPERTIES if p.key == key)
    goals = prop.goals(convention.rule.expressions(), conventions.get(DEFAULT).rule.expressions())
    return all(prove_equal(g[1], g[2]) if g[0] == "eq" else prove_nonneg(g[1]) for g in goals)


def same_findings(name: str, bound: int) -> tuple:
    """(findings, number of cases checked) for one convention: each property's smallest
    counterexample with every size in 1..bound, and, for those that hold there, whether it is
    proven for every size."""
    convention = conventions.get(name)
    props = [p for p in PROPERTIES if _applies(p, name)]
    bad = {}
    count = 0
    for args, theirs in _default_values(conventions.get(DEFAULT), bound):
        count += 1
        mine = convention(*args)
        for prop in props:
            if prop.key not in bad and not prop.numeric(mine, theirs, *args):
                bad[prop.key] = args
    return [Finding(p, p.key not in bad and _proven(convention, p.key), bad.get(p.key)) for p in props], count
