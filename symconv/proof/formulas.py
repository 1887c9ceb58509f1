"""Formulas: the engine's terms, and exact evaluation of any formula in tensor entries.

A ``Term`` is ``sum over a box of [conditions] * product(factors)``: the unit every
derivation step works on.  ``compile_formula`` evaluates a SymPy formula (a claim, a closed
form) for given sizes into its exact multiset of products, within a ``Budget``.

Sums run over integer boxes and a range whose end is below its start is empty (not SymPy's
Karr convention), so every formula is evaluated here, never by ``Sum.doit``.
"""

from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import sympy
from sympy import Add, KroneckerDelta, Mul, Piecewise, Sum, Symbol

from ..display import ShownMath
from ..errors import SymconvError
from ..model.exact import compile_scalar

# One evaluation may take at most this many steps (summation points and products of terms),
# hold at most this many products in one intermediate sum, and run at most this long.
WORK_LIMIT = 1_000_000
TERM_LIMIT = 500_000
TIME_LIMIT = 30.0


class StepFailed(SymconvError):
    """A derivation step whose SymPy check failed; the message names the step."""


ADVICE = ("use a smaller convolution, a smaller --bound or a concrete entry (e.g. dk[0,0,0,0] on a claim's "
          "left side)")


class Budget:
    """Counts the work of an evaluation (summation points, products of terms) and its time,
    so that no evaluation can run away."""

    def __init__(self, limit: int = WORK_LIMIT, seconds: float | None = TIME_LIMIT):
        self.limit, self.used = limit, 0
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def spend(self, count: int):
        self.used += count
        if self.used > self.limit:
            raise SymconvError(f"evaluation needs more than {self.limit} steps (summation points and products "
                               f"of terms): {ADVICE}")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SymconvError(f"evaluation ran longer than {self.seconds:g} s: {ADVICE}")

    def hold(self, count: int):
        """Refuse an intermediate sum of more than TERM_LIMIT products (memory)."""
        if count > TERM_LIMIT:
            raise SymconvError(f"evaluation holds more than {TERM_LIMIT} products at once (a product of sums "
                               f"multiplies out): write the claim as a sum of products, or {ADVICE}")


# ---- exact evaluation ----------------------------------------------------------------------------

SHAPES = "#shapes"  # the environment's key for tensor shapes: not a name a symbol can have


def _compile(expr):
    """SymPy expression -> (is_polynomial, fn(env, budget)).  Scalars are ints; polynomials are
    dicts {monomial: coefficient}, a monomial a sorted tuple of (tensor, index) factors."""
    if not isinstance(expr, sympy.Basic) or not expr.has(sympy.Indexed, Sum):
        scalar = compile_scalar(expr)
        return False, lambda env, budget: scalar(env)
    if isinstance(expr, sympy.Indexed):
        name = str(expr.base)
        index = [compile_scalar(i) for i in expr.indices]

        def entry(env, budget):
            idx = tuple(_int(f(env), name) for f in index)
            shape = env[SHAPES][name]
            if len(idx) != len(shape) or any(not 0 <= i < s for i, s in zip(idx, shape)):
                return {}
            return {((name, idx),): 1}
        return True, entry
    if isinstance(expr, Sum):
        return _compile_sum(expr)
    if isinstance(expr, Piecewise):
        pieces = [(_compile(e), _compile(c)[1]) for e, c in expr.args]
        poly = any(p for (p, _), _ in pieces)

        def piecewise(env, budget):
            for (_, value), cond in pieces:
                if cond(env, budget):
                    return _as_poly(value(env, budget)) if poly else value(env, budget)
            return {} if poly else 0
        return poly, piecewise
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        raise SymconvError(f"tensor entries cannot appear inside {type(expr).__name__}")
    args = [_compile(a) for a in expr.args]
    poly = any(p for p, _ in args)
    fns = [f for _, f in args]
    if isinstance(expr, Add):
        if not poly:
            return False, lambda env, budget: sum(f(env, budget) for f in fns)
        return True, lambda env, budget: _poly_sum([_as_poly(f(env, budget)) for f in fns], budget)
    if isinstance(expr, Mul):
        if not poly:
            return False, lambda env, budget: math.prod(f(env, budget) for f in fns)
        scalars = [f for p, f in args if not p]
        polys = [f for p, f in args if p]

        def product(env, budget):
            c = 1
            for f in scalars:  # deltas and brackets first: a zero skips the tensor lookups
                c *= f(env, budget)
                if not c:
                    return {}
            out = _poly_product([f(env, budget) for f in polys], budget) if len(polys) > 1 \
                else polys[0](env, budget)
            return out if c == 1 else {m: c * v for m, v in out.items()}
        return True, product
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and int(expr.exp) >= 0 and poly:
        base, power = fns[0], int(expr.exp)
        return True, lambda env, budget: _poly_product([_as_poly(base(env, budget))] * power, budget)
    raise SymconvError(f"tensor entries cannot appear inside {type(expr).__name__}")


