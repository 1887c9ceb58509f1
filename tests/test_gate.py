"""symconv as a CI gate on a team's own code: it never passes wrong code (an exception in the
user's code, a run that checked nothing, an output that changes between calls) and never fails
right code (an implementation that covers only some ops and layouts, and says so)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from symconv import ConvSpec
from symconv.backends.coverage import Coverage
from symconv.checks.verdicts import check
from symconv.cli import main
from symconv.errors import SymconvError
from symconv.model.spec import OPS
from symconv.sweeps.cases import sweep_cases
from symconv.sweeps.run import sweep
from symconv.testing import ConvMismatch, assert_conv_matches

from .paths import EXAMPLES, IMPLS, ROOT

GOOD = str(EXAMPLES / "good_numpy.py")
STRIDED = ["conv2d", "--input", "1x8x8x4", "--kernel", "3x3x4x6", "--strides", "2", "--padding", "SAME"]
REFERENCE = """
from symconv import reference
def forward(x, k, spec):
    return reference.forward(spec, x, k)
def filter_grad(x, g, spec):
    return reference.filter_grad(spec, x, g)
def input_grad(k, g, spec):
    return reference.input_grad(spec, k, g)
"""


def write(folder, name: str, source: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def run_symconv(*args, cwd=None) -> tuple:
    """(exit status, stdout, stderr) of ``python -m symconv ...`` in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "symconv", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)
    return done.returncode, done.stdout, done.stderr


# ---- 1. an exception in the user's code is a failure --------------------------------------------

@pytest.mark.parametrize("where", ["--in-process", "child"])
def test_a_crash_in_the_users_filter_gradient_fails_the_check(tmp_path, capsys, where):
    path = write(tmp_path, "F.py", REFERENCE.replace(
        "def filter_grad(x, g, spec):\n", "def filter_grad(x, g, spec):\n"
        "    if spec.strides[0] > 1:\n        raise ValueError('strided layers are not done')\n"))
    extra = ["--in-process"] if where == "--in-process" else []
    assert main(["check", *STRIDED, "--impl", path, *extra]) == 1
    out = capsys.readouterr().out
    assert "FAILED: filter_grad raised ValueError: strided layers are not done" in out
    assert "agrees exactly" not in out.splitlines()[2]
    assert "filter_grad  ERROR" in out and "(raised by the implementation at F.py:7 in filter_grad)" in out
    assert "bug in symconv" not in out


def test_not_implemented_error_is_the_codes_own_refusal(tmp_path, capsys):
    path = write(tmp_path, "F.py", REFERENCE.replace(
        "def filter_grad(x, g, spec):\n", "def filter_grad(x, g, spec):\n"
        "    raise NotImplementedError('no strided filter gradient')\n"))
    report = check(ConvSpec(*STRIDED[:1], "1x8x8x4", "3x3x4x6", strides=2, padding="SAME"), impl=path)
    assert [r.status for r in report.results] == ["ok", "unsupported", "ok"]
    assert report.exit_status == 0
    assert "forward and input_grad agree exactly; not checked: filter_grad" in report.text()


def test_an_exception_raised_inside_symconv_called_by_the_users_code_is_the_users(tmp_path):
    path = write(tmp_path, "F.py", """
        from symconv import reference
        def forward(x, k, spec):
            return reference.forward(spec, k, x)   # arguments swapped: symconv's reference cannot use them
    """)
    forward = check(ConvSpec("conv2d", "1x5x5x2", "3x3x2x3"), impl=path, quantities=["forward"]).results[0]
    assert forward.status == "error" and forward.exception.startswith("ValueError")
    assert "raised by the implementation at F.py:4 in forward" in forward.message
    assert "bug in symconv" not in forward.message


def test_a_headline_never_says_agrees_when_a_quantity_was_not_checked(tmp_path):
    path = write(tmp_path, "F.py", REFERENCE.split("def filter_grad")[0])
    text = check(ConvSpec("conv2d", "1x5x5x2", "3x3x2x3", padding="SAME"), impl=path).text()
    assert text.splitlines()[2].endswith(": forward agrees exactly; not checked: filter_grad and input_grad")


