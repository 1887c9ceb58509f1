"""Shared test settings."""

import os

import pytest
from hypothesis import HealthCheck, settings

# CI runs are reproducible (same examples every run); local runs explore.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("dev", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# ---- backends a run requires -------------------------------------------------------------
# Tests that need a framework skip when it is missing, unless the run asked for that backend
# (the plugin's option, pytest --symconv-backend tf, repeatable, or SYMCONV_REQUIRE_BACKENDS=tf,keras):
# then they fail.

def pytest_addoption(parser, pluginmanager):
    """symconv's own pytest plugin defines the options; a checkout that is not installed (no
    entry point) registers it here."""
    if not pluginmanager.has_plugin("symconv") and not pluginmanager.is_blocked("symconv"):
        import symconv.testing.plugin
        pluginmanager.register(symconv.testing.plugin, "symconv")


def required_backends(config) -> set:
    names = set(config.getoption("symconv_backends", default=None) or [])
    names |= {n.strip() for n in os.environ.get("SYMCONV_REQUIRE_BACKENDS", "").split(",") if n.strip()}
    return names


def backend_missing(config, name: str, why: str) -> None:
    """Skip (or, when the run requires backend ``name``, fail) because it cannot load."""
    message = f"backend {name!r} cannot load: {why}"
    if name in required_backends(config):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need_backend(config, name: str) -> None:
    """Skip the calling test when backend ``name``'s framework is not installed, or fail if
    the run requires it.  (Whether it then loads is checked where it runs, in a child.)"""
    from symconv.backends import missing_framework
    missing = missing_framework(name)
    if missing is not None:
        backend_missing(config, name, f"{missing} is not installed")


@pytest.fixture(scope="session")
def backend_worker():
    """variant -> one shared child process for every backend test of that variant (one
    framework start-up per variant for the whole run)."""
    from symconv.backends.runner import Worker
    workers = []

    def worker_for(variant):
        for worker in workers:
            if worker.accepts(variant):
                return worker
        workers.append(Worker(variant, timeout=300))
        return workers[-1]
    yield worker_for
    for worker in workers:
        worker.close()


@pytest.fixture(scope="session")
def run_sweep(backend_worker):
    """run -> {case id: CaseResult}, computed once per run by symconv's sweep in the variant's
    shared worker (findings confirmed by the loop reference, not shrunk); ``.facts``: run name ->
    what the framework said in the worker (whether TensorFlow runs with oneDNN on)."""
    from symconv.backends import open_runner
    from symconv.sweeps.cases import Case
    from symconv.sweeps.run import run_cases
    done = {}

    def results(run):
        if run.name not in done:
            with open_runner(run.backend, variant=run.variant, grad_path=run.grad_path,
                             worker=backend_worker(run.variant)) as runner:
                results.facts[run.name] = runner.facts()
                cases = [Case(case_id, spec, "") for case_id, spec in run.cases()]
                done[run.name] = {r.case_id: r for r in run_cases(runner, cases, shrink_findings=False)}
        return done[run.name]
    results.facts = {}
    return results


@pytest.fixture
def runner(request, backend_worker):
    """runner(backend, variant, grad_path): a backend in the shared worker of its variant, closed
    after the test (skipped, or failed where the run requires it, when its framework is missing)."""
    from symconv.backends import Variant, open_runner
    opened = []

    def make(backend, variant=None, grad_path="raw"):
        variant = variant or Variant()
        need_backend(request.config, backend)
        opened.append(open_runner(backend, variant=variant, grad_path=grad_path, worker=backend_worker(variant)))
        return opened[-1]
    yield make
    for item in opened:
        item.close()