def _guards(body) -> list:
    """Scalar factors of a summand that make it 0 when they fail (deltas, bracket conditions)."""
    value, conds = body, []
    if isinstance(body, Piecewise) and len(body.args) == 2 and body.args[1] == (0, True):
        value, cond = body.args[0]
        conds = list(cond.args) if isinstance(cond, sympy.And) else [cond]
    factors = value.args if isinstance(value, Mul) else (value,)
    return conds + [f for f in factors if isinstance(f, KroneckerDelta)]


def _compile_sum(expr: Sum):
    body_poly, body = _compile(expr.function)
    limits = [(v.name, compile_scalar(lo), compile_scalar(hi)) for v, lo, hi in expr.limits]
    # Check each guard as soon as the loops have bound its variables: it prunes whole inner loops.
    bound_at = {v.name: level for level, (v, _, _) in enumerate(expr.limits)}
    checks = [[] for _ in limits]
    for guard in _guards(expr.function):
        levels = [bound_at[s.name] for s in guard.free_symbols if s.name in bound_at]
        if levels and not guard.has(sympy.Indexed, Sum):
            checks[min(levels)].append(compile_scalar(guard))

    def total(env, budget):
        out = {}
        scalar = [0]

        def loop(level):
            if level < 0:
                value = body(env, budget)
                if body_poly:
                    for m, c in value.items():
                        out[m] = out.get(m, 0) + c
                    budget.hold(len(out))
                else:
                    scalar[0] += value
                return
            var, lo, hi = limits[level]
            start, stop = _int(lo(env), "sum"), _int(hi(env), "sum")
            if stop < start:
                return
            budget.spend(stop - start + 1)
            saved = env.get(var, None)
            guards = checks[level]
            for value in range(start, stop + 1):
                env[var] = value
                if all(g(env) for g in guards):
                    loop(level - 1)
            if saved is None:
                env.pop(var, None)
            else:
                env[var] = saved
        loop(len(limits) - 1)  # SymPy lists the innermost range first
        if not body_poly:
            return scalar[0]
        return {m: c for m, c in out.items() if c}
    return True, total


def _int(value, what):
    if type(value) is int:
        return value
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return value.numerator
    elif not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise SymconvError(f"index of {what} is not an integer: {value}")


def _as_poly(value):
    return value if isinstance(value, dict) else ({(): value} if value else {})


def _poly_sum(polys, budget):
    out = {}
    for p in polys:
        budget.spend(len(p))
        for m, c in p.items():
            out[m] = out.get(m, 0) + c
    budget.hold(len(out))
    return {m: c for m, c in out.items() if c}


def _poly_product(polys, budget):
    if len(polys) == 2 and len(polys[0]) == 1 and len(polys[1]) == 1:
        (m1, c1), = polys[0].items()
        (m2, c2), = polys[1].items()
        return {tuple(sorted(m1 + m2)): c1 * c2}
    out = {(): 1}
    for p in polys:
        budget.spend(len(out) * len(p))
        budget.hold(len(out) * len(p))
        nxt = {}
        for m1, c1 in out.items():
            for m2, c2 in p.items():
                m = tuple(sorted(m1 + m2))
                nxt[m] = nxt.get(m, 0) + c1 * c2
        out = nxt
    return {m: c for m, c in out.items() if c}


@dataclass(frozen=True)
class Formula:
    """A compiled SymPy formula; ``terms(values, shapes)`` is its exact multiset of products."""

    expr: sympy.Expr
    fn: object = field(repr=False, compare=False)

    def terms(self, values: dict, shapes: dict, budget: Budget | None = None) -> dict:
        """The formula's products for sizes and indices ``values`` ({symbol: int}) and tensor
        ``shapes`` ({name: shape}); an entry outside its shape is 0."""
        env = {getattr(k, "name", k): int(v) for k, v in values.items()}
        env[SHAPES] = shapes
        return _as_poly(self.fn(env, budget or Budget()))


