"""Proofs: derivations checked step by step by SymPy, for symbolic or numeric sizes.

Three things live here, all built on one small derivation engine:

* **The engine.**  A formula is a sum of ``Term``\\ s: a box of summation ranges, a few
  in-bounds conditions ``lo <= e <= hi`` and a product of tensor entries and Kronecker
  deltas.  Rules turn one formula into the next (``differentiate``, ``sift``, ``absorb``,
  ``discharge``, ``settle``) and every rule re-checks its own result with SymPy before it is
  recorded as a ``Step``; a step that fails raises ``StepFailed`` naming the step.
  ``derive(geometry)`` runs the chain definition -> L = sum(g*y) -> dL/dk, dL/dx ->
  closed forms, for symbolic sizes (a proof for all sizes) or numeric ones (one spec).
* **Facts.**  ``facts(bound)`` proves the library's statements for symbolic sizes and
  backs each with a bounded exhaustive check against the index maps; ``Report`` prints
  which facts are proven for all sizes and which are only checked up to a bound.
* **Claims.**  ``prove_claim`` checks a user's formula (see ``symconv.claims``): proven
  (its normal form equals a proven closed form), checked (exhaustively, up to a bound or
  for every entry of one spec) or refuted, with the smallest counterexample.

Sums run over integer boxes and a range whose end is below its start is empty (not SymPy's
Karr convention), so every formula here is evaluated by ``compile_formula``, never by
``Sum.doit``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy
from sympy import Add, Integer, KroneckerDelta, Mul, Piecewise, Sum, Symbol
from sympy.concrete.delta import deltasummation

from . import claims as claims_mod
from .conventions import ceil_div, effective_kernel, output_size
from .conventions import get as get_convention
from .errors import SymconvError
from .indexmap import maps_for
from .spec import ConvSpec, TENSOR_OF

# ==== exact evaluation of formulas =============================================================

# One claim evaluation may walk at most this many summation points before it is refused.
WORK_LIMIT = 3_000_000


class StepFailed(SymconvError):
    """A derivation step whose SymPy check failed; the message names the step."""


class Budget:
    """Counts summation points so that no evaluation can run away."""

    def __init__(self, limit: int = WORK_LIMIT):
        self.limit, self.used = limit, 0

    def spend(self, count: int):
        self.used += count
        if self.used > self.limit:
            raise SymconvError(
                f"evaluation needs more than {self.limit} summation steps: use a smaller convolution, a "
                f"smaller --bound or a concrete entry (e.g. dk[0,0,0,0] on a claim's left side)")


def _scalar(value, what):
    if isinstance(value, dict):
        raise SymconvError(f"{what} must not contain tensor entries")
    return value


def _compile(expr):
    """SymPy expression -> (is_polynomial, fn(env, budget)).  Scalars are ints; polynomials are
    dicts {monomial: coefficient}, a monomial a sorted tuple of (tensor, index) factors."""
    if isinstance(expr, (bool, sympy.logic.boolalg.BooleanAtom)):
        value = bool(expr)
        return False, lambda env, budget: value
    if expr.is_Integer:
        value = int(expr)
        return False, lambda env, budget: value
    if expr.is_Rational:
        value = Fraction(int(expr.p), int(expr.q))
        return False, lambda env, budget: value
    if expr.is_Symbol:
        def symbol(env, budget, s=expr.name):
            try:
                return env[s]
            except KeyError:
                raise SymconvError(f"no value for '{s}'") from None
        return False, symbol
    if isinstance(expr, sympy.Indexed):
        name = str(expr.base)
        index = [_compile(i)[1] for i in expr.indices]

        def entry(env, budget):
            idx = tuple(_int(f(env, budget), name) for f in index)
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
        if expr.has(sympy.Indexed):
            raise SymconvError(f"tensor entries cannot appear inside {type(expr).__name__}")
        num, den = expr.args[0].as_numer_denom()
        fn_num, fn_den = _compile(num)[1], _compile(den)[1]
        ceil = isinstance(expr, sympy.ceiling)

        def rounding(env, budget):
            n, d = fn_num(env, budget), fn_den(env, budget)
            if d == 0:
                raise SymconvError(f"division by zero in {expr}")
            return -((-n) // d) if ceil else n // d
        return False, rounding
    args = [_compile(a) for a in expr.args]
    poly = any(p for p, _ in args)
    fns = [f for _, f in args]
    if isinstance(expr, Add):
        if not poly:
            if len(fns) == 2:
                f0, f1 = fns
                return False, lambda env, budget: f0(env, budget) + f1(env, budget)
            return False, lambda env, budget: sum(f(env, budget) for f in fns)
        return True, lambda env, budget: _poly_sum([_as_poly(f(env, budget)) for f in fns])
    if isinstance(expr, Mul):
        if not poly:
            if len(fns) == 2:
                f0, f1 = fns
                return False, lambda env, budget: f0(env, budget) * f1(env, budget)
            return False, lambda env, budget: math.prod(f(env, budget) for f in fns)
        scalars = [f for p, f in args if not p]
        polys = [f for p, f in args if p]

        def product(env, budget):
            c = 1
            for f in scalars:  # deltas and brackets first: a zero skips the tensor lookups
                c *= f(env, budget)
                if not c:
                    return {}
            out = _poly_product([f(env, budget) for f in polys]) if len(polys) > 1 else polys[0](env, budget)
            return out if c == 1 else {m: c * v for m, v in out.items()}
        return True, product
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer:
        base, power = fns[0], int(expr.exp)
        if not poly:
            return False, lambda env, budget: Fraction(base(env, budget)) ** power
        if power >= 0:
            return True, lambda env, budget: _poly_product([_as_poly(base(env, budget))] * power)
    if poly:
        raise SymconvError(f"tensor entries cannot appear inside {type(expr).__name__}")
    if isinstance(expr, sympy.Mod):
        def mod(env, budget, a=fns[0], b=fns[1]):
            d = b(env, budget)
            if d == 0:
                raise SymconvError(f"division by zero in {expr}")
            return a(env, budget) % d
        return False, mod
    simple = {sympy.Min: lambda v: min(v), sympy.Max: lambda v: max(v), sympy.Abs: lambda v: abs(v[0]),
              KroneckerDelta: lambda v: int(v[0] == v[1]), sympy.And: all, sympy.Or: any,
              sympy.Not: lambda v: not v[0], sympy.Eq: lambda v: v[0] == v[1], sympy.Ne: lambda v: v[0] != v[1],
              sympy.Lt: lambda v: v[0] < v[1], sympy.Le: lambda v: v[0] <= v[1],
              sympy.Gt: lambda v: v[0] > v[1], sympy.Ge: lambda v: v[0] >= v[1]}
    for kind, op in simple.items():
        if isinstance(expr, kind):
            return False, lambda env, budget, op=op: op([f(env, budget) for f in fns])
    raise SymconvError(f"cannot evaluate {type(expr).__name__} in {expr}")


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
    limits = [(v.name, _compile(lo)[1], _compile(hi)[1]) for v, lo, hi in expr.limits]
    # Check each guard as soon as the loops have bound its variables: it prunes whole inner loops.
    bound_at = {v.name: level for level, (v, _, _) in enumerate(expr.limits)}
    checks = [[] for _ in limits]
    for guard in _guards(expr.function):
        levels = [bound_at[s.name] for s in guard.free_symbols if s.name in bound_at]
        if levels:
            checks[min(levels)].append(_compile(guard)[1])

    def total(env, budget):
        out = {}
        scalar = [0]

        def loop(level):
            if level < 0:
                value = body(env, budget)
                if body_poly:
                    for m, c in value.items():
                        out[m] = out.get(m, 0) + c
                else:
                    scalar[0] += value
                return
            var, lo, hi = limits[level]
            start, stop = _int(lo(env, budget), "sum"), _int(hi(env, budget), "sum")
            if stop < start:
                return
            budget.spend(stop - start + 1)
            saved = env.get(var, None)
            guards = checks[level]
            for value in range(start, stop + 1):
                env[var] = value
                if all(g(env, budget) for g in guards):
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
    if isinstance(value, bool) or not float(value).is_integer():
        raise SymconvError(f"index of {what} is not an integer: {value}")
    return int(value)


def _as_poly(value):
    return value if isinstance(value, dict) else ({(): value} if value else {})


def _poly_sum(polys):
    out = {}
    for p in polys:
        for m, c in p.items():
            out[m] = out.get(m, 0) + c
    return {m: c for m, c in out.items() if c}


def _poly_product(polys):
    if len(polys) == 2 and len(polys[0]) == 1 and len(polys[1]) == 1:
        (m1, c1), = polys[0].items()
        (m2, c2), = polys[1].items()
        return {tuple(sorted(m1 + m2)): c1 * c2}
    out = {(): 1}
    for p in polys:
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
        env = {getattr(k, "name", k): v for k, v in values.items()}
        env[SHAPES] = shapes
        return _as_poly(self.fn(env, budget or Budget()))


SHAPES = "#shapes"  # not a name a symbol can have


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


def value_of(terms: dict, tensors: dict) -> int:
    """The number a term multiset gives for concrete tensors ({name: array})."""
    return int(sum(c * math.prod(int(tensors[name][idx]) for name, idx in m) for m, c in terms.items()))


# ==== certificates: facts about integers that SymPy checks ======================================

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


# ==== the derivation engine ===================================================================

@dataclass(frozen=True)
class Term:
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

    def _repr_latex_(self):
        from .latex import term_tex
        return f"$\\displaystyle {term_tex(self)}$"

    def xreplace(self, mapping: dict) -> "Term":
        sub = lambda e: None if e is None else sympy.sympify(e).xreplace(mapping)
        return Term(tuple((v, sub(lo), sub(hi)) for v, lo, hi in self.limits),
                    tuple((sub(e), sub(lo), sub(hi)) for e, lo, hi in self.conditions),
                    tuple(sub(f) for f in self.factors))


def formula_expr(terms) -> sympy.Expr:
    """A list of Terms as one SymPy expression."""
    return Add(*[t.expr() for t in terms])


@dataclass(frozen=True)
class Step:
    """One checked step: ``lhs = sum(terms)``, the rule that gave it and what SymPy checked."""

    title: str
    rule: str
    lhs: object
    terms: tuple
    checked: str


class Derivation:
    """A chain of checked steps."""

    def __init__(self, name: str):
        self.name = name
        self.steps: list[Step] = []

    def record(self, title, rule, lhs, terms, checked) -> tuple:
        self.steps.append(Step(title, rule, lhs, tuple(terms), checked))
        return tuple(terms)

    def fail(self, title: str, why: str):
        raise StepFailed(f"derivation '{self.name}', step '{title}' failed: {why}")

    def _repr_latex_(self):
        from .latex import derivation_latex
        return derivation_latex(self)


# ---- geometry: the symbols of one convolution --------------------------------------------------

AXIS_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}
OUT_LETTERS = ("i", "j", "l")
KERNEL_LETTERS = ("a", "b", "e")
BIG_LETTERS = {"D": "z", "H": "h", "W": "w"}


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


@dataclass(frozen=True)
class Geometry:
    """One convolution's shape, with sizes as SymPy symbols or integers.

    ``kind`` is conv, depthwise or transpose; per axis: ``big`` (input of the direct
    convolution), ``kernel``, ``stride``, ``dilation``, ``pad`` (before) and ``small``
    (its output); ``batch``, ``c_in`` and ``c_out`` (depthwise: channels and multiplier;
    transpose: x's and y's channels).  ``full`` False drops batch and channels.
    """

    kind: str
    ndim: int
    channels_last: bool
    full: bool
    big: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad: tuple
    small: tuple
    batch: object = Integer(1)
    c_in: object = Integer(1)
    c_out: object = Integer(1)

    # -- index symbols
    @property
    def out_idx(self):
        return tuple(index(c) for c in OUT_LETTERS[:self.ndim])

    @property
    def kernel_idx(self):
        return tuple(index(c) for c in KERNEL_LETTERS[:self.ndim])

    @property
    def big_idx(self):
        return tuple(index(BIG_LETTERS[a]) for a in AXIS_NAMES[self.ndim])

    @property
    def channel_idx(self):
        """(x-side channel, y-side channel) symbols."""
        if self.kind == "depthwise":
            return index("c"), index("m")
        return index("c_i"), index("c_o")

    def positions(self, out, kern):
        return tuple(s * o + d * a - p for o, a, s, d, p in zip(out, kern, self.stride, self.dilation, self.pad))

    # -- layouts
    def activation(self, n, spatial, c):
        if not self.full:
            return tuple(spatial)
        return (n, *spatial, c) if self.channels_last else (n, c, *spatial)

    def kernel_entry(self, kern, first, second):
        return tuple(kern) + ((first, second) if self.full else ())

    # -- the three tensors' free indices, ranges and entries
    def tensor_indices(self, tensor: str) -> tuple:
        """(index tuple in the layout, {free symbol: (lo, hi)}) of a generic entry of a tensor."""
        n = index("n")
        ci, co = self.channel_idx
        ranges = {}
        if self.full:
            ranges[n] = (Integer(0), self.batch - 1)
        if tensor == "k":
            ranges.update({a: (Integer(0), K - 1) for a, K in zip(self.kernel_idx, self.kernel)})
            if self.full:
                ranges[ci] = (Integer(0), self.c_in - 1)
                ranges[co] = (Integer(0), self.c_out - 1)
                ranges.pop(n)
            if self.kind == "transpose":
                return self.kernel_entry(self.kernel_idx, co, ci), ranges
            return self.kernel_entry(self.kernel_idx, ci, co), ranges
        x_small = self.kind == "transpose"
        on_small = (tensor == "x") == x_small
        spatial = self.out_idx if on_small else self.big_idx
        sizes = self.small if on_small else self.big
        ranges.update({v: (Integer(0), s - 1) for v, s in zip(spatial, sizes)})
        if tensor == "x":
            if self.full:
                ranges[ci] = (Integer(0), self.c_in - 1)
            return self.activation(n, spatial, ci), ranges
        if self.full:
            ranges[co] = (Integer(0), self.c_out - 1)
            if self.kind == "depthwise":
                ranges[ci] = (Integer(0), self.c_in - 1)
                return self.activation(n, spatial, ci * self.c_out + co), ranges
        return self.activation(n, spatial, co), ranges

    def shape(self, tensor: str) -> tuple:
        """Sizes of a tensor in the layout (symbolic or numeric)."""
        idx, ranges = self.tensor_indices(tensor)
        n_channels = self.c_in * self.c_out if self.kind == "depthwise" else self.c_out
        out = []
        for e in idx:
            if e in ranges:
                out.append(ranges[e][1] + 1)
            else:  # depthwise y channel c*M + m
                out.append(n_channels)
        return tuple(out)

    def definition(self) -> tuple:
        """(y entry, its defining Term): the forward convolution as a sum of products."""
        y_idx, _ = self.tensor_indices("g")
        n = index("n")
        ci, co = self.channel_idx
        limits = []
        if self.kind == "transpose":
            out, kern = self.out_idx, self.kernel_idx
            limits += [(o, Integer(0), s - 1) for o, s in zip(out, self.small)]
            limits += [(a, Integer(0), K - 1) for a, K in zip(kern, self.kernel)]
            if self.full:
                limits.append((ci, Integer(0), self.c_in - 1))
            deltas = [KroneckerDelta(p, q) for p, q in zip(self.big_idx, self.positions(out, kern))]
            x = sympy.IndexedBase("x")[self.activation(n, out, ci)]
            k = sympy.IndexedBase("k")[self.kernel_entry(kern, co, ci)]
            return sympy.IndexedBase("y")[y_idx], Term(tuple(limits), (), (*deltas, x, k))
        kern = self.kernel_idx
        limits += [(a, Integer(0), K - 1) for a, K in zip(kern, self.kernel)]
        if self.full and self.kind == "conv":
            limits.append((ci, Integer(0), self.c_in - 1))
        pos = self.positions(self.out_idx, kern)
        conditions = tuple((p, Integer(0), H - 1) for p, H in zip(pos, self.big))
        x = sympy.IndexedBase("x")[self.activation(n, pos, ci)]
        k = sympy.IndexedBase("k")[self.kernel_entry(kern, ci, co)]
        return sympy.IndexedBase("y")[y_idx], Term(tuple(limits), conditions, (x, k))


def symbolic_geometry(kind: str, ndim: int, channels_last: bool = True, full: bool = True,
                      names: str = "pretty") -> Geometry:
    """A geometry with every size a symbol.  ``names='pretty'`` gives H, K_H, s_H, ...
    (for documents); ``names='claims'`` gives the claim language's H0, K0, S0, ...
    """
    if names == "claims":
        sym = claims_mod.size_symbol
        per_axis = lambda kind_, r: sym(f"{kind_}{r}")
        big = tuple(per_axis("H", r) for r in range(ndim))
        kernel = tuple(per_axis("K", r) for r in range(ndim))
        stride = tuple(per_axis("S", r) for r in range(ndim))
        dilation = tuple(per_axis("D", r) for r in range(ndim))
        pad = tuple(per_axis("P", r) for r in range(ndim))
        small = tuple(per_axis("OH", r) for r in range(ndim))
        batch, c_in, c_out = sym("N"), sym("CI"), sym("CO")
    else:
        axes = AXIS_NAMES[ndim]
        big = tuple(size(a) for a in axes)
        kernel = tuple(size(f"K_{a}") for a in axes)
        stride = tuple(size(f"s_{a}") for a in axes)
        dilation = tuple(size(f"d_{a}") for a in axes)
        pad = tuple(size(f"p_{a}", signed=True) for a in axes)
        small = tuple(size(f"O_{a}") for a in axes)
        batch = size("N")
        c_in, c_out = (size("C"), size("M")) if kind == "depthwise" else (size("C_i"), size("C_o"))
    if not full:
        batch = c_in = c_out = Integer(1)
    return Geometry(kind, ndim, channels_last, full, big, kernel, stride, dilation, pad, small, batch, c_in, c_out)


def spec_geometry(spec: ConvSpec, full: bool = True) -> Geometry:
    """The geometry of one spec, sizes as integers."""
    if spec.kind == "conv" and spec.groups != 1:
        raise SymconvError(f"derivations cover groups=1 convolutions and depthwise_conv2d, got groups {spec.groups}")
    nums = lambda t: tuple(Integer(v) for v in t)
    if spec.kind == "depthwise":
        c_in, c_out = spec.kernel_shape[-2], spec.kernel_shape[-1]
    elif spec.kind == "transpose":
        c_in, c_out = spec.kernel_shape[-1], spec.kernel_shape[-2]
    else:
        c_in, c_out = spec.kernel_shape[-2], spec.kernel_shape[-1]
    return Geometry(spec.kind, spec.ndim, spec.channels_last, full, nums(spec.big_spatial), nums(spec.kernel_spatial),
                    nums(spec.strides), nums(spec.dilations), nums(b for b, _ in spec.pads),
                    nums(spec.small_spatial), Integer(spec.batch), Integer(c_in), Integer(c_out))


# ---- rules ---------------------------------------------------------------------------------

def _canonical_atoms(condition) -> frozenset | None:
    """A conjunction of relationals -> frozenset of expanded ``e`` meaning e >= 0; None if it
    is not such a conjunction."""
    if condition is sympy.true:
        return frozenset()
    if condition is sympy.false:
        return frozenset({Integer(-1)})
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


def _term_atoms(term: Term) -> frozenset:
    return _canonical_atoms(term.condition())


def loss(deriv: Derivation, geometry: Geometry) -> Term:
    """L = sum over y's entries of g * y, with y replaced by its definition."""
    y_entry, definition = geometry.definition()
    g_idx, ranges = geometry.tensor_indices("g")
    g = sympy.IndexedBase("g")[g_idx]
    outer = tuple((v, lo, hi) for v, (lo, hi) in ranges.items())
    clash = set(ranges) & set(definition.bound)
    if clash:
        deriv.fail("L = sum(g*y)", f"summation indices {sorted(map(str, clash))} would be captured")
    deriv.record("definition of y", "definition", y_entry, [definition],
                 "the forward convolution, as defined (x is zero outside its shape)")
    term = Term(outer + definition.limits, definition.conditions, (g,) + definition.factors)
    if sympy.expand(term.product - g * definition.product) != 0:
        deriv.fail("L = sum(g*y)", "the product is not g times the definition")
    deriv.record("L = sum(g*y)", "linearity", sympy.Symbol("L"), [term],
                 "g = dL/dy, so L is linear in y; the sum over y's entries and the definition's sum "
                 "combine into one box (disjoint indices, checked)")
    return term


