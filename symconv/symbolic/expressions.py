"""SymPy expressions: one entry at a time from the index maps, closed forms, the literal route.

Tensors are ``IndexedBase`` objects ``x``, ``k`` and ``g`` (g = dL/dy, the upstream
gradient), indexed in the spec's own layouts: ``x[0, 1, 1, 0]`` prints as such and as
``x_{0,1,1,0}`` in LaTeX.  Three routes lead to the same expressions:

* ``expression``: the explicit sum of products of one entry, built from its index-map terms;
* ``closed_form``: the same entry as a compact ``Sum`` over index ranges (cheap whatever the
  tensor size; ``.doit()`` gives the explicit sum);
* ``literal_derivation``: every y entry built from the definition (neither the index maps
  nor the loop reference), L = sum(g * y), and ``sympy.diff`` by every kernel and input
  entry.  Slow; for small shapes and cross-checks.

``general_formulas`` states dk and dx for symbolic sizes (N, H, K, S, D, P, ...).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
import sympy
import sympy.tensor.tensor  # noqa: F401  SymPy imports it lazily on the first Add of Indexed
from sympy import Add, Eq, IndexedBase, Integer, Mul, Piecewise, Sum, Symbol

from ..errors import SymconvError, shown
from ..model import layout
from ..model.indexmap import maps_for
from ..model.quantities import FACTORS, as_quantity
from ..model.spec import ConvSpec, entry_name

BASES = {name: IndexedBase(name) for name in ("x", "k", "g", "y", "dk", "dx")}

# Above this many products, explicit SymPy sums are refused: use one entry or the closed form.
EXPLICIT_TERM_LIMIT = 200_000


@lru_cache(maxsize=1 << 18)
def entry(tensor: str, index: tuple) -> sympy.Indexed:
    """The symbol for one tensor entry, e.g. ``entry('x', (0, 1, 1, 0))`` is ``x[0, 1, 1, 0]``."""
    return BASES[tensor][tuple(Integer(i) for i in index)]


@lru_cache(maxsize=None)
def _canonical_order(first: str, second: str) -> bool:
    """Whether SymPy's canonical Mul puts ``first``'s entry before ``second``'s."""
    probe = Mul(BASES[first][0], BASES[second][0])
    return probe.args[0].base == BASES[first]


def product(first: str, first_index, second: str, second_index, coefficient: int = 1):
    """``coefficient * first[...] * second[...]``, built without re-sorting its factors."""
    a, b = entry(first, tuple(first_index)), entry(second, tuple(second_index))
    if not _canonical_order(first, second):
        a, b = b, a
    if coefficient == 1:
        return Mul._from_args((a, b))
    return Mul(Integer(coefficient), a, b)


def expression(spec: ConvSpec, quantity: str, index) -> sympy.Expr:
    """The explicit sum of products that makes one entry of y, dk or dx."""
    quantity = as_quantity(quantity)
    count = maps_for(spec).count(quantity, index)
    if count > EXPLICIT_TERM_LIMIT:
        raise SymconvError(
            f"{entry_name(quantity, index)} has {count} terms, more than the explicit limit {EXPLICIT_TERM_LIMIT}: "
            f"use its closed form or its index-map terms")
    return terms_expression(maps_for(spec).terms(quantity, index))


def terms_expression(terms) -> sympy.Expr:
    one, two = terms.factors
    coefs = terms.coefficients if terms.coefficients is not None else itertools.repeat(1)
    return Add(*[product(one, f, two, s, int(c))
                 for f, s, c in zip(map(tuple, terms.first.tolist()), map(tuple, terms.second.tolist()), coefs)])


# ---- closed forms of one entry -----------------------------------------------------------

OUTPUT_DUMMIES = {1: ("i",), 2: ("i", "j"), 3: ("i", "j", "l")}
OFFSET_DUMMIES = {1: ("a",), 2: ("a", "b"), 3: ("a", "b", "c")}
STEP_DUMMIES = {1: ("u",), 2: ("u", "v"), 3: ("u", "v", "w")}


