"""The proof engine: checked derivation steps, certificates, exact evaluation, normal forms, facts."""

import pytest
import sympy
from sympy import IndexedBase, Integer, KroneckerDelta, Sum, Symbol

from symconv import proof, symbolic
from symconv.errors import SymconvError
from symconv.proof import StepFailed
from symconv.spec import ConvSpec

x, k, g = IndexedBase("x"), IndexedBase("k"), IndexedBase("g")
i, a, n = (Symbol(c, integer=True) for c in "ian")


# ---- derivations ----------------------------------------------------------------------------

def test_symbolic_derivation_of_dk_collapses_to_the_in_bounds_sum():
    geometry = proof.symbolic_geometry("conv", 1, full=False)
    result = proof.derive(geometry)
    (term,) = result.closed["filter_grad"].terms
    S, D, P, W = geometry.stride[0], geometry.dilation[0], geometry.pad[0], geometry.big[0]
    pos = S * i + D * a - P
    assert term.limits == ((i, 0, geometry.small[0] - 1),)
    assert term.conditions == ((pos, 0, W - 1),)
    assert sympy.expand(term.product - g[i] * x[pos]) == 0
    rules = [s.rule for s in result.steps("filter_grad")]
    assert rules[:4] == ["definition", "linearity", "differentiate", "sift"]


def test_symbolic_dx_keeps_the_delta_and_drops_the_redundant_in_bounds_condition():
    result = proof.derive(proof.symbolic_geometry("conv", 2, full=True))
    (term,) = result.closed["input_grad"].terms
    assert term.conditions == ()
    assert sum(isinstance(f, KroneckerDelta) for f in term.factors) == 2
    assert {s.rule for s in result.steps("input_grad")} >= {"absorb", "discharge"}


def test_differentiation_uses_sympy_diff_and_gives_kronecker_deltas():
    result = proof.derive(proof.symbolic_geometry("conv", 1, full=True))
    step = next(s for s in result.steps("filter_grad") if s.rule == "differentiate")
    deltas = [f for f in step.terms[0].factors if isinstance(f, KroneckerDelta)]
    assert len(deltas) == 3  # kernel offset, in channel, out channel


@pytest.mark.parametrize("op, x_shape, k_shape, entries", [
    ("conv2d", "1x5x4x2", "3x2x2x3", {"forward": (0, 1, 1, 2), "filter_grad": (1, 1, 1, 2), "input_grad": (0, 2, 1, 1)}),
    ("depthwise_conv2d", "1x5x4x2", "3x2x2x2", {"forward": (0, 1, 1, 3), "filter_grad": (2, 1, 1, 0),
                                               "input_grad": (0, 4, 3, 1)}),
    ("conv2d_transpose", "1x3x2x2", "3x3x1x2", {"forward": (0, 4, 3, 0), "filter_grad": (1, 2, 0, 1),
                                               "input_grad": (0, 2, 1, 1)}),
])
def test_derivations_with_numbers_give_exactly_the_index_maps_terms(op, x_shape, k_shape, entries):
    from symconv.latex import _free_values
    spec = ConvSpec(op, x_shape, k_shape, strides=2, padding="SAME")
    result = proof.derive(proof.spec_geometry(spec))
    shapes = {t: spec.shape_of(t) for t in "xkg"}
    for quantity, entry in entries.items():
        values = _free_values(result, quantity, entry)
        mine = proof.compile_formula(result.closed[quantity].expr()).terms(values, shapes)
        want = proof.actual_terms(symbolic.maps_for(spec), quantity, entry, True)
        assert mine == want and want


def test_a_step_that_disagrees_with_sympy_is_refused_and_named(monkeypatch):
    monkeypatch.setattr(proof, "deltasummation", lambda f, limit: Integer(7))
    with pytest.raises(StepFailed, match=r"derivation 'filter_grad', step 'sift the deltas \(dk\)' failed"):
        proof.derive(proof.symbolic_geometry("conv", 1, full=False))


