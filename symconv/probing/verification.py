"""Verification: every entry of one quantity checked against the model on exact random probes.

Each probe costs one backend call per quantity, whatever the tensor size; the model side is
checked row by row through random channel weights (Freivalds' trick, exact in float64), which
costs a small fraction of a convolution.  Only when a row differs is the full model evaluated.
Values no correct backend can produce (non-finite, not integers, beyond the bound) are marked
without a search.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import Call
from ..model import layout
from ..model.indexmap import maps_for
from ..model.quantities import SHAPED_LIKE, TENSOR_OF
from ..model.spec import ConvSpec
from .probe import MISS_PROBABILITY, ProbePlan, ProbeSet, nonzero_integers

# ---- comparing one output with the model ---------------------------------------------------

def result_shape(spec: ConvSpec, quantity: str) -> tuple:
    return tuple(spec.shape_of(TENSOR_OF[quantity]))


def _padded_spatial(array, nd):
    """One extra zero slot at the end of every spatial axis: tap -1 (padding) reads it."""
    out = np.zeros((array.shape[0],) + tuple(n + 1 for n in array.shape[1:1 + nd]) + array.shape[1 + nd:],
                   dtype=array.dtype)
    out[(slice(None),) + tuple(slice(0, n) for n in array.shape[1:1 + nd])] = array
    return out


def row_sums(spec: ConvSpec, quantity: str, inputs: dict, observed: np.ndarray, weights: np.ndarray,
             wide=None):
    """(observed reduced over one channel axis with ``weights``, the model's same reduction):
    equal arrays for a correct backend.  All arithmetic is exact in float64 under the bound.
    ``wide`` converts an input to float64 (a ProbeSet caches the conversion)."""
    maps = maps_for(spec)
    roles = layout.roles(spec)
    nd, groups, per_input, per_output = spec.ndim, maps.groups, maps.input_per_group, maps.output_per_group
    offsets = list(itertools.product(*[range(k) for k in spec.kernel_spatial]))
    wide = wide or (lambda array: np.asarray(array, dtype=np.float64))
    t = {name: layout.to_channels_last(spec, name, wide(arr)) for name, arr in inputs.items()}
    inputs_ = next((t[n] for n in t if roles[n] == "direct_input"), None)
    outputs = next((t[n] for n in t if roles[n] == "direct_output"), None)
    kernel = t.get("k")
    obs = layout.to_channels_last(spec, SHAPED_LIKE[quantity], observed)
    out_role = roles[SHAPED_LIKE[quantity]]
    if kernel is not None:
        kernel = kernel.reshape(spec.kernel_spatial + (per_input, groups, per_output))
    if out_role == "direct_output":
        lhs = np.einsum("...c,c->...", obs, weights)
        v = np.einsum("...lgs,gs->...gl", kernel, weights.reshape(groups, per_output))
        z = _padded_spatial(inputs_ @ v.reshape(len(offsets), -1).T, nd)
        rhs = np.zeros(lhs.shape)
        for flat, offset in enumerate(offsets):
            rhs += z[(slice(None),) + maps.tap_index(offset) + (flat,)]
        return lhs, rhs
    if out_role == "direct_input":
        lhs = np.einsum("...c,c->...", obs, weights)
        u = np.einsum("...lgs,gl->...gs", kernel, weights.reshape(groups, per_input))
        z = outputs @ u.reshape(len(offsets), -1).T
        rhs = np.zeros((lhs.shape[0],) + tuple(n + 1 for n in lhs.shape[1:]))
        for flat, offset in enumerate(offsets):
            rhs[(slice(None),) + maps.tap_index(offset)] += z[..., flat]
        return lhs, rhs[(slice(None),) + (slice(0, -1),) * nd]
    lhs = np.einsum("...ls,l->...s", obs, weights)
    reduced = _padded_spatial(inputs_.reshape(inputs_.shape[:-1] + (groups, per_input)) @ weights, nd)
    gathered = np.stack([reduced[(slice(None),) + maps.tap_index(offset) + (slice(None),)]
                         for offset in offsets])
    rows = outputs.reshape(-1, groups, per_output)
    gathered = gathered.reshape(len(offsets), -1, groups)
    rhs = np.stack([_tall_product(gathered[:, :, grp], rows[:, grp, :]) for grp in range(groups)], axis=1)
    return lhs, rhs.reshape(spec.kernel_spatial + (-1,))


def _tall_product(a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
    """a (A, T) @ b (T, S) for a long T, as a sum of small batched products: one large BLAS
    call with a long inner axis can stall for tens of milliseconds on a busy machine."""
    blocks, rest = divmod(a.shape[1], chunk)
    head = blocks * chunk
    out = a[:, head:] @ b[head:]
    if blocks:
        out += np.matmul(a[:, :head].reshape(a.shape[0], blocks, chunk).transpose(1, 0, 2),
                         b[:head].reshape(blocks, chunk, b.shape[1])).sum(axis=0)
    return out


def weight_axis(spec: ConvSpec, quantity: str) -> int:
    maps = maps_for(spec)
    role = layout.roles(spec)[SHAPED_LIKE[quantity]]
    return {"direct_output": spec.direct_output_channels, "direct_input": spec.direct_input_channels,
            "kernel": maps.input_per_group}[role]


@dataclass
class ProbeResult:
    """One verification probe: its inputs (exact integers) and what the backend returned."""

    inputs: dict
    observed: np.ndarray


@dataclass
class Changed:
    """A repeated call on the same inputs that did not return what the first call did: one
    entry's two values, or what happened instead (an exception, another shape)."""

    quantity: str
    probe: int
    index: tuple | None = None
    first: float | None = None
    again: float | None = None
    note: str = ""

    def sentence(self) -> str:
        from ..model.spec import entry_name
        if self.index is None:
            return f"probe {self.probe + 1}, called again: {self.note}"
        return (f"{entry_name(self.quantity, self.index)}: {_value(self.first)} on the first call, "
                f"{_value(self.again)} on a repeated call with the same inputs (probe {self.probe + 1})")

    def as_json(self) -> dict:
        from ..model.spec import entry_name
        return {"entry": None if self.index is None else entry_name(self.quantity, self.index),
                "probe": self.probe, "first": _json_value(self.first), "again": _json_value(self.again),
                "note": self.note or None}


def _value(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _json_value(v):
    if v is None or not np.isfinite(v):
        return None if v is None else repr(float(v))
    return int(v) if float(v).is_integer() else float(v)


@dataclass
class Verification:
    """Everything the verification probes showed about one (quantity, path)."""

    quantity: str
    plan: ProbePlan
    expected_shape: tuple = ()
    probes: list = field(default_factory=list)
    mismatch: np.ndarray | None = None   # bool, the output's shape: differs on some probe
    notes: list = field(default_factory=list)
    repeats: int = 0                     # probes called again on the same inputs
    changed: list = field(default_factory=list)   # Changed: what differed on those calls (a few)
    changed_count: int = 0               # entries that changed, in all

    @property
    def mismatch_count(self) -> int:
        return 0 if self.mismatch is None else int(self.mismatch.sum())

    def mismatching_entries(self, limit: int | None = None) -> list:
        if self.mismatch is None:
            return []
        rows = np.argwhere(self.mismatch)
        return [tuple(int(v) for v in row) for row in (rows if limit is None else rows[:limit])]


def compare(spec: ConvSpec, plan: ProbePlan, inputs: dict, observed: np.ndarray, rng, wide=None) -> tuple:
    """(bool mismatch mask, {kind of impossible value: count}) for one probe; the full model is
    evaluated only when the row check finds a difference or a value no correct backend can
    produce."""
    values = np.asarray(observed)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    if values.size and np.array_equal(values, np.rint(values)) and np.abs(values).max() <= plan.value_limit:
        weights = nonzero_integers(rng, weight_axis(spec, plan.quantity), plan.weights).astype(np.float64)
        lhs, rhs = row_sums(spec, plan.quantity, inputs, values, weights, wide)
        if np.array_equal(lhs, rhs):
            return np.zeros(values.shape, dtype=bool), {}
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    whole = np.zeros(values.shape, dtype=bool)
    whole[finite] = values[finite] == np.rint(values[finite])
    suspicious = ~finite | ~whole | (np.abs(np.where(finite, values, 0)) > plan.value_limit)
    notes = {"non-finite values": int((~finite).sum()),
             "values that are not integers (probes are integer-valued)": int((finite & ~whole).sum())}
    exact = {name: np.asarray(arr).astype(np.int64) for name, arr in inputs.items()}
    model = maps_for(spec).evaluate(plan.quantity, **exact)
    with np.errstate(invalid="ignore"):
        return suspicious | (values != model), notes



@dataclass
class PendingVerification:
    """The probes of one quantity have run; their comparisons may still be running."""

    verification: Verification
    comparisons: list
    failed: object = None
    shape: tuple | None = None

    def finish(self) -> tuple:
        """(Verification, first failed Outcome or None, observed shape)."""
        verification = self.verification
        if self.failed is not None or self.shape != verification.expected_shape:
            return verification, self.failed, self.shape
        mask = np.zeros(self.shape, dtype=bool)
        counts = {}
        for future in self.comparisons:
            differs, notes = future.result()
            mask |= differs
            for what, count in notes.items():
                counts[what] = counts.get(what, 0) + count
        verification.mismatch = mask
        verification.notes = [f"{count} {what} over {len(verification.probes)} probes"
                              for what, count in counts.items() if count]
        return verification, None, self.shape


CHANGED_SHOWN = 3   # changed entries kept for the report


def repeat_probes(runner, spec: ConvSpec, quantity: str, path: str, verification: Verification,
                  repeat: int) -> None:
    """Call the backend ``repeat`` more times on the inputs of probes already taken (in turn),
    and record every entry whose value is not what the first call returned: a correct
    implementation is a function of its inputs, and the miss bound of the probes assumes it."""
    taken = verification.probes
    for i in range(repeat if taken else 0):
        j = i % len(taken)
        first = np.asarray(taken[j].observed)
        outcome = runner.run([Call(spec, quantity, path, taken[j].inputs)])[0]
        verification.repeats += 1
        if outcome.status != "ok":
            what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
            verification.changed.append(Changed(quantity, j, note=f"it failed ({what}) where the first call "
                                                                   f"returned an output"))
            verification.changed_count += 1
            continue
        again = np.asarray(outcome.value)
        if again.shape != first.shape:
            verification.changed.append(Changed(quantity, j, note=f"it returned shape {again.shape} where the "
                                                                   f"first call returned {first.shape}"))
            verification.changed_count += 1
            continue
        with np.errstate(invalid="ignore"):
            differs = (again != first) & ~(np.isnan(again.astype(np.float64)) & np.isnan(first.astype(np.float64)))
        count = int(differs.sum())
        verification.changed_count += count
        for index in np.argwhere(differs)[:max(CHANGED_SHOWN - len(verification.changed), 0)]:
            index = tuple(int(v) for v in index)
            verification.changed.append(Changed(quantity, j, index, float(first[index]), float(again[index])))


def start_verification(runner, spec: ConvSpec, quantity: str, path: str, probes: ProbeSet,
                       miss_probability: float = MISS_PROBABILITY, repeat: int = 0) -> PendingVerification:
    """Run the verification probes one by one, each comparison starting (on the probe set's
    pool) while the backend computes the next probe; then ``repeat`` of them again."""
    plan = ProbePlan.for_quantity(spec, quantity, miss_probability)
    verification = Verification(quantity, plan, expected_shape=result_shape(spec, quantity))
    pending = PendingVerification(verification, [], shape=verification.expected_shape)
    for j in range(plan.probes):
        call = Call(spec, quantity, path, probes.inputs(quantity, j))
        outcome = runner.run([call])[0]
        if outcome.status != "ok":
            pending.failed, pending.shape = outcome, None
            break
        if outcome.value.shape != verification.expected_shape:
            # Keep probing at the same cost: an alternative model may explain the shape too.
            if pending.shape not in (verification.expected_shape, tuple(outcome.value.shape)):
                break
            pending.shape = tuple(outcome.value.shape)
            verification.probes.append(ProbeResult(call.tensors, outcome.value))
            continue
        verification.probes.append(ProbeResult(call.tensors, outcome.value))
        pending.comparisons.append(probes.run(compare, spec, plan, call.tensors, outcome.value, probes.rng,
                                              probes.wide))
    if pending.failed is None:
        repeat_probes(runner, spec, quantity, path, verification, repeat)
    return pending


def verify(runner, spec: ConvSpec, quantity: str, path: str, probes: ProbeSet,
           miss_probability: float = MISS_PROBABILITY, repeat: int = 0) -> tuple:
    """Run the verification probes: (Verification, first failed Outcome or None, observed shape)."""
    return start_verification(runner, spec, quantity, path, probes, miss_probability, repeat).finish()
