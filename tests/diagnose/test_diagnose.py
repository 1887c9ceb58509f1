"""Diagnosis by hypothesis: planted bugs at real layer sizes named in one sentence, garbage
reported without a search, bounded localisation, statuses and exit codes, honest infer."""

import json
import os

import numpy as np
import pytest

from symconv import ConvSpec, check, infer
from symconv.backends import open_runner
from symconv.backends.base import Backend, Call, Outcome
from symconv.backends.functions import FunctionsBackend
from symconv.backends.runner import LocalRunner
from symconv.cli import main
from symconv.diagnose.diagnosis import HYPOTHESES, Context, diagnose, with_geometry
from symconv.model.indexmap import maps_for
from symconv.probing import probe
from symconv.probing.probe import ProbeSet
from symconv.probing.verification import ProbeResult

from ..paths import EXAMPLES, IMPLS

LAYER = dict(input_shape="1x56x56x64", kernel_shape="3x3x64x64")   # ResNet-50 layer1 conv2
QUANTITIES = ("forward", "filter_grad", "input_grad")


def impl(name):
    return os.path.join(IMPLS, name)


# ---- planted bugs at 1x56x56x64, 3x3x64x64: each named, in at most 4 backend calls a quantity -----

PLANTED = [
    ("pad_off_by_one_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "shifted_pads",
     ["pads 0:2,1:1 instead of 1:1,1:1", "every x pixel is one row lower (H)"]),
    ("pad_off_by_one_last_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "shifted_pads",
     ["pads 1:1,2:0 instead of 1:1,1:1", "every x pixel is one column further left (W)"]),
    ("flipped_kernel_all_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "flipped_kernel",
     ["the kernel flipped on H and W", "a true convolution"]),
    ("swapped_kernel_axes.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "swapped_kernel_axes",
     ["the kernel's H and W axes swapped"]),
    ("transposed_channels.py", ConvSpec("conv2d", **LAYER, padding="SAME"), "transposed_kernel_channels",
     ["in- and out-channel axes swapped"]),
    ("ignored_dilation.py", ConvSpec("conv2d", **LAYER, padding="SAME", dilations=2), "ignored_dilation",
     ["dilation 1 instead of 2 on H and W"]),
    ("ignored_stride_first_axis.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=2), "ignored_stride",
     ["stride 1 instead of 2 on H"]),
    ("legacy_same.py", ConvSpec("conv2d", **LAYER, padding="SAME", strides=7), "convention",
     ["SAME resolved by the legacy_eigen convention", "pads -2:-2,-2:-2 instead of 0:0,0:0"]),
]


@pytest.mark.parametrize("name,spec,hypothesis,facts", PLANTED, ids=[p[0][:-3] for p in PLANTED])
def test_a_planted_bug_at_real_size_is_named_in_one_sentence(name, spec, hypothesis, facts):
    quantities = QUANTITIES if name.startswith(("pad_off", "flipped")) else ("forward",)
    report = check(spec, impl=impl(name), quantities=quantities)
    for result in report.results:
        assert result.status == "mismatch", result.quantity
        assert [c.name for c in result.diagnosis.accepted] == [hypothesis], result.quantity
        sentence = result.diagnosis.accepted[0].sentence
        assert all(fact in sentence for fact in facts), sentence
        assert result.backend_calls == 4  # 2 to verify, 2 to light one slot as evidence
        assert result.evidence.startswith("observed with ") and result.mismatches
        assert all(m.only_slot is not None and m.observed is not None for m in result.mismatches)
        assert any(line.startswith("    diagnosis: " + sentence) for line in result.lines(spec))


