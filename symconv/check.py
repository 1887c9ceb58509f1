"""``check`` and ``infer``: a real implementation against the exact model, and the reports.

``check`` verifies y, dk and dx of a backend with exact random probes.  Where entries differ
it first names the bug: every registered hypothesis (``diagnose.py``) is tested against those
probes without a backend call, and one lit slot shows the evidence; when none explains it, it
recovers the terms the backend actually used (``probe.py``) within a budget of calls and
seconds.  Values no sum of products can take (NaN, fractions) are an error without a search.
``infer`` reads, from one-hot probes alone, the padding each quantity used, names every
convention that explains it, and says "consistent" only when every quantity was read in full.
Reports print as readable text in a REPL and as JSON for tools.

>>> from symconv import ConvSpec
>>> report = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), "numpy")
>>> report.ok, [r.status for r in report.results]
(True, ['ok', 'ok', 'ok'])
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import notebook, plot, probe, render
from .backends import Variant, open_runner
from .backends.base import INPUTS
from .budget import require_memory
from .diagnose import (EVIDENCE_ENTRIES, Diagnosis, Garbage, diagnose, impossible_values, slot_evidence,
                       with_geometry)
from .errors import SymconvError, shown
from .probe import lit_and_ids
from .progress import Progress, ProgressRunner
from .indexmap import Terms, maps_for
from .spec import QUANTITIES, TENSOR_OF, ConvSpec, as_quantity, entry_name, format_padding
from .values import random_generator

MAX_MISMATCHES = 20
SHOWN_SLOTS = 3
AGREEING_READ = 64   # agreeing entries whose (model) terms join the reading of implied pads
DIAGNOSIS_SECONDS = 30.0

# How each status reads in the text report, and the exit status of `symconv check`.
LABELS = {"ok": "ok", "mismatch": "MISMATCH", "error": "ERROR", "unsupported": "unsupported", "skipped": "skipped"}
EXIT_STATUS = {"ok": 0, "mismatch": 1, "error": 1, "unsupported": 3, "skipped": 3}


def _pads_text(pads) -> str:
    if pads is None:
        return "unknown"
    return ",".join("?" if p is None else f"{p[0]}:{p[1]}" for p in pads)


@dataclass
class Mismatch:
    """One wrong entry: the model's terms and the terms the backend was seen to use (all of
    them, or, with ``only_slot``, those of one lit slot)."""

    quantity: str
    index: tuple
    expected: Terms | None
    observed: Terms | None
    differing: list = field(default_factory=list)   # (tensor, index) of lit slots that differ
    note: str = ""
    values: tuple | None = None                     # (backend, model) on the first probe
    only_slot: tuple | None = None                  # (tensor, index): the terms shown are that slot's

    @property
    def entry(self) -> str:
        return entry_name(self.quantity, self.index)

    def as_json(self) -> dict:
        out = {"entry": self.entry,
               "expected_terms": self.expected.as_json() if self.expected is not None else [],
               "observed_terms": self.observed.as_json() if self.observed is not None else None}
        if self.only_slot is not None:
            out["only_terms_of"] = render.index_text(*self.only_slot)
        if self.values is not None:
            out["observed_value"], out["expected_value"] = (_json_number(v) for v in self.values)
        if self.note:
            out["note"] = self.note
        return out

    def sentence(self) -> str:
        """What the backend did, in words."""
        head = f"{self.quantity} {self.entry}"
        if self.observed is None or self.expected is None:
            value = "" if self.values is None else \
                f"the backend gives {_number(self.values[0])} where the model gives {_number(self.values[1])}"
            return f"{head}: " + "; ".join(p for p in (value, self.note) if p)
        parts = [self._slot_sentence(tensor, index) for tensor, index in self.differing[:SHOWN_SLOTS]]
        if len(self.differing) > SHOWN_SLOTS:
            parts.append(f"... ({len(self.differing)} {self.differing[0][0]} entries are paired differently)")
        return f"{head}: " + "; ".join(parts)

    def _slot_sentence(self, tensor: str, index: tuple) -> str:
        slot = render.index_text(tensor, index)
        seen, want = _partners(self.observed, tensor, index), _partners(self.expected, tensor, index)
        if not seen:
            return f"the backend leaves out {slot} (the model pairs it with {_joined(want)})"
        if not want:
            return f"the backend also multiplies {slot} by {_joined(seen)}, which the model never does"
        return f"the backend multiplies {slot} by {_joined(seen)}; the model pairs it with {_joined(want)}"


def _number(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return f"a non-finite value ({value})"
    return str(int(value)) if value.is_integer() else repr(value)


def _json_number(value):
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value


def _partners(terms: Terms, tensor: str, index: tuple) -> list:
    one, two = terms.factors
    out = []
    for coef, first, second in terms.pairs():
        if one == tensor and first == index:
            out.append((coef, two, second))
        elif two == tensor and second == index:
            out.append((coef, one, first))
    return out


def _joined(partners) -> str:
    return " + ".join((f"{c}*" if c != 1 else "") + render.index_text(t, i) for c, t, i in partners)


@dataclass
class Localisation:
    """What the entry-by-entry search spent, and why it stopped (None: it finished)."""

    budget: probe.Budget
    entries: int = 0
    resolved: int = 0

    def as_json(self) -> dict:
        return {"budget_calls": self.budget.calls, "budget_seconds": self.budget.seconds,
                "calls": self.budget.spent, "seconds": round(self.budget.elapsed, 3),
                "stopped": self.budget.stopped, "entries": self.entries, "resolved": self.resolved}


@dataclass
class QuantityResult:
    """The verdict on one quantity along one path."""

    quantity: str
    path: str
    status: str                      # ok, mismatch, error, unsupported or skipped
    message: str
    expected_shape: tuple
    observed_shape: tuple | None = None
    mismatches: list = field(default_factory=list)
    mismatch_count: int = 0
    implied_pads: list | None = None
    backend_calls: int = 0
    plan: probe.ProbePlan | None = None
    diagnosis: Diagnosis | None = None
    evidence: str = ""               # how the entries listed were observed
    garbage: Garbage | None = None
    localisation: Localisation | None = None
    pads_line: str = ""
    seconds: dict = field(default_factory=dict)   # "verify": probes and comparisons; "diagnose": the rest

    def as_json(self) -> dict:
        return {"quantity": self.quantity, "path": self.path, "status": self.status, "message": self.message,
                "expected_shape": list(self.expected_shape),
                "observed_shape": None if self.observed_shape is None else list(self.observed_shape),
                "mismatch_count": self.mismatch_count,
                "mismatches": [m.as_json() for m in self.mismatches],
                "implied_pads": self.implied_pads, "backend_calls": self.backend_calls,
                "probes": None if self.plan is None else self.plan.as_json(),
                "diagnosis": None if self.diagnosis is None else self.diagnosis.as_json(),
                "evidence": self.evidence or None,
                "garbage": None if self.garbage is None else self.garbage.as_json(self.quantity),
                "localisation": None if self.localisation is None else self.localisation.as_json(),
                "seconds": {what: round(t, 4) for what, t in self.seconds.items()}}

    def lines(self, spec, width: int = 9) -> list:
        lines = [f"  {self.quantity:<12} {LABELS[self.status]:<{width}} {self.path}",
                 f"  {'':<12} {'':<{width}} {self.message} ({self.backend_calls} backend call"
                 f"{'' if self.backend_calls == 1 else 's'})"]
        lines.extend(f"    {line}" for line in self._diagnosis_lines())
        if self.evidence and self.mismatches:
            lines.append(f"    {self.evidence}:")
        for mismatch in self.mismatches:
            lines.append(f"    {mismatch.sentence()}")
        if self.mismatch_count > len(self.mismatches) and self.localisation is not None:
            lines.append(f"    ... {self.mismatch_count - len(self.mismatches)} more entries differ")
        if self.pads_line:
            lines.append(f"    {self.pads_line}")
        return lines

    def _diagnosis_lines(self) -> list:
        d = self.diagnosis
        if d is None:
            return []
        tested = f"{d.tested} hypothes{'is' if d.tested == 1 else 'es'} tested without a backend call"
        if d.accepted:
            probes = self.plan.probes if self.plan is not None else 0
            size = math.prod(self.observed_shape or self.expected_shape)
            every = "the only entry" if size == 1 else f"all {size} entries"
            reach = f"it reproduces {every} on {probes} probe{'' if probes == 1 else 's'}; {tested}"
            if len(d.accepted) == 1:
                return [f"diagnosis: {d.accepted[0].sentence} ({reach})"]
            return [f"diagnosis: {len(d.accepted)} hypotheses each explain every entry ({reach}):"] + \
                [f"  - {c.sentence}" for c in d.accepted]
        out = [f"diagnosis: no structural hypothesis explains it ({tested}"
               + (f"; {d.stopped}" if d.stopped else "") + ")"]
        for candidate, why in d.contradicted:
            out.append(f"  ({candidate.summary} fits the probes, but {why})")
        if self.localisation is not None:
            loc = self.localisation
            if loc.budget.stopped:
                out.append(f"localisation stopped: {loc.budget.stopped}; {loc.resolved} of {loc.entries} entries "
                           f"localised (budget {loc.budget.describe()})")
            else:
                out.append(f"localised entry by entry: {loc.resolved} of {loc.entries} entries in "
                           f"{loc.budget.spent} backend calls (budget {loc.budget.describe()})")
        return out


@dataclass
class CheckReport:
    """Every quantity's verdict for one spec and backend."""

    spec: ConvSpec
    backend: str
    variant: Variant | None
    results: list

    @property
    def ok(self) -> bool:
        """Nothing was found wrong (which includes nothing checked: see ``status``)."""
        return all(r.status in ("ok", "skipped", "unsupported") for r in self.results)

    @property
    def status(self) -> str:
        """mismatch, error, ok (something was checked and agrees), unsupported (nothing was
        checked and some quantity was refused) or skipped (nothing was checked)."""
        statuses = {r.status for r in self.results}
        for status in ("mismatch", "error", "ok", "unsupported"):
            if status in statuses:
                return status
        return "skipped"

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]

    def to_json(self) -> dict:
        return {"ok": self.ok, "status": self.status, "backend": self.backend,
                "variant": None if self.variant is None else self.variant.as_json(),
                "spec": self.spec.describe(), "pads": [list(p) for p in self.spec.pads],
                "results": [r.as_json() for r in self.results]}

    def text(self) -> str:
        variant = "" if self.variant is None else f" ({self.variant.describe()})"
        status = self.status
        unchecked = [r.quantity for r in self.results if r.status in ("skipped", "unsupported")]
        if status == "mismatch":
            verdict = "DIFFERS from the model"
        elif status == "error":
            verdict = "ERROR: a quantity could not be checked (see below)"
        elif status == "ok":
            verdict = "every checked quantity agrees exactly" + \
                (f" (not checked: {', '.join(unchecked)})" if unchecked else "")
        elif status == "unsupported":
            verdict = "nothing was checked: the implementation refused every quantity it has"
        else:
            verdict = "nothing was checked: every quantity was skipped"
        lines = [render.spec_header(self.spec), f"backend {self.backend}{variant}: {verdict}"]
        width = max([9] + [len(LABELS[r.status]) + 1 for r in self.results if len(LABELS[r.status]) > 9])
        for result in self.results:
            lines.extend(result.lines(self.spec, width))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self): return notebook.check_html(self)  # noqa: E704

    def plot(self, path=None): return plot.check_picture(self, path)  # noqa: E704


