"""Bugs named from models fitted to lit calls (geometry, kernel and channel maps, local rules), wrong
shapes placed against the model's output, equivalent explanations with the fix in the code's own
framework, and unexplained cases shrunk instead of ending in a wall of unlocalised entries."""

import json
import os

import numpy as np
import pytest

from symconv import ConvSpec, check
from symconv.backends.functions import FunctionsBackend
from symconv.backends.runner import LocalRunner
from symconv.cli import main
from symconv.model.indexmap import maps_for
from symconv.probing import lit

from ..paths import IMPLS

QUANTITIES = ("forward", "filter_grad", "input_grad")


def impl(name):
    return os.path.join(IMPLS, name)


def evaluate(spec, quantity, **tensors):
    return maps_for(spec).evaluate(quantity, **{n: np.asarray(t, dtype=np.float64) for n, t in tensors.items()})


def functions(**quantities):
    return LocalRunner(FunctionsBackend(quantities))


def named(result):
    return [c.name for c in result.diagnosis.accepted]


# ---- the cases, each a planted --impl file at its size --------------------------------------

def test_an_unclamped_same_split_is_fitted_from_one_lit_round_at_the_reported_size():
    spec = ConvSpec("conv2d", "1x50x22x1", "5x6x1x1", strides=(10, 2), padding="SAME")
    for result in check(spec, impl=impl("unclamped_same_split.py")).results:
        assert named(result) == ["fitted_geometry"], result.quantity
        sentence = result.diagnosis.accepted[0].sentence
        assert "pads -3:-2,2:2 instead of 0:0,2:2: every x pixel is three rows lower (H)" in sentence
        assert ("SAME's total padding on H, (out-1)*s + (k-1)*d + 1 - in = (5-1)*10 + 5 - 50 = -5, is negative (the "
                "stride is larger than the kernel) and split without clamping it at zero: -3 before (rounded down), "
                "-2 after, where the model clamps it to 0") in sentence
        assert result.backend_calls <= 20 and result.diagnosis.fit_calls == 2
        assert result.implied_pads == [[-3, -2], [2, 2]]
        assert result.evidence.startswith("observed with ") and result.mismatches


@pytest.mark.parametrize("op,input_shape,kernel,strides,pads,axes", [
    ("conv2d_transpose", "1x6x6x3", "3x3x2x3", 2, ((0, 1), (1, 0)), "H and W"),
    ("conv2d", "1x9x9x3", "3x3x3x2", 1, ((0, 2), (1, 1)), "H and W"),
    ("conv3d", "1x5x6x7x1", "3x3x3x1x1", 1, ((0, 2), (1, 1), (2, 0)), "D and W"),
])
def test_pads_read_on_the_wrong_axes_are_named_as_swapped(op, input_shape, kernel, strides, pads, axes):
    spec = ConvSpec(op, input_shape, kernel, strides=strides, padding=pads)
    forward = check(spec, impl=impl("swapped_axis_pads.py")).results[0]
    assert forward.status == "mismatch" and forward.backend_calls <= 20
    sentence = forward.diagnosis.accepted[0].sentence
    assert f"the pads of {axes} swapped (each axis padded as the other should be)" in sentence, sentence
    assert forward.implied_pads == [list(p) for p in reversed(pads)]


def test_kernel_slices_taken_from_other_groups_are_fitted_from_partial_lit_rounds():
    spec = ConvSpec("conv2d", "1x9x8x6", "3x2x2x6", strides=2, padding="SAME", groups=3)
    for result in check(spec, impl=impl("kernel_slices_from_other_channels.py")).results:
        assert result.status == "mismatch" and result.backend_calls <= 20, result.quantity
        sentence = result.diagnosis.accepted[0].sentence
        assert ("each group's y channels computed with another group's kernel slices, the groups rotated "
                "(group i holds group i+1, mod 3)") in sentence, sentence