def test_the_evidence_is_observed_and_differs_as_the_diagnosis_says():
    spec = ConvSpec("conv2d", **LAYER, padding="SAME")
    result = check(spec, impl=impl("pad_off_by_one_first_axis.py"), quantities=("forward",)).results[0]
    assert result.evidence == "observed with k[1,1,0,0] alone lit and x holding ids, as the diagnosis predicts"
    first = result.mismatches[0]
    assert first.sentence() == ("forward y[0,0,0,0]: the backend multiplies k[1,1,0,0] by x[0,1,0,0]; the model "
                                "pairs it with x[0,0,0,0]")
    assert first.as_json()["only_terms_of"] == "k[1,1,0,0]"
    assert result.implied_pads == [[0, 2], [1, 1]]
    assert result.pads_line == "implied pads 0:2,1:1; the model's pads 1:1,1:1"


def test_a_flipped_kernel_says_the_padding_agrees_and_what_differs():
    spec = ConvSpec("conv2d", **LAYER, padding="SAME")
    result = check(spec, impl=impl("flipped_kernel_all_axes.py"), quantities=("filter_grad",)).results[0]
    assert result.pads_line == "the padding is the model's (1:1,1:1); what differs: kernel flipped on H and W"


@pytest.mark.parametrize("spec,name,hypothesis,fact", [
    (ConvSpec("conv1d", "2x64x8", "5x8x8", padding="SAME"), "pad_off_by_one_first_axis.py", "shifted_pads",
     "every x pixel is one position later (W)"),
    (ConvSpec("conv3d", "1x8x8x8x4", "3x3x3x4x4", padding="SAME"), "flipped_kernel_all_axes.py", "flipped_kernel",
     "the kernel flipped on D, H and W"),
], ids=["conv1d-pads", "conv3d-flipped"])
def test_one_and_three_dimensional_bugs_are_named(spec, name, hypothesis, fact):
    for result in check(spec, impl=impl(name)).results:
        assert [c.name for c in result.diagnosis.accepted] == [hypothesis]
        assert fact in result.diagnosis.accepted[0].sentence
        assert result.backend_calls <= 4


def test_nan_output_is_an_error_named_as_such_without_a_search():
    spec = ConvSpec("conv2d", **LAYER, padding="SAME")
    result = check(spec, impl=impl("nan_input_grad.py"), quantities=("input_grad",)).results[0]
    assert result.status == "error" and result.backend_calls == 2
    assert result.garbage.counts == {"non-finite (NaN or Inf)": 200704}
    assert result.message == ("200704 of 200704 entries hold values no sum of products of the integer probes can "
                              "take (200704 non-finite (NaN or Inf)), e.g. dx[0,0,0,0] = NaN; dx[0,0,0,1] = NaN; "
                              "dx[0,0,0,2] = NaN")
    assert result.as_json()["garbage"]["entries"][0] == {"entry": "dx[0,0,0,0]", "kind": "non-finite (NaN or Inf)",
                                                         "value": "NaN"}


def test_one_corrupted_entry_is_pinpointed_within_64_calls():
    spec = ConvSpec("conv2d", **LAYER, padding="SAME")
    result = check(spec, impl=impl("one_corrupted_entry.py"), quantities=("forward",)).results[0]
    assert result.mismatch_count == 1 and result.diagnosis.accepted == []
    assert result.backend_calls <= 64 and result.localisation.resolved == 1
    assert result.mismatches[0].sentence() == (
        "forward y[0,28,28,63]: the backend multiplies k[0,0,0,63] by x[0,0,0,0] + x[0,27,27,0]; "
        "the model pairs it with x[0,27,27,0]")


# ---- the budget ------------------------------------------------------------------------------------

def test_localisation_stops_at_its_budget_and_counts_the_calls_it_made():
    spec = ConvSpec("conv2d", "1x12x12x8", "3x3x8x8", padding="SAME")
    result = check(spec, impl=impl("one_corrupted_entry.py"), quantities=("forward",), max_calls=8).results[0]
    budget = result.localisation.budget
    assert budget.stopped.startswith("its budget of 8 backend calls would be exceeded (")
    assert result.backend_calls == 2 + budget.spent and budget.spent <= 8
    assert result.mismatches[0].observed is None
    assert result.mismatches[0].note.startswith("localisation stopped: its budget of 8 backend calls")
    text = "\n".join(result.lines(spec))
    assert f"({result.backend_calls} backend calls)" in text
    assert "0 of 1 entries localised (budget 8 backend calls, 60 s)" in text


