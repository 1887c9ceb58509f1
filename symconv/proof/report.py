"""Facts: what symconv proves for every size, what rests on a stated lemma, and what it only
checks up to a bound.

``facts(bound)`` returns a ``Report`` of facts (``Fact``).  Each fact has its statement, its proof
(every step checked by SymPy, with the lemmas it assumes named) or the reason there is none,
and bounded exhaustive checks against the index maps, which could fail and would then mark
the fact FAILED.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import sympy

from ..display import Shown
from ..errors import SymconvError
from ..model import conventions, reference
from ..model.conventions import DEFAULT, effective_kernel
from ..model.exact import compile_scalar
from ..model.indexmap import IndexMaps, maps_for
from ..model.spec import TENSOR_OF, ConvSpec
from . import claims as claims_mod
from .claims_check import (
    MAX_CASES,
    Case,
    Counterexample,
    _axis_tuples,
    _shapes,
    actual_terms,
    compare_formula,
    display_sizes,
    family,
    family_size,
    family_text,
    largest_fitting,
)
from .engine import composed_closed, reference_derivation
from .formulas import Budget, StepFailed, compile_formula
from .geometry import symbolic_geometry
from .normal_form import normal_form, same_formula
from .same import same_findings
from .transposed import transposed_form, transposed_numeric


@dataclass(repr=False)
class Check(Shown):
    """One bounded exhaustive check: what it covered and whether everything agreed."""

    scope: str
    cases: int
    entries: int
    ok: bool
    detail: str = ""
    counterexample: Counterexample | None = None


@dataclass(repr=False)
class Fact(Shown):
    """A statement, its proof for all sizes (or the reason there is none), the lemmas the proof
    assumes, and its bounded checks."""

    key: str
    statement: str
    proven: bool
    proof: list
    checks: list
    derivations: list = field(default_factory=list)  # (label, Derivation)
    assumptions: list = field(default_factory=list)   # lemmas the proof uses without checking them

    @property
    def status(self) -> str:
        if not all(c.ok for c in self.checks):
            return "failed"
        return "proven" if self.proven else "checked"

    def to_json(self) -> dict:
        return {"fact": self.key, "statement": self.statement, "status": self.status,
                "proven_for_all_sizes": self.proven, "assumptions": self.assumptions, "proof": self.proof,
                "checked": [{"scope": c.scope, "cases": c.cases, "entries": c.entries, "ok": c.ok} for c in self.checks]}


@dataclass(repr=False)
class Report(Shown):
    """Every fact, with the proven-versus-checked line that every report prints."""

    facts: list
    bounds: dict

    def keys(self, status: str) -> list:
        return [f.key for f in self.facts if f.status == status]

    @property
    def ok(self) -> bool:
        return all(f.status != "failed" for f in self.facts)

    def to_json(self) -> dict:
        return {"facts": [f.to_json() for f in self.facts],
                "bounds": {f"{k[0]}-D{' full' if k[1] else ''}": v for k, v in self.bounds.items()},
                "proven": self.keys("proven"), "checked": self.keys("checked"), "failed": self.keys("failed"),
                "assumed": {f.key: f.assumptions for f in self.facts if f.assumptions}}


# Bounded families of the report, per (number of axes, full indices): (size bound, pad bound).
REPORT_BOUNDS = {(1, False): (3, 3), (1, True): (2, 2), (2, False): (2, 1), (2, True): (1, 1)}
SAME_BOUND = 8
# The loop reference is slow: its 2-D check keeps pads at 0.
REFERENCE_PAD_BOUND = {(1, False): 99, (1, True): 99, (2, False): 0, (2, True): 1}
# Depthwise, grouped and transposed convolutions: (number of axes, size bound, pad bound).
KIND_BOUNDS = {"grouped": (1, 2, 1), "depthwise": (2, 1, 1), "transpose": (1, 2, 1)}
# Numbers of axes whose direct derivation is compared with the composed one.
DIRECT_AXES = (1, 2, 3)

SEPARABILITY = ("separability: the definition is a product over spatial axes of one axis's sum, bracket and "
                "position, a finite sum over a product of ranges is the product of the per-axis sums, and "
                "d x[n, p_1..p_R, c] / d x[n', h_1..h_R, c'] is delta(n, n') delta(p_1, h_1) ... delta(p_R, h_R) "
                "delta(c, c'), so each rule acts on one axis at a time (standard algebra, not checked by SymPy "
                "for a symbolic number of axes; the composed forms are compared with direct derivations for "
                "1, 2 and 3 axes)")


def _and(numbers) -> str:
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def report_bounds(bound: int | None) -> dict:
    """The report's families for a user bound N: 1-D up to N, the others scaled down."""
    if bound is None:
        return dict(REPORT_BOUNDS)
    if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
        raise SymconvError(f"--bound must be a positive integer, got {bound!r}")
    if not _fits(_scaled_bounds(bound)):
        fits = largest_fitting(lambda b: _fits(_scaled_bounds(b)))
        shown = bound if bound < 10**12 else "of more than 12 digits"
        raise SymconvError(f"--bound {shown} means more than {MAX_CASES} convolutions in one of the report's "
                           f"checks: use --bound {fits} or less")
    return _scaled_bounds(bound)


