"""Normal forms: when two formulas are equal for every size.

A formula becomes a list of normal terms (``NormalTerm``): summation ranges and "out of shape is 0"
become inequalities, so that equal terms can be recognised by renaming bound variables and
comparing sets of conditions, each side implying the other (``certificates.implied``).
``normal_form_size`` says, before anything is built, how many terms that will be: a product of
sums multiplies out.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import sympy
from sympy import Add, Integer, KroneckerDelta, Mul, Piecewise, Sum, Symbol

from .certificates import condition_atoms, implied

# Normal forms with more terms than this are not built (the proof is not attempted).
MAX_NORMAL_TERMS = 32


def normal_form_size(expr) -> int:
    """How many terms ``normal_form`` would build, computed without building them."""
    expr = sympy.sympify(expr)
    if isinstance(expr, Add):
        return sum(normal_form_size(a) for a in expr.args)
    if isinstance(expr, Mul):
        return math.prod(normal_form_size(a) for a in expr.args)
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0 and expr.base.has(sympy.Indexed, Sum):
        return normal_form_size(expr.base) ** int(expr.exp)
    if isinstance(expr, (Sum, Piecewise)):
        return normal_form_size(expr.args[0] if isinstance(expr, Sum) else expr.args[0][0])
    return 1

@dataclass(frozen=True)
class NormalTerm:
    """``coefficient * sum over all integers of bound of [ineqs >= 0][eqs == 0] * monomial``.

    Summation ranges and "out of shape is 0" become inequalities, so that equal terms can be
    recognised by renaming bound variables and comparing sets of conditions.
    """

    coefficient: sympy.Expr
    bound: tuple
    ineqs: frozenset
    eqs: frozenset
    monomial: tuple

    def xreplace(self, mapping):
        sub = lambda e: sympy.expand(e.xreplace(mapping))
        return NormalTerm(sub(self.coefficient), tuple(mapping.get(v, v) for v in self.bound),
                          frozenset(sub(e) for e in self.ineqs), frozenset(_sign(sub(e)) for e in self.eqs),
                          tuple(sorted((m.xreplace(mapping) for m in self.monomial), key=sympy.default_sort_key)))


def _sign(e):
    e = sympy.expand(e)
    return min(e, sympy.expand(-e), key=sympy.default_sort_key)


class _Unsupported(Exception):
    pass


def normal_form(expr, shapes: dict) -> list | None:
    """The NormalTerms of a formula, or None when it uses something outside the normal form
    (an Or, a !=, a condition inside a tensor index is fine; a Piecewise with other pieces is not).
    ``shapes`` gives each tensor's (symbolic) shape for the implicit in-shape conditions."""
    if normal_form_size(expr) > MAX_NORMAL_TERMS:
        return None
    counter = itertools.count()
    try:
        return _nf(sympy.sympify(expr), shapes, counter)
    except _Unsupported:
        return None


def _nf(expr, shapes, counter):
    if isinstance(expr, Add):
        return [t for a in expr.args for t in _nf(a, shapes, counter)]
    if isinstance(expr, Mul) or (isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0
                                 and expr.base.has(sympy.Indexed, Sum)):
        # a power repeats its base, each copy with its own bound variables
        factors = expr.args if isinstance(expr, Mul) else (expr.base,) * int(expr.exp)
        parts = [_nf(a, shapes, counter) for a in factors]
        return [_nf_product(combo) for combo in itertools.product(*parts)]
    if isinstance(expr, sympy.Indexed):
        name = str(expr.base)
        if name not in shapes:
            raise _Unsupported
        ineqs = set()
        for e, dim in zip(expr.indices, shapes[name]):
            ineqs.add(sympy.expand(e))
            ineqs.add(sympy.expand(dim - 1 - e))
        return [NormalTerm(Integer(1), (), frozenset(ineqs), frozenset(), (expr,))]
    if isinstance(expr, Sum):
        terms = _nf(expr.function, shapes, counter)
        for v, lo, hi in expr.limits:
            fresh = Symbol(f"_v{next(counter)}", integer=True)
            out = []
            for t in terms:
                t = t.xreplace({v: fresh})
                out.append(NormalTerm(t.coefficient, t.bound + (fresh,),
                                      t.ineqs | {sympy.expand(fresh - lo), sympy.expand(hi - fresh)}, t.eqs, t.monomial))
            terms = out
        return terms
    if isinstance(expr, Piecewise):
        if len(expr.args) != 2 or expr.args[1] != (0, True):
            raise _Unsupported
        value, cond = expr.args[0]
        ineqs, eqs = _nf_condition(cond)
        return [NormalTerm(t.coefficient, t.bound, t.ineqs | ineqs, t.eqs | eqs, t.monomial)
                for t in _nf(value, shapes, counter)]
    if isinstance(expr, KroneckerDelta):
        return [NormalTerm(Integer(1), (), frozenset(), frozenset({_sign(expr.args[0] - expr.args[1])}), ())]
    if expr.has(sympy.Indexed, Sum, Piecewise, KroneckerDelta):
        raise _Unsupported
    return [NormalTerm(expr, (), frozenset(), frozenset(), ())] if expr != 0 else []


