"""The proof engine: checked derivation steps, certificates, exact evaluation, normal forms,
composition over axes, the SAME prover, claims and the facts report."""

import pytest
import sympy
from sympy import IndexedBase, Integer, KroneckerDelta, Sum, Symbol

from symconv import proof
from symconv.errors import SymconvError
from symconv.model import conventions
from symconv.model.spec import ConvSpec
from symconv.proof import StepFailed
from symconv.symbolic import expressions as symbolic

x, k, g = IndexedBase("x"), IndexedBase("k"), IndexedBase("g")
i, a, n = (Symbol(c, integer=True) for c in "ian")


# ---- derivations ----------------------------------------------------------------------------

def test_symbolic_derivation_of_dk_collapses_to_the_in_bounds_sum():
    geometry = proof.symbolic_geometry("conv", 1, full=False)
    result = proof.derive(geometry)
    (term,) = result.closed["filter_grad"].terms
    S, D, P, W = geometry.stride[0], geometry.dilation[0], geometry.pad[0], geometry.input_size[0]
    pos = S * i + D * a - P
    assert term.limits == ((i, 0, geometry.output_size[0] - 1),)
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


def test_grouped_derivation_splits_each_channel_delta_into_group_and_channel():
    result = proof.derive(proof.symbolic_geometry("conv", 1, full=True, grouped=True))
    q, ci, co = Symbol("q", integer=True), Symbol("c_i", integer=True), Symbol("c_o", integer=True)
    geometry = result.geometry
    split = next(s for s in result.steps("input_grad") if s.rule == "split")
    assert KroneckerDelta(q, Symbol("q'", integer=True)) in split.terms[0].factors
    (term,) = result.closed["input_grad"].terms
    assert result.closed["input_grad"].lhs.indices[-1] == q * geometry.c_in + ci
    assert g[n, i, q * geometry.c_out + co] in term.factors      # the group's own output channels only
    assert not any(v == q for v, _, _ in term.limits)


@pytest.mark.parametrize("op, x_shape, k_shape, groups, entries", [
    ("conv2d", "1x5x4x2", "3x2x2x3", 1, {"forward": (0, 1, 1, 2), "filter_grad": (1, 1, 1, 2),
                                        "input_grad": (0, 2, 1, 1)}),
    ("conv2d", "1x5x4x4", "3x2x2x6", 2, {"forward": (0, 1, 1, 4), "filter_grad": (1, 1, 1, 5),
                                        "input_grad": (0, 2, 1, 3)}),
    ("depthwise_conv2d", "1x5x4x2", "3x2x2x2", 1, {"forward": (0, 1, 1, 3), "filter_grad": (2, 1, 1, 0),
                                                  "input_grad": (0, 4, 3, 1)}),
    ("conv2d_transpose", "1x3x2x2", "3x3x1x2", 1, {"forward": (0, 4, 3, 0), "filter_grad": (1, 2, 0, 1),
                                                  "input_grad": (0, 2, 1, 1)}),
    ("conv1d_transpose", "1x3x4", "3x2x4", 2, {"forward": (0, 4, 3), "filter_grad": (1, 1, 3),
                                               "input_grad": (0, 2, 2)}),
])
def test_derivations_with_numbers_give_exactly_the_index_maps_terms(op, x_shape, k_shape, groups, entries):
    spec = ConvSpec(op, x_shape, k_shape, strides=2, padding="SAME", groups=groups)
    result = proof.derive(proof.spec_geometry(spec))
    shapes = {t: spec.shape_of(t) for t in "xkg"}
    for quantity, entry in entries.items():
        closed = result.closed[quantity]
        values = {}
        for e, v in zip(closed.lhs.indices, entry):
            values.update(result.geometry.split_index(e, v))
        mine = proof.compile_formula(closed.expr()).terms(values, shapes)
        want = proof.actual_terms(symbolic.maps_for(spec), quantity, entry, True)
        assert mine == want and want


def test_a_step_that_disagrees_with_sympy_is_refused_and_named(monkeypatch):
    from symconv.proof import engine
    monkeypatch.setattr(engine, "deltasummation", lambda f, limit: Integer(7))
    with pytest.raises(StepFailed, match=r"derivation 'filter_grad', step 'sift the deltas \(dk\)' failed"):
        proof.derive(proof.symbolic_geometry("conv", 1, full=False))


@pytest.mark.parametrize("kind, grouped", [("conv", False), ("conv", True), ("depthwise", False),
                                           ("transpose", False)])
def test_the_one_axis_form_composed_on_two_and_three_axes_is_the_direct_derivation(kind, grouped):
    for quantity in ("filter_grad", "input_grad"):
        for ndim in (2, 3):
            assert proof.composed_matches_direct(kind, grouped, quantity, ndim)
    composed = proof.composed_closed(kind, 3, True, True, grouped)["filter_grad"]
    assert len(composed.lhs.indices) == 5 if not grouped else True


