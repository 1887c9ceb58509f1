"""One test per sweep case, against each target given by --symconv-backend or --symconv-impl
(the cases ``symconv.testing.conformance.plan`` keeps)."""

from __future__ import annotations

import pytest


def pytest_generate_tests(metafunc):
    if "conformance_case" not in metafunc.fixturenames:
        return
    from symconv.testing.conformance import label, plan
    params, _ = plan(metafunc.config)
    metafunc.parametrize(("conformance_target", "conformance_case"), params,
                         ids=[f"{label(t)}:{c.case_id}" for t, c in params])


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
    from symconv.sweeps.run import evaluate_case
    from symconv.testing.plugin import symconv_repeat, symconv_seed
    result = evaluate_case(conformance_runner(conformance_target), conformance_case, conformance_target,
                           seed=symconv_seed(pytestconfig), repeat=symconv_repeat(pytestconfig))
    if result.findings:
        lines = [result.text, ""]
        for finding in result.findings:
            lines.append(f"{finding.verdict.quantity} via {finding.verdict.path}: {finding.verdict.kind}")
            if finding.confirmation:
                lines.append(f"  {finding.confirmation}")
            if finding.command:
                lines.append(f"  smallest failing case: {finding.command}")
        pytest.fail("\n".join(lines), pytrace=False)
    if not any(v.compared for v in result.verdicts):   # refused or skipped: nothing was compared
        why = "; ".join(dict.fromkeys(f"{v.quantity}: {v.message}" for v in result.verdicts if v.message))
        pytest.skip(f"{result.verdict}, nothing compared: {why}")
