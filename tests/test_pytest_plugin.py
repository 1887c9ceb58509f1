"""The pytest plugin: a failing convolution test names the entry and the pixels."""

import importlib.metadata
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symconv import ConvSpec, reference
from symconv.pytest_plugin import ConvMismatch, assert_conv_matches, check_functions

SPEC = ConvSpec("conv2d", "1x5x5x2", "3x3x2x3", strides=2, padding="SAME")


def good_forward(x, k, spec):
    return reference.forward(spec, x, k)


def shifted_forward(x, k, spec):
    """Reads one row too low: every window starts a pixel later than it should."""
    shifted = np.zeros_like(x)
    shifted[:, :-1] = x[:, 1:]
    return reference.forward(spec, shifted, k)


def test_correct_functions_pass_and_return_the_report():
    report = assert_conv_matches(SPEC, forward=good_forward,
                                 filter_grad=lambda x, g, spec: reference.filter_grad(spec, x, g))
    assert report.ok and [r.status for r in report.results] == ["ok", "ok"]


def test_a_wrong_function_fails_with_the_entry_and_pixels():
    with pytest.raises(ConvMismatch, match=r"forward y\[0,0,0,0\]: the backend leaves out x\[0,0,0,0\] \(the model "
                                           r"pairs it with k\[1,1,0,0\]\)") as failure:
        assert_conv_matches("conv2d", forward=shifted_forward, input="1x5x5x2", kernel="3x3x2x3", strides=2,
                            padding="SAME")
    assert isinstance(failure.value, AssertionError)
    assert "python shifted_forward: DIFFERS from the model" in str(failure.value)
    assert ("diagnosis: the forward (y) is exactly the model with x read shifted: each x pixel taken from one row "
            "lower (H), zeros shifted in at the edge") in str(failure.value)


def test_functions_must_be_callable_and_named_for_a_quantity():
    with pytest.raises(ValueError, match=r"forward must be callable, got int"):
        check_functions(SPEC, forward=3)


def test_the_fixture_in_a_user_test_suite(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent('''
        import numpy as np
        from symconv import reference

        def test_shifted(conv_check):
            def forward(x, k, spec):
                return reference.forward(spec, np.roll(x, 1, axis=2), k)
            conv_check("conv2d", forward=forward, input="1x4x4x1", kernel="2x2x1x1", padding="VALID")
    '''))
    installed = any(ep.value == "symconv.pytest_plugin"
                    for ep in importlib.metadata.entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "symconv.pytest_plugin"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin,
                           str(tmp_path / "test_user.py")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "ConvMismatch" in done.stdout
    assert "forward y[0,0,1,0]: the backend multiplies" in done.stdout
    assert "1 failed" in done.stdout
