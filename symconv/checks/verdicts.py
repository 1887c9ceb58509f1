"""``check``: a real implementation against the exact model, quantity by quantity.

``check`` verifies y, dk and dx of a backend with exact random probes.  Where entries differ
it first names the bug: every registered hypothesis (``diagnose.py``) is tested against those
probes without a backend call, and one lit slot shows the evidence; when none explains it, it
recovers the terms the backend actually used (``probe.py``) within a budget of calls and
seconds.  Values no sum of products can take (NaN, fractions) are an error without a search.
The verdicts are ``reports.CheckReport``s.

>>> from symconv import ConvSpec
>>> report = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), "numpy")
>>> report.ok, [r.status for r in report.results]
(True, ['ok', 'ok', 'ok'])
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..backends import Variant
from ..backends.runner import runner_for
from ..diagnose import describe, fitted, fixes
from ..diagnose.diagnosis import EVIDENCE_ENTRIES, diagnose, impossible_values, slot_evidence
from ..errors import SymconvError, shown
from ..model import notation as render
from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, QUANTITIES, SHAPED_LIKE, TENSOR_OF, as_quantity
from ..model.spec import ConvSpec
from ..model.values import random_generator
from ..probing import localisation, probe, taps, verification
from ..probing.budget import require_memory
from ..probing.localisation import one_hot_and_id_valued
from ..progress import Progress, ProgressRunner
from . import shrinking
from .reports import CheckReport, Localisation, Mismatch, QuantityResult, Shrunk, backend_label, pads_text, variant_of

MAX_MISMATCHES = 20
AGREEING_READ = 64   # agreeing entries whose (model) terms join the reading of implied pads
DIAGNOSIS_SECONDS = 30.0

def check(spec: ConvSpec, backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", quantities=QUANTITIES, max_mismatches: int = MAX_MISMATCHES, seed: int = 0,
          miss_probability: float = probe.MISS_PROBABILITY, isolate: bool = False, timeout: float | None = None,
          max_calls: int = probe.LOCALISE_CALLS, max_seconds: float = probe.LOCALISE_SECONDS,
          progress: bool | None = None, runner=None, repeat: int = 0, shrink: bool = True) -> CheckReport:
    """Check a backend (any name of ``symconv.backends.BACKENDS``) or a user's ``impl`` file
    against the model: every entry of y, dk and dx, exactly.  A wrong entry escapes the
    random probes with probability at most ``miss_probability``.  Where entries differ, the
    registered hypotheses (``symconv.diagnose``) are tested first, at no backend call; the
    entry-by-entry search that follows when none explains it spends at most ``max_calls``
    backend calls and ``max_seconds`` per quantity.  ``progress`` shows a line on stderr
    (default: when it is a terminal, after two seconds).  ``runner`` (from
    ``symconv.backends.open_runner``) reuses one backend across many specs.

    The miss bound assumes a deterministic implementation (the same inputs give the same
    output); ``repeat`` calls the backend that many more times on probes already taken, and
    a quantity whose output changed is an error (``nondeterministic``), with the entries.

    A mismatch that nothing explains at the size given is shrunk (``shrink``): the smallest case
    that fails the same way is found and checked in full, and the report gives both, with the
    command that reproduces the smaller one."""
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
    repeat = repeat_count(repeat)
    rng = random_generator(seed)
    localisation.Budget(max_calls, max_seconds)  # refuse a bad budget up front
    # Refuse a case too large up front: too many products to probe exactly, or too many bytes.
    counts = [probe.ProbePlan.for_quantity(spec, quantity, miss_probability).probes for quantity in quantities]
    require_memory(spec, "check", max(counts, default=1))
    budget = (max_calls, max_seconds)
    with runner_for(runner, backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                    timeout=timeout) as runner, Progress(progress) as bar, ThreadPoolExecutor(max_workers=1) as pool:
        counted = ProgressRunner(runner, bar)
        probes = probe.ProbeSet(spec, rng, pool)
        todo = [(quantity, path) for quantity in quantities for path in runner.backend.paths(spec, quantity)]
        plans = {q: probe.ProbePlan.for_quantity(spec, q, miss_probability) for q in quantities}
        probes.prefetch([(name, j) for q, _ in todo for j in range(plans[q].probes) for name in INPUTS[q]])
        # Every quantity's probes first (their comparisons overlap the backend's next calls),
        # then the verdicts and any diagnosis.
        started = []
        for quantity, path in todo:
            bar.stage(f"verifying {quantity}")
            clock = time.perf_counter()
            started.append(_start(counted, spec, quantity, path, probes, miss_probability, repeat))
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
            results.append(_verdict(counted, spec, *item, probes, max_mismatches, budget, shrink))
            results[-1].seconds["diagnose"] = time.perf_counter() - clock
    return CheckReport(spec, backend_label(runner), variant_of(runner), results)


MAX_REPEAT = 100


def repeat_count(value) -> int:
    """A number of repeated calls: a non-negative integer up to MAX_REPEAT."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REPEAT:
        raise SymconvError(f"repeat must be an integer from 0 to {MAX_REPEAT}, got {shown(value)}")
    return value