def test_one_output_channel_computed_with_another_channels_kernel_slice_is_said_so():
    spec = ConvSpec("conv2d", "1x12x12x4", "3x3x4x4", padding="SAME")
    forward = check(spec, impl=impl("kernel_slices_from_other_channels.py"), quantities=["forward"]).results[0]
    sentence = forward.diagnosis.accepted[0].sentence
    assert sentence.startswith("only y[:,:,:,1] (channel 1) differs") and forward.backend_calls <= 20
    assert "y channel 1 computed with the kernel slice of channel 0" in sentence, sentence


def test_an_im2col_with_its_patch_columns_in_another_order_is_named_at_real_size():
    spec = ConvSpec("conv2d", "1x32x32x16", "3x3x16x16", padding="SAME")
    for result in check(spec, impl=impl("im2col_patch_order.py")).results:
        assert named(result) == ["kernel_layout"], result.quantity
        assert ("the kernel's buffer (HWIO) read as IHWO: an im2col whose patch columns are ordered (c, h, w) while "
                "the kernel is flattened (h, w, c)") in result.diagnosis.accepted[0].sentence
        assert result.diagnosis.fix[0] == ("order the patch columns (h, w, c), as the kernel is flattened; or hand "
                                           "the code the kernel re-stored as it reads it: "
                                           "k = np.ascontiguousarray(k.transpose(2, 0, 1, 3))")
        assert result.backend_calls <= 20


def test_where_one_output_channel_makes_readings_equal_they_are_all_listed():
    spec = ConvSpec("conv2d", "1x8x8x2", "3x3x2x1", padding="SAME")
    sentence = check(spec, impl=impl("im2col_patch_order.py"), quantities=("forward",)).results[0] \
        .diagnosis.accepted[0].sentence
    assert "read as OIHW (PyTorch's convolution's layout) (equivalently read as " in sentence
    assert "IHWO" in sentence and "the same reading at these sizes" in sentence


def test_a_dropped_group_is_one_region_of_zeros_in_every_quantity():
    spec = ConvSpec("conv2d", "1x56x56x16", "3x3x8x16", padding="SAME", groups=2)
    report = check(spec, impl=impl("dropped_group.py"))
    words = {r.quantity: r.diagnosis.accepted[0].sentence for r in report.results}
    assert words["forward"] == ("the forward (y) is exactly the model except y[:,:,:,8:16] (channels 8-15, group 1), "
                                "which are zero")
    assert "dk[:,:,:,8:16] (the kernel slices of y channels 8-15, group 1), which are zero" in words["filter_grad"]
    assert "dx[:,:,:,8:16] (channels 8-15, group 1), which are zero" in words["input_grad"]
    assert all(r.backend_calls <= 20 for r in report.results)


def test_one_output_channel_read_from_another_group_is_fitted_for_every_quantity():
    spec = ConvSpec("conv2d", "1x56x56x4", "3x3x2x4", padding="SAME", groups=2)
    report = check(spec, impl=impl("channel_from_other_group.py"))
    rule = "y channel 3 (group 1) computed from x channels 0-1 (group 0) instead of 2-3 (group 1)"
    for result in report.results:
        assert named(result) == ["fitted_kernel_map"], result.quantity
        assert rule in result.diagnosis.accepted[0].sentence
        assert result.backend_calls <= 20 and result.diagnosis.fit_calls == 2
    assert report.results[0].diagnosis.accepted[0].sentence.startswith("only y[:,:,:,3] (channel 3) differs: ")


def test_one_wrong_output_position_is_a_region_and_a_rule_in_every_quantity():
    spec = ConvSpec("conv2d", "1x5x5x4", "3x3x4x4", padding="VALID")
    for result in check(spec, impl=impl("wrong_last_position.py")).results:
        assert named(result) == ["local_rule"], result.quantity
        assert ("except that the window of y[:,2,2,:] (the last output position) is read one column to the left (W), "
                "as with pads 0:0,1:-1 there") in result.diagnosis.accepted[0].sentence
        assert result.backend_calls <= 80


