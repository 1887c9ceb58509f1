"""Claims: a user's formula proven for all sizes, checked by exhaustion, or refuted.

``prove_claim`` checks a formula (see ``symconv.claims``) against the index maps: over a
bounded family of convolutions (``family``: every size up to a bound, smallest first) or at
every entry of one spec.  The answer is proven (its normal form equals a closed form derived,
step by step, from the forward definition), checked (it held everywhere it was checked, and
nothing more is claimed) or refuted, with the smallest counterexample.  Every evaluation runs
within a ``Budget``; a request whose size alone is too large is refused before it starts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sympy import Symbol

from ..display import Shown, ShownMath
from ..errors import SymconvError
from ..model import layout
from ..model.conventions import effective_kernel
from ..model.indexmap import IndexMaps
from ..model.quantities import QUANTITY_OF, SHAPED_LIKE
from ..model.spec import ConvSpec, parse_kernel_layout
from . import claims as claims_mod
from .engine import reference_derivation
from .formulas import TERM_LIMIT, Budget, Formula, StepFailed, compile_formula, product_estimate, value_of
from .normal_form import MAX_NORMAL_TERMS, normal_form, normal_form_size, same_formula

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
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
        raise SymconvError(f"--bound must be a positive integer, got {bound!r}")
    pad_bound = bound if pad_bound is None else pad_bound
    count = family_size(ndim, full, bound, pad_bound)
    if count > MAX_CASES:
        fits = largest_fitting(lambda b: family_size(ndim, full, b, min(b, pad_bound)) <= MAX_CASES)
        advice = f"use --bound {fits} or less" if fits else "give a concrete spec instead"
        shown = count if count < 10**12 else "more than 10^12"
        raise SymconvError(f"--bound {bound if bound < 10**12 else 'of more than 12 digits'} means {shown} "
                           f"{ndim}-D convolutions to check, more than {MAX_CASES}: {advice}")
    return _family(ndim, full, bound, pad_bound)


def largest_fitting(fits) -> int:
    """The largest bound b >= 1 with fits(b), for a test that fails from some bound on (0 if
    none fits); asks fits about a few bounds only."""
    b = 0
    while fits(b + 1):
        b += 1
    return b


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
        sizes.update({f"H{r}": spec.direct_input_spatial[r], f"K{r}": spec.kernel_spatial[r],
                      f"S{r}": spec.strides[r], f"D{r}": spec.dilations[r], f"P{r}": spec.pads[r][0],
                      f"OH{r}": spec.direct_output_spatial[r]})
    sizes.update({"N": spec.batch, "CI": spec.x_shape[layout.channel_axis(spec, "x")],
                  "CO": spec.y_shape[layout.channel_axis(spec, "y")]})
    return sizes


def _spatial(spec: ConvSpec, tensor: str, idx: tuple) -> tuple:
    return tuple(idx[axis] for axis in layout.spatial_axes(spec, tensor))


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
    fwd = IndexMaps(spec).forward_spatial()
    nd = spec.ndim
    table = {}
    for pos in zip(*np.nonzero(fwd >= 0)):
        o, a = tuple(map(int, pos[:nd])), tuple(map(int, pos[nd:]))
        p = tuple(int(v) for v in np.unravel_index(int(fwd[pos]), spec.direct_input_spatial))
        key, m = {"forward": (o, (("k", a), ("x", p))), "filter_grad": (a, (("g", o), ("x", p))),
                  "input_grad": (p, (("g", o), ("k", a)))}[quantity]
        slot = table.setdefault(key, {})
        slot[m] = slot.get(m, 0) + 1
    return table


def _full_entry(spec, quantity, entry):
    """A spatial-only entry with batch and channels 0, in the spec's layout."""
    tensor = SHAPED_LIKE[quantity]
    full = [0] * len(spec.shape_of(tensor))
    for axis, value in zip(layout.spatial_axes(spec, tensor), entry):
        full[axis] = value
    return tuple(full)