def differentiate(deriv: Derivation, title: str, term: Term, entry: sympy.Indexed) -> list:
    """d term / d entry by the product rule on the summand (the box and the conditions do not
    depend on tensor entries); checked against ``sympy.diff`` of the whole product."""
    if any(c.has(sympy.Indexed) for c in itertools.chain.from_iterable(term.conditions) if c is not None):
        deriv.fail(title, "a condition depends on a tensor entry")
    out = []
    for i, factor in enumerate(term.factors):
        d = sympy.diff(factor, entry)
        if d == 0:
            continue
        deltas = tuple(f for f in (d.args if isinstance(d, Mul) else (d,)) if f != 1)
        factors = term.factors[:i] + tuple(deltas) + term.factors[i + 1:]
        out.append(Term(term.limits, term.conditions, factors))
    direct = sympy.expand(sympy.diff(term.product, entry))
    if sympy.expand(Add(*[t.product for t in out]) - direct) != 0:
        deriv.fail(title, "the product rule disagrees with sympy.diff")
    return deriv.record(title, "differentiate", sympy.Derivative(sympy.Symbol("L"), entry), out,
                        "sympy.diff of the summand by the entry (symbolic indices give Kronecker deltas); "
                        "the sum is finite, so it is differentiated term by term")


def _siftable(term: Term):
    """The first (delta position, variable, value) where a delta fixes a summation variable
    with coefficient +-1 (a bijection), or None."""
    bound = term.bound
    for pos, f in enumerate(term.factors):
        if not isinstance(f, KroneckerDelta):
            continue
        diff = sympy.expand(f.args[0] - f.args[1])
        for v in bound:
            c = diff.coeff(v)
            if c in (1, -1) and not (diff - c * v).has(v):
                if any(lo.has(v) or hi.has(v) for w, lo, hi in term.limits if w != v):
                    continue
                return pos, v, sympy.expand(-(diff - c * v) / c)
    return None