def _nf_condition(cond):
    parts = cond.args if isinstance(cond, sympy.And) else (cond,)
    ineqs, eqs = set(), set()
    for rel in parts:
        if isinstance(rel, sympy.Eq):
            eqs.add(_sign(rel.lhs - rel.rhs))
        elif isinstance(rel, (sympy.Ge, sympy.Gt, sympy.Le, sympy.Lt)):
            ineqs |= condition_atoms(rel)
        elif isinstance(rel, KroneckerDelta):
            eqs.add(_sign(rel.args[0] - rel.args[1]))
        else:
            raise _Unsupported
    return frozenset(ineqs), frozenset(eqs)


def _nf_product(combo):
    coef, bound, ineqs, eqs, mono = Integer(1), (), set(), set(), []
    for t in combo:
        coef, bound = coef * t.coefficient, bound + t.bound
        ineqs |= t.ineqs
        eqs |= t.eqs
        mono.extend(t.monomial)
    return NormalTerm(sympy.expand(coef), bound, frozenset(ineqs), frozenset(eqs),
                      tuple(sorted(mono, key=sympy.default_sort_key)))


def _implied_eq(e, eqs) -> bool:
    if e in eqs:
        return True
    signed = [l * q for q in eqs for l in (1, -1)]
    return any(sympy.expand(e - a - b) == 0 for a, b in itertools.combinations_with_replacement(signed, 2))


def _conditions_equivalent(a: NormalTerm, b: NormalTerm, box) -> bool:
    for one, two in ((a, b), (b, a)):
        if not all(_implied_eq(e, two.eqs) for e in one.eqs):
            return False
        if not all(implied(e, two.ineqs, box, two.eqs) for e in one.ineqs):
            return False
    return True


def _renamings(a: NormalTerm, b: NormalTerm):
    """Bijections b.bound -> a.bound that line up the two monomials' bare-variable indices first."""
    fixed = {}
    for fa, fb in zip(a.monomial, b.monomial):
        if not (isinstance(fa, sympy.Indexed) and isinstance(fb, sympy.Indexed)) or fa.base != fb.base:
            continue
        for ea, eb in zip(fa.indices, fb.indices):
            if eb in b.bound and ea in a.bound and fixed.setdefault(eb, ea) != ea:
                return
    if len(set(fixed.values())) != len(fixed):
        return
    rest_b = [v for v in b.bound if v not in fixed]
    rest_a = [v for v in a.bound if v not in fixed.values()]
    if len(rest_b) > 7:
        return
    for perm in itertools.permutations(rest_a):
        yield {**fixed, **dict(zip(rest_b, perm))}


def terms_match(a: NormalTerm, b: NormalTerm, box: dict) -> bool:
    """Equal for all sizes: some renaming of b's bound variables makes the coefficients and the
    monomials identical and the condition sets equivalent (each side implies the other)."""
    if len(a.bound) != len(b.bound) or len(a.monomial) != len(b.monomial):
        return False
    if sorted(str(m.base) for m in a.monomial) != sorted(str(m.base) for m in b.monomial):
        return False
    for mapping in _renamings(a, b):
        c = b.xreplace(mapping)
        if c.monomial == a.monomial and sympy.expand(c.coefficient - a.coefficient) == 0 \
                and _conditions_equivalent(a, c, box):
            return True
    return False


def same_formula(first: list, second: list, box: dict) -> bool:
    """Two normal forms are equal for all sizes when their terms match one to one."""
    if first is None or second is None or len(first) != len(second):
        return False

    def assign(i, used):
        if i == len(first):
            return True
        return any(j not in used and terms_match(first[i], second[j], box) and assign(i + 1, used | {j})
                   for j in range(len(second)))
    return assign(0, frozenset())


