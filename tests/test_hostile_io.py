"""Hostile input on outputs, processes and the Python API: output paths (folders, missing
folders, ``-``, picture suffixes), pictures of large layers, what an implementation leaves
running, timeouts and argument values of every public function, and broken backend classes.
Each ends in the right result or one line of error, never a traceback, a hang or a process
left behind."""

import os
import subprocess
import sys

import numpy as np
import pytest

import symconv
from symconv import ConvSpec, SymconvError
from symconv.cli import main
from symconv.show import outputs

from .paths import HOSTILE

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]
WHICH = ["which", *FOUNDING_ARGS, "--entry", "y[0,0,0,0]"]
CHECK = ["check", *FOUNDING_ARGS, "--backend", "numpy", "--in-process"]
EXPLAIN = ["explain", *FOUNDING_ARGS]
PICTURE_COMMANDS = {"which": WHICH, "check": CHECK, "explain": EXPLAIN}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err, match):
    assert err.count("\n") == 1 and err.startswith("symconv: error: "), err
    assert "Traceback" not in err
    assert match in err, err


def cli_process(*argv, cwd=None, **options):
    return subprocess.run([sys.executable, "-m", "symconv", *argv], capture_output=True, cwd=cwd, timeout=120,
                          **options)


# ---- output paths: one rule for every option ------------------------------------------------------

@pytest.mark.parametrize("command", sorted(PICTURE_COMMANDS))
def test_a_picture_to_a_folder_is_refused_before_any_work_and_writes_nothing(capsys, tmp_path, command):
    folder = tmp_path / "pictures"
    folder.mkdir()
    code, out, err = run_cli(capsys, *PICTURE_COMMANDS[command], "--png", str(folder))
    assert code == 2 and out == ""
    one_line_error(err, f"--png '{folder}' is a folder: give a file name, e.g. '{folder}/picture.png'")
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


@pytest.mark.parametrize("argv,option,name", [
    (WHICH, "--png", "missing/a.png"), (CHECK, "--png", "missing/a.png"), (EXPLAIN, "--png", "missing/a.png"),
    (["latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1"], "-o", "missing/a.tex"),
    (["prove"], "--latex", "missing/a.tex"),
])
def test_a_missing_folder_is_one_line_naming_the_option_and_the_path(capsys, tmp_path, monkeypatch, argv, option,
                                                                      name):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv, option, name)
    shown_option = "--output" if option == "-o" else option
    assert code == 2 and out == ""
    one_line_error(err, f"{shown_option} '{name}' cannot be written: no such folder 'missing'")


@pytest.mark.parametrize("argv,option", [(["latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1"], "-o"),
                                         (["prove"], "--latex")])
def test_a_latex_document_to_a_folder_is_refused(capsys, tmp_path, argv, option):
    code, out, err = run_cli(capsys, *argv, option, str(tmp_path))
    assert code == 2 and out == ""
    one_line_error(err, f"'{tmp_path}' is a folder: give a file name, e.g. '{tmp_path}/")


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF"),
                                          (".SVG", b"<?xml")])
def test_pictures_are_written_in_the_format_their_suffix_names(capsys, tmp_path, suffix, magic):
    target = tmp_path / f"y{suffix}"
    code, out, _ = run_cli(capsys, *WHICH, "--png", str(target))
    assert code == 0 and out.endswith(f"wrote picture {target}\n")
    assert target.read_bytes().startswith(magic)
    saved = tmp_path / f"api{suffix}"
    assert symconv.which(FOUNDING, "y[0,0,0,0]").plot().save(saved) == str(saved)
    assert saved.read_bytes().startswith(magic)


@pytest.mark.parametrize("name,got", [("y.jpg", "got '.jpg'"), ("y", "got no suffix"), ("y.png.txt", "got '.txt'")])
def test_a_picture_suffix_that_names_no_format_is_refused_naming_it(capsys, tmp_path, name, got):
    code, out, err = run_cli(capsys, *CHECK, "--png", str(tmp_path / name))
    assert code == 2 and out == ""
    one_line_error(err, f"a picture is written as .png, .svg or .pdf, chosen by the file's suffix; {got}")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SymconvError, match=f"picture path '.*{name}': a picture is written as .png"):
        symconv.which(FOUNDING, "y[0,0,0,0]").plot(tmp_path / name)


def test_an_empty_or_nul_path_is_refused(capsys):
    for bad, message in (("", "--png must be a file name, got ''"), ("a\0.png", "a file name has no NUL character")):
        code, _, err = run_cli(capsys, *WHICH, "--png", bad)
        assert code == 2
        one_line_error(err, message)