def _backend_label(runner) -> str:
    return runner.backend.label


def _variant_of(runner):
    return runner.backend.variant if runner.backend.has_variant else None


def check(spec: ConvSpec, backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", quantities=QUANTITIES, max_mismatches: int = MAX_MISMATCHES, seed: int = 0,
          miss_probability: float = probe.MISS_PROBABILITY, isolate: bool = False, timeout: float | None = None,
          max_calls: int = probe.LOCALISE_CALLS, max_seconds: float = probe.LOCALISE_SECONDS,
          progress: bool | None = None, runner=None) -> CheckReport:
    """Check a backend (``'numpy'``, ``'tf'``, ``'tf-xla'``, ``'keras'``) or a user's ``impl``
    file against the model: every entry of y, dk and dx, exactly.  A wrong entry escapes the
    random probes with probability at most ``miss_probability``.  Where entries differ, the
    registered hypotheses (``symconv.diagnose``) are tested first, at no backend call; the
    entry-by-entry search that follows when none explains it spends at most ``max_calls``
    backend calls and ``max_seconds`` per quantity.  ``progress`` shows a line on stderr
    (default: when it is a terminal, after two seconds).  ``runner`` (from
    ``symconv.backends.open_runner``) reuses one backend across many specs."""
    if not isinstance(spec, ConvSpec):
        raise SymconvError(f"spec must be a ConvSpec, got {type(spec).__name__}")
    if isinstance(max_mismatches, bool) or not isinstance(max_mismatches, int) or max_mismatches < 0:
        raise SymconvError(f"max mismatches must be a non-negative integer, got {max_mismatches!r}")
    if isinstance(quantities, str):
        quantities = [quantities]
    if not isinstance(quantities, (list, tuple)):
        raise SymconvError(f"quantities must be a list of y, dk and dx (or forward, filter_grad, input_grad), "
                           f"got {shown(quantities)}")
    quantities = [as_quantity(q) for q in quantities]
    rng = random_generator(seed)
    probe.Budget(max_calls, max_seconds)  # refuse a bad budget up front
    # Refuse a case too large up front: too many products to probe exactly, or too many bytes.
    counts = [probe.ProbePlan.for_quantity(spec, quantity, miss_probability).probes for quantity in quantities]
    require_memory(spec, "check", max(counts, default=1))
    own = runner is None
    if own:
        runner = open_runner(backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                             timeout=timeout)
    bar = Progress(progress)
    counted = ProgressRunner(runner, bar)
    pool = ThreadPoolExecutor(max_workers=1)
    probes = probe.ProbeSet(spec, rng, pool)
    todo = [(quantity, path) for quantity in quantities for path in runner.backend.paths(spec, quantity)]
    plans = {q: probe.ProbePlan.for_quantity(spec, q, miss_probability) for q in quantities}
    probes.prefetch([(name, j) for q, _ in todo for j in range(plans[q].probes) for name in INPUTS[q]])
    budget = (max_calls, max_seconds)
    try:
        # Every quantity's probes first (their comparisons overlap the backend's next calls),
        # then the verdicts and any diagnosis.
        started = []
        for quantity, path in todo:
            bar.stage(f"verifying {quantity}")
            clock = time.perf_counter()
            started.append(_start(counted, spec, quantity, path, probes, miss_probability))
            started[-1][0].seconds["verify"] = time.perf_counter() - clock
        finished = []
        for result, path, pending, before in started:
            clock = time.perf_counter()
            finished.append((result, path, pending and pending.finish(), before))
            result.seconds["verify"] += time.perf_counter() - clock
        results = []
        for item in finished:
            bar.stage(f"diagnosing {item[0].quantity}")
            clock = time.perf_counter()
            results.append(_verdict(counted, spec, *item, probes, max_mismatches, budget))
            results[-1].seconds["diagnose"] = time.perf_counter() - clock
    finally:
        bar.close()
        pool.shutdown(wait=True)
        if own:
            runner.close()
    return CheckReport(spec, _backend_label(runner), _variant_of(runner), results)


