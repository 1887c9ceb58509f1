"""Running a sweep: each case through ``check`` on one backend worker reused across cases, the
verdicts, a confirmation of each finding by the loop reference, and the smallest failing case.

Cases are independent, so they run through existing engines: one after another on one worker
(``workers=1``), a local pool of processes each holding its own backend worker
(``concurrent.futures``, ``workers=N``), or Dask's distributed scheduler (``scheduler=
'tcp://host:port'`` or a ``dask.distributed.Client``; the ``dask`` extra), where each Dask worker
keeps one backend worker per thread.

>>> report = sweep("numpy", ops=["conv1d"], progress=False)
>>> report.status, len(report.results), report.findings
('ok', 23, [])
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..backends import Variant, open_runner
from ..backends.base import INPUTS, Call
from ..backends.coverage import Coverage
from ..errors import SymconvError, shown
from ..model import reference
from ..model.indexmap import maps_for
from ..model.spec import ConvSpec
from ..progress import Progress
from .cases import Case, sweep_cases
from .report import CaseResult, Finding, SweepReport, Verdict
from .shrink import command_line, shrink

# check's settings in a sweep: two wrong entries shown, a bounded search when no hypothesis
# explains them, one probe called again (a gate checks determinism, it does not assume it).
# The sweep shrinks its findings itself (shrink_findings), so check does not shrink them again.
CHECK_OPTIONS = dict(max_mismatches=2, max_calls=200, max_seconds=10.0, repeat=1, shrink=False)
# While shrinking only the verdict matters: no entries listed, no search.
SHRINK_OPTIONS = dict(max_mismatches=0, repeat=1, shrink=False)
CONFIRM_TRIES = 3   # uninitialised memory may hold zeros by chance


@dataclass(frozen=True)
class Target:
    """What a sweep runs: a registered backend with its variant and gradient path, or an
    implementation file."""

    backend: str | None = None
    impl: str | None = None
    variant: Variant | None = None
    grad_path: str = "raw"
    timeout: float | None = None
    isolate: bool = True
    registered: object = None   # the backend's registry entry, for processes that have not registered it

    def __post_init__(self):
        if (self.backend is None) == (self.impl is None):
            raise SymconvError("give exactly one of a backend or an impl file")

    def declared_coverage(self):
        """What an impl file declares it covers (``SYMCONV_SUPPORTS``), read by loading it where
        it runs; None for a backend, or a file that fails to load (each case then says so)."""
        if self.impl is None:
            return None
        with self.open_runner() as runner:
            return None if runner.prepare() else runner.backend.coverage

    def open_runner(self, worker=None):
        """A runner, in a child process unless ``isolate`` is off (then a crash ends the sweep).
        A backend registered in the process that made the target is registered here too (a pool
        process or a Dask worker starts with the built-in backends only)."""
        from ..backends import BACKENDS, register_backend
        if self.backend is not None and self.backend not in BACKENDS and self.registered is not None:
            register_backend(self.backend, *self.registered)
        return open_runner(self.backend, impl=self.impl, variant=self.variant, grad_path=self.grad_path,
                           isolate=self.isolate, timeout=self.timeout, worker=worker)

    @property
    def options(self) -> list:
        """The command-line options that name this implementation."""
        if self.impl is not None:
            return ["--impl", self.impl]
        from ..backends.variants import variant_flags
        return ["--backend", self.backend, *variant_flags(self.variant, self.grad_path)]

    def describe(self) -> str:
        if self.impl is not None:
            return f"impl {self.impl}"
        variant = (self.variant or Variant()).describe()
        path = "" if self.grad_path == "raw" else f", gradients {self.grad_path}"
        return f"{self.backend} ({variant}{path})"


# ---- one case --------------------------------------------------------------------------------

class _WatchedRunner:
    """A runner that keeps every refused or failed outcome, by quantity and path: whose
    exception it was decides whether a failure is the implementation's refusal."""

    def __init__(self, runner, spec=None):
        self._runner = runner
        self.spec = spec     # only this spec's outcomes are kept (a diagnosis may call others)
        self.errors = {}
        self.warnings = {}   # (quantity, path) -> what the framework warned during those calls

    def run(self, calls):
        outcomes = self._runner.run(calls)
        for call, outcome in zip(calls, outcomes):
            if self.spec is not None and call.spec != self.spec:
                continue
            if outcome.status in ("error", "unsupported"):
                self.errors.setdefault((call.quantity, call.path), []).append(outcome)
            for text in outcome.meta.get("warnings", ()):
                said = self.warnings.setdefault((call.quantity, call.path), [])
                if text not in said:
                    said.append(text)
        return outcomes

    def __getattr__(self, name):
        return getattr(self._runner, name)


