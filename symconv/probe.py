"""Exact probing: verify a backend against the index-map model, localise wrong entries, read pads.

The bound everything rests on: float32 represents every integer of magnitude up to 2**24
exactly, so a sum of integer products is computed exactly, in any order, as long as the sum
of the magnitudes of its terms stays within 2**24.  An entry that sums at most T products of
values bounded by R_a and R_b is exact when T * R_a * R_b <= 2**24; probes are drawn with
R = floor(sqrt(2**24 / T)) (at most 1024, so inputs stay exact even in TF32 or fp16), and a
correct backend then agrees with the model bit for bit.  No tolerance is involved anywhere.

Verification (principle 2): probe values are nonzero integers in [-R, R], drawn at random.
If an entry's observed bilinear form differs from the model's, the difference is a nonzero
polynomial of degree 2 and vanishes on a random probe with probability at most 1/R
(Schwartz-Zippel); ``probes`` independent probes bring that below ``MISS_PROBABILITY``.
Each probe costs one backend call per quantity, whatever the tensor size; the model side is
checked row by row through random channel weights (Freivalds' trick, exact in float64), which
costs a small fraction of a convolution.  Only when a row differs is the full model evaluated.

Localisation: for a wrong entry, the *lit* factor (the smaller of its two factors) is probed
in halves until the slots whose partners differ are isolated (a few calls per wrong slot,
shared by all entries under study), then each such slot is lit alone (one-hot) with the other
factor id-valued: the output is the id of the partner the backend multiplied, checked by a
second, hashed id.  The recovered term list is accepted only if it reproduces the backend's
values on every verification probe.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import layout
from .backends.base import INVALID_OUTPUT, Call, Outcome
from .errors import SymconvError
from .indexmap import Terms, maps_for
from .quantities import FACTORS, INPUTS, SHAPED_LIKE, TENSOR_OF
from .spec import ConvSpec

EXACT = 2**24                 # float32: every integer up to 2**24 is exact
MISS_PROBABILITY = 2**-12     # default: a wrong entry escapes every verification probe at most this often
MAX_PROBES = 10               # backend calls per quantity to verify a correct backend
MAX_MAGNITUDE = 1024          # probe values stay exact even in 11-bit (TF32, fp16) inputs
ID_LIMIT = 2**21              # id-valued tensors: at most this many entries (ids up to 2**21)
HASH_RANGE = 2**16            # the second, hashed id ranges at least this wide
LOCALISE_CALLS = 1000         # default budget: backend calls one quantity's localisation may spend
LOCALISE_SECONDS = 60.0       # default budget: seconds one quantity's localisation may spend

# ---- bounds -----------------------------------------------------------------------------

@lru_cache(maxsize=256)
def term_bound(spec: ConvSpec, quantity: str) -> int:
    """The most products any one entry of the quantity sums (0 when every tap is padding).

    >>> spec = ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", padding="SAME")
    >>> [term_bound(spec, q) for q in ("forward", "filter_grad", "input_grad")]
    [576, 3136, 576]
    """
    maps = maps_for(spec)
    role = layout.roles(spec)[SHAPED_LIKE[quantity]]
    per_axis = []
    for axis, taps in zip(maps.axes, maps.taps):
        inside = taps >= 0
        if taps.size == 0 or not inside.any():
            return 0
        if role == "direct_output":
            per_axis.append(int(inside.sum(axis=1).max()))
        elif role == "kernel":
            per_axis.append(int(inside.sum(axis=0).max()))
        else:
            per_axis.append(int(np.bincount(taps[inside], minlength=axis.input_size).max()))
    channels = {"direct_output": maps.input_per_group, "direct_input": maps.output_per_group,
                "kernel": spec.batch}[role]
    return channels * math.prod(per_axis)


def _weight_magnitude(spec: ConvSpec) -> int:
    """Freivalds weights w: |sum over C channels of w * value| <= C * 2**24 * w <= 2**53."""
    channels = max(spec.direct_input_channels, spec.direct_output_channels, 1)
    return max(1, min(2**15, 2**29 // channels))


@lru_cache(maxsize=256)
def magnitudes(spec: ConvSpec) -> dict:
    """Probe magnitude R per tensor (x, k, g): for every quantity, terms * R_a * R_b <= 2**24.

    Each tensor starts at the bound of its tightest quantity, sqrt(2**24 / terms); then each
    is raised as far as its partners allow.

    >>> magnitudes(ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", padding="SAME"))
    {'x': 73, 'k': 399, 'g': 73}
    """
    users = {t: [q for q in INPUTS if t in INPUTS[q]] for t in ("x", "k", "g")}
    terms = {q: max(term_bound(spec, q), 1) for q in INPUTS}
    r = {t: min([MAX_MAGNITUDE] + [math.isqrt(EXACT // terms[q]) for q in users[t]]) for t in users}
    for t in ("k", "x", "g"):
        partner = lambda q: next(o for o in INPUTS[q] if o != t)
        r[t] = min([MAX_MAGNITUDE] + [EXACT // (terms[q] * max(r[partner(q)], 1)) for q in users[t]])
    return r


@dataclass(frozen=True)
class ProbePlan:
    """How one quantity is verified: the magnitude of each input and the number of probes.

    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    >>> plan = ProbePlan.for_quantity(spec, "forward")
    >>> plan.terms, plan.magnitudes, plan.probes
    (1, (1024, 1024), 2)
    """

    quantity: str
    terms: int
    magnitudes: tuple   # of the quantity's two inputs, in INPUTS order
    weights: int
    probes: int

    @classmethod
    def for_quantity(cls, spec: ConvSpec, quantity: str, miss_probability: float = MISS_PROBABILITY) -> "ProbePlan":
        if isinstance(miss_probability, bool) or not isinstance(miss_probability, (int, float)) \
                or not 0 < miss_probability < 1:
            raise SymconvError(f"miss probability must be a number between 0 and 1, got {miss_probability!r}")
        terms = term_bound(spec, quantity)
        r = magnitudes(spec)
        pair = tuple(r[t] for t in INPUTS[quantity])
        weights = _weight_magnitude(spec)
        miss = cls._miss(pair, weights)
        probes = math.ceil(math.log(miss_probability) / math.log(miss) - 1e-9) if 0 < miss < 1 else MAX_PROBES + 1
        if probes > MAX_PROBES:
            raise SymconvError(
                f"{TENSOR_OF[quantity]} entries of this {spec.op} sum up to {terms} products: exact float32 "
                f"probing needs terms * R_a * R_b <= 2**24, so values stay within {min(pair)}, and a miss "
                f"probability of {miss_probability:.2g} would need more than {MAX_PROBES} probes; use a smaller "
                f"batch or input, or accept a larger miss probability")
        return cls(quantity, terms, pair, weights, max(probes, 1))

    @staticmethod
    def _miss(pair, weights) -> float:
        """Per probe: a nonzero bilinear difference vanishes with probability at most the sum
        of the largest point masses of its two factors' values (Schwartz-Zippel, one variable
        at a time; about 1/(2R) each), and the row check's random weights add theirs."""
        return sum(point_mass(r) for r in pair) + point_mass(weights)

    @property
    def miss_probability(self) -> float:
        return self._miss(self.magnitudes, self.weights) ** self.probes

    @property
    def value_limit(self) -> int:
        """No correct entry can exceed this magnitude on a probe."""
        return self.terms * self.magnitudes[0] * self.magnitudes[1]

    def as_json(self) -> dict:
        return {"max_terms_per_entry": self.terms, "magnitudes": dict(zip(INPUTS[self.quantity], self.magnitudes)),
                "probes": self.probes, "miss_probability": self.miss_probability}


