"""The three symbolic routes agree: literal sympy.diff, index-map expressions, closed forms."""

import itertools

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv import ConvSpec, SymconvError
from symconv.model.spec import QUANTITIES
from symconv.symbolic import expressions as symbolic
from symconv.symbolic.expressions import closed_form, expression, general_formulas, instantiate, literal_derivation

from ..strategies import specs


@settings(max_examples=60)
@given(spec=specs(max_size=5, max_kernel=3, max_stride=3, max_dilation=2, max_channels=2, max_elements=120))
def test_literal_derivation_equals_index_map_expressions(spec):
    literal = literal_derivation(spec)
    for quantity in QUANTITIES:
        for index, expr in literal.entries(quantity).items():
            assert expression(spec, quantity, index) == expr, (quantity, index)


@settings(max_examples=150)
@given(spec=specs(max_size=8), data=st.data())
def test_closed_forms_expand_to_the_explicit_expressions(spec, data):
    for quantity in QUANTITIES:
        shape = spec.shape_of({"forward": "y", "filter_grad": "k", "input_grad": "x"}[quantity])
        index = tuple(data.draw(st.integers(0, s - 1)) for s in shape)
        compact = closed_form(spec, quantity, index)
        assert compact.doit() == expression(spec, quantity, index), (quantity, index, compact)


def test_literal_route_on_the_founding_case():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    literal = literal_derivation(spec)
    x, k, g = (symbolic.BASES[n] for n in "xkg")
    assert literal.forward[(0, 0, 0, 0)] == x[0, 1, 1, 0] * k[0, 0, 0, 0]
    assert literal.loss == g[0, 0, 0, 0] * x[0, 1, 1, 0] * k[0, 0, 0, 0]
    assert literal.filter_grad[(0, 0, 0, 0)] == g[0, 0, 0, 0] * x[0, 1, 1, 0]
    assert literal.input_grad[(0, 1, 1, 0)] == g[0, 0, 0, 0] * k[0, 0, 0, 0]
    assert literal.input_grad[(0, 0, 0, 0)] == 0


def general_cases():
    for op, x, k, s, d, pad, conv in [
        ("conv1d", "2x7x2", "3x2x2", 2, 1, "SAME", "tf"),
        ("conv1d", "1x6x1", "2x1x3", 3, 2, "SAME", "legacy_eigen"),
        ("conv1d", "1x5x2", "4x2x1", 1, 1, ((-1, 2),), "tf"),
        ("conv2d", "1x5x4x2", "3x2x2x2", (2, 1), (1, 2), "SAME", "same_lower"),
        ("conv2d", "1x3x3x1", "1x1x1x1", 3, 1, "SAME", "legacy_eigen"),
        ("conv2d", "1x4x5x1", "3x3x1x2", 2, 1, "SAME", "torch"),
    ]:
        yield ConvSpec(op, x, k, strides=s, dilations=d, padding=pad, convention=conv)


@pytest.mark.parametrize("spec", list(general_cases()), ids=repr)
def test_general_formulas_instantiate_to_every_entry(spec):
    formulas = general_formulas(spec.ndim)
    values = formulas.substitute(spec)
    nd = spec.ndim
    o, a, h = ([symbolic.dummy(n) for n in names[:nd]] for names in (("i", "j"), ("a", "b"), ("h", "w")))
    n, ci, co = symbolic.dummy("n"), symbolic.dummy("ci"), symbolic.dummy("co")
    for index in itertools.product(*map(range, spec.k_shape)):
        binding = dict(zip([*a, ci, co], index))
        assert instantiate(formulas.filter_grad, values, binding) == expression(spec, "filter_grad", index)
    for index in itertools.product(*map(range, spec.x_shape)):
        binding = dict(zip([n, *h, ci], index))
        assert instantiate(formulas.input_grad, values, binding) == expression(spec, "input_grad", index)
    for index in itertools.product(*map(range, spec.y_shape)):
        binding = dict(zip([n, *o, co], index))
        assert instantiate(formulas.forward, values, binding) == expression(spec, "forward", index)


def test_general_formula_states_the_in_bounds_condition():
    f = general_formulas(1)
    size = f.sizes
    i, a = symbolic.dummy("i"), symbolic.dummy("a")
    pos = size["S0"] * i + size["D0"] * a - size["P0"]
    body = f.filter_grad.rhs.function
    assert isinstance(body, sympy.Piecewise)
    (term, condition), (zero, otherwise) = body.args
    assert {r.canonical for r in condition.args} == {(pos >= 0).canonical, (pos < size["H0"]).canonical}
    assert (zero, otherwise) == (0, True)
    assert term.has(symbolic.BASES["x"][symbolic.dummy("n"), pos, symbolic.dummy("ci")])


def test_explicit_expressions_are_refused_above_the_limit():
    spec = ConvSpec("conv2d", "1x512x512x1", "1x1x1x1", padding="VALID")
    with pytest.raises(SymconvError, match=r"dk\[0,0,0,0\] has 262144 terms, more than the explicit limit"):
        expression(spec, "filter_grad", (0, 0, 0, 0))
    assert closed_form(spec, "filter_grad", (0, 0, 0, 0)) == sympy.Sum(
        symbolic.BASES["g"][0, symbolic.dummy("i"), symbolic.dummy("j"), 0]
        * symbolic.BASES["x"][0, symbolic.dummy("i"), symbolic.dummy("j"), 0],
        (symbolic.dummy("i"), 0, 511), (symbolic.dummy("j"), 0, 511))


def test_literal_derivation_is_refused_above_its_limit():
    spec = ConvSpec("conv2d", "1x64x64x8", "3x3x8x8", padding="SAME")
    with pytest.raises(SymconvError, match=r"literal derivation of this conv2d has 2310400 products.*single entries"):
        literal_derivation(spec)


def test_entry_symbols_print_with_their_full_index():
    assert str(symbolic.entry("x", (0, 1, 1, 0))) == "x[0, 1, 1, 0]"
    assert sympy.latex(symbolic.entry("k", (0, 0, 2, 1))) == "{k}_{0,0,2,1}"


def test_the_literal_route_builds_y_from_the_definition_not_from_the_other_routes(monkeypatch):
    from symconv.model import indexmap, reference

    def refuse(*args, **kwargs):
        raise AssertionError("the literal route used another route")
    spec = ConvSpec("conv2d", "1x4x3x4", "2x2x2x4", strides=2, padding="SAME", groups=2)
    monkeypatch.setattr(reference, "forward", refuse)
    monkeypatch.setattr(indexmap.IndexMaps, "terms", refuse)
    monkeypatch.setattr(indexmap.IndexMaps, "evaluate", refuse)
    literal = literal_derivation(spec, gradients=())
    monkeypatch.undo()
    for index, expr in literal.forward.items():
        assert expression(spec, "forward", index) == expr
