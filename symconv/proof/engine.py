"""The derivation engine: from the forward definition to the closed forms of dk and dx.

Rules turn one formula into the next (``differentiate``, ``split``, ``sift``, ``absorb``,
``discharge``, ``settle``) and every rule re-checks its own result with SymPy before it is
recorded as a ``Step``; a step that fails raises ``StepFailed`` naming the step.
``derive(geometry)`` runs the chain definition -> L = sum(g*y) -> dL/dk, dL/dx -> closed
forms, for symbolic sizes (a proof for all sizes) or numeric ones (one spec).

The rules act on one spatial axis at a time: the definition is a product over axes of one
axis's sum, bracket and position, so the derivation for any number of axes is the one-axis
derivation on every axis (``compose``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy import Add, Integer, KroneckerDelta, Mul, Piecewise, Symbol
from sympy.concrete.delta import deltasummation

from ..display import ShownMath
from ..errors import SymconvError
from ..model.spec import TENSOR_OF
from .certificates import condition_atoms, holds
from .formulas import StepFailed, Term, formula_expr, primed
from .geometry import Geometry, symbolic_geometry


@dataclass(frozen=True)
class Step:
    """One checked step: ``lhs = sum(terms)``, the rule that gave it and what SymPy checked."""

    title: str
    rule: str
    lhs: object
    terms: tuple
    checked: str


class Derivation(ShownMath):
    """A chain of checked steps."""

    def __init__(self, name: str):
        self.name = name
        self.steps: list[Step] = []

    def record(self, title, rule, lhs, terms, checked) -> tuple:
        self.steps.append(Step(title, rule, lhs, tuple(terms), checked))
        return tuple(terms)

    def fail(self, title: str, why: str):
        raise StepFailed(f"derivation '{self.name}', step '{title}' failed: {why}")


# ---- rules ---------------------------------------------------------------------------------

DEFINITION_CHECKED = "the forward convolution, as defined (x is zero outside its shape)"


def loss(deriv: Derivation, geometry: Geometry) -> Term:
    """L = sum over y's entries of g * y, with y replaced by its definition."""
    y_entry, definition = geometry.definition()
    g_idx, ranges = geometry.tensor_indices("g")
    g = sympy.IndexedBase("g")[g_idx]
    outer = tuple((v, lo, hi) for v, (lo, hi) in ranges.items())
    clash = set(ranges) & set(definition.bound)
    if clash:
        deriv.fail("L = sum(g*y)", f"summation indices {sorted(map(str, clash))} would be captured")
    deriv.record("definition of y", "definition", y_entry, [definition], DEFINITION_CHECKED)
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


def _base(sym) -> str:
    return sym.name.rstrip("'")


def _radix_parts(expr, radix, group: str, local: str):
    """``expr`` as radix*u + v with u in the group symbols and v in the local ones, or None."""
    u, v = Integer(0), Integer(0)
    for t in Add.make_args(sympy.expand(expr)):
        names = {_base(s) for s in t.free_symbols if isinstance(s, Symbol) and s not in radix.free_symbols}
        quotient = sympy.expand(t / radix)
        if names <= {group} and names and not quotient.has(sympy.Pow) and \
                all(c.is_Integer for c in sympy.Poly(quotient, *quotient.free_symbols).coeffs()):
            u += quotient
        elif names <= {local}:
            v += t
        else:
            return None
    if sympy.expand(expr - radix * u - v) != 0:
        return None
    return u, v


def split(deriv: Derivation, title: str, term: Term, geometry: Geometry, hypotheses: dict) -> Term:
    """delta(C*u + v, C*u' + v') = delta(u, u') * delta(v, v') when 0 <= v, v' <= C-1: a channel
    written as (group, channel within the group) is one channel."""
    box = dict(hypotheses)
    box.update({v: (lo, hi) for v, lo, hi in term.limits})
    factors, changed = [], False
    for f in term.factors:
        done = False
        if isinstance(f, KroneckerDelta):
            for radix, group, local in geometry.radices():
                parts = [_radix_parts(side, radix, group.name, local.name) for side in f.args]
                if None in parts or any(u == 0 for u, _ in parts):
                    continue
                (u1, v1), (u2, v2) = parts
                if not all(holds(v, box) and holds(radix - 1 - v, box) for v in (v1, v2)):
                    deriv.fail(title, f"{f}: the local indices are not certified to lie in 0..{radix - 1}")
                factors += [KroneckerDelta(u1, u2), KroneckerDelta(v1, v2)]
                changed = done = True
                break
        if not done:
            factors.append(f)
    if not changed:
        return term
    new = Term(term.limits, term.conditions, tuple(factors))
    deriv.record(title, "split", None, [new],
                 "C*u + v = C*u' + v' with 0 <= v, v' <= C-1 (certified over the index ranges) holds exactly when "
                 "u = u' and v = v' (uniqueness of division with remainder); the sides expand to C*u + v (checked)")
    return new


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
            want = condition_atoms(cond)
        else:
            expr, want = check, frozenset()
        mine = condition_atoms(sympy.And(sympy.Le(lo, w), sympy.Le(w, hi)))
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

@dataclass(repr=False)
class Closed(ShownMath):
    """A derived closed form: ``lhs = sum(terms)``, with the free indices' ranges."""

    quantity: str
    lhs: sympy.Indexed
    terms: tuple
    ranges: dict

    def expr(self):
        return formula_expr(self.terms)


@dataclass(repr=False)
class DerivationResult(ShownMath):
    """Everything ``derive`` proved: the steps and the closed forms of y, dk and dx."""

    geometry: Geometry
    derivations: dict
    closed: dict

    def steps(self, quantity: str) -> list:
        return self.derivations[quantity].steps


