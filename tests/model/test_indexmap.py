"""Index maps against the independent NumPy reference, over every op, layout and convention."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv import ConvSpec, SymconvError
from symconv.model import reference
from symconv.model.indexmap import maps_for
from symconv.model.spec import QUANTITIES, TENSOR_OF

from ..strategies import specs

NEEDS = {"forward": ("x", "k"), "filter_grad": ("x", "g"), "input_grad": ("k", "g")}


def random_tensors(spec, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.integers(-9, 10, spec.shape_of(name)) for name in ("x", "k", "g")}


@settings(max_examples=300)
@given(spec=specs(allow_empty=True), seed=st.integers(0, 2**32 - 1))
def test_map_evaluation_equals_the_reference(spec, seed):
    tensors = random_tensors(spec, seed)
    maps = maps_for(spec)
    for quantity in QUANTITIES:
        args = {n: tensors[n] for n in NEEDS[quantity]}
        got = maps.evaluate(quantity, **args)
        want = reference.evaluate(spec, quantity, **args)
        assert got.shape == want.shape == spec.shape_of(TENSOR_OF[quantity])
        assert got.dtype == np.int64
        assert np.array_equal(got, want), quantity


@settings(max_examples=150)
@given(spec=specs(max_size=6, max_kernel=3), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_terms_of_sampled_entries_reproduce_the_value(spec, seed, data):
    tensors = random_tensors(spec, seed)
    maps = maps_for(spec)
    for quantity in QUANTITIES:
        value = reference.evaluate(spec, quantity, **{n: tensors[n] for n in NEEDS[quantity]})
        for _ in range(3):
            index = tuple(data.draw(st.integers(0, s - 1)) for s in value.shape)
            terms = maps.terms(quantity, index)
            one, two = terms.factors
            total = sum(c * tensors[one][f] * tensors[two][s] for c, f, s in terms.pairs())
            assert total == value[index]
            assert len({(f, s) for _, f, s in terms.pairs()}) == len(terms)  # no pair twice
            firsts = [f for _, f, _ in terms.pairs()]
            assert firsts == sorted(firsts)


def test_every_entry_of_a_small_case_reproduces_the_reference():
    spec = ConvSpec("conv2d", "2x5x4x3", "3x2x3x2", strides=(2, 1), dilations=(1, 2), padding="SAME",
                    convention="same_lower")
    tensors = random_tensors(spec, 7)
    for quantity in QUANTITIES:
        value = reference.evaluate(spec, quantity, **{n: tensors[n] for n in NEEDS[quantity]})
        for index in itertools.product(*map(range, value.shape)):
            terms = maps_for(spec).terms(quantity, index)
            one, two = terms.factors
            assert sum(tensors[one][f] * tensors[two][s] for _, f, s in terms.pairs()) == value[index]


@settings(max_examples=100)
@given(spec=specs(max_size=7))
def test_dense_spatial_maps_agree_with_the_per_axis_taps(spec):
    maps = maps_for(spec)
    fwd = maps.forward_spatial()
    big = spec.direct_input_spatial
    nd = spec.ndim
    for out in itertools.product(*map(range, spec.direct_output_spatial)):
        for tap in itertools.product(*map(range, spec.kernel_spatial)):
            pos = [o * s + a * d - b for o, a, s, d, (b, _) in zip(out, tap, spec.strides, spec.dilations, spec.pads)]
            inside = all(0 <= p < n for p, n in zip(pos, big))
            want = int(np.ravel_multi_index(pos, big)) if inside else -1
            assert fwd[out + tap] == want
    assert np.array_equal(maps.filter_grad_spatial(), fwd.transpose(tuple(range(nd, 2 * nd)) + tuple(range(nd))))
    indptr, small, kernel = maps.input_grad_spatial()
    flat = fwd.reshape(int(np.prod(spec.direct_output_spatial)), -1)
    for p in range(int(np.prod(big))):
        got = set(zip(small[indptr[p]:indptr[p + 1]].tolist(), kernel[indptr[p]:indptr[p + 1]].tolist()))
        assert got == {tuple(rc) for rc in np.argwhere(flat == p).tolist()}


def test_founding_case_terms():
    tf = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    eigen = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    assert maps_for(tf).terms("filter_grad", (0, 0, 0, 0)).as_json() == [{"g": [0, 0, 0, 0], "x": [0, 0, 0, 0]}]
    assert maps_for(eigen).terms("forward", (0, 0, 0, 0)).as_json() == [{"x": [0, 1, 1, 0], "k": [0, 0, 0, 0]}]
    # Under legacy_eigen only the centre pixel has a gradient; the others are cropped away.
    assert [len(maps_for(eigen).terms("input_grad", (0, h, w, 0))) for h in range(3) for w in range(3)] == \
        [0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_depthwise_and_transpose_terms_use_their_own_layouts():
    dw = ConvSpec("depthwise_conv2d", "1x3x3x2", "2x2x2x3", padding="VALID")
    # Output channel 4 = input channel 1 * multiplier 3 + 1.
    assert maps_for(dw).terms("forward", (0, 0, 0, 4)).as_json()[:2] == [
        {"x": [0, 0, 0, 1], "k": [0, 0, 1, 1]}, {"x": [0, 0, 1, 1], "k": [0, 1, 1, 1]}]
    tr = ConvSpec("conv1d_transpose", "1x2x1", "3x1x1", strides=2, padding="VALID")
    assert tr.y_shape == (1, 5, 1)
    # y[2] of a stride-2 transposed conv collects x[0]*k[2] and x[1]*k[0].
    assert maps_for(tr).terms("forward", (0, 2, 0)).as_json() == [
        {"x": [0, 0, 0], "k": [2, 0, 0]}, {"x": [0, 1, 0], "k": [0, 0, 0]}]


def test_empty_output_has_no_terms_to_ask_about():
    spec = ConvSpec("conv2d", "1x3x3x1", "5x5x1x1", padding="VALID")
    with pytest.raises(SymconvError, match=r"output of this conv2d is empty \(shape \(1, 0, 0, 1\)\)"):
        maps_for(spec).terms("filter_grad", (0, 0, 0, 0))


def test_evaluate_checks_shapes_and_inputs():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    with pytest.raises(SymconvError, match=r"x must have shape \(1, 3, 3, 1\), got \(3, 3\)"):
        maps_for(spec).evaluate("forward", x=np.zeros((3, 3)), k=np.ones((1, 1, 1, 1)))
    with pytest.raises(SymconvError, match=r"dk needs tensor g"):
        maps_for(spec).evaluate("filter_grad", x=np.zeros((1, 3, 3, 1)))


def test_huge_axes_are_refused_not_attempted():
    spec = ConvSpec("conv1d", "1x2000000000x1", "3x1x1", padding="SAME")
    with pytest.raises(SymconvError, match=r"spatial axis 0 has 2000000000 output positions x 3 kernel taps"):
        maps_for(spec)
    wide = ConvSpec("conv2d", "1x8192x8192x1", "3x3x1x1", padding="SAME")
    assert maps_for(wide).count("filter_grad", (1, 1, 0, 0)) == 8192 * 8192
    with pytest.raises(SymconvError, match=r"dense spatial map of this conv2d has 603979776 entries"):
        maps_for(wide).forward_spatial()