def framework_refusal(outcome, backend) -> bool:
    """An error outcome that the implementation raised itself: its exception's class comes
    from the framework's modules, or it was raised in their code."""
    modules = tuple(backend.framework_modules)
    where = (outcome.meta.get("error_class", ""), outcome.meta.get("raised_in", ""))
    return bool(modules) and any(w.split(".", 1)[0] in modules for w in where if w)


def _route(backend, spec, quantity, described) -> str:
    """The path key (raw, tape, op, ...) behind a described path."""
    for path in backend.paths(spec, quantity):
        if backend.describe(spec, quantity, path) == described:
            return path
    return described


def _kind(result, spec) -> tuple:
    """(kind, hypotheses) of a failing QuantityResult."""
    if result.changed and result.status == "error" and result.message.startswith("nondeterministic"):
        return "nondeterministic", ()
    if result.exception:
        return f"exception {result.exception.split(':', 1)[0]}", ()
    if result.status == "mismatch":
        if spec.is_empty:
            return "values where the spec admits no output", ()
        accepted = result.diagnosis.accepted if result.diagnosis is not None else []
        if accepted:
            return f"diagnosis: {accepted[0].summary}", tuple(dict.fromkeys(c.name for c in accepted))
        return "no hypothesis explains it", ()
    if result.garbage is not None:
        return "garbage", ()   # which values (NaN, fractions, ...) is in the message; it varies
    message = result.message
    if message.startswith("wrong output shape"):
        return "wrong output shape", ()
    if message.startswith("crash:"):
        return "crash", ()
    if "backend failed to load" in message:
        return "failed to load", ()
    head = message.split(":", 1)[0]
    return (f"exception {head}" if head and " " not in head else "error"), ()


def documented(backend, spec, quantity, route, warned: dict) -> str:
    """Where the framework documents (or warned during the calls) that it does not support the
    case: its words, else ''."""
    limit = getattr(backend, "documented_limit", None)
    text = limit(spec, quantity) if callable(limit) else None
    if text:
        return text
    said = warned.get((quantity, route), [])
    return f"the framework warned: {'; '.join(said)}" if said else ""


def verdicts_of(report, errors: dict, backend, warned: dict | None = None) -> list:
    """The verdict on each quantity of a CheckReport (``errors`` and ``warned``: the watched
    runner's)."""
    out = []
    spec = report.spec
    warned = warned or {}
    for r in report.results:
        route = _route(backend, spec, r.quantity, r.path)
        outcomes = errors.get((r.quantity, route), [])
        if r.status in ("ok", "skipped"):
            out.append(Verdict(r.quantity, route, r.path, r.status, r.status,
                               message=r.message if r.status == "skipped" or not r.compared else "",
                               compared=r.status == "ok" and r.compared))
            continue
        if r.status == "unsupported" or (r.status == "error" and outcomes and
                                         all(framework_refusal(o, backend) for o in outcomes)):
            out.append(Verdict(r.quantity, route, r.path, r.status, "refused", message=r.message))
            continue
        kind, hypotheses = _kind(r, spec)
        detail = r.changed[0].sentence() if kind == "nondeterministic" else \
            r.mismatches[0].sentence() if r.mismatches else "" if r.exception else "; ".join(sorted(
            {f"{o.meta.get('error_class')} raised in {o.meta.get('raised_in')}" for o in outcomes
             if o.meta}))
        out.append(Verdict(r.quantity, route, r.path, r.status, "finding", kind, hypotheses, r.message, detail,
                           limit=documented(backend, spec, r.quantity, route, warned)))
    return out


