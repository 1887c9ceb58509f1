"""Checking your own convolution functions in any test runner: no pytest needed.

Stage: the test-runner faces (this module, the pytest ``plugin`` and the ``conformance`` suite),
above ``sweeps``; imports the foundation and any stage below it.  Nothing else imports it.

``assert_conv_matches(spec_or_op, forward=..., filter_grad=..., input_grad=..., **spec_fields)``
checks every entry of the functions given exactly (as ``symconv check --impl`` does) and raises
``ConvMismatch`` (an AssertionError) with the report: each wrong entry, the products the code
multiplied and the ones the model pairs it with.  ``check_functions`` returns the report
without asserting.  The pytest plugin's ``conv_check`` fixture is ``assert_conv_matches``.

>>> import numpy as np
>>> from symconv import reference
>>> def my_forward(x, k, spec):
...     return reference.forward(spec, x, k)
>>> assert_conv_matches("conv2d", forward=my_forward, input="1x5x5x1", kernel="3x3x1x2", padding="SAME").ok
True
"""

from __future__ import annotations

__all__ = ["ConvMismatch", "assert_conv_matches", "check_functions"]


class ConvMismatch(AssertionError):
    """A checked convolution differs from the exact model; the message is the report."""


def check_functions(spec, forward=None, filter_grad=None, input_grad=None, *, seed: int = 0, repeat: int = 1,
                    **spec_fields):
    """Check Python functions against the model; returns the CheckReport (no assertion).
    ``spec`` is a ConvSpec or an op name with the spec's fields (``input=``, ``kernel=``, ...).
    ``repeat`` probes are called again: a function whose output changes is an error."""
    from ..backends.functions import FunctionsBackend
    from ..backends.runner import LocalRunner
    from ..checks.verdicts import check
    from ..symbolic.query import as_spec
    spec = as_spec(spec, spec_fields)
    functions = {"forward": forward, "filter_grad": filter_grad, "input_grad": input_grad}
    runner = LocalRunner(FunctionsBackend(functions))
    given = tuple(q for q, f in functions.items() if f is not None)
    return check(spec, runner=runner, quantities=given or tuple(functions), seed=seed, repeat=repeat)


def assert_conv_matches(spec, forward=None, filter_grad=None, input_grad=None, *, seed: int = 0, repeat: int = 1,
                        **spec_fields):
    """Raise ConvMismatch with the readable report unless every given function agrees exactly
    (a function that raises, a run that checked nothing, or an output that changed between
    calls on the same inputs fails too); return the report."""
    __tracebackhide__ = True
    report = check_functions(spec, forward, filter_grad, input_grad, seed=seed, repeat=repeat, **spec_fields)
    if report.status != "ok" or any(r.status == "unsupported" for r in report.results):
        raise ConvMismatch("\n" + report.text())
    return report