def display_sizes(sizes: dict, ndim: int) -> dict:
    """Canonical size names -> the 1-D or 2-D aliases people write (H, W, KH, ...)."""
    names = {v: k for k, v in claims_mod.ALIASES.get(ndim, {}).items()}
    return {names.get(k, k): v for k, v in sizes.items()}


def id_tensors(shapes: dict) -> dict:
    """x, k and g filled with 1, 2, 3, ... in row-major order (the values counterexamples show)."""
    return {t: np.arange(1, int(np.prod(s)) + 1, dtype=np.int64).reshape(s) for t, s in shapes.items()}


@dataclass(repr=False)
class Counterexample(Shown):
    """Where a formula and the index maps disagree: one entry of one convolution, with the
    claimed and the actual products."""

    sizes: dict
    spec: str
    entry: str
    claimed: dict
    actual: dict
    shapes: dict

    @property
    def missing(self) -> dict:
        return {m: c for m, c in self.actual.items() if self.claimed.get(m) != c}

    @property
    def extra(self) -> dict:
        return {m: c for m, c in self.claimed.items() if self.actual.get(m) != c}

    def to_json(self) -> dict:
        tensors = id_tensors(self.shapes)
        return {"sizes": self.sizes, "spec": self.spec, "entry": self.entry,
                "claimed": {"terms": terms_text(self.claimed), "value": value_of(self.claimed, tensors)},
                "actual": {"terms": terms_text(self.actual), "value": value_of(self.actual, tensors)},
                "missing": terms_text(self.missing), "extra": terms_text(self.extra),
                "values_from": VALUES_FROM}


VALUES_FROM = "x, k and g filled with 1, 2, 3, ... in row-major order"


def term_text(monomial, coefficient=1) -> str:
    """One product as text: ``g[0,1]*x[0,2]``."""
    body = "*".join(f"{name}[{','.join(map(str, idx))}]" for name, idx in monomial)
    return body if coefficient == 1 else f"{coefficient}*{body}"


def terms_text(terms: dict) -> list:
    """A monomial multiset as sorted product texts."""
    return [term_text(m, c) for m, c in sorted(terms.items())]


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


def compare_formula(formula: Formula, tensor: str, lhs: tuple, cases, full: bool, budget: Budget | None = None):
    """Compare a formula with the index maps at every matching entry of every case, in order.
    Returns (number of cases, number of entries, first Counterexample or None)."""
    quantity = QUANTITY_OF[tensor]
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
            out_shape = _spatial(spec, tensor, out_shape)
        table = _spatial_table(spec, quantity) if not full and spec.kind == "conv" else None
        maps = IndexMaps(spec) if table is None else None
        for entry, free in _entries(lhs, out_shape):
            n_entries += 1
            claimed = formula.terms({**values, **free}, shapes, budget)
            actual = table.get(entry, {}) if table is not None else actual_terms(maps, quantity, entry, full)
            if claimed != actual:
                name = f"{tensor}[{','.join(map(str, entry))}]"
                return n_cases, n_entries, Counterexample(display_sizes(case.sizes, spec.ndim), spec.describe(),
                                                          name, claimed, actual, shapes)
    return n_cases, n_entries, None


def _reference(claim, kind: str, channels_last: bool, kernel_layout: str | None = None):
    """(reference formula, hypotheses box, tensor shapes, derivation) for a claim's left side."""
    result = reference_derivation(kind, claim.ndim, channels_last, claim.full, kernel_layout=kernel_layout)
    closed = result.closed[claim.quantity]
    mapping = {}
    for ref, mine in zip(closed.lhs.indices, claim.lhs):
        if not isinstance(ref, Symbol):
            return None
        mapping[ref] = mine
    box = {mine: closed.ranges[ref] for ref, mine in mapping.items() if isinstance(mine, Symbol)}
    shapes = {t: result.geometry.shape(t) for t in ("x", "k", "g")}
    return closed.expr().xreplace(mapping), box, shapes, result