def sift(deriv: Derivation, title: str, term: Term) -> Term:
    """Sum out every variable a delta fixes: sum_{v=lo..hi} delta(v, w) f(v) = [lo <= w <= hi] f(w).
    Each use is cross-checked with SymPy's ``deltasummation``."""
    changed = False
    while (found := _siftable(term)) is not None:
        pos, v, w = found
        (_, lo, hi), = [lim for lim in term.limits if lim[0] == v]
        rest = term.factors[:pos] + term.factors[pos + 1:]
        new = Term(tuple(lim for lim in term.limits if lim[0] != v),
                   tuple((e.xreplace({v: w}), a, b) for e, a, b in term.conditions) + ((w, lo, hi),),
                   tuple(f.xreplace({v: w}) for f in rest))
        check = deltasummation(Mul(*term.factors), (v, lo, hi))
        if isinstance(check, Piecewise):
            expr, cond = check.args[0]
            want = _canonical_atoms(cond)
        else:
            expr, want = check, frozenset()
        mine = _canonical_atoms(sympy.And(sympy.Le(lo, w), sympy.Le(w, hi)))
        if sympy.expand(expr - Mul(*new.factors)) != 0 or not (want is not None and want <= mine):
            deriv.fail(title, f"sifting {v} = {w} disagrees with sympy deltasummation ({check})")
        term, changed = new, True
    if changed:
        deriv.record(title, "sift", None, [term],
                     "sum over v of delta(v, w) f(v) = [lo <= w <= hi] f(w), for each delta with a unit "
                     "coefficient on a summation index; each agrees with sympy's deltasummation")
    return term


def absorb(deriv: Derivation, title: str, term: Term) -> Term:
    """Under a factor delta(u, v), a condition on v is a condition on u (the term is 0 unless
    u == v)."""
    deltas = [f for f in term.factors if isinstance(f, KroneckerDelta)]
    conditions = []
    changed = False
    for e, lo, hi in term.conditions:
        for d in deltas:
            u, v = d.args
            for a, b in ((u, v), (v, u)):
                if sympy.expand(e - b) == 0 and not b.is_Symbol:
                    e, changed = a, True
                    break
        conditions.append((e, lo, hi))
    if not changed:
        return term
    new = Term(term.limits, tuple(conditions), term.factors)
    deriv.record(title, "absorb", None, [new], "a condition on one side of a Kronecker delta holds for the other side "
                 "wherever the delta is 1 (checked: the two sides expand to the same expression)")
    return new


def discharge(deriv: Derivation, title: str, term: Term, hypotheses: dict) -> Term | None:
    """Drop conditions that the entry's ranges and the summation box imply (certified by the box
    minimum), and the whole term when a condition can never hold.  Returns None for 0."""
    box = dict(hypotheses)
    box.update({v: (lo, hi) for v, lo, hi in term.limits})
    kept, dropped, empty = [], [], False
    for e, lo, hi in term.conditions:
        need_lo = lo is not None and not holds(e - lo, box)
        need_hi = hi is not None and not holds(hi - e, box)
        if (lo is not None and holds(lo - 1 - e, box)) or (hi is not None and holds(e - hi - 1, box)):
            empty = True
        if need_lo or need_hi:
            kept.append((e, lo if need_lo else None, hi if need_hi else None))
        if not (need_lo and need_hi):
            dropped.append(e)
    for v, lo, hi in term.limits:
        if holds(lo - hi - 1, box):
            empty = True
    if empty:
        deriv.record(title, "discharge", None, [], "a condition that can never hold (box maximum below zero)")
        return None
    if not dropped:
        return term
    new = Term(term.limits, tuple(kept), term.factors)
    deriv.record(title, "discharge", None, [new],
                 "conditions implied by the entry's index ranges and the summation box are 1 "
                 "(each certified: its minimum over the box is a nonnegative polynomial)")
    return new


def settle(deriv: Derivation, title: str, term: Term) -> Term | None:
    """Numeric sizes: a range with one value is substituted, an empty range gives 0."""
    limits, mapping = [], {}
    for v, lo, hi in term.limits:
        lo, hi = lo.xreplace(mapping), hi.xreplace(mapping)
        if lo.is_Integer and hi.is_Integer:
            if hi < lo:
                deriv.record(title, "settle", None, [], f"the range of {v} is empty")
                return None
            if lo == hi:
                mapping[v] = lo
                continue
        limits.append((v, lo, hi))
    if not mapping:
        return term
    new = Term(tuple(limits), tuple((sympy.expand(e.xreplace(mapping)), lo, hi) for e, lo, hi in term.conditions),
               tuple(f.xreplace(mapping) for f in term.factors))
    deriv.record(title, "settle", None, [new], "a sum over one value is that value")
    return new


def rename(term: Term, mapping: dict) -> Term:
    """Rename free indices (a' -> a) where the new name is not bound in the term."""
    if set(mapping.values()) & set(term.bound):
        raise SymconvError(f"renaming {mapping} would capture a summation index")
    return term.xreplace(mapping)


# ---- the whole derivation --------------------------------------------------------------------

@dataclass
class Closed:
    """A derived closed form: ``lhs = sum(terms)``, with the free indices' ranges."""

    quantity: str
    lhs: sympy.Indexed
    terms: tuple
    ranges: dict

    def expr(self):
        return formula_expr(self.terms)

    def _repr_latex_(self):
        from .latex import closed_latex
        return closed_latex(self)


@dataclass
class DerivationResult:
    """Everything ``derive`` proved: the steps and the closed forms of y, dk and dx."""

    geometry: Geometry
    derivations: dict
    closed: dict

    def steps(self, quantity: str) -> list:
        return self.derivations[quantity].steps

    def _repr_latex_(self):
        from .latex import result_latex
        return result_latex(self)


def _collapse(deriv: Derivation, term: Term, hypotheses: dict, numeric: bool, label: str):
    term = sift(deriv, f"sift the deltas ({label})", term)
    term = absorb(deriv, f"conditions under the remaining deltas ({label})", term)
    term = discharge(deriv, f"conditions implied by the index ranges ({label})", term, hypotheses)
    if term is not None and numeric:
        term = settle(deriv, f"single-value sums ({label})", term)
        if term is not None:
            term = discharge(deriv, f"conditions that now hold ({label})", term, hypotheses)
    return term


