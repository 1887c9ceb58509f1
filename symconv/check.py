"""``check`` and ``infer``: a real implementation against the exact model, and the reports.

``check`` verifies y, dk and dx of a backend with exact random probes and, where entries
differ, recovers the terms the backend actually used (``probe.py``).  ``infer`` reads, from
one-hot probes alone, the padding each quantity used and names every convention that
explains it.  Reports print as readable text in a REPL and as JSON for tools.

>>> from symconv import ConvSpec
>>> report = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), "numpy")
>>> report.ok, [r.status for r in report.results]
(True, ['ok', 'ok', 'ok'])
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import budget, probe, render
from .backends import Variant, open_runner
from .backends.base import INPUTS, NOT_A_REFUSAL
from .errors import SymconvError, shown
from .indexmap import Terms, maps_for
from .spec import QUANTITIES, TENSOR_OF, ConvSpec, as_quantity, entry_name, format_padding
from .values import random_generator

MAX_MISMATCHES = 20
SHOWN_SLOTS = 3
AGREEING_READ = 64   # agreeing entries whose (model) terms join the reading of implied pads


def _pads_text(pads) -> str:
    if pads is None:
        return "unknown"
    return ",".join("?" if p is None else f"{p[0]}:{p[1]}" for p in pads)


@dataclass
class Mismatch:
    """One wrong entry: the model's terms and the terms the backend was seen to use."""

    quantity: str
    index: tuple
    expected: Terms | None
    observed: Terms | None
    differing: list = field(default_factory=list)   # (tensor, index) of lit slots that differ
    note: str = ""
    values: tuple | None = None                     # (backend, model) on the first probe

    @property
    def entry(self) -> str:
        return entry_name(self.quantity, self.index)

    def as_json(self) -> dict:
        out = {"entry": self.entry,
               "expected_terms": self.expected.as_json() if self.expected is not None else [],
               "observed_terms": self.observed.as_json() if self.observed is not None else None}
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
class QuantityResult:
    """The verdict on one quantity along one path."""

    quantity: str
    path: str
    status: str                      # ok, mismatch, error or skipped
    message: str
    expected_shape: tuple
    observed_shape: tuple | None = None
    mismatches: list = field(default_factory=list)
    mismatch_count: int = 0
    implied_pads: list | None = None
    backend_calls: int = 0
    plan: probe.ProbePlan | None = None

    def as_json(self) -> dict:
        return {"quantity": self.quantity, "path": self.path, "status": self.status, "message": self.message,
                "expected_shape": list(self.expected_shape),
                "observed_shape": None if self.observed_shape is None else list(self.observed_shape),
                "mismatch_count": self.mismatch_count,
                "mismatches": [m.as_json() for m in self.mismatches],
                "implied_pads": self.implied_pads, "backend_calls": self.backend_calls,
                "probes": None if self.plan is None else self.plan.as_json()}

    def lines(self, spec) -> list:
        label = {"ok": "ok", "mismatch": "MISMATCH", "error": "ERROR", "skipped": "skipped"}[self.status]
        lines = [f"  {self.quantity:<12} {label:<9} {self.path}",
                 f"  {'':<12} {'':<9} {self.message} ({self.backend_calls} backend call"
                 f"{'' if self.backend_calls == 1 else 's'})"]
        for mismatch in self.mismatches:
            lines.append(f"    {mismatch.sentence()}")
        if self.mismatch_count > len(self.mismatches):
            lines.append(f"    ... {self.mismatch_count - len(self.mismatches)} more entries differ")
        if self.status == "mismatch" and self.mismatches and not spec.is_empty:
            lines.append(f"    implied pads {_pads_text(self.implied_pads)}; the model's pads {_pads_text(spec.pads)}")
        return lines


@dataclass
class CheckReport:
    """Every quantity's verdict for one spec and backend."""

    spec: ConvSpec
    backend: str
    variant: Variant | None
    results: list

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", "skipped") for r in self.results)

    def to_json(self) -> dict:
        return {"ok": self.ok, "backend": self.backend,
                "variant": None if self.variant is None else self.variant.as_json(),
                "spec": self.spec.describe(), "pads": [list(p) for p in self.spec.pads],
                "results": [r.as_json() for r in self.results]}

    def text(self) -> str:
        variant = "" if self.variant is None else f" ({self.variant.describe()})"
        if not self.ok:
            verdict = "DIFFERS from the model"
        elif all(r.status == "skipped" for r in self.results):
            verdict = "nothing was checked: every quantity was skipped"
        else:
            verdict = "every checked quantity agrees exactly"
        lines = [render.spec_header(self.spec), f"backend {self.backend}{variant}: {verdict}"]
        for result in self.results:
            lines.extend(result.lines(self.spec))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()


def _backend_label(runner) -> str:
    return runner.backend.label


def _variant_of(runner):
    return runner.backend.variant if runner.backend.has_variant else None


