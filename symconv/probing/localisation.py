"""Localisation: the terms a backend actually used for some wrong entries, within a budget.

For a wrong entry, the *one-hot* factor (the smaller of its two factors) is probed in halves
until the slots whose partners differ are isolated (a few calls per wrong slot, shared by all
entries under study), then each such slot is set alone to one (one-hot) with the other factor
*id-valued*: the output is the id of the partner the backend multiplied, checked by a second,
hashed id.  The recovered term list is accepted only if it reproduces the backend's values on
every verification probe.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import Call
from ..errors import SymconvError
from ..model.indexmap import Terms, maps_for
from ..model.quantities import FACTORS, INPUTS
from ..model.spec import ConvSpec
from .probe import EXACT, HASH_RANGE, ID_LIMIT, LOCALISE_CALLS, LOCALISE_SECONDS, nonzero_integers
from .verification import Verification, result_shape

# ---- localisation --------------------------------------------------------------------------

def one_hot_and_id_valued(spec: ConvSpec, quantity: str) -> tuple:
    """(one-hot factor, id-valued factor): the smaller tensor is set one slot at a time (on a tie
    the kernel, then g: "k[...] is multiplied by x[...]" reads best)."""
    one, two = FACTORS[quantity]
    order = sorted((one, two), key=lambda t: (math.prod(spec.shape_of(t)), "kgx".index(t)))
    return order[0], order[1]


@dataclass
class EntryTerms:
    """The terms of one entry as flat (one-hot slot, id-valued partner, coefficient) arrays."""

    slots: np.ndarray
    partners: np.ndarray
    coefficients: np.ndarray

    @classmethod
    def from_terms(cls, spec, terms: Terms, one_hot: str) -> "EntryTerms":
        one, _ = terms.factors
        one_hot_rows, id_rows = (terms.first, terms.second) if one == one_hot else (terms.second, terms.first)
        other = terms.factors[1] if one == one_hot else one
        coefs = terms.coefficients if terms.coefficients is not None else np.ones(len(terms), dtype=np.int64)
        return cls(_flat(spec, one_hot, one_hot_rows), _flat(spec, other, id_rows), np.asarray(coefs, dtype=np.int64))

    def value(self, one_hot_values: np.ndarray, id_values: np.ndarray, where=None) -> int:
        keep = slice(None) if where is None else where[self.slots]
        return int((self.coefficients[keep] * one_hot_values[self.slots[keep]].astype(np.int64)
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
    recovered) and the one-hot slots where the two differ."""

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