def derive(geometry: Geometry) -> DerivationResult:
    """Derive dk and dx from the forward definition; every step is checked as it is made.

    >>> result = derive(symbolic_geometry("conv", 1, full=False))
    >>> result.closed["filter_grad"].expr()
    Sum(Piecewise((g[i]*x[a*d_W + i*s_W - p_W], (a*d_W + i*s_W - p_W >= 0) & (W >= a*d_W + i*s_W - p_W + 1)), (0, True)), (i, 0, O_W - 1))
    """
    numeric = all(getattr(s, "is_Integer", False) for s in geometry.big + geometry.kernel)
    derivations, closed = {}, {}
    y_entry, definition = geometry.definition()
    _, y_ranges = geometry.tensor_indices("g")
    forward = Derivation("forward")
    forward.record("definition of y", "definition", y_entry, [definition],
                   "the forward convolution, as defined (x is zero outside its shape)")
    y_terms = [definition]
    if numeric:
        term = _collapse(forward, definition, y_ranges, numeric, "y")
        y_terms = [term] if term is not None else []
        forward.record("y with the numbers", "settle", y_entry, y_terms, "the steps above")
    closed["forward"] = Closed("forward", y_entry, tuple(y_terms), y_ranges)
    derivations["forward"] = forward
    for quantity, tensor in (("filter_grad", "k"), ("input_grad", "x")):
        deriv = Derivation(quantity)
        L = loss(deriv, geometry)
        idx, ranges = geometry.tensor_indices(tensor)
        prime = {v: primed(v) for v in ranges}
        entry = sympy.IndexedBase(tensor)[tuple(sympy.sympify(i).xreplace(prime) for i in idx)]
        hypotheses = {prime[v]: r for v, r in ranges.items()}
        terms = differentiate(deriv, f"chain rule: dL/d{tensor}", L, entry)
        out = []
        for t in terms:
            t = _collapse(deriv, t, hypotheses, numeric, TENSOR_OF[quantity])
            if t is not None:
                out.append(rename(t, {p: v for v, p in prime.items()}))
        lhs = sympy.IndexedBase(TENSOR_OF[quantity])[idx]
        deriv.record(f"closed form of {TENSOR_OF[quantity]}", "rename", lhs, out,
                     "the primed entry indices renamed back (none of them is a summation index)")
        derivations[quantity] = deriv
        closed[quantity] = Closed(quantity, lhs, tuple(out), ranges)
    return DerivationResult(geometry, derivations, closed)


# ==== normal forms: when two formulas are equal for all sizes ===================================

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
            ineqs |= _canonical_atoms(rel)
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


def _implied_ineq(e, ineqs, eqs, box) -> bool:
    """``e >= 0`` follows from ``ineqs`` (each >= 0), ``eqs`` (each == 0) and the box: some
    e - s - l*q (s one or two inequalities, q an equality, l = +-1) is certified >= 0."""
    if e in ineqs:
        return True
    singles = [Integer(0)] + sorted(ineqs, key=sympy.default_sort_key)
    shifts = [Integer(0)] + [l * q for q in sorted(eqs, key=sympy.default_sort_key) for l in (1, -1)]
    for s in singles:
        for q in shifts:
            if holds(e - s - q, box):
                return True
    for s1, s2 in itertools.combinations(singles[1:], 2):
        for q in shifts:
            if holds(e - s1 - s2 - q, box):
                return True
    return False


def _implied_eq(e, eqs) -> bool:
    if e in eqs:
        return True
    signed = [l * q for q in eqs for l in (1, -1)]
    return any(sympy.expand(e - a - b) == 0 for a, b in itertools.combinations_with_replacement(signed, 2))


def _conditions_equivalent(a: NormalTerm, b: NormalTerm, box) -> bool:
    for one, two in ((a, b), (b, a)):
        if not all(_implied_eq(e, two.eqs) for e in one.eqs):
            return False
        if not all(_implied_ineq(e, two.ineqs, two.eqs, box) for e in one.ineqs):
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


# ==== bounded exhaustive checks against the index maps ========================================

# Default bounds: every size up to this (pads from -bound to bound), per number of axes.
DEFAULT_BOUND = {(1, False): 4, (1, True): 2, (2, False): 2, (2, True): 1}
# At most this many cases (convolutions) in one bounded check.
MAX_CASES = 40_000
CHANNEL_SIZES = (1, 2)
# A claim checked on one spec covers at most this many entries.
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Case:
    """One convolution of a bounded family: its sizes (claim names) and its spec."""

    sizes: dict
    spec: ConvSpec

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.sizes.items())


def _axis_tuples(bound: int, pad_bound: int):
    sizes = range(1, bound + 1)
    return [(H, K, S, D, P, OH) for H in sizes for K in sizes for S in sizes for D in sizes
            for P in range(-pad_bound, pad_bound + 1) for OH in sizes]


def family_size(ndim: int, full: bool, bound: int, pad_bound: int | None = None) -> int:
    """How many convolutions ``family`` enumerates for these bounds."""
    pad_bound = bound if pad_bound is None else pad_bound
    per_axis = bound ** 5 * (2 * pad_bound + 1)
    return per_axis ** ndim * (len(CHANNEL_SIZES) ** 3 if full else 1)


def family_text(ndim: int, full: bool, bound: int, pad_bound: int | None = None) -> str:
    """The bounded family in words: what "checked up to the bound" covers."""
    pad_bound = bound if pad_bound is None else pad_bound
    text = (f"every {ndim}-D convolution with each input size, kernel size, stride, dilation and output "
            f"size in 1..{bound} and each pad before in {-pad_bound}..{pad_bound}")
    text += f", batch and channels in {{{', '.join(map(str, CHANNEL_SIZES))}}}" if full else \
        ", batch 1, one channel"
    return text


def family(ndim: int, full: bool, bound: int, pad_bound: int | None = None) -> tuple:
    """Every case of the bounded family, smallest first (least sum of |sizes|, then by value).
    Pads before run over -pad_bound..pad_bound (default: the bound); the pad after is whatever
    gives the output size (negative crops)."""
    if not isinstance(bound, int) or bound < 1:
        raise SymconvError(f"--bound must be a positive integer, got {bound!r}")
    pad_bound = bound if pad_bound is None else pad_bound
    count = family_size(ndim, full, bound, pad_bound)
    if count > MAX_CASES:
        fits = [b for b in range(1, bound) if family_size(ndim, full, b, min(b, pad_bound)) <= MAX_CASES]
        advice = f"use --bound {fits[-1]} or less" if fits else "give a concrete spec instead"
        raise SymconvError(f"--bound {bound} means {count} {ndim}-D convolutions to check, more than "
                           f"{MAX_CASES}: {advice}")
    return _family(ndim, full, bound, pad_bound)


@lru_cache(maxsize=16)
def _family(ndim: int, full: bool, bound: int, pad_bound: int) -> tuple:
    axes = _axis_tuples(bound, pad_bound)
    channels = list(itertools.product(CHANNEL_SIZES, repeat=3)) if full else [(1, 1, 1)]
    raw = [(sum(abs(v) for t in combo for v in t) + sum(ch), combo, ch)
           for combo in itertools.product(axes, repeat=ndim) for ch in channels]
    raw.sort()
    return tuple(_case(ndim, combo, ch) for _, combo, ch in raw)


def _case(ndim, combo, channels) -> Case:
    sizes = {}
    for r, (H, K, S, D, P, OH) in enumerate(combo):
        sizes.update({f"H{r}": H, f"K{r}": K, f"S{r}": S, f"D{r}": D, f"P{r}": P, f"OH{r}": OH})
    N, CI, CO = channels
    sizes.update({"N": N, "CI": CI, "CO": CO})
    pads = tuple((P, S * (OH - 1) + effective_kernel(K, D) - H - P) for H, K, S, D, P, OH in combo)
    spec = ConvSpec(f"conv{ndim}d", (N, *[t[0] for t in combo], CI), (*[t[1] for t in combo], CI, CO),
                    strides=[t[2] for t in combo], dilations=[t[3] for t in combo], padding=pads)
    return Case(sizes, spec)


def spec_sizes(spec: ConvSpec) -> dict:
    """The claim language's size values for one spec."""
    sizes = {}
    for r in range(spec.ndim):
        sizes.update({f"H{r}": spec.big_spatial[r], f"K{r}": spec.kernel_spatial[r], f"S{r}": spec.strides[r],
                      f"D{r}": spec.dilations[r], f"P{r}": spec.pads[r][0], f"OH{r}": spec.small_spatial[r]})
    channel = lambda shape: shape[-1] if spec.channels_last else shape[1]
    sizes.update({"N": spec.batch, "CI": channel(spec.x_shape), "CO": channel(spec.y_shape)})
    return sizes


def _spatial(spec: ConvSpec, tensor: str, idx: tuple) -> tuple:
    nd = spec.ndim
    if tensor == "k":
        return idx[:nd]
    return idx[1:1 + nd] if spec.channels_last else idx[2:]


def _shapes(spec: ConvSpec, full: bool) -> dict:
    shapes = {t: spec.shape_of(t) for t in ("x", "k", "g")}
    if not full:
        shapes = {t: _spatial(spec, t, s) for t, s in shapes.items()}
    return shapes


def actual_terms(maps, quantity: str, entry: tuple, full: bool) -> dict:
    """The index maps' terms of one entry as a monomial multiset (spatial-only if not full)."""
    spec = maps.spec
    if not full:
        entry = _full_entry(spec, quantity, entry)
    terms = maps.terms(quantity, entry)
    one, two = terms.factors
    out = {}
    for c, f, s in terms.pairs():
        if not full:
            f, s = _spatial(spec, one, f), _spatial(spec, two, s)
        m = tuple(sorted(((one, f), (two, s))))
        out[m] = out.get(m, 0) + c
    return out