def test_a_transposed_output_too_long_is_placed_against_the_model_and_cropped_in_the_fix():
    spec = ConvSpec("conv2d_transpose", "1x28x28x8", "3x3x8x8", strides=2, padding="SAME")
    result = check(spec, impl=impl("transposed_longer_output.py"), quantities=("forward",)).results[0]
    assert result.status == "error" and result.message.startswith("wrong output shape")
    assert result.diagnosis.shape_note == ("the backend's y is the model's with one extra row and one extra column at "
                                           "the end (stride - 1 on each axis): its y[:,0:56,0:56,:] are the model's "
                                           "exactly")
    assert result.diagnosis.fix[0].startswith("keep y[:,0:56,0:56,:] of the output (the model's pads 0:1,0:1)")
    assert "    shape: the backend's y is the model's with one extra row" in "\n".join(result.lines(spec))


def test_a_pytorch_port_with_padding_3_names_what_its_code_says_first_and_prints_the_fix():
    pytest.importorskip("torch")
    spec = ConvSpec("conv2d", "1x56x56x3", "7x7x3x8", strides=2, padding="SAME")
    report = check(spec, impl=impl("torch_port_padding3.py"))
    for result in report.results:
        explanations = result.diagnosis.explanations()
        assert [c.parameters.get("convention") for c in explanations[:2]] == ["torch", "same_lower"], result.quantity
        assert result.diagnosis.closest == "its code says padding=3 (torch_port_padding3.py:19)"
        assert result.diagnosis.fix[0] == ("PyTorch: x = F.pad(x, (2, 3, 2, 3)) (or nn.ZeroPad2d((2, 3, 2, 3)) before "
                                           "the layer), then F.conv2d(x, weight, stride=2, padding=0)")
        assert result.diagnosis.fix[1].endswith("--from tf --to torch")
        assert result.implied_pads == [[3, 3], [3, 3]]
    out = report.to_json()["results"][0]["diagnosis"]
    assert out["closest"].startswith("its code says padding=3") and out["declared"]["framework"] == "torch"
    assert [e["parameters"]["convention"] for e in out["equivalent"]][:1] == ["same_lower"]
    text = report.text()
    assert "[closest to the implementation: its code says padding=3 (torch_port_padding3.py:19)]" in text
    assert "    fix: PyTorch: x = F.pad(x, (2, 3, 2, 3))" in text


# ---- the capability is general: other ops, other orders, other regions ------------------------------