def checked(runner, spec: ConvSpec, quantities=None, seed: int = 0, options=None) -> tuple:
    """(CheckReport, verdicts) of one spec on a runner."""
    from ..checks.verdicts import check
    from ..model.spec import QUANTITIES
    watched = _WatchedRunner(runner, spec)
    report = check(spec, runner=watched, quantities=quantities or QUANTITIES, seed=seed, progress=False,
                   **(CHECK_OPTIONS if options is None else options))
    return report, verdicts_of(report, watched.errors, runner.backend, watched.warnings)


def covered_cases(cases, cover, declared=None) -> tuple:
    """(the cases inside both coverages, how many were left out): ``cover`` from the sweep's
    filters, ``declared`` from what the implementation declares.  A case whose kernel layout
    the implementation does not take, where it names the layouts it does, is moved into the
    first of them (the same convolution, the kernel permuted)."""
    from dataclasses import replace
    whole = cover if declared is None else cover.narrowed(declared)
    kept = []
    for case in cases:
        spec = case.spec
        if whole.kernel_layouts and whole.excludes(spec).startswith("kernel layout"):
            try:
                spec = spec.with_layouts(kernel_layout=whole.kernel_layouts[0])
            except SymconvError:
                pass
        if not whole.excludes(spec):
            kept.append(case if spec is case.spec else replace(case, spec=spec))
    return kept, len(cases) - len(kept)


def confirm(runner, spec: ConvSpec, verdict: Verdict, seed: int = 0) -> tuple:
    """(confirmed, sentence): whether the backend's output on random integers differs from
    ``symconv.reference`` (plain loops, written without the index maps).  None where the
    backend raised or crashed (nothing to compare)."""
    rng = np.random.default_rng(seed)
    for _ in range(CONFIRM_TRIES):
        tensors = {name: rng.integers(1, 10, spec.shape_of(name)).astype(np.float32)
                   for name in INPUTS[verdict.quantity]}
        (outcome,) = runner.run([Call(spec, verdict.quantity, verdict.route, tensors)])
        exact = {name: array.astype(np.int64) for name, array in tensors.items()}
        expected = reference.evaluate(spec, verdict.quantity, **exact)
        if not np.array_equal(maps_for(spec).evaluate(verdict.quantity, **exact), expected):
            return False, "the index maps and symconv.reference disagree here: a bug in symconv, not a finding"
        if outcome.status != "ok":
            what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
            return None, f"the backend fails where symconv.reference computes ({what})"
        value = np.asarray(outcome.value)
        if value.shape != expected.shape:
            return True, (f"confirmed by symconv.reference (loops, no index maps): it gives shape "
                          f"{expected.shape}, the backend {value.shape}")
        wrong = int(np.sum(value != expected))
        if wrong:
            return True, (f"confirmed by symconv.reference (loops, no index maps): {wrong} of {expected.size} "
                          f"entries differ on random integers")
    return False, f"not confirmed: the backend agreed with symconv.reference on {CONFIRM_TRIES} random probes"