@lru_cache(maxsize=1 << 16)
def _spatial_table(spec: ConvSpec, quantity: str) -> dict:
    """Every entry's terms of a batch-1, one-channel convolution, read off the dense spatial
    map of the index maps: {spatial entry: monomials}."""
    from .indexmap import IndexMaps
    fwd = IndexMaps(spec).forward_spatial()
    nd = spec.ndim
    table = {}
    for pos in zip(*np.nonzero(fwd >= 0)):
        o, a = tuple(map(int, pos[:nd])), tuple(map(int, pos[nd:]))
        p = tuple(int(v) for v in np.unravel_index(int(fwd[pos]), spec.big_spatial))
        key, m = {"forward": (o, (("k", a), ("x", p))), "filter_grad": (a, (("g", o), ("x", p))),
                  "input_grad": (p, (("g", o), ("k", a)))}[quantity]
        slot = table.setdefault(key, {})
        slot[m] = slot.get(m, 0) + 1
    return table


def _full_entry(spec, quantity, entry):
    tensor = TENSOR_OF[quantity]
    if tensor == "dk":
        return tuple(entry) + (0, 0)
    return (0, *entry, 0) if spec.channels_last else (0, 0, *entry)


def plural(count: int, one: str, many: str | None = None) -> str:
    """``plural(1, "case")`` -> ``1 case``; ``plural(2, "entry", "entries")`` -> ``2 entries``."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def display_sizes(sizes: dict, ndim: int) -> dict:
    """Canonical size names -> the 1-D or 2-D aliases people write (H, W, KH, ...)."""
    names = {v: k for k, v in claims_mod.ALIASES.get(ndim, {}).items()}
    return {names.get(k, k): v for k, v in sizes.items()}


def term_text(monomial, coefficient=1) -> str:
    """One product as text: ``g[0,1]*x[0,2]``."""
    body = "*".join(f"{name}[{','.join(map(str, idx))}]" for name, idx in monomial)
    return body if coefficient == 1 else f"{coefficient}*{body}"


def terms_text(terms: dict) -> list:
    """A monomial multiset as sorted product texts."""
    return [term_text(m, c) for m, c in sorted(terms.items())]


def id_tensors(shapes: dict) -> dict:
    """x, k and g filled with 1, 2, 3, ... in row-major order (the values counterexamples show)."""
    return {t: np.arange(1, int(np.prod(s)) + 1, dtype=np.int64).reshape(s) for t, s in shapes.items()}


@dataclass
class Mismatch:
    """Where a formula and the index maps disagree: one entry of one convolution."""

    sizes: dict
    spec: str
    entry: str
    claimed: dict
    actual: dict
    shapes: dict

    def to_json(self) -> dict:
        tensors = id_tensors(self.shapes)
        return {"sizes": self.sizes, "spec": self.spec, "entry": self.entry,
                "claimed": {"terms": terms_text(self.claimed), "value": value_of(self.claimed, tensors)},
                "actual": {"terms": terms_text(self.actual), "value": value_of(self.actual, tensors)},
                "missing": terms_text({m: c for m, c in self.actual.items() if self.claimed.get(m) != c}),
                "extra": terms_text({m: c for m, c in self.claimed.items() if self.actual.get(m) != c}),
                "values_from": "x, k and g filled with 1, 2, 3, ... in row-major order"}

    def text(self) -> str:
        j = self.to_json()
        show = lambda ts: " + ".join(ts[:8]) + (f" + ... ({len(ts)} terms)" if len(ts) > 8 else "") if ts else "0"
        return "\n".join([
            f"  at {', '.join(f'{k}={v}' for k, v in self.sizes.items())}",
            f"     ({self.spec})",
            f"  entry {self.entry}:",
            f"    claimed = {show(j['claimed']['terms'])}  (= {j['claimed']['value']})",
            f"    actual  = {show(j['actual']['terms'])}  (= {j['actual']['value']})",
            f"    (values with {j['values_from']})"])


def _entries(claim_lhs: tuple, shape: tuple):
    """Entries of a tensor that match the left side's integers, with the free symbols' values."""
    axes = []
    for e, s in zip(claim_lhs, shape):
        if isinstance(e, Symbol):
            axes.append(range(s))
        elif 0 <= int(e) < s:
            axes.append((int(e),))
        else:
            return
    for entry in itertools.product(*axes):
        yield entry, {e: v for e, v in zip(claim_lhs, entry) if isinstance(e, Symbol)}


def check_formula(formula: Formula, tensor: str, lhs: tuple, cases, full: bool, budget: Budget | None = None):
    """Compare a formula with the index maps at every matching entry of every case, in order.
    Returns (number of cases, number of entries, first Mismatch or None)."""
    from .indexmap import IndexMaps
    quantity = {"y": "forward", "dk": "filter_grad", "dx": "input_grad"}[tensor]
    budget = budget or Budget()
    n_cases = n_entries = 0
    size_symbols = {}
    for case in cases:
        n_cases += 1
        spec = case.spec
        shapes = _shapes(spec, full)
        values = {size_symbols.setdefault(k, claims_mod.size_symbol(k)): v for k, v in case.sizes.items()}
        out_shape = spec.shape_of(tensor)
        if not full:
            out_shape = _spatial(spec, {"dk": "k", "dx": "x", "y": "g"}[tensor], out_shape)
        table = _spatial_table(spec, quantity) if not full and spec.kind == "conv" else None
        maps = IndexMaps(spec) if table is None else None
        for entry, free in _entries(lhs, out_shape):
            n_entries += 1
            claimed = formula.terms({**values, **free}, shapes, budget)
            actual = table.get(entry, {}) if table is not None else actual_terms(maps, quantity, entry, full)
            if claimed != actual:
                name = f"{tensor}[{','.join(map(str, entry))}]"
                return n_cases, n_entries, Mismatch(display_sizes(case.sizes, spec.ndim), spec.describe(), name,
                                                    claimed, actual, shapes)
    return n_cases, n_entries, None


# ==== claims ==================================================================================

@lru_cache(maxsize=32)
def reference_derivation(kind: str, ndim: int, channels_last: bool, full: bool) -> DerivationResult:
    """The derivation with the claim language's size symbols (cached)."""
    return derive(symbolic_geometry(kind, ndim, channels_last, full, names="claims"))


def _reference(claim, kind: str, channels_last: bool):
    """(reference formula, hypotheses box, tensor shapes, derivation) for a claim's left side."""
    result = reference_derivation(kind, claim.ndim, channels_last, claim.full)
    closed = result.closed[claim.quantity]
    mapping = {}
    for ref, mine in zip(closed.lhs.indices, claim.lhs):
        if not isinstance(ref, Symbol):
            return None
        mapping[ref] = mine
    box = {mine: closed.ranges[ref] for ref, mine in mapping.items() if isinstance(mine, Symbol)}
    shapes = {t: result.geometry.shape(t) for t in ("x", "k", "g")}
    return closed.expr().xreplace(mapping), box, shapes, result


def proof_family(kind: str, ndim: int, channels_last: bool, full: bool) -> str:
    """The convolutions a symbolic proof covers, in words."""
    op = {"conv": "convolution", "transpose": "transposed convolution", "depthwise": "depthwise convolution"}[kind]
    layout = ("channels last" if channels_last else "channels first") if full else "batch 1, one channel"
    return (f"every {ndim}-D {op} (groups 1, {layout}) of any sizes: every input size, kernel size, stride, "
            f"dilation and output size >= 1 and every pad")


def attempt_proof(claim, kind: str = "conv", channels_last: bool = True):
    """Try to prove a claim for all sizes: its normal form must equal that of the closed form
    derived (and checked step by step) from the forward definition.  Returns (proven, lines)."""
    if kind == "depthwise":
        return False, ["no proof attempted: depthwise claims are checked only"]
    found = _reference(claim, kind, channels_last)
    if found is None:
        return False, ["no proof attempted: the left side does not match the derived closed form's indices"]
    reference, box, shapes, result = found
    steps = len(result.steps(claim.quantity))
    lines = [f"derived from the forward definition in {steps} steps, each checked by SymPy "
             f"(symconv prove --symbolic --steps shows them):",
             f"  {claim.tensor}[{', '.join(map(str, claim.lhs))}] = {reference}"]
    mine, theirs = normal_form(claim.rhs, shapes), normal_form(reference, shapes)
    if mine is None:
        return False, lines + ["no proof: the claim uses something outside the normal form (an 'or', a '!=' "
                               "or a bracket that is not a conjunction)"]
    if same_formula(mine, theirs, box):
        return True, lines + [f"the claim equals it for {proof_family(kind, claim.ndim, channels_last, claim.full)}: "
                              f"with ranges and 'outside the shape is 0' written "
                              f"as conditions, its {len(mine)} term(s) match the derived ones one to one, up to "
                              f"renaming summation indices, with each condition implied by the other side's "
                              f"(certified by SymPy)"]
    return False, lines + ["no proof: the claim's terms do not match the derived closed form term by term "
                           "(it may still hold; see the bounded check)"]


@dataclass
class ClaimResult:
    """What ``prove_claim`` found: status proven, checked or refuted, and the evidence."""

    claim: object
    status: str
    bound: int | None
    scope: str
    cases: int
    entries: int
    counterexample: Mismatch | None
    proof: list

    def to_json(self) -> dict:
        return {"claim": self.claim.text, "status": self.status, "bound": self.bound,
                "counterexample": self.counterexample.to_json() if self.counterexample else None,
                "scope": self.scope, "cases": self.cases, "entries": self.entries, "proof": self.proof}

    def text(self) -> str:
        lines = [f"claim: {self.claim.text}"]
        if self.status == "proven":
            lines.append("status: PROVEN for all sizes")
        elif self.status == "checked":
            limit = f"up to bound {self.bound}" if self.bound is not None else "for this spec only"
            lines.append(f"status: CHECKED {limit}, not proven for all sizes")
        else:
            lines.append("status: REFUTED")
        if self.status != "refuted":
            lines += [f"  {line}" for line in self.proof]
        if self.counterexample is None:
            lines.append(f"  checked against the index maps: {self.scope} ({plural(self.cases, 'convolution')}, "
                         f"{plural(self.entries, 'entry', 'entries')}): all agree")
        else:
            lines.append(f"  smallest counterexample (checking {self.scope}, in order):")
            lines.append(self.counterexample.text())
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_latex_(self):
        from . import latex
        return latex.claim_latex(self)