def check_quantity(runner, spec: ConvSpec, quantity: str, path: str, probes,
                   max_mismatches: int = MAX_MISMATCHES,
                   miss_probability: float = probe.MISS_PROBABILITY,
                   max_calls: int = probe.LOCALISE_CALLS, max_seconds: float = probe.LOCALISE_SECONDS) -> QuantityResult:
    """Verify one quantity along one path (``probes``: a probe.ProbeSet); diagnose what differs."""
    result, path, pending, before = _start(runner, spec, quantity, path, probes, miss_probability)
    return _verdict(runner, spec, result, path, pending and pending.finish(), before, probes, max_mismatches,
                    (max_calls, max_seconds))


def _start(runner, spec, quantity, path, probes, miss_probability) -> tuple:
    backend = runner.backend
    result = QuantityResult(quantity, backend.describe(spec, quantity, path), "ok", "",
                            probe.result_shape(spec, quantity))
    before = runner.calls[(quantity, path)]
    reason = backend.skip_reason(spec, quantity, path)
    if reason:
        result.status, result.message = "skipped", reason
        return result, path, None, before
    pending = probe.start_verification(runner, spec, quantity, path, probes, miss_probability)
    return result, path, pending, before


def _verdict(runner, spec, result, path, finished, before, probes, max_mismatches, budget) -> QuantityResult:
    """The verdict on one quantity from its finished verification; diagnose what differs."""
    if finished is None:
        return result
    quantity, want = result.quantity, result.expected_shape
    verification, failed, shape = finished
    result.plan, result.observed_shape = verification.plan, shape
    try:
        if failed is not None:
            _failed(result, spec, failed)
        elif shape != want:
            result.status = "error"
            result.message = f"wrong output shape: expected {want}, got {shape}"
            if spec.is_empty and quantity == "forward":
                result.message += " where the spec admits no output (a correct answer is an empty tensor or an error)"
            elif verification.probes and probe_values_finite(verification):
                result.diagnosis = diagnose(spec, quantity, verification.probes, probes.rng, DIAGNOSIS_SECONDS)
                _pads_after_diagnosis(result, spec)
        elif verification.mismatch_count == 0:
            result.message = (f"all {math.prod(want)} entries agree exactly on {verification.plan.probes} probes"
                              + (" (the spec admits no output)" if spec.is_empty else ""))
            result.implied_pads = None if spec.is_empty else [list(p) for p in spec.pads]
        else:
            _mismatch(result, runner, spec, quantity, path, verification, probes.rng, max_mismatches, budget)
    finally:
        result.backend_calls = runner.calls[(quantity, path)] - before
    return result


