"""Diagnosis: which structural bug explains a mismatch, decided from the verification probes.

Real bugs have few shapes (principle 9): a shifted pad, another SAME convention, a flipped or
transposed kernel, an ignored stride or dilation, a layout confusion, a scale.  Each is an
*alternative exact model*: a function from a probe's inputs to the exact output it predicts.
The verification probes already hold each probe's exact integer inputs and what the backend
returned, so a hypothesis is tested with NumPy alone, without a single backend call, and it
is accepted only when it reproduces every entry of every probe: as strong as the verification
itself (a wrong model agrees with a random probe at an entry where it differs with
probability about 1/R, Schwartz-Zippel).

The hypotheses are a registry of small generators, as the conventions are: each takes the
context (spec, quantity, probes) and yields candidates.  A candidate first passes a cheap
screen (the channel-reduced row check of ``verification.row_sums``, about a millisecond on a
56x56x64 layer) and is then evaluated in full on every probe.  ``slot_evidence`` then lights
one slot of the one-hot factor on the backend (two calls) to show, observed, a few entries' terms.

>>> from symconv import ConvSpec
>>> sorted(HYPOTHESES)[:4]
['activation_layout', 'batch_mixup', 'channel_mixup', 'convention']
>>> spec = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="SAME")
>>> with_geometry(spec, befores=(0, 1)).pads
((0, 2), (1, 1))
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, TENSOR_OF
from ..model.spec import ConvSpec, entry_name
from ..probing.localisation import EntryTerms, Localiser
from ..probing.verification import result_shape
# isort: off
from . import geometry as _geometry  # noqa: F401  registered in this order
from . import tensors as _tensors  # noqa: F401
from . import shapes
# isort: on
from .registry import EVIDENCE_ENTRIES, HYPOTHESES, Candidate, Context, with_geometry  # noqa: F401

# ---- testing them all ------------------------------------------------------------------------

@dataclass
class Diagnosis:
    """Which hypotheses explain every entry of every verification probe."""

    accepted: list = field(default_factory=list)
    tested: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    evidence_note: str = ""
    contradicted: list = field(default_factory=list)   # (candidate, why) the evidence call refuted
    context: Context | None = field(default=None, repr=False)
    fit_calls: int = 0               # backend calls the lit rounds of a fit spent
    fitted: int = 0                  # of the hypotheses tested, those fitted to lit calls
    fit_note: str = ""               # what the fit showed when it named nothing
    fitted_evidence: list = field(default_factory=list)   # (entry, expected, observed, slots)
    fitted_evidence_text: str = ""
    shape_note: str = ""             # a wrong shape against the model's: where the model's output sits
    shape_crop: str = ""             # the block of a larger output that holds the model's
    region: str = ""                 # where the wrong entries lie, when they form a box
    closest: str = ""                # why the first explanation is the one closest to the implementation
    fix: list = field(default_factory=list)   # how to compute the model instead, in the code's framework
    declaration: object = None       # fixes.Declaration: what the implementation says of itself

    def explanations(self) -> list:
        """The accepted hypotheses and their other names (the same model), closest first."""
        return [name for candidate in self.accepted for name in [candidate, *candidate.aliases]]

    def name_closest(self, spec, declaration) -> None:
        """Order the explanations by what the implementation says of itself, and print its fix."""
        from . import fixes
        self.declaration = declaration
        ordered = sorted(self.explanations(), key=lambda c: fixes.closeness(c.explanation, declaration, spec.ndim))
        if not ordered:
            return
        first = ordered[0]
        self.closest = fixes.why_closest(first.explanation, declaration, spec.ndim)
        if self.closest or first is not self.accepted[0]:
            owner = next(c for c in self.accepted if first is c or first in c.aliases)
            rest = [c for c in [owner, *owner.aliases] if c is not first]
            first.aliases = rest
            owner.aliases = []
            self.accepted = [first] + [c for c in self.accepted if c is not owner]
        self.fix = fixes.fix_lines(spec, declaration, {**first.explanation, "crop": self.shape_crop})

    def as_json(self) -> dict:
        return {"explained_by": [c.as_json() for c in self.accepted], "hypotheses_tested": self.tested,
                "seconds": self.seconds, "stopped": self.stopped, "evidence": self.evidence_note or None,
                "contradicted": [{"hypothesis": c.name, "summary": c.summary, "why": why}
                                 for c, why in self.contradicted],
                "fit_calls": self.fit_calls, "fit": self.fit_note or None, "shape": self.shape_note or None,
                "equivalent": [a.as_json() for c in self.accepted for a in c.aliases],
                "closest": self.closest or None, "fix": self.fix,
                "declared": None if self.declaration is None else self.declaration.as_json(),
                "region": self.region or None}


def diagnose(spec: ConvSpec, quantity: str, probes: list, rng, seconds: float = 30.0) -> Diagnosis:
    """Test every registered hypothesis against the probes (``ProbeResult`` list: exact
    inputs and the backend's outputs).  No backend call is made."""
    started = time.monotonic()
    diagnosis = Diagnosis()
    if not probes or spec.is_empty:
        return diagnosis
    ctx = Context(spec, quantity, probes, rng)
    diagnosis.context = ctx
    if not all(np.isfinite(o).all() for o in ctx.observed):
        return diagnosis
    found = shapes.sub_block(ctx)
    if found is not None:
        diagnosis.shape_note = shapes.shape_sentence(ctx, *found)
        if found[0] == "larger":
            name = TENSOR_OF[quantity]
            diagnosis.shape_crop = f"{name}[{shapes.block_text(found[1], ctx.model_shape, ctx.shape)}]"
    for family in HYPOTHESES.values():
        for candidate in family.generate(ctx):
            if candidate is None:
                continue
            if time.monotonic() - started > seconds:
                diagnosis.stopped = f"stopped after {seconds:g} s with {diagnosis.tested} hypotheses tested"
                break
            diagnosis.tested += 1
            if candidate.explains(ctx.observed):
                diagnosis.accepted.append(candidate)
        if diagnosis.stopped:
            break
    diagnosis.seconds = time.monotonic() - started
    return diagnosis


# ---- values no correct implementation can produce ------------------------------------------------

@dataclass
class Garbage:
    """Entries whose value no fixed sum of products of the integer probes can take."""

    counts: dict                   # kind -> entries holding that kind on some probe
    entries: list                  # the first few: (entry index, kind, value)
    total: int                     # entries holding any impossible value

    @property
    def searchable(self) -> bool:
        """Only out-of-bound integers: an alternative model may still explain them."""
        return set(self.counts) <= {"integers beyond the bound"}

    def text(self, quantity: str, size: int) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        shown = "; ".join(f"{entry_name(quantity, e)} = {_value(v)}" for e, _, v in self.entries)
        return (f"{self.total} of {size} entries hold values no sum of products of the integer probes can "
                f"take ({kinds}), e.g. {shown}")

    def as_json(self, quantity: str) -> dict:
        return {"counts": self.counts, "total": self.total,
                "entries": [{"entry": entry_name(quantity, e), "kind": kind, "value": _json_value(v)}
                            for e, kind, v in self.entries]}


def _value(v) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return str(int(v)) if v.is_integer() else repr(v)


def _json_value(v):
    v = float(v)
    return _value(v) if not math.isfinite(v) else (int(v) if v.is_integer() else v)


def impossible_values(verification, shown: int = 3) -> Garbage | None:
    """Non-finite values, non-integers and integers beyond the exactness bound on the
    verification probes (all integer-valued, so a correct backend gives none of them)."""
    masks = {}
    first_value = {}
    limit = verification.plan.value_limit
    for probe_result in verification.probes:
        values = np.asarray(probe_result.observed, dtype=np.float64)
        finite = np.isfinite(values)
        whole = np.zeros(values.shape, dtype=bool)
        whole[finite] = values[finite] == np.rint(values[finite])
        for kind, mask in (("non-finite (NaN or Inf)", ~finite), ("not integers", finite & ~whole),
                           ("integers beyond the bound", whole & (np.abs(np.where(finite, values, 0)) > limit))):
            if mask.any():
                masks[kind] = masks[kind] | mask if kind in masks else mask
                for entry in map(tuple, np.argwhere(mask)[:shown].tolist()):
                    first_value.setdefault((entry, kind), values[entry])
    if not masks:
        return None
    union = np.logical_or.reduce(list(masks.values()))
    entries = []
    for entry in map(tuple, np.argwhere(union)[:shown].tolist()):
        kind = next(k for k, m in masks.items() if m[entry])
        entries.append((entry, kind, first_value.get((entry, kind), np.nan)))
    return Garbage({kind: int(m.sum()) for kind, m in masks.items()}, entries, int(union.sum()))


# ---- evidence: a few entries' terms, observed ----------------------------------------------------

@dataclass
class Evidence:
    """Observed terms of a few entries: the partners of one one-hot slot."""

    items: list                # (entry, expected Terms, observed Terms, differing slots)
    slot: tuple                # (tensor, index) lit alone with the other factor id-valued


def slot_evidence(runner, spec: ConvSpec, quantity: str, path: str, verification, candidate: Candidate, rng,
                  budget, entries: int = EVIDENCE_ENTRIES) -> tuple:
    """Set one slot of the one-hot factor alone to one, the other factor id-valued (two backend
    calls), and read the partner of that slot in a few wrong entries.  Returns (Evidence or
    None, why not).  The whole output of the id-valued call must be what ``candidate``
    predicts; the hashed twin decodes the entries shown."""
    localiser = Localiser(runner, spec, quantity, path, verification, rng, budget)
    mismatching = verification.mismatching_entries(64)
    if not mismatching or localiser.id_size > 2**21:
        return None, "no entry to show"
    maps = maps_for(spec)
    first = EntryTerms.from_terms(spec, maps.terms(quantity, mismatching[0]), localiser.one_hot)
    order = np.unique(first.slots)
    if not len(order):
        order = np.array([0])
    tried = list(dict.fromkeys(int(q) for q in (order[0], order[-1], order[len(order) // 2], *order[1:4])))
    ids, hashed = localiser._encodings()
    one_hot_shape, id_shape = spec.shape_of(localiser.one_hot), spec.shape_of(localiser.id_valued)

    def inputs_for(one_hot_values, id_values):
        tensors = {localiser.one_hot: one_hot_values.reshape(one_hot_shape).astype(np.float64),
                   localiser.id_valued: id_values.reshape(id_shape).astype(np.float64)}
        return {n: tensors[n] for n in INPUTS[quantity]}

    out_shape = result_shape(spec, quantity)
    for q in tried[:4]:
        one_hot_values = np.zeros(localiser.one_hot_size, dtype=np.int64)
        one_hot_values[q] = 1
        predicted = candidate.predict(inputs_for(one_hot_values, ids)).reshape(-1)
        # The model's value of a few entries, from their terms: those the candidate says read
        # this slot, and the first wrong ones.
        reading = np.flatnonzero(predicted)[:64].tolist()
        pool = list(dict.fromkeys(reading + [int(np.ravel_multi_index(e, out_shape)) for e in mismatching]))
        shown = []
        for flat_entry in pool:
            e = tuple(int(v) for v in np.unravel_index(flat_entry, out_shape))
            terms = EntryTerms.from_terms(spec, maps.terms(quantity, e), localiser.one_hot)
            if terms.value(one_hot_values, ids) != predicted[flat_entry]:
                shown.append((flat_entry, e, terms))
        if not shown:
            continue  # lighting this slot alone shows no difference at the entries looked at
        by_id, by_hash = localiser._run([one_hot_values, one_hot_values], [ids, hashed])
        wrong = int((by_id != predicted).sum())
        if wrong:
            return None, (f"lighting {_slot_text(spec, localiser.one_hot, q)} alone, {wrong} entries differ from what "
                          f"the hypothesis predicts")
        # Entries where the backend and the model both read a partner make the clearest evidence.
        shown.sort(key=lambda item: (by_id[item[0]] == 0 or item[2].value(one_hot_values, ids) == 0, item[0]))
        items = []
        for flat_entry, e, terms in shown[:entries]:
            decoded = localiser._decode_value(int(by_id[flat_entry]), int(by_hash[flat_entry]))
            if decoded is None:
                continue
            mine = terms.slots == q
            expected = localiser._terms(e, np.full(int(mine.sum()), q, dtype=np.int64), terms.partners[mine],
                                        terms.coefficients[mine])
            observed = localiser._terms(e, np.full(len(decoded), q, dtype=np.int64),
                                        np.array([p for p, _ in decoded], dtype=np.int64),
                                        np.array([c for _, c in decoded], dtype=np.int64))
            items.append((e, expected, observed))
        slot = (localiser.one_hot, tuple(int(v) for v in np.unravel_index(q, one_hot_shape)))
        return Evidence([(e, exp, obs, [slot]) for e, exp, obs in items], slot), ""
    return None, "no slot tried shows the difference"


def _slot_text(spec, tensor, flat) -> str:
    index = np.unravel_index(flat, spec.shape_of(tensor))
    return f"{tensor}[{','.join(str(int(v)) for v in index)}]"
