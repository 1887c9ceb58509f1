"""The reports of ``check`` and ``infer``: what each quantity's verdict says, as text and JSON.

A ``CheckReport`` holds one ``QuantityResult`` per quantity and path (its status, the wrong
entries as ``Mismatch``es, the diagnosis, the implied pads); an ``InferReport`` one
``Inferred`` per quantity.  Both print as readable text in a REPL and as JSON for tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..backends import Variant
from ..diagnose.diagnosis import Diagnosis, Garbage
from ..display import Rendered
from ..model import notation as render
from ..model.indexmap import Terms
from ..model.spec import ConvSpec, entry_name
from ..probing import localisation, probe

SHOWN_SLOTS = 3

# How each status reads in the text report, and the exit status of `symconv check`.
LABELS = {"ok": "ok", "mismatch": "MISMATCH", "error": "ERROR", "unsupported": "unsupported", "skipped": "skipped"}
EXIT_STATUS = {"ok": 0, "mismatch": 1, "error": 1, "unsupported": 3, "skipped": 3}


def pads_text(pads) -> str:
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
            out["observed_value"], out["expected_value"] = (_jsonnumber_text(v) for v in self.values)
        if self.note:
            out["note"] = self.note
        return out

    def sentence(self) -> str:
        """What the backend did, in words."""
        head = f"{self.quantity} {self.entry}"
        if self.observed is None or self.expected is None:
            value = "" if self.values is None else \
                f"the backend gives {number_text(self.values[0])} where the model gives {number_text(self.values[1])}"
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


UNRESOLVED_SHOWN = 2    # entries the search could not localise, shown one by one


def _unlocalised(note: str) -> bool:
    return note.startswith(("not localised", "localisation stopped"))


def number_text(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return f"a non-finite value ({value})"
    return str(int(value)) if value.is_integer() else repr(value)


def _jsonnumber_text(value):
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

    budget: localisation.Budget
    entries: int = 0
    resolved: int = 0

    def as_json(self) -> dict:
        return {"budget_calls": self.budget.calls, "budget_seconds": self.budget.seconds,
                "calls": self.budget.spent, "seconds": round(self.budget.elapsed, 3),
                "stopped": self.budget.stopped, "entries": self.entries, "resolved": self.resolved}


@dataclass
class Shrunk:
    """An unexplained mismatch shrunk: the smallest case that fails the same way, its verdict there,
    and the command that reproduces it."""

    spec: ConvSpec
    steps: int
    calls: int
    result: "QuantityResult"
    command: str

    def as_json(self) -> dict:
        return {"spec": self.spec.describe(), "steps": self.steps, "backend_calls": self.calls,
                "result": self.result.as_json(), "command": self.command}

    def lines(self) -> list:
        head = (f"shrunk in {self.steps} step{'' if self.steps == 1 else 's'} ({self.calls} backend calls) to "
                f"{self.spec.describe()}, where it fails the same way:")
        inner = self.result.lines(self.spec)[1:]
        return [head] + [f"  {line.strip()}" for line in inner] + [f"  reproduce: {self.command}"]


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
    exception: str = ""              # "Type: message" the implementation under test raised (status error)
    compared: bool = True            # False: ok without a comparison (a refusal where no output is right)
    changed: list = field(default_factory=list)   # entries whose value changed between repeated calls
    shrunk: Shrunk | None = None     # unexplained here: the smallest case that fails the same way
    shrink_calls: int = 0            # backend calls shrinking spent (not counted in backend_calls)

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
                "exception": self.exception or None,
                "nondeterministic": [c.as_json() for c in self.changed] or None,
                "shrunk": None if self.shrunk is None else self.shrunk.as_json(),
                "seconds": {what: round(t, 4) for what, t in self.seconds.items()}}

    def lines(self, spec, width: int = 9) -> list:
        lines = [f"  {self.quantity:<12} {LABELS[self.status]:<{width}} {self.path}",
                 f"  {'':<12} {'':<{width}} {self.message} ({self.backend_calls} backend call"
                 f"{'' if self.backend_calls == 1 else 's'})"]
        lines.extend(f"    {line}" for line in self._diagnosis_lines())
        if self.evidence and self.mismatches:
            lines.append(f"    {self.evidence}:")
        unresolved = [m for m in self.mismatches if m.observed is None and _unlocalised(m.note)]
        for mismatch in self.mismatches:
            if mismatch not in unresolved[UNRESOLVED_SHOWN:]:
                lines.append(f"    {mismatch.sentence()}")
        if len(unresolved) > UNRESOLVED_SHOWN:
            rest = unresolved[UNRESOLVED_SHOWN:]
            lines.append(f"    ... {len(rest)} more listed entries not localised for the same reason ("
                         + ", ".join(m.entry for m in rest[:4]) + (", ..." if len(rest) > 4 else "") + ")")
        for changed in self.changed:
            lines.append(f"    {changed.sentence()}")
        if self.mismatch_count > len(self.mismatches) and self.localisation is not None:
            lines.append(f"    ... {self.mismatch_count - len(self.mismatches)} more entries differ")
        if self.pads_line:
            lines.append(f"    {self.pads_line}")
        if self.shrunk is not None:
            lines.extend(f"    {line}" for line in self.shrunk.lines())
        return lines

    def _diagnosis_lines(self) -> list:
        d = self.diagnosis
        if d is None:
            return []
        tested = f"{d.tested} hypothes{'is' if d.tested == 1 else 'es'} tested"
        lit = f"{d.fit_calls} lit backend call{'' if d.fit_calls == 1 else 's'}"
        tested += (f", {d.fitted} of them fitted to {lit}" if d.fitted and d.fit_calls else
                   f", none could be fitted to {lit}" if d.fit_calls else " without a backend call")
        out = []
        explanations = d.explanations()
        if explanations:
            probes = self.plan.probes if self.plan is not None else 0
            size = math.prod(self.observed_shape or self.expected_shape)
            every = "the only entry" if size == 1 else f"all {size} entries"
            reach = f"it reproduces {every} on {probes} probe{'' if probes == 1 else 's'}; {tested}"
            if len(explanations) == 1:
                out.append(f"diagnosis: {explanations[0].sentence} ({reach})")
            else:
                noun = "hypotheses each explain" if len(d.accepted) == len(explanations) else \
                    "explanations each reproduce"
                out.append(f"diagnosis: {len(explanations)} {noun} every entry ({reach}):")
                out += [f"  - {c.sentence}" + (f" [closest to the implementation: {d.closest}]"
                                                if i == 0 and d.closest else "")
                        for i, c in enumerate(explanations)]
            if len(explanations) == 1 and d.closest:
                out.append(f"  (closest to the implementation: {d.closest})")
        else:
            out.append(f"diagnosis: no structural hypothesis explains it ({tested}"
                       + (f"; {d.stopped}" if d.stopped else "") + ")")
            for candidate, why in d.contradicted:
                out.append(f"  ({candidate.summary} fits the probes, but {why})")
            if d.fit_note:
                out.append(f"  (fit: {d.fit_note})")
            if d.region:
                out.append(f"the wrong entries: {d.region}")
        if d.shape_note:
            out.append(f"shape: {d.shape_note}")
        for line in d.fix:
            out.append(f"fix: {line}")
        if not explanations and self.localisation is not None:
            loc = self.localisation
            if loc.budget.stopped:
                out.append(f"localisation stopped: {loc.budget.stopped}; {loc.resolved} of {loc.entries} entries "
                           f"localised (budget {loc.budget.describe()})")
            else:
                out.append(f"localised entry by entry: {loc.resolved} of {loc.entries} entries in "
                           f"{loc.budget.spent} backend calls (budget {loc.budget.describe()})")
        return out


@dataclass
class CheckReport(Rendered):
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

    @property
    def execution(self):
        """The execution path the backend took (``symconv.backends.execution``), None for an impl."""
        from ..backends.execution import execution_of
        return execution_of(self.backend, self.variant)

    def to_json(self) -> dict:
        path = self.execution
        return {"ok": self.ok, "status": self.status, "backend": self.backend,
                "variant": None if self.variant is None else self.variant.as_json(),
                "path": None if path is None else path.as_json(), "spec": self.spec.describe(), "pads": [list(p) for p in self.spec.pads],
                "results": [r.as_json() for r in self.results]}

    def text(self) -> str:
        variant = "" if self.variant is None else f" ({self.variant.describe()})"
        status = self.status
        unchecked = _names(r.quantity for r in self.results if r.status in ("skipped", "unsupported"))
        raised = [f"{r.quantity} raised {r.exception}" for r in self.results if r.exception]
        changed = _names(r.quantity for r in self.results if r.changed)
        if status == "mismatch":
            verdict = "DIFFERS from the model"
        elif status == "error" and raised:
            verdict = "FAILED: " + "; ".join(raised)
        elif status == "error" and changed:
            verdict = f"NONDETERMINISTIC: {changed} changed between calls on the same inputs"
        elif status == "error":
            verdict = "ERROR: a quantity could not be checked (see below)"
        elif status == "ok" and unchecked:
            agreed = _names(r.quantity for r in self.results if r.status == "ok")
            verdict = f"{agreed} agree{'s' if ' and ' not in agreed else ''} exactly; not checked: {unchecked}"
        elif status == "unsupported":
            verdict = "nothing was checked: the implementation refused every quantity it has"
        elif status == "ok":
            verdict = "every checked quantity agrees exactly"
        else:
            verdict = "nothing was checked: every quantity was skipped"
        path = self.execution
        via = "" if path is None or not path.selects else f" via {path.text()}"
        lines = [render.spec_header(self.spec), f"backend {self.backend}{variant}{via}: {verdict}"]
        width = max([9] + [len(LABELS[r.status]) + 1 for r in self.results if len(LABELS[r.status]) > 9])
        for result in self.results:
            lines.extend(result.lines(self.spec, width))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()



def _names(quantities) -> str:
    names = list(dict.fromkeys(quantities))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


def backend_label(runner) -> str:
    return runner.backend.label


def variant_of(runner):
    return runner.backend.variant if runner.backend.has_variant else None


# ---- infer's report -----------------------------------------------------------------------------------

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


EXPECTATIONS = ("model",)


@dataclass
class InferReport(Rendered):
    """The padding each quantity was read to use.  ``expect``: None (the exit status says
    whether the quantities agree with each other) or 'model' (it also says whether they agree
    with the model's padding: any quantity read with other pads exits 1)."""

    spec: ConvSpec
    backend: str
    variant: Variant | None
    quantities: dict
    expect: str | None = None

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
    def differs_from_model(self) -> dict:
        """Quantity -> pads read, for each quantity read with pads other than the model's (an
        axis that could not be read is not compared)."""
        out = {}
        for name, q in self._read().items():
            for read, (before, after) in zip(q.pads, self.spec.pads):
                if read[0] != before or (read[1] is not None and read[1] != after):
                    out[name] = q.pads
                    break
        return out

    @property
    def exit_status(self) -> int:
        """0 consistent, 1 inconsistent or an error, 3 incomplete; with ``expect='model'``, 1 as
        well when any quantity was read with pads other than the model's."""
        if self.expect == "model" and self.differs_from_model:
            return 1
        return {"consistent": 0, "inconsistent": 1, "error": 1, "incomplete": 3}[self.status]

    def expectation(self) -> str:
        """The line that says whether the pads read are the model's ('' without ``expect``)."""
        if self.expect != "model":
            return ""
        differs = self.differs_from_model
        if not differs:
            if not self._read():
                return "expected the model's padding: no quantity's padding could be read to compare"
            return f"expected the model's padding: every quantity read uses it ({pads_text(self.spec.pads)})"
        groups: dict = {}
        for name, pads in differs.items():
            groups.setdefault(pads_text(pads), []).append(name)
        said = "; ".join(f"{_names(names)} read{'s' if len(names) == 1 else ''} pads {pads}"
                         for pads, names in groups.items())
        return f"NOT THE MODEL'S PADDING: {said}; the model pads {pads_text(self.spec.pads)}"

    def summary(self) -> str:
        read = self._read()
        model = [b for b, _ in self.spec.pads]
        unread = [f"{n} ({q.why_unread()})" for n, q in self.quantities.items() if not (q.status == "ok" and q.complete)]
        missing = ("; not read in full: " + "; ".join(unread)) if unread else ""
        if self.clashes:
            forward = read.get("forward")
            clashes = [f"{name} uses {pads_text(q.pads)}" for name, q in read.items()
                       if name != "forward" and forward is not None and q.befores != forward.befores]
            if forward is not None and clashes:
                return (f"INCONSISTENT: forward reads with pads {pads_text(forward.pads)} while "
                        + " and ".join(clashes) + ": the gradient moves weights using pixels the forward never read"
                        + missing)
            return "INCONSISTENT: " + "; ".join(f"{n} uses {pads_text(q.pads)}" for n, q in read.items()) + missing
        head = "ERROR" if self.status == "error" else "INCOMPLETE"
        if not read:
            return f"{head}: no quantity's padding could be read" + missing
        pads = pads_text(next(iter(read.values())).pads)
        versus = "as the model's" if next(iter(read.values())).befores == model else \
            f"not the model's {pads_text(self.spec.pads)}"
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
        if self.expect is not None:
            out.update({"expect": self.expect, "differs_from_model": sorted(self.differs_from_model),
                        "expectation": self.expectation()})
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
            lines.append(f"  {name:<12} {head}pads {pads_text(q.pads)}  ({conv})  via {q.path}")
            lines.extend(f"  {'':<12} {note}" for note in q.notes)
        lines.append(self.summary())
        if self.expect is not None:
            lines.append(self.expectation())
        return "\n".join(lines)

    def __repr__(self):
        return self.text()