def proof_family(kind: str, ndim: int, channels_last: bool, full: bool, kernel_layout: str | None = None) -> str:
    """The convolutions a symbolic proof covers, in words."""
    op = {"conv": "convolution", "transpose": "transposed convolution", "depthwise": "depthwise convolution"}[kind]
    layouts = ("channels last" if channels_last else "channels first") if full else "batch 1, one channel"
    if full and kernel_layout is not None:
        layouts += f", kernel {kernel_layout}"
    return (f"every {ndim}-D {op} (groups 1, {layouts}) of any sizes: every input size, kernel size, stride, "
            f"dilation and output size >= 1 and every pad")


def attempt_proof(claim, kind: str = "conv", channels_last: bool = True, grouped: bool = False,
                  kernel_layout: str | None = None):
    """Try to prove a claim for all sizes: its normal form must equal that of the closed form
    derived (and checked step by step) from the forward definition.  Returns (proven, lines)."""
    if kind == "depthwise" or grouped:
        what = "depthwise" if kind == "depthwise" else "grouped"
        return False, [f"no proof attempted: the claim language has no per-group channel sizes, so {what} "
                       f"claims are checked only (the closed forms themselves are proven: symconv prove)"]
    terms = normal_form_size(claim.rhs)
    if terms > MAX_NORMAL_TERMS:
        return False, [f"no proof attempted: the claim multiplies out into {terms} terms, more than the "
                       f"{MAX_NORMAL_TERMS} that are compared term by term"]
    found = _reference(claim, kind, channels_last, kernel_layout)
    if found is None:
        return False, ["no proof attempted: the left side does not match the derived closed form's indices"]
    reference, box, shapes, result = found
    steps = len(result.steps(claim.quantity))
    lines = [f"derived from the forward definition in {steps} steps, each checked by SymPy "
             f"(symconv prove --steps, without --claim, shows them):",
             f"  {claim.tensor}[{', '.join(map(str, claim.lhs))}] = {reference}"]
    mine, theirs = normal_form(claim.rhs, shapes), normal_form(reference, shapes)
    if mine is None:
        return False, lines + ["no proof: the claim uses something outside the normal form (an 'or', a '!=' "
                               "or a bracket that is not a conjunction)"]
    if same_formula(mine, theirs, box):
        family_words = proof_family(kind, claim.ndim, channels_last, claim.full, kernel_layout)
        return True, lines + [f"the claim equals it for {family_words}: "
                              f"with ranges and 'outside the shape is 0' written "
                              f"as conditions, its {len(mine)} term(s) match the derived ones one to one, up to "
                              f"renaming summation indices, with each condition implied by the other side's "
                              f"(certified by SymPy)"]
    return False, lines + ["no proof: the claim's terms do not match the derived closed form term by term "
                           "(it may still hold; see the bounded check)"]


@dataclass(repr=False)
class ClaimResult(ShownMath):
    """What ``prove_claim`` found: status proven, checked or refuted, and the evidence."""

    claim: object
    status: str
    bound: int | None
    scope: str
    cases: int
    entries: int
    counterexample: Counterexample | None
    proof: list

    def to_json(self) -> dict:
        bad = self.counterexample
        return {"claim": self.claim.text, "status": self.status, "bound": self.bound,
                "counterexample": bad.to_json() if bad else None,
                "scope": self.scope, "cases": self.cases, "entries": self.entries, "proof": self.proof}