def test_check_functions_and_the_fixture_fail_on_an_exception():
    from symconv.model import reference

    def forward(x, k, spec):
        raise ValueError("out of memory, sort of")

    def input_grad(k, g, spec):
        return reference.input_grad(spec, k, g)
    with pytest.raises(ConvMismatch, match="FAILED: forward raised ValueError: out of memory, sort of"):
        assert_conv_matches("conv2d", forward=forward, input_grad=input_grad, input="1x5x5x1", kernel="3x3x1x2")


# ---- 2. functions found by importing the file --------------------------------------------------------

@pytest.mark.parametrize("body", [
    "from myconv import *\n",
    "import myconv\nforward, filter_grad, input_grad = myconv.make()\n",
    "import functools, myconv\n\ndef logged(f):\n    @functools.wraps(f)\n    def inner(*a):\n        return f(*a)\n"
    "    return inner\n\nforward = logged(myconv.forward)\nfilter_grad = logged(myconv.filter_grad)\n"
    "input_grad = logged(myconv.input_grad)\n",
    "import myconv\n\nclass Op:\n    def __init__(self, f):\n        self.f = f\n    def __call__(self, a, b, spec):\n"
    "        return self.f(a, b, spec)\n\nforward, filter_grad, input_grad = (Op(f) for f in myconv.make())\n",
    "import functools, myconv\nforward = functools.partial(myconv.generic, 'forward')\n"
    "filter_grad = functools.partial(myconv.generic, 'filter_grad')\n"
    "input_grad = functools.partial(myconv.generic, 'input_grad')\n",
    "import myconv\nglobals().update({name: f for name, f in zip(('forward', 'filter_grad', 'input_grad'), "
    "myconv.make())})\n",
], ids=["star-import", "tuple", "decorated", "callable-objects", "partial", "generated"])
def test_functions_bound_any_way_are_found_by_importing_the_file_from_any_folder(tmp_path, body):
    lib = tmp_path / "lib"
    lib.mkdir()
    write(lib, "myconv.py", REFERENCE + "\ndef make():\n    return forward, filter_grad, input_grad\n\n"
                                        "def generic(which, a, b, spec):\n    return globals()[which](a, b, spec)\n")
    path = write(lib, "mine.py", body)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = run_symconv("check", "conv2d", "--input", "2x6x5x3", "--kernel", "3x3x3x4", "--strides", "2",
                                 "--padding", "SAME", "--impl", path, "--json", cwd=str(elsewhere))
    assert code == 0, out + err
    assert [r["status"] for r in json.loads(out)["results"]] == ["ok", "ok", "ok"]


