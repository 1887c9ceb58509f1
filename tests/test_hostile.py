"""Hostile input and faults: implementations that crash, hang, exit, fork, chatter or return
garbage; values past int64; huge requests; bad paths and options.  Each one gives the right
verdict or one line of error, never a traceback, a hang or a wrong exit status."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

import symconv
from symconv import ConvSpec, SymconvError, check, explain, infer
from symconv.backends import Variant, open_runner
from symconv.backends import runner as runner_module
from symconv.backends.base import INVALID_OUTPUT, Call
from symconv.cli import main
from symconv.errors import shorten

from .paths import HOSTILE

FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]


def impl(name):
    return os.path.join(HOSTILE, f"{name}.py")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err, match):
    assert err.count("\n") == 1 and err.startswith("symconv") and "error: " in err, err
    assert "Traceback" not in err
    assert match in err, err
    assert len(err) < 700


# ---- what an implementation returns -------------------------------------------------------

WRONG_OUTPUTS = [
    ("complex_output", "forward returned complex numbers (dtype complex128), not real numbers"),
    ("string_output", "forward returned strings (dtype <U32), not real numbers"),
    ("object_output", "forward returned Python objects (dtype object), not real numbers"),
    ("bool_output", "forward returned booleans (dtype bool), not real numbers"),
    ("none_output", "forward returned None, not an array of y's shape (1, 1, 1, 1)"),
    ("ragged_output", "forward returned a list that is not an array of numbers (ValueError"),
    ("huge_output", "forward returned an array of shape (268435456,) (2 GiB) where y has shape (1, 1, 1, 1)"),
]


@pytest.mark.parametrize("name,message", WRONG_OUTPUTS, ids=[n for n, _ in WRONG_OUTPUTS])
def test_an_output_that_is_not_a_finite_real_array_is_an_error_never_coerced(name, message):
    report = check(FOUNDING, impl=impl(name))
    forward, filter_grad, input_grad = report.results
    assert forward.status == "error" and forward.message.startswith(f"{INVALID_OUTPUT}: {message}")
    assert (filter_grad.status, input_grad.status) == ("ok", "ok")
    assert not report.ok


def test_non_finite_values_are_an_error_that_names_them_never_a_search():
    forward = check(FOUNDING, impl=impl("nan_output")).results[0]
    assert forward.status == "error" and forward.backend_calls == forward.plan.probes
    assert "1 non-finite (NaN or Inf)" in forward.message and "y[0,0,0,0] = Inf" in forward.message


def test_complex_values_are_refused_by_explain_and_the_pytest_helper_too():
    story = explain(FOUNDING, impl=impl("complex_output"))
    forward = story.backend["results"][0]
    assert forward["status"] == "error" and "complex numbers" in forward["message"]
    from symconv.testing import ConvMismatch, assert_conv_matches
    with pytest.raises(ConvMismatch, match="forward returned complex numbers"):
        assert_conv_matches(FOUNDING, forward=lambda x, k, spec: symconv.reference.forward(spec, x, k) + 0j)


def test_an_invalid_output_where_the_spec_admits_no_output_is_not_read_as_a_refusal(tmp_path):
    empty = ConvSpec("conv2d", "1x2x2x1", "3x3x1x1", padding="VALID")
    path = tmp_path / "nan_grad.py"
    path.write_text("import numpy as np\ndef filter_grad(x, g, spec):\n    return np.full(spec.kernel_shape, np.nan)\n")
    result = check(empty, impl=str(path)).results[1]
    assert result.status == "error" and "non-finite" in result.message
    for name in ("exits", "complex_output"):  # sys.exit and a complex empty tensor are no answer either
        forward = check(empty, impl=impl(name)).results[0]
        assert forward.status == "error", forward.message
    assert check(empty, impl=impl("long_message")).results[0].status == "ok"  # an exception is a refusal


def test_exceptions_exits_and_interrupts_of_the_implementation_are_errors_in_process():
    for name, message in (("exits", "SystemExit: the backend called sys.exit(0)"),
                          ("interrupts", "KeyboardInterrupt: the backend raised KeyboardInterrupt"),
                          ("recursion_bomb", "RecursionError: maximum recursion depth exceeded")):
        forward = check(FOUNDING, impl=impl(name)).results[0]
        assert forward.status == "error" and forward.message.startswith(message), forward.message
    forward = check(FOUNDING, impl=impl("exits")).results[0]
    assert "a hard crash such as a segfault or os._exit would end the whole run" in forward.message


def test_sys_exit_in_process_no_longer_ends_symconv_with_exit_zero(capsys):
    code, out, _ = run_cli(capsys, "check", *FOUNDING_ARGS, "--impl", impl("exits"), "--in-process")
    assert code == 1 and "SystemExit" in out and "ERROR" in out


def test_garbage_of_the_right_shape_is_a_mismatch_localised_like_any_other():
    forward = check(FOUNDING, impl=impl("garbage_output")).results[0]
    assert forward.status == "mismatch" and forward.mismatch_count == 1


def test_a_long_exception_message_is_cut_to_one_short_line():
    forward = check(FOUNDING, impl=impl("long_message")).results[0]
    assert forward.status == "error" and len(forward.message) < 400  # the implementation raised: a failure
    assert "(104999 characters)" in forward.message


def test_an_output_shape_that_changes_between_calls_is_an_error_for_infer(capsys):
    report = infer(FOUNDING, impl=impl("changing_shape"))
    forward = report.quantities["forward"]
    assert forward.status == "error" and "different shapes from call to call: (1, 1), then (2, 2)" in forward.notes[0]
    code, _, err = run_cli(capsys, "infer", *FOUNDING_ARGS, "--impl", impl("changing_shape"))
    assert code == 1 and "Traceback" not in err


def test_numpy_warnings_of_the_implementation_stay_out_of_the_terminal(tmp_path, capfd):
    path = tmp_path / "noisy.py"
    path.write_text("import numpy as np\nfrom symconv import reference\n"
                    "def forward(x, k, spec):\n    np.log(np.zeros(3)); np.ones(2) / 0\n"
                    "    return reference.forward(spec, x, k)\n")
    assert check(FOUNDING, impl=str(path)).ok
    assert "Warning" not in capfd.readouterr().err


# ---- the child process: crashes, hangs, forks, chatter, parent death -------------------------

def test_crashes_hangs_and_hard_exits_in_the_child_are_errors_and_the_run_goes_on():
    for name, message in (("exits_hard", "crash: backend process exited with status 0 during forward"),
                          ("aborts", "crash: backend process died with signal SIGABRT during forward"),
                          ("spins", "crash: backend process did not answer within 2 s and was stopped during forward"),
                          ("hangs", "crash: backend process did not answer within 2 s and was stopped during forward"),
                          ("complex_output", "InvalidOutput: forward returned complex numbers"),
                          ("huge_output", "InvalidOutput: forward returned an array of shape (268435456,) (2 GiB)")):
        report = check(FOUNDING, impl=impl(name), isolate=True, timeout=2)
        forward, filter_grad, input_grad = report.results
        assert forward.status == "error" and forward.message.startswith(message), forward.message
        assert (filter_grad.status, input_grad.status) == ("ok", "ok")


def test_the_default_timeout_follows_the_size_of_the_case():
    small = runner_module.default_timeout(FOUNDING)
    layer = runner_module.default_timeout(ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", padding="SAME"))
    stem = runner_module.default_timeout(ConvSpec("conv2d", "8x224x224x3", "7x7x3x64", strides=2, padding="SAME"))
    huge = runner_module.default_timeout(ConvSpec("conv2d", "64x224x224x3", "7x7x3x64", strides=2, padding="SAME"))
    assert small == 10 and small < layer < 15 < stem < huge == runner_module.MAX_DEFAULT_TIMEOUT


def test_a_chatty_implementation_is_not_slowed_by_its_stderr():
    # 10 MB of stderr per call: read a byte at a time that took tens of seconds a call.
    report = check(FOUNDING, impl=impl("chatty"), isolate=True, timeout=8)
    assert report.ok, report.text()


def test_what_an_implementation_forks_is_stopped_with_its_worker(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("FORK_PID_FILE", str(pids))
    report = check(FOUNDING, impl=impl("forks"), isolate=True, timeout=8)
    assert report.ok, report.text()
    grandchildren = [int(p) for p in pids.read_text().split()]
    assert grandchildren and all(_gone(pid) for pid in grandchildren)


def _gone(pid, wait=5.0):
    """True once pid no longer runs (a zombie counts as gone)."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ")[-1].startswith(("Z", "X")):
                    return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_does_not_outlive_a_killed_symconv(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, numpy as np\n"
        "from symconv import ConvSpec\nfrom symconv.backends import open_runner\nfrom symconv.backends.base import Call\n"
        "spec = ConvSpec('conv2d', '1x3x3x1', '1x1x1x1', strides=3, padding='SAME')\n"
        f"runner = open_runner(impl={impl('spins')!r}, isolate=True, timeout=600)\n"
        "runner.worker._ensure(runner.key, runner.backend)\n"
        "print(runner.worker.process.pid, flush=True)\n"
        "runner.run([Call(spec, 'forward', 'op', {'x': np.ones((1, 3, 3, 1)), 'k': np.ones((1, 1, 1, 1))})])\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    time.sleep(0.5)  # the call is spinning in the worker now
    parent.kill()
    parent.wait()
    assert _gone(worker), "the worker kept running after symconv was killed"


def test_a_worker_started_from_a_thread_that_ends_keeps_working():
    with open_runner(impl=impl("_correct"), isolate=True) as runner:
        starter = threading.Thread(target=runner.worker._ensure, args=(runner.key, runner.backend))
        starter.start()
        starter.join()
        outcome = runner.run([Call(FOUNDING, "forward", "op", {"x": np.ones((1, 3, 3, 1)), "k": np.ones((1, 1, 1, 1))})])[0]
    assert outcome.status == "ok" and runner.restarts == 0


def test_ctrl_c_during_an_in_process_call_interrupts_symconv(tmp_path):
    marker = tmp_path / "started"
    env = {**os.environ, "SLEEP_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "symconv", "check", *FOUNDING_ARGS, "--impl",
                             impl("sleeps_then_answers"), "--in-process"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    end = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "symconv: interrupted", err


# ---- the protocol --------------------------------------------------------------------------

def test_messages_of_any_size_are_written_and_read_whole(monkeypatch):
    real_write = os.write
    monkeypatch.setattr(runner_module.os, "write", lambda fd, data: real_write(fd, bytes(data[:4097])))
    read_fd, write_fd = os.pipe()
    message = ("call", np.arange(300_000, dtype=np.float64))  # 2.4 MB: many partial writes
    sender = threading.Thread(target=runner_module._send, args=(write_fd, message))
    sender.start()
    received = runner_module._receive(read_fd, time.monotonic() + 30)
    sender.join()
    os.close(read_fd)
    os.close(write_fd)
    assert received[0] == "call" and np.array_equal(received[1], message[1])


def test_a_garbled_or_oversized_message_is_refused():
    import struct
    read_fd, write_fd = os.pipe()
    os.write(write_fd, struct.pack("<Q", runner_module.MAX_MESSAGE + 1))
    with pytest.raises(runner_module._Garbled, match="announcing"):
        runner_module._receive(read_fd, time.monotonic() + 5)
    os.write(write_fd, struct.pack("<Q", 5) + b"nope!")
    with pytest.raises(runner_module._Garbled, match="not a message"):
        runner_module._receive(read_fd, time.monotonic() + 5)
    os.close(read_fd)
    os.close(write_fd)


def test_timeouts_are_finite_positive_numbers_of_seconds():
    for bad in (float("inf"), float("nan"), -1, 0, True, "soon", 10**6):
        with pytest.raises(SymconvError, match="timeout must be a positive number of seconds"):
            runner_module.Worker(Variant(), timeout=bad)


# ---- exact values ------------------------------------------------------------------------------

def test_evaluate_is_exact_beyond_int64():
    spec = ConvSpec("conv2d", "1x2x2x1", "2x2x1x1")
    big = np.full((1, 2, 2, 1), 2**62, dtype=np.int64)
    y = symconv.evaluate(spec, "y", x=big, k=np.full((2, 2, 1, 1), 2**62, dtype=np.int64))
    assert y.dtype == object and y.reshape(-1).tolist() == [4 * 2**124]
    small = symconv.evaluate(spec, "forward", x=np.ones((1, 2, 2, 1), dtype=np.int64), k=np.ones((2, 2, 1, 1), int))
    assert small.dtype == np.int64 and small.reshape(-1).tolist() == [4]
    thirds = symconv.evaluate(spec, "dk", x=np.full((1, 2, 2, 1), Fraction(1, 3), dtype=object), g=[[[[3]]]])
    assert thirds.reshape(-1).tolist() == [1, 1, 1, 1]
    unsigned = symconv.evaluate(spec, "y", x=np.full((1, 2, 2, 1), 2**64 - 1, dtype=np.uint64),
                                k=np.ones((2, 2, 1, 1), dtype=np.int8))
    assert unsigned.reshape(-1).tolist() == [4 * (2**64 - 1)]
    floats = symconv.evaluate(spec, "y", x=np.full((1, 2, 2, 1), 0.5), k=np.ones((2, 2, 1, 1), dtype=np.int8))
    assert floats.dtype == np.float64 and floats.reshape(-1).tolist() == [2.0]


def test_explain_values_are_exact_integers_and_fractions(capsys):
    code, out, _ = run_cli(capsys, "explain", "conv2d", "--input", "1x1x1x1", "--kernel", "1x1x1x1",
                           "--x", "4294967296", "--k", "4294967296")
    assert code == 0 and "y[0,0,0,0] = k[0, 0, 0, 0]*x[0, 0, 0, 0] = 18446744073709551616" in out
    code, out, _ = run_cli(capsys, "explain", "conv1d", "--input", "1x2x1", "--kernel", "1x1x1",
                           "--k", "99999999999999999999999", "--x", "-1,1/3", "--json")
    story = json.loads(out)
    assert code == 0 and story["tensors"]["k"] == [99999999999999999999999]
    assert [row["value"] for row in story["forward"]] == [-99999999999999999999999, "33333333333333333333333"]
    assert story["notes"] == ["values that are not integers are written as exact fractions, as strings 'p/q'"]


def test_explain_json_is_strict_json_whatever_the_backend_returns(capsys):
    code, out, _ = run_cli(capsys, "explain", *FOUNDING_ARGS, "--impl", impl("nan_output"), "--json")
    story = json.loads(out, parse_constant=lambda name: pytest.fail(f"invalid JSON constant {name}"))
    assert code == 1 and story["backend"]["results"][0]["status"] == "error"


def test_values_a_float64_backend_cannot_hold_are_refused_before_it_runs(capsys):
    code, _, err = run_cli(capsys, "explain", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1",
                           "--k", "99999999999999999999999", "--backend", "numpy")
    assert code == 2
    one_line_error(err, "every value and every exact result must be exact in float64")


@pytest.mark.parametrize("value,message", [
    ("0.1", None), ("1e23", None),
    ("1e999999999", "has an exponent beyond 1000"), ("inf", "must be finite numbers"),
    ("1/0", "divides by zero"), ("1" * 5000, "at most 1000 digits"),
])
def test_typed_values_are_parsed_exactly_or_refused_in_one_line(capsys, value, message):
    code, out, err = run_cli(capsys, "explain", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "--k", value)
    if message is None:
        assert code == 0 and f"k = [{ {'0.1': '1/10', '1e23': str(10**23)}[value] }]" in out
    else:
        assert code == 2
        one_line_error(err, message)


def test_a_float_that_is_not_exact_is_refused_from_python():
    with pytest.raises(SymconvError, match=r"x value 0.1 is not exact as a binary float .* '1/10'"):
        explain(FOUNDING, x=[0.1] * 9)
    assert explain(FOUNDING, x=[0.5] * 9).sections["forward"][0]["value"] == Fraction(1, 2)


# ---- the Python API: wrong types and names ------------------------------------------------------

API_MISUSE = [
    (lambda: symconv.which(FOUNDING, 5), "entry must look like y\\[n,i,j,c\\].*got 5"),
    (lambda: symconv.which("conv2d", "y[0,0,0,0]"), "'conv2d' needs input= and kernel="),
    (lambda: symconv.which("conv2d", "y[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", stride=2),
     "unknown spec field 'stride' \\(did you mean strides\\?\\)"),
    (lambda: symconv.which(7, "y"), "spec must be a ConvSpec or an op name"),
    (lambda: symconv.evaluate(FOUNDING, "backward", x=1, k=1), "quantity must be one of y \\(forward\\)"),
    (lambda: symconv.evaluate(FOUNDING, "y", x=np.ones((1, 3, 3, 1)) * 1j, k=np.ones((1, 1, 1, 1))),
     "tensor x must hold real numbers, got complex numbers"),
    (lambda: symconv.evaluate(FOUNDING, "y", x=np.full((1, 3, 3, 1), np.nan), k=np.ones((1, 1, 1, 1))),
     "tensor x must hold finite numbers"),
    (lambda: symconv.evaluate(FOUNDING, "y", x=np.full((1, 3, 3, 1), "a"), k=np.ones((1, 1, 1, 1))),
     "got strings"),
    (lambda: symconv.terms(FOUNDING, "y", "0000"), "entry index of y must be a sequence of 4 integers"),
    (lambda: symconv.terms(FOUNDING, "y", (0, 0, 0, 0.5)), "entry indices must be integers"),
    (lambda: symconv.terms([1], "y", (0, 0, 0, 0)), "spec must be a ConvSpec"),
    (lambda: symconv.closed_form(FOUNDING, "gradient", (0, 0, 0, 0)), "quantity must be one of"),
    (lambda: check(FOUNDING, "numpy", variant="cpu"), "variant must be a symconv.backends.Variant"),
    (lambda: check(FOUNDING, ["numpy"]), "backend must be one of"),
    (lambda: check(FOUNDING, "numpy", seed=-1), "seed must be a non-negative integer, got -1"),
    (lambda: check(FOUNDING, "numpy", quantities=("y", "backward")), "quantity must be one of"),
    (lambda: check(FOUNDING, "numpy", timeout=float("inf"), isolate=True), "timeout must be a positive number"),
    (lambda: explain("conv2d"), "spec must be a ConvSpec"),
    (lambda: ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", convention=["tf"]), "convention must be a name"),
    (lambda: ConvSpec("conv2d", "1x" * 30000 + "1", "1x1x1x1"), "input shape must have at most 5 dimensions"),
    (lambda: ConvSpec("conv2d", "1x9999999999999999999999x1x1", "1x1x1x1"), "input shape must be at most 2\\*\\*31"),
    (lambda: ConvSpec("conv2d_transpose", "1x3x3x1", "3x3x1x1", output_shape_request="1x7x7"),
     "output shape for conv2d_transpose must have 4 dimensions \\(NHWC\\), got \\(1, 7, 7\\)"),
    (lambda: ConvSpec("conv2d_transpose", "1x2x2x1", "1x1x1x1", strides=100000), "output shape has more than 2\\*\\*31"),
]


@pytest.mark.parametrize("call,message", API_MISUSE, ids=range(len(API_MISUSE)))
def test_python_api_misuse_is_one_symconv_error_naming_the_field(call, message):
    with pytest.raises(SymconvError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value) and len(str(caught.value)) <= 600


def test_the_api_takes_every_name_of_a_quantity():
    for short, long in (("y", "forward"), ("dk", "filter_grad"), ("dx", "input_grad")):
        assert symconv.terms(FOUNDING, short, (0, 0, 0, 0)).pairs() == symconv.terms(FOUNDING, long, (0, 0, 0, 0)).pairs()
    assert check(FOUNDING, "numpy", quantities="dk").results[0].quantity == "filter_grad"


def test_long_values_are_abbreviated_in_messages():
    assert shorten("x" * 100_000, 60).endswith("xxxx") and "(100000 characters)" in shorten("x" * 100_000, 60)
    with pytest.raises(SymconvError) as caught:
        ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", padding="Q" * 100_000)
    assert len(str(caught.value)) < 300 and "(100002 characters)" in str(caught.value)


# ---- the command line: one line, exit 2, within bounds -----------------------------------------

CLI_ERRORS = [
    (["which", "conv2d_transpose", "--input", "1x3x3x1", "--kernel", "3x3x1x1", "--output-shape", "1x7x7",
      "--entry", "y[0,0,0,0]"], "output shape for conv2d_transpose must have 4 dimensions"),
    (["which", "conv2d", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--padding", "3000:3000", "--entry", "y"],
     "y has 36024004 entries, more than the 1000 listed one by one"),
    (["which", "conv2d_transpose", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--strides", "3000", "--entry", "y"],
     "y has 36000000 entries"),
    (["check", "conv2d", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--padding", "20000:20000", "--backend", "numpy"],
     "check would hold about"),
    (["check", "conv2d_transpose", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--strides", "20000",
      "--backend", "numpy"], "check would hold about"),
    (["infer", "conv2d", "--input", "1x2x2x1", "--kernel", "1x1x1x1", "--padding", "20000:20000", "--backend", "numpy"],
     "infer would hold about"),
    (["check", *FOUNDING_ARGS, "--backend", "numpy", "--timeout", "inf"], "timeout must be a positive number"),
    (["check", *FOUNDING_ARGS, "--backend", "numpy", "--timeout", "nan"], "timeout must be a positive number"),
    (["check", *FOUNDING_ARGS, "--backend", "numpy", "--timeout", "-1"], "timeout must be a positive number"),
    (["check", *FOUNDING_ARGS, "--backend", "numpy", "--seed", "-1"], "seed must be a non-negative integer"),
    (["check", *FOUNDING_ARGS, "--backend", "numpy", "--seed=-1"], "seed must be a non-negative integer"),
    (["infer", *FOUNDING_ARGS, "--backend", "numpy", "--seed", "-1"], "seed must be a non-negative integer"),
    (["which", "conv2d", "--input", "1x" * 30000 + "1", "--kernel", "1x1x1x1", "--entry", "y"],
     "(60003 characters)"),
    (["which", *FOUNDING_ARGS[:-2], "--padding", "SAME_LOWER", "--entry", "y"], "--convention same_lower"),
]


@pytest.mark.parametrize("argv,message", CLI_ERRORS, ids=range(len(CLI_ERRORS)))
def test_bad_requests_are_one_line_and_exit_two(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    one_line_error(err, message)


@pytest.mark.parametrize("target,message", [("missing/dir/x.tex", "cannot be written: no such folder 'missing/dir'"),
                                            (".", "is a folder: give a file name, e.g. './document.tex'"),
                                            ("/dev/full", "cannot be written: No space left on device")])
def test_latex_output_path_problems_are_one_line(capsys, tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "latex", "conv1d", "--input", "1x1x1", "--kernel", "1x1x1", "-o", target)
    assert code == 2
    one_line_error(err, f"--output '{target}' {message}")


def test_negative_values_after_a_space_and_the_version(capsys):
    code, out, _ = run_cli(capsys, "which", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1",
                           "--padding", "-1:0,0:-1", "--entry", "y[0,0,0,0]")
    assert code == 0 and "pads (before:after per spatial axis) -1:0, 0:-1" in out
    code, out, _ = run_cli(capsys, "explain", "conv1d", "--input", "1x2x1", "--kernel", "1x1x1", "--x", "-1,2")
    assert code == 0 and "x = [-1, 2]" in out
    code, out, _ = run_cli(capsys, "explain", "conv1d", "--input", "1x2x1", "--kernel", "1x1x1", "--k", "-3")
    assert code == 0 and "k = [-3]" in out
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"symconv {symconv.__version__}\n"


def test_a_closed_pipe_is_not_a_success():
    done = subprocess.run(f"{sys.executable} -m symconv which conv2d --input 1x20x20x1 --kernel 1x1x1x1 "
                          f"--entry y | head -c 10; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_every_quantity_listing_counts_entries_before_allocating():
    spec = ConvSpec("conv2d", "1x2x2x1", "1x1x1x1", padding="3000:3000")
    with pytest.raises(SymconvError, match="36024004 entries"):
        symconv.which(spec, "y")
    assert symconv.which(spec, "y[0,3000,3000,0]").terms.pairs() == [(1, (0, 0, 0, 0), (0, 0, 0, 0))]


def test_runners_share_nothing_with_a_closed_worker():
    with open_runner(impl=impl("_correct"), isolate=True) as runner:
        outcome = runner.run([Call(FOUNDING, "forward", "op", {"x": np.ones((1, 3, 3, 1)), "k": np.ones((1, 1, 1, 1))})])[0]
        process = runner.worker.process
    assert outcome.status == "ok" and process.poll() is not None


def test_a_layer_whose_sums_exceed_exact_float32_is_refused_in_one_line():
    spec = ConvSpec("conv2d", "1x20000x20000x1", "3x3x1x1")
    with pytest.raises(SymconvError, match=r"dk entries of this conv2d sum up to 399920004 products, more than exact "
                                           r"float32 probing can take"):
        check(spec, "numpy")
