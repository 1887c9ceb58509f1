"""Lit probes: many slots of one factor lit at once, the other factor holding ids, two calls.

Each lit slot j holds 1 on the first call and its own multiplier j + 1 on the second; the
other factor holds ids (1, 2, ...) on the first and hashed ids on the second.  An output entry
that multiplies one lit slot j by one partner p, c times, then reads c*(p + 1) and
(j + 1)*c*(hash[p] + 1): the first names the partner and the coefficient, the second confirms
them and names the lit slot.  An entry that sums several lit terms passes for one with
probability about 2**-16 (the hash); it is then simply not decoded.  Every decoded term is
one term the backend computes: ``LitRound.records`` gives them as rows of the direct
convolution's roles (direct input, direct output, kernel), whatever the op and layouts.

Slots are chosen (``spread``) so that under the model no output entry reads two of them, and
so that together they exercise every channel, kernel slice and tap: what each lit slot should
have met under a geometry is ``exercised``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..backends.base import Call
from ..model import layout
from ..model.quantities import FACTORS, INPUTS, SHAPED_LIKE
from ..model.spec import ConvSpec
from .probe import EXACT, ID_LIMIT

LIT_HASH_RANGE = 2**16      # hashed ids: 1 .. 2**16
MAX_COEFFICIENT = 8         # |c| tried when decoding
MAX_LIT = EXACT // (LIT_HASH_RANGE + 1) // 2   # multipliers stay exact with a coefficient up to 2


class LitUnavailable(Exception):
    """The backend failed or changed its output's shape on a lit call (the message says how)."""


def lit_plan(spec: ConvSpec, quantity: str) -> tuple:
    """(lit factor, id-valued factor) for reading a quantity's terms whole: the activation that is
    not the output lights (the direct input when the direct output is filled, else the direct
    output), the other factor holds ids."""
    roles = layout.roles(spec)
    filled = roles[SHAPED_LIKE[quantity]]
    one, two = FACTORS[quantity]
    want = "direct_input" if filled == "direct_output" else "direct_output"
    lit = one if roles[one] == want else two
    return lit, (two if lit == one else one)


@dataclass
class Records:
    """Decoded terms as canonical rows of the three roles, one row per term."""

    direct_input: np.ndarray      # (T, 2 + nd): n, channel, position...
    direct_output: np.ndarray     # (T, 2 + nd): n, channel, position...
    kernel: np.ndarray            # (T, 2 + nd): direct output channel, input channel in group, tap...
    coefficients: np.ndarray      # (T,)
    lit: np.ndarray               # (T,) which lit slot (index into the round's slots)
    entries: np.ndarray           # (T,) flat index of the output entry

    def __len__(self) -> int:
        return len(self.coefficients)

    def take(self, keep) -> "Records":
        return Records(self.direct_input[keep], self.direct_output[keep], self.kernel[keep],
                       self.coefficients[keep], self.lit[keep], self.entries[keep])

    @staticmethod
    def join(parts: list) -> "Records":
        return Records(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                         ("direct_input", "direct_output", "kernel", "coefficients", "lit", "entries")))