def test_grouped_convolutions_are_refused_with_the_reason():
    spec = ConvSpec("conv2d", "1x4x4x4", "3x3x2x4", groups=2)
    with pytest.raises(SymconvError, match="groups=1 convolutions and depthwise_conv2d, got groups 2"):
        proof.spec_geometry(spec)


# ---- certificates ------------------------------------------------------------------------------

def test_manifestly_nonneg_uses_positive_and_nonnegative_symbols_only():
    K, S = sympy.symbols("K S", integer=True, positive=True)
    u = Symbol("u", integer=True, nonnegative=True)
    P = Symbol("P", integer=True)
    assert proof.manifestly_nonneg(K * S - 1)
    assert proof.manifestly_nonneg(u * K)
    assert not proof.manifestly_nonneg(K - S)
    assert not proof.manifestly_nonneg(P)
    assert not proof.manifestly_nonneg(Integer(-1))


def test_box_minimum_of_a_linear_form():
    K = Symbol("K", integer=True, positive=True)
    assert proof.box_minimum(2 * i - a + 3, {i: (0, 4), a: (0, K - 1)}) == 4 - K
    assert proof.holds(i + a, {i: (0, 4), a: (0, K - 1)})
    assert not proof.holds(i - a, {i: (0, 4), a: (0, K - 1)})


# ---- exact evaluation --------------------------------------------------------------------------

def test_an_empty_range_is_empty_not_sympy_karr_convention():
    formula = proof.compile_formula(Sum(x[i], (i, 3, 1)))
    assert formula.terms({}, {"x": (5,)}) == {}
    assert Sum(x[i], (i, 3, 1)).doit() != 0  # what the evaluator avoids


def test_entries_outside_their_shape_are_zero_padding():
    formula = proof.compile_formula(Sum(g[i] * x[2 * i - 1], (i, 0, 2)))
    assert formula.terms({}, {"x": (4,), "g": (3,)}) == {(("g", (1,)), ("x", (1,))): 1, (("g", (2,)), ("x", (3,))): 1}


def test_floor_and_mod_are_exact_integer_operations():
    expr = Sum(sympy.Piecewise((g[sympy.floor((i - 1) / Integer(2))], sympy.Eq(sympy.Mod(i - 1, 2), 0)), (0, True)),
               (i, -3, 3))
    assert sorted(proof.compile_formula(expr).terms({}, {"g": (5,)})) == [(("g", (0,)),), (("g", (1,)),)]


def test_runaway_sums_are_refused_with_advice():
    with pytest.raises(SymconvError, match="more than 1000 summation steps: use a smaller convolution, a smaller --bound"):
        proof.compile_formula(Sum(x[i], (i, 0, 10**6))).terms({}, {"x": (1,)}, proof.Budget(1000))


# ---- normal forms ------------------------------------------------------------------------------

def test_normal_forms_match_equal_formulas_and_not_different_ones():
    H, OH = (Symbol(s, integer=True, positive=True) for s in ("H", "OH"))
    shapes = {"x": (H,), "g": (OH,)}
    j = Symbol("j", integer=True)
    one = Sum(g[i] * x[2 * i + a], (i, 0, OH - 1))
    renamed = Sum(sympy.Piecewise((x[2 * j + a] * g[j], sympy.Le(0, 2 * j + a)), (0, True)), (j, 0, OH))
    shifted = Sum(g[i] * x[2 * i + a + 1], (i, 0, OH - 1))
    box = {a: (0, 4)}
    assert proof.same_formula(proof.normal_form(one, shapes), proof.normal_form(renamed, shapes), box)
    assert not proof.same_formula(proof.normal_form(one, shapes), proof.normal_form(shifted, shapes), box)


@pytest.mark.parametrize("quantity", ["forward", "filter_grad", "input_grad"])
@pytest.mark.parametrize("ndim", [1, 2])
def test_derived_closed_forms_equal_the_stated_general_formulas(quantity, ndim):
    assert proof._general_formula_matches(quantity, ndim)


# ---- claims ------------------------------------------------------------------------------------

def test_a_true_claim_is_proven_and_also_checked():
    result = proof.prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", bound=2)
    assert (result.status, result.cases, result.counterexample) == ("proven", 160, None)
    assert "PROVEN for all sizes" in result.text()


