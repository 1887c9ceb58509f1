"""symconv prove on the command line: proven, checked, refuted, hostile text, the facts report."""

import json

import pytest

from symconv.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_true_claim_is_proven(capsys):
    code, out, _ = run(capsys, "prove", "--claim", "dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", "--bound", "2")
    assert code == 0
    assert "status: PROVEN for all sizes" in out and "all agree" in out


def test_a_true_claim_is_only_checked_and_says_so(capsys):
    code, out, _ = run(capsys, "prove", "--symbolic", "--bound", "2", "--json",
                       "--claim", "dx[h] = sum(a=0..K-1) [(h+P-D*a) % S == 0] * g[(h+P-D*a)//S] * k[a]")
    result = json.loads(out)
    assert code == 0
    assert (result["status"], result["bound"], result["counterexample"]) == ("checked", 2, None)


def test_a_false_claim_exits_1_with_the_counterexample(capsys):
    code, out, _ = run(capsys, "prove", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3",
                       "--padding", "SAME", "--convention", "legacy_eigen", "--json",
                       "--claim", "dk[0,0,0,0] = g[0,0,0,0]*x[0,0,0,0]")
    result = json.loads(out)
    assert code == 1
    assert set(result) >= {"claim", "status", "bound", "counterexample"}
    assert result["status"] == "refuted" and result["bound"] is None
    assert result["counterexample"]["actual"]["terms"] == ["g[0,0,0,0]*x[0,1,1,0]"]


@pytest.mark.parametrize("text, column", [("__import__('os').system('rm -rf /')", 12),
                                          ("dk[a] = __import__(os)", 9)])
def test_hostile_text_is_one_line_exit_2(capsys, text, column):
    code, out, err = run(capsys, "prove", "--claim", text)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"column {column}" in err and err.startswith("symconv: error: claim:")


@pytest.mark.parametrize("argv, message", [
    (["--claim", "dk[a] = g[a]*x[a]", "--bound", "50"], "use --bound"),
    (["--claim", "dk[a] = g[a]*x[a]", "--bound", "0"], "--bound must be a positive integer"),
    (["conv1d", "--claim", "dk[a] = g[a]*x[a]"], "conv1d needs --input and --kernel"),
    (["conv1d", "--input", "1x4x1", "--kernel", "2x1x1", "--symbolic", "--claim", "dk[a] = g[a]*x[a]"],
     "either OP"),
    (["--input", "1x4x1", "--claim", "dk[a] = g[a]*x[a]"], "needs OP"),
    (["--steps", "--claim", "dk[a] = g[a]*x[a]"], "belong to the facts report"),
    (["--bound", "5"], "--bound 5 means more than 40000 convolutions in one of the report's checks: use --bound 4"),
])
def test_bad_requests_exit_2_with_advice(capsys, argv, message):
    code, _, err = run(capsys, "prove", *argv)
    assert code == 2 and message in err


LONG_CLAIM = "dk[a] = " + "*".join(f"(sum(i=0..2) x[a+{3 * j}+i])" for j in range(14))


@pytest.mark.parametrize("argv, message", [
    (["--bound", "99999999999999999999", "--claim", "dk[a] = g[a]*x[a]"], "use --bound 5 or less"),
    (["--bound", "99999999999999999999"], "use --bound 4"),
    (["conv1d", "--input", "1x5x1", "--kernel", "3x1x1", "--claim", "dk[7,0,0] = g[0,0,0]*x[0,7,0]"],
     "is outside dk's shape (3, 1, 1) for this spec: no entry to check"),
    (["--claim", "dk[9] = g[0]*x[9]", "--bound", "2"], "is outside dk's shape in every convolution checked"),
    (["--claim", LONG_CLAIM], "builds about 4782969 products at once"),
])
def test_requests_that_would_hang_or_check_nothing_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "prove", *argv)
    assert (code, out) == (2, "") and err.count("\n") == 1 and message in err


def test_the_facts_report_prints_proven_and_checked(capsys, tmp_path):
    tex = tmp_path / "generic.tex"
    code, out, _ = run(capsys, "prove", "--bound", "1", "--latex", str(tex))
    assert code == 0
    assert "checked only up to a bound: index-maps-vs-reference (* assuming a stated lemma)" in out.splitlines()[-1]
    assert "PROVEN for all sizes" in out and "CHECKED only up to a bound" in out
    assert tex.read_text().startswith("\\documentclass")