@lru_cache(maxsize=None)
def dummy(name: str) -> Symbol:
    return Symbol(name, integer=True, nonnegative=True)


class _Ranges:
    """Collects (symbol, lo, hi) ranges; a single-value range is substituted, not summed."""

    def __init__(self):
        self.limits = []
        self.empty = False

    def add(self, name, lo, hi):
        lo, hi = int(lo), int(hi)
        if hi < lo:
            self.empty = True
            return Integer(lo)
        if lo == hi:
            return Integer(lo)
        sym = dummy(name)
        self.limits.append((sym, lo, hi))
        return sym

    def wrap(self, body):
        if self.empty:
            return Integer(0)
        return Sum(body, *self.limits) if self.limits else body


def closed_form(spec: ConvSpec, quantity: str, index) -> sympy.Expr:
    """One entry as a compact ``Sum`` over index ranges (exact; ``.doit()`` expands it).

    >>> spec = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
    >>> closed_form(spec, "filter_grad", (0, 0, 1, 5))
    Sum(g[0, i, j, 5]*x[0, 2*i - 2, 2*j - 2, 1], (i, 1, 111), (j, 1, 111))
    """
    maps = maps_for(spec)
    quantity = as_quantity(quantity)
    index, role, canon = maps.locate(quantity, index)
    build = {"direct_output": _closed_output, "direct_input": _closed_input, "kernel": _closed_kernel}[role]
    ranges = _Ranges()
    parts = build(spec, maps, ranges, canon[0], canon[1], canon[2:])
    one, two = FACTORS[quantity]
    body = Mul(BASES[one][_user(spec, one, parts[maps.roles[one]])],
               BASES[two][_user(spec, two, parts[maps.roles[two]])])
    return ranges.wrap(body)


def _user(spec, tensor, canon):
    """Canonical components -> the tensor's own layout.  A direct-output channel comes as the
    pair (group, local index): a depthwise kernel in HWCM is indexed by (channel, multiplier)."""
    per_group = spec.direct_output_channels // spec.conv_groups

    def flat(c):
        return c[0] * per_group + c[1] if isinstance(c, tuple) else c

    own = layout.of(spec, tensor)
    by_letter = dict(zip(own.stored, (canon[axis] for axis in own.permutation)))
    pair = by_letter.get("O")
    split = dict(zip(layout.SPLIT_CHANNELS, pair)) if isinstance(pair, tuple) else {}
    return tuple(split[letter] if letter in split else flat(by_letter[letter]) for letter in own.letters)


def _positions(spec, o, a):
    return [s * oi + d * ai - b for oi, ai, s, d, (b, _) in zip(o, a, spec.strides, spec.dilations, spec.pads)]


def _interval(values):
    return (values[0], values[-1]) if len(values) else (0, -1)


def _closed_output(spec, maps, ranges, n, cs, o):
    """Writers of one direct-output entry: a box of kernel offsets times the group's input channels."""
    grp = cs // maps.output_per_group
    output_channel = (grp, cs - grp * maps.output_per_group)
    a = [ranges.add(name, *_interval(axis.kernel_offsets(oi)))
         for axis, oi, name in zip(maps.axes, o, OFFSET_DUMMIES[spec.ndim])]
    cil = ranges.add("ci", 0, maps.input_per_group - 1)
    return {"direct_input": (n, grp * maps.input_per_group + cil, *_positions(spec, o, a)),
            "direct_output": (n, output_channel, *o), "kernel": (output_channel, cil, *a)}


def _closed_kernel(spec, maps, ranges, cs, cil, a):
    """Uses of one kernel entry: a box of batch indices and output positions."""
    grp = cs // maps.output_per_group
    output_channel = (grp, cs - grp * maps.output_per_group)
    n = ranges.add("n", 0, spec.batch - 1)
    o = [ranges.add(name, *_interval(axis.output_positions(ai)))
         for axis, ai, name in zip(maps.axes, a, OUTPUT_DUMMIES[spec.ndim])]
    return {"direct_input": (n, grp * maps.input_per_group + cil, *_positions(spec, o, a)),
            "direct_output": (n, output_channel, *o), "kernel": (output_channel, cil, *a)}


