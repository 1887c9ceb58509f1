"""One test per sweep case, against each target given by --symconv-backend or --symconv-impl."""

from __future__ import annotations

import os

import pytest


def _targets(config) -> list:
    from symconv.errors import SymconvError
    from symconv.sweep_run import Target
    targets = [Target(name) for name in dict.fromkeys(config.getoption("symconv_backends", default=None) or [])]
    impl = config.getoption("symconv_impl", default=None)
    if impl:
        targets.append(Target(impl=os.path.join(str(config.invocation_params.dir), impl)))
    if not targets:
        raise pytest.UsageError("the conformance suite needs a target: --symconv-backend NAME (repeatable) or "
                                "--symconv-impl FILE")
    from symconv.backends import create
    for target in targets:
        try:
            create(target.backend, impl=target.impl)
        except SymconvError as err:
            raise pytest.UsageError(f"symconv conformance: {err}") from None
    return targets


def _label(target) -> str:
    return target.backend if target.impl is None else f"impl:{os.path.basename(target.impl)}"


def pytest_generate_tests(metafunc):
    if "conformance_case" not in metafunc.fixturenames:
        return
    from symconv.sweep_cases import sweep_cases
    config = metafunc.config
    cases = sweep_cases(config.getoption("symconv_size", default="quick"))
    params = [(target, case) for target in _targets(config) for case in cases]
    metafunc.parametrize(("conformance_target", "conformance_case"), params,
                         ids=[f"{_label(t)}:{c.case_id}" for t, c in params])


@pytest.fixture(scope="session")
def conformance_runner():
    """target -> its runner: one backend worker per target for the whole session (per
    pytest-xdist worker)."""
    runners = {}

    def runner_for(target):
        if target not in runners:
            runners[target] = target.open_runner()
        return runners[target]
    yield runner_for
    for runner in runners.values():
        runner.close()


def test_case(conformance_target, conformance_case, conformance_runner, pytestconfig):
    from symconv.pytest_plugin import symconv_seed
    from symconv.sweep_run import evaluate_case
    result = evaluate_case(conformance_runner(conformance_target), conformance_case, conformance_target,
                           seed=symconv_seed(pytestconfig))
    if result.findings:
        lines = [result.text, ""]
        for finding in result.findings:
            lines.append(f"{finding.verdict.quantity} via {finding.verdict.path}: {finding.verdict.kind}")
            if finding.confirmation:
                lines.append(f"  {finding.confirmation}")
            if finding.command:
                lines.append(f"  smallest failing case: {finding.command}")
        pytest.fail("\n".join(lines), pytrace=False)
    if result.verdict in ("refused", "skipped") and not any(v.verdict == "ok" for v in result.verdicts):
        why = "; ".join(dict.fromkeys(f"{v.quantity}: {v.message}" for v in result.verdicts if v.message))
        pytest.skip(f"{result.verdict}: {why}")