def test_localisation_stops_when_its_seconds_are_spent():
    spec = ConvSpec("conv2d", "1x12x12x8", "3x3x8x8", padding="SAME")
    result = check(spec, impl=impl("one_corrupted_entry.py"), quantities=("forward",), max_seconds=1e-9).results[0]
    assert result.localisation.budget.stopped == "its budget of 1e-09 s is spent (0 backend calls made)"
    assert result.backend_calls == 2


def test_a_bad_budget_is_refused():
    with pytest.raises(ValueError, match="max calls must be a non-negative integer, got -1"):
        check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1"), "numpy", max_calls=-1)


# ---- every hypothesis recognises its own model, and none accepts the spec's ---------------------------

SMALL = [ConvSpec("conv2d", "2x6x5x3", "3x3x3x3", strides=(2, 1), dilations=(1, 2), padding="SAME"),
         ConvSpec("conv2d", "2x3x6x6", "3x3x3x3", padding="1:0,2:1", data_format="NCHW"),
         ConvSpec("conv2d_transpose", "1x3x3x2", "3x3x2x2", strides=2, padding="SAME"),
         ConvSpec("depthwise_conv2d", "2x5x5x2", "3x3x2x1", padding="SAME")]


def test_every_hypothesis_explains_its_own_prediction_and_none_the_model():
    names = set()
    for spec in SMALL:
        probes = ProbeSet(spec, np.random.default_rng(0))
        for quantity in QUANTITIES:
            plan = probe.ProbePlan.for_quantity(spec, quantity)
            inputs = [probes.inputs(quantity, j) for j in range(plan.probes)]
            model = [maps_for(spec).evaluate(quantity, **{n: a.astype(np.int64) for n, a in i.items()})
                     for i in inputs]
            truth = [ProbeResult(i, m.astype(np.float64)) for i, m in zip(inputs, model)]
            assert diagnose(spec, quantity, truth, np.random.default_rng(1)).accepted == [], (spec, quantity)
            ctx = Context(spec, quantity, truth, np.random.default_rng(2))
            for family in HYPOTHESES.values():
                for candidate in filter(None, family.generate(ctx)):
                    predicted = [candidate.predict(j) for j in range(len(inputs))]
                    if all(np.array_equal(p, m) for p, m in zip(predicted, model)):
                        continue  # the same model on these probes (a symmetric case)
                    assert candidate.explains(predicted), (spec, quantity, candidate.summary)
                    names.add(candidate.name)
    # Solved from the observed output (so absent on the model's own) or of another shape: below.
    assert names == set(HYPOTHESES) - {"scale_offset", "padding_value", "padding_mode", "sub_block", "zero_region"}


def _functions(forward):
    return LocalRunner(FunctionsBackend({"forward": forward}))


def test_a_scale_an_offset_padding_read_as_one_and_valid_for_same_are_named():
    spec = ConvSpec("conv2d", "1x6x6x3", "3x3x3x2", padding="SAME")
    maps = maps_for(spec)
    scaled = check(spec, runner=_functions(lambda x, k, s: 2 * maps.evaluate("forward", x=x, k=k) - 3)).results[0]
    assert scaled.diagnosis.accepted[0].sentence == "the forward (y) is exactly 2 times the model minus 3"
    valid = ConvSpec("conv2d", "1x8x8x3", "3x3x3x2", padding="VALID")   # x padded by hand with ones

    def padded_with_ones(x, k, s):
        return maps_for(valid).evaluate("forward", x=np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)),
                                                                  constant_values=1), k=k)
    ones = check(spec, runner=_functions(padded_with_ones)).results[0]
    assert [c.name for c in ones.diagnosis.accepted] == ["padding_value"]
    assert ones.diagnosis.accepted[0].sentence == ("the forward (y) is exactly the model with the padding read as 1 "
                                                   "instead of 0")
    unpadded = check(spec, runner=_functions(lambda x, k, s: maps_for(
        ConvSpec("conv2d", "1x6x6x3", "3x3x3x2", padding="VALID")).evaluate("forward", x=x, k=k))).results[0]
    assert unpadded.status == "error" and unpadded.message.startswith("wrong output shape")
    assert [c.summary for c in unpadded.diagnosis.accepted] == ["padding VALID instead of SAME"]