def _closed_input(spec, maps, ranges, n, cb, p):
    """Readers of one direct-input pixel.  Per axis the offsets a with s*o + d*a - before == p form an
    arithmetic progression a0 + step*t, step = s / gcd(s, d); then o = (p + before - d*a) / s."""
    grp, cil = divmod(cb, maps.input_per_group)
    o, a = [], []
    for axis, pi, off_name, step_name in zip(maps.axes, p, OFFSET_DUMMIES[spec.ndim], STEP_DUMMIES[spec.ndim]):
        s, d = axis.stride, axis.dilation
        offsets = np.sort(axis.readers(pi)[1])
        step = s // gcd(s, d)
        if step == 1 or len(offsets) < 2:
            ai = ranges.add(off_name, *_interval(offsets))
        else:
            ai = int(offsets[0]) + step * ranges.add(step_name, 0, len(offsets) - 1)
        a.append(ai)
        o.append(sympy.expand((pi + axis.before - d * ai) / Integer(s)))
    output_channel = (grp, ranges.add("co", 0, maps.output_per_group - 1))
    return {"direct_input": (n, cb, *p), "direct_output": (n, output_channel, *o), "kernel": (output_channel, cil, *a)}


# ---- the literal route: build y, L = sum(g * y), differentiate -----------------------------

LITERAL_TERM_LIMIT = 60_000


@dataclass
class LiteralDerivation:
    """Every y entry from the definition, L = sum(g*y), and dL/dk, dL/dx by ``sympy.diff``."""

    spec: ConvSpec
    forward: dict
    loss: sympy.Expr
    filter_grad: dict
    input_grad: dict

    def entries(self, quantity: str) -> dict:
        return getattr(self, quantity)


def forward_by_definition(spec: ConvSpec, x, k) -> np.ndarray:
    """y straight from the definition, in the spec's own layouts, without the index maps or
    the loop reference: every output position o and kernel offset a read the input position
    s*o + d*a - before when it lies inside (a transposed convolution: y at that position
    collects x at o), and every output channel pairs with the input channels of its group."""
    y = np.zeros(spec.y_shape, dtype=object)
    y[...] = Integer(0)
    spatial = layout.spatial_letters(spec.ndim)
    activation = lambda n, c, p: tuple({"N": n, "C": c, **dict(zip(spatial, p))}[a] for a in spec.data_format)
    # The kernel's letters: O and I are y's and x's channels, one of them the direct output's
    # (full) and the other the direct input's (within its group); C and M a depthwise kernel's
    # channel and multiplier (y channel = channel*M + multiplier).
    output_letter = {"y": "O", "x": "I"}[spec.tensor_with_role("direct_output")]
    input_letter = {"O": "I", "I": "O"}[output_letter]
    groups = spec.conv_groups
    per_input, per_output = spec.direct_input_channels // groups, spec.direct_output_channels // groups
    for o in itertools.product(*map(range, spec.direct_output_spatial)):
        for a in itertools.product(*map(range, spec.kernel_spatial)):
            p = tuple(s * oi + d * ai - b for oi, ai, s, d, (b, _) in zip(o, a, spec.strides, spec.dilations, spec.pads))
            if not all(0 <= pi < size for pi, size in zip(p, spec.direct_input_spatial)):
                continue
            for n in range(spec.batch):
                for cs in range(spec.direct_output_channels):
                    group, local = divmod(cs, per_output)
                    for cl in range(per_input):
                        cb = group * per_input + cl
                        letters = {**dict(zip(spatial, a)), output_letter: cs, input_letter: cl, "C": cb, "M": local}
                        kernel = k[tuple(letters[letter] for letter in spec.kernel_layout)]
                        at = {"direct_input": activation(n, cb, p), "direct_output": activation(n, cs, o)}
                        y[at[spec.role("y")]] += x[at[spec.role("x")]] * kernel
    return y


