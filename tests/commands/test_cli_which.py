"""`symconv which`: the JSON contract, readable text, and one-line errors with exit status 2."""

import json
import os
import subprocess
import sys

import pytest

from symconv.cli import main

FOUNDING = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_founding_filter_gradient_reads_the_corner_under_tf(capsys):
    code, out, _ = run(capsys, "which", *FOUNDING, "--entry", "dk[0,0,0,0]", "--json")
    answer = json.loads(out)
    assert code == 0
    assert answer["entry"] == "dk[0,0,0,0]"
    assert answer["terms"] == [{"g": [0, 0, 0, 0], "x": [0, 0, 0, 0]}]
    assert answer["pads"] == [[0, 0], [0, 0]]
    assert answer["output_shape"] == [1, 1, 1, 1]
    assert answer["expression"] == "g[0, 0, 0, 0]*x[0, 0, 0, 0]"
    assert answer["latex"] == "{g}_{0,0,0,0} {x}_{0,0,0,0}"


def test_founding_forward_reads_the_centre_under_legacy_eigen(capsys):
    code, out, _ = run(capsys, "which", *FOUNDING, "--convention", "legacy_eigen", "--entry", "y[0,0,0,0]", "--json")
    answer = json.loads(out)
    assert code == 0
    assert answer["terms"] == [{"x": [0, 1, 1, 0], "k": [0, 0, 0, 0]}]
    assert answer["pads"] == [[-1, -1], [-1, -1]]


def test_bare_tensor_lists_every_entry(capsys):
    code, out, _ = run(capsys, "which", "conv2d", "--input", "1x4x4x1", "--kernel", "2x2x1x1", "--strides", "2",
                       "--padding", "SAME", "--entry", "dx", "--json")
    answer = json.loads(out)
    assert code == 0
    assert [e["entry"] for e in answer["entries"]][:3] == ["dx[0,0,0,0]", "dx[0,0,1,0]", "dx[0,0,2,0]"]
    assert len(answer["entries"]) == 16
    # Stride 2 with a 2x2 kernel: every pixel is read exactly once.
    assert all(len(e["terms"]) == 1 for e in answer["entries"])
    assert answer["entries"][5]["terms"] == [{"g": [0, 0, 0, 0], "k": [1, 1, 0, 0]}]
    assert answer["pads"] == [[0, 0], [0, 0]] and answer["output_shape"] == [1, 2, 2, 1]


def test_several_entries_in_one_object(capsys):
    code, out, _ = run(capsys, "which", *FOUNDING, "--entry", "y[0,0,0,0]", "--entry", "dk[0,0,0,0]", "--json")
    assert code == 0
    assert [e["entry"] for e in json.loads(out)["entries"]] == ["y[0,0,0,0]", "dk[0,0,0,0]"]


def test_text_answer_has_formula_and_grid(capsys):
    code, out, _ = run(capsys, "which", *FOUNDING, "--convention", "legacy_eigen", "--entry", "y[0,0,0,0]")
    assert code == 0
    assert "pads (before:after per spatial axis) -1:-1, -1:-1" in out
    assert "y[0,0,0,0] = x[0,1,1,0]*k[0,0,0,0]" in out
    assert "    . . .\n    . # .\n    . . ." in out


def test_large_entry_is_summarised_by_its_closed_form(capsys):
    code, out, _ = run(capsys, "which", "conv2d", "--input", "1x224x224x3", "--kernel", "7x7x3x64", "--strides", "2",
                       "--padding", "SAME", "--entry", "dk[0,0,1,5]")
    assert code == 0
    assert "(12544 terms)" not in out  # 111 x 111 outputs read a pixel through offset 0
    assert "... (12321 terms)" in out
    # The closed form comes first, then the first products, then the grid cropped to its corner.
    assert "dk[0,0,1,5] = Sum(g[0, i, j, 5]*x[0, -2 + 2*i, -2 + 2*j, 1], (i, 1, 111), (j, 1, 111))\n  = " in out
    assert "x[0,:,:,1] (rows 0..11 and columns 0..11 of 224x224)\n    # . # . #" in out


BAD = [
    (["--input", "1x3x3", "--kernel", "1x1x1x1", "--entry", "y"], "input shape for conv2d must have 4 dimensions"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "0", "--entry", "y"], "strides must be positive"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--dilations", "0,1", "--entry", "y"],
     r"dilations must be positive integers, got (0, 1)"),
    (["--input", "1x3x3x2", "--kernel", "1x1x1x1", "--entry", "y"], "kernel in-channels times groups"),
    (["--input", "1x3x3x2", "--kernel", "1x1x1x4", "--groups", "3", "--entry", "y"], "kernel in-channels times groups"),
    (["--input", "1x3x3x1", "--kernel", "5x5x1x1", "--entry", "y[0,0,0,0]"], "output of this conv2d is empty"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--entry", "y[0,3,0,0]"], "out of range"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--entry", "dk[0,0]"], "must have 4 indices"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--convention", "caffe", "--entry", "y"], "convention must be one of"),
    (["--input", "1x3x3x1", "--kernel", "1x1x1x1", "--data-format", "HWC", "--entry", "y"], "data_format for conv2d"),
    (["--input", "1x512x512x8", "--kernel", "3x3x8x8", "--padding", "SAME", "--entry", "y"],
     "ask for one entry, e.g. --entry 'y[0,0,0,0]'"),
]


@pytest.mark.parametrize("argv,message", BAD)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "which", "conv2d", *argv)
    assert code == 2 and out == ""
    assert err.startswith("symconv: error: ") and err.count("\n") == 1
    assert message in err


def test_unknown_op_and_usage_errors_are_one_line(capsys):
    code, _, err = run(capsys, "which", "conv4d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--entry", "y")
    assert code == 2 and "op must be one of conv1d, conv2d" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:
        main(["which", "conv2d", "--input", "1x3x3x1"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_module_entry_point_and_no_framework_import():
    probe = ("import sys, runpy; sys.argv = ['symconv'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('symconv', run_name='__main__')\n"
             "except SystemExit as stop:\n"
             "    heavy = sorted(m for m in ('tensorflow', 'torch', 'jax', 'keras', 'onnxruntime') if m in sys.modules)\n"
             "    print('frameworks:', heavy, 'exit:', stop.code, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "which", *FOUNDING, "--entry", "dk[0,0,0,0]", "--json"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert json.loads(proc.stdout)["terms"] == [{"g": [0, 0, 0, 0], "x": [0, 0, 0, 0]}]
    assert "frameworks: [] exit: 0" in proc.stderr
