"""symconv trace on the command line, the picture and the LaTeX derivation."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from symconv.cli import main
from symconv.network import trace
from symconv.network.derivation import StepFailed, document
from symconv.network.graph import Term

from ..conftest import backend_missing

CHAIN = "conv2d 7x7 s2 SAME > maxpool 3x3 s2 SAME > conv2d 3x3 s1 SAME"


def run(capsys, *argv):
    status = main(["trace", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_text_answer(capsys):
    status, out, _ = run(capsys, "--input", "1x224x224x3", "--layers", CHAIN, "--entry", "out[0,0,0,5]")
    assert status == 0
    assert "reads 507 of the 150,528 entries of x[0]" in out
    assert "paths: 307,200 in all, at most 1,600 to one entry (x[0,4,4,0])" in out
    assert "affine summary: size 19, stride 4, offset -6 -> window -6..12" in out
    assert "depends on the data" in out


def test_json_answer(capsys):
    status, out, _ = run(capsys, "--input", "1x32x32x3", "--layers", CHAIN, "--entry", "l2[0,3,4,1]", "--json")
    obj = json.loads(out)
    assert status == 0 and obj["layer"] == "l2" and obj["entry"] == [0, 3, 4, 1]
    assert sum(p["paths"] for p in obj["pixels"]) == obj["paths"]
    assert obj["axes"][0]["affine"] == {"size": 11, "stride": 4, "offset": -2, "effective_padding": 2,
                                        "window": [10, 20]}


def test_summary_and_reverse(capsys):
    status, out, _ = run(capsys, "--input", "1x224x224x3", "--layers", CHAIN, "--summary")
    assert status == 0 and re.search(r"^  l3 +56x56x64 +19/4/-6 +19/4/-6 +conv2d 3x3", out, re.M)
    status, out, _ = run(capsys, "--input", "1x16x16x1", "--layers", "conv2d 3x3 s2 SAME c2 > conv2d 3x3 SAME c2",
                         "--pixel", "x[0,4,4,0]", "--layer", "l1")
    assert status == 0 and out.startswith("x[0,4,4,0] is read by 8 of the 128 entries of l1")


@pytest.mark.parametrize("argv,message", [
    (["--input", "1x8x8x3", "--layers", "conv2d 3x3 > maxpool 2x2 q7", "--entry", "out[0,0,0,0]"],
     "--layers: unexpected 'q7' for maxpool at column 26"),
    (["--input", "1x8x8x3", "--layers", "conv2d 3x3", "--entry", "out[0,0,0]"], "must have 4 indices"),
    (["--input", "1x8x8x3", "--layers", "conv2d 3x3", "--entry", "out(0)"], "entry must look like"),
    (["--layers", "conv2d 3x3", "--entry", "out[0,0,0,0]"], "--layers needs --input"),
    (["--input", "1x8x8x3", "--layers", "conv2d 3x3", "--entry", "out[0,0,0,0]", "--check"],
     "--check compares with a model's gradient"),
    (["--model", "missing.keras", "--entry", "a[0]"], "does not exist"),
    (["--input", "1x8x8x3", "--layers", "conv2d 3x3"], "ask one question"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_parse_error_from_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "symconv", "trace", "--input", "1x8x8x3", "--layers",
                           "conv2d 3x3 > > relu", "--entry", "out[0,0,0,0]"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "symconv: error: --layers: expected a layer, got '>' at column 14\n"


def test_picture(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "reads.png"
    status, out, _ = run(capsys, "--input", "1x64x64x3", "--layers", CHAIN, "--entry", "out[0,5,5,1]",
                         "--png", str(path))
    assert status == 0 and f"wrote picture {path}" in out
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_latex_derivation_is_checked_and_compiles(tmp_path, capsys):
    path = tmp_path / "chain.tex"
    status, out, _ = run(capsys, "--input", "1x32x30x3", "--layers", "conv2d 7x7 s2 SAME c4 > maxpool 3x3 s2 SAME "
                         "> conv2d 3x3 d2 SAME", "--entry", "out[0,0,1,3]", "--latex", str(path))
    assert status == 0
    tex = path.read_text()
    assert r"p_0 = a_{1} + 2 a_{2} + 8 a_{3} + 4 p_{3} - 10" in tex
    assert "0 & 3 & 2 & border" in tex
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMCONV_REQUIRE_PDFLATEX"):
            pytest.fail("pdflatex is required but not installed")
        return
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", path.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_latex_refuses_what_it_cannot_check():
    answer = trace("conv1d 3 > conv1d 3", "out", (0, 0, 0), input_shape="1x9x1")
    answer.terms = [Term(t.axes, t.channels, t.coef + 1) for t in answer.terms]
    with pytest.raises(StepFailed, match="exact counts against the trace"):
        document(answer)
    with pytest.raises(Exception, match="chains of window layers"):
        document(trace("add( conv1d 3 SAME | )", "out", (0, 0, 0), input_shape="1x9x1"))


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras's save
def test_keras_file_with_check(tmp_path, request, capsys):
    if importlib.util.find_spec("keras") is None:
        backend_missing(request.config, "keras", "keras is not installed")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="stem")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    keras.Model(inp, keras.layers.Conv2D(2, 3, padding="same", name="head")(x)).save(tmp_path / "m.keras")
    status, out, _ = run(capsys, "--model", str(tmp_path / "m.keras"), "--entry", "head[0,1,2,1]", "--check")
    assert status == 0, out
    assert "check against the model's own gradient (Keras (tf.GradientTape), linear clone in float64): agrees" in out


def test_torch_file_with_check(tmp_path, request, capsys):
    if importlib.util.find_spec("torch") is None:
        backend_missing(request.config, "torch", "torch is not installed")
    model = tmp_path / "model.py"
    model.write_text(textwrap.dedent("""
        import torch.nn as nn

        def build():
            return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3))
    """))
    status, out, _ = run(capsys, "--torch", f"{model}:build", "--input", "1x3x12x12", "--entry", "2[0,1,3,2]",
                         "--check", "--json")
    obj = json.loads(out)
    assert status == 0 and obj["check"]["ok"] and obj["entries_read"] == 3 * 7 * 7