def _scaled_bounds(bound: int) -> dict:
    half = max(1, (bound + 1) // 2)
    return {(1, False): (bound, bound), (1, True): (half, half), (2, False): (half, max(1, half - 1)),
            (2, True): (1, 1)}


def _fits(bounds: dict) -> bool:
    return all(family_size(nd, full, b, p) <= MAX_CASES for (nd, full), (b, p) in bounds.items())


def _unbounded() -> Budget:
    """The report's families are fixed: their checks run to the end."""
    return Budget(limit=10**12, seconds=None)


# ---- closed forms -----------------------------------------------------------------------------

KINDS = (("conv", False, "convolutions"), ("conv", True, "grouped convolutions (G groups)"),
         ("depthwise", False, "depthwise convolutions"), ("transpose", False, "transposed convolutions"))


def general_formula_matches(quantity: str, ndim: int) -> bool:
    """The derived closed form equals ``symbolic.general_formulas`` (normal forms match)."""
    from ..symbolic import expressions as symbolic
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


def composed_matches_direct(kind: str, grouped: bool, quantity: str, ndim: int) -> bool:
    """The one-axis closed form composed on ``ndim`` axes equals the direct ``ndim``-axis
    derivation's (normal forms match)."""
    result = reference_derivation(kind, ndim, True, True, grouped)
    direct = result.closed[quantity]
    composed = composed_closed(kind, ndim, True, True, grouped)[quantity]
    if composed.lhs != direct.lhs:
        return False
    shapes = {t: result.geometry.shape(t) for t in ("x", "k", "g")}
    return same_formula(normal_form(composed.expr(), shapes), normal_form(direct.expr(), shapes),
                        dict(direct.ranges))


def kind_cases(kind: str, ndim: int, bound: int, pad_bound: int) -> list:
    """Grouped, depthwise or transposed convolutions over the sizes of ``family``, with small
    channel counts: Cases whose sizes use the claim language's names (CI, CO per group, G)."""
    cases = []
    for combo in itertools.product(_axis_tuples(bound, pad_bound), repeat=ndim):
        sizes = {}
        for r, (H, K, S, D, P, OH) in enumerate(combo):
            sizes.update({f"H{r}": H, f"K{r}": K, f"S{r}": S, f"D{r}": D, f"P{r}": P, f"OH{r}": OH})
        pads = tuple((P, S * (OH - 1) + effective_kernel(K, D) - H - P) for H, K, S, D, P, OH in combo)
        big, small, ks = [t[0] for t in combo], [t[5] for t in combo], [t[1] for t in combo]
        common = dict(strides=[t[2] for t in combo], dilations=[t[3] for t in combo], padding=pads)
        if kind == "grouped":
            sizes.update(N=1, CI=2, CO=1, G=2)
            spec = ConvSpec(f"conv{ndim}d", (1, *big, 4), (*ks, 2, 2), groups=2, **common)
        elif kind == "depthwise":
            sizes.update(N=1, CI=2, CO=2)
            spec = ConvSpec("depthwise_conv2d", (1, *big, 2), (*ks, 2, 2), **common)
        else:
            sizes.update(N=1, CI=2, CO=1)
            spec = ConvSpec(f"conv{ndim}d_transpose", (1, *small, 2), (*ks, 1, 2),
                            output_shape_request=(1, *big, 1), **common)
        cases.append(Case(sizes, spec))
    return cases


def compare_closed(closed, cases, budget: Budget | None = None):
    """A full-index closed form against the index maps at every entry of every case: the
    entry's indices come from the closed form's own (lhs may be ``q*CO + c_o``)."""
    formula = compile_formula(closed.expr())
    lhs = [compile_scalar(e) for e in closed.lhs.indices]
    ranges = [(v, compile_scalar(lo), compile_scalar(hi)) for v, (lo, hi) in closed.ranges.items()]
    budget = budget or _unbounded()
    n_entries = 0
    for case in cases:
        spec = case.spec
        shapes, maps = _shapes(spec, True), IndexMaps(spec)
        env = dict(case.sizes)
        for values in itertools.product(*[range(lo(env), hi(env) + 1) for _, lo, hi in ranges]):
            env.update({v.name: value for (v, _, _), value in zip(ranges, values)})
            entry = tuple(f(env) for f in lhs)
            n_entries += 1
            claimed = formula.terms(env, shapes, budget)
            actual = actual_terms(maps, closed.quantity, entry, True)
            if claimed != actual:
                name = f"{TENSOR_OF[closed.quantity]}[{','.join(map(str, entry))}]"
                return len(cases), n_entries, Counterexample(display_sizes(case.sizes, spec.ndim), spec.describe(),
                                                             name, claimed, actual, shapes)
    return len(cases), n_entries, None


def closed_form_fact(quantity: str, bounds: dict) -> Fact:
    tensor = TENSOR_OF[quantity]
    statement = {
        "filter_grad": "dk[a,ci,co] = sum over n and output positions i of [0 <= S*i + D*a - P <= H-1] "
                       "g[n,i,co] * x[n, S*i + D*a - P, ci] (one bracket and one position per spatial axis)",
        "input_grad": "dx[n,h,ci] = sum over output positions i, kernel offsets a and co of "
                      "[S*i + D*a - P == h] g[n,i,co] * k[a,ci,co] (one delta per spatial axis)"}[quantity]
    statement += (", for any number of spatial axes; the same derivation gives the closed forms of grouped "
                  "convolutions (channels within the group of q), depthwise and transposed convolutions")
    proof, derivations = [], []
    for kind, grouped, words in KINDS:
        result = reference_derivation(kind, 1, True, True, grouped)
        derivations.append((f"one axis, {words}, {quantity}", result.derivations[quantity]))
        rules = "L = sum(g*y), sympy.diff, " + ("channel deltas split, " if grouped else "") + \
            "delta sifting, conditions certified"
        proof.append(f"{words}, one axis: derived from the forward definition in {len(result.steps(quantity))} "
                     f"steps ({rules}), each checked by SymPy")
        for ndim in DIRECT_AXES[1:]:
            if not composed_matches_direct(kind, grouped, quantity, ndim):
                raise StepFailed(f"fact '{tensor}-closed-form': the one-axis form composed on {ndim} axes differs "
                                 f"from the direct {ndim}-axis derivation ({words})")
        proof.append(f"{words}, any number of axes: the one-axis form on every axis; for "
                     f"{_and(DIRECT_AXES[1:])} axes it equals the direct derivation (normal forms match)")
    for ndim in DIRECT_AXES:
        if not general_formula_matches(quantity, ndim):
            raise StepFailed(f"fact '{tensor}-closed-form': the derived {ndim}-D form differs from "
                             f"symbolic.general_formulas")
    proof.append(f"equals symconv.general_formulas(R).{quantity} for R = {_and(DIRECT_AXES)} "
                 f"(normal forms match)")
    checks = []
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        closed = composed_closed("conv", ndim, True, full)[quantity]
        cases = family(ndim, full, bound, pad_bound)
        n_cases, n_entries, bad = compare_formula(compile_formula(closed.expr()), tensor, closed.lhs.indices, cases,
                                                full, _unbounded())
        checks.append(Check(family_text(ndim, full, bound, pad_bound) + ", composed from the one-axis form",
                            n_cases, n_entries, bad is None, counterexample=bad))
    for kind, (ndim, bound, pad_bound) in KIND_BOUNDS.items():
        closed = composed_closed("conv" if kind == "grouped" else kind, ndim, True, True, kind == "grouped")[quantity]
        n_cases, n_entries, bad = compare_closed(closed, kind_cases(kind, ndim, bound, pad_bound))
        channels = {"grouped": "2 groups of 2 input channels and 1 output channel",
                    "depthwise": "2 channels, multiplier 2", "transpose": "x with 2 channels, y with 1"}[kind]
        checks.append(Check(f"every {ndim}-D {kind} convolution with sizes in 1..{bound} and pads before in "
                            f"{-pad_bound}..{pad_bound}, batch 1, {channels}", n_cases, n_entries, bad is None,
                            counterexample=bad))
    return Fact(f"{tensor}-closed-form", statement, True, proof, checks, derivations, [SEPARABILITY])


def transposed_fact(bounds: dict) -> Fact:
    statement = ("dx is a stride-1 convolution (dilation D) of g dilated by S (S-1 zeros between entries) and "
                 "padded by D*(K-1) - P before and H - 1 + P - S*(OH-1) after (negative crops), with the kernel "
                 "flipped on every spatial axis (a -> K-1-a) and its in/out channel axes swapped, for any number "
                 "of spatial axes")
    proof, derivations = [], []
    for ndim in DIRECT_AXES:
        deriv, _, final, _ = transposed_form(ndim, True)
        if ndim == 1:
            derivations.append((f"one axis: {deriv.name}", deriv))
        closed = reference_derivation("conv", ndim, True, True).closed["input_grad"]
        geometry = reference_derivation("conv", ndim, True, True).geometry
        shapes = {t: geometry.shape(t) for t in ("x", "k", "g")}
        if not same_formula(normal_form(final.expr(), shapes), normal_form(closed.expr(), shapes), dict(closed.ranges)):
            raise StepFailed(f"fact 'dx-transposed': the {ndim}-D transposed form does not match dx's closed form")
        if ndim == 1:
            proof.append(f"one axis: {len(deriv.steps)} steps (write g~ and k~ out, reindex a' = K-1-a, expand the "
                         f"delta arguments), then equal to dx's proven closed form (normal forms match)")
    proof.append(f"any number of axes: every step acts on one axis; for {_and(DIRECT_AXES)} axes the whole "
                 f"chain was also run directly and matches dx's closed form")
    proof.append("the padded, dilated g has D*(K-1) - P + S*(OH-1) + 1 + H - 1 + P - S*(OH-1) = H + D*(K-1) "
                 "entries, so a stride-1 window of D*(K-1) + 1 gives exactly H outputs (SymPy expand)")
    checks = []
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        _, expr, _, _ = transposed_form(ndim, full)
        idx, _ = symbolic_geometry("conv", ndim, True, full, names="claims").tensor_indices("x")
        cases = family(ndim, full, bound, pad_bound)
        n_cases, n_entries, bad = compare_formula(compile_formula(expr), "dx", idx, cases, full, _unbounded())
        checks.append(Check(family_text(ndim, full, bound, pad_bound), n_cases, n_entries, bad is None,
                            counterexample=bad))
    for (ndim, full), (bound, pad_bound) in sorted(bounds.items()):
        if full:
            continue
        cases = family(ndim, False, bound, pad_bound)
        bad = next((c for c in cases if not transposed_numeric(c.spec)), None)
        checks.append(Check(family_text(ndim, False, bound, pad_bound) + ", built with NumPy (dilate, pad or crop, "
                            "flip, correlate) on random integers", len(cases), 0, bad is None,
                            bad.describe() if bad else ""))
    return Fact("dx-transposed", statement, True, proof, checks, derivations, [SEPARABILITY])


# ---- SAME ----------------------------------------------------------------------------------------

def same_fact(name: str, bound: int) -> Fact:
    """What one convention's rule guarantees: every property that holds up to the bound,
    proven from the rule where the method succeeds; the others refuted by counterexample."""
    findings, count = same_findings(name, bound)
    holding = [f for f in findings if f.holds]
    statement = (f"under {name}, for every input size, kernel size, stride and dilation: "
                 + "; ".join(f.prop.text for f in holding))
    refuted = [f for f in findings if not f.holds]
    if refuted:
        statement += "; but not: " + "; ".join(f"{f.prop.text} (fails at (in, k, s, d) = {f.counterexample})"
                                              for f in refuted)
    definitions = conventions.get(name).rule.definitions()
    proof = ["the rule: " + "; ".join(f"{n} = {e}" for n, e in definitions)]
    proven = [f.prop.text for f in holding if f.proven]
    if proven:
        proof.append("proven from the rule (cases by max, min, brackets and truncation; floor and ceiling by their "
                     "defining inequalities; every case certified by SymPy): " + "; ".join(proven))
    unproven = [f.prop.text for f in holding if not f.proven]
    if unproven:
        proof.append("no proof found, checked only: " + "; ".join(unproven))
    windows = next(f for f in findings if f.prop.key == "windows")
    ok = windows.holds
    detail = "" if ok else f"the padded axis does not hold out windows at (in, k, s, d) = {windows.counterexample}"
    scope = (f"every input size, kernel size, stride and dilation in 1..{bound}, the registry's numbers"
             + (f" against {DEFAULT}'s" if name != DEFAULT else ""))
    key = (name if name.startswith("same") else f"same-{name}").replace("_", "-")
    return Fact(key, statement, all(f.proven for f in holding), proof,
                [Check(scope, count, 0, ok, detail)])


# ---- the ground truth -------------------------------------------------------------------------------

def reference_fact(bounds: dict) -> Fact:
    """The ground truth of the bounded checks, the index maps, against the loop reference."""
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
    ['proven', 'proven', 'proven', 'proven', 'proven', 'proven', 'proven', 'checked']
    >>> report.keys("checked")
    ['index-maps-vs-reference']
    """
    bounds = report_bounds(bound)
    same_bound = SAME_BOUND if bound is None else max(2, 4 * bound)
    found = [closed_form_fact("filter_grad", bounds), closed_form_fact("input_grad", bounds),
             transposed_fact(bounds)]
    found += [same_fact(name, same_bound) for name in conventions.REGISTRY]
    found.append(reference_fact(bounds))
    return Report(found, bounds)
