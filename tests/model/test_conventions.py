"""Padding conventions: known values from each source, and the properties every rule keeps."""

import math

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv import ConvSpec
from symconv.errors import SymconvError
from symconv.model import conventions
from symconv.model.conventions import REGISTRY, output_size

# (in, kernel, stride, dilation) -> expected (out, before, after) per convention.
KNOWN = [
    # The founding case: TF clamps to 0; the 2017 Eigen forward started one pixel in.
    ((3, 1, 3, 1), {"tf": (1, 0, 0), "same_lower": (1, 0, 0), "legacy_eigen": (1, -1, -1), "torch": (1, 0, 0)}),
    # ResNet-50's first layer: 224 input, 7x7 kernel, stride 2 -> 112, pads 2 before, 3 after.
    ((224, 7, 2, 1), {"tf": (112, 2, 3), "same_lower": (112, 3, 2), "legacy_eigen": (112, 2, 3), "torch": (112, 3, 3)}),
    # ONNX's SAME_UPPER / SAME_LOWER example shape: odd total padding.
    ((5, 2, 2, 1), {"tf": (3, 0, 1), "same_lower": (3, 1, 0), "legacy_eigen": (3, 0, 1), "torch": (2, 0, 0)}),
    # Dilation 2 makes a 3-tap kernel span 5.
    ((7, 3, 1, 2), {"tf": (7, 2, 2), "same_lower": (7, 2, 2), "legacy_eigen": (7, 2, 2), "torch": (7, 2, 2)}),
    # Negative totals: TF clamps, Eigen truncates toward zero (-1/2 == 0, -3/2 == -1).
    ((5, 1, 3, 1), {"tf": (2, 0, 0), "legacy_eigen": (2, 0, -1)}),
    ((7, 1, 4, 1), {"tf": (2, 0, 0), "legacy_eigen": (2, -1, -1)}),
    ((9, 1, 5, 1), {"tf": (2, 0, 0), "legacy_eigen": (2, -1, -2)}),
]


@pytest.mark.parametrize("args,expected", KNOWN)
def test_known_values(args, expected):
    for name, want in expected.items():
        assert tuple(REGISTRY[name](*args)) == want, name


@pytest.mark.parametrize("name", sorted(REGISTRY))
@given(size=st.integers(1, 40), kernel=st.integers(1, 8), stride=st.integers(1, 6), dilation=st.integers(1, 4))
def test_every_rule_is_consistent_with_the_window_count(name, size, kernel, stride, dilation):
    out, before, after = REGISTRY[name](size, kernel, stride, dilation)
    assert out == output_size(size, kernel, stride, dilation, before, after)


@given(size=st.integers(1, 60), kernel=st.integers(1, 9), stride=st.integers(1, 7), dilation=st.integers(1, 4))
def test_same_rules_share_the_output_size_and_total(size, kernel, stride, dilation):
    tf = REGISTRY["tf"](size, kernel, stride, dilation)
    lower = REGISTRY["same_lower"](size, kernel, stride, dilation)
    eigen = REGISTRY["legacy_eigen"](size, kernel, stride, dilation)
    assert tf.out == lower.out == eigen.out == math.ceil(size / stride)
    assert tf.before >= 0 and tf.after >= 0 and tf.after - tf.before in (0, 1)
    assert (lower.before, lower.after) == (tf.after, tf.before)
    unclamped = (tf.out - 1) * stride + (kernel - 1) * dilation + 1 - size
    assert eigen.before + eigen.after == unclamped
    if unclamped >= 0:
        assert (eigen.before, eigen.after) == (tf.before, tf.after)


def test_every_rule_has_a_formula_and_a_citation():
    for conv in REGISTRY.values():
        assert conv.formula and conv.citation and conv.name in REGISTRY


def test_unknown_convention_names_the_choices():
    with pytest.raises(SymconvError, match=r"convention must be one of .*legacy_eigen.*got 'eigen'"):
        conventions.get("eigen")


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=25)
@given(size=st.integers(1, 40), kernel=st.integers(1, 8), stride=st.integers(1, 6), dilation=st.integers(1, 4))
def test_the_registry_numbers_are_the_sympy_rule_evaluated(name, size, kernel, stride, dilation):
    rule = REGISTRY[name].rule.expressions()
    values = dict(zip(conventions.ARGUMENTS, (size, kernel, stride, dilation)))
    by_sympy = tuple(int(e.xreplace({k: sympy.Integer(v) for k, v in values.items()})) for e in rule)
    assert REGISTRY[name](size, kernel, stride, dilation) == by_sympy