def test_a_wrong_output_shape_is_an_error_and_may_still_be_named():
    spec = ConvSpec("conv2d", "1x6x6x2", "2x2x2x2", padding="SAME")   # tf: 6x6 out; torch's pads give 5x5
    torch = ConvSpec("conv2d", "1x6x6x2", "2x2x2x2", padding="SAME", convention="torch")
    backend = FunctionsBackend({"forward": lambda x, k, s: maps_for(torch).evaluate("forward", x=x, k=k)})
    result = check(spec, runner=LocalRunner(backend)).results[0]
    assert result.status == "error"
    assert result.message == "wrong output shape: expected (1, 6, 6, 2), got (1, 5, 5, 2)"
    assert [c.summary for c in result.diagnosis.accepted] == ["SAME resolved by torch (pads 0:0,0:0)"]


def test_with_geometry_keeps_every_shape():
    spec = ConvSpec("conv2d", "1x7x7x1", "3x3x1x1", strides=2, padding="SAME")
    alt = with_geometry(spec, strides=(1, 2), befores=(0, 1))
    assert alt.y_shape == spec.y_shape and alt.pads == ((0, -1), (1, 1))


# ---- statuses and exit codes -------------------------------------------------------------------------

FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


def test_an_impl_that_defines_nothing_checks_nothing_and_exits_three(tmp_path, capsys):
    path = tmp_path / "empty.py"
    path.write_text("import numpy as np\n")
    assert main(["check", *FOUNDING_ARGS, "--impl", str(path), "--in-process", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "skipped" and [r["status"] for r in out["results"]] == ["skipped"] * 3


def test_an_impl_that_raises_is_unsupported_and_alone_exits_three(tmp_path, capsys):
    path = tmp_path / "refuses.py"
    path.write_text("def forward(x, k, spec):\n    raise NotImplementedError('stride 3 is not done here')\n")
    assert main(["check", *FOUNDING_ARGS, "--impl", str(path), "--in-process"]) == 3
    text = capsys.readouterr().out
    assert "nothing was checked: the implementation refused every quantity it has" in text
    assert "  forward      unsupported  refuses.py:forward\n" in text
    assert "NotImplementedError: stride 3 is not done here (1 backend call)" in text


def test_mixed_statuses_give_the_worst_and_json_carries_each(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_text("from symconv import reference\nimport numpy as np\n"
                    "def forward(x, k, spec):\n    return reference.forward(spec, x, k)\n"
                    "def filter_grad(x, g, spec):\n    raise ValueError('no')\n"
                    "def input_grad(k, g, spec):\n    return np.full(spec.x_shape, np.inf)\n")
    report = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), impl=str(path))
    assert [r.status for r in report.results] == ["ok", "error", "error"]
    assert report.status == "error" and report.exit_status == 1 and not report.ok
    assert report.to_json()["status"] == "error"


class _Raising(Backend):
    """A backend whose run raises from wherever ``where`` says."""

    name = "raising"

    def __init__(self, where, framework=()):
        super().__init__()
        self.where, self.framework_modules = where, framework

    def describe(self, spec, quantity, path):
        return "raising"

    def run(self, spec, quantity, path, tensors):
        return self.where(spec, tensors)


def test_who_raised_decides_between_unsupported_and_a_bug_in_symconv():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1")
    call = Call(spec, "forward", "op", {"x": np.zeros((1, 3, 3, 1)), "k": np.zeros((1, 1, 1, 1))})
    framework = _Raising(lambda spec, t: json.loads("{"), framework=("json",))
    outcome = framework.execute(call)
    assert outcome.status == "unsupported" and outcome.error_type == "JSONDecodeError"
    assert outcome.raised_at.startswith("decoder.py:")
    from symconv.model import layout
    adapter = _Raising(lambda spec, t: layout.validated_array(spec, "x", np.zeros(2)), framework=("json",))
    outcome = adapter.execute(call)
    assert outcome.status == "error" and outcome.raised_at.startswith("layout.py:")
    result = check(spec, runner=LocalRunner(adapter), quantities=("forward",)).results[0]
    assert result.status == "error"
    assert result.message.startswith("SymconvError: x must have shape (1, 3, 3, 1), got (2,) (raised by symconv's "
                                     "own code at layout.py:")
    assert Outcome.from_exception(ValueError("x")).status == "error"  # nobody owns it: never passed off


# ---- infer says consistent only when it read everything ------------------------------------------------

def test_infer_with_skipped_quantities_is_incomplete_and_names_the_difference(capsys):
    args = ["conv2d", "--input", "1x8x8x2", "--kernel", "3x3x2x2", "--padding", "SAME"]
    assert main(["infer", *args, "--impl", str(EXAMPLES / "off_by_one_pad.py"), "--in-process"]) == 3
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == ("INCOMPLETE: forward uses pads 0:2,1:1 (not the model's 1:1,1:1); not read in full: filter_grad "
                    "(skipped: off_by_one_pad.py does not define filter_grad(x, g, spec)); input_grad (skipped: "
                    "off_by_one_pad.py does not define input_grad(k, g, spec))")


def test_infer_does_not_read_pads_cleanly_from_garbage():
    spec = ConvSpec("conv2d", "2x4x4x1", "1x2x1x1", strides=(1, 3), padding="VALID")

    def forward(x, k, s):
        y = maps_for(s).evaluate("forward", x=x, k=k)
        y[:, 1] = np.nan  # half the outputs are garbage
        return y
    report = infer(spec, runner=LocalRunner(FunctionsBackend({"forward": forward})))
    forward_reading = report.quantities["forward"]
    assert forward_reading.status == "error" and not forward_reading.complete
    assert forward_reading.unread == "4 of 16 outputs are garbage: 4 non-finite (NaN or Inf)"
    assert report.status == "error" and report.exit_status == 1 and not report.consistent
    assert report.summary() == ("ERROR: forward uses pads 0:0,0:0 (as the model's); not read in full: forward (4 of "
                                "16 outputs are garbage: 4 non-finite (NaN or Inf)); filter_grad (skipped: no "
                                "filter_grad function was given); input_grad (skipped: no input_grad function was "
                                "given)")


def test_infer_names_outputs_that_fit_no_padding():
    spec = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="SAME")

    def forward(x, k, s):
        y = maps_for(s).evaluate("forward", x=x, k=k)
        y[0, 2, 2, 0] = 0  # one output reads nothing
        return y
    reading = infer(spec, runner=LocalRunner(FunctionsBackend({"forward": forward}))).quantities["forward"]
    assert reading.pads == [[1, 1], [1, 1]] and not reading.complete
    assert any(note.startswith("3 of 75 outputs of the tap probes do not fit these pads (3 are 0 where these pads "
                               "read a pixel), e.g. y[0,2,2,0] = 0 where these pads give") for note in reading.notes)


def test_infer_of_a_correct_backend_is_consistent_and_says_with_which_pads(capsys):
    assert main(["infer", *FOUNDING_ARGS, "--backend", "numpy", "--in-process"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("consistent: every quantity uses the same padding, "
                                                        "pads 0:0,0:0 (as the model's)")


def test_no_progress_line_when_stderr_is_not_a_terminal(capsys):
    spec = ConvSpec("conv2d", "1x12x12x8", "3x3x8x8", padding="SAME")
    check(spec, impl=impl("one_corrupted_entry.py"), quantities=("forward",))
    assert capsys.readouterr().err == ""


def test_the_runner_of_a_check_counts_what_it_ran():
    with open_runner("numpy") as runner:
        report = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1"), runner=runner)
    assert sum(r.backend_calls for r in report.results) == sum(runner.calls.values()) == 6