BudgetSpent = _Budget   # raised by Budget.spend when the budget would be exceeded


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
        self.one_hot, self.id_valued = one_hot_and_id_valued(spec, quantity)
        self.one_hot_size = math.prod(spec.shape_of(self.one_hot))
        self.id_size = math.prod(spec.shape_of(self.id_valued))
        self.magnitude = min(verification.plan.magnitudes)
        self.budget = budget if budget is not None else Budget()
        self.leaves_so_far = {}   # entry key -> one-hot slots known to differ, while stage 1 runs
        self.out_shape = result_shape(spec, quantity)
        # Second id: a random function onto a range wide enough that a sum of partners, or a
        # multiple of the wrong one, rarely passes for one partner.
        self.hash_range = max(self.id_size, HASH_RANGE)
        self.hash = rng.integers(0, self.hash_range, size=self.id_size)

    # -- calls --
    def _run(self, one_hot_arrays: list, id_arrays: list) -> list:
        self.budget.spend(len(one_hot_arrays))
        calls = []
        for one_hot_values, id_values in zip(one_hot_arrays, id_arrays):
            tensors = {self.one_hot: one_hot_values.reshape(self.spec.shape_of(self.one_hot)).astype(np.float32),
                       self.id_valued: id_values.reshape(self.spec.shape_of(self.id_valued)).astype(np.float32)}
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

    # -- stage 1: which one-hot slots differ, by halves --
    def _differing_slots(self, entries: dict) -> dict:
        """entry -> sorted one-hot slots whose partners differ from the model's."""
        alive = {e: np.ones(self.one_hot_size, dtype=bool) for e in entries}
        pending = {}
        for e, terms in entries.items():
            support = np.unique(terms.slots)
            rest = np.setdiff1d(np.arange(self.one_hot_size), support)
            pending[e] = [(node, root) for node, root in ((support, "support"), (rest, "rest")) if len(node)]
        leaves = {e: set() for e in entries}
        self.leaves_so_far = leaves
        while any(pending.values()):
            pairs = [(e, node, root) for e in entries for node, root in pending[e]]
            pending = {e: [] for e in entries}
            groups = self._colour(pairs, alive)
            one_hot_arrays, id_arrays = [], []
            for group in groups:
                one_hot_values = np.zeros(self.one_hot_size, dtype=np.int64)
                for _, node, _ in group:
                    one_hot_values[node] = self._random(len(node))
                one_hot_arrays.append(one_hot_values)
                id_arrays.append(self._random(self.id_size))
            observed = self._run(one_hot_arrays, id_arrays)
            tested = {e: [] for e in entries}
            for group, one_hot_values, id_values, obs in zip(groups, one_hot_arrays, id_arrays, observed):
                for e, node, root in group:
                    differs = obs[e[0]] != entries[e].value(one_hot_values, id_values)
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

    # -- stage 2: the partner of each differing slot, set alone to one, its partner id-valued --
    def _encodings(self, where=None):
        ids = np.arange(1, self.id_size + 1, dtype=np.int64)
        hashed = self.hash.astype(np.int64) + 1
        if where is not None:
            ids, hashed = np.where(where, ids, 0), np.where(where, hashed, 0)
        return ids, hashed

    def _decode_value(self, v_id: int, v_hash: int, allowed=None):
        """[(partner, coefficient)] for one one-hot slot, or None when it is not one partner."""
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
        one_hot_arrays, id_arrays = [], []
        for group in groups:
            one_hot_values = np.zeros(self.one_hot_size, dtype=np.int64)
            one_hot_values[[q for _, q in group]] = 1
            one_hot_arrays += [one_hot_values, one_hot_values]
            id_arrays += [ids, hashed]
        observed = self._run(one_hot_arrays, id_arrays)
        found = {}
        for i, group in enumerate(groups):
            one_hot_values = one_hot_arrays[2 * i]
            for e, q in group:
                known = one_hot_values.astype(bool)
                known[q] = False
                v_id = observed[2 * i][e[0]] - entries[e].value(one_hot_values, ids, where=known)
                v_hash = observed[2 * i + 1][e[0]] - entries[e].value(one_hot_values, hashed, where=known)
                if not (_whole(v_id) and _whole(v_hash)):
                    found[(e, q)] = None
                    continue
                decoded = self._decode_value(int(v_id), int(v_hash))
                found[(e, q)] = decoded if decoded is not None else self._split_partners(e, q)
        return found

    def _split_partners(self, e, q, lo: int = 0, hi: int | None = None):
        """Several partners behind one slot: find them by halving the id range."""
        hi = self.id_size if hi is None else hi
        one_hot_values = np.zeros(self.one_hot_size, dtype=np.int64)
        one_hot_values[q] = 1
        where = np.zeros(self.id_size, dtype=bool)
        where[lo:hi] = True
        ids, hashed = self._encodings(where)
        v_id, v_hash = (obs[e[0]] for obs in self._run([one_hot_values, one_hot_values], [ids, hashed]))
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
        by_flat = {(flat_out[e],): EntryTerms.from_terms(spec, expected[e], self.one_hot) for e in entries}
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
                                         note + (f"; so far {len(known)} {self.one_hot} entr{'y' if len(known) == 1 else 'ies'} "
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
            one_hot_flat = np.concatenate([terms.slots[keep], [q for q, d in zip(slots, decoded) for _ in d]])
            id_flat = np.concatenate([terms.partners[keep], [p for d in decoded for p, _ in d]])
            coefs = np.concatenate([terms.coefficients[keep], [c for d in decoded for _, c in d]])
            observed = self._terms(e, one_hot_flat.astype(np.int64), id_flat.astype(np.int64), coefs.astype(np.int64))
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
        shape = self.spec.shape_of(self.one_hot)
        return [(self.one_hot, tuple(int(v) for v in np.unravel_index(q, shape))) for q in slots]

    def _terms(self, e, one_hot_flat, id_flat, coefs) -> Terms:
        one, two = FACTORS[self.quantity]
        one_hot_rows = np.stack(np.unravel_index(one_hot_flat, self.spec.shape_of(self.one_hot)), axis=1) if len(one_hot_flat) \
            else np.zeros((0, len(self.spec.shape_of(self.one_hot))), dtype=np.int64)
        id_rows = np.stack(np.unravel_index(id_flat, self.spec.shape_of(self.id_valued)), axis=1) if len(id_flat) \
            else np.zeros((0, len(self.spec.shape_of(self.id_valued))), dtype=np.int64)
        first, second = (one_hot_rows, id_rows) if one == self.one_hot else (id_rows, one_hot_rows)
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
                          f"{localiser.id_valued} has more than {ID_LIMIT} entries: too many to give each an exact id")
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