def _start(runner, spec, quantity, path, probes, miss_probability, repeat=0) -> tuple:
    backend = runner.backend
    result = QuantityResult(quantity, backend.describe(spec, quantity, path), "ok", "",
                            verification.result_shape(spec, quantity))
    before = runner.calls[(quantity, path)]
    reason = runner.skip_reason(spec, quantity, path)
    if reason:
        result.status, result.message = "skipped", reason
        return result, path, None, before
    pending = verification.start_verification(runner, spec, quantity, path, probes, miss_probability, repeat)
    return result, path, pending, before


def _verdict(runner, spec, result, path, finished, before, probes, max_mismatches, budget,
             shrink: bool = False) -> QuantityResult:
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
                if not result.diagnosis.accepted:
                    _fitted(result, runner, spec, quantity, path, verification, probes.rng,
                            localisation.Budget(*budget), 0)
                _pads_after_diagnosis(result, spec, runner)
        elif verification.mismatch_count == 0:
            result.message = (f"all {math.prod(want)} entries agree exactly on {verification.plan.probes} probes"
                              + (" (the spec admits no output)" if spec.is_empty else ""))
            result.implied_pads = None if spec.is_empty else [list(p) for p in spec.pads]
            if verification.repeats and not verification.changed:
                result.message += (f", the same again on {verification.repeats} repeated call"
                                   f"{'' if verification.repeats == 1 else 's'}")
        else:
            _mismatch(result, runner, spec, quantity, path, verification, probes.rng, max_mismatches, budget)
        _nondeterminism(result, verification)
        if shrink and result.status in ("mismatch", "error") and not result.changed:
            _shrink_unexplained(result, runner, spec, quantity, path, probes.rng, max_mismatches, budget)
    finally:
        result.backend_calls = runner.calls[(quantity, path)] - before - result.shrink_calls
    return result


def _nondeterminism(result, verification) -> None:
    """A repeated call that changed: an error where the probes agreed (nothing else would fail
    the gate), a note beside any other verdict."""
    if not verification.changed:
        return
    result.changed = verification.changed
    n, calls = verification.changed_count, verification.repeats
    what = (f"{n} entr{'y' if n == 1 else 'ies'} changed" if any(c.index is not None for c in result.changed)
            else "the output changed") + f" on {calls} repeated call{'' if calls == 1 else 's'} with the same inputs"
    if result.status == "ok":
        result.status = "error"
        result.message = f"nondeterministic: {what}, although every entry agreed on the first calls"
    else:
        result.message += f"; nondeterministic as well: {what}"


def probe_values_finite(verification) -> bool:
    return all(np.isfinite(np.asarray(p.observed, dtype=np.float64)).all() for p in verification.probes)


