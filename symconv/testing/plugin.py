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
``--symconv-seed N`` (the probes' seed), ``--symconv-repeat N`` (probes called again to check
determinism, default 1), ``--symconv-size quick|full`` (the conformance sweep), and the suite's
filters ``--symconv-ops``, ``--symconv-layouts``, ``--symconv-kernel-layouts``,
``--symconv-paddings``, ``--symconv-conventions``, ``--symconv-groups`` (comma-separated, as an
impl file's ``SYMCONV_SUPPORTS``).  The conformance suite itself: ``pytest --pyargs
symconv.conformance --symconv-backend B``; a run of it that checked nothing (every case skipped
or left out) exits 3, never 0.
"""

from __future__ import annotations

import os

import pytest

# Re-exported from symconv.testing on first use (the names this module used to define).
_FROM_TESTING = ("ConvMismatch", "assert_conv_matches", "check_functions")


def __getattr__(name):
    if name in _FROM_TESTING:
        from .. import testing
        return getattr(testing, name)
    raise AttributeError(f"module 'symconv.testing.plugin' has no attribute {name!r}")


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
    group.addoption("--symconv-repeat", dest="symconv_repeat", metavar="N", default=None,
                    help="probes called again on the same inputs to check that the implementation is deterministic "
                         "(default 1)")
    for name, example in FILTERS:
        group.addoption(f"--symconv-{name.replace('_', '-')}", dest=f"symconv_{name}", metavar=example, default=None,
                        help=f"the conformance suite's cases with these {name.replace('_', ' ')} only "
                             f"(comma-separated, e.g. {example})")



# The conformance suite's case filters: the keys of an impl file's SYMCONV_SUPPORTS (but dtypes),
# each with an example.
FILTERS = (("ops", "conv2d"), ("layouts", "NHWC"), ("kernel_layouts", "HWIO"), ("paddings", "SAME,VALID"),
           ("conventions", "tf"), ("groups", "1"))


def symconv_seed(config) -> int:
    """The probes' seed from --symconv-seed (a usage error unless a non-negative integer)."""
    value = config.getoption("symconv_seed", default=None)
    if value is None:
        return 0
    text = str(value).strip()
    if not text.isdigit():
        raise pytest.UsageError(f"--symconv-seed must be a non-negative integer, got {value!r}")
    return int(text)


def symconv_repeat(config) -> int:
    """Probes called again (--symconv-repeat; a usage error unless an integer from 0 to 100)."""
    value = config.getoption("symconv_repeat", default=None)
    if value is None:
        return 1
    text = str(value).strip()
    if not text.isdigit() or int(text) > 100:
        raise pytest.UsageError(f"--symconv-repeat must be an integer from 0 to 100, got {value!r}")
    return int(text)


def pytest_configure(config):
    symconv_seed(config)   # a bad option is a usage error before anything is collected
    symconv_repeat(config)
    if names_the_suite(config):
        from .conformance import filters
        filters(config)   # bad filters are a usage error, not a collection error
        if not hasattr(config, "workerinput"):
            config.pluginmanager.register(SuiteCounter(), "symconv-suite-counter")


SUITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance")
SUITE_PACKAGE = "symconv.testing.conformance"


def names_the_suite(config) -> bool:
    """Whether the command line names the conformance suite (``--pyargs symconv.conformance``,
    or a path inside it)."""
    start = str(config.invocation_params.dir)
    for arg in config.invocation_params.args:
        arg = str(arg).split("::", 1)[0]
        if arg == SUITE_PACKAGE or arg.startswith(SUITE_PACKAGE + "."):
            return True
        if arg and not arg.startswith("-"):
            path = os.path.abspath(os.path.join(start, arg))
            if path == SUITE or path.startswith(SUITE + os.sep):
                return True
    return False


class SuiteCounter:
    """Counts the conformance suite's cases (on the pytest-xdist controller too): a run that
    checked nothing (every case skipped, or none left after the filters) exits 3, never 0."""

    def __init__(self):
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}

    def pytest_runtest_logreport(self, report):
        if "test_conformance.py::test_case[" in report.nodeid and (report.when == "call" or report.outcome != "passed"):
            self.counts[report.outcome] = self.counts.get(report.outcome, 0) + 1

    def pytest_sessionfinish(self, session, exitstatus):
        if self.counts["passed"] or self.counts["failed"] or exitstatus not in (0, 5):  # 5: none collected
            return
        self.nothing = True
        session.exitstatus = 3

    def pytest_terminal_summary(self, terminalreporter):
        from .conformance import plan
        try:
            notes = plan(terminalreporter.config)[1]
        except pytest.UsageError:
            notes = []
        for note in notes:
            terminalreporter.write_line(f"symconv conformance: {note}")
        if getattr(self, "nothing", False):
            terminalreporter.write_line(f"symconv conformance: NOTHING WAS CHECKED ({self.counts['skipped']} cases "
                                        f"skipped, none passed): exit status 3", red=True)


@pytest.fixture(scope="session")
def conv_check(pytestconfig):
    """``conv_check(spec_or_op, forward=..., filter_grad=..., input_grad=..., **spec_fields)``:
    session-scoped (safe under Hypothesis's ``@given``), seeded by ``--symconv-seed``, one probe
    called again (``--symconv-repeat``): a function whose output changes fails."""
    seed = symconv_seed(pytestconfig)
    repeat = symconv_repeat(pytestconfig)

    def conv_check(spec, forward=None, filter_grad=None, input_grad=None, **spec_fields):
        __tracebackhide__ = True
        from . import assert_conv_matches
        spec_fields.setdefault("seed", seed)
        spec_fields.setdefault("repeat", repeat)
        return assert_conv_matches(spec, forward, filter_grad, input_grad, **spec_fields)
    return conv_check