def test_composition_is_not_the_identity_on_a_wrong_form():
    one = proof.reference_derivation("conv", 1, True, True)
    many = proof.symbolic_geometry("conv", 2, True, True, names="claims")
    composed = proof.compose(one.closed["filter_grad"], one.geometry, many)
    direct = proof.reference_derivation("conv", 2, True, True).closed["input_grad"]
    shapes = {t: many.shape(t) for t in "xkg"}
    assert not proof.same_formula(proof.normal_form(composed.expr(), shapes), proof.normal_form(direct.expr(), shapes),
                                  dict(direct.ranges))


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


def test_implied_combines_hypotheses_and_nothing_else():
    s, m = Symbol("s", integer=True, positive=True), Symbol("m", integer=True)
    assert proof.implied(s * m - 3, [s * m - 5])
    assert not proof.implied(s * m - 3, [s * m - 2])
    assert not proof.implied(m, [])


# ---- the SAME prover ------------------------------------------------------------------------------

def test_the_prover_proves_floor_and_ceiling_identities_and_refuses_false_ones():
    size, s = conventions.SIZE, conventions.STRIDE
    assert proof.prove_equal(sympy.floor((size + s - 1) / s), sympy.ceiling(size / s))
    assert proof.prove_nonneg(sympy.ceiling(size / s) * s - size)
    assert not proof.prove_equal(sympy.floor(size / s), sympy.ceiling(size / s))
    assert not proof.prove_nonneg(sympy.ceiling(size / s) - 2)


def test_same_findings_are_proven_where_they_hold_and_refuted_with_the_smallest_case_where_not():
    findings, count = proof.same_findings("legacy_eigen", 4)
    by_key = {f.prop.key: f for f in findings}
    assert count == 4 ** 4
    assert by_key["windows"].proven and by_key["default-out"].proven
    assert by_key["nonnegative"].counterexample == (2, 1, 2, 1)   # trunc(-1/2) = 0, after = -1
    assert conventions.get("legacy_eigen")(2, 1, 2, 1).after == -1
    tf = {f.prop.key: f for f in proof.same_findings("tf", 4)[0]}
    assert tf["nonnegative"].proven and tf["odd-after"].proven and not tf["symmetric"].holds


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
    with pytest.raises(SymconvError, match="more than 1000 steps .*: use a smaller convolution, a smaller --bound"):
        proof.compile_formula(Sum(x[i], (i, 0, 10**6))).terms({}, {"x": (1,)}, proof.Budget(1000))


def test_a_product_of_sums_is_refused_while_it_multiplies_out():
    factors = [Sum(x[i + 3 * j], (i, 0, 2)) for j in range(14)]
    with pytest.raises(SymconvError, match="holds more than 500000 products at once"):
        proof.compile_formula(sympy.Mul(*factors)).terms({}, {"x": (60,)})


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


def test_normal_form_size_is_known_before_anything_is_built():
    factor = x[i] + x[i + 1]
    assert proof.normal_form_size(factor ** 3 * g[i]) == 8
    assert proof.normal_form(sympy.Mul(*[x[i + j] + g[j] for j in range(14)]), {"x": (4,), "g": (4,)}) is None


@pytest.mark.parametrize("quantity", ["forward", "filter_grad", "input_grad"])
@pytest.mark.parametrize("ndim", [1, 2])
def test_derived_closed_forms_equal_the_stated_general_formulas(quantity, ndim):
    assert proof.general_formula_matches(quantity, ndim)


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


def test_grouped_claims_are_checked_and_say_why_they_are_not_proven():
    spec = ConvSpec("conv1d", "1x4x4", "2x2x2", groups=2)
    result = proof.prove_claim("dk[a,ci,co] = sum(n=0..N-1, i=0..OH-1) g[n,i,co]*x[n,S*i+D*a-P,(co//1)*2+ci]", spec)
    assert result.status == "checked" and "no per-group channel sizes" in result.proof[0]


def test_bad_requests_are_refused_with_advice():
    with pytest.raises(SymconvError, match=r"--bound 9 means \d+ 1-D convolutions to check, more than 40000: use --bound"):
        proof.prove_claim("dk[a] = g[a]*x[a]", bound=9)
    with pytest.raises(SymconvError, match=r"--bound of more than 12 digits means more than 10\^12 .*use --bound 5 or less"):
        proof.prove_claim("dk[a] = g[a]*x[a]", bound=99999999999999999999)
    spec = ConvSpec("conv1d", "1x5x2", "3x2x1")
    with pytest.raises(SymconvError, match="spatial-only indices need batch 1 and one channel"):
        proof.prove_claim("dk[a] = g[a]*x[a]", spec)
    with pytest.raises(SymconvError, match="builds about 1000000000 products at once .*narrow the ranges"):
        proof.prove_claim("dk[a,ci,co] = sum(i=0..999999999) g[0,i,co]*x[0,i,ci]", spec)
    big = ConvSpec("conv2d", "1x400x400x1", "1x1x1x1")
    with pytest.raises(SymconvError, match=r"covers 160000 entries of this spec, more than 100000: write integers"):
        proof.prove_claim("y[n,i,j,c] = x[n,i,j,c]*k[0,0,c,c]", big)