def prove_claim(claim, spec: ConvSpec | None = None, bound: int | None = None) -> ClaimResult:
    """Prove, check or refute a claim (text or a parsed ``Claim``).

    Without a spec the claim is about every plain convolution with its number of axes: a
    proof covers all sizes, and a bounded check covers every convolution up to ``bound``.
    With a spec, the check covers every entry of that spec.

    >>> r = prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", bound=2)
    >>> r.status, r.cases
    ('proven', 160)
    >>> r = prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+a-P]", bound=2)
    >>> r.status, r.counterexample.entry, r.counterexample.sizes["D"]
    ('refuted', 'dk[1]', 2)
    """
    if isinstance(claim, str):
        claim = claims_mod.parse_claim(claim, spec.ndim if spec is not None else None)
    if spec is None:
        kind, channels_last = "conv", True
        bound = DEFAULT_BOUND[(claim.ndim, claim.full)] if bound is None else bound
        cases = family(claim.ndim, claim.full, bound)
        scope = family_text(claim.ndim, claim.full, bound)
    else:
        if spec.ndim != claim.ndim:
            raise SymconvError(f"claim has {claim.ndim} spatial axes, the spec {spec.ndim}")
        if not claim.full and (spec.batch != 1 or any(spec_sizes(spec)[c] != 1 for c in ("CI", "CO"))
                               or spec.kernel_shape[-1] * spec.kernel_shape[-2] != 1):
            raise SymconvError(f"spatial-only indices need batch 1 and one channel in and out; this spec has "
                               f"input {spec.x_shape} and kernel {spec.kernel_shape}: write full indices")
        if spec.is_empty:
            raise SymconvError(f"the output of this {spec.op} is empty: no entry to check")
        shape = spec.shape_of(claim.tensor)
        shape = shape if claim.full else _spatial(spec, {"dk": "k", "dx": "x", "y": "g"}[claim.tensor], shape)
        count = math.prod(s for e, s in zip(claim.lhs, shape) if isinstance(e, Symbol))
        if count > MAX_ENTRIES:
            raise SymconvError(f"the left side {claim.tensor}[{','.join(map(str, claim.lhs))}] covers {count} entries "
                               f"of this spec, more than {MAX_ENTRIES}: write integers for some of its indices")
        kind, channels_last = spec.kind, spec.channels_last
        if kind != "depthwise" and spec.groups != 1:
            kind = "depthwise"  # no derivation for grouped convolutions: check only
        bound = None
        cases = [Case(spec_sizes(spec), spec)]
        scope = f"every entry of {claim.tensor} for {spec.describe()}"
    proven, proof = attempt_proof(claim, kind, channels_last)
    n_cases, n_entries, mismatch = check_formula(compile_formula(claim.rhs), claim.tensor, claim.lhs, cases, claim.full)
    if mismatch is not None and proven:
        raise StepFailed(f"internal disagreement: the claim was proven but fails at {mismatch.entry} "
                         f"({mismatch.sizes}); please report this")
    status = "refuted" if mismatch else "proven" if proven else "checked"
    return ClaimResult(claim, status, bound, scope, n_cases, n_entries, mismatch, [] if mismatch else proof)


# ==== facts: what symconv proves for all sizes, and what it only checks ========================

@dataclass
class Check:
    """One bounded exhaustive check: what it covered and whether everything agreed."""

    scope: str
    cases: int
    entries: int
    ok: bool
    detail: str = ""

    def text(self) -> str:
        what = f"{plural(self.cases, 'case')}" + (f", {plural(self.entries, 'entry', 'entries')}" if self.entries else "")
        verdict = "all agree" if self.ok else f"FAILED: {self.detail}"
        return f"{self.scope} ({what}): {verdict}"


@dataclass
class Fact:
    """A statement, its proof for all sizes (or the reason there is none) and its bounded checks."""

    key: str
    statement: str
    proven: bool
    proof: list
    checks: list
    derivations: list = field(default_factory=list)  # (label, Derivation)

    @property
    def status(self) -> str:
        if not all(c.ok for c in self.checks):
            return "failed"
        return "proven" if self.proven else "checked"

    def to_json(self) -> dict:
        return {"fact": self.key, "statement": self.statement, "status": self.status,
                "proven_for_all_sizes": self.proven, "proof": self.proof,
                "checked": [{"scope": c.scope, "cases": c.cases, "entries": c.entries, "ok": c.ok} for c in self.checks]}

    def text(self, steps: bool = False) -> str:
        label = {"proven": "PROVEN for all sizes", "checked": "CHECKED only up to a bound (no proof)",
                 "failed": "FAILED"}[self.status]
        lines = [f"[{self.key}] {label}", f"  {self.statement}"]
        lines += [f"  proof: {line}" if i == 0 else f"         {line}" for i, line in enumerate(self.proof)]
        if steps:
            for label, deriv in self.derivations:
                lines.append(f"  steps ({label}):")
                for n, step in enumerate(deriv.steps, 1):
                    shown = " + ".join(str(t.expr()) for t in step.terms) or "0"
                    lhs = f"{step.lhs} = " if step.lhs is not None else "  = "
                    lines.append(f"    {n}. {step.title} [{step.rule}]: {lhs}{shown}")
                    lines.append(f"       checked: {step.checked}")
        lines += [f"  checked: {c.text()}" for c in self.checks]
        return "\n".join(lines)


@dataclass
class Report:
    """Every fact, with the proven-versus-checked line that every report prints."""

    facts: list
    bounds: dict

    def summary(self) -> str:
        proven = [f.key for f in self.facts if f.status == "proven"]
        checked = [f.key for f in self.facts if f.status == "checked"]
        failed = [f.key for f in self.facts if f.status == "failed"]
        line = f"proven for all sizes: {', '.join(proven) or 'none'}; checked only up to a bound: " \
               f"{', '.join(checked) or 'none'}"
        return line + (f"; FAILED: {', '.join(failed)}" if failed else "")

    @property
    def ok(self) -> bool:
        return all(f.status != "failed" for f in self.facts)

    def text(self, steps: bool = False) -> str:
        parts = ["symconv facts: a proof covers every size; a check covers the sizes it names.", ""]
        for fact in self.facts:
            parts += [fact.text(steps), ""]
        parts.append(self.summary())
        return "\n".join(parts)

    def to_json(self) -> dict:
        return {"facts": [f.to_json() for f in self.facts], "bounds": {f"{k[0]}-D{' full' if k[1] else ''}": v
                                                                       for k, v in self.bounds.items()},
                "proven": [f.key for f in self.facts if f.status == "proven"],
                "checked": [f.key for f in self.facts if f.status == "checked"],
                "failed": [f.key for f in self.facts if f.status == "failed"]}

    def __repr__(self):
        return self.text()


# Bounded families of the report, per (number of axes, full indices): (size bound, pad bound).
REPORT_BOUNDS = {(1, False): (3, 3), (1, True): (2, 2), (2, False): (2, 1), (2, True): (1, 1)}
SAME_BOUND = 16
# The loop reference is slow: its 2-D check keeps pads at 0.
REFERENCE_PAD_BOUND = {(1, False): 99, (1, True): 99, (2, False): 0, (2, True): 1}


def report_bounds(bound: int | None) -> dict:
    """The report's families for a user bound N: 1-D up to N, the others scaled down."""
    if bound is None:
        return dict(REPORT_BOUNDS)
    if not isinstance(bound, int) or bound < 1:
        raise SymconvError(f"--bound must be a positive integer, got {bound!r}")
    bounds = _scaled_bounds(bound)
    if not _fits(bounds):
        fits = [b for b in range(1, bound) if _fits(_scaled_bounds(b))]
        raise SymconvError(f"--bound {bound} means more than {MAX_CASES} convolutions in one of the report's "
                           f"checks: use --bound {fits[-1]} or less")
    return bounds