def _collapse(deriv, term, geometry, hypotheses: dict, numeric: bool, label: str):
    term = split(deriv, f"one delta per channel index ({label})", term, geometry, hypotheses)
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
    numeric = all(getattr(s, "is_Integer", False) for s in geometry.input_size + geometry.kernel)
    derivations, closed = {}, {}
    y_entry, definition = geometry.definition()
    _, y_ranges = geometry.tensor_indices("g")
    forward = Derivation("forward")
    forward.record("definition of y", "definition", y_entry, [definition], DEFINITION_CHECKED)
    y_terms = [definition]
    if numeric:
        term = _collapse(forward, definition, geometry, y_ranges, numeric, "y")
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
            t = _collapse(deriv, t, geometry, hypotheses, numeric, TENSOR_OF[quantity])
            if t is not None:
                out.append(rename(t, {p: v for v, p in prime.items()}))
        lhs = sympy.IndexedBase(TENSOR_OF[quantity])[idx]
        deriv.record(f"closed form of {TENSOR_OF[quantity]}", "rename", lhs, out,
                     "the primed entry indices renamed back (none of them is a summation index)")
        derivations[quantity] = deriv
        closed[quantity] = Closed(quantity, lhs, tuple(out), ranges)
    return DerivationResult(geometry, derivations, closed)


@lru_cache(maxsize=64)
def reference_derivation(kind: str, ndim: int, channels_last: bool, full: bool, grouped: bool = False,
                         kernel_layout: str | None = None) -> DerivationResult:
    """The derivation with the claim language's size symbols (cached); ``kernel_layout`` the
    kernel's letters (None: TensorFlow's)."""
    return derive(symbolic_geometry(kind, ndim, channels_last, full, names="claims", grouped=grouped,
                                    kernel_layout=kernel_layout))


# ---- any number of axes: the one-axis derivation on every axis -------------------------------------

def axis_mapping(one: Geometry, many: Geometry, axis: int) -> dict:
    """The one-axis geometry's sizes and indices (and primed indices) -> those of ``axis``."""
    mapping = {}
    for field in ("input_size", "kernel", "stride", "dilation", "pad", "output_size"):
        mapping[getattr(one, field)[0]] = getattr(many, field)[axis]
    for field in ("out_idx", "kernel_idx", "input_idx"):
        src, dst = getattr(one, field)[0], getattr(many, field)[axis]
        mapping[src], mapping[primed(src)] = dst, primed(dst)
    return mapping


def _spatial_slots(geometry: Geometry, entry: sympy.Indexed) -> int:
    """Where the (single) spatial index of a one-axis entry sits."""
    if not geometry.full or str(entry.base) in ("k", "dk"):
        return 0
    return 1 if geometry.channels_last else 2


def compose_term(term: Term, one: Geometry, many: Geometry) -> Term:
    """A one-axis term on every axis of ``many``: each piece that involves the axis (a range,
    a bracket, a delta, the spatial index of an entry) once per axis, the rest once."""
    maps = [axis_mapping(one, many, r) for r in range(many.ndim)]
    axis_symbols = set(maps[0])
    on_axis = lambda e: e is not None and bool(sympy.sympify(e).free_symbols & axis_symbols)
    copies = lambda e: [sympy.sympify(e).xreplace(m) for m in maps]
    limits = []
    for v, lo, hi in term.limits:
        limits += [(m[v], lo.xreplace(m), hi.xreplace(m)) for m in maps] if v in axis_symbols else [(v, lo, hi)]
    conditions = []
    for c in term.conditions:
        if any(on_axis(part) for part in c):
            conditions += [tuple(None if p is None else sympy.sympify(p).xreplace(m) for p in c) for m in maps]
        else:
            conditions.append(c)
    factors = []
    for f in term.factors:
        if isinstance(f, sympy.Indexed):
            factors.append(compose_entry(f, one, many))
        elif on_axis(f):
            factors += copies(f)
        else:
            factors.append(f)
    return Term(tuple(limits), tuple(conditions), tuple(factors))


def compose_entry(entry: sympy.Indexed, one: Geometry, many: Geometry) -> sympy.Indexed:
    maps = [axis_mapping(one, many, r) for r in range(many.ndim)]
    slot = _spatial_slots(one, entry)
    idx = list(entry.indices)
    spatial = [sympy.sympify(idx[slot]).xreplace(m) for m in maps]
    return entry.base[tuple(idx[:slot] + spatial + idx[slot + 1:])]


def compose(closed: Closed, one: Geometry, many: Geometry) -> Closed:
    """A one-axis closed form on every axis of ``many``."""
    maps = [axis_mapping(one, many, r) for r in range(many.ndim)]
    ranges = {}
    for v, r in closed.ranges.items():
        if v in maps[0]:
            ranges.update({m[v]: tuple(sympy.sympify(e).xreplace(m) for e in r) for m in maps})
        else:
            ranges[v] = r
    return Closed(closed.quantity, compose_entry(closed.lhs, one, many),
                  tuple(compose_term(t, one, many) for t in closed.terms), ranges)


@lru_cache(maxsize=64)
def composed_closed(kind: str, ndim: int, channels_last: bool, full: bool, grouped: bool = False) -> dict:
    """The closed forms of y, dk and dx for ``ndim`` axes, composed from the one-axis
    derivation (claim-language symbols)."""
    one = reference_derivation(kind, 1, channels_last, full, grouped)
    many = symbolic_geometry(kind, ndim, channels_last, full, names="claims", grouped=grouped)
    return {q: compose(c, one.geometry, many) for q, c in one.closed.items()}