def test_a_true_claim_outside_the_normal_form_is_only_checked():
    result = proof.prove_claim("dx[h] = sum(a=0..K-1) [(h+P-D*a) % S == 0] * g[(h+P-D*a)//S] * k[a]", bound=2)
    assert result.status == "checked" and result.bound == 2
    assert "CHECKED up to bound 2, not proven for all sizes" in result.text()


def test_a_false_claim_is_refuted_with_the_smallest_counterexample():
    result = proof.prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+a-P]", bound=3)
    bad = result.counterexample.to_json()
    assert result.status == "refuted"
    assert bad["entry"] == "dk[1]" and bad["sizes"]["D"] == 2
    assert bad["claimed"]["terms"] != bad["actual"]["terms"]
    assert set(bad) >= {"sizes", "entry", "claimed", "actual", "missing", "extra"}


def test_the_founding_claim_holds_under_tf_and_fails_under_legacy_eigen():
    text = "dk[0,0,0,0] = g[0,0,0,0]*x[0,0,0,0]"
    tf = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    legacy = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    assert proof.prove_claim(text, tf).status == "checked"
    refuted = proof.prove_claim(text, legacy)
    assert refuted.status == "refuted"
    assert refuted.counterexample.to_json()["actual"] == {"terms": ["g[0,0,0,0]*x[0,1,1,0]"], "value": 5}


def test_spec_mode_proves_a_transposed_claim_for_all_sizes():
    spec = ConvSpec("conv1d_transpose", "1x3x2", "3x1x2", strides=2, padding="SAME")
    text = "dx[n,i,ci] = sum(a=0..K-1, co=0..CO-1) g[n,S*i+D*a-P,co]*k[a,co,ci]"
    result = proof.prove_claim(text, spec)
    assert result.status == "proven" and result.entries == 6


def test_bad_requests_are_refused_with_advice():
    with pytest.raises(SymconvError, match=r"--bound 9 means \d+ 1-D convolutions to check, more than 40000: use --bound"):
        proof.prove_claim("dk[a] = g[a]*x[a]", bound=9)
    spec = ConvSpec("conv1d", "1x5x2", "3x2x1")
    with pytest.raises(SymconvError, match="spatial-only indices need batch 1 and one channel"):
        proof.prove_claim("dk[a] = g[a]*x[a]", spec)
    with pytest.raises(SymconvError, match="summation steps"):
        proof.prove_claim("dk[a,ci,co] = sum(i=0..999999999) g[0,i,co]*x[0,i,ci]", spec)
    big = ConvSpec("conv2d", "1x400x400x1", "1x1x1x1")
    with pytest.raises(SymconvError, match=r"covers 160000 entries of this spec, more than 100000: write integers"):
        proof.prove_claim("y[n,i,j,c] = x[n,i,j,c]*k[0,0,c,c]", big)


# ---- facts ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report():
    return proof.facts(bound=1)


def test_the_report_separates_proven_from_checked(report):
    status = {f.key: f.status for f in report.facts}
    assert status == {"dk-closed-form": "proven", "dx-closed-form": "proven", "dx-transposed": "proven",
                      "same-tf": "proven", "same-legacy-eigen": "proven", "index-maps-vs-reference": "checked"}
    text = report.text()
    assert "PROVEN for all sizes" in text and "CHECKED only up to a bound (no proof)" in text
    assert text.endswith(report.summary())
    assert report.to_json()["checked"] == ["index-maps-vs-reference"]


def test_every_fact_states_the_bound_it_was_checked_to(report):
    for fact in report.facts:
        assert fact.checks and all(c.ok and c.cases > 0 for c in fact.checks)
        assert all(".." in c.scope for c in fact.checks)


def test_transposed_recipe_in_numpy_matches_the_index_maps():
    for spec in (ConvSpec("conv1d", "1x7x1", "3x1x1", strides=2, dilations=2, padding=((1, -1),)),
                 ConvSpec("conv2d", "1x5x4x1", "2x3x1x1", strides=(3, 1), padding="SAME")):
        assert proof._transposed_numeric(spec)