def test_dash_is_standard_output_for_pictures_and_the_report_goes_to_standard_error(tmp_path):
    for argv in (WHICH, CHECK):
        done = cli_process(*argv, "--png", "-", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(b"\x89PNG") and done.stdout.endswith(b"IEND\xaeB`\x82")
        assert b"wrote picture to standard output" in done.stderr and b"Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # never a file named '-'


def test_dash_is_standard_output_for_latex_documents(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o", "-")
    assert code == 0 and out.startswith("\\documentclass") and err == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal")
def test_a_png_is_never_written_to_a_terminal(tmp_path):
    import pty
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "symconv", *CHECK, "--png", "-"], stdout=follower,
                              stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    one_line_error(done.stderr.decode(), "--png '-' would write a PNG to the terminal: redirect standard output")
    assert list(tmp_path.iterdir()) == []


def test_two_outputs_cannot_both_be_standard_output():
    with pytest.raises(SymconvError, match="--png and --latex are both '-': only one output can be standard output"):
        outputs.report_stream(("--png", "-"), ("--latex", "-"))
    assert outputs.report_stream(("--png", "a.png"), ("--latex", None)) is sys.stdout


def test_a_write_that_fails_late_is_one_line(capsys):
    code, _, err = run_cli(capsys, "latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o", "/dev/full")
    assert code == 2
    one_line_error(err, "--output '/dev/full' cannot be written: No space left on device")


# ---- pictures of large layers ----------------------------------------------------------------------

LAYER = ["conv2d", "--input", "1x56x56x64", "--kernel", "3x3x64x64", "--padding", "SAME"]


@pytest.mark.parametrize("entry", ["x[0,5,5,0]", "k[0,0,0,0]", "g[0,0,0,0]", "x[0,55,55,63]"])
def test_reads_pictures_of_a_56x56x64_layer(capsys, tmp_path, entry):
    target = tmp_path / "reads.png"
    code, out, err = run_cli(capsys, "which", *LAYER, "--reads", entry, "--png", str(target))
    assert code == 0 and err == "" and out.endswith(f"wrote picture {target}\n")
    assert target.read_bytes().startswith(b"\x89PNG")


def test_reads_picture_of_an_entry_that_feeds_more_entries_than_an_answer_lists(capsys, tmp_path):
    # k[0,0,0,0] of a 100x56x56x64 batch feeds 302,500 entries of y and of dx: more than the
    # 200,000 an answer lists, so the picture reads them from the index maps.
    target = tmp_path / "reads.png"
    code, out, err = run_cli(capsys, "which", "conv2d", "--input", "100x56x56x64", "--kernel", "3x3x64x64",
                             "--padding", "SAME", "--reads", "k[0,0,0,0]", "--png", str(target))
    assert code == 0 and err == "" and "302500 entries" in out
    picture = symconv.which(ConvSpec("conv2d", "100x56x56x64", "3x3x64x64", padding="SAME"), reads="k[0,0,0,0]").plot()
    titles = [title for title, _ in picture.panels]
    assert titles == ["the entry k[0,0,0,0]", "302500 entries of y it feeds", "302500 entries of dx it feeds"]
    from symconv.model.window import READ
    y_panel = picture.panels[1][1]
    assert y_panel.cells[1:, 1:].tolist() == (np.full_like(y_panel.cells[1:, 1:], READ)).tolist()


def test_an_entry_beyond_what_the_index_maps_list_is_a_note_in_the_picture(capsys, tmp_path):
    spec = ConvSpec("conv1d", "3000x3000x1", "1x1x1")  # dk[0,0,0] has 9,000,000 terms
    picture = symconv.which(spec, reads="k[0,0,0]").plot()
    assert [panel is None for _, panel in picture.panels] == [False, True, True]
    assert picture.panels[1][0].startswith("9,000,000 entries of y it feeds:\nmore than the 5,000,000")
    picture = symconv.which(spec, "dk[0,0,0]").plot()
    assert picture.panels[0][1] is None and picture.panels[0][0].startswith("9,000,000 terms of dk[0,0,0]")


# ---- processes: nothing an implementation starts outlives its worker ---------------------------------

def _gone(pid, wait=5.0):
    """True once pid no longer runs (a zombie counts as gone)."""
    import time
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(") ", 1)[-1].startswith(("Z", "X")):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _kill_left(pids):
    import signal
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_grandchild_that_leaves_the_session_is_stopped_with_the_worker(tmp_path):
    pids = tmp_path / "pids"
    env = {**os.environ, "FORK_PID_FILE": str(pids)}
    done = cli_process("check", *FOUNDING_ARGS, "--impl", os.path.join(HOSTILE, "setsid_grandchild.py"), env=env)
    left = [int(p) for p in pids.read_text().split()]
    try:
        assert done.returncode == 0, done.stderr
        assert left and all(_gone(pid) for pid in left), "the setsid grandchild outlived symconv check"
    finally:
        _kill_left(left)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_grandchild_that_leaves_the_session_is_stopped_when_the_worker_is_killed(tmp_path, monkeypatch):
    from symconv.backends import open_runner
    from symconv.backends.base import Call
    pids = tmp_path / "pids"
    monkeypatch.setenv("FORK_PID_FILE", str(pids))
    x, k = np.ones((1, 3, 3, 1)), np.ones((1, 1, 1, 1))
    with open_runner(impl=os.path.join(HOSTILE, "setsid_grandchild.py"), isolate=True, timeout=30) as runner:
        assert runner.run([Call(FOUNDING, "forward", "op", {"x": x, "k": k})])[0].status == "ok"
        left = [int(p) for p in pids.read_text().split()]
        try:
            worker = runner.worker.process
            runner.worker._death("in a test", hung=1.0)   # what a timed-out call does
            assert worker.poll() is not None
            assert all(_gone(pid) for pid in left), "the setsid grandchild outlived its stopped worker"
        finally:
            _kill_left(left)


# ---- the Python API: a timeout given is honoured; every argument checked -------------------------

def test_a_timeout_given_to_the_api_is_honoured_in_a_child_process():
    import time
    start = time.monotonic()
    report = symconv.check(FOUNDING, impl=os.path.join(HOSTILE, "sleeps_then_answers.py"), timeout=2,
                           quantities="y")
    elapsed = time.monotonic() - start
    assert elapsed < 25, f"check took {elapsed:.0f} s with timeout=2 (the call sleeps 30 s)"
    [forward] = report.results
    assert forward.status == "error" and "crash: backend process did not answer within 2 s" in forward.message
    story = symconv.explain(FOUNDING, impl=os.path.join(HOSTILE, "sleeps_then_answers.py"), timeout=2)
    assert "did not answer within 2 s" in story.backend["results"][0]["message"]
    assert time.monotonic() - start < 50


def test_in_process_and_a_timeout_exclude_each_other_on_the_command_line(capsys):
    code, out, err = run_cli(capsys, *CHECK, "--timeout", "2")
    assert code == 2 and out == ""
    one_line_error(err, "--timeout applies to the child process that --in-process does without")


@pytest.mark.parametrize("bad", [-1, 0, "abc", float("nan"), float("inf"), True, [2], 10**9])
@pytest.mark.parametrize("function", ["check", "infer", "explain"])
def test_bad_timeouts_are_refused_before_anything_runs(function, bad):
    with pytest.raises(SymconvError, match="timeout must be a positive number of seconds") as caught:
        getattr(symconv, function)(FOUNDING, backend="numpy", timeout=bad)
    assert "\n" not in str(caught.value)


class NotARunner:
    backend = None


API_MISUSE = [
    (lambda: symconv.explain(FOUNDING, timeout="abc"), "timeout must be a positive number of seconds, got 'abc'"),
    (lambda: symconv.check(FOUNDING, "numpy", isolate="yes"), "isolate must be True or False, got 'yes'"),
    (lambda: symconv.explain(FOUNDING, runner="numpy"), "runner must be a runner from symconv.backends.open_runner, "
                                                        "got str 'numpy'"),
    (lambda: symconv.infer(FOUNDING, runner=[1]), "runner must be a runner from symconv.backends.open_runner"),
    (lambda: symconv.infer(FOUNDING, runner=NotARunner()), "runner must be a runner"),
    (lambda: symconv.general_formulas([2]), "general formulas exist for 1, 2 or 3 spatial axes, got \\[2\\]"),
    (lambda: symconv.general_formulas(True), "general formulas exist for 1, 2 or 3 spatial axes, got True"),
    (lambda: symconv.general_formulas(2.0), "general formulas exist for 1, 2 or 3 spatial axes, got 2.0"),
    (lambda: symconv.literal_derivation(FOUNDING, gradients=None), "gradients must be a list of filter_grad"),
    (lambda: symconv.literal_derivation(FOUNDING, gradients=["dk", "backward"]), "quantity must be one of"),
    (lambda: symconv.literal_derivation(FOUNDING, gradients=["y"]), "the forward y is always derived"),
    (lambda: symconv.literal_derivation(FOUNDING, limit=1.5), "limit must be an integer number of products, got 1.5"),
    (lambda: symconv.explain(FOUNDING, x=np.zeros(3 * 10**7)), "x needs 9 values .* got 30000000"),
    (lambda: symconv.explain(FOUNDING, x="1," * 10**7), "x needs 9 values .* got more than 100000"),
]


@pytest.mark.parametrize("call,message", API_MISUSE, ids=range(len(API_MISUSE)))
def test_hostile_arguments_of_the_python_api_are_one_symconv_error(call, message):
    with pytest.raises(SymconvError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value) and len(str(caught.value)) <= 600


def test_a_runner_given_keeps_its_own_timeout():
    from symconv.backends import open_runner
    with open_runner("numpy") as runner:
        with pytest.raises(SymconvError, match="timeout is fixed when a runner opens"):
            symconv.infer(FOUNDING, runner=runner, timeout=5)
        assert symconv.explain(FOUNDING, runner=runner).backend["name"] == "numpy"
    assert symconv.literal_derivation(FOUNDING, gradients="dk").input_grad == {}
    assert symconv.general_formulas(np.int64(1)) is symconv.general_formulas(1)


# ---- register_backend: a broken class is one line naming the backend and the method -------------

from symconv.backends import BACKENDS, register_backend  # noqa: E402
from symconv.backends.numpy_backend import NumpyBackend  # noqa: E402
from symconv.backends.variants import forget_options  # noqa: E402


class InitRaises(NumpyBackend):
    name = "init-raises"

    def __init__(self, *args, **kwargs):
        raise RuntimeError("no GPU here\nsecond line")


class PathsRaise(NumpyBackend):
    name = "paths-raise"

    def paths(self, spec, quantity):
        raise KeyError(quantity)


class PathsWrong(NumpyBackend):
    name = "paths-wrong"

    def paths(self, spec, quantity):
        return "op"


class PathsEmpty(NumpyBackend):
    name = "paths-empty"

    def paths(self, spec, quantity):
        return []


class DescribeRaises(NumpyBackend):
    name = "describe-raises"

    def describe(self, spec, quantity, path):
        return 1 / 0


class DescribeWrong(NumpyBackend):
    name = "describe-wrong"

    def describe(self, spec, quantity, path):
        return None


class SkipReasonRaises(NumpyBackend):
    name = "skip-raises"

    def skip_reason(self, spec, quantity, path):
        raise ValueError("which GPU?")


class SkipReasonWrong(NumpyBackend):
    name = "skip-wrong"

    def skip_reason(self, spec, quantity, path):
        return True


class LabelRaises(NumpyBackend):
    name = "label-raises"

    @property
    def label(self):
        raise AttributeError("no label")


class ExecuteRaises(NumpyBackend):
    name = "execute-raises"

    def execute(self, call):
        raise RuntimeError("not today")


class ExecuteWrong(NumpyBackend):
    name = "execute-wrong"

    def execute(self, call):
        return np.zeros(1)


class NoName(NumpyBackend):
    name = "?"


class NameNotText(NumpyBackend):
    name = 5


class NoDescribe(symconv.backends.base.Backend):
    name = "no-describe"

    def run(self, spec, quantity, path, tensors):
        return None


class NoRun(symconv.backends.base.Backend):
    name = "no-run"

    def describe(self, spec, quantity, path):
        return "nothing"


class PathsNotCallable(NumpyBackend):
    name = "paths-not-callable"
    paths = 5


class BadOptions(NumpyBackend):
    name = "bad-options"
    variant_options = 5


class BadModules(NumpyBackend):
    name = "bad-modules"
    framework_modules = "numpy"


class BadEnvironment(NumpyBackend):
    name = "bad-environment"
    child_environment = {"OMP_NUM_THREADS": 1}


@pytest.fixture
def registered():
    """Register classes under their names; forget them afterwards."""
    added = []

    def add(cls, name=None):
        name = name or cls.name
        register_backend(name, cls)
        added.append(name)
        return name
    yield add
    for name in added:
        BACKENDS.pop(name, None)
    forget_options()


BROKEN_AT_CALL = [
    (InitRaises, "backend 'init-raises': InitRaises.__init__ raised RuntimeError: no GPU here"),
    (PathsRaise, "backend 'paths-raise': PathsRaise.paths raised KeyError: 'forward'"),
    (PathsWrong, "backend 'paths-wrong': PathsWrong.paths must return a non-empty list of path names \\(strings\\), "
                 "got 'op'"),
    (PathsEmpty, "backend 'paths-empty': PathsEmpty.paths must return a non-empty list"),
    (DescribeRaises, "backend 'describe-raises': DescribeRaises.describe raised ZeroDivisionError: division by zero"),
    (DescribeWrong, "backend 'describe-wrong': DescribeWrong.describe must return a string, got None"),
    (SkipReasonRaises, "backend 'skip-raises': SkipReasonRaises.skip_reason raised ValueError: which GPU\\?"),
    (SkipReasonWrong, "backend 'skip-wrong': SkipReasonWrong.skip_reason must return None or a string, got True"),
    (LabelRaises, "backend 'label-raises': LabelRaises.label raised AttributeError: no label"),
]


@pytest.mark.parametrize("cls,message", BROKEN_AT_CALL, ids=[c.__name__ for c, _ in BROKEN_AT_CALL])
@pytest.mark.parametrize("function", ["check", "infer", "explain"])
def test_a_broken_backend_method_is_one_line_naming_the_backend_and_the_method(registered, cls, message, function):
    name = registered(cls)
    with pytest.raises(SymconvError, match=message) as caught:
        getattr(symconv, function)(FOUNDING, backend=name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("cls", [ExecuteRaises, ExecuteWrong])
def test_a_broken_execute_is_an_error_outcome_naming_the_backend(registered, cls):
    name = registered(cls)
    report = symconv.check(FOUNDING, name, quantities="y")
    [forward] = report.results
    assert forward.status == "error" and f"backend '{name}': {cls.__name__}.execute" in forward.message


BROKEN_AT_REGISTRATION = [
    (NoName, "backend 'no-name': class NoName sets no name \\(a string such as name = 'no-name'\\)"),
    (NameNotText, "backend 'name-not-text': class NameNotText sets no name"),
    (NoDescribe, "backend 'no-describe': class NoDescribe does not implement describe\\(spec, quantity, path\\)"),
    (NoRun, "backend 'no-run': class NoRun does not implement run\\(spec, quantity, path, tensors\\)"),
    (PathsNotCallable, "backend 'paths-not-callable': PathsNotCallable.paths must be a method, got int 5"),
    (BadOptions, "backend 'bad-options': BadOptions.variant_options must be a tuple of VariantOption, got 5"),
    (BadModules, "backend 'bad-modules': BadModules.framework_modules must be a tuple of module names, got 'numpy'"),
    (BadEnvironment, "backend 'bad-environment': BadEnvironment.child_environment must map names to strings, got "),
]


@pytest.mark.parametrize("cls,message", BROKEN_AT_REGISTRATION, ids=[c.__name__ for c, _ in BROKEN_AT_REGISTRATION])
def test_a_class_that_cannot_be_a_backend_is_refused_when_it_is_registered(cls, message):
    name = message.split("'")[1]
    with pytest.raises(SymconvError, match=message) as caught:
        register_backend(name, cls)
    assert name not in BACKENDS and "\n" not in str(caught.value)
    from symconv.cli import build_parser
    build_parser()  # the command line still builds its options


def test_a_class_registered_by_its_import_path_is_checked_when_first_used(registered, capsys):
    registered("tests.test_hostile_io:BadOptions", "late-bad-options")
    registered("tests.no_such_module:Backend", "not-importable")
    from symconv.cli import build_parser
    build_parser()  # the command line still builds, without their options
    with pytest.raises(SymconvError, match="backend 'late-bad-options': BadOptions.variant_options must be a tuple"):
        symconv.check(FOUNDING, "late-bad-options")
    with pytest.raises(SymconvError, match="backend 'not-importable' is registered as 'tests.no_such_module:Backend', "
                                           "which cannot be imported: No module named 'tests.no_such_module'"):
        symconv.check(FOUNDING, "not-importable")


def test_a_backend_a_child_process_cannot_import_is_refused_before_it_starts(registered):
    class Local(NumpyBackend):
        name = "local"
    name = registered(Local)
    assert symconv.check(FOUNDING, name, quantities="y").ok  # in this process it runs
    with pytest.raises(SymconvError, match="backend 'local': class Local is defined inside a function, which a child "
                                           "process cannot import: define it at the top level of a module"):
        symconv.check(FOUNDING, name, isolate=True)


def test_a_working_third_party_backend_still_runs_in_a_child(registered):
    class_name = registered(NumpyBackend, "numpy-again")
    report = symconv.check(FOUNDING, class_name, isolate=True)
    assert report.ok, report.text()
