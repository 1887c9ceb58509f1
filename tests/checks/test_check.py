"""symconv check: the numpy reference sweep, broken implementations caught and localised,
correct ones passing, the JSON report and the command line."""

import json
import os

import pytest
from hypothesis import given, settings

from symconv import ConvSpec, SymconvError, check
from symconv.cli import main
from symconv.model.spec import DATA_FORMATS, OPS

from ..paths import EXAMPLES, IMPLS
from ..strategies import specs

EXAMPLE = str(EXAMPLES / "good_numpy.py")  # the README's
FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


def impl(name):
    return os.path.join(IMPLS, name)


@settings(max_examples=120)
@given(spec=specs(max_size=6, max_kernel=3, allow_empty=True))
def test_the_numpy_reference_passes_every_op_padding_convention_and_layout(spec):
    report = check(spec, "numpy")
    assert report.ok, report.text()
    for result in report.results:
        assert result.backend_calls == result.plan.probes <= 10
        assert result.implied_pads == (None if spec.is_empty else [list(p) for p in spec.pads])


@pytest.mark.parametrize("op", list(OPS))
def test_the_numpy_reference_passes_each_op_in_each_layout(op):
    nd = OPS[op].ndim
    for fmt in DATA_FORMATS[nd]:
        channels = 2
        size = (5, 4, 3)[:nd]
        x = (2, *size, channels) if fmt.endswith("C") else (2, channels, *size)
        k = (*(2,) * nd, channels, 3 if OPS[op].kind != "transpose" else channels)
        if OPS[op].kind == "transpose":
            k = (*(2,) * nd, 3, channels)
        spec = ConvSpec(op, x, k, strides=2, padding="SAME", convention="same_lower", data_format=fmt)
        assert check(spec, "numpy").ok


SHIFTED = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")


@pytest.mark.parametrize("name,spec,quantity,hypothesis,entry,sentence", [
    ("founding_bug.py", SHIFTED, "forward", "the forward (y) is exactly the model with SAME resolved by the legacy_eigen "
     "convention (pads -1:-1,-1:-1 instead of 0:0,0:0): every x pixel is one row lower (H) and one column further "
     "right (W)", "y[0,0,0,0]",
     "forward y[0,0,0,0]: the backend multiplies k[0,0,0,0] by x[0,1,1,0]; the model pairs it with x[0,0,0,0]"),
    ("stride_off_by_one.py", ConvSpec("conv2d", "1x5x3x1", "1x1x1x1", strides=2, padding="VALID"), "filter_grad",
     "the filter gradient (dk) is exactly the model with stride 3 instead of 2 on H", "dk[0,0,0,0]",
     "filter_grad dk[0,0,0,0]: the backend leaves out g[0,2,1,0] (the model pairs it with x[0,4,2,0])"),
    ("flipped_kernel.py", ConvSpec("conv2d", "1x2x2x1", "2x1x1x1", padding="VALID"), "forward",
     "the forward (y) is exactly the model with the kernel flipped on H (tap a reads k[K-1-a])", "y[0,0,0,0]",
     "forward y[0,0,0,0]: the backend multiplies k[0,0,0,0] by x[0,1,0,0]; the model pairs it with x[0,0,0,0]"),
    ("dropped_channel.py", ConvSpec("conv2d", "1x2x2x1", "1x1x1x2", padding="VALID"), "input_grad",
     "the input gradient (dx) is exactly the model with g's last channel dropped (read as zero)", "dx[0,0,0,0]",
     "input_grad dx[0,0,0,0]: the backend leaves out k[0,0,0,1] (the model pairs it with g[0,0,0,1])"),
    ("double_counted_tap.py", ConvSpec("conv2d", "1x2x2x1", "1x1x1x1", padding="VALID"), "filter_grad", None,
     "dk[0,0,0,0]", "filter_grad dk[0,0,0,0]: the backend multiplies g[0,0,0,0] by 2*x[0,0,0,0]; the model pairs "
     "it with x[0,0,0,0]; the backend multiplies g[0,0,1,0] by 2*x[0,0,1,0]; the model pairs it with x[0,0,1,0]"),
])
def test_broken_implementations_are_caught_named_and_shown(name, spec, quantity, hypothesis, entry, sentence):
    report = check(spec, impl=impl(name))
    assert not report.ok
    bad = [r for r in report.results if r.status != "ok"]
    assert [r.quantity for r in bad] == [quantity]
    assert [c.sentence for c in bad[0].diagnosis.accepted] == ([hypothesis] if hypothesis else [])
    first = bad[0].mismatches[0]
    assert first.entry == entry
    assert first.sentence() == sentence
    assert first.observed is not None  # observed on the backend: lit alone, or every term recovered
    if hypothesis is None:  # recovered in full by localisation, and it reproduces the backend's values
        assert first.only_slot is None and bad[0].localisation.resolved >= 1


def test_the_founding_bug_reports_the_pads_the_forward_implies():
    result = check(FOUNDING, impl=impl("founding_bug.py")).results[0]
    assert result.implied_pads == [[-1, -1], [-1, -1]]
    assert result.as_json()["mismatches"][0]["observed_terms"] == [{"x": [0, 1, 1, 0], "k": [0, 0, 0, 0]}]
    assert result.as_json()["mismatches"][0]["only_terms_of"] == "k[0,0,0,0]"


