"""symconv infer: the padding each quantity used, read from observations alone."""

import json
import os

import pytest

from symconv import ConvSpec, SymconvError, infer
from symconv.cli import main

from ..paths import IMPLS

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


def test_the_founding_bug_is_named_as_an_inconsistency():
    report = infer(FOUNDING, impl=os.path.join(IMPLS, "founding_bug.py"))
    out = report.to_json()
    assert out["forward"]["pads"] == [[-1, -1], [-1, -1]] and out["forward"]["conventions"] == ["legacy_eigen"]
    assert out["filter_grad"]["pads"] == [[0, 0], [0, 0]]
    assert out["filter_grad"]["conventions"] == ["same_lower", "tf", "torch"]
    assert out["input_grad"]["pads"] == [[0, 0], [0, 0]]
    assert out["consistent"] is False
    assert report.summary() == ("INCONSISTENT: forward reads with pads -1:-1,-1:-1 while filter_grad uses 0:0,0:0 and "
                                "input_grad uses 0:0,0:0: the gradient moves weights using pixels the forward never read")


@pytest.mark.parametrize("convention,names", [("tf", ["tf"]), ("same_lower", ["same_lower"]),
                                              ("legacy_eigen", ["legacy_eigen"]), ("torch", ["torch"])])
def test_a_correct_backend_is_consistent_and_its_convention_is_named(convention, names):
    # axis 0 tells tf (1:2) from same_lower (2:1) and torch (1:1, one output fewer); axis 1 (stride 3 over 3
    # pixels) tells legacy_eigen (-1:-1) from the rest
    spec = ConvSpec("conv2d", "2x6x3x2", "4x1x2x3", strides=(1, 3), padding="SAME", convention=convention)
    out = infer(spec, "numpy").to_json()
    assert out["consistent"] is True
    for quantity in ("forward", "filter_grad", "input_grad"):
        assert out[quantity]["pads"] == [list(p) for p in spec.pads]
        assert out[quantity]["conventions"] == names


def test_negative_pads_are_read_as_such():
    spec = ConvSpec("conv1d", "1x9x1", "2x1x1", padding="-2:1")
    out = infer(spec, "numpy").to_json()
    assert out["forward"]["pads"] == [[-2, 1]] and out["model_pads"] == [[-2, 1]]


def test_an_axis_that_reads_only_padding_is_said_to_be_unobservable():
    spec = ConvSpec("conv2d", "1x1x4x1", "1x1x1x1", strides=3, padding="5:5,0:0")
    report = infer(spec, "numpy")
    forward = report.quantities["forward"]
    assert forward.pads == [None, None] and forward.conventions == []  # no output reads any pixel at all
    assert "spatial axis 0: every output reads only padding here, so its padding cannot be observed" in forward.notes


def test_a_stride_bug_is_explained_by_no_padding():
    spec = ConvSpec("conv2d", "1x7x3x1", "1x1x1x1", strides=2, padding="VALID")
    report = infer(spec, impl=os.path.join(IMPLS, "stride_off_by_one.py"))
    grad = report.quantities["filter_grad"]
    assert grad.pads[0] is None and grad.conventions == []
    assert any(note.startswith("spatial axis 0: no single padding explains the reads") for note in grad.notes)


def test_infer_cli_json_and_exit_codes(capsys):
    assert main(["infer", *FOUNDING_ARGS, "--impl", os.path.join(IMPLS, "founding_bug.py"), "--json",
                 "--in-process"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"forward", "filter_grad", "input_grad", "consistent"}
    assert main(["infer", *FOUNDING_ARGS, "--backend", "numpy", "--in-process"]) == 0
    assert "consistent: every quantity uses the same padding" in capsys.readouterr().out


def test_infer_reads_one_path_per_quantity():
    with pytest.raises(SymconvError, match="infer reads one path per quantity: grad path must be raw or tape"):
        infer(FOUNDING, "numpy", grad_path="both")


LEGACY_EVERYWHERE = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME",
                     "--impl", str(IMPLS / "legacy_same.py")]


def test_expect_model_fails_pads_that_agree_with_each_other_but_not_with_the_model(capsys):
    """legacy_same resolves SAME by Eigen's rule in every quantity: consistent, so plain infer
    exits 0; --expect model exits 1 and says which quantities read which pads."""
    assert main(["infer", *LEGACY_EVERYWHERE]) == 0
    plain = capsys.readouterr().out
    assert "consistent: every quantity uses the same padding, pads -1:-1,-1:-1 (not the model's 0:0,0:0)" in plain
    assert "NOT THE MODEL'S PADDING" not in plain
    assert main(["infer", *LEGACY_EVERYWHERE, "--expect", "model"]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("NOT THE MODEL'S PADDING: forward, filter_grad and input_grad read pads "
                                 "-1:-1,-1:-1; the model pads 0:0,0:0")
    assert main(["infer", *LEGACY_EVERYWHERE, "--expect", "model", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["expect"] == "model" and data["differs_from_model"] == ["filter_grad", "forward", "input_grad"]


def test_expect_model_passes_the_model_and_keeps_the_other_statuses():
    spec = ConvSpec("conv2d", "1x7x7x1", "3x3x1x1", strides=2, padding="SAME")
    report = infer(spec, "numpy", expect="model")
    assert report.exit_status == 0 and report.differs_from_model == {}
    assert "every quantity read uses it (1:1,1:1)" in report.text().splitlines()[-1]
    assert "every quantity read uses it" in report._repr_html_()
    founding = infer(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"),
                     impl=str(IMPLS / "founding_bug.py"), expect="model")
    assert founding.status == "inconsistent" and founding.exit_status == 1
    assert list(founding.differs_from_model) == ["forward"]


def test_expect_takes_only_model():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1")
    with pytest.raises(SymconvError, match="expect must be None or 'model', got 'tf'"):
        infer(spec, "numpy", expect="tf")
    with pytest.raises(SystemExit) as exited:
        main(["infer", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--backend", "numpy",
              "--expect", "modle"])
    assert exited.value.code == 2