def probe_values_finite(verification) -> bool:
    return all(np.isfinite(np.asarray(p.observed, dtype=np.float64)).all() for p in verification.probes)


def _failed(result, spec, outcome) -> None:
    what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
    if outcome.status == "skipped":
        result.status, result.message = "skipped", outcome.message
    elif spec.is_empty and outcome.status == "unsupported":
        result.message = f"the backend refused a case with no output ({what}); an error is a correct answer here"
    elif outcome.status == "unsupported":
        result.status, result.message = "unsupported", what
    elif outcome.status == "crash":
        result.status, result.message = "error", f"crash: {outcome.message}"
    else:
        result.status = "error"
        where = getattr(outcome, "raised_at", None)
        result.message = what + (f" (raised by symconv's own code at {where}, not by the implementation under "
                                 f"test: a bug in symconv)" if where else "")


def _mismatch(result, runner, spec, quantity, path, verification, rng, max_mismatches, budget) -> None:
    result.status = "mismatch"
    total = math.prod(result.expected_shape)
    result.mismatch_count = verification.mismatch_count
    result.message = f"{verification.mismatch_count} of {total} entries differ"
    entries = verification.mismatching_entries(max_mismatches)
    garbage = impossible_values(verification)
    if spec.is_empty and (garbage is None or garbage.searchable):
        values = {e: _first_difference(spec, quantity, verification, e) for e in entries}
        result.mismatches = [Mismatch(quantity, e, None, None, note="the spec admits no output: this entry should be 0",
                                      values=values[e]) for e in entries]
        return
    if garbage is not None and not garbage.searchable:
        # NaN, Inf or fractions on integer probes: no sum of products explains them, no search helps.
        result.status, result.garbage = "error", garbage
        result.message = garbage.text(quantity, total) + \
            (f"; {verification.mismatch_count} entries differ from the model in all" if
             verification.mismatch_count != garbage.total else "")
        return
    result.diagnosis = diagnose(spec, quantity, verification.probes, rng, DIAGNOSIS_SECONDS)
    if result.diagnosis.accepted and max_mismatches:
        _evidence(result, runner, spec, quantity, path, verification, rng, budget, min(max_mismatches,
                                                                                      EVIDENCE_ENTRIES))
    if result.diagnosis.accepted:
        _pads_after_diagnosis(result, spec)
        return
    if garbage is not None:
        result.status, result.garbage = "error", garbage
        result.message = garbage.text(quantity, total)
        return
    _localise(result, runner, spec, quantity, path, verification, rng, entries, budget)


