"""The padding a backend used, read from its terms: one-hot tap probes and what they show.

``tap_observations`` sets one kernel tap (forward, input_grad) or one output position
(filter_grad) to one at a time with the other factor id-valued, so that every nonzero output
names the pixel it read; ``read_pads`` turns observed terms into a pad before per axis and
``explain_pads`` names every convention that gives it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import INVALID_OUTPUT, Call, Outcome
from ..errors import SymconvError
from ..model import layout
from ..model.quantities import FACTORS, INPUTS, SHAPED_LIKE
from ..model.spec import ConvSpec
from .probe import HASH_RANGE, ID_LIMIT

# ---- padding, as read from terms ------------------------------------------------------------

@dataclass
class PadReading:
    """What the observed terms say about each spatial axis: one ``before`` value, none seen
    (every tap read padding) or several (no single padding explains the terms)."""

    befores: list            # per axis: set of observed before values

    def before(self, axis: int):
        values = self.befores[axis]
        return next(iter(values)) if len(values) == 1 else None

    def state(self, axis: int) -> str:
        n = len(self.befores[axis])
        return "unobserved" if n == 0 else ("consistent" if n == 1 else "inconsistent")


def read_pads(spec: ConvSpec, quantity: str, observations: list) -> PadReading:
    """``observations``: (entry index, first-factor rows, second-factor rows) in the spec's
    layouts; each term gives before = stride * o + dilation * a - p on every axis."""
    roles = layout.roles(spec)
    one, two = FACTORS[quantity]
    nd = spec.ndim
    befores = [set() for _ in range(nd)]
    strides, dilations = np.array(spec.strides), np.array(spec.dilations)
    for entry, first, second in observations:
        count = len(first)
        if not count:
            continue
        parts = {}
        for name, rows in ((SHAPED_LIKE[quantity], np.tile(np.asarray(entry), (count, 1))),
                           (one, first), (two, second)):
            canon = layout.index_from_user(spec, name, np.asarray(rows, dtype=np.int64))
            parts[roles[name]] = canon[:, 2:]
        values = strides * parts["direct_output"] + dilations * parts["kernel"] - parts["direct_input"]
        for axis in range(nd):
            befores[axis].update(int(v) for v in np.unique(values[:, axis]))
    return PadReading(befores)


def explain_pads(spec: ConvSpec, reading: PadReading, out_spatial) -> tuple:
    """(pads per axis, each [before, after] or None, conventions that explain them).

    ``after`` is observable only as a range (any value that keeps the same output size);
    the model's own after is reported when it fits, else a fitting convention's, else the
    smallest."""
    from ..model import conventions
    from ..model.conventions import effective_kernel
    pads, matches = [], set(conventions.REGISTRY)
    observed_any = False
    for axis in range(spec.ndim):
        before = reading.before(axis)
        if before is None:
            pads.append(None)
            if reading.state(axis) == "inconsistent":
                matches = set()
            continue
        observed_any = True
        size, k = spec.direct_input_spatial[axis], spec.kernel_spatial[axis]
        s, d = spec.strides[axis], spec.dilations[axis]
        out = out_spatial[axis]
        low = (out - 1) * s + effective_kernel(k, d) - size - before
        fits = {name for name, conv in conventions.REGISTRY.items()
                if conv(size, k, s, d).before == before and conv(size, k, s, d).out == out}
        matches &= fits
        model_before, model_after = spec.pads[axis]
        if model_before == before and low <= model_after < low + s:
            after = model_after
        elif fits:
            after = conventions.REGISTRY[sorted(fits)[0]](size, k, s, d).after
        else:
            after = low
        pads.append([before, after])
    return pads, (sorted(matches) if observed_any else [])


def out_spatial_of(spec: ConvSpec, quantity: str, shape) -> tuple:
    """The spatial sizes of the direct output (its positions) as seen in an observed shape."""
    holder = SHAPED_LIKE[quantity]
    if spec.role(holder) == "direct_output":
        return tuple(tuple(shape)[axis] for axis in layout.spatial_axes(spec, holder))
    return spec.direct_output_spatial


# ---- tap probes: the padding a quantity uses, read from a few one-hot calls ------------------

@dataclass
class TapReading:
    """What the one-hot tap probes of one quantity showed.

    ``observations`` feed read_pads; ``calls`` keeps each one-hot position's inputs and output (to
    check a reading against every output afterwards); ``garbage`` counts outputs that no tap
    can produce, by kind, with the first few entries in ``garbage_entries``."""

    observations: list = field(default_factory=list)
    shape: tuple | None = None
    failed: object = None
    calls: list = field(default_factory=list)       # (inputs dict, output by ids)
    garbage: dict = field(default_factory=dict)     # kind -> count
    garbage_entries: list = field(default_factory=list)
    outputs: int = 0                                # outputs seen over all one-hot positions


GARBAGE_SHOWN = 3


def tap_observations(runner, spec: ConvSpec, quantity: str, path: str, rng, max_positions: int = 16) -> TapReading:
    """Light one kernel tap (forward, input_grad) or one output position (filter_grad) at a
    time with the other factor id-valued; every nonzero output names the pixel it read.
    Outputs that are not finite, not integers, or not a single partner's id are counted as
    garbage, never read as pads."""
    roles = layout.roles(spec)
    one, two = FACTORS[quantity]
    if quantity == "filter_grad":
        one_hot = one if roles[one] == "direct_output" else two
    else:
        one_hot = "k"
    id_valued = two if one_hot == one else one
    id_size = math.prod(spec.shape_of(id_valued))
    if id_size > ID_LIMIT:
        raise SymconvError(f"{id_valued} has {id_size} entries, more than {ID_LIMIT}: too many to give each "
                           f"an exact id; use a smaller shape")
    hashed = rng.integers(0, max(id_size, HASH_RANGE), size=id_size) + 1
    ids = np.arange(1, id_size + 1)
    one_hot_shape = spec.shape_of(one_hot)
    positions = _one_hot_positions(spec, one_hot, max_positions)
    reading = TapReading()
    one_hot_count = 0
    for canon in positions:
        index = tuple(int(v) for v in layout.index_to_user(spec, one_hot, np.array([canon], dtype=np.int64))[0])
        one_hot_values = np.zeros(one_hot_shape, dtype=np.float32)
        one_hot_values[index] = 1
        calls = []
        for values in (ids, hashed):
            tensors = {one_hot: one_hot_values, id_valued: values.reshape(spec.shape_of(id_valued)).astype(np.float32)}
            calls.append(Call(spec, quantity, path, {n: tensors[n] for n in INPUTS[quantity]}))
        outcomes = runner.run(calls)
        failed = next((o for o in outcomes if o.status != "ok"), None)
        if failed is not None:
            reading.failed = failed
            return reading
        seen = ([reading.shape] if reading.shape is not None else []) + [o.value.shape for o in outcomes]
        shapes = list(dict.fromkeys(seen))  # distinct, in the order they came
        if len(shapes) > 1:
            reading.failed = Outcome("error", error_type=INVALID_OUTPUT, message=(
                f"{quantity} returned outputs of different shapes from call to call: {shapes[0]}, then {shapes[1]}"))
            return reading
        by_id, by_hash = (np.asarray(o.value, dtype=np.float64) for o in outcomes)
        reading.shape = by_id.shape
        reading.calls.append((calls[0].tensors, by_id))
        reading.outputs += by_id.size
        _count_garbage(reading, by_id, by_hash)
        for entry in np.argwhere((by_id != 0) & np.isfinite(by_id)):
            entry = tuple(int(v) for v in entry)
            v_id, v_hash = by_id[entry], by_hash[entry]
            if v_id != int(v_id) or v_id < 1 or v_id > id_size or v_hash != hashed[int(v_id) - 1]:
                continue  # not a single partner with coefficient 1: counted above, not a tap
            partner = np.array([np.unravel_index(int(v_id) - 1, spec.shape_of(id_valued))])
            one_hot_row = np.array([index])
            first, second = (one_hot_row, partner) if one_hot == one else (partner, one_hot_row)
            reading.observations.append((entry, first, second))
        pads = read_pads(spec, quantity, reading.observations)
        seen = [pads.state(axis) != "unobserved" for axis in range(spec.ndim)]
        one_hot_count += 1
        if all(seen) and one_hot_count >= 3:  # first, last and middle at least: a stride bug shows across them
            break
    return reading


def _count_garbage(reading: TapReading, by_id, by_hash) -> None:
    """Outputs of one one-hot position that no sum of products of integer probes can give:
    non-finite values and values that are not integers."""
    finite = np.isfinite(by_id) & np.isfinite(by_hash)
    whole = np.zeros(by_id.shape, dtype=bool)
    whole[finite] = (by_id[finite] == np.rint(by_id[finite])) & (by_hash[finite] == np.rint(by_hash[finite]))
    for kind, mask in (("non-finite (NaN or Inf)", ~finite), ("not an integer", finite & ~whole)):
        count = int(mask.sum())
        if count:
            reading.garbage[kind] = reading.garbage.get(kind, 0) + count
            for entry in np.argwhere(mask)[:GARBAGE_SHOWN - len(reading.garbage_entries)]:
                reading.garbage_entries.append((tuple(int(v) for v in entry), kind))


def _one_hot_positions(spec, one_hot, limit) -> list:
    """Canonical indices to light, channel 0: the first, last and middle kernel tap (or output
    position), then the rest in order."""
    role = layout.roles(spec)[one_hot]
    sizes = {"kernel": spec.kernel_spatial, "direct_output": spec.direct_output_spatial,
             "direct_input": spec.direct_input_spatial}[role]
    if 0 in sizes:
        return []
    corners = [tuple(0 for _ in sizes), tuple(s - 1 for s in sizes), tuple(s // 2 for s in sizes)]
    rest = itertools.product(*[range(s) for s in sizes])
    spatial = list(dict.fromkeys(corners + [p for _, p in zip(range(limit), rest)]))
    return [(0, 0) + tuple(p) for p in spatial[:limit]]