def symbol_array(spec: ConvSpec, tensor: str, plain: bool = False) -> np.ndarray:
    """An object array of the tensor's entries, in the spec's layout.  ``plain`` gives
    ``Symbol('x[0, 1, 1, 0]')`` instead of the indexed ``x[0, 1, 1, 0]`` (the same name;
    SymPy differentiates plain symbols several times faster)."""
    shape = spec.shape_of(tensor)
    arr = np.empty(shape, dtype=object)
    for idx in itertools.product(*map(range, shape)):
        arr[idx] = Symbol(str(entry(tensor, idx))) if plain else entry(tensor, idx)
    return arr


def literal_size(spec: ConvSpec) -> int:
    """Number of products in L = sum(g*y): one per (y entry, tap that reads a pixel)."""
    return maps_for(spec).product_count()


def literal_derivation(spec: ConvSpec, limit: int = LITERAL_TERM_LIMIT,
                       gradients=("filter_grad", "input_grad")) -> LiteralDerivation:
    """The by-hand derivation, independent of the index maps and of the loop reference: every y
    entry from the definition (``forward_by_definition``), then L = sum(g*y) and one
    ``sympy.diff`` per kernel entry
    (``filter_grad``) and per input entry (``input_grad``), as ``gradients`` asks.
    Refused above ``limit`` products: ask for single entries instead."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise SymconvError(f"limit must be an integer number of products, got {shown(limit)}")
    gradients = _gradients(gradients)
    size = literal_size(spec)
    if size > limit:
        raise SymconvError(
            f"the literal derivation of this {spec.op} has {size} products, more than the limit {limit}: "
            f"ask for single entries (symconv which ... --entry 'dk[...]') instead")
    x, k, g = (symbol_array(spec, t, plain=True) for t in ("x", "k", "g"))
    back = {}
    for name, arr in (("x", x), ("k", k), ("g", g)):
        for idx in itertools.product(*map(range, arr.shape)):
            back[arr[idx]] = entry(name, idx)
    y = forward_by_definition(spec, x, k)
    y_entries = list(itertools.product(*map(range, y.shape)))
    loss = Add(*[g[idx] * y[idx] for idx in y_entries])
    indexed = lambda expr: sympy.sympify(expr).xreplace(back)
    grads = {name: {idx: indexed(sympy.diff(loss, arr[idx])) for idx in itertools.product(*map(range, arr.shape))}
             if name in gradients else {} for name, arr in (("filter_grad", k), ("input_grad", x))}
    return LiteralDerivation(spec, forward={idx: indexed(y[idx]) for idx in y_entries}, loss=indexed(loss), **grads)


def _gradients(gradients) -> set:
    """The gradients a literal derivation differentiates: names of dk and dx (any spelling)."""
    if isinstance(gradients, str):
        gradients = (gradients,)
    if not isinstance(gradients, (list, tuple, set, frozenset)):
        raise SymconvError(f"gradients must be a list of filter_grad (dk) and input_grad (dx), got {shown(gradients)}")
    chosen = {as_quantity(name) for name in gradients}
    if "forward" in chosen:
        raise SymconvError("gradients must be a list of filter_grad (dk) and input_grad (dx): the forward y is "
                           "always derived")
    return chosen


# ---- closed forms for symbolic sizes --------------------------------------------------------

@dataclass(frozen=True)
class GeneralFormulas:
    """dk and dx of a channels-last convolution with symbolic sizes.

    Sizes: batch N, input H (per axis), kernel K, stride S, dilation D, padding before P,
    output OH; channels C_in, C_out.  ``indicator(cond)`` is 1 where cond holds, else 0.
    """

    ndim: int
    sizes: dict
    forward: Eq
    filter_grad: Eq
    input_grad: Eq

    def substitute(self, spec: ConvSpec) -> dict:
        """Size symbols -> the spec's numbers (a groups=1, channels-last conv)."""
        values = {self.sizes["N"]: spec.batch, self.sizes["C_in"]: spec.direct_input_channels,
                  self.sizes["C_out"]: spec.direct_output_channels}
        for i in range(self.ndim):
            for name, value in (("H", spec.direct_input_spatial[i]), ("K", spec.kernel_spatial[i]),
                                ("S", spec.strides[i]), ("D", spec.dilations[i]),
                                ("P", spec.pads[i][0]), ("OH", spec.direct_output_spatial[i])):
                values[self.sizes[f"{name}{i}"]] = value
        return values


