"""Exact probing: the bound, the row check, localisation and reading pads, on the numpy backend
and on broken implementations."""

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv import CONVENTIONS, ConvSpec, SymconvError
from symconv.backends import open_runner
from symconv.model.indexmap import maps_for
from symconv.model.spec import QUANTITIES, TENSOR_OF
from symconv.probing import localisation, probe, verification
from symconv.probing import taps as tap_probes

from ..paths import IMPLS
from ..strategies import specs

NEEDS = {"forward": ("x", "k"), "filter_grad": ("x", "g"), "input_grad": ("k", "g")}


@settings(max_examples=60)
@given(spec=specs(max_size=6, allow_empty=True))
def test_term_bound_is_the_largest_term_count_of_any_entry(spec):
    maps = maps_for(spec)
    for quantity in QUANTITIES:
        shape = spec.shape_of(TENSOR_OF[quantity])
        counts = [0] if spec.is_empty else [maps.count(quantity, i) for i in itertools.product(*map(range, shape))]
        assert probe.term_bound(spec, quantity) == max(counts)


@settings(max_examples=60)
@given(spec=specs(max_size=8, allow_empty=True))
def test_probe_magnitudes_keep_every_sum_exact_in_float32(spec):
    r = probe.magnitudes(spec)
    for quantity in QUANTITIES:
        a, b = NEEDS[quantity]
        assert probe.term_bound(spec, quantity) * r[a] * r[b] <= 2**24
        plan = probe.ProbePlan.for_quantity(spec, quantity)
        assert plan.miss_probability <= probe.MISS_PROBABILITY
        assert 1 <= plan.probes <= probe.MAX_PROBES
    assert max(r.values()) <= probe.MAX_MAGNITUDE


def test_a_layer_too_large_for_exact_probing_is_refused():
    spec = ConvSpec("conv2d", "64x512x512x1", "3x3x1x1", padding="SAME")  # dk entries sum 16.7 M products
    with pytest.raises(SymconvError, match="dk entries of this conv2d sum up to 16777216 products: exact float32 "
                                           "probing needs terms \\* R_a \\* R_b <= 2\\*\\*24"):
        probe.ProbePlan.for_quantity(spec, "filter_grad")
    with pytest.raises(SymconvError, match="miss probability must be a number between 0 and 1, got 2"):
        probe.ProbePlan.for_quantity(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1"), "forward", 2)


def test_a_smaller_miss_probability_costs_more_probes_up_to_ten():
    spec = ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", padding="SAME")
    default = probe.ProbePlan.for_quantity(spec, "filter_grad")
    strict = probe.ProbePlan.for_quantity(spec, "filter_grad", 1e-12)
    assert (default.probes, strict.probes) == (2, 7)
    assert strict.miss_probability <= 1e-12


def test_probe_values_are_nonzero_integers_within_the_magnitude():
    values = probe.nonzero_integers(np.random.default_rng(1), 50_000, 7)
    assert values.dtype == np.float32
    assert set(np.unique(values).astype(int)) == set(range(-7, 0)) | set(range(1, 8))


@settings(max_examples=80)
@given(spec=specs(max_size=7), seed=st.integers(0, 2**32 - 1))
def test_the_row_check_equals_the_channel_reduction_of_the_exact_model(spec, seed):
    rng = np.random.default_rng(seed)
    probes = probe.ProbeSet(spec, rng)
    for quantity in QUANTITIES:
        inputs = probes.inputs(quantity, 0)
        model = maps_for(spec).evaluate(quantity, **{n: v.astype(np.int64) for n, v in inputs.items()})
        weights = rng.integers(-1000, 1000, verification.weight_axis(spec, quantity)).astype(np.float64)
        lhs, rhs = verification.row_sums(spec, quantity, inputs, model.astype(np.float32), weights)
        assert np.array_equal(lhs, rhs), quantity
        wrong = model.astype(np.float32)
        wrong[np.unravel_index(rng.integers(wrong.size), wrong.shape)] += 1
        mask, _ = verification.compare(spec, probe.ProbePlan.for_quantity(spec, quantity), inputs, wrong, rng)
        assert mask.sum() == 1, quantity


def localised(impl, spec, quantity, entry):
    with open_runner(impl=os.path.join(IMPLS, impl)) as runner:
        probes = probe.ProbeSet(spec, np.random.default_rng(3))
        verified, failed, _ = verification.verify(runner, spec, quantity, "op", probes)
        assert failed is None and verified.mismatch[entry]
        (item,) = localisation.localise(runner, spec, quantity, "op", verified, [entry], np.random.default_rng(4))
        return item, runner.calls[(quantity, "op")]


def test_localising_the_founding_bug_names_the_centre_pixel():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    item, calls = localised("founding_bug.py", spec, "forward", (0, 0, 0, 0))
    assert item.observed.as_json() == [{"x": [0, 1, 1, 0], "k": [0, 0, 0, 0]}]
    assert item.expected.as_json() == [{"x": [0, 0, 0, 0], "k": [0, 0, 0, 0]}]
    assert item.differing_slots == [("k", (0, 0, 0, 0))]
    assert calls <= 6


def test_localising_a_double_counted_tap_recovers_the_coefficient():
    spec = ConvSpec("conv2d", "1x4x4x2", "2x2x2x3", padding="VALID")
    item, _ = localised("double_counted_tap.py", spec, "filter_grad", (0, 0, 1, 2))
    doubled = [t for t in item.observed.as_json() if t.get("coefficient") == 2]
    assert doubled == [{"g": [0, 0, o, 2], "x": [0, 0, o, 1], "coefficient": 2} for o in range(3)]
    assert len(item.observed) == len(item.expected) == 9


def test_localising_a_dropped_channel_finds_the_missing_terms_only():
    spec = ConvSpec("conv2d", "1x3x3x1", "2x2x1x3", padding="SAME")
    item, calls = localised("dropped_channel.py", spec, "input_grad", (0, 1, 1, 0))
    missing = {(tuple(t["g"]), tuple(t["k"])) for t in item.expected.as_json()} - \
        {(tuple(t["g"]), tuple(t["k"])) for t in item.observed.as_json()}
    assert {k[3] for _, k in missing} == {2} and len(missing) == 4
    assert all(tensor == "k" and index[3] == 2 for tensor, index in item.differing_slots)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_tap_probes_read_the_pads_of_every_convention_from_the_numpy_backend(convention):
    spec = ConvSpec("conv2d", "1x5x7x2", "3x2x2x2", strides=(2, 3), padding="SAME", convention=convention)
    with open_runner("numpy") as runner:
        for quantity in QUANTITIES:
            taps = tap_probes.tap_observations(runner, spec, quantity, "op", np.random.default_rng(0))
            assert taps.failed is None and not taps.garbage
            reading = tap_probes.read_pads(spec, quantity, taps.observations)
            pads, names = tap_probes.explain_pads(spec, reading, tap_probes.out_spatial_of(spec, quantity, taps.shape))
            assert pads == [list(p) for p in spec.pads], quantity
            assert convention in names


def test_an_axis_that_reads_only_padding_is_reported_unobserved():
    spec = ConvSpec("conv1d", "1x1x1", "1x1x1", strides=3, padding="5:5")  # every window sits in padding
    with open_runner("numpy") as runner:
        taps = tap_probes.tap_observations(runner, spec, "forward", "op", np.random.default_rng(0))
    reading = tap_probes.read_pads(spec, "forward", taps.observations)
    assert taps.failed is None and reading.state(0) == "unobserved"
    assert tap_probes.explain_pads(spec, reading, spec.direct_output_spatial) == ([None], [])
