"""pytest plugin: convolution tests that fail with the wrong entry and pixel, not an allclose.

Installed with symconv (entry point ``pytest11``).  It imports nothing from symconv, NumPy or
SymPy until a fixture is used, so it costs nothing in a test session that does not use it::

    def test_my_conv(conv_check):
        conv_check("conv2d", forward=my_forward, filter_grad=my_filter_grad,
                   input="1x8x8x3", kernel="3x3x3x4", strides=2, padding="SAME")

``conv_check(spec_or_op, forward=None, filter_grad=None, input_grad=None, **spec_fields)``
checks every entry of the given functions exactly and fails the test with the report (each wrong
entry, the products the code multiplied and the ones the model pairs it with); it returns the
report when everything agrees.  The fixture is session-scoped, so it can be used under
Hypothesis's ``@given``.  The same check without pytest: ``symconv.testing``.

Options (group "symconv"): ``--symconv-backend NAME`` (repeatable: a backend the run requires,
or the conformance suite's target), ``--symconv-impl FILE`` (the conformance suite's target),
``--symconv-seed N`` (the probes' seed), ``--symconv-size quick|full`` (the conformance sweep).
The conformance suite itself: ``pytest --pyargs symconv.conformance --symconv-backend B``.
"""

from __future__ import annotations

import pytest

# Re-exported from symconv.testing on first use (the names this module used to define).
_FROM_TESTING = ("ConvMismatch", "assert_conv_matches", "check_functions")


def __getattr__(name):
    if name in _FROM_TESTING:
        from . import testing
        return getattr(testing, name)
    raise AttributeError(f"module 'symconv.pytest_plugin' has no attribute {name!r}")


def pytest_addoption(parser):
    group = parser.getgroup("symconv", "symconv: exact convolution checks")
    group.addoption("--symconv-backend", action="append", default=[], dest="symconv_backends", metavar="NAME",
                    help="a symconv backend (numpy, tf, tf-xla, keras, torch, jax, onnxruntime): the target of "
                         "the conformance suite, and a backend the run requires (tests that need it fail instead "
                         "of skipping when it cannot load); repeatable")
    group.addoption("--symconv-impl", dest="symconv_impl", metavar="FILE", default=None,
                    help="an implementation file (forward/filter_grad/input_grad) for the conformance suite")
    group.addoption("--symconv-seed", dest="symconv_seed", metavar="N", default=None,
                    help="seed of the random probes (default 0)")
    group.addoption("--symconv-size", dest="symconv_size", metavar="quick|full", default="quick",
                    choices=("quick", "full"), help="the conformance sweep's size (default quick)")


def symconv_seed(config) -> int:
    """The probes' seed from --symconv-seed (a usage error unless a non-negative integer)."""
    value = config.getoption("symconv_seed", default=None)
    if value is None:
        return 0
    text = str(value).strip()
    if not text.isdigit():
        raise pytest.UsageError(f"--symconv-seed must be a non-negative integer, got {value!r}")
    return int(text)


@pytest.fixture(scope="session")
def conv_check(pytestconfig):
    """``conv_check(spec_or_op, forward=..., filter_grad=..., input_grad=..., **spec_fields)``:
    session-scoped (safe under Hypothesis's ``@given``), seeded by ``--symconv-seed``."""
    seed = symconv_seed(pytestconfig)

    def conv_check(spec, forward=None, filter_grad=None, input_grad=None, **spec_fields):
        __tracebackhide__ = True
        from .testing import assert_conv_matches
        spec_fields.setdefault("seed", seed)
        return assert_conv_matches(spec, forward, filter_grad, input_grad, **spec_fields)
    return conv_check