def evaluate_case(runner, case: Case, target: Target | None = None, *, shrink_findings: bool = True,
                  confirm_findings: bool = True, seed: int = 0, shrunk: dict | None = None,
                  repeat: int | None = None) -> CaseResult:
    """One case: its check, its verdicts, and for each finding the confirmation and the
    smallest spec that fails the same way (``shrunk`` shares those between cases that fail
    alike: same op, padding, quantity and kind).  ``repeat``: probes called again (default
    CHECK_OPTIONS')."""
    start = time.perf_counter()
    options = CHECK_OPTIONS if repeat is None else {**CHECK_OPTIONS, "repeat": repeat}
    report, verdicts = checked(runner, case.spec, seed=seed, options=options)
    result = CaseResult(case.case_id, case.spec, verdicts, text=report.text(), report=report)
    for verdict in verdicts:
        if verdict.verdict != "finding":
            continue
        finding = Finding(verdict)
        if verdict.kind == "nondeterministic":
            # Another call may well agree: the evidence is the change itself, on this case.
            finding.confirmed, finding.confirmation = True, f"seen changing: {verdict.detail}"
            finding.smallest = case.spec
            finding.command = command_line(case.spec, (target.options if target is not None else []) +
                                           ["--repeat", str(max(options["repeat"], 1))])
            result.findings.append(finding)
            continue
        if confirm_findings:
            finding.confirmed, finding.confirmation = confirm(runner, case.spec, verdict, seed)
        if shrink_findings:
            _shrink_finding(runner, case, verdict, finding, target, seed, {} if shrunk is None else shrunk)
        result.findings.append(finding)
    result.seconds = time.perf_counter() - start
    return result


def _shrink_finding(runner, case, verdict, finding, target, seed, shrunk) -> None:
    key = (case.spec.op, case.padding_label, verdict.quantity, verdict.route, verdict.status, verdict.kind
           if not verdict.hypotheses else verdict.hypotheses)
    if key not in shrunk:
        def fails(spec):
            _, found = checked(runner, spec, [verdict.quantity], seed, SHRINK_OPTIONS)
            return any(v.fails_like(verdict) for v in found)
        smallest, steps = shrink(case.spec, fails)
        shrunk[key] = (smallest, steps)
    finding.smallest, finding.shrink_steps = shrunk[key]
    options = target.options if target is not None else []
    finding.command = command_line(finding.smallest, options)


def run_cases(runner, cases, target: Target | None = None, *, shrink_findings: bool = True,
              confirm_findings: bool = True, seed: int = 0, on_result=None, repeat: int | None = None) -> list:
    """Every case, one after another, on one runner."""
    shrunk, out = {}, []
    for case in cases:
        out.append(evaluate_case(runner, case, target, shrink_findings=shrink_findings,
                                 confirm_findings=confirm_findings, seed=seed, shrunk=shrunk, repeat=repeat))
        if on_result is not None:
            on_result(out[-1])
    return out


# ---- many cases in parallel: one backend worker per process (or per Dask worker thread) -------

_HELD = {}      # (target, thread) -> runner, in a pool process or a Dask worker
_SHRUNK = {}    # (target, thread) -> what was shrunk there
_HELD_LOCK = threading.Lock()


def _held_runner(target: Target):
    key = (target, threading.get_ident())
    with _HELD_LOCK:
        if key not in _HELD:
            _HELD[key] = target.open_runner()
            _SHRUNK[key] = {}
        return _HELD[key], _SHRUNK[key]


def close_held_runners() -> int:
    """Close the backend workers this process holds (the end of a pool process or a Dask
    sweep); how many were open."""
    with _HELD_LOCK:
        runners = list(_HELD.values())
        _HELD.clear()
        _SHRUNK.clear()
    for runner in runners:
        runner.close()
    return len(runners)


def remote_case(case: Case, target: Target, shrink_findings: bool = True, confirm_findings: bool = True,
                seed: int = 0, repeat: int | None = None) -> CaseResult:
    """One case in a pool process or a Dask worker, on the backend worker it holds."""
    runner, shrunk = _held_runner(target)
    return evaluate_case(runner, case, target, shrink_findings=shrink_findings, confirm_findings=confirm_findings,
                         seed=seed, shrunk=shrunk, repeat=repeat).detached()


def _pool_start() -> None:
    import multiprocessing.util
    multiprocessing.util.Finalize(None, close_held_runners, exitpriority=10)