def _evidence(result, runner, spec, quantity, path, verification, rng, budget, shown) -> None:
    """A few wrong entries' terms, observed on the backend, beside the accepted hypothesis."""
    diagnosis = result.diagnosis
    while diagnosis.accepted:
        candidate = diagnosis.accepted[0]
        evidence, why = slot_evidence(runner, spec, quantity, path, verification, candidate, rng,
                                      probe.Budget(4, budget[1]), shown)
        if evidence is not None:
            slot = render.index_text(*evidence.slot)
            other = lit_and_ids(spec, quantity)[1]
            result.evidence = f"observed with {slot} alone lit and {other} holding ids, as the diagnosis predicts"
            result.mismatches = [Mismatch(quantity, e, expected, observed, differing, only_slot=evidence.slot)
                                 for e, expected, observed, differing in evidence.items]
            return
        if why.startswith("lighting"):
            diagnosis.contradicted.append((candidate, why))
            diagnosis.accepted.pop(0)
            continue
        return


def _pads_after_diagnosis(result, spec) -> None:
    accepted = result.diagnosis.accepted
    if not accepted or spec.is_empty:
        return
    model = _pads_text(spec.pads)
    with_pads = [c for c in accepted if c.pads is not None]
    if with_pads and all(c.pads == with_pads[0].pads for c in with_pads):
        result.implied_pads = with_pads[0].pads
        result.pads_line = f"implied pads {_pads_text(result.implied_pads)}; the model's pads {model}"
    elif not with_pads:
        result.implied_pads = [list(p) for p in spec.pads]
        result.pads_line = f"the padding is the model's ({model}); what differs: {accepted[0].summary}"
    else:
        result.pads_line = f"implied pads: each hypothesis above implies its own; the model's pads {model}"