def _scaled_bounds(bound: int) -> dict:
    half = max(1, (bound + 1) // 2)
    return {(1, False): (bound, bound), (1, True): (half, half), (2, False): (half, max(1, half - 1)),
            (2, True): (1, 1)}


def _fits(bounds: dict) -> bool:
    return all(family_size(nd, full, b, p) <= MAX_CASES for (nd, full), (b, p) in bounds.items())


def _general_formula_matches(quantity: str, ndim: int) -> bool:
    """The derived closed form equals ``symbolic.general_formulas`` (normal forms match)."""
    from . import symbolic
    gf = symbolic.general_formulas(ndim)
    stated = {"forward": gf.forward, "filter_grad": gf.filter_grad, "input_grad": gf.input_grad}[quantity]
    result = reference_derivation("conv", ndim, True, True)
    closed = result.closed[quantity]
    rename = {claims_mod.size_symbol("CI"): gf.sizes["C_in"], claims_mod.size_symbol("CO"): gf.sizes["C_out"]}
    mapping = dict(zip(closed.lhs.indices, stated.lhs.indices))
    sub = lambda e: sympy.sympify(e).xreplace({**mapping, **rename})
    shapes = {t: tuple(sub(d) for d in result.geometry.shape(t)) for t in ("x", "k", "g")}
    box = {mapping[v]: (sub(lo), sub(hi)) for v, (lo, hi) in closed.ranges.items()}
    return same_formula(normal_form(stated.rhs, shapes), normal_form(sub(closed.expr()), shapes), box)


def _closed_form_fact(quantity: str, bounds: dict) -> Fact:
    tensor = TENSOR_OF[quantity]
    statement = {
        "filter_grad": "dk[a,ci,co] = sum over n and output positions i of [0 <= S*i + D*a - P <= H-1] "
                       "g[n,i,co] * x[n, S*i + D*a - P, ci] (per axis), for 1-D and 2-D convolutions",
        "input_grad": "dx[n,h,ci] = sum over output positions i, kernel offsets a and co of "
                      "[S*i + D*a - P == h] g[n,i,co] * k[a,ci,co] (per axis), for 1-D and 2-D convolutions"}[quantity]
    proof, derivations = [], []
    for ndim in (1, 2):
        result = reference_derivation("conv", ndim, True, True)
        derivations.append((f"{ndim}-D {quantity}", result.derivations[quantity]))
        proof.append(f"{ndim}-D: derived from the forward definition in {len(result.steps(quantity))} steps "
                     f"(L = sum(g*y), sympy.diff, delta sifting, conditions certified), each checked by SymPy")
        if not _general_formula_matches(quantity, ndim):
            raise StepFailed(f"fact '{tensor}-closed-form': the derived {ndim}-D form differs from "
                             f"symbolic.general_formulas")
        proof.append(f"{ndim}-D: equals symconv.symbolic.general_formulas({ndim}).{quantity} (normal forms match)")
    checks = []
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        closed = reference_derivation("conv", ndim, True, full).closed[quantity]
        cases = family(ndim, full, bound, pad_bound)
        n_cases, n_entries, bad = check_formula(compile_formula(closed.expr()), tensor, closed.lhs.indices, cases, full)
        checks.append(Check(family_text(ndim, full, bound, pad_bound), n_cases, n_entries, bad is None,
                            bad.text() if bad else ""))
    return Fact(f"{tensor}-closed-form", statement, True, proof, checks, derivations)


def transposed_form(ndim: int, full: bool):
    """dx as a stride-1 convolution of the dilated, padded g with the flipped kernel:
    (derivation, the formula with g~ written out, the pads per axis)."""
    geometry = symbolic_geometry("conv", ndim, True, full, names="claims")
    deriv = Derivation("input_grad as a transposed convolution")
    idx, ranges = geometry.tensor_indices("x")
    n = index("n")
    ci, co = geometry.channel_idx
    flipped = tuple(index(c + "'") for c in KERNEL_LETTERS[:ndim])
    out = geometry.out_idx
    K, S, D, P, H, OH = geometry.kernel, geometry.stride, geometry.dilation, geometry.pad, geometry.big, geometry.small
    before = tuple(d * (k - 1) - p for d, k, p in zip(D, K, P))
    after = tuple(h - 1 + p - s * (o - 1) for h, p, s, o in zip(H, P, S, OH))
    # g~[n, t, co] = sum_o delta(t, S*o + before) g[n, o, co]: g dilated by S, padded by (before, after)
    # k~[a', co, ci] = k[K-1-a', ci, co]: the kernel flipped, its channel axes swapped
    limits = [(a, Integer(0), k - 1) for a, k in zip(flipped, K)]
    if full:
        limits.append((co, Integer(0), geometry.c_out - 1))
    limits += [(o, Integer(0), oh - 1) for o, oh in zip(out, OH)]
    big = geometry.big_idx
    deltas = tuple(KroneckerDelta(h + d * a, s * o + b) for h, d, a, s, o, b in zip(big, D, flipped, S, out, before))
    g = sympy.IndexedBase("g")[geometry.activation(n, out, co)]
    k = sympy.IndexedBase("k")[geometry.kernel_entry(tuple(kk - 1 - a for kk, a in zip(K, flipped)), ci, co)]
    start = Term(tuple(limits), (), deltas + (g, k))
    lhs = sympy.IndexedBase("dx")[idx]
    deriv.record("g~ convolved with k~", "definition", lhs, [start],
                 "sum over a' and co of g~[n, h + D*a', co] * k~[a', co, ci], with g~ and k~ written out")
    # reindex a' = K-1-a: a bijection of 0..K-1 onto itself
    plain = geometry.kernel_idx
    swap = {a2: kk - 1 - a for a2, a, kk in zip(flipped, plain, K)}
    for a2, a, kk in zip(flipped, plain, K):
        image = swap[a2]
        if sympy.expand(image.xreplace({a: 0}) - (kk - 1)) != 0 or sympy.expand(image.xreplace({a: kk - 1})) != 0 \
                or sympy.expand(image + a) != kk - 1:
            deriv.fail("reindex", f"{a2} = {image} does not map 0..{kk - 1} onto itself")
    limits = tuple((plain[flipped.index(v)], lo, hi) if v in flipped else (v, lo, hi) for v, lo, hi in start.limits)
    reindexed = Term(limits, (), tuple(f.xreplace(swap) for f in start.factors))
    deriv.record("reindex a' = K-1-a", "reindex", lhs, [reindexed],
                 "a' -> K-1-a maps 0..K-1 onto itself (checked: the ends swap)")
    # each delta: h + D*(K-1-a) == S*o + D*(K-1) - P  <=>  h == S*o + D*a - P
    simplified = []
    for f, h, pos in zip(reindexed.factors[:ndim], big, geometry.positions(out, plain)):
        if sympy.expand((f.args[0] - f.args[1]) - (h - pos)) != 0:
            deriv.fail("delta", f"{f} is not delta({h}, {pos})")
        simplified.append(KroneckerDelta(h, pos))
    final = Term(reindexed.limits, (), tuple(simplified) + reindexed.factors[ndim:])
    deriv.record("delta arguments", "expand", lhs, [final],
                 "h + D*(K-1-a) - (S*o + D*(K-1) - P) expands to h - (S*o + D*a - P)")
    for b, a_, h, d, kk, s, oh in zip(before, after, H, D, K, S, OH):
        length = b + (s * (oh - 1) + 1) + a_
        if sympy.expand(length - (h + d * (kk - 1))) != 0 or sympy.expand(length - (d * (kk - 1) + 1) + 1 - h) != 0:
            deriv.fail("sizes", "the padded, dilated g does not give H outputs")
    return deriv, start.expr(), final, tuple(zip(before, after))


def _transposed_fact(bounds: dict) -> Fact:
    statement = ("dx is a stride-1 convolution (dilation D) of g dilated by S (S-1 zeros between entries) and "
                 "padded by D*(K-1) - P before and H - 1 + P - S*(OH-1) after (negative crops), with the kernel "
                 "flipped on every spatial axis (a -> K-1-a) and its in/out channel axes swapped")
    proof, derivations = [], []
    for ndim in (1, 2):
        deriv, _, final, _ = transposed_form(ndim, True)
        derivations.append((f"{ndim}-D {deriv.name}", deriv))
        closed = reference_derivation("conv", ndim, True, True).closed["input_grad"]
        geometry = reference_derivation("conv", ndim, True, True).geometry
        shapes = {t: geometry.shape(t) for t in ("x", "k", "g")}
        if not same_formula(normal_form(final.expr(), shapes), normal_form(closed.expr(), shapes), dict(closed.ranges)):
            raise StepFailed(f"fact 'dx-transposed': the {ndim}-D transposed form does not match dx's closed form")
        proof.append(f"{ndim}-D: {len(deriv.steps)} steps (write g~ and k~ out, reindex a' = K-1-a, expand the "
                     f"delta arguments), then equal to dx's proven closed form (normal forms match)")
    proof.append("the padded, dilated g has D*(K-1) - P + S*(OH-1) + 1 + H - 1 + P - S*(OH-1) = H + D*(K-1) "
                 "entries, so a stride-1 window of D*(K-1) + 1 gives exactly H outputs (SymPy expand)")
    checks = []
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        _, expr, _, _ = transposed_form(ndim, full)
        idx, _ = symbolic_geometry("conv", ndim, True, full, names="claims").tensor_indices("x")
        cases = family(ndim, full, bound, pad_bound)
        n_cases, n_entries, bad = check_formula(compile_formula(expr), "dx", idx, cases, full)
        checks.append(Check(family_text(ndim, full, bound, pad_bound), n_cases, n_entries, bad is None,
                            bad.text() if bad else ""))
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        if full:
            continue
        cases = family(ndim, False, bound, pad_bound)
        bad = next((c for c in cases if not _transposed_numeric(c.spec)), None)
        checks.append(Check(family_text(ndim, False, bound, pad_bound) + ", built with NumPy (dilate, pad or crop, "
                            "flip, correlate) on random integers", len(cases), 0, bad is None,
                            bad.describe() if bad else ""))
    return Fact("dx-transposed", statement, True, proof, checks, derivations)


def _transposed_numeric(spec: ConvSpec, seed: int = 0) -> bool:
    """dx by the transposed-convolution recipe, in NumPy, against the index maps' exact dx."""
    rng = np.random.default_rng(seed)
    nd = spec.ndim
    g = rng.integers(-9, 10, size=spec.small_spatial)
    k = rng.integers(-9, 10, size=spec.kernel_spatial)
    dil = np.zeros([s * (o - 1) + 1 for s, o in zip(spec.strides, spec.small_spatial)], dtype=np.int64)
    dil[tuple(slice(None, None, s) for s in spec.strides)] = g
    for axis in range(nd):
        K, S, D = spec.kernel_spatial[axis], spec.strides[axis], spec.dilations[axis]
        H, P, OH = spec.big_spatial[axis], spec.pads[axis][0], spec.small_spatial[axis]
        before, after = D * (K - 1) - P, H - 1 + P - S * (OH - 1)
        lo, hi = max(-before, 0), dil.shape[axis] - max(-after, 0)
        dil = np.take(dil, np.arange(lo, max(hi, lo)), axis=axis)
        widths = [(0, 0)] * nd
        widths[axis] = (max(before, 0), max(after, 0))
        dil = np.pad(dil, widths)
    flipped = k[(slice(None, None, -1),) * nd]
    dx = np.zeros(spec.big_spatial, dtype=np.int64)
    for a in itertools.product(*map(range, spec.kernel_spatial)):
        window = tuple(slice(d * aa, d * aa + h) for d, aa, h in zip(spec.dilations, a, spec.big_spatial))
        dx += flipped[a] * dil[window]
    shape = lambda s: (1, *s, 1)
    want = maps_for(spec).evaluate("input_grad", k=k.reshape(*spec.kernel_spatial, 1, 1),
                                   g=g.reshape(shape(spec.small_spatial)))
    return bool(np.array_equal(dx, want.reshape(spec.big_spatial)))


def _same_facts(bound: int) -> list:
    """SAME under tf (and where legacy_eigen parts from it), proven with certificates."""
    u, v, q, w = (Symbol(c, integer=True, nonnegative=True) for c in "uvqw")
    k, d = (Symbol(c, integer=True, positive=True) for c in "kd")
    s, r = 1 + u + v, 1 + u                # 1 <= r <= s: every (in, s) once, with in = s*q + r
    size_in, ke = s * q + r, d * (k - 1) + 1
    out = q + 1
    total0 = sympy.expand(q * s + ke - size_in)  # (out-1)*s + k_eff - in, unclamped
    proof_tf, proof_legacy = [], []

    def certify(lines, text, ok):
        if not ok:
            raise StepFailed(f"SAME proof step '{text}' failed")
        lines.append(text)

    certify(proof_tf, "write in = s*q + r with q >= 0, 1 <= r <= s (r = 1+u, s = 1+u+v; u, v >= 0): every "
            "in, s >= 1 arises exactly once (division with remainder: q = (in-1)//s; a standard fact, used "
            "as such)", True)
    certify(proof_tf, "ceil(in/s) = q+1: s*(q+1) - in = v >= 0 and in - s*q - 1 = u >= 0 (SymPy expand)",
            sympy.expand(s * out - size_in) == v and sympy.expand(size_in - s * q - 1) == u)
    certify(proof_tf, "unclamped total (out-1)*s + k_eff - in = d*(k-1) - u (SymPy expand)",
            sympy.expand(total0 - (d * (k - 1) - u)) == 0)
    m = Symbol("m", integer=True, nonnegative=True)
    certify(proof_tf, "total = max(that, 0) >= 0; writing total = 2*m + e (e in {0, 1}), before = m >= 0 and "
            "after = m + e >= before",
            sympy.Max(Symbol("t", integer=True), 0).is_nonnegative is True and all(
                sympy.floor((2 * m + ev) / 2) == m and manifestly_nonneg(m + ev - m) for ev in (0, 1)))
    # case A: total0 >= 0, total = total0
    n_a = sympy.floor(sympy.expand(size_in + total0 - ke) / s) + 1
    certify(proof_tf, "outputs with these pads, case total0 >= 0: floor((in + total0 - k_eff)/s) + 1 = "
            "floor(s*q/s) + 1 = q+1 (SymPy)", sympy.simplify(n_a - out) == 0)
    # case B: total0 < 0, i.e. u = d*(k-1) + 1 + w; total = 0
    case_b = {u: d * (k - 1) + 1 + w}
    num = sympy.expand((size_in - ke).xreplace(case_b))
    s_b = sympy.expand(s.xreplace(case_b))
    certify(proof_tf, "case total0 < 0 (u = d*(k-1) + 1 + w, w >= 0): in - k_eff - s*q = 1 + w >= 0 and "
            "s*(q+1) - (in - k_eff) - 1 = d*(k-1) + v >= 0, so floor((in - k_eff)/s) + 1 = q+1",
            manifestly_nonneg(num - s_b * q) and manifestly_nonneg(s_b * (q + 1) - num - 1))
    certify(proof_tf, "clamping acts only when the stride exceeds the dilated kernel: in case total0 < 0, "
            "s - k_eff - 1 = w + v >= 0", manifestly_nonneg(sympy.expand((s - ke - 1).xreplace(case_b))))
    # legacy_eigen: before = trunc(total0 / 2)
    certify(proof_legacy, "same parametrisation; legacy_eigen's before = trunc(total0/2) with total0 = d*(k-1) - u",
            True)
    certify(proof_legacy, "total0 >= 0: trunc = floor = tf's before (both floor(total0/2))", True)
    certify(proof_legacy, "total0 = -1: trunc(-1/2) = 0 = floor(max(-1, 0)/2), tf's before",
            sympy.floor(sympy.Rational(1, 2)) == 0)
    case_c = {u: d * (k - 1) + 2 + w}      # total0 = -(2 + w) <= -2
    t0 = sympy.expand(total0.xreplace(case_c))
    certify(proof_legacy, "total0 <= -2 (u = d*(k-1) + 2 + w): trunc(total0/2) = -floor((2+w)/2) = "
            "-1 - floor(w/2) <= -1 < 0 = tf's before, and s - k_eff - 2 = w + v >= 0",
            t0 == -(2 + w) and sympy.expand(-sympy.floor((2 + w) / 2) + 1 + sympy.floor(w / 2)) == 0
            and manifestly_nonneg(sympy.expand((s - ke - 2).xreplace(case_c))))
    tf, legacy = get_convention("tf"), get_convention("legacy_eigen")
    bad_tf = bad_legacy = None
    count = 0
    for size_, kernel, stride, dilation in itertools.product(range(1, bound + 1), repeat=4):
        count += 1
        res = tf(size_, kernel, stride, dilation)
        kern = effective_kernel(kernel, dilation)
        t0 = (ceil_div(size_, stride) - 1) * stride + kern - size_
        ok = (res.out == ceil_div(size_, stride) and min(res.before, res.after) >= 0
              and res.after - res.before in (0, 1)
              and output_size(size_, kernel, stride, dilation, res.before, res.after) == res.out
              and (t0 >= 0 or stride > kern))
        if not ok and bad_tf is None:
            bad_tf = (size_, kernel, stride, dilation)
        lres = legacy(size_, kernel, stride, dilation)
        ok = ((lres.before == res.before) == (t0 >= -1) and (lres.before < 0) == (t0 <= -2)
              and (t0 > -2 or stride >= kern + 2))
        if not ok and bad_legacy is None:
            bad_legacy = (size_, kernel, stride, dilation)
    scope = f"every input size, kernel size, stride and dilation in 1..{bound}, against the convention registry"
    return [
        Fact("same-tf", "under the tf convention, SAME gives ceil(in/s) outputs, the total padding "
             "max((out-1)*s + (k-1)*d + 1 - in, 0) is never negative (before <= after <= before + 1), the "
             "padded convolution really has ceil(in/s) outputs, and the clamp acts only when s > (k-1)*d + 1",
             True, proof_tf, [Check(scope, count, 0, bad_tf is None, f"at (in, k, s, d) = {bad_tf}")]),
        Fact("same-legacy-eigen", "legacy_eigen's before equals tf's unless the unclamped total is <= -2; then it "
             "is negative (the first window starts inside the input), which needs s >= (k-1)*d + 3",
             True, proof_legacy, [Check(scope, count, 0, bad_legacy is None, f"at (in, k, s, d) = {bad_legacy}")]),
    ]


def _reference_fact(bounds: dict) -> Fact:
    """The ground truth of the bounded checks, the index maps, against the loop reference."""
    from . import reference
    checks = []
    rng = np.random.default_rng(1)
    bounds = {key: (b, min(p, REFERENCE_PAD_BOUND[key])) for key, (b, p) in bounds.items()}
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        cases = family(ndim, full, bound, pad_bound)
        bad = None
        for case in cases:
            spec = case.spec
            x, k, g = (rng.integers(-9, 10, size=spec.shape_of(t)) for t in ("x", "k", "g"))
            for quantity in ("forward", "filter_grad", "input_grad"):
                want = reference.evaluate(spec, quantity, x=x, k=k, g=g)
                if not np.array_equal(maps_for(spec).evaluate(quantity, x=x, k=k, g=g), want):
                    bad = f"{quantity} at {case.describe()}"
                    break
            if bad:
                break
        checks.append(Check(family_text(ndim, full, bound, pad_bound) + ", random integers, y, dk and dx",
                            len(cases), 0, bad is None, bad or ""))
    return Fact("index-maps-vs-reference", "the index maps (the ground truth of every bounded check above) give "
                "the same y, dk and dx as the independent loop reference (symconv.reference)", False,
                ["none: this is a property of two implementations, not a formula; it is only checked"], checks)


def facts(bound: int | None = None) -> Report:
    """Prove every fact for symbolic sizes and check each up to its bound.

    >>> report = facts(bound=1)
    >>> [f.status for f in report.facts]
    ['proven', 'proven', 'proven', 'proven', 'proven', 'checked']
    >>> report.summary().split(";")[1]
    ' checked only up to a bound: index-maps-vs-reference'
    """
    bounds = report_bounds(bound)
    same_bound = SAME_BOUND if bound is None else max(2, 4 * bound)
    found = [_closed_form_fact("filter_grad", bounds), _closed_form_fact("input_grad", bounds),
             _transposed_fact(bounds), *_same_facts(same_bound), _reference_fact(bounds)]
    return Report(found, bounds)