def _run_pool(cases, target, workers, options, on_result) -> list:
    import concurrent.futures
    import multiprocessing
    context = multiprocessing.get_context("spawn")   # no fork of a process with threads
    results = {}
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_pool_start) as pool:
            futures = {pool.submit(remote_case, case, target, **options): i for i, case in enumerate(cases)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
                    on_result(results[futures[future]])
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    except concurrent.futures.process.BrokenProcessPool:
        raise SymconvError(f"the sweep's {workers} worker processes ended before answering: one was killed (out "
                           f"of memory?) or none could start (a script that runs a sweep with several workers must "
                           f"start it under `if __name__ == '__main__':`, as Python starts each worker by importing "
                           f"the script); or pass workers=1") from None
    return [results[i] for i in range(len(cases))]


def _run_dask(cases, target, scheduler, options, on_result) -> list:
    from dask.distributed import as_completed

    from .scheduler import client as dask_client
    client, own = dask_client(scheduler)
    try:
        futures = client.map(remote_case, cases, target=target, pure=False, **options)
        index = {future.key: i for i, future in enumerate(futures)}
        results = {}
        lost = (OSError, *distributed_lost())   # a worker died or the cluster went away
        for future in as_completed(futures):
            try:
                results[index[future.key]] = future.result()
            except lost as err:
                raise SymconvError(f"the Dask cluster lost case {cases[index[future.key]].case_id}: "
                                   f"{type(err).__name__}: {shown(str(err), 200)}") from None
            on_result(results[index[future.key]])
        return [results[i] for i in range(len(cases))]
    finally:
        try:   # the backend workers the cluster holds, also when the sweep ends early
            client.run(close_held_runners)
        except Exception:  # noqa: BLE001 - a cluster that is gone holds nothing
            pass
        if own:
            client.close()


def distributed_lost() -> tuple:
    """The exceptions with which Dask says a case was lost (a worker killed, the scheduler gone)."""
    import asyncio

    from distributed import KilledWorker
    return KilledWorker, asyncio.CancelledError, asyncio.TimeoutError


class _Bar(Progress):
    """A progress bar over cases on a terminal, shown from the first case."""

    def __init__(self, total: int, enabled, label: str):
        super().__init__(enabled, total=total, unit=" cases", label=label, delay=0)

    def __call__(self, result) -> None:
        self.advance(1)
        if self._bar is not None and result.findings:
            self._bar.set_postfix_str(f"finding in {result.case_id}", refresh=False)


# How many processes a sweep may run.  By default one per core this process may use; more are
# allowed (cases wait on backends, not only on cores) up to WORKERS_PER_CORE per core, and never
# more than the available memory holds at WORKER_MEMORY each: a pool process (Python, NumPy, SymPy,
# symconv: about 100 MB) with its backend worker (NumPy's about 80 MB, a framework 300 MB to 1 GB).
WORKERS_PER_CORE = 4
WORKER_MEMORY = 512 * 2**20


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def available_memory() -> int | None:
    """Bytes of memory available to new processes (None: the system does not say)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def worker_limit() -> tuple:
    """(the most worker processes a sweep may start here, why that many)."""
    cores = machine_cores()
    limit, why = WORKERS_PER_CORE * cores, f"{WORKERS_PER_CORE} per core, {cores} core{'s' if cores != 1 else ''}"
    memory = available_memory()
    if memory is not None and memory // WORKER_MEMORY < limit:
        limit = max(int(memory // WORKER_MEMORY), 1)
        why = f"{WORKER_MEMORY >> 20} MiB each, {memory / 2**30:.1f} GiB of memory available"
    return limit, why


def op_names(ops):
    """``ops`` as sweep_cases takes them (None, comma-separated text or names), anything else
    refused naming the field."""
    if ops is None or isinstance(ops, str):
        return ops
    try:
        names = list(itertools.islice(iter(ops), 100))
    except TypeError:
        names = None
    if names is None or not all(isinstance(n, str) for n in names):
        raise SymconvError(f"ops must be op names (a list, or comma-separated text such as 'conv1d,conv2d'), "
                           f"got {shown(ops)}")
    return names


def resolve_workers(value, cases: int | None = None) -> int:
    """The worker processes to start: ``value`` (None: one per core), at most ``worker_limit``,
    and never more than ``cases``."""
    if value is None:
        count = min(machine_cores(), worker_limit()[0])
    else:
        if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
            value = int(value) if len(value.strip()) <= 18 else 10**18
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SymconvError(f"workers must be a positive integer, got {shown(value)}")
        limit, why = worker_limit()
        if value > limit:
            raise SymconvError(f"workers must be at most {limit} on this machine ({why}), got {shown(value)}")
        count = value
    return max(min(count, cases), 1) if cases is not None else count


def sweep(backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", ops=None, size: str = "quick", cases=None, workers: int | None = None, scheduler=None,
          shrink: bool = True, confirm: bool = True, seed: int = 0, timeout: float | None = None,
          isolate: bool = True, progress: bool | None = None, layouts=None, kernel_layouts=None, paddings=None,
          conventions=None, groups=None, repeat: int = 1) -> SweepReport:
    """Run the sweep (``size`` quick or full, for ``ops``; or the given ``cases``) against a
    backend or an impl file; every finding with its smallest failing spec as a ``symconv
    check`` command line (``shrink``) and its confirmation by the loop reference
    (``confirm``).  ``workers`` processes each hold one backend worker (default one per core, at
    most ``worker_limit()``, never more than the cases); ``scheduler`` (an
    address or a ``dask.distributed.Client``) runs the cases on a Dask cluster instead.  The
    backend runs in a child process unless ``isolate`` is False (then one worker by default).

    ``layouts``, ``kernel_layouts``, ``paddings``, ``conventions`` and ``groups`` (lists, or
    comma-separated text) keep the cases they name, as an impl file's ``SYMCONV_SUPPORTS``
    does (``symconv.backends.coverage``); the cases left out are counted in the report.  Each
    case calls ``repeat`` probes again: an output that changes is a finding (nondeterministic)."""
    from ..backends import BACKENDS, GRAD_PATHS, create
    if grad_path not in GRAD_PATHS:
        raise SymconvError(f"grad path must be one of {', '.join(GRAD_PATHS)}, got {shown(grad_path)}")
    registered = BACKENDS.get(backend) if isinstance(backend, str) else None
    target = Target(backend, impl, variant, grad_path, timeout, isolate, registered)
    create(backend, impl=impl, variant=variant, grad_path=grad_path)   # refuse a bad target up front
    workers = resolve_workers(1 if workers is None and not isolate else workers)
    if scheduler is not None and not type(scheduler).__module__.startswith("distributed"):
        from .scheduler import parse_address
        parse_address(scheduler)   # a malformed address before anything runs
    label = size if cases is None else "given cases"
    if cases is None:
        cases = sweep_cases(size, op_names(ops))
    else:
        try:
            cases = list(cases)
        except TypeError:
            cases = None
        if cases is None or not all(isinstance(c, Case) for c in cases):
            raise SymconvError("cases must be a list of symconv.sweeps.cases.Case objects (see sweep_cases())")
    cover = Coverage.from_filters("sweep filters", layouts=layouts, kernel_layouts=kernel_layouts,
                                  paddings=paddings, conventions=conventions, groups=groups)
    from ..checks.verdicts import repeat_count
    options = dict(shrink_findings=shrink, confirm_findings=confirm, seed=seed, repeat=repeat_count(repeat))
    declared = target.declared_coverage()
    cases, left_out = covered_cases(cases, cover, declared)
    workers = resolve_workers(workers, len(cases))
    bar = _Bar(len(cases), progress, target.backend or "impl")
    start = time.perf_counter()
    try:
        if scheduler is not None:
            engine = "dask"
            results = _run_dask(cases, target, scheduler, options, bar)
        elif workers > 1:
            engine = f"{workers} worker processes"
            results = _run_pool(cases, target, workers, options, bar)
        else:
            engine = "1 worker"
            with target.open_runner() as runner:
                results = run_cases(runner, cases, target, on_result=bar, **options)
    finally:
        bar.close()
    return SweepReport(target.describe(), label, results, time.perf_counter() - start, engine, left_out,
                       cover.narrowed(declared).describe() if declared is not None else cover.describe())
