"""Fitting, then verifying: lit rounds on the backend, models read from them, each accepted only
when it reproduces every entry of every verification probe.

``fit`` spends a few lit rounds (two backend calls each, ``probing.lit``) and returns the
candidates their terms support: the geometry the backend used, and the kernel map (which kernel
entry each output channel, input channel and tap meets).  ``observed_evidence`` turns decoded
terms into the wrong entries' terms, observed, for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..model.indexmap import Terms, maps_for
from ..model.quantities import FACTORS, INPUTS, SHAPED_LIKE
from ..probing import lit as lit_probes
from .fitting import (
    Geometry,
    KernelMap,
    all_records,
    fit_geometry,
    fit_kernel_map,
    geometry_candidate,
    kernel_map_candidate,
    lit_rounds,
)
from .registry import Context

FIT_ROUNDS = 4          # lit rounds (two calls each) one quantity's fit may spend


@dataclass
class Fit:
    """What the lit rounds showed and the candidates fitted to it."""

    rounds: list = field(default_factory=list)
    candidates: list = field(default_factory=list)
    calls: int = 0
    stopped: str = ""

    @property
    def records(self):
        return all_records(self.rounds)


def fit(runner, spec, quantity, path, ctx: Context, rng, spend, max_rounds: int = FIT_ROUNDS) -> Fit:
    """Lit rounds, then the candidates fitted to them (not yet tested against the probes)."""
    result = Fit()
    _, id_tensor = lit_probes.lit_plan(spec, quantity)
    if math.prod(spec.shape_of(id_tensor)) > lit_probes.ID_LIMIT:
        result.stopped = f"{id_tensor} has more than {lit_probes.ID_LIMIT} entries: too many to give each an id"
        return result

    def counted(n):
        spend(n)
        result.calls += n
    try:
        result.rounds = lit_rounds(runner, spec, quantity, path, rng, counted, shape=ctx.shape, max_rounds=max_rounds)
    except lit_probes.LitUnavailable as err:
        result.stopped = f"the backend failed on a lit call ({err})"
        return result
    records = result.records
    if records is None or not len(records):
        result.stopped = "no lit call showed a single term"
        return result
    result.candidates = list(filter(None, candidates(ctx, result.rounds, records)))
    return result


def candidates(ctx: Context, rounds: list, records):
    spec = ctx.spec
    geometry = fit_geometry(spec, records)
    if geometry is not None and geometry != Geometry.of(spec) or ctx.shape != ctx.model_shape:
        if geometry is not None:
            yield geometry_candidate(ctx, geometry)
    if ctx.shape != ctx.model_shape:
        return
    kernel_map = fit_kernel_map(spec, rounds, Geometry.of(spec))
    if kernel_map is not None and not kernel_map.same_as(KernelMap.model(spec)):
        yield kernel_map_candidate(ctx, kernel_map)


# ---- the lit terms as evidence ----------------------------------------------------------------

def observed_evidence(spec, quantity, rounds: list, verification, candidate, count: int) -> list:
    """(entry, expected terms of the lit slot, observed term, [lit slot]) for a few wrong entries the
    lit rounds decoded: the model's partners of that slot beside the backend's."""
    maps = maps_for(spec)
    mismatch = verification.mismatch
    out_name = SHAPED_LIKE[quantity]
    one, two = FACTORS[quantity]
    items = []
    for lit_round in rounds:
        if lit_round.shape != tuple(spec.shape_of(out_name)):
            continue
        decoded = np.flatnonzero(lit_round.slot_of >= 0)
        wrong = decoded[mismatch.reshape(-1)[decoded]] if mismatch is not None else decoded
        for flat in wrong[:64]:
            entry = tuple(int(v) for v in np.unravel_index(int(flat), lit_round.shape))
            j = int(lit_round.slot_of[flat])
            slot = tuple(int(v) for v in np.unravel_index(int(lit_round.slots[j]),
                                                          spec.shape_of(lit_round.lit_tensor)))
            partner = tuple(int(v) for v in np.unravel_index(int(lit_round.partner[flat]),
                                                             spec.shape_of(lit_round.id_tensor)))
            terms = maps.terms(quantity, entry)
            mine = _rows_of(terms, lit_round.lit_tensor, slot)
            expected = Terms(quantity, entry, terms.factors, terms.first[mine], terms.second[mine])
            first, second = (slot, partner) if one == lit_round.lit_tensor else (partner, slot)
            coefficient = int(lit_round.coefficient[flat])
            observed = Terms(quantity, entry, (one, two), np.array([first]), np.array([second]),
                             None if coefficient == 1 else np.array([coefficient]))
            if _same(expected, observed):
                continue
            items.append((entry, expected, observed, [(lit_round.lit_tensor, slot)]))
            if sum(len(item[1]) > 0 for item in items) >= count:
                break
    # Entries where the model also pairs the lit entry with something make the clearest evidence.
    items.sort(key=lambda item: len(item[1]) == 0)
    return items[:count]


def _rows_of(terms, tensor, index) -> np.ndarray:
    one, _ = terms.factors
    rows = terms.first if one == tensor else terms.second
    return (rows == np.array(index)).all(axis=1) if len(rows) else np.zeros(0, dtype=bool)


def _same(a: Terms, b: Terms) -> bool:
    return len(a) == len(b) and np.array_equal(a.first, b.first) and np.array_equal(a.second, b.second) and \
        (a.coefficients is None) == (b.coefficients is None)


def contradicts(candidate, spec, quantity, rounds: list) -> str:
    """Why the lit rounds refute a candidate ('' when every output of every lit call is what it
    predicts for those inputs)."""
    for lit_round in rounds:
        inputs = lit_round.inputs()
        predicted = np.asarray(candidate.predict(inputs))
        if predicted.shape != lit_round.shape:
            return f"it predicts shape {predicted.shape} on the lit calls"
        wrong = int((predicted.reshape(-1) != lit_round.by_id).sum())
        if wrong:
            return (f"on a lit call ({len(lit_round.slots)} {lit_round.lit_tensor} entries lit, "
                    f"{lit_round.id_tensor} holding ids) {wrong} entries differ from what it predicts")
    return ""


def inputs_of_round(spec, quantity, lit_round) -> dict:
    return {n: a for n, a in lit_round.inputs().items() if n in INPUTS[quantity]}


def fit_and_test(runner, spec, quantity, path, verification, diagnosis, rng, shared,
                 max_rounds: int = FIT_ROUNDS, shown: int = 3) -> None:
    """When no enumerated hypothesis explains the probes: lit rounds, fitted candidates, each
    tested against every verification probe and against the lit calls themselves; then, when
    none is accepted, lit rounds aimed at a local difference and regional candidates.  The
    accepted ones join ``diagnosis.accepted``, with the decoded terms of a few wrong entries as
    evidence."""
    import time

    from ..probing.localisation import BudgetSpent
    from . import regions
    ctx = diagnosis.context
    if ctx is None:
        return
    started = time.monotonic()
    # At most half the search's calls: what is left localises entries one by one.
    cap = min(2 * (max_rounds + regions.REGION_ROUNDS), shared.calls // 4 * 2)
    spent, stopped = [0], [""]

    def spend(count):   # this fit's own cap, then the search's budget the caller shares
        if spent[0] + count > cap:
            stopped[0] = f"its {cap} lit calls are spent"
            raise BudgetSpent()
        try:
            shared.spend(count)
        except BudgetSpent:
            stopped[0] = shared.stopped
            raise
        spent[0] += count
    rounds = []
    try:
        result = fit(runner, spec, quantity, path, ctx, rng, spend, max_rounds)
        rounds = list(result.rounds)
        _test(diagnosis, ctx, result.candidates, rounds)
        if result.stopped and not rounds:
            diagnosis.fit_note = result.stopped
        elif not diagnosis.accepted and ctx.shape == ctx.model_shape:
            rounds += regions.aimed_rounds(runner, spec, quantity, path, ctx, verification.mismatch, rng,
                                           spend)
            records = all_records(rounds)
            if records is not None and len(records):
                ok = regions.explained(spec, records)
                _test(diagnosis, ctx, list(filter(None, regions.regional_candidates(ctx, records, ok,
                                                                                    verification.mismatch))),
                      rounds)
    except BudgetSpent:
        diagnosis.fit_note = f"the fit stopped: {stopped[0]}"
    except lit_probes.LitUnavailable as err:
        diagnosis.fit_note = f"the backend failed on a lit call ({err})"
    diagnosis.fit_calls = spent[0]
    if diagnosis.accepted and rounds:
        diagnosis.fitted_evidence = observed_evidence(spec, quantity, rounds, verification, diagnosis.accepted[0],
                                                      shown)
        lit_round = rounds[0]
        diagnosis.fitted_evidence_text = (
            f"observed with {len(lit_round.slots)} {lit_round.lit_tensor} "
            f"entr{'y' if len(lit_round.slots) == 1 else 'ies'} lit at once and {lit_round.id_tensor} holding ids "
            f"(each entry below decoded to the one lit entry it read), as the diagnosis predicts")
    elif rounds and not diagnosis.fit_note:
        records = all_records(rounds)
        diagnosis.fit_note = (f"{len(records)} terms decoded from {len(rounds)} lit "
                              f"round{'s' if len(rounds) != 1 else ''} ({spent[0]} backend calls) fit no "
                              f"geometry, kernel map or local rule")
    diagnosis.seconds += time.monotonic() - started


def _test(diagnosis, ctx, candidates, rounds) -> None:
    for candidate in candidates:
        diagnosis.tested += 1
        diagnosis.fitted += 1
        if not candidate.explains(ctx.observed):
            continue
        why = contradicts(candidate, ctx.spec, ctx.quantity, rounds)
        if why:
            diagnosis.contradicted.append((candidate, why))
            continue
        diagnosis.accepted.append(candidate)
