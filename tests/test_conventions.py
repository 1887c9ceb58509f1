"""Padding conventions: known values from each source, and the properties every rule keeps."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from symconv import conventions
from symconv.conventions import REGISTRY, output_size
from symconv.errors import SymconvError

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