@dataclass
class LitRound:
    """One pair of lit calls: which slots were lit, what every output entry decoded to."""

    spec: ConvSpec
    quantity: str
    lit_tensor: str
    id_tensor: str
    slots: np.ndarray             # flat indices (spec layout) of the lit slots, in multiplier order
    shape: tuple                  # the observed output's shape
    slot_of: np.ndarray           # per output entry: lit slot index, -1 nothing read, -2 not decoded
    partner: np.ndarray           # per output entry: flat index of the id-valued partner (or -1)
    coefficient: np.ndarray       # per output entry: the coefficient (or 0)
    by_id: np.ndarray | None = None   # the first call's output, flat

    def inputs(self) -> dict:
        """The first call's inputs (lit slots 1, ids 1, 2, ...), float64 in the spec's layouts."""
        spec = self.spec
        lit = np.zeros(math.prod(spec.shape_of(self.lit_tensor)))
        lit[self.slots] = 1
        ids = np.arange(1, math.prod(spec.shape_of(self.id_tensor)) + 1, dtype=np.float64)
        tensors = {self.lit_tensor: lit.reshape(spec.shape_of(self.lit_tensor)),
                   self.id_tensor: ids.reshape(spec.shape_of(self.id_tensor))}
        return {n: tensors[n] for n in INPUTS[self.quantity]}

    @property
    def records(self) -> Records:
        entries = np.flatnonzero(self.slot_of >= 0)
        spec, quantity = self.spec, self.quantity
        roles = layout.roles(spec)
        out_name = SHAPED_LIKE[quantity]
        rows = {roles[out_name]: _canonical(spec, out_name, entries, self.shape),
                roles[self.lit_tensor]: _canonical(spec, self.lit_tensor, self.slots[self.slot_of[entries]]),
                roles[self.id_tensor]: _canonical(spec, self.id_tensor, self.partner[entries])}
        return Records(rows["direct_input"], rows["direct_output"], rows["kernel"],
                       self.coefficient[entries], self.slot_of[entries], entries)

    @property
    def undecoded(self) -> int:
        return int((self.slot_of == -2).sum())

    def lit_rows(self) -> np.ndarray:
        """The lit slots as canonical rows of their role."""
        return _canonical(self.spec, self.lit_tensor, self.slots)


def _canonical(spec, tensor, flat, shape=None) -> np.ndarray:
    shape = tuple(shape or spec.shape_of(tensor))
    if not len(flat):
        return np.zeros((0, len(shape)), dtype=np.int64)
    rows = np.stack(np.unravel_index(np.asarray(flat, dtype=np.int64), shape), axis=1).astype(np.int64)
    return layout.index_from_user(spec, tensor, rows)


def id_hash(rng, size: int) -> np.ndarray:
    return rng.integers(0, LIT_HASH_RANGE, size=size).astype(np.int64)


def light(runner, spec: ConvSpec, quantity: str, path: str, lit_tensor: str, slots, rng, spend=None,
          shape=None) -> LitRound:
    """Light ``slots`` (flat indices of ``lit_tensor``) with the other factor id-valued: two
    backend calls (``spend(2)`` is asked first, and may raise to stop).  ``shape``: the output's
    shape as the backend returns it (the model's by default)."""
    id_tensor = next(t for t in FACTORS[quantity] if t != lit_tensor)
    id_size = math.prod(spec.shape_of(id_tensor))
    slots = np.asarray(slots, dtype=np.int64)
    if id_size > ID_LIMIT or len(slots) > MAX_LIT:
        raise ValueError(f"cannot light {len(slots)} slots against {id_size} ids")
    hashed = id_hash(rng, id_size)
    ids = np.arange(1, id_size + 1, dtype=np.int64)
    lit_shape = spec.shape_of(lit_tensor)
    ones = np.zeros(math.prod(lit_shape), dtype=np.float32)
    ones[slots] = 1
    multiplied = np.zeros_like(ones)
    multiplied[slots] = np.arange(1, len(slots) + 1)
    calls = []
    for lit_values, id_values in ((ones, ids), (multiplied, hashed + 1)):
        tensors = {lit_tensor: lit_values.reshape(lit_shape),
                   id_tensor: id_values.astype(np.float32).reshape(spec.shape_of(id_tensor))}
        calls.append(Call(spec, quantity, path, {n: tensors[n] for n in INPUTS[quantity]}))
    if spend is not None:
        spend(2)
    outcomes = runner.run(calls)
    failed = next((o for o in outcomes if o.status != "ok"), None)
    if failed is not None:
        raise LitUnavailable(f"{failed.error_type or failed.status}: {failed.message}")
    want = tuple(shape) if shape is not None else tuple(spec.shape_of(SHAPED_LIKE[quantity]))
    values = []
    for outcome in outcomes:
        value = np.asarray(outcome.value, dtype=np.float64)
        if value.shape != want:
            raise LitUnavailable(f"output shape changed to {value.shape} on a lit call")
        values.append(value.reshape(-1))
    slot_of, partner, coefficient = decode(values[0], values[1], hashed, len(slots))
    return LitRound(spec, quantity, lit_tensor, id_tensor, slots, want, slot_of, partner, coefficient, values[0])


