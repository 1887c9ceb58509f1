"""symconv explain: every entry's formula and value, the tf reading beside another convention's,
and a backend's numbers beside the model's."""

import json
import os

import pytest

from symconv import ConvSpec, SymconvError, explain
from symconv.cli import main

from ..paths import IMPLS

FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME",
                 "--convention", "legacy_eigen", "--x", "1,2,3,4,5,6,7,8,0", "--k", "10", "--g", "100"]


def test_the_founding_question_is_reproduced(capsys):
    assert main(["explain", *FOUNDING_ARGS, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pads"] == [[-1, -1], [-1, -1]]
    assert out["forward"] == [{"entry": "y[0,0,0,0]", "expression": "k[0, 0, 0, 0]*x[0, 1, 1, 0]", "value": 50}]
    assert out["filter_grad"] == [{"entry": "dk[0,0,0,0]", "expression": "g[0, 0, 0, 0]*x[0, 1, 1, 0]", "value": 500}]
    tf = out["tf_reading"]
    assert tf["pads"] == [[0, 0], [0, 0]]
    assert tf["filter_grad"] == [{"entry": "dk[0,0,0,0]", "expression": "g[0, 0, 0, 0]*x[0, 0, 0, 0]", "value": 100}]
    assert tf["forward"][0]["value"] == 10
    assert [row["value"] for row in out["input_grad"]] == [0, 0, 0, 0, 1000, 0, 0, 0, 0]
    assert [row["entry"] for row in out["input_grad"]][4] == "dx[0,1,1,0]"


def test_the_founding_text_shows_both_readings_side_by_side(capsys):
    assert main(["explain", *FOUNDING_ARGS]) == 0
    text = capsys.readouterr().out
    assert "  y[0,0,0,0] = k[0, 0, 0, 0]*x[0, 1, 1, 0] = 50    | tf: k[0, 0, 0, 0]*x[0, 0, 0, 0] = 10" in text
    assert "  dk[0,0,0,0] = g[0, 0, 0, 0]*x[0, 1, 1, 0] = 500    | tf: g[0, 0, 0, 0]*x[0, 0, 0, 0] = 100" in text
    assert "each entry under legacy_eigen (pads -1:-1, -1:-1); beside it, the tf reading of SAME" in text


def test_missing_tensors_get_the_documented_defaults():
    spec = ConvSpec("conv1d", "1x4x1", "2x1x1", padding="VALID")
    story = explain(spec)
    assert [row["value"] for row in story.sections["forward"]] == [3, 5, 7]   # x = 1..4, k = ones
    assert [row["value"] for row in story.sections["input_grad"]] == [1, 2, 2, 1]  # g = ones
    assert story.to_json()["defaults"] == {"x": "1, 2, 3, ... (row-major)", "k": "all ones", "g": "all ones"}
    assert story.default_reading is None


def test_every_entry_is_listed_in_row_major_order_of_the_layout():
    spec = ConvSpec("conv2d", "1x2x3x3", "1x1x2x2", data_format="NCHW")
    story = explain(spec)
    assert [row["entry"] for row in story.sections["forward"]][:4] == ["y[0,0,0,0]", "y[0,0,0,1]", "y[0,0,0,2]",
                                                                       "y[0,0,1,0]"]
    assert len(story.sections["filter_grad"]) == 4 and len(story.sections["input_grad"]) == 18


def test_a_backend_is_shown_beside_the_model(capsys):
    code = main(["explain", *FOUNDING_ARGS[:-6], "--impl", os.path.join(IMPLS, "founding_bug.py"), "--in-process",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # a backend that differs from the model: exit 1
    assert out["backend"]["name"].endswith("founding_bug.py")
    results = {r["quantity"]: r for r in out["backend"]["results"]}
    assert results["forward"]["agrees"] is True  # under legacy_eigen the founding impl's forward is right ...
    assert results["filter_grad"]["agrees"] is False  # ... and its gradient is not
    assert results["filter_grad"]["values"] == [1]  # g = 1 by default, times the corner pixel x = 1


def test_torch_convention_with_another_output_size_lists_the_tf_reading_apart():
    spec = ConvSpec("conv1d", "1x4x1", "2x1x1", padding="SAME", convention="torch")
    story = explain(spec, g="1")
    assert spec.y_shape != story.default_reading.spec.y_shape
    assert "the tf reading (output shape 1x4x1):" in story.text()


@pytest.mark.parametrize("kwargs,message", [
    (dict(x="1,2"), "x needs 9 values \\(shape 1x3x3x1, row-major\\), got 2"),
    (dict(k="ten"), "k values must be numbers, got 'ten'"),
    (dict(g="nan"), "g values must be finite numbers, got 'nan'"),
])
def test_bad_values_are_refused_in_one_line(kwargs, message):
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    with pytest.raises(SymconvError, match=message):
        explain(spec, **kwargs)


def test_a_case_too_large_to_list_points_to_the_entries():
    spec = ConvSpec("conv2d", "1x32x32x8", "3x3x8x8", padding="SAME")
    with pytest.raises(SymconvError, match="explain lists every entry.*ask for the entries you want, e.g. --entry"):
        explain(spec)
    story = explain(spec, entries=["y[0,0,0,0]"])
    assert list(story.sections) == ["forward"] and story.sections["forward"][0]["entry"] == "y[0,0,0,0]"
