"""Exact evaluation of integer SymPy expressions, compiled once into plain Python arithmetic.

``compile_scalar(expr)`` turns an expression in integer symbols (sizes, indices) into a
function of ``{symbol name: int}`` that computes with Python integers (``Fraction`` where a
division is not rounded): no floats, no SymPy at run time, any size.  Supported: integers,
rationals, symbols, ``+ - *``, integer powers, ``floor``, ``ceiling``, ``trunc`` (below),
``Max``, ``Min``, ``Abs``, ``sign``, ``Mod``, ``KroneckerDelta``, ``Piecewise``, comparisons and
``And/Or/Not``.  Padding conventions and claim formulas are evaluated with it.

>>> from sympy import Symbol, ceiling
>>> size, stride = Symbol("in", integer=True), Symbol("s", integer=True)
>>> compile_scalar(ceiling(size / stride))({"in": 10**30 + 1, "s": 2})
500000000000000000000000000001
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction

import sympy
from sympy import KroneckerDelta, Piecewise

from ..errors import SymconvError


class trunc(sympy.Function):
    """Rounding toward zero, as C's integer division does: ``trunc(-1/2) = 0``."""

    @classmethod
    def eval(cls, arg):
        if arg.is_Rational:
            magnitude = abs(int(arg.p)) // int(arg.q)
            return sympy.Integer(magnitude if arg.p >= 0 else -magnitude)
        return None

    def _latex(self, printer):
        return f"\\operatorname{{trunc}}\\!\\left({printer._print(self.args[0])}\\right)"

    def as_piecewise(self):
        """``floor`` for a nonnegative argument, ``ceiling`` otherwise."""
        x = self.args[0]
        return Piecewise((sympy.floor(x), x >= 0), (sympy.ceiling(x), True))


def _rounded(expr, kind):
    num, den = expr.as_numer_denom()
    fn_num, fn_den = compile_scalar(num), compile_scalar(den)

    def rounding(env):
        n, d = fn_num(env), fn_den(env)
        if d == 0:
            raise SymconvError(f"division by zero in {expr}")
        if isinstance(n, Fraction) or isinstance(d, Fraction):
            value = Fraction(n) / Fraction(d)
            n, d = value.numerator, value.denominator
        if d < 0:
            n, d = -n, -d
        if kind == "floor":
            return n // d
        if kind == "ceiling":
            return -((-n) // d)
        return -((-n) // d) if n < 0 else n // d
    return rounding


_SIMPLE = {sympy.Min: min, sympy.Max: max, sympy.Abs: lambda v: abs(v[0]),
           sympy.sign: lambda v: (v[0] > 0) - (v[0] < 0),
           KroneckerDelta: lambda v: int(v[0] == v[1]), sympy.And: all, sympy.Or: any,
           sympy.Not: lambda v: not v[0], sympy.Eq: lambda v: v[0] == v[1], sympy.Ne: lambda v: v[0] != v[1],
           sympy.Lt: lambda v: v[0] < v[1], sympy.Le: lambda v: v[0] <= v[1],
           sympy.Gt: lambda v: v[0] > v[1], sympy.Ge: lambda v: v[0] >= v[1]}


_COMPARISONS = {sympy.Eq: operator.eq, sympy.Ne: operator.ne, sympy.Lt: operator.lt, sympy.Le: operator.le,
                sympy.Gt: operator.gt, sympy.Ge: operator.ge}


def _fold(fns, add: bool):
    """A sum or product of integer-valued functions, unrolled for the common short cases."""
    op = operator.add if add else operator.mul
    if len(fns) == 2:
        f0, f1 = fns
        return (lambda env: f0(env) + f1(env)) if add else (lambda env: f0(env) * f1(env))
    if len(fns) == 3:
        f0, f1, f2 = fns
        return (lambda env: f0(env) + f1(env) + f2(env)) if add else (lambda env: f0(env) * f1(env) * f2(env))
    head, rest = _fold(fns[:2], add), _fold(fns[2:], add) if len(fns) > 3 else fns[2]
    return lambda env: op(head(env), rest(env))


def _int_or_fraction(value):
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def _integral(expr) -> bool:
    """No subexpression outside a rounding can be a fraction (no rational constant, no
    negative power)."""
    if isinstance(expr, (sympy.floor, sympy.ceiling, trunc)) or expr.is_Integer or expr.is_Symbol:
        return True
    if expr.is_Rational or (isinstance(expr, sympy.Pow) and not (expr.exp.is_Integer and expr.exp >= 0)):
        return False
    return all(_integral(a) for a in expr.args)


def compile_scalar(expr):
    """``expr`` -> ``fn(env)`` computing its exact value; ``env`` maps symbol names to ints."""
    if isinstance(expr, (bool, sympy.logic.boolalg.BooleanAtom)):
        value = bool(expr)
        return lambda env: value
    expr = sympy.sympify(expr)
    if expr.is_Integer:
        value = int(expr)
        return lambda env: value
    if expr.is_Rational:
        value = Fraction(int(expr.p), int(expr.q))
        return lambda env: value
    if expr.is_Symbol:
        def symbol(env, name=expr.name):
            try:
                return env[name]
            except KeyError:
                raise SymconvError(f"no value for '{name}'") from None
        return symbol
    if isinstance(expr, sympy.floor):
        return _rounded(expr.args[0], "floor")
    if isinstance(expr, sympy.ceiling):
        return _rounded(expr.args[0], "ceiling")
    if isinstance(expr, trunc):
        return _rounded(expr.args[0], "trunc")
    if isinstance(expr, Piecewise):
        pieces = [(compile_scalar(e), compile_scalar(c)) for e, c in expr.args]

        def piecewise(env):
            for value, cond in pieces:
                if cond(env):
                    return value(env)
            raise SymconvError(f"no piece of {expr} applies")
        return piecewise
    fns = [compile_scalar(a) for a in expr.args]
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        add = isinstance(expr, sympy.Add)
        if _integral(expr):  # integers in, integers out: no Fraction to reduce
            return _fold(fns, add)
        combine = sum if add else math.prod
        return lambda env: _int_or_fraction(combine(f(env) for f in fns))
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer:
        base, power = fns[0], int(expr.exp)
        return lambda env: _int_or_fraction(Fraction(base(env)) ** power)
    if isinstance(expr, sympy.Mod):
        a, b = fns

        def mod(env):
            d = b(env)
            if d == 0:
                raise SymconvError(f"division by zero in {expr}")
            return a(env) % d
        return mod
    if isinstance(expr, sympy.And):
        return lambda env: all(f(env) for f in fns)
    if isinstance(expr, sympy.Or):
        return lambda env: any(f(env) for f in fns)
    for kind, op in _COMPARISONS.items():
        if isinstance(expr, kind):
            f0, f1 = fns
            return lambda env: op(f0(env), f1(env))
    for kind, op in _SIMPLE.items():
        if isinstance(expr, kind):
            return lambda env, op=op: op([f(env) for f in fns])
    raise SymconvError(f"cannot evaluate {type(expr).__name__} in {expr}")
