"""The conformance suite: symconv's sweep as parametrised pytest tests, one per case.

Run it against a backend or your own implementation file::

    pytest --pyargs symconv.testing.conformance --symconv-backend torch
    pytest --pyargs symconv.testing.conformance --symconv-impl my_conv.py --symconv-size full -n auto

Each case checks y, dk and dx of one spec exactly, calling one probe twice.  A case passes when
every quantity the implementation computes agrees with the model; it is skipped, with the
implementation's own message, when the implementation refuses it (a framework's own exception,
or ``NotImplementedError`` from your code) or computes none of it.  It fails on wrong values, a
wrong shape, garbage, a crash, an exception raised by your code, an output that changes between
calls on the same inputs, or an exception from symconv's adapter, with the check's report (each
wrong entry, the terms expected and those observed) and the smallest ``symconv check ...``
command that fails the same way.  Cases outside the filters (``--symconv-ops conv2d``,
``--symconv-layouts NHWC``, ...) or outside what an impl file declares in ``SYMCONV_SUPPORTS``
are not run (the summary says how many); a run that checked nothing exits 3.  Cases are
independent, so ``-n auto`` (pytest-xdist) runs them in parallel, one backend worker per pytest
worker.

The suite is collected only when a run names it (``--pyargs symconv.testing.conformance`` or its path),
never as a side effect of collecting the symconv package.
"""

import os


def targets(config) -> list:
    """(target, its declared coverage or None) for each target the run names; a usage error
    for a bad target (an impl file is loaded, in a child process, to read what it declares)."""
    import pytest

    from ...backends import create
    from ...errors import SymconvError
    from ...sweeps.run import Target
    named = [Target(name) for name in dict.fromkeys(config.getoption("symconv_backends", default=None) or [])]
    impl = config.getoption("symconv_impl", default=None)
    if impl:
        named.append(Target(impl=os.path.join(str(config.invocation_params.dir), impl)))
    if not named:
        raise pytest.UsageError("the conformance suite needs a target: --symconv-backend NAME (repeatable) or "
                                "--symconv-impl FILE")
    out = []
    for target in named:
        try:
            create(target.backend, impl=target.impl)
            out.append((target, target.declared_coverage()))
        except SymconvError as err:
            raise pytest.UsageError(f"symconv conformance: {err}") from None
    return out


def filters(config):
    """The coverage the run's --symconv-ops, --symconv-layouts, ... filters ask for."""
    import pytest

    from ...backends.coverage import Coverage
    from ...errors import SymconvError
    try:
        return Coverage.from_filters("symconv conformance filters",
                                     **{name: config.getoption(f"symconv_{name}", default=None)
                                        for name in Coverage.keys() if name != "dtypes"})
    except SymconvError as err:
        raise pytest.UsageError(str(err)) from None


def plan(config) -> tuple:
    """([(target, case)], notes): the cases each target runs, and for each target that some
    cases were left out of (by the filters or what it declares), a line that says so."""
    from ...sweeps.cases import sweep_cases
    from ...sweeps.run import covered_cases
    cover = filters(config)
    cases = sweep_cases(config.getoption("symconv_size", default="quick"))
    params, notes = [], []
    for target, declared in targets(config):
        kept, left_out = covered_cases(cases, cover, declared)
        params += [(target, case) for case in kept]
        if left_out:
            scope = cover.narrowed(declared) if declared is not None else cover
            notes.append(f"{label(target)}: {len(kept)} of {len(cases)} cases run, {left_out} left out (outside "
                         f"{scope.describe()})")
    return params, notes


def label(target) -> str:
    return target.backend if target.impl is None else f"impl:{os.path.basename(target.impl)}"