def _failed(result, spec, outcome) -> None:
    what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
    if outcome.status == "skipped":
        result.status, result.message = "skipped", outcome.message
    elif (math.prod(result.expected_shape) == 0 and (outcome.status == "unsupported" or
                                                     outcome.meta.get("owner") == "implementation")) or \
            (spec.is_empty and outcome.status == "unsupported" and not outcome.meta.get("user_code")):
        # No output, or a framework refusing the gradients of a layer it cannot run forward:
        # right, but nothing was compared (a gate does not count it as checked).  The user's
        # own exception on a gradient that is not empty is still a failure.
        result.message = f"the backend refused a case with no output ({what}); an error is a correct answer here"
        result.compared = False
    elif outcome.status == "unsupported":
        result.status, result.message = "unsupported", what
    elif outcome.status == "crash":
        result.status, result.message = "error", f"crash: {outcome.message}"
    else:
        result.status = "error"
        where, owner = outcome.raised_at, outcome.meta.get("owner")
        if owner == "implementation":
            result.exception = what
            result.message = what + (f" (raised by the implementation at {where})" if where else "")
        elif owner == "symconv" and where:
            result.message = what + (f" (raised by symconv's own code at {where}, not by the implementation under "
                                     f"test: a bug in symconv)")
        else:
            result.message = what + (f" (raised at {where})" if where else "")


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
    result.diagnosis.region = _region(spec, quantity, verification.mismatch)
    if result.diagnosis.accepted and max_mismatches:
        _evidence(result, runner, spec, quantity, path, verification, rng, budget, min(max_mismatches,
                                                                                      EVIDENCE_ENTRIES))
    search = localisation.Budget(*budget)   # the fit's lit calls and any localisation share it
    if not result.diagnosis.accepted and (garbage is None or garbage.searchable):
        _fitted(result, runner, spec, quantity, path, verification, rng, search, min(max_mismatches,
                                                                                    EVIDENCE_ENTRIES))
    if result.diagnosis.accepted:
        _pads_after_diagnosis(result, spec, runner)
        return
    if garbage is not None:
        result.status, result.garbage = "error", garbage
        result.message = garbage.text(quantity, total)
        return
    _localise(result, runner, spec, quantity, path, verification, rng, entries, search)


def _evidence(result, runner, spec, quantity, path, verification, rng, budget, shown) -> None:
    """A few wrong entries' terms, observed on the backend, beside the accepted hypothesis."""
    diagnosis = result.diagnosis
    while diagnosis.accepted:
        candidate = diagnosis.accepted[0]
        evidence, why = slot_evidence(runner, spec, quantity, path, verification, candidate, rng,
                                      localisation.Budget(4, budget[1]), shown)
        if evidence is not None:
            slot = render.index_text(*evidence.slot)
            other = one_hot_and_id_valued(spec, quantity)[1]
            result.evidence = f"observed with {slot} alone lit and {other} holding ids, as the diagnosis predicts"
            result.mismatches = [Mismatch(quantity, e, expected, observed, differing, only_slot=evidence.slot)
                                 for e, expected, observed, differing in evidence.items]
            return
        if why.startswith("lighting"):
            diagnosis.contradicted.append((candidate, why))
            diagnosis.accepted.pop(0)
            continue
        return


def _fitted(result, runner, spec, quantity, path, verification, rng, search, shown) -> None:
    """No enumerated hypothesis: fit the geometry and the kernel map from lit calls, and test them."""
    if hasattr(runner, "stage"):
        runner.stage(f"fitting {quantity} from lit calls")
    fitted.fit_and_test(runner, spec, quantity, path, verification, result.diagnosis, rng, search, shown=shown)
    diagnosis = result.diagnosis
    if diagnosis.accepted and diagnosis.fitted_evidence:
        result.evidence = diagnosis.fitted_evidence_text
        result.mismatches = [Mismatch(quantity, e, expected, observed, slots, only_slot=slots[0])
                             for e, expected, observed, slots in diagnosis.fitted_evidence]


def _region(spec, quantity, mismatch) -> str:
    """Where the wrong entries lie ("y[:,:,:,3] (channel 3)"), when they form a box."""
    if mismatch is None:
        return ""
    text, words = describe.region_words(spec, SHAPED_LIKE[quantity], mismatch, TENSOR_OF[quantity])
    return text + (f" ({words})" if text and words else "")


SHRINK_EVALUATIONS = 40     # smaller cases a shrink may verify
SHRINK_SECONDS = 60.0


def _unexplained(result) -> bool:
    """Nothing names the bug: no hypothesis, and not every wrong entry listed was localised."""
    d = result.diagnosis
    if d is None or d.accepted or result.garbage is not None:
        return False
    loc = result.localisation
    return loc is None or loc.budget.stopped is not None or loc.resolved < loc.entries