def test_a_bug_only_some_taps_show_is_named_and_the_padding_is_said_to_agree():
    spec = ConvSpec("conv2d", "1x5x5x1", "2x2x1x1", strides=2, padding="VALID")
    result = check(spec, impl=impl("flipped_kernel.py"), quantities=("forward",)).results[0]
    assert result.status == "mismatch"
    assert [c.name for c in result.diagnosis.accepted] == ["flipped_kernel"]
    assert result.pads_line == "the padding is the model's (0:0,0:0); what differs: kernel flipped on H and W"


def test_when_no_hypothesis_explains_it_agreeing_pads_are_not_passed_off_as_agreement():
    spec = ConvSpec("conv2d", "1x2x2x1", "1x1x1x1", padding="VALID")
    result = check(spec, impl=impl("double_counted_tap.py"), quantities=("filter_grad",)).results[0]
    assert result.diagnosis.accepted == [] and result.localisation.resolved == 1
    assert result.implied_pads == [[0, 0], [0, 0]]
    assert result.pads_line == ("implied pads 0:0,0:0, the same as the model's: the padding agrees; the difference "
                                "is elsewhere (the entries above)")


@pytest.mark.parametrize("spec", [FOUNDING, ConvSpec("conv2d", "2x7x6x3", "3x2x3x4", strides=(2, 1), padding="SAME"),
                                  ConvSpec("conv2d", "1x6x6x2", "3x3x2x2", dilations=2, padding="2:1,0:3")],
                         ids=["founding", "strided", "dilated-explicit"])
def test_correct_implementations_including_float32_raise_no_false_alarm(spec):
    for path in (impl("float32_correct.py"), EXAMPLE):
        report = check(spec, impl=path)
        assert report.ok, report.text()


def test_max_mismatches_limits_the_list_not_the_count():
    spec = ConvSpec("conv2d", "1x6x5x1", "1x1x1x1", strides=3, padding="SAME")
    result = check(spec, impl=impl("founding_bug.py"), quantities=("forward",), max_mismatches=1).results[0]
    assert result.mismatch_count == 4 and len(result.mismatches) == 1
    with pytest.raises(SymconvError, match="max mismatches must be a non-negative integer, got -1"):
        check(spec, "numpy", max_mismatches=-1)


def test_a_result_where_the_spec_admits_no_output_is_an_error(tmp_path):
    path = tmp_path / "nonempty.py"
    path.write_text("import numpy as np\ndef forward(x, k, spec):\n    return np.zeros(x.shape)\n")
    spec = ConvSpec("conv2d", "1x2x2x1", "3x3x1x1", padding="VALID")
    assert spec.is_empty
    result = check(spec, impl=str(path)).results[0]
    assert result.status == "error"
    assert result.message == ("wrong output shape: expected (1, 0, 0, 1), got (1, 2, 2, 1) where the spec admits "
                              "no output (a correct answer is an empty tensor or an error)")
    refusing = tmp_path / "refusing.py"
    refusing.write_text("def forward(x, k, spec):\n    raise ValueError('negative output size')\n")
    result = check(spec, impl=str(refusing)).results[0]
    assert result.status == "ok" and "an error is a correct answer here" in result.message


def test_check_json_has_the_documented_fields(capsys):
    code = main(["check", *FOUNDING_ARGS, "--impl", impl("founding_bug.py"), "--json", "--in-process"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["ok"] is False and out["backend"].startswith("impl ")
    assert out["variant"] is None
    forward = out["results"][0]
    assert set(forward) >= {"quantity", "path", "status", "message", "expected_shape", "observed_shape",
                            "mismatches", "mismatch_count", "implied_pads", "backend_calls"}
    assert forward["mismatches"][0]["expected_terms"] == [{"x": [0, 0, 0, 0], "k": [0, 0, 0, 0]}]
    assert forward["backend_calls"] >= forward["probes"]["probes"]


def test_check_text_says_it_in_words_and_exits_zero_when_all_agree(capsys):
    assert main(["check", *FOUNDING_ARGS, "--backend", "numpy", "--in-process"]) == 0
    text = capsys.readouterr().out
    assert "backend numpy: every checked quantity agrees exactly" in text
    assert "all 9 entries agree exactly on 2 probes (2 backend calls)" in text


@pytest.mark.parametrize("argv,message", [
    (["--backend", "numpy", "--threads", "many"], "threads must be a positive integer, got 'many'"),
    (["--backend", "numpy", "--miss-probability", "1.5"], "miss probability must be a number between 0 and 1"),
    (["--impl", "missing_file.py"], "impl file does not exist: missing_file.py"),
    (["--backend", "mxnet"], "backend must be one of jax, keras, litert, numpy, onnxruntime, openvino, tf, tf-xla, torch, got 'mxnet'"),
])
def test_bad_usage_is_one_line_and_exit_two(argv, message, capsys):
    assert main(["check", *FOUNDING_ARGS, "--in-process", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_backend_or_impl_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", *FOUNDING_ARGS])
    assert exit_info.value.code == 2
    assert "one of the arguments --backend --impl is required" in capsys.readouterr().err