def check(spec: ConvSpec, backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", quantities=QUANTITIES, max_mismatches: int = MAX_MISMATCHES, seed: int = 0,
          miss_probability: float = probe.MISS_PROBABILITY, isolate: bool = False, timeout: float | None = None,
          runner=None) -> CheckReport:
    """Check a backend (``'numpy'``, ``'tf'``, ``'tf-xla'``, ``'keras'``) or a user's ``impl``
    file against the model: every entry of y, dk and dx, exactly.  A wrong entry escapes the
    random probes with probability at most ``miss_probability``; ``runner`` (from
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
    # Refuse a case too large up front: too many products to probe exactly, or too many bytes.
    counts = [probe.ProbePlan.for_quantity(spec, quantity, miss_probability).probes for quantity in quantities]
    budget.require_memory(spec, "check", max(counts, default=1))
    own = runner is None
    if own:
        runner = open_runner(backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                             timeout=timeout)
    pool = ThreadPoolExecutor(max_workers=1)
    probes = probe.ProbeSet(spec, rng, pool)
    todo = [(quantity, path) for quantity in quantities for path in runner.backend.paths(spec, quantity)]
    plans = {q: probe.ProbePlan.for_quantity(spec, q, miss_probability) for q in quantities}
    probes.prefetch([(name, j) for q, _ in todo for j in range(plans[q].probes) for name in INPUTS[q]])
    try:
        # Every quantity's probes first (their comparisons overlap the backend's next calls),
        # then the verdicts and any localisation.
        started = [_start(runner, spec, quantity, path, probes, miss_probability) for quantity, path in todo]
        finished = [(result, path, pending and pending.finish(), before) for result, path, pending, before in started]
        results = [_verdict(runner, spec, *item, probes, max_mismatches) for item in finished]
    finally:
        pool.shutdown(wait=True)
        if own:
            runner.close()
    return CheckReport(spec, _backend_label(runner), _variant_of(runner), results)


def check_quantity(runner, spec: ConvSpec, quantity: str, path: str, probes,
                   max_mismatches: int = MAX_MISMATCHES,
                   miss_probability: float = probe.MISS_PROBABILITY) -> QuantityResult:
    """Verify one quantity along one path (``probes``: a probe.ProbeSet); localise what differs."""
    result, path, pending, before = _start(runner, spec, quantity, path, probes, miss_probability)
    return _verdict(runner, spec, result, path, pending and pending.finish(), before, probes, max_mismatches)


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


def _verdict(runner, spec, result, path, finished, before, probes, max_mismatches) -> QuantityResult:
    """The verdict on one quantity from its finished verification; localise what differs."""
    if finished is None:
        return result
    quantity, want = result.quantity, result.expected_shape
    verification, failed, shape = finished
    result.plan, result.observed_shape = verification.plan, shape
    try:
        if failed is not None:
            _failed(result, spec, failed)
        elif shape != want:
            result.status = "mismatch"
            result.message = f"wrong output shape: expected {want}, got {shape}"
            if spec.is_empty and quantity == "forward":
                result.message += " where the spec admits no output (a correct answer is an empty tensor or an error)"
        elif verification.mismatch_count == 0:
            result.message = (f"all {math.prod(want)} entries agree exactly on {verification.plan.probes} probes"
                              + (" (the spec admits no output)" if spec.is_empty else ""))
            result.implied_pads = None if spec.is_empty else [list(p) for p in spec.pads]
        else:
            _mismatch(result, runner, spec, quantity, path, verification, probes.rng, max_mismatches)
    finally:
        result.backend_calls = runner.calls[(quantity, path)] - before
    return result


def _failed(result, spec, outcome) -> None:
    what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
    if outcome.status == "skipped":
        result.status, result.message = "skipped", outcome.message
    elif spec.is_empty and outcome.status == "error" and outcome.error_type not in NOT_A_REFUSAL:
        result.message = f"the backend refused a case with no output ({what}); an error is a correct answer here"
    else:
        result.status = "error"
        result.message = what if outcome.status == "error" else f"crash: {outcome.message}"


def _mismatch(result, runner, spec, quantity, path, verification, rng, max_mismatches) -> None:
    result.status = "mismatch"
    total = math.prod(result.expected_shape)
    result.mismatch_count = verification.mismatch_count
    result.message = f"{verification.mismatch_count} of {total} entries differ"
    if verification.notes:
        result.message += " (" + "; ".join(verification.notes) + ")"
    entries = verification.mismatching_entries(max_mismatches)
    values = {e: _first_difference(spec, quantity, verification, e) for e in entries}
    if spec.is_empty:
        result.mismatches = [Mismatch(quantity, e, None, None, note="the spec admits no output: this entry should be 0",
                                      values=values[e]) for e in entries]
        return
    found = probe.localise(runner, spec, quantity, path, verification, entries, rng)
    for item in found:
        result.mismatches.append(Mismatch(quantity, item.entry, item.expected, item.observed, item.differing_slots,
                                          item.note, values[item.entry]))
    resolved = [(m.index, m.observed.first, m.observed.second) for m in result.mismatches if m.observed is not None]
    if resolved:
        # Entries that agree use the model's terms: read them too, or a bug that only some
        # kernel taps show would look like a clean shift.
        agreeing = np.argwhere(~verification.mismatch)[:AGREEING_READ]
        maps = maps_for(spec)
        for index in map(tuple, agreeing.tolist()):
            terms = maps.terms(quantity, index)
            resolved.append((index, terms.first, terms.second))
        reading = probe.read_pads(spec, quantity, resolved)
        if not any(reading.state(axis) == "inconsistent" for axis in range(spec.ndim)):
            result.implied_pads, _ = probe.explain_pads(spec, reading, spec.small_spatial)


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
    """The padding one quantity was seen to use."""

    quantity: str
    path: str
    status: str                 # ok, error or skipped
    pads: list | None           # per axis [before, after] or None (not observable); None on failure
    conventions: list
    notes: list = field(default_factory=list)
    backend_calls: int = 0

    def as_json(self) -> dict:
        return {"pads": self.pads, "conventions": self.conventions, "path": self.path, "status": self.status,
                "notes": self.notes, "backend_calls": self.backend_calls}


@dataclass
class InferReport:
    spec: ConvSpec
    backend: str
    variant: Variant | None
    quantities: dict

    def _befores(self, item):
        return None if item.pads is None else [None if p is None else p[0] for p in item.pads]

    @property
    def consistent(self) -> bool:
        """Every quantity that could be read uses the same padding on every axis it shows."""
        readings = [self._befores(q) for q in self.quantities.values() if q.status == "ok" and q.pads is not None]
        for axis in range(self.spec.ndim):
            seen = {r[axis] for r in readings if r[axis] is not None}
            if len(seen) > 1:
                return False
        return True

    def summary(self) -> str:
        readable = {name: q for name, q in self.quantities.items() if q.status == "ok" and q.pads is not None}
        if self.consistent:
            return "consistent: every quantity uses the same padding" if readable else \
                "no quantity's padding could be read"
        forward = readable.get("forward")
        clashes = [f"{name} uses {_pads_text(q.pads)}" for name, q in readable.items()
                   if name != "forward" and forward is not None and self._befores(q) != self._befores(forward)]
        if forward is not None and clashes:
            return (f"INCONSISTENT: forward reads with pads {_pads_text(forward.pads)} while " + " and ".join(clashes)
                    + ": the gradient moves weights using pixels the forward never read")
        return "INCONSISTENT: " + "; ".join(f"{n} uses {_pads_text(q.pads)}" for n, q in readable.items())

    def to_json(self) -> dict:
        out = {name: q.as_json() for name, q in self.quantities.items()}
        out.update({"consistent": self.consistent, "summary": self.summary(), "backend": self.backend,
                    "variant": None if self.variant is None else self.variant.as_json(),
                    "model_pads": [list(p) for p in self.spec.pads]})
        return out

    def text(self) -> str:
        variant = "" if self.variant is None else f" ({self.variant.describe()})"
        lines = [render.spec_header(self.spec), f"backend {self.backend}{variant}"]
        for name, q in self.quantities.items():
            if q.status != "ok":
                lines.append(f"  {name:<12} {q.status}: {'; '.join(q.notes)}")
                continue
            conv = ", ".join(q.conventions) if q.conventions else "no registered convention"
            lines.append(f"  {name:<12} pads {_pads_text(q.pads)}  ({conv})  via {q.path}")
            lines.extend(f"  {'':<12} {note}" for note in q.notes)
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self):
        return self.text()


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
    budget.require_memory(spec, "infer", 2)
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
    observations, shape, failed = probe.tap_observations(runner, spec, quantity, path, rng)
    calls = runner.calls[(quantity, path)] - before
    if failed is not None:
        status = "skipped" if failed.status == "skipped" else "error"
        what = f"{failed.error_type}: {failed.message}" if failed.error_type else failed.message
        return Inferred(quantity, described, status, None, [], [what], calls)
    reading = probe.read_pads(spec, quantity, observations)
    out_spatial = probe.out_spatial_of(spec, quantity, shape if shape is not None else
                                       spec.shape_of(TENSOR_OF[quantity]))
    pads, names = probe.explain_pads(spec, reading, out_spatial)
    notes = []
    if shape is not None and tuple(shape) != tuple(spec.shape_of(TENSOR_OF[quantity])):
        notes.append(f"output shape {tuple(shape)} differs from the model's {spec.shape_of(TENSOR_OF[quantity])}")
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
        pads = [None if reading.state(a) != "consistent" else p for a, p in enumerate(pads)]
    return Inferred(quantity, described, "ok", pads, names, notes, calls)