def _refuse_expansion(claim, sizes: dict) -> None:
    """Refuse, before evaluating anything, a claim that multiplies out into too many products."""
    estimate = product_estimate(claim.rhs, sizes)
    if estimate > TERM_LIMIT:
        raise SymconvError(f"the claim builds about {estimate} products at once (the lengths of its sums' ranges, "
                           f"multiplied where sums are multiplied), more than {TERM_LIMIT}: write a product of sums "
                           f"as a sum of products, narrow the ranges, or ask about a smaller convolution")


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
    grouped = False
    kernel_layout = None
    if spec is None:
        kind, channels_last = "conv", True
        bound = DEFAULT_BOUND[(claim.ndim, claim.full)] if bound is None else bound
        if isinstance(bound, int) and 1 <= bound and family_size(claim.ndim, claim.full, bound) <= MAX_CASES:
            largest = {f"{size}{r}": bound for size in ("H", "K", "S", "D", "P", "OH") for r in range(claim.ndim)}
            largest.update({c: max(CHANNEL_SIZES) if claim.full else 1 for c in ("N", "CI", "CO")})
            _refuse_expansion(claim, largest)  # before the family is built
        cases = family(claim.ndim, claim.full, bound)
        scope = family_text(claim.ndim, claim.full, bound)
    else:
        if bound is not None:
            raise SymconvError("a bound applies to claims about every convolution; with a spec every entry of "
                               "that convolution is checked")
        if spec.ndim != claim.ndim:
            raise SymconvError(f"claim has {claim.ndim} spatial axes, the spec {spec.ndim}")
        if not claim.full and (spec.batch != 1 or any(spec_sizes(spec)[c] != 1 for c in ("CI", "CO"))
                               or math.prod(spec.kernel_shape) != math.prod(spec.kernel_spatial)):
            raise SymconvError(f"spatial-only indices need batch 1 and one channel in and out; this spec has "
                               f"input {spec.x_shape} and kernel {spec.kernel_shape}: write full indices")
        if spec.is_empty:
            raise SymconvError(f"the output of this {spec.op} is empty: no entry to check")
        shape = spec.shape_of(claim.tensor)
        shape = shape if claim.full else _spatial(spec, claim.tensor, shape)
        outside = [(e, s) for e, s in zip(claim.lhs, shape) if not isinstance(e, Symbol) and not 0 <= int(e) < s]
        if outside:
            raise SymconvError(f"the left side {claim.tensor}[{','.join(map(str, claim.lhs))}] is outside "
                               f"{claim.tensor}'s shape {tuple(shape)} for this spec: no entry to check")
        count = math.prod(s for e, s in zip(claim.lhs, shape) if isinstance(e, Symbol))
        if count > MAX_ENTRIES:
            raise SymconvError(f"the left side {claim.tensor}[{','.join(map(str, claim.lhs))}] covers {count} entries "
                               f"of this spec, more than {MAX_ENTRIES}: write integers for some of its indices")
        kind, channels_last = spec.kind, layout.channel_axis(spec, "x") == spec.ndim + 1
        grouped = kind != "depthwise" and spec.groups != 1
        kernel_layout = None if spec.kernel_layout == parse_kernel_layout(None, spec.op) else spec.kernel_layout
        cases = [Case(spec_sizes(spec), spec)]
        scope = f"every entry of {claim.tensor} for {spec.describe()}"
    _refuse_expansion(claim, cases[0].sizes)
    proven, proof = attempt_proof(claim, kind, channels_last, grouped, kernel_layout)
    n_cases, n_entries, bad = compare_formula(compile_formula(claim.rhs), claim.tensor, claim.lhs, cases, claim.full)
    if n_entries == 0:
        raise SymconvError(f"the left side {claim.tensor}[{','.join(map(str, claim.lhs))}] is outside "
                           f"{claim.tensor}'s shape in every convolution checked ({scope}): no entry to check")
    if bad is not None and proven:
        raise StepFailed(f"internal disagreement: the claim was proven but fails at {bad.entry} "
                         f"({bad.sizes}); please report this")
    status = "refuted" if bad else "proven" if proven else "checked"
    return ClaimResult(claim, status, bound, scope, n_cases, n_entries, bad, [] if bad else proof)