def decode(by_id: np.ndarray, by_hash: np.ndarray, hashed: np.ndarray, lit: int) -> tuple:
    """Per entry: (lit slot or -1 (nothing) or -2 (not one term), partner, coefficient)."""
    size = len(by_id)
    slot_of = np.full(size, -2, dtype=np.int64)
    partner = np.full(size, -1, dtype=np.int64)
    coefficient = np.zeros(size, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(by_id) & np.isfinite(by_hash) & (by_id == np.rint(by_id)) & (by_hash == np.rint(by_hash))
    slot_of[whole & (by_id == 0) & (by_hash == 0)] = -1
    candidates = np.flatnonzero(whole & (by_id != 0))
    v_id = by_id[candidates].astype(np.int64)
    v_hash = by_hash[candidates].astype(np.int64)
    fits = np.zeros(len(candidates), dtype=np.int64)
    found_slot = np.zeros(len(candidates), dtype=np.int64)
    found_partner = np.zeros(len(candidates), dtype=np.int64)
    found_coef = np.zeros(len(candidates), dtype=np.int64)
    for c in itertools.chain(range(1, MAX_COEFFICIENT + 1), range(-1, -MAX_COEFFICIENT - 1, -1)):
        ok = (v_id % c == 0) & (v_id // c >= 1) & (v_id // c <= len(hashed))
        p = np.where(ok, v_id // c - 1, 0)
        unit = c * (hashed[p] + 1)
        ok &= v_hash % unit == 0
        q = np.where(ok, v_hash // unit, 0)
        ok &= (q >= 1) & (q <= lit)
        fits += ok
        found_slot = np.where(ok, q - 1, found_slot)
        found_partner = np.where(ok, p, found_partner)
        found_coef = np.where(ok, c, found_coef)
    single = fits == 1
    slot_of[candidates[single]] = found_slot[single]
    partner[candidates[single]] = found_partner[single]
    coefficient[candidates[single]] = found_coef[single]
    return slot_of, partner, coefficient


# ---- which slots to light ----------------------------------------------------------------------

def _extent(spec: ConvSpec) -> np.ndarray:
    return np.array([(k - 1) * d + 1 for k, d in zip(spec.kernel_spatial, spec.dilations)], dtype=np.int64)


def spread(spec: ConvSpec, quantity: str, lit_tensor: str, limit: int = MAX_LIT, first=()) -> list:
    """Rounds of lit slots (each a list of flat indices of ``lit_tensor``) that together light every
    channel of the lit tensor at positions of every residue of the strides (where the direct input
    is lit), so that each kernel slice and tap is met.  Within a round no output entry reads two
    lit slots under the model, and lit positions sit as near the centre as they can.  ``first``:
    canonical rows (batch item, channel, position...) to light before the rest."""
    roles = layout.roles(spec)
    role, filled = roles[lit_tensor], roles[SHAPED_LIKE[quantity]]
    shape = spec.shape_of(lit_tensor)
    batch, channels = spec.batch, (spec.direct_input_channels if role == "direct_input"
                                   else spec.direct_output_channels)
    spatial = spec.direct_input_spatial if role == "direct_input" else spec.direct_output_spatial
    if 0 in spatial:
        return []
    extent = _extent(spec)
    moduli = [min(s, n) for s, n in zip(spec.strides, spatial)] if role == "direct_input" else [1] * spec.ndim
    gap = extent if role == "direct_input" else -(-extent // np.array(spec.strides, dtype=np.int64))
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij"), axis=-1).reshape(-1, spec.ndim)
    centre = (np.array(spatial) - 1) / 2
    distance = np.abs(grid - centre).sum(axis=1)
    requests = [(int(r[0]), int(r[1]), tuple(int(v) for v in r[2:])) for r in first]
    for c in range(channels):
        for residue in itertools.product(*[range(m) for m in moduli]):
            requests.append((None, c, residue))
    if filled == "kernel":
        # The filter gradient sums over batch and positions: one lit slot per channel a round, at
        # positions that vary from channel to channel so that the strides show.
        inner = grid[np.argsort(distance, kind="stable")[:9]]
        requests = [(n if n is not None else 0, c, r if n is not None else tuple(inner[c % len(inner)]))
                    for n, c, r in requests]
    rounds = []
    while requests and len(rounds) < 64:
        blocked = np.zeros((batch, len(grid)), dtype=bool)
        taken, rest, channels_used = [], [], set()
        for n, c, where in requests:
            if len(taken) >= limit or (filled == "kernel" and c in channels_used):
                rest.append((n, c, where))
                continue
            if filled == "kernel" or n is not None:
                item, flat = n, int(np.ravel_multi_index(where, spatial))
                if filled != "kernel" and blocked[item, flat]:
                    rest.append((n, c, where))
                    continue
            else:
                item, flat = _free(blocked, grid, distance, moduli, where)
                if item is None:
                    rest.append((n, c, where))
                    continue
            channels_used.add(c)
            taken.append((item, c, tuple(int(v) for v in grid[flat])))
            blocked[item] |= (np.abs(grid - grid[flat]) < gap).all(axis=1)
        if not taken:
            break
        rows = np.array([[n, c, *p] for n, c, p in taken], dtype=np.int64)
        user = layout.index_to_user(spec, lit_tensor, rows)
        rounds.append(np.ravel_multi_index(tuple(user.T), shape).astype(np.int64).tolist())
        requests = rest
    return rounds


def _free(blocked, grid, distance, moduli, residue) -> tuple:
    """(batch item, flat position) of the free position of ``residue`` nearest the centre."""
    fits = (grid % np.array(moduli) == np.array(residue)).all(axis=1)
    for item in range(blocked.shape[0]):
        options = fits & ~blocked[item]
        if options.any():
            return item, int(np.where(options, distance, np.inf).argmin())
    return None, None


def exercised(spec: ConvSpec, lit: LitRound, strides, dilations, befores) -> dict:
    """What each lit slot should meet under a geometry (per-axis strides, dilations, pads before):
    lit slot -> list of (other activation's canonical spatial position, tap).  For a lit direct
    input pixel p: the output positions o and taps a with s*o + d*a - before = p; for a lit direct
    output position o: the input positions and taps of its window (inside the input)."""
    roles = layout.roles(spec)
    role = roles[lit.lit_tensor]
    rows = lit.lit_rows()
    out_sizes, in_sizes = spec.direct_output_spatial, spec.direct_input_spatial
    found = {}
    for j, row in enumerate(rows):
        per_axis = []
        for axis, position in enumerate(row[2:]):
            s, d, b, k = strides[axis], dilations[axis], befores[axis], spec.kernel_spatial[axis]
            pairs = []
            for a in range(k):
                if role == "direct_input":
                    num = int(position) + b - d * a
                    if num % s == 0 and 0 <= num // s < out_sizes[axis]:
                        pairs.append((num // s, a))
                else:
                    p = s * int(position) + d * a - b
                    if 0 <= p < in_sizes[axis]:
                        pairs.append((p, a))
            per_axis.append(pairs)
        found[j] = [(tuple(pq for pq, _ in combo), tuple(a for _, a in combo)) for combo in itertools.product(*per_axis)]
    return found