def _localise(result, runner, spec, quantity, path, verification, rng, entries, budget) -> None:
    """No hypothesis explains it: recover the terms of each wrong entry, within the budget."""
    values = {e: _first_difference(spec, quantity, verification, e) for e in entries}
    spent = probe.Budget(*budget)
    if hasattr(runner, "stage"):
        runner.stage(f"localising {len(entries)} {quantity} entries (budget {spent.describe()})")
    found = probe.localise(runner, spec, quantity, path, verification, entries, rng, spent)
    result.localisation = Localisation(spent, len(entries), sum(item.observed is not None for item in found))
    for item in found:
        result.mismatches.append(Mismatch(quantity, item.entry, item.expected, item.observed, item.differing_slots,
                                          item.note, values[item.entry]))
    resolved = [(m.index, m.observed.first, m.observed.second) for m in result.mismatches if m.observed is not None]
    model = _pads_text(spec.pads)
    if not resolved:
        return
    # Entries that agree use the model's terms: read them too, or a bug that only some
    # kernel taps show would look like a clean shift.
    agreeing = np.argwhere(~verification.mismatch)[:AGREEING_READ]
    maps = maps_for(spec)
    for index in map(tuple, agreeing.tolist()):
        terms = maps.terms(quantity, index)
        resolved.append((index, terms.first, terms.second))
    reading = probe.read_pads(spec, quantity, resolved)
    if any(reading.state(axis) == "inconsistent" for axis in range(spec.ndim)):
        result.pads_line = f"implied pads unknown: no single padding explains the terms observed; the model's pads {model}"
        return
    result.implied_pads, _ = probe.explain_pads(spec, reading, spec.small_spatial)
    implied = _pads_text(result.implied_pads)
    if [p and p[0] for p in result.implied_pads] == [b for b, _ in spec.pads]:
        result.pads_line = (f"implied pads {implied}, the same as the model's: the padding agrees; the difference "
                            f"is elsewhere (the entries above)")
    else:
        result.pads_line = f"implied pads {implied}; the model's pads {model}"


def _first_difference(spec, quantity, verification, index) -> tuple:
    """(backend, model) values of an entry on the first probe where they differ."""
    terms = None if spec.is_empty else maps_for(spec).terms(quantity, index)
    pair = None
    for probe_result in verification.probes:
        model = 0
        if terms is not None and len(terms):
            one, two = terms.factors
            a = probe_result.inputs[one].astype(np.int64)[tuple(terms.first.T)]
            b = probe_result.inputs[two].astype(np.int64)[tuple(terms.second.T)]
            model = int((a * b).sum())
        pair = (probe_result.observed[index], model)
        if not pair[0] == model:
            return pair
    return pair


# ---- infer -----------------------------------------------------------------------------------

@dataclass
class Inferred:
    """The padding one quantity was seen to use.  ``complete``: every axis was observed and
    the pads read explain every output of the tap probes exactly."""

    quantity: str
    path: str
    status: str                 # ok, error (a crash, or garbage values), unsupported or skipped
    pads: list | None           # per axis [before, after] or None (not observable); None on failure
    conventions: list
    notes: list = field(default_factory=list)
    backend_calls: int = 0
    complete: bool = False
    unread: str = ""            # why some outputs could not be read, in a few words

    def as_json(self) -> dict:
        return {"pads": self.pads, "conventions": self.conventions, "path": self.path, "status": self.status,
                "complete": self.complete, "notes": self.notes, "backend_calls": self.backend_calls}

    @property
    def befores(self):
        return None if self.pads is None else [None if p is None else p[0] for p in self.pads]

    def why_unread(self) -> str:
        if self.status == "skipped":
            return f"skipped: {'; '.join(self.notes)}"
        if self.status == "unsupported":
            return f"refused: {'; '.join(self.notes)}"
        if self.status == "error":
            return self.unread or "; ".join(self.notes)
        return self.unread or "not every axis could be observed"