def test_a_depthwise_multiplier_order_is_a_channel_permutation_in_words():
    spec = ConvSpec("depthwise_conv2d", "1x20x20x4", "3x3x4x3", padding="SAME")
    sigma = np.array([(i % 3) * 4 + i // 3 for i in range(12)])
    result = check(spec, runner=functions(forward=lambda x, k, s: evaluate(s, "forward", x=x, k=k)[..., sigma])) \
        .results[0]
    assert ("y's channels permuted: y channel c*3+m holds the model's channel m*4+c, the multiplier index major "
            "instead of the channel's") in result.diagnosis.accepted[0].sentence
    assert result.backend_calls <= 20


def test_a_wrong_dilation_of_a_one_dimensional_layer_is_fitted_for_its_gradients_too():
    spec = ConvSpec("conv1d", "2x40x4", "3x4x5", padding="SAME", dilations=2)
    wrong = ConvSpec("conv1d", "2x40x4", "3x4x5", padding=((3, 3),), dilations=3)
    report = check(spec, runner=functions(forward=lambda x, k, s: evaluate(wrong, "forward", x=x, k=k),
                                          filter_grad=lambda x, g, s: evaluate(wrong, "filter_grad", x=x, g=g)))
    for result in report.results[:2]:
        assert named(result) == ["fitted_geometry"]
        assert "dilation 3 instead of 2 on W and pads 3:3 instead of 2:2" in result.diagnosis.accepted[0].sentence
        assert result.backend_calls <= 20


def test_input_channels_swapped_in_pairs_within_groups_are_named():
    spec = ConvSpec("conv2d", "1x16x16x8", "3x3x4x8", padding="SAME", groups=2)
    order = np.array([1, 0, 3, 2, 5, 4, 7, 6])
    result = check(spec, runner=functions(forward=lambda x, k, s: evaluate(s, "forward", x=x[..., order], k=k))) \
        .results[0]
    assert "x's channels read swapped in pairs (channels 0 and 1, 2 and 3, ...)" in result.diagnosis.accepted[0].sentence


def test_replicate_padding_is_named_with_its_equivalent_at_this_size():
    spec = ConvSpec("conv2d", "1x10x10x2", "3x3x2x2", padding="SAME")
    valid = ConvSpec("conv2d", "1x12x12x2", "3x3x2x2", padding="VALID")
    forward = lambda x, k, s: evaluate(valid, "forward", x=np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge"),
                                       k=k)
    result = check(spec, runner=functions(forward=forward)).results[0]
    assert [c.parameters["mode"] for c in result.diagnosis.accepted] == ["edge", "symmetric"]
    assert "each padding pixel read as the nearest edge pixel (replicate padding)" in \
        result.diagnosis.accepted[0].sentence


def test_a_first_row_read_elsewhere_is_a_rule_for_the_input_gradient_too():
    import sys
    sys.path.insert(0, str(IMPLS))
    import planted
    spec = ConvSpec("conv2d", "1x16x16x8", "3x3x8x8", padding="SAME")
    mask = np.zeros(spec.y_shape, dtype=bool)
    mask[:, 0] = True
    up = planted.altered(spec, befores=[2, 1])
    report = check(spec, runner=functions(
        forward=lambda x, k, s: np.where(mask, evaluate(up, "forward", x=x, k=k), evaluate(s, "forward", x=x, k=k)),
        input_grad=lambda k, g, s: evaluate(s, "input_grad", k=k, g=np.where(mask, 0, g))
        + evaluate(up, "input_grad", k=k, g=np.where(mask, g, 0))))
    for result in (report.results[0], report.results[2]):
        assert "the window of y[:,0,:,:] (the first row) is read one row up (H)" in result.diagnosis.accepted[0].sentence
        assert result.backend_calls <= 80


def test_a_batch_item_left_at_zero_is_named_without_a_call():
    spec = ConvSpec("conv2d", "3x12x12x4", "3x3x4x4", padding="SAME")

    def input_grad(k, g, s):
        dx = evaluate(s, "input_grad", k=k, g=g)
        dx[1] = 0
        return dx
    result = check(spec, runner=functions(input_grad=input_grad)).results[2]
    assert result.diagnosis.accepted[0].sentence == ("the input gradient (dx) is exactly the model except dx[1,:,:,:] "
                                                     "(batch item 1), which are zero")
    assert result.diagnosis.fit_calls == 0


def test_a_flipped_kernel_reads_as_the_gradient_of_a_true_convolution():
    spec = ConvSpec("conv2d_transpose", "1x8x8x3", "3x3x2x3", strides=2, padding="SAME")
    result = check(spec, runner=functions(
        filter_grad=lambda x, g, s: evaluate(s, "filter_grad", x=x, g=g)[::-1, ::-1])).results[1]
    assert result.diagnosis.accepted[0].sentence.endswith(
        "(dk[a] holds the model's dk[K-1-a]): the filter gradient of a true convolution, not of a cross-correlation")


# ---- no false name, and never a wall of "not localised" -------------------------------------------------

@pytest.mark.parametrize("spec", [ConvSpec("conv2d", "1x56x56x16", "3x3x8x16", padding="SAME", groups=2),
                                  ConvSpec("conv2d", "1x50x22x1", "5x6x1x1", strides=(10, 2), padding="SAME")],
                         ids=["grouped", "strided"])
def test_correct_implementations_stay_ok_at_two_calls_a_quantity(spec):
    report = check(spec, runner=functions(forward=lambda x, k, s: evaluate(s, "forward", x=x, k=k),
                                          filter_grad=lambda x, g, s: evaluate(s, "filter_grad", x=x, g=g),
                                          input_grad=lambda k, g, s: evaluate(s, "input_grad", k=k, g=g)))
    assert [r.status for r in report.results] == ["ok"] * 3
    assert [r.backend_calls for r in report.results] == [2, 2, 2]


def test_an_output_that_is_no_fixed_model_is_not_named():
    spec = ConvSpec("conv2d", "1x12x12x3", "3x3x3x3", padding="SAME")

    def forward(x, k, s):
        y = evaluate(s, "forward", x=x, k=k)
        return y + (np.abs(y) > 1000)   # not bilinear: no model reproduces it
    result = check(spec, runner=functions(forward=forward), max_calls=40, shrink=False).results[0]
    assert result.status == "mismatch" and result.diagnosis.accepted == []


def _scattered(x, k, s):
    y = evaluate(s, "forward", x=x, k=k)
    for i in range(y.shape[1]):
        for j in range(y.shape[2]):
            if (i * j) % 7 == 3:
                y[:, i, j, :] += x[0, 0, 0, 0] * k[0, 0, 0, :]
    return y


def test_an_unexplained_case_is_shrunk_and_says_the_command_that_reproduces_it():
    spec = ConvSpec("conv2d", "1x24x24x8", "3x3x8x8", padding="SAME")
    result = check(spec, runner=functions(forward=_scattered), max_calls=40).results[0]
    assert result.diagnosis.accepted == [] and result.shrunk is not None
    small = result.shrunk.spec
    assert np.prod(small.x_shape) < np.prod(spec.x_shape) and result.shrunk.steps >= 1
    assert result.shrunk.command.startswith(f"symconv check conv2d --input {'x'.join(map(str, small.input_shape))}")
    assert result.shrunk.result.status in ("mismatch", "error")
    lines = result.lines(spec)
    assert sum("not localised" in line for line in lines) <= 2
    assert any(line.startswith("    ... 18 more listed entries not localised for the same reason") for line in lines)
    assert any(line.strip().startswith("reproduce: symconv check conv2d") for line in lines)
    assert result.backend_calls == 2 + result.localisation.budget.spent   # shrinking is counted apart
    assert result.as_json()["shrunk"]["command"] == result.shrunk.command


def test_the_json_of_a_fitted_diagnosis_carries_its_lit_calls_and_fix(tmp_path, capsys):
    args = ["check", "conv2d", "--input", "1x50x22x1", "--kernel", "5x6x1x1", "--strides", "10,2", "--padding", "SAME",
            "--impl", impl("unclamped_same_split.py"), "--in-process", "--json"]
    assert main(args) == 1
    out = json.loads(capsys.readouterr().out)["results"][0]
    assert out["diagnosis"]["fit_calls"] == 2 and out["diagnosis"]["explained_by"][0]["hypothesis"] == "fitted_geometry"
    assert out["diagnosis"]["fix"][0].startswith("use the model's geometry: strides (10, 2)")
    assert out["implied_pads"] == [[-3, -2], [2, 2]]


# ---- lit probes ------------------------------------------------------------------------------------------

def test_lit_values_decode_to_one_term_or_to_nothing():
    hashed = np.array([7001, 3002, 11003, 5004])
    # entry 0: lit slot 1 (multiplier 2) times partner 2, once; entry 1: nothing; entry 2: two terms summed;
    # entry 3: partner 0 twice through slot 0.
    by_id = np.array([3.0, 0.0, 1 + 4, 2 * 1])
    by_hash = np.array([2 * 11004.0, 0.0, 7002 + 5005, 1 * 2 * 7002])
    slot, partner, coefficient = lit.decode(by_id, by_hash, hashed, 2)
    assert slot.tolist() == [1, -1, -2, 0] and partner[[0, 3]].tolist() == [2, 0]
    assert coefficient[[0, 3]].tolist() == [1, 2]


def test_lit_rounds_keep_their_slots_apart_under_the_model():
    spec = ConvSpec("conv2d", "1x20x20x3", "3x3x3x2", padding="SAME")
    rounds = lit.spread(spec, "forward", "x")
    assert sorted(s % 3 for r in rounds for s in r) == [0, 1, 2]
    maps = maps_for(spec)
    for slots in rounds:
        positions = [np.unravel_index(s, spec.x_shape)[1:3] for s in slots]
        for i, p in enumerate(positions):
            for q in positions[i + 1:]:
                assert max(abs(int(a) - int(b)) for a, b in zip(p, q)) >= 3
    assert maps is not None