@pytest.mark.parametrize("source, message", [
    ("forward = 3\n", r"mine\.py: forward must be a function forward\(x, k, spec\), got int"),
    ("def forward(x, k):\n    return x\n", r"mine\.py: forward\(x, k\) cannot be called as forward\(x, k, spec\): it "
                                           r"must take three arguments"),
    ("SYMCONV_SUPPORTS = {'op': ['conv2d']}\ndef forward(x, k, spec):\n    return x\n",
     r"mine\.py: SYMCONV_SUPPORTS has an unknown key 'op'"),
    ("SYMCONV_SUPPORTS = {'layouts': ['NWHC']}\n", r"mine\.py: layouts must be among .*got 'NWHC'"),
])
@pytest.mark.parametrize("where", ["--in-process", "child"])
def test_a_bad_impl_file_is_a_one_line_usage_error(tmp_path, capsys, source, message, where):
    path = write(tmp_path, "mine.py", source)
    extra = ["--in-process"] if where == "--in-process" else []
    assert main(["check", *STRIDED, "--impl", path, *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    import re
    assert re.search(message, err), err
    assert "bug in symconv" not in err


def test_a_file_that_fails_to_import_is_an_error(tmp_path, capsys):
    path = write(tmp_path, "mine.py", "import not_a_module_anywhere\n")
    assert main(["check", *STRIDED, "--impl", path]) == 1
    assert "ModuleNotFoundError" in capsys.readouterr().out


# ---- 3. what an implementation covers ----------------------------------------------------------------

def test_a_case_outside_what_the_file_declares_is_skipped_and_alone_exits_three(tmp_path, capsys):
    assert main(["check", "conv1d", "--input", "1x5x2", "--kernel", "3x2x2", "--impl", GOOD]) == 3
    out = capsys.readouterr().out
    assert "outside what good_numpy.py declares in SYMCONV_SUPPORTS: op conv1d is not among ops conv2d" in out


def test_coverage_tables_name_what_they_exclude():
    cover = Coverage.from_table({"ops": ["conv2d", "conv3d"], "kernel_layouts": ["torch"], "paddings": ["SAME"],
                                 "conventions": ["tf"], "groups": [1, 2], "dtypes": ["float32"]}, "mine.py")
    torch_like = ConvSpec("conv2d", "1x2x5x5", "4x2x3x3", data_format="NCHW", kernel_layout="torch", padding="SAME")
    assert cover.excludes(torch_like) == ""
    assert cover.excludes(torch_like.with_layouts(kernel_layout="tf")) == "kernel layout HWIO is not among " \
                                                                          "kernel_layouts torch"
    assert cover.excludes(ConvSpec("conv1d", "1x5x2", "3x2x4")) == "op conv1d is not among ops conv2d, conv3d"
    valid = ConvSpec("conv3d", "1x2x5x5x5", "4x2x3x3x3", data_format="NCDHW", kernel_layout="OIDHW")
    assert cover.excludes(valid) == "padding VALID is not among paddings SAME"
    assert cover.dtypes == ("float32",)
    with pytest.raises(SymconvError, match="mine.py: groups must be positive integers, got 0"):
        Coverage.from_table({"groups": [0]}, "mine.py")
    with pytest.raises(SymconvError, match="mine.py: dtypes must be among float64, float32, got 'float16'"):
        Coverage.from_table({"dtypes": ["float16"]}, "mine.py")
    with pytest.raises(SymconvError, match="kernel_layouts must be letters such as HWIO"):
        Coverage.from_table({"kernel_layouts": ["XYZW"]}, "mine.py")


def test_a_declared_dtype_is_what_the_functions_receive(tmp_path):
    path = write(tmp_path, "mine.py", """
        import numpy as np
        from symconv import reference
        SYMCONV_SUPPORTS = {"dtypes": ["float32"]}
        def forward(x, k, spec):
            assert x.dtype == np.float32 and k.dtype == np.float32, (x.dtype, k.dtype)
            return reference.forward(spec, x, k).astype(np.float32)
    """)
    assert check(ConvSpec("conv2d", "1x5x5x2", "3x3x2x4"), impl=path, quantities=["forward"]).status == "ok"


def test_every_op_has_cases_where_swapped_channel_axes_cannot_hide():
    cases = sweep_cases("quick")
    for op in OPS:
        specs = [c.spec for c in cases if c.spec.op == op]
        for fmt in {s.data_format for s in specs}:
            mine = [s for s in specs if s.data_format == fmt and s.batch > 1 and
                    (s.ndim == 1 or len(set(s.direct_input_spatial)) > 1)]
            # the kernel's two channel axes (HWIO, HWCM, HWOI): of different sizes, and of the same size
            assert any(1 < s.kernel_shape[-2] != s.kernel_shape[-1] > 1 for s in mine), (op, fmt)
            assert any(1 < s.kernel_shape[-2] == s.kernel_shape[-1] for s in mine), (op, fmt)


def test_a_sweep_moves_cases_into_the_kernel_layout_the_file_declares(tmp_path):
    path = write(tmp_path, "torchlike.py", """
        from symconv import reference
        SYMCONV_SUPPORTS = {"ops": ["conv2d"], "layouts": ["NCHW"], "kernel_layouts": ["OIHW"], "groups": [1]}
        def forward(x, k, spec):
            assert spec.kernel_layout == "OIHW" and k.shape[:2] == spec.kernel_shape[:2]
            return reference.forward(spec, x, k)
    """)
    report = sweep(impl=path, progress=False, shrink=False)
    assert report.status == "ok" and report.counts()["checked"] >= 10
    assert all(r.spec.kernel_layout == "OIHW" for r in report.results)
    assert "left out (outside ops conv2d; layouts NCHW; kernel_layouts OIHW; groups 1)" in report.text()


# ---- 4. nothing checked is never a pass -------------------------------------------------------------

def test_a_sweep_of_code_that_raises_everywhere_fails_and_one_that_refuses_everything_checked_nothing(tmp_path):
    raises = write(tmp_path, "raises.py", "".join(f"def {q}(a, b, spec):\n    raise ValueError('no')\n"
                                                  for q in ("forward", "filter_grad", "input_grad")))
    report = sweep(impl=raises, ops=["conv1d"], progress=False, shrink=False, confirm=False)
    assert report.exit_status == 1 and report.counts()["checked"] == len(report.results)
    no_output = [r for r in report.results if r.case_id.endswith("VALID-no_output")]
    assert no_output and all(r.verdict == "finding" for r in no_output)   # dk and dx are not empty there
    refuses = write(tmp_path, "refuses.py", "def forward(x, k, spec):\n    raise NotImplementedError('later')\n")
    report = sweep(impl=refuses, ops=["conv1d"], progress=False)
    assert report.status == "refused" and report.exit_status == 3
    assert "NOTHING WAS CHECKED" in report.text()


def test_a_sweep_whose_filters_leave_nothing_exits_three(capsys):
    assert main(["sweep", "--impl", GOOD, "--ops", "conv1d"]) == 3
    out = capsys.readouterr().out
    assert "0 checked" in out and "23 left out" in out


def _suite(*args, cwd) -> tuple:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "--pyargs", "symconv.testing.conformance", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=900)
    return done.returncode, done.stdout + done.stderr


def test_the_conformance_suite_passes_right_code_and_fails_swapped_channels(tmp_path):
    code, out = _suite("--symconv-impl", GOOD, cwd=str(tmp_path))
    assert code == 0, out
    from symconv.sweeps.cases import sweep_cases
    left_out = len(sweep_cases("quick")) - 12   # the quick sweep's conv2d NHWC ungrouped cases run
    assert "12 passed" in out and f"{left_out} left out (outside ops conv2d; layouts NHWC; groups 1)" in out
    undeclared = write(tmp_path, "plain.py", open(GOOD).read().replace("SYMCONV_SUPPORTS", "_NOT_DECLARED"))
    code, out = _suite("--symconv-impl", undeclared, "--symconv-ops", "conv2d", "--symconv-layouts", "NHWC",
                       "--symconv-groups", "1", cwd=str(tmp_path))
    assert code == 0 and "12 passed" in out, out
    swapped = write(tmp_path, "swapped.py", open(GOOD).read().replace('"nhwc,nhwo->co"', '"nhwc,nhwo->oc"'))
    code, out = _suite("--symconv-impl", swapped, cwd=str(tmp_path))
    assert code == 1 and "FAILED" in out and "channels_n2_" in out, out


def test_a_conformance_run_that_checked_nothing_exits_three(tmp_path):
    refuses = write(tmp_path, "refuses.py", "def forward(x, k, spec):\n    raise NotImplementedError('later')\n")
    code, out = _suite("--symconv-impl", refuses, "--symconv-ops", "conv1d", cwd=str(tmp_path))
    assert code == 3 and "NOTHING WAS CHECKED" in out, out
    code, out = _suite("--symconv-impl", GOOD, "--symconv-ops", "conv1d", cwd=str(tmp_path))
    assert code == 3 and "0 of 154 cases run" in out, out
    code, out = _suite("--symconv-impl", GOOD, "--symconv-ops", "conv9d", cwd=str(tmp_path))
    assert code == 4 and "ops must be among" in out, out
    code, out = _suite("--symconv-impl", GOOD, "--symconv-seed", "abc", cwd=str(tmp_path))
    assert code == 4 and "--symconv-seed must be a non-negative integer, got 'abc'" in out and "failed" not in out


# ---- 5. determinism is checked ---------------------------------------------------------------------

WRONG_FROM_THIRD_CALL = """
from symconv import reference
calls = [0]
def forward(x, k, spec):
    calls[0] += 1
    y = reference.forward(spec, x, k)
    if calls[0] >= 3:
        y.flat[0] += 1
    return y
"""


def test_check_repeat_fails_an_implementation_that_goes_wrong_later(tmp_path, capsys):
    path = write(tmp_path, "later.py", WRONG_FROM_THIRD_CALL)
    args = ["check", "conv2d", "--input", "2x6x5x3", "--kernel", "3x3x3x4", "--impl", path, "--repeat", "1"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "NONDETERMINISTIC: forward changed between calls on the same inputs" in out
    assert "nondeterministic: 1 entry changed on 1 repeated call with the same inputs" in out
    assert main(args + ["--json"]) == 1
    forward = json.loads(capsys.readouterr().out)["results"][0]
    assert forward["status"] == "error" and forward["nondeterministic"][0]["entry"] == "y[0,0,0,0]"
    assert main(["check", "conv2d", "--input", "1x4x4x1", "--kernel", "2x2x1x1", "--impl", GOOD, "--repeat",
                 "2"]) == 0
    assert "the same again on 2 repeated calls" in capsys.readouterr().out


def test_the_fixture_and_sweeps_repeat_a_probe_by_default(tmp_path):
    calls = [0]
    from symconv.model import reference

    def forward(x, k, spec):
        calls[0] += 1
        y = reference.forward(spec, x, k)
        y.flat[0] += calls[0] >= 3
        return y
    with pytest.raises(ConvMismatch, match="NONDETERMINISTIC"):
        assert_conv_matches("conv2d", forward=forward, input="1x5x5x2", kernel="3x3x2x2")
    path = write(tmp_path, "later.py", WRONG_FROM_THIRD_CALL)
    report = sweep(impl=path, ops=["conv2d"], progress=False)
    first = report.findings[0][1]   # wrong from then on: the first case sees it change
    assert report.exit_status == 1 and first.verdict.kind == "nondeterministic"
    assert first.command.endswith("--repeat 1") and first.confirmation.startswith("seen changing: y[")


@pytest.mark.parametrize("bad", [-1, 101, "abc", 1.5, True])
def test_repeat_must_be_a_small_count(bad):
    with pytest.raises(SymconvError, match="repeat must be an integer from 0 to 100"):
        check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1"), "numpy", repeat=bad)


def test_a_device_that_a_backend_cannot_choose_is_refused_not_ignored(capsys):
    founding = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1"]
    assert main(["check", *founding, "--backend", "numpy", "--device", "gpu"]) == 2
    assert "backend 'numpy' has no device to choose" in capsys.readouterr().err
    assert main(["check", *founding, "--impl", GOOD, "--device", "gpu"]) == 2
    assert "an impl file runs as it is written" in capsys.readouterr().err


def test_the_matrix_exits_like_a_sweep():
    from symconv.backends import Variant
    from symconv.sweeps.matrix import Matrix, MatrixRun, RunResult
    from symconv.sweeps.run import Target, run_cases
    cases = [c for c in sweep_cases("quick", ["conv2d"]) if c.spec.data_format == "NHWC"][:3]

    def matrix_of(impl):
        target = Target(impl=impl)
        with target.open_runner() as runner:
            results = run_cases(runner, cases, target, shrink_findings=False, confirm_findings=False)
        return Matrix("quick", [RunResult(MatrixRun("mine", "numpy", Variant()), "a CPU", results),
                                RunResult(MatrixRun("gpu", "numpy", Variant()), "-", not_run="no GPU")], "today", {})
    assert matrix_of(GOOD).exit_status == 0
    assert matrix_of(str(IMPLS / "founding_bug.py")).exit_status == 1
    assert Matrix("quick", [RunResult(MatrixRun("gpu", "numpy", Variant()), "-", not_run="no GPU")], "today",
                  {}).exit_status == 3