def nonzero_integers(rng: np.random.Generator, shape, magnitude: int) -> np.ndarray:
    """Nonzero integers in [-magnitude, magnitude], as float32 (exact), each value with
    probability at most ``point_mass(magnitude)``.

    Each value is one 16-bit word of the generator's raw output mapped onto the 2R values by
    multiply-and-shift: no rejection loop, so drawing costs little more than the raw bits.
    """
    if not 1 <= magnitude <= 2**15:
        raise ValueError(f"magnitude must be in 1..2**15, got {magnitude}")
    count = math.prod(shape) if isinstance(shape, tuple) else int(shape)
    words = rng.bit_generator.random_raw((count + 3) // 4).view(np.uint16)[:count]
    values = ((words.astype(np.uint32) * np.uint32(2 * magnitude)) >> np.uint32(16)).astype(np.float32)
    values -= magnitude
    values += values >= 0
    return values.reshape(shape)


def point_mass(magnitude: int) -> float:
    """The largest probability nonzero_integers gives any one value: 2**16 words spread over
    2R values."""
    return math.ceil(2**16 / (2 * magnitude)) / 2**16


class ProbeSet:
    """The random probe tensors of one check, drawn once and shared by the quantities: probe
    j of forward and of filter_grad use the same x.

    With a ``pool`` (one worker thread), tensors are drawn and outputs compared on that thread
    while the backend computes the next probe; every use of ``rng`` then happens there, in
    submission order, so a seed still fixes every value.
    """

    def __init__(self, spec: ConvSpec, rng, pool=None):
        self.spec, self.rng, self.pool = spec, rng, pool
        self.magnitudes = magnitudes(spec)
        self._drawn, self._wide, self._pending = {}, {}, {}

    def _draw(self, key) -> np.ndarray:
        drawn = nonzero_integers(self.rng, self.spec.shape_of(key[0]), self.magnitudes[key[0]])
        drawn.flags.writeable = False  # backends may keep their own copy of it
        return drawn

    def prefetch(self, keys) -> None:
        """Start drawing these (name, j) tensors on the pool, in this order."""
        if self.pool is not None:
            for key in keys:
                if key not in self._drawn and key not in self._pending:
                    self._pending[key] = self.pool.submit(self._draw, key)

    def tensor(self, name: str, j: int) -> np.ndarray:
        """Probe j's tensor ``name`` (read-only)."""
        key = (name, j)
        if key not in self._drawn:
            self.prefetch([key])
            future = self._pending.pop(key, None)
            self._drawn[key] = future.result() if future is not None else self._draw(key)
        return self._drawn[key]

    def run(self, function, *args):
        """function(*args) on the pool (a future), or now (a finished stand-in)."""
        if self.pool is not None:
            return self.pool.submit(function, *args)
        return _Done(function(*args))

    def inputs(self, quantity: str, j: int) -> dict:
        return {name: self.tensor(name, j) for name in INPUTS[quantity]}

    def wide(self, array: np.ndarray) -> np.ndarray:
        """A probe tensor as float64, converted once however many quantities use it."""
        if not any(drawn is array for drawn in self._drawn.values()):
            return np.asarray(array, dtype=np.float64)
        if id(array) not in self._wide:
            self._wide[id(array)] = array.astype(np.float64)
        return self._wide[id(array)]


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


def _weight_axis(spec: ConvSpec, quantity: str) -> int:
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
class Verification:
    """Everything the verification probes showed about one (quantity, path)."""

    quantity: str
    plan: ProbePlan
    expected_shape: tuple = ()
    probes: list = field(default_factory=list)
    mismatch: np.ndarray | None = None   # bool, the output's shape: differs on some probe
    notes: list = field(default_factory=list)

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
        weights = nonzero_integers(rng, _weight_axis(spec, plan.quantity), plan.weights).astype(np.float64)
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


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


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


def start_verification(runner, spec: ConvSpec, quantity: str, path: str, probes: ProbeSet,
                       miss_probability: float = MISS_PROBABILITY) -> PendingVerification:
    """Run the verification probes one by one, each comparison starting (on the probe set's
    pool) while the backend computes the next probe."""
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
    return pending


def verify(runner, spec: ConvSpec, quantity: str, path: str, probes: ProbeSet,
           miss_probability: float = MISS_PROBABILITY) -> tuple:
    """Run the verification probes: (Verification, first failed Outcome or None, observed shape)."""
    return start_verification(runner, spec, quantity, path, probes, miss_probability).finish()


# ---- localisation --------------------------------------------------------------------------

def lit_and_ids(spec: ConvSpec, quantity: str) -> tuple:
    """(lit factor, id-valued factor): the smaller tensor is lit one slot at a time (on a tie
    the kernel, then g: "k[...] is multiplied by x[...]" reads best)."""
    one, two = FACTORS[quantity]
    order = sorted((one, two), key=lambda t: (math.prod(spec.shape_of(t)), "kgx".index(t)))
    return order[0], order[1]


@dataclass
class EntryTerms:
    """The terms of one entry as flat (lit slot, id partner, coefficient) arrays."""

    slots: np.ndarray
    partners: np.ndarray
    coefficients: np.ndarray

    @classmethod
    def from_terms(cls, spec, terms: Terms, lit: str) -> "EntryTerms":
        one, _ = terms.factors
        lit_rows, id_rows = (terms.first, terms.second) if one == lit else (terms.second, terms.first)
        other = terms.factors[1] if one == lit else one
        coefs = terms.coefficients if terms.coefficients is not None else np.ones(len(terms), dtype=np.int64)
        return cls(_flat(spec, lit, lit_rows), _flat(spec, other, id_rows), np.asarray(coefs, dtype=np.int64))

    def value(self, lit_values: np.ndarray, id_values: np.ndarray, where=None) -> int:
        keep = slice(None) if where is None else where[self.slots]
        return int((self.coefficients[keep] * lit_values[self.slots[keep]].astype(np.int64)
                    * id_values[self.partners[keep]].astype(np.int64)).sum())


def _whole(value) -> bool:
    return math.isfinite(value) and value == int(value)


def _flat(spec, tensor, rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, len(spec.shape_of(tensor)))
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    return np.ravel_multi_index(tuple(rows.T), spec.shape_of(tensor)).astype(np.int64)


@dataclass
class Localised:
    """One wrong entry: the model's terms, the backend's terms (None when they could not be
    recovered) and the lit slots where the two differ."""

    entry: tuple
    expected: Terms
    observed: Terms | None
    differing_slots: list
    note: str = ""

    @property
    def resolved(self) -> bool:
        return self.observed is not None


class _Budget(Exception):
    pass


@dataclass
class Budget:
    """What localising one quantity may spend: backend calls and seconds (checked before each
    batch of calls).  ``spent`` counts the calls made; ``stopped`` says why it stopped."""

    calls: int = LOCALISE_CALLS
    seconds: float = LOCALISE_SECONDS
    spent: int = 0
    stopped: str | None = None
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        if isinstance(self.calls, bool) or not isinstance(self.calls, int) or self.calls < 0:
            raise SymconvError(f"max calls must be a non-negative integer, got {self.calls!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not self.seconds > 0:
            raise SymconvError(f"max seconds must be a positive number, got {self.seconds!r}")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spend(self, count: int) -> None:
        """Account for ``count`` calls about to be made; raise _Budget when they would exceed
        the budget or its time is up."""
        if self.stopped is None and self.spent + count > self.calls:
            self.stopped = (f"its budget of {self.calls} backend calls would be exceeded "
                            f"({self.spent} made, the next step needs {count})")
        elif self.stopped is None and self.elapsed > self.seconds:
            self.stopped = f"its budget of {self.seconds:g} s is spent ({self.spent} backend calls made)"
        if self.stopped is not None:
            raise _Budget()
        self.spent += count

    def describe(self) -> str:
        return f"{self.calls} backend calls, {self.seconds:g} s"


class Localiser:
    """Recovers the terms a backend actually used for some entries of one quantity."""

    def __init__(self, runner, spec: ConvSpec, quantity: str, path: str, verification: Verification,
                 rng, budget: Budget | None = None):
        self.runner, self.spec, self.quantity, self.path = runner, spec, quantity, path
        self.verification, self.rng = verification, rng
        self.lit, self.ids = lit_and_ids(spec, quantity)
        self.lit_size = math.prod(spec.shape_of(self.lit))
        self.id_size = math.prod(spec.shape_of(self.ids))
        self.magnitude = min(verification.plan.magnitudes)
        self.budget = budget if budget is not None else Budget()
        self.leaves_so_far = {}   # entry key -> lit slots known to differ, while stage 1 runs
        self.out_shape = result_shape(spec, quantity)
        # Second id: a random function onto a range wide enough that a sum of partners, or a
        # multiple of the wrong one, rarely passes for one partner.
        self.hash_range = max(self.id_size, HASH_RANGE)
        self.hash = rng.integers(0, self.hash_range, size=self.id_size)

    # -- calls --
    def _run(self, lit_arrays: list, id_arrays: list) -> list:
        self.budget.spend(len(lit_arrays))
        calls = []
        for lit_values, id_values in zip(lit_arrays, id_arrays):
            tensors = {self.lit: lit_values.reshape(self.spec.shape_of(self.lit)).astype(np.float32),
                       self.ids: id_values.reshape(self.spec.shape_of(self.ids)).astype(np.float32)}
            calls.append(Call(self.spec, self.quantity, self.path, {n: tensors[n] for n in INPUTS[self.quantity]}))
        outcomes = self.runner.run(calls)
        failed = next((o for o in outcomes if o.status != "ok"), None)
        if failed is not None:
            raise RuntimeError(f"{failed.error_type or failed.status}: {failed.message}")
        results = []
        for outcome in outcomes:
            if outcome.value.shape != self.out_shape:
                raise RuntimeError(f"output shape changed to {outcome.value.shape}")
            results.append(np.asarray(outcome.value, dtype=np.float64).reshape(-1))
        return results

    def _random(self, size):
        return nonzero_integers(self.rng, size, self.magnitude).astype(np.int64)

    # -- stage 1: which lit slots differ, by halves --
    def _differing_slots(self, entries: dict) -> dict:
        """entry -> sorted lit slots whose partners differ from the model's."""
        alive = {e: np.ones(self.lit_size, dtype=bool) for e in entries}
        pending = {}
        for e, terms in entries.items():
            support = np.unique(terms.slots)
            rest = np.setdiff1d(np.arange(self.lit_size), support)
            pending[e] = [(node, root) for node, root in ((support, "support"), (rest, "rest")) if len(node)]
        leaves = {e: set() for e in entries}
        self.leaves_so_far = leaves
        while any(pending.values()):
            pairs = [(e, node, root) for e in entries for node, root in pending[e]]
            pending = {e: [] for e in entries}
            groups = self._colour(pairs, alive)
            lit_arrays, id_arrays = [], []
            for group in groups:
                lit_values = np.zeros(self.lit_size, dtype=np.int64)
                for _, node, _ in group:
                    lit_values[node] = self._random(len(node))
                lit_arrays.append(lit_values)
                id_arrays.append(self._random(self.id_size))
            observed = self._run(lit_arrays, id_arrays)
            tested = {e: [] for e in entries}
            for group, lit_values, id_values, obs in zip(groups, lit_arrays, id_arrays, observed):
                for e, node, root in group:
                    differs = obs[e[0]] != entries[e].value(lit_values, id_values)
                    tested[e].append((node, root, differs))
            for e, results in tested.items():
                # Differences everywhere in the support (a shifted window, say): decode every
                # slot directly rather than halving down to each one.
                support = [d for _, root, d in results if root == "support"]
                dense = len(support) >= 4 and all(support)
                for node, root, differs in results:
                    if not differs:
                        alive[e][node] = False
                    elif len(node) == 1 or (dense and root == "support"):
                        leaves[e].update(int(q) for q in node)
                    else:
                        half = len(node) // 2
                        pending[e] += [(node[:half], root), (node[half:], root)]
        return {e: sorted(v) for e, v in leaves.items()}

    def _colour(self, pairs, alive) -> list:
        """Group (entry, node) tests into calls: a test may share a call only with nodes its
        entry already knows to agree (so the others add nothing to its difference)."""
        groups = []
        for e, node, root in pairs:
            for group in groups:
                if any(e == f for f, _, _ in group):
                    continue
                if any(alive[e][other].any() or alive[f][node].any() for f, other, _ in group):
                    continue
                group.append((e, node, root))
                break
            else:
                groups.append([(e, node, root)])
        return groups

    # -- stage 2: the partner of each differing slot, by one-hot lit and id-valued partner --
    def _encodings(self, where=None):
        ids = np.arange(1, self.id_size + 1, dtype=np.int64)
        hashed = self.hash.astype(np.int64) + 1
        if where is not None:
            ids, hashed = np.where(where, ids, 0), np.where(where, hashed, 0)
        return ids, hashed

    def _decode_value(self, v_id: int, v_hash: int, allowed=None):
        """[(partner, coefficient)] for one lit slot, or None when it is not one partner."""
        if v_id == 0 and v_hash == 0:
            return []
        fits = []
        for coef in range(1, 9):
            partner = v_id // coef - 1
            if v_id % coef == 0 and 0 <= partner < self.id_size and (allowed is None or allowed[partner]) \
                    and v_hash == coef * (int(self.hash[partner]) + 1):
                fits.append((partner, coef))
        return fits if len(fits) == 1 else None

    def _partners(self, entries: dict, leaves: dict) -> dict:
        """(entry, slot) -> [(partner, coefficient)] or None (unresolved)."""
        pairs = [(e, q) for e in entries for q in leaves[e]]
        leaf_sets = {e: set(v) for e, v in leaves.items()}
        cap = max(1, (EXACT // 8) // self.hash_range)  # partner ids (times coefficients) summed stay within 2**24
        groups = []
        for e, q in pairs:
            for group in groups:
                if len(group) < cap and all(e != f and q not in leaf_sets[f] and r not in leaf_sets[e]
                                            for f, r in group):
                    group.append((e, q))
                    break
            else:
                groups.append([(e, q)])
        ids, hashed = self._encodings()
        lit_arrays, id_arrays = [], []
        for group in groups:
            lit_values = np.zeros(self.lit_size, dtype=np.int64)
            lit_values[[q for _, q in group]] = 1
            lit_arrays += [lit_values, lit_values]
            id_arrays += [ids, hashed]
        observed = self._run(lit_arrays, id_arrays)
        found = {}
        for i, group in enumerate(groups):
            lit_values = lit_arrays[2 * i]
            for e, q in group:
                known = lit_values.astype(bool)
                known[q] = False
                v_id = observed[2 * i][e[0]] - entries[e].value(lit_values, ids, where=known)
                v_hash = observed[2 * i + 1][e[0]] - entries[e].value(lit_values, hashed, where=known)
                if not (_whole(v_id) and _whole(v_hash)):
                    found[(e, q)] = None
                    continue
                decoded = self._decode_value(int(v_id), int(v_hash))
                found[(e, q)] = decoded if decoded is not None else self._split_partners(e, q)
        return found

    def _split_partners(self, e, q, lo: int = 0, hi: int | None = None):
        """Several partners behind one slot: find them by halving the id range."""
        hi = self.id_size if hi is None else hi
        lit_values = np.zeros(self.lit_size, dtype=np.int64)
        lit_values[q] = 1
        where = np.zeros(self.id_size, dtype=bool)
        where[lo:hi] = True
        ids, hashed = self._encodings(where)
        v_id, v_hash = (obs[e[0]] for obs in self._run([lit_values, lit_values], [ids, hashed]))
        if not (_whole(v_id) and _whole(v_hash)):
            return None
        decoded = self._decode_value(int(v_id), int(v_hash), allowed=where)
        if decoded is not None or hi - lo <= 1:
            return decoded
        mid = (lo + hi) // 2
        left, right = self._split_partners(e, q, lo, mid), self._split_partners(e, q, mid, hi)
        return None if left is None or right is None else left + right

    # -- the whole story --
    def localise(self, entries: list) -> list:
        spec, maps = self.spec, maps_for(self.spec)
        flat_out = {e: int(np.ravel_multi_index(e, self.out_shape)) for e in entries}
        expected = {e: maps.terms(self.quantity, e) for e in entries}
        by_flat = {(flat_out[e],): EntryTerms.from_terms(spec, expected[e], self.lit) for e in entries}
        note = ""
        self.leaves_so_far = {}
        try:
            leaves = self._differing_slots(by_flat)
            partners = self._partners(by_flat, leaves)
        except _Budget:
            leaves, partners, note = None, None, f"localisation stopped: {self.budget.stopped}"
        except RuntimeError as err:
            self.budget.stopped = f"the backend failed ({err})"
            leaves, partners, note = None, None, f"localisation stopped: {self.budget.stopped}"
        results = []
        for e in entries:
            key = (flat_out[e],)
            if leaves is None:
                known = sorted(self.leaves_so_far.get(key, ()))
                results.append(Localised(e, expected[e], None, self._slot_names(known),
                                         note + (f"; so far {len(known)} {self.lit} entr{'y' if len(known) == 1 else 'ies'} "
                                                 f"known to be paired differently" if known else "")))
                continue
            slots = leaves[key]
            decoded = [partners[(key, q)] for q in slots]
            if any(d is None for d in decoded):
                results.append(Localised(e, expected[e], None, self._slot_names(slots),
                                         "some slots read more than one partner in a way ids could not separate"))
                continue
            terms = by_flat[key]
            slots, decoded = self._changed(terms, slots, decoded)
            keep = ~np.isin(terms.slots, slots)
            lit_flat = np.concatenate([terms.slots[keep], [q for q, d in zip(slots, decoded) for _ in d]])
            id_flat = np.concatenate([terms.partners[keep], [p for d in decoded for p, _ in d]])
            coefs = np.concatenate([terms.coefficients[keep], [c for d in decoded for _, c in d]])
            observed = self._terms(e, lit_flat.astype(np.int64), id_flat.astype(np.int64), coefs.astype(np.int64))
            if not self._reproduces(e, observed):
                results.append(Localised(e, expected[e], None, self._slot_names(slots),
                                         "the recovered terms do not reproduce the backend's values: "
                                         "it does not compute a fixed sum of products here"))
                continue
            results.append(Localised(e, expected[e], observed, self._slot_names(slots)))
        return results

    @staticmethod
    def _changed(terms: EntryTerms, slots, decoded):
        """Only the slots whose decoded partners differ from the model's (a dense difference
        decodes every slot of the support, agreeing ones included)."""
        kept = []
        for q, partners in zip(slots, decoded):
            mine = terms.slots == q
            expected = sorted(zip(terms.partners[mine].tolist(), terms.coefficients[mine].tolist()))
            if sorted(partners) != expected:
                kept.append((q, partners))
        return [q for q, _ in kept], [p for _, p in kept]

    def _slot_names(self, slots) -> list:
        shape = self.spec.shape_of(self.lit)
        return [(self.lit, tuple(int(v) for v in np.unravel_index(q, shape))) for q in slots]

    def _terms(self, e, lit_flat, id_flat, coefs) -> Terms:
        one, two = FACTORS[self.quantity]
        lit_rows = np.stack(np.unravel_index(lit_flat, self.spec.shape_of(self.lit)), axis=1) if len(lit_flat) \
            else np.zeros((0, len(self.spec.shape_of(self.lit))), dtype=np.int64)
        id_rows = np.stack(np.unravel_index(id_flat, self.spec.shape_of(self.ids)), axis=1) if len(id_flat) \
            else np.zeros((0, len(self.spec.shape_of(self.ids))), dtype=np.int64)
        first, second = (lit_rows, id_rows) if one == self.lit else (id_rows, lit_rows)
        coefficients = None if (coefs == 1).all() else coefs
        return Terms(self.quantity, e, (one, two), first.astype(np.int64), second.astype(np.int64),
                     coefficients).sorted()

    def _reproduces(self, e, terms: Terms) -> bool:
        one, two = terms.factors
        coefs = terms.coefficients if terms.coefficients is not None else np.ones(len(terms), dtype=np.int64)
        for probe in self.verification.probes:
            a = probe.inputs[one].astype(np.int64)[tuple(terms.first.T)] if len(terms) else np.zeros(0, np.int64)
            b = probe.inputs[two].astype(np.int64)[tuple(terms.second.T)] if len(terms) else np.zeros(0, np.int64)
            if int((coefs * a * b).sum()) != probe.observed[e]:
                return False
        return True


LOCALISE_CHUNKS = (1, 4)   # entries localised together: the first alone, then four, then the rest


def localise(runner, spec: ConvSpec, quantity: str, path: str, verification: Verification, entries: list,
             rng, budget: Budget | None = None) -> list:
    """The backend's own terms for each of ``entries`` (indices into the quantity's tensor),
    within ``budget``.  Entries are localised in chunks (the first alone, then four, then the
    rest), so that a budget spent part-way still leaves the first entries resolved."""
    if not entries:
        return []
    budget = budget if budget is not None else Budget()
    localiser = Localiser(runner, spec, quantity, path, verification, rng, budget)
    if localiser.id_size > ID_LIMIT:
        return [Localised(e, maps_for(spec).terms(quantity, e), None, [],
                          f"{localiser.ids} has more than {ID_LIMIT} entries: too many to give each an exact id")
                for e in entries]
    results, start = [], 0
    for size in LOCALISE_CHUNKS + (len(entries),):
        chunk = entries[start:start + size]
        start += len(chunk)
        if not chunk:
            break
        if budget.stopped is not None:
            results += [Localised(e, maps_for(spec).terms(quantity, e), None, [],
                                  f"not localised: localisation stopped earlier ({budget.stopped})") for e in chunk]
        else:
            results += localiser.localise(chunk)
    return results


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
    from . import conventions
    from .conventions import effective_kernel
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

    ``observations`` feed read_pads; ``calls`` keeps each lit position's inputs and output (to
    check a reading against every output afterwards); ``garbage`` counts outputs that no tap
    can produce, by kind, with the first few entries in ``garbage_entries``."""

    observations: list = field(default_factory=list)
    shape: tuple | None = None
    failed: object = None
    calls: list = field(default_factory=list)       # (inputs dict, output by ids)
    garbage: dict = field(default_factory=dict)     # kind -> count
    garbage_entries: list = field(default_factory=list)
    outputs: int = 0                                # outputs seen over all lit positions


GARBAGE_SHOWN = 3


def tap_observations(runner, spec: ConvSpec, quantity: str, path: str, rng, max_positions: int = 16) -> TapReading:
    """Light one kernel tap (forward, input_grad) or one output position (filter_grad) at a
    time with the other factor id-valued; every nonzero output names the pixel it read.
    Outputs that are not finite, not integers, or not a single partner's id are counted as
    garbage, never read as pads."""
    roles = layout.roles(spec)
    one, two = FACTORS[quantity]
    if quantity == "filter_grad":
        lit = one if roles[one] == "direct_output" else two
    else:
        lit = "k"
    ids_name = two if lit == one else one
    id_size = math.prod(spec.shape_of(ids_name))
    if id_size > ID_LIMIT:
        raise SymconvError(f"{ids_name} has {id_size} entries, more than {ID_LIMIT}: too many to give each "
                           f"an exact id; use a smaller shape")
    hashed = rng.integers(0, max(id_size, HASH_RANGE), size=id_size) + 1
    ids = np.arange(1, id_size + 1)
    lit_shape = spec.shape_of(lit)
    positions = _lit_positions(spec, lit, max_positions)
    reading = TapReading()
    lit_count = 0
    for canon in positions:
        index = tuple(int(v) for v in layout.index_to_user(spec, lit, np.array([canon], dtype=np.int64))[0])
        lit_values = np.zeros(lit_shape, dtype=np.float32)
        lit_values[index] = 1
        calls = []
        for values in (ids, hashed):
            tensors = {lit: lit_values, ids_name: values.reshape(spec.shape_of(ids_name)).astype(np.float32)}
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
            partner = np.array([np.unravel_index(int(v_id) - 1, spec.shape_of(ids_name))])
            lit_row = np.array([index])
            first, second = (lit_row, partner) if lit == one else (partner, lit_row)
            reading.observations.append((entry, first, second))
        pads = read_pads(spec, quantity, reading.observations)
        seen = [pads.state(axis) != "unobserved" for axis in range(spec.ndim)]
        lit_count += 1
        if all(seen) and lit_count >= 3:  # first, last and middle at least: a stride bug shows across them
            break
    return reading


def _count_garbage(reading: TapReading, by_id, by_hash) -> None:
    """Outputs of one lit position that no sum of products of integer probes can give:
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


def _lit_positions(spec, lit, limit) -> list:
    """Canonical indices to light, channel 0: the first, last and middle kernel tap (or output
    position), then the rest in order."""
    role = layout.roles(spec)[lit]
    sizes = {"kernel": spec.kernel_spatial, "direct_output": spec.direct_output_spatial,
             "direct_input": spec.direct_input_spatial}[role]
    if 0 in sizes:
        return []
    corners = [tuple(0 for _ in sizes), tuple(s - 1 for s in sizes), tuple(s // 2 for s in sizes)]
    rest = itertools.product(*[range(s) for s in sizes])
    spatial = list(dict.fromkeys(corners + [p for _, p in zip(range(limit), rest)]))
    return [(0, 0) + tuple(p) for p in spatial[:limit]]
