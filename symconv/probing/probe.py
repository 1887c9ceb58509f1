"""Exact probes: how large probe values may be, how many probes verify a quantity, and drawing them.

The bound everything rests on: float32 represents every integer of magnitude up to 2**24
exactly, so a sum of integer products is computed exactly, in any order, as long as the sum
of the magnitudes of its terms stays within 2**24.  An entry that sums at most T products of
values bounded by R_a and R_b is exact when T * R_a * R_b <= 2**24; probes are drawn with
R = floor(sqrt(2**24 / T)) (at most 1024, so inputs stay exact even in TF32 or fp16), and a
correct backend then agrees with the model bit for bit.  No tolerance is involved anywhere.

Probe values are nonzero integers in [-R, R], drawn at random.  If an entry's observed bilinear
form differs from the model's, the difference is a nonzero polynomial of degree 2 and vanishes
on a random probe with probability at most 1/R (Schwartz-Zippel); ``probes`` independent probes
bring that below ``MISS_PROBABILITY`` (``ProbePlan``).  ``symconv.verification`` runs and
compares them, ``symconv.localisation`` recovers the terms of wrong entries, ``symconv.taps``
reads the padding a backend used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SymconvError
from ..model import layout
from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, SHAPED_LIKE, TENSOR_OF
from ..model.spec import ConvSpec

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


def weight_magnitude(spec: ConvSpec) -> int:
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
        weights = weight_magnitude(spec)
        if min(pair) < 1:   # some quantity sums more products than 2**24: no value of 1 stays exact
            worst = max(INPUTS, key=lambda q: term_bound(spec, q))
            raise SymconvError(
                f"{TENSOR_OF[worst]} entries of this {spec.op} sum up to {term_bound(spec, worst)} products, more "
                f"than exact float32 probing can take (terms * R_a * R_b <= 2**24, values of at least 1): use a "
                f"smaller batch or input")
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


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value