def indicator(condition) -> Piecewise:
    return Piecewise((1, condition), (0, True))


def general_formulas(ndim: int) -> GeneralFormulas:
    """y, dk and dx of a convolution with ``ndim`` spatial axes (1, 2 or 3) and symbolic sizes."""
    if isinstance(ndim, (bool, np.bool_)) or not isinstance(ndim, (int, np.integer)) or ndim not in (1, 2, 3):
        raise SymconvError(f"general formulas exist for 1, 2 or 3 spatial axes, got {shown(ndim)}")
    return _general_formulas(int(ndim))


@lru_cache(maxsize=None)
def _general_formulas(ndim: int) -> GeneralFormulas:
    sizes = {name: Symbol(name, integer=True, positive=True) for name in ("N", "C_in", "C_out")}
    for i in range(ndim):
        for name in ("H", "K", "S", "D", "OH"):
            sizes[f"{name}{i}"] = Symbol(f"{name}{i}", integer=True, positive=True)
        sizes[f"P{i}"] = Symbol(f"P{i}", integer=True)
    o = [dummy(nm) for nm in OUTPUT_DUMMIES[ndim]]
    a = [dummy(nm) for nm in OFFSET_DUMMIES[ndim]]
    h = [dummy(nm) for nm in ("h", "w", "z")[:ndim]]
    n, ci, co = dummy("n"), dummy("ci"), dummy("co")
    pos = [sizes[f"S{i}"] * o[i] + sizes[f"D{i}"] * a[i] - sizes[f"P{i}"] for i in range(ndim)]
    inside = sympy.And(*[sympy.And(0 <= pos[i], pos[i] < sizes[f"H{i}"]) for i in range(ndim)])
    x, k, g = BASES["x"], BASES["k"], BASES["g"]
    out_limits = [(o[i], 0, sizes[f"OH{i}"] - 1) for i in range(ndim)]
    k_limits = [(a[i], 0, sizes[f"K{i}"] - 1) for i in range(ndim)]
    forward = Eq(BASES["y"][(n, *o, co)],
                 Sum(indicator(inside) * x[(n, *pos, ci)] * k[(*a, ci, co)], *k_limits, (ci, 0, sizes["C_in"] - 1)))
    filter_grad = Eq(BASES["dk"][(*a, ci, co)],
                     Sum(indicator(inside) * g[(n, *o, co)] * x[(n, *pos, ci)], (n, 0, sizes["N"] - 1), *out_limits))
    hits = sympy.And(*[sympy.Eq(pos[i], h[i]) for i in range(ndim)])
    input_grad = Eq(BASES["dx"][(n, *h, ci)],
                    Sum(indicator(hits) * g[(n, *o, co)] * k[(*a, ci, co)], *out_limits, *k_limits,
                        (co, 0, sizes["C_out"] - 1)))
    return GeneralFormulas(ndim, sizes, forward, filter_grad, input_grad)


def instantiate(formula: Eq, values: dict, entry_index: dict) -> sympy.Expr:
    """A general formula's right side with sizes and the entry's indices filled in, summed out."""
    rhs = formula.rhs.xreplace({**values, **entry_index})
    return sympy.expand(rhs.doit())