def test_an_entry_outside_the_tensor_is_an_error_never_checked_of_nothing():
    spec = ConvSpec("conv1d", "1x5x1", "3x1x1")
    with pytest.raises(SymconvError, match=r"dk\[7,0,0\] is outside dk's shape \(3, 1, 1\)"):
        proof.prove_claim("dk[7,0,0] = g[0,0,0]*x[0,7,0]", spec)
    with pytest.raises(SymconvError, match=r"dk\[9\] is outside dk's shape in every convolution checked"):
        proof.prove_claim("dk[9] = g[0]*x[9]", bound=2)


def test_a_claim_that_multiplies_out_too_far_is_refused_before_it_is_evaluated():
    text = "dk[a] = " + "*".join(f"(sum(i=0..2) x[a+{3 * j}+i])" for j in range(14))
    assert len(text) > 300
    with pytest.raises(SymconvError, match=r"builds about 4782969 products at once"):
        proof.prove_claim(text, bound=4)
    spec = ConvSpec("conv1d", "1x64x1", "3x1x1")
    with pytest.raises(SymconvError, match="write a product of sums as a sum of products"):
        proof.prove_claim(text.replace("dk[a]", "dk[a,0,0]").replace("x[a", "x[0,a").replace("+i]", "+i,0]"), spec)


# ---- facts ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report():
    return proof.facts(bound=1)


def test_the_report_separates_proven_from_checked(report):
    status = {f.key: f.status for f in report.facts}
    assert status == {"dk-closed-form": "proven", "dx-closed-form": "proven", "dx-transposed": "proven",
                      "same-tf": "proven", "same-lower": "proven", "same-legacy-eigen": "proven",
                      "same-torch": "proven", "index-maps-vs-reference": "checked"}
    text = report.text()
    assert "PROVEN for all sizes, assuming the lemma below" in text and "CHECKED only up to a bound (no proof)" in text
    assert "assuming: separability" in text
    assert text.splitlines()[-1].startswith("proven for all sizes: dk-closed-form*, dx-closed-form*, dx-transposed*,")
    assert report.to_json()["checked"] == ["index-maps-vs-reference"]
    assert set(report.to_json()["assumed"]) == {"dk-closed-form", "dx-closed-form", "dx-transposed"}


def test_every_fact_states_the_bound_it_was_checked_to(report):
    for fact in report.facts:
        assert fact.checks and all(c.ok and c.cases > 0 for c in fact.checks)
        assert all(".." in c.scope for c in fact.checks)


def test_closed_forms_are_checked_for_grouped_depthwise_and_transposed_convolutions(report):
    scopes = " ".join(c.scope for c in report.facts[0].checks)
    assert "1-D grouped convolution" in scopes and "2-D depthwise convolution" in scopes
    assert "1-D transpose convolution" in scopes


def test_same_facts_state_what_holds_and_refute_the_rest(report):
    legacy = next(f for f in report.facts if f.key == "same-legacy-eigen")
    assert "the same out as tf" in legacy.statement
    assert "but not: the pads are never negative (fails at (in, k, s, d) = (2, 1, 2, 1))" in legacy.statement
    assert not any("True" in line for line in legacy.proof)


def test_a_convention_whose_pads_do_not_give_its_out_fails_its_fact():
    @conventions.register("off_by_one", citation="a broken rule, for this test")
    def off_by_one(size, kernel, stride, dilation):
        """out = ceil(in/s) + 1, no padding"""
        return conventions.Resolved(conventions.ceiling(size / stride) + 1, 0, 0)
    try:
        fact = proof.report.same_fact("off_by_one", 3)
        assert fact.status == "failed" and "does not hold out windows at (in, k, s, d) = (1, 1, 1, 1)" in fact.text()
    finally:
        conventions.unregister("off_by_one")


def test_report_bounds_are_refused_with_advice_without_scanning_up_to_them():
    with pytest.raises(SymconvError, match="--bound 5 means more than 40000 convolutions .*: use --bound 4"):
        proof.report_bounds(5)
    with pytest.raises(SymconvError, match="--bound of more than 12 digits .*use --bound 4"):
        proof.report_bounds(10**20)


def test_transposed_recipe_in_numpy_matches_the_index_maps():
    for spec in (ConvSpec("conv1d", "1x7x1", "3x1x1", strides=2, dilations=2, padding=((1, -1),)),
                 ConvSpec("conv2d", "1x5x4x1", "2x3x1x1", strides=(3, 1), padding="SAME")):
        assert proof.transposed_numeric(spec)