def compile_formula(expr) -> Formula:
    """Compile a SymPy formula in tensor entries for exact evaluation.

    >>> from sympy import IndexedBase, symbols
    >>> x, k = IndexedBase("x"), IndexedBase("k")
    >>> i, n = symbols("i n", integer=True)
    >>> f = compile_formula(Sum(x[i - 1] * k[i], (i, 0, n)))
    >>> f.terms({n: 2}, {"x": (2,), "k": (3,)})      # x[-1] is padding: no term
    {(('k', (1,)), ('x', (0,))): 1, (('k', (2,)), ('x', (1,))): 1}
    """
    expr = sympy.sympify(expr)
    names = {}
    for sym in expr.free_symbols | {v for s in expr.atoms(Sum) for v in s.variables}:
        if names.setdefault(sym.name, sym) != sym:
            raise SymconvError(f"two different symbols are both named '{sym.name}' in {expr}")
    return Formula(expr, _compile(expr)[1])


def product_estimate(expr, sizes: dict) -> int:
    """About how many products evaluating ``expr`` builds at once, before evaluating it: sums
    multiply their range's length (where the sizes ``sizes`` give it), products multiply."""
    expr = sympy.sympify(expr)
    if isinstance(expr, sympy.Indexed) or not expr.has(sympy.Indexed):
        return 1
    if isinstance(expr, Add):
        return sum(product_estimate(a, sizes) for a in expr.args)
    if isinstance(expr, Mul):
        return math.prod(product_estimate(a, sizes) for a in expr.args)
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return product_estimate(expr.base, sizes) ** int(expr.exp)
    if isinstance(expr, Piecewise):
        return max(product_estimate(e, sizes) for e, _ in expr.args)
    if isinstance(expr, Sum):
        count = product_estimate(expr.function, sizes)
        env = {getattr(k, "name", k): v for k, v in sizes.items()}
        for _, lo, hi in expr.limits:
            try:
                count *= max(compile_scalar(hi)(env) - compile_scalar(lo)(env) + 1, 0)
            except SymconvError:  # a range that depends on an index: the budget watches it
                pass
        return count
    return 1


def value_of(terms: dict, tensors: dict) -> int:
    """The number a term multiset gives for concrete tensors ({name: array}), in Python
    integers (exact at any size)."""
    return int(sum(c * math.prod(int(tensors[name][idx]) for name, idx in m) for m, c in terms.items()))


# ---- terms: what derivations work on ----------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Term(ShownMath):
    """``sum over limits of [conditions] * product(factors)``.

    ``limits``: ((symbol, lo, hi), ...), outermost first, ends included, empty if hi < lo;
    ``conditions``: ((expr, lo, hi), ...) meaning lo <= expr <= hi (either end may be None);
    ``factors``: integers, tensor entries (Indexed) and KroneckerDelta, in display order.
    """

    limits: tuple
    conditions: tuple
    factors: tuple

    @property
    def bound(self) -> tuple:
        return tuple(v for v, _, _ in self.limits)

    @property
    def product(self):
        return Mul(*self.factors)

    def condition(self):
        atoms = []
        for e, lo, hi in self.conditions:
            if lo is not None:
                atoms.append(sympy.Le(lo, e))
            if hi is not None:
                atoms.append(sympy.Le(e, hi))
        return sympy.And(*atoms)

    def expr(self):
        """The term as one SymPy expression (a Sum of a Piecewise)."""
        cond = self.condition()
        body = self.product if cond is sympy.true else Piecewise((self.product, cond), (0, True))
        return Sum(body, *reversed(self.limits)) if self.limits else body

    def xreplace(self, mapping: dict) -> "Term":
        sub = lambda e: None if e is None else sympy.sympify(e).xreplace(mapping)
        return Term(tuple((v, sub(lo), sub(hi)) for v, lo, hi in self.limits),
                    tuple((sub(e), sub(lo), sub(hi)) for e, lo, hi in self.conditions),
                    tuple(sub(f) for f in self.factors))


def formula_expr(terms) -> sympy.Expr:
    """A list of Terms as one SymPy expression."""
    return Add(*[t.expr() for t in terms])


@lru_cache(maxsize=None)
def index(name: str) -> Symbol:
    """An index symbol (integer, no sign assumption: ranges are explicit)."""
    return Symbol(name, integer=True)


def primed(sym: Symbol) -> Symbol:
    """``a`` -> ``a'``: the index of the entry a derivative is taken by."""
    return index(sym.name + "'")


def size(name: str, signed: bool = False) -> Symbol:
    """A size symbol: a positive integer, or any integer when ``signed`` (a pad)."""
    return Symbol(name, integer=True) if signed else Symbol(name, integer=True, positive=True)