@dataclass
class InferReport:
    spec: ConvSpec
    backend: str
    variant: Variant | None
    quantities: dict

    def _read(self) -> dict:
        """Quantities whose pads were read on every axis (from all their outputs or some)."""
        return {n: q for n, q in self.quantities.items()
                if q.status in ("ok", "error") and q.pads is not None and all(p is not None for p in q.pads)}

    @property
    def clashes(self) -> bool:
        """Two quantities were read with different pads."""
        readings = [q.befores for q in self._read().values()]
        return any(r != readings[0] for r in readings)

    @property
    def consistent(self) -> bool:
        """Every quantity was read completely, and all use the same padding."""
        return all(q.status == "ok" and q.complete for q in self.quantities.values()) and not self.clashes

    @property
    def status(self) -> str:
        """consistent, inconsistent, error (some quantity failed or returned garbage) or
        incomplete (nothing disagrees, but not everything could be read)."""
        if self.clashes:
            return "inconsistent"
        if any(q.status == "error" for q in self.quantities.values()):
            return "error"
        return "consistent" if self.consistent else "incomplete"

    @property
    def exit_status(self) -> int:
        return {"consistent": 0, "inconsistent": 1, "error": 1, "incomplete": 3}[self.status]

    def summary(self) -> str:
        read = self._read()
        model = [b for b, _ in self.spec.pads]
        unread = [f"{n} ({q.why_unread()})" for n, q in self.quantities.items() if not (q.status == "ok" and q.complete)]
        missing = ("; not read in full: " + "; ".join(unread)) if unread else ""
        if self.clashes:
            forward = read.get("forward")
            clashes = [f"{name} uses {_pads_text(q.pads)}" for name, q in read.items()
                       if name != "forward" and forward is not None and q.befores != forward.befores]
            if forward is not None and clashes:
                return (f"INCONSISTENT: forward reads with pads {_pads_text(forward.pads)} while "
                        + " and ".join(clashes) + ": the gradient moves weights using pixels the forward never read"
                        + missing)
            return "INCONSISTENT: " + "; ".join(f"{n} uses {_pads_text(q.pads)}" for n, q in read.items()) + missing
        head = "ERROR" if self.status == "error" else "INCOMPLETE"
        if not read:
            return f"{head}: no quantity's padding could be read" + missing
        pads = _pads_text(next(iter(read.values())).pads)
        versus = "as the model's" if next(iter(read.values())).befores == model else \
            f"not the model's {_pads_text(self.spec.pads)}"
        if self.consistent:
            return f"consistent: every quantity uses the same padding, pads {pads} ({versus})"
        names = list(read)
        names = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{head}: {names} use{'s' if len(read) == 1 else ''} pads {pads} ({versus})" + missing

    def to_json(self) -> dict:
        out = {name: q.as_json() for name, q in self.quantities.items()}
        out.update({"consistent": self.consistent, "status": self.status, "summary": self.summary(),
                    "backend": self.backend, "variant": None if self.variant is None else self.variant.as_json(),
                    "model_pads": [list(p) for p in self.spec.pads]})
        return out

    def text(self) -> str:
        variant = "" if self.variant is None else f" ({self.variant.describe()})"
        lines = [render.spec_header(self.spec), f"backend {self.backend}{variant}"]
        for name, q in self.quantities.items():
            if q.status != "ok" and q.pads is None:
                lines.append(f"  {name:<12} {q.status}: {'; '.join(q.notes)}")
                continue
            conv = ", ".join(q.conventions) if q.conventions else "no registered convention"
            head = "" if q.status == "ok" else f"{q.status.upper()}: "
            lines.append(f"  {name:<12} {head}pads {_pads_text(q.pads)}  ({conv})  via {q.path}")
            lines.extend(f"  {'':<12} {note}" for note in q.notes)
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self): return notebook.infer_html(self)  # noqa: E704


def infer(spec: ConvSpec, backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", seed: int = 0, isolate: bool = False, timeout: float | None = None,
          runner=None) -> InferReport:
    """The padding each quantity of a backend actually used, from observations alone.

    >>> from symconv import ConvSpec
    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    >>> infer(spec, "numpy").to_json()["forward"]["pads"]
    [[-1, -1], [-1, -1]]
    """
    if not isinstance(spec, ConvSpec):
        raise SymconvError(f"spec must be a ConvSpec, got {type(spec).__name__}")
    if grad_path == "both":
        raise SymconvError("infer reads one path per quantity: grad path must be raw or tape, got 'both'")
    rng = random_generator(seed)
    require_memory(spec, "infer", 2)
    own = runner is None
    if own:
        runner = open_runner(backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                             timeout=timeout)
    try:
        quantities = {q: _infer_quantity(runner, spec, q, runner.backend.paths(spec, q)[0], rng) for q in QUANTITIES}
    finally:
        if own:
            runner.close()
    return InferReport(spec, _backend_label(runner), _variant_of(runner), quantities)