def test_resolving_padding_needs_no_sympy():
    """A backend's worker resolves pads without importing SymPy: here SymPy cannot be imported."""
    import os
    import subprocess
    import sys
    code = ("import sys, types, importlib; sys.modules['sympy'] = None; "
            "pkg = types.ModuleType('symconv'); pkg.__path__ = [sys.argv[1]]; sys.modules['symconv'] = pkg; "
            "c = importlib.import_module('symconv.model.conventions'); "
            "print(c.get('tf')(5, 2, 2, 1), c.get('torch').transposed_size(3, 3, 2, 1), c.runs_as('tf'))")
    done = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.dirname(conventions.__file__))],
                          capture_output=True,
                          text=True)
    assert done.stdout.strip() == "Resolved(out=3, before=0, after=1) 5 True", done.stderr


def test_exact_at_any_size():
    huge = 10**30
    assert REGISTRY["tf"](huge + 1, 3, 2, 1) == (huge // 2 + 1, 1, 1)
    assert REGISTRY["legacy_eigen"](huge, 1, huge, 1).before == -((huge - 1) // 2)  # trunc((1 - huge) / 2)


def test_a_rule_that_is_not_a_rule_is_refused_when_registered():
    with pytest.raises(SymconvError, match=r"convention 'broken' uses \['x'\], which are not its arguments"):
        @conventions.register("broken", citation="a test")
        def broken(size, kernel, stride, dilation):
            """uses a stray symbol"""
            return conventions.Resolved(sympy.Symbol("x"), 0, 0)
    assert "broken" not in REGISTRY


def test_adding_a_convention_is_adding_one_function(capsys):
    from symconv import latex, proof
    from symconv.backends.base import native_padding
    from symconv.cli import main
    from symconv.model.indexmap import maps_for

    @conventions.register("all_before", citation="defined in this test: the whole SAME total before")
    def all_before(size, kernel, stride, dilation):
        """out = ceil(in/s); total as tf; before = total, after = 0"""
        out = conventions.let("O", conventions.ceiling(size / stride))
        total = conventions.let("T", conventions.Max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0))
        return conventions.Resolved(out, total, 0)

    @conventions.register("tf_again", citation="defined in this test: tf's rule under another name")
    def tf_again(size, kernel, stride, dilation):
        """as tf"""
        out = conventions.let("O", conventions.ceiling(size / stride))
        total = conventions.let("T", conventions.Max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0))
        return conventions.Resolved(out, conventions.floor(total / 2), total - conventions.floor(total / 2))

    try:
        spec = ConvSpec("conv1d", "1x5x1", "3x1x1", strides=2, padding="SAME", convention="all_before")
        assert spec.pads == ((2, 0),) and spec.y_shape == (1, 3, 1)
        assert ConvSpec("conv1d_transpose", "1x3x1", "3x1x1", strides=2, padding="SAME",
                        convention="all_before").y_shape == (1, 6, 1)          # Keras's choice: the largest
        # backends: SAME is passed on only under tf's own rule
        assert native_padding(spec, explicit_ok=True) == ((2, 0),)
        assert native_padding(ConvSpec("conv1d", "1x5x1", "3x1x1", padding="SAME", convention="tf_again"),
                              explicit_ok=True) == "SAME"
        # documents print the new rule and check it
        doc = latex.build_spec_document(spec, ["y[0,0,0]"])
        assert any("SymPy's evaluation of the all_before rule equals" in c for c in doc.checks)
        tex = doc.render()
        assert "T &= \\max\\left(s \\left(O - 1\\right)" in tex and "p_{\\mathrm{after}} &= 0" in tex
        # facts: what the rule guarantees, proven from the rule
        fact = proof.report.same_fact("all_before", 4)
        assert fact.status == "proven" and fact.key == "same-all-before"
        assert "the pads are never negative" in fact.statement and "the same total padding as tf" in fact.statement
        assert "but not: after - before is 0 or 1" in fact.statement
        # the command line takes it like any other
        assert main(["which", "conv1d", "--input", "1x5x1", "--kernel", "3x1x1", "--strides", "2", "--padding",
                     "SAME", "--convention", "all_before", "--entry", "y[0,0,0]"]) == 0
        assert "pads (before:after per spatial axis) 2:0" in capsys.readouterr().out
    finally:
        conventions.unregister("all_before")
        conventions.unregister("tf_again")
        maps_for.cache_clear()
    with pytest.raises(SymconvError, match="convention must be one of"):
        conventions.get("all_before")
