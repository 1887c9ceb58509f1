"""Exact provenance maps: for every entry of y, dk and dx, which entries it multiplies.

A convolution's map factorises.  Per spatial axis, ``taps[o, a]`` is the input position
that output position ``o`` reads through kernel offset ``a`` (``s*o + d*a - before``), or -1
where that tap falls into padding.  Batch and channels are plain products on top.  Maps are
small NumPy arrays, built once per spec (``maps_for`` caches them); the term list of one
entry, the dense maps of a whole layer and exact numeric evaluation are all derived from
them without a Python loop per entry.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..errors import SymconvError, shown
from . import layout
from .quantities import FACTORS, INPUTS, SHAPED_LIKE, TENSOR_OF, as_quantity
from .spec import ConvSpec, entry_name, require_spec, validate_entry
from .values import exact_array, exact_number

# Term lists beyond this many rows are not materialised; closed forms describe them instead.
TERM_LIMIT = 5_000_000
# Per-axis tap tables and dense spatial maps beyond this many entries (8 bytes each) are refused.
MAP_LIMIT = 8_000_000
# Exact evaluation beyond int64 runs on Python integers: at most this many products.
OBJECT_PRODUCT_LIMIT = 2_000_000
_INT64 = 2**63 - 1


@dataclass(frozen=True)
class AxisMap:
    """One spatial axis of the direct convolution: its input positions to its output positions."""

    input_size: int
    output_size: int
    kernel: int
    stride: int
    dilation: int
    before: int

    @property
    def taps(self) -> np.ndarray:
        pos = self.stride * np.arange(self.output_size, dtype=np.int64)[:, None] \
            + (self.dilation * np.arange(self.kernel, dtype=np.int64) - self.before)[None, :]
        pos[(pos < 0) | (pos >= self.input_size)] = -1
        return pos

    def kernel_offsets(self, o: int) -> np.ndarray:
        """Offsets a whose tap from output position o lands inside the input."""
        s, d = self.stride, self.dilation
        lo = max(0, -((s * o - self.before) // d))          # ceil((before - s*o) / d)
        hi = min(self.kernel - 1, (self.input_size - 1 + self.before - s * o) // d)
        return np.arange(lo, hi + 1)

    def output_positions(self, a: int) -> np.ndarray:
        """Output positions o that read an input pixel through offset a."""
        s, d = self.stride, self.dilation
        lo = max(0, -((d * a - self.before) // s))
        hi = min(self.output_size - 1, (self.input_size - 1 + self.before - d * a) // s)
        return np.arange(lo, hi + 1)

    def readers(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """All (o, a) with s*o + d*a - before == p, ordered by o."""
        a = np.arange(self.kernel)
        num = p + self.before - self.dilation * a
        ok = (num >= 0) & (num % self.stride == 0) & (num // self.stride < self.output_size)
        o, a = num[ok] // self.stride, a[ok]
        order = np.argsort(o, kind="stable")
        return o[order], a[order]


def _product(*columns: np.ndarray) -> np.ndarray:
    """Cartesian product of 1-D arrays (row-major) as a (T, len(columns)) int64 array."""
    if not columns:
        return np.zeros((1, 0), dtype=np.int64)
    grids = np.meshgrid(*columns, indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)


def _repeat(count: int, *values) -> np.ndarray:
    """``count`` copies of the row ``values`` as a (count, len(values)) int64 array."""
    return np.tile(np.array([values], dtype=np.int64), (count, 1))


def _product_rows(*blocks: np.ndarray) -> np.ndarray:
    """Cartesian product of row blocks (each (T_i, w_i)), row-major."""
    index = _product(*[np.arange(len(b)) for b in blocks])
    return np.concatenate([b[index[:, i]] for i, b in enumerate(blocks)], axis=1)


@dataclass
class Terms:
    """The products that make one entry: ``coefficient * first[t] * second[t]`` summed over t.

    ``first`` and ``second`` hold indices in the spec's own layouts of the tensors named by
    ``factors`` (``('x', 'k')`` for y, ``('g', 'x')`` for dk, ``('g', 'k')`` for dx).
    """

    quantity: str
    entry: tuple
    factors: tuple
    first: np.ndarray
    second: np.ndarray
    coefficients: np.ndarray | None = None

    @property
    def name(self) -> str:
        return entry_name(self.quantity, self.entry)

    def __len__(self) -> int:
        return len(self.first)

    def pairs(self) -> list:
        coef = self.coefficients if self.coefficients is not None else [1] * len(self)
        return [(int(c), tuple(map(int, f)), tuple(map(int, s)))
                for c, f, s in zip(coef, self.first.tolist(), self.second.tolist())]

    def as_json(self) -> list[dict]:
        out = []
        one, two = self.factors
        coefs = None if self.coefficients is None else self.coefficients.tolist()
        for t, (f, s) in enumerate(zip(self.first.tolist(), self.second.tolist())):
            term = {one: f, two: s}
            if coefs is not None and coefs[t] != 1:
                term["coefficient"] = coefs[t]
            out.append(term)
        return out

    def sorted(self) -> "Terms":
        keys = np.concatenate([self.first, self.second], axis=1)
        order = np.lexsort(keys.T[::-1]) if len(keys) else np.arange(0)
        coefs = None if self.coefficients is None else self.coefficients[order]
        return Terms(self.quantity, self.entry, self.factors, self.first[order], self.second[order], coefs)

    def __repr__(self):
        one, two = self.factors
        shown = " + ".join(f"{one}[{','.join(map(str, f))}]*{two}[{','.join(map(str, s))}]"
                           for _, f, s in self.pairs()[:6])
        more = f" + ... ({len(self)} terms)" if len(self) > 6 else ""
        return f"{self.name} = {shown or '0'}{more}"


class IndexMaps:
    """The factorised provenance maps of one spec; use ``maps_for(spec)`` to get a cached one."""

    def __init__(self, spec: ConvSpec):
        self.spec = spec
        for i, (outputs, k) in enumerate(zip(spec.direct_output_spatial, spec.kernel_spatial)):
            if outputs * k > MAP_LIMIT:
                raise SymconvError(
                    f"spatial axis {i} has {outputs} output positions x {k} kernel taps, more than the "
                    f"{MAP_LIMIT} an index map holds: split the input into tiles and ask about each")
        self.axes = tuple(
            AxisMap(spec.direct_input_spatial[i], spec.direct_output_spatial[i], spec.kernel_spatial[i],
                    spec.strides[i], spec.dilations[i], spec.pads[i][0])
            for i in range(spec.ndim))
        self.groups = spec.conv_groups
        self.input_per_group = spec.direct_input_channels // self.groups
        self.output_per_group = spec.direct_output_channels // self.groups
        self.roles = layout.roles(spec)

    @cached_property
    def taps(self) -> tuple:
        """Per spatial axis, ``taps[o, a]``: the input position output o reads through offset a."""
        return tuple(ax.taps for ax in self.axes)

    # ---- canonical queries: canonical rows of the direct input, output and kernel ----
    def _for_direct_output(self, n, cs, o):
        grp = cs // self.output_per_group
        spatial = _product(*[ax.kernel_offsets(oi) for ax, oi in zip(self.axes, o)])
        cil = np.arange(self.input_per_group)
        rows = _product_rows(spatial, cil[:, None])  # (a..., cil)
        a, cil = rows[:, :-1], rows[:, -1:]
        pos = np.array(o) * self._strides + a * self._dilations - self._befores
        t = len(rows)
        return {"direct_input": np.concatenate([_repeat(t, n), grp * self.input_per_group + cil, pos], axis=1),
                "direct_output": _repeat(t, n, cs, *o),
                "kernel": np.concatenate([_repeat(t, cs), cil, a], axis=1)}

    def _for_direct_input(self, n, cb, p):
        grp, cil = divmod(cb, self.input_per_group)
        per_axis = [ax.readers(pi) for ax, pi in zip(self.axes, p)]
        spatial = _product_rows(*[np.stack(oa, axis=1) for oa in per_axis])  # (o0, a0, o1, a1, ...)
        o, a = spatial[:, 0::2], spatial[:, 1::2]
        cs = grp * self.output_per_group + np.arange(self.output_per_group)
        rows = _product_rows(np.concatenate([o, a], axis=1), cs[:, None])
        nd = self.spec.ndim
        o, a, cs = rows[:, :nd], rows[:, nd:2 * nd], rows[:, -1:]
        t = len(rows)
        return {"direct_input": _repeat(t, n, cb, *p),
                "direct_output": np.concatenate([_repeat(t, n), cs, o], axis=1),
                "kernel": np.concatenate([cs, _repeat(t, cil), a], axis=1)}

    def _for_kernel(self, cs, cil, a):
        grp = cs // self.output_per_group
        spatial = _product(*[ax.output_positions(ai) for ax, ai in zip(self.axes, a)])
        rows = _product_rows(np.arange(self.spec.batch)[:, None], spatial)
        n, o = rows[:, :1], rows[:, 1:]
        pos = o * self._strides + np.array(a) * self._dilations - self._befores
        t = len(rows)
        return {"direct_input": np.concatenate([n, _repeat(t, grp * self.input_per_group + cil), pos], axis=1),
                "direct_output": np.concatenate([n, _repeat(t, cs), o], axis=1),
                "kernel": _repeat(t, cs, cil, *a)}

    @property
    def _strides(self):
        return np.array(self.spec.strides, dtype=np.int64)

    @property
    def _dilations(self):
        return np.array(self.spec.dilations, dtype=np.int64)

    @property
    def _befores(self):
        return np.array([b for b, _ in self.spec.pads], dtype=np.int64)

    # ---- the public query ------------------------------------------------------------------
    def locate(self, quantity: str, index):
        """(role, canonical index) of the entry a query is about, after validating it."""
        spec = self.spec
        quantity = as_quantity(quantity)
        index = validate_entry(spec, quantity, index)
        tensor = SHAPED_LIKE[quantity]
        canon = layout.index_from_user(spec, tensor, np.array([index], dtype=np.int64))[0].tolist()
        return index, self.roles[tensor], canon

    def count(self, quantity: str, index) -> int:
        """How many terms the entry has, without listing them."""
        _, role, canon = self.locate(quantity, index)
        rest = canon[2:]
        if role == "direct_output":
            return self.input_per_group * int(np.prod([len(ax.kernel_offsets(o)) for ax, o in zip(self.axes, rest)]))
        if role == "direct_input":
            return self.output_per_group * int(np.prod([len(ax.readers(p)[0]) for ax, p in zip(self.axes, rest)]))
        return self.spec.batch * int(np.prod([len(ax.output_positions(a)) for ax, a in zip(self.axes, rest)]))

    def terms(self, quantity: str, index) -> Terms:
        """The terms of one entry (index in the spec's layout), sorted by the first factor."""
        spec = self.spec
        quantity = as_quantity(quantity)
        total = self.count(quantity, index)
        if total > TERM_LIMIT:
            raise SymconvError(
                f"{entry_name(quantity, index)} has {total} terms, more than the {TERM_LIMIT} that are listed "
                f"one by one: use its closed form (symconv.closed_form or the closed_form of `symconv which`)")
        index, role, canon = self.locate(quantity, index)
        queries = {"direct_input": self._for_direct_input, "direct_output": self._for_direct_output,
                   "kernel": self._for_kernel}
        rows = queries[role](canon[0], canon[1], canon[2:])
        one, two = FACTORS[quantity]
        first = layout.index_to_user(spec, one, rows[self.roles[one]])
        second = layout.index_to_user(spec, two, rows[self.roles[two]])
        return Terms(quantity, index, (one, two), first, second).sorted()

    def product_count(self) -> int:
        """Products in L = sum(g * y): one per (y entry, tap that reads a pixel)."""
        inside = math.prod(int((t >= 0).sum()) for t in self.taps)
        return self.spec.batch * self.spec.direct_output_channels * self.input_per_group * inside

    def term_ceiling(self, quantity: str) -> int:
        """An upper bound on the products any one entry of the quantity sums (cheap: no maps).

        For one kernel offset, distinct outputs read distinct inputs, so an input entry has at
        most one reader per offset and output channel."""
        role = self.roles[SHAPED_LIKE[quantity]]
        taps = math.prod(self.spec.kernel_spatial)
        if role == "direct_output":
            return self.input_per_group * taps
        if role == "direct_input":
            return self.output_per_group * taps
        return self.spec.batch * math.prod(self.spec.direct_output_spatial)

    # ---- dense maps of a whole layer (spatial part; batch and channels are products) -------
    def forward_spatial(self) -> np.ndarray:
        """(output spatial..., kernel spatial...) -> flat input spatial position of the direct
        convolution, or -1 (padding)."""
        nd = self.spec.ndim
        size = int(np.prod(self.spec.direct_output_spatial, dtype=object)
                   * np.prod(self.spec.kernel_spatial, dtype=object))
        if size > MAP_LIMIT:
            raise SymconvError(
                f"the dense spatial map of this {self.spec.op} has {size} entries, more than {MAP_LIMIT}: "
                f"use the per-axis taps (maps.taps) or per-entry terms")
        flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
        valid = np.ones((1,) * (2 * nd), dtype=bool)
        sizes = self.spec.direct_input_spatial
        for i, t in enumerate(self.taps):
            shape = [1] * (2 * nd)
            shape[i], shape[nd + i] = t.shape
            t = t.reshape(shape)
            flat = flat * sizes[i] + t
            valid = valid & (t >= 0)
        return np.where(valid, flat, -1)

    def filter_grad_spatial(self) -> np.ndarray:
        """(kernel spatial..., output spatial...) -> flat input spatial position, or -1."""
        nd = self.spec.ndim
        fwd = self.forward_spatial()
        return fwd.transpose(tuple(range(nd, 2 * nd)) + tuple(range(nd)))

    def input_grad_spatial(self):
        """CSR map: flat input position p -> pairs (output flat, kernel flat) in
        ``output[indptr[p]:indptr[p+1]]``, ``kernel[indptr[p]:indptr[p+1]]``."""
        fwd = self.forward_spatial()
        outputs = int(np.prod(self.spec.direct_output_spatial))
        flat = fwd.reshape(outputs, -1)
        output_idx, kernel_idx = np.nonzero(flat >= 0)
        input_idx = flat[output_idx, kernel_idx]
        order = np.argsort(input_idx, kind="stable")
        counts = np.bincount(input_idx, minlength=int(np.prod(self.spec.direct_input_spatial)))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return indptr, output_idx[order], kernel_idx[order]

    # ---- exact numeric evaluation through the maps ------------------------------------------
    # The three bilinear maps of the direct convolution, in canonical order: each quantity of
    # each op is one of them, picked by the role of the tensor it fills (``evaluate``).
    def _offsets(self):
        return itertools.product(*[range(k) for k in self.spec.kernel_spatial])

    def tap_index(self, offset) -> tuple:
        """Open-mesh index of the input positions that every output reads through one kernel
        offset (-1 where the tap falls into padding)."""
        return np.ix_(*[t[:, a] for t, a in zip(self.taps, offset)])

    def _gather(self, padded_input, offset):
        """padded_input[:, :, taps(o, a)] for one kernel offset: (N, C, output spatial...)."""
        return padded_input[(slice(None), slice(None)) + self.tap_index(offset)]

    def _grouped(self, arr, per_group):
        return arr.reshape((arr.shape[0], self.groups, per_group) + arr.shape[2:])

    @staticmethod
    def _with_spare_slot(inputs):
        """The input with one zero slot at the end of every spatial axis: position -1 reads it.
        (Allocated and copied, so that object arrays hold Python zeros, not NumPy ones.)"""
        out = np.zeros(inputs.shape[:2] + tuple(n + 1 for n in inputs.shape[2:]), dtype=inputs.dtype)
        out[(slice(None), slice(None)) + tuple(slice(0, n) for n in inputs.shape[2:])] = inputs
        return out

    def direct(self, inputs, kernel):
        """The direct convolution in canonical order: input (N, C_in, P...) x kernel -> output."""
        padded = self._with_spare_slot(inputs)
        kern = kernel.reshape((self.groups, self.output_per_group, self.input_per_group) + kernel.shape[2:])
        out = np.zeros((inputs.shape[0], self.groups, self.output_per_group) + self.spec.direct_output_spatial,
                       dtype=np.result_type(inputs, kernel))
        for offset in self._offsets():
            window = self._grouped(self._gather(padded, offset), self.input_per_group)
            out += np.einsum("ngc...,gdc->ngd...", window, kern[(Ellipsis,) + offset])
        return out.reshape((inputs.shape[0], self.spec.direct_output_channels) + self.spec.direct_output_spatial)

    def direct_transpose(self, outputs, kernel):
        """The adjoint of ``direct`` in its first argument: output x kernel -> input."""
        nd = self.spec.ndim
        kern = kernel.reshape((self.groups, self.output_per_group, self.input_per_group) + kernel.shape[2:])
        padded = np.zeros((outputs.shape[0], self.spec.direct_input_channels)
                          + tuple(b + 1 for b in self.spec.direct_input_spatial), dtype=np.result_type(outputs, kernel))
        grouped = self._grouped(outputs, self.output_per_group)
        for offset in self._offsets():
            contrib = np.einsum("ngd...,gdc->ngc...", grouped, kern[(Ellipsis,) + offset])
            idx = self.tap_index(offset)
            # For one offset, distinct outputs read distinct pixels; -1 (padding) hits the spare slot.
            padded[(slice(None), slice(None)) + idx] += contrib.reshape(padded.shape[:2] + contrib.shape[3:])
        return padded[(slice(None), slice(None)) + (slice(0, -1),) * nd]

    def kernel_grad(self, inputs, outputs):
        """The adjoint of ``direct`` in the kernel: sum over batch and positions of output x input."""
        padded = self._with_spare_slot(inputs)
        grouped = self._grouped(outputs, self.output_per_group)
        out = np.zeros((self.groups, self.output_per_group, self.input_per_group) + self.spec.kernel_spatial,
                       dtype=np.result_type(inputs, outputs))
        for offset in self._offsets():
            window = self._grouped(self._gather(padded, offset), self.input_per_group)
            out[(Ellipsis,) + offset] = np.einsum(
                "ngcs,ngds->gdc", window.reshape(window.shape[:3] + (-1,)), grouped.reshape(grouped.shape[:3] + (-1,)))
        return out.reshape((self.spec.direct_output_channels, self.input_per_group) + self.spec.kernel_spatial)

    def bilinear(self, filled: str):
        """(the map, the roles of its two arguments in order) that fills the tensor playing
        role ``filled``: the direct convolution fills its output, its two adjoints its input and
        its kernel."""
        return {"direct_output": (self.direct, ("direct_input", "kernel")),
                "direct_input": (self.direct_transpose, ("direct_output", "kernel")),
                "kernel": (self.kernel_grad, ("direct_input", "direct_output"))}[filled]

    def evaluate(self, quantity: str, x=None, k=None, g=None) -> np.ndarray:
        """The exact value of y, dk or dx for the given tensors (spec layouts in and out).

        Integer inputs give exact integers: int64 while every sum fits, otherwise an object
        array of Python integers (so 2**62 * 2**62 is 2**124, never a wrapped int64).  Object
        arrays of integers and ``fractions.Fraction`` are exact too.  Float inputs are summed
        in float64.  Complex numbers, strings and non-finite floats are refused.
        """
        spec = self.spec
        quantity = as_quantity(quantity)
        given = {"x": x, "k": k, "g": g}
        inputs = {}
        for name in INPUTS[quantity]:
            if given[name] is None:
                raise SymconvError(f"{TENSOR_OF[quantity]} needs tensor {name}")
            inputs[name] = _numeric(layout.validated_array(spec, name, _as_array(given[name], name)), name)
        inputs = self._common_dtype(quantity, inputs)
        by_role = {spec.role(name): layout.array_to_canonical(spec, name, arr) for name, arr in inputs.items()}
        filled = SHAPED_LIKE[quantity]
        bilinear, arguments = self.bilinear(spec.role(filled))
        with np.errstate(over="ignore", invalid="ignore"):
            return layout.array_from_canonical(spec, filled, bilinear(*(by_role[role] for role in arguments)))

    def _common_dtype(self, quantity, inputs: dict) -> dict:
        """float64 if any input is float; int64 while |a| * |b| * terms fits; else Python integers."""
        kinds = {arr.dtype.kind for arr in inputs.values()}
        if "f" in kinds:
            return {n: arr.astype(np.float64) for n, arr in inputs.items()}
        if kinds <= {"i"}:
            bound = self.term_ceiling(quantity)
            for arr in inputs.values():
                bound *= max(int(arr.max()), -int(arr.min()), 0) if arr.size else 0
            if bound <= _INT64:
                return inputs
        products = self.product_count()
        if products > OBJECT_PRODUCT_LIMIT:
            raise SymconvError(
                f"these values need exact integers beyond int64 (or fractions), computed one Python number at a "
                f"time, and this {self.spec.op} has {products} products, more than {OBJECT_PRODUCT_LIMIT}: "
                f"use smaller values or a smaller layer")
        return {n: arr.astype(object) for n, arr in inputs.items()}


def _as_array(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as err:
        raise SymconvError(f"tensor {name} must be an array of numbers, got {shown(value)} "
                           f"({type(err).__name__})") from None


def _numeric(arr: np.ndarray, name: str) -> np.ndarray:
    """The array as int64, float64 or exact Python numbers (integers beyond int64, fractions);
    anything that is not a real number is refused, naming the tensor."""
    kind = arr.dtype.kind
    if kind in "b":
        return arr.astype(np.int64)
    if kind in "iu":
        if kind == "u" and arr.size and int(arr.max()) > _INT64:
            return exact_array([int(v) for v in arr.reshape(-1).tolist()], arr.shape)
        return arr.astype(np.int64)
    if kind == "f":
        if not np.isfinite(arr).all():
            raise SymconvError(f"tensor {name} must hold finite numbers, got {int((~np.isfinite(arr)).sum())} "
                               f"non-finite values")
        return arr.astype(np.float64)
    if kind == "O":
        return exact_array([exact_number(v, f"tensor {name}") for v in arr.reshape(-1).tolist()], arr.shape)
    what = {"c": "complex numbers", "U": "strings", "S": "bytes", "M": "dates", "m": "time spans"}.get(
        kind, str(arr.dtype))
    raise SymconvError(f"tensor {name} must hold real numbers, got {what} (dtype {arr.dtype})")


@lru_cache(maxsize=64)
def _cached_maps(spec: ConvSpec) -> IndexMaps:
    return IndexMaps(spec)


def maps_for(spec: ConvSpec) -> IndexMaps:
    """The index maps of a spec, built once and cached (``maps_for.cache_clear()`` empties it)."""
    return _cached_maps(require_spec(spec))


maps_for.cache_clear = _cached_maps.cache_clear


def terms(spec: ConvSpec, quantity: str, index) -> Terms:
    """The terms of one entry: ``quantity`` is y/forward, dk/filter_grad or dx/input_grad."""
    return maps_for(spec).terms(quantity, index)


def evaluate(spec: ConvSpec, quantity: str, x=None, k=None, g=None) -> np.ndarray:
    """The exact value of y, dk or dx (``quantity`` y/forward, dk/filter_grad, dx/input_grad)
    for the given tensors; see ``IndexMaps.evaluate``."""
    return maps_for(spec).evaluate(quantity, x=x, k=k, g=g)