def _infer_quantity(runner, spec, quantity, path, rng) -> Inferred:
    backend = runner.backend
    described = backend.describe(spec, quantity, path)
    reason = backend.skip_reason(spec, quantity, path)
    if reason:
        return Inferred(quantity, described, "skipped", None, [], [reason])
    before = runner.calls[(quantity, path)]
    taps = probe.tap_observations(runner, spec, quantity, path, rng)
    calls = runner.calls[(quantity, path)] - before
    if taps.failed is not None:
        failed = taps.failed
        status = {"skipped": "skipped", "unsupported": "unsupported"}.get(failed.status, "error")
        what = f"{failed.error_type}: {failed.message}" if failed.error_type else failed.message
        return Inferred(quantity, described, status, None, [], [what], calls)
    reading = probe.read_pads(spec, quantity, taps.observations)
    expected_shape = tuple(spec.shape_of(TENSOR_OF[quantity]))
    out_spatial = probe.out_spatial_of(spec, quantity, taps.shape if taps.shape is not None else expected_shape)
    pads, names = probe.explain_pads(spec, reading, out_spatial)
    result = Inferred(quantity, described, "ok", pads, names, [], calls)
    notes = result.notes
    if taps.shape is not None and tuple(taps.shape) != expected_shape:
        notes.append(f"output shape {tuple(taps.shape)} differs from the model's {expected_shape}")
        result.unread = "wrong output shape"
    if taps.garbage:
        result.status = "error"
        kinds = ", ".join(f"{n} {kind}" for kind, n in taps.garbage.items())
        shown = ", ".join(f"{entry_name(quantity, e)} ({kind})" for e, kind in taps.garbage_entries)
        result.unread = f"{sum(taps.garbage.values())} of {taps.outputs} outputs are garbage: {kinds}"
        notes.append(f"{result.unread} (no sum of products of integer ids gives them), e.g. {shown}; the pads "
                     f"are read from the other outputs")
    for axis in range(spec.ndim):
        state = reading.state(axis)
        if state == "unobserved":
            notes.append(f"spatial axis {axis}: every output reads only padding here, so its padding cannot be "
                         f"observed")
        elif state == "inconsistent":
            notes.append(f"spatial axis {axis}: no single padding explains the reads (they imply before = "
                         f"{sorted(reading.befores[axis])})")
    if pads is not None and all(p is not None for p in pads):
        model = [list(p) for p in spec.pads]
        if [p[0] for p in pads] != [p[0] for p in model]:
            notes.append(f"the model ({format_padding(spec.padding)}"
                         f"{', ' + spec.convention if spec.padding == 'SAME' else ''}) pads {_pads_text(model)}")
    if any(state == "inconsistent" for state in map(reading.state, range(spec.ndim))):
        pads = result.pads = [None if reading.state(a) != "consistent" else p for a, p in enumerate(pads)]
    if result.status == "ok" and not result.unread and pads is not None and all(p is not None for p in pads):
        _explain_every_output(result, spec, quantity, taps)
    return result


def _explain_every_output(result, spec, quantity, taps) -> None:
    """Whether the pads read predict every output of the tap probes exactly: outputs that
    read nothing where a pixel is expected (a zero) or some other value are named."""
    alt = with_geometry(spec, befores=[p[0] for p in result.pads])
    if alt is None:
        result.unread = "the pads read do not fit the output size"
        return
    maps = maps_for(alt)
    zero = other = total = 0
    shown = []
    for inputs, observed in taps.calls:
        expected = maps.evaluate(quantity, **{n: np.asarray(a, dtype=np.float64) for n, a in inputs.items()})
        wrong = expected != observed
        total += observed.size
        zero_here = wrong & (observed == 0)
        zero += int(zero_here.sum())
        other += int((wrong & ~zero_here).sum())
        for entry in np.argwhere(wrong)[:3 - len(shown)]:
            entry = tuple(int(v) for v in entry)
            shown.append(f"{entry_name(quantity, entry)} = {_number(observed[entry])} where these pads give "
                         f"{_number(expected[entry])}")
    if zero or other:
        parts = ([f"{zero} are 0 where these pads read a pixel"] if zero else []) + \
            ([f"{other} hold another value"] if other else [])
        result.unread = f"{zero + other} of {total} outputs do not fit these pads"
        result.notes.append(f"{zero + other} of {total} outputs of the tap probes do not fit these pads ("
                            + ", ".join(parts) + "), e.g. " + "; ".join(shown))
    else:
        result.complete = True