def _shrink_unexplained(result, runner, spec, quantity, path, rng, max_mismatches, budget) -> None:
    """Unexplained at this size: shrink to the smallest case that fails the same way (a mismatch, or
    a wrong shape), check it there in full, and keep both."""
    if spec.is_empty or not _unexplained(result):
        return
    wrong_shape = result.observed_shape is not None and tuple(result.observed_shape) != tuple(result.expected_shape)
    calls_before = sum(runner.calls.values())
    if hasattr(runner, "stage"):
        runner.stage(f"shrinking {quantity}")

    def fails(small) -> bool:
        if small.is_empty:
            return False
        paths = runner.backend.paths(small, quantity)
        small_path = path if path in paths else (paths[0] if paths else None)
        if small_path is None or runner.skip_reason(small, quantity, small_path):
            return False
        try:
            checked, failed, shape = verification.verify(runner, small, quantity, small_path,
                                                         probe.ProbeSet(small, rng))
        except SymconvError:
            return False
        if failed is not None or shape is None:
            return False
        return shape != checked.expected_shape if wrong_shape else \
            (shape == checked.expected_shape and checked.mismatch_count > 0)
    small, steps = shrinking.shrink(spec, fails, SHRINK_EVALUATIONS, SHRINK_SECONDS)
    if steps:
        again = check(small, runner=runner, quantities=[quantity], max_mismatches=min(max_mismatches, EVIDENCE_ENTRIES),
                      max_calls=budget[0], max_seconds=budget[1], progress=False, shrink=False)
        there = next(r for r in again.results if r.quantity == quantity)
        result.shrunk = Shrunk(small, steps, 0, there, shrinking.command_line(small, _target_options(runner)))
    result.shrink_calls = sum(runner.calls.values()) - calls_before
    if result.shrunk is not None:
        result.shrunk.calls = result.shrink_calls


def _target_options(runner) -> list:
    backend = runner.backend
    given = getattr(backend, "given", None)
    if given:
        return ["--impl", given]
    from ..backends.variants import variant_flags
    return ["--backend", backend.name, *variant_flags(backend.variant, getattr(backend, "grad_path", "raw"))]


def _pads_after_diagnosis(result, spec, runner=None) -> None:
    accepted = result.diagnosis.accepted
    if accepted and runner is not None:
        result.diagnosis.name_closest(spec, fixes.declared(runner.backend))
        accepted = result.diagnosis.accepted
    region = result.diagnosis.region
    if region and 2 * result.mismatch_count <= math.prod(result.expected_shape):
        for candidate in result.diagnosis.explanations():
            if region.split(" ")[0] not in candidate.sentence:
                candidate.sentence = f"only {region} differs: {candidate.sentence}"
    if not accepted or spec.is_empty:
        return
    model = pads_text(spec.pads)
    with_pads = [c for c in accepted if c.pads is not None]
    if with_pads and all(c.pads == with_pads[0].pads for c in with_pads):
        result.implied_pads = with_pads[0].pads
        result.pads_line = f"implied pads {pads_text(result.implied_pads)}; the model's pads {model}"
    elif not with_pads:
        result.implied_pads = [list(p) for p in spec.pads]
        result.pads_line = f"the padding is the model's ({model}); what differs: {accepted[0].summary}"
    else:
        result.pads_line = f"implied pads: each hypothesis above implies its own; the model's pads {model}"


def _localise(result, runner, spec, quantity, path, verification, rng, entries, spent) -> None:
    """No hypothesis explains it: recover the terms of each wrong entry, within what is left of the
    search's budget."""
    values = {e: _first_difference(spec, quantity, verification, e) for e in entries}
    if hasattr(runner, "stage"):
        runner.stage(f"localising {len(entries)} {quantity} entries (budget {spent.describe()})")
    found = localisation.localise(runner, spec, quantity, path, verification, entries, rng, spent)
    result.localisation = Localisation(spent, len(entries), sum(item.observed is not None for item in found))
    for item in found:
        result.mismatches.append(Mismatch(quantity, item.entry, item.expected, item.observed, item.differing_slots,
                                          item.note, values[item.entry]))
    resolved = [(m.index, m.observed.first, m.observed.second) for m in result.mismatches if m.observed is not None]
    model = pads_text(spec.pads)
    if not resolved:
        return
    # Entries that agree use the model's terms: read them too, or a bug that only some
    # kernel taps show would look like a clean shift.
    agreeing = np.argwhere(~verification.mismatch)[:AGREEING_READ]
    maps = maps_for(spec)
    for index in map(tuple, agreeing.tolist()):
        terms = maps.terms(quantity, index)
        resolved.append((index, terms.first, terms.second))
    reading = taps.read_pads(spec, quantity, resolved)
    if any(reading.state(axis) == "inconsistent" for axis in range(spec.ndim)):
        result.pads_line = f"implied pads unknown: no single padding explains the terms observed; the model's pads {model}"
        return
    result.implied_pads, _ = taps.explain_pads(spec, reading, spec.direct_output_spatial)
    implied = pads_text(result.implied_pads)
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
