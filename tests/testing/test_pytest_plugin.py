"""The pytest plugin: a failing convolution test names the entry and the pixels; it costs nothing
until used, survives Hypothesis, and ships the conformance suite (symconv.testing.conformance)."""

import importlib.metadata
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symconv import ConvSpec
from symconv.model import reference
from symconv.testing import ConvMismatch, assert_conv_matches, check_functions

from ..paths import IMPLS, PACKAGE, ROOT

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
    done = _pytest(tmp_path, str(tmp_path / "test_user.py"))
    assert done.returncode == 1, done.stdout
    assert "ConvMismatch" in done.stdout
    assert "forward y[0,0,1,0]: the backend multiplies" in done.stdout
    assert "1 failed" in done.stdout


def _pytest(cwd, *argv, timeout=300):
    """pytest in a child process, in ``cwd``, with symconv's plugin (installed or named)."""
    installed = any(ep.value == "symconv.testing.plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "symconv.testing.plugin"]
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, *argv],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_the_old_import_path_still_gives_the_checks():
    import symconv.testing.plugin as plugin
    from symconv import testing
    assert plugin.assert_conv_matches is testing.assert_conv_matches and plugin.ConvMismatch is ConvMismatch


def test_the_plugin_imports_nothing_heavy_until_a_fixture_is_used(tmp_path):
    """Installed, the plugin loads in every pytest session: importing it must not import NumPy,
    SymPy or any symconv module but itself (and the package's own light __init__)."""
    code = ("import json, sys; import symconv.testing.plugin; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('symconv', 'numpy', 'sympy'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == ["symconv", "symconv.testing", "symconv.testing.plugin"], done.stderr
    (tmp_path / "test_light.py").write_text(textwrap.dedent("""
        import sys

        def test_nothing_heavy_is_loaded_by_the_plugin():
            heavy = [m for m in sys.modules if m.split(".")[0] in ("numpy", "sympy") or m.startswith("symconv.")]
            assert sorted(heavy) == ["symconv.testing", "symconv.testing.plugin"], heavy

        def test_the_fixture_loads_symconv_when_used(conv_check):
            conv_check("conv1d", forward=lambda x, k, spec: __import__("symconv").reference.forward(spec, x, k),
                       input="1x4x1", kernel="2x1x1")
            assert "numpy" in sys.modules
    """))
    done = _pytest(tmp_path, "-p", "no:randomly", "test_light.py")
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr


def test_the_same_check_without_pytest_never_imports_it():
    code = ("import sys; from symconv import reference; from symconv.testing import assert_conv_matches; "
            "assert_conv_matches('conv2d', forward=lambda x, k, spec: reference.forward(spec, x, k), "
            "input='1x4x4x1', kernel='2x2x1x1'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


@settings(max_examples=4, deadline=None)
@given(stride=st.integers(1, 3), size=st.integers(2, 6))
def test_conv_check_works_under_hypothesis_given(conv_check, stride, size):
    """A function-scoped fixture would make Hypothesis fail its health check here."""
    report = conv_check("conv1d", forward=lambda x, k, spec: reference.forward(spec, x, k), input=f"1x{size}x2",
                        kernel="2x2x3", strides=stride, padding="SAME")
    assert report.ok


def test_options_are_namespaced_grouped_and_the_seed_is_used(tmp_path):
    (tmp_path / "test_seed.py").write_text(textwrap.dedent("""
        from symconv.testing.plugin import symconv_seed

        def test_seed(pytestconfig, conv_check):
            assert symconv_seed(pytestconfig) == 7
            assert pytestconfig.getoption("symconv_size") == "full"
    """))
    done = _pytest(tmp_path, "--symconv-seed", "7", "--symconv-size", "full", "test_seed.py")
    assert done.returncode == 0, done.stdout + done.stderr
    helped = _pytest(tmp_path, "--help")
    group = helped.stdout.split("symconv: exact convolution checks:", 1)[1].split("\n\n", 1)[0]
    for option in ("--symconv-backend=NAME", "--symconv-impl=FILE", "--symconv-seed=N", "--symconv-size=quick|full"):
        assert option in group, group
    assert "--backend" not in helped.stdout.replace("--symconv-backend", "")
    bad = _pytest(tmp_path, "--symconv-seed", "x", "test_seed.py")
    assert bad.returncode != 0 and "--symconv-seed must be a non-negative integer, got 'x'" in bad.stdout + bad.stderr


# ---- the shipped conformance suite ------------------------------------------------------------

def test_the_conformance_suite_runs_through_pyargs_in_parallel(tmp_path):
    """The quick sweep's conv1d NWC cases against the numpy reference, on two pytest-xdist workers."""
    done = _pytest(tmp_path, "--pyargs", "symconv.testing.conformance", "--symconv-backend", "numpy", "-k", "conv1d-NWC",
                   "-n", "2", "-vv")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    from symconv.sweeps.cases import sweep_cases
    count = sum(c.case_id.startswith("conv1d-NWC") for c in sweep_cases("quick", ops=["conv1d"]))
    assert f"{count} passed" in done.stdout
    assert "test_case[numpy:conv1d-NWC-SAME-tf-founding_geometry]" in done.stdout and "[gw1]" in done.stdout


def test_a_failing_case_shows_the_entries_and_the_smallest_command(tmp_path):
    impl = IMPLS / "legacy_same.py"
    done = _pytest(tmp_path, "--pyargs", "symconv.testing.conformance", "--symconv-impl", str(impl),
                   "-k", "conv1d-NWC-SAME-tf-founding_geometry")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 failed" in done.stdout and "test_case[impl:legacy_same.py:conv1d-NWC-SAME-tf-founding_geometry]" in \
        done.stdout
    assert "forward y[0,0,0]: the backend multiplies k[0,0,0] by x[0,1,0]; the model pairs it with x[0,0,0]" in \
        done.stdout
    assert f"smallest failing case: symconv check conv1d --input 1x3x1 --kernel 1x1x1 --strides 3 --padding SAME " \
           f"--impl {impl}" in done.stdout


def test_the_conformance_suite_needs_a_target_and_is_not_collected_by_accident(tmp_path):
    done = _pytest(tmp_path, "--pyargs", "symconv.testing.conformance")
    assert done.returncode != 0 and "the conformance suite needs a target" in done.stdout + done.stderr
    from types import SimpleNamespace

    from symconv.testing.conformance.conftest import pytest_ignore_collect
    suite = PACKAGE / "testing" / "conformance" / "test_conformance.py"

    def config(*args):
        return SimpleNamespace(invocation_params=SimpleNamespace(args=args, dir=ROOT))
    assert pytest_ignore_collect(suite, config("-q", "-n", "2")) is True              # the project's own run
    assert pytest_ignore_collect(suite, config("symconv")) is True                   # collecting the package
    assert pytest_ignore_collect(suite, config("--pyargs", "symconv.testing.conformance")) is None
    assert pytest_ignore_collect(suite, config("symconv/testing/conformance/test_conformance.py::test_case")) is None
