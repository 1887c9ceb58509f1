"""pytest plugin: convolution tests that fail with the wrong entry and pixel, not an allclose.

Installed with symconv (entry point ``pytest11``); it imports nothing heavy until used::

    def test_my_conv(conv_check):
        conv_check("conv2d", forward=my_forward, filter_grad=my_filter_grad,
                   input="1x8x8x3", kernel="3x3x3x4", strides=2, padding="SAME")

``conv_check(spec_or_op, forward=None, filter_grad=None, input_grad=None, **spec_fields)``
checks every entry of the given functions exactly (as ``symconv check --impl`` does) and fails
the test with the report: each wrong entry, the products the code multiplied and the ones the
model pairs it with.  It returns the report when everything agrees.
"""

from __future__ import annotations

import pytest


class ConvMismatch(AssertionError):
    """A checked convolution differs from the exact model; the message is the report."""


def check_functions(spec, forward=None, filter_grad=None, input_grad=None, *, seed: int = 0, **spec_fields):
    """Check Python functions against the model; returns the CheckReport (no assertion)."""
    from .backends.functions import FunctionsBackend
    from .backends.runner import LocalRunner
    from .verdicts import check
    from .query import as_spec
    spec = as_spec(spec, spec_fields)
    functions = {"forward": forward, "filter_grad": filter_grad, "input_grad": input_grad}
    runner = LocalRunner(FunctionsBackend(functions))
    given = tuple(q for q, f in functions.items() if f is not None)
    return check(spec, runner=runner, quantities=given or tuple(functions), seed=seed)


def assert_conv_matches(spec, forward=None, filter_grad=None, input_grad=None, **spec_fields):
    """Raise ConvMismatch with the readable report unless every given function agrees exactly
    (a function that raises, or a run that checked nothing, fails too)."""
    __tracebackhide__ = True
    report = check_functions(spec, forward, filter_grad, input_grad, **spec_fields)
    if report.status != "ok" or any(r.status == "unsupported" for r in report.results):
        raise ConvMismatch("\n" + report.text())
    return report


@pytest.fixture
def conv_check():
    """``conv_check(spec_or_op, forward=..., filter_grad=..., input_grad=..., **spec_fields)``."""
    return assert_conv_matches
