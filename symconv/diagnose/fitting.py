"""Models fitted from lit evidence, not enumerated (principle 11).

Two lit calls (``probing.lit``) show terms the backend computes: for each, the direct input
pixel, the direct output position and the kernel entry it multiplies.  From them:

* the geometry the backend used: per axis, s*o + d*a - before = p fitted exactly to every term
  (strides, dilations and pads of any magnitude and sign; a negative dilation is a flipped
  kernel), with the output's size as the backend returned it;
* a kernel map: for every direct output channel, direct input channel and tap, which kernel
  entry the backend multiplies there (or none): channel permutations, a dropped group, a group
  read from another, a kernel read in another order (any permutation of its axes, any order of
  flattening: the im2col family).

Each fit becomes a candidate that is accepted, as the enumerated ones are, only when it
reproduces every entry of every verification probe.  ``describe`` puts fitted models in words.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..model import layout
from ..model.conventions import effective_kernel
from ..model.indexmap import maps_for
from ..model.quantities import SHAPED_LIKE
from ..model.spec import ConvSpec
from ..probing import lit as lit_probes
from . import describe
from .registry import WHAT, Candidate, Context, Use, alternative, respec

ABSENT, UNKNOWN = -1, -2


# ---- geometry -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Geometry:
    """Per spatial axis: s*o + d*a - before = p.  A negative d reads the kernel flipped."""

    strides: tuple
    dilations: tuple
    befores: tuple

    @classmethod
    def of(cls, spec: ConvSpec) -> "Geometry":
        return cls(tuple(spec.strides), tuple(spec.dilations), tuple(b for b, _ in spec.pads))

    def residuals(self, records) -> np.ndarray:
        """Per record and axis: p - (s*o + d*a - before)."""
        nd = len(self.strides)
        o, a, p = (getattr(records, role)[:, 2:2 + nd] for role in ("direct_output", "kernel", "direct_input"))
        return p - (np.array(self.strides) * o + np.array(self.dilations) * a - np.array(self.befores))

    def fits(self, records) -> np.ndarray:
        """Which records this geometry explains (batch items matching too)."""
        same_item = records.direct_input[:, 0] == records.direct_output[:, 0]
        return same_item & (self.residuals(records) == 0).all(axis=1)

    def taps(self, records) -> np.ndarray | None:
        """The tap each record's (output position, input pixel) pair is under this geometry, or
        None where some pair is no tap."""
        nd = len(self.strides)
        o, p = records.direct_output[:, 2:2 + nd], records.direct_input[:, 2:2 + nd]
        num = p - np.array(self.strides) * o + np.array(self.befores)
        d = np.array(self.dilations)
        if (num % d).any():
            return None
        return num // d


def fit_geometry(spec: ConvSpec, records) -> Geometry | None:
    """The one geometry that explains every record exactly (values the records do not show keep
    the model's), or None."""
    if not len(records) or not (records.direct_input[:, 0] == records.direct_output[:, 0]).all():
        return None
    model = Geometry.of(spec)
    strides, dilations, befores = [], [], []
    for axis in range(spec.ndim):
        o = records.direct_output[:, 2 + axis]
        a = records.kernel[:, 2 + axis]
        p = records.direct_input[:, 2 + axis]
        solved = _fit_axis(o, a, p, model.strides[axis], model.dilations[axis])
        if solved is None:
            return None
        s, d, b = solved
        if s < 1 or d == 0:
            return None
        strides.append(s)
        dilations.append(d)
        befores.append(b)
    return Geometry(tuple(strides), tuple(dilations), tuple(befores))


def _fit_axis(o, a, p, stride, dilation):
    """Integers (s, d, before) with s*o + d*a - before = p for every record; s and d keep the
    given values where o or a never vary."""
    columns, names = [], []
    if len(np.unique(o)) > 1:
        columns.append(o)
        names.append("s")
    if len(np.unique(a)) > 1:
        columns.append(a)
        names.append("d")
    known = {"s": stride, "d": dilation}
    target = p.astype(np.float64) - sum(known[n] * c for n, c in (("s", o), ("d", a)) if n not in names)
    design = np.stack(columns + [-np.ones(len(p))], axis=1).astype(np.float64)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    values = dict(zip(names + ["b"], (int(round(v)) for v in solution)))
    s, d, b = values.get("s", stride), values.get("d", dilation), values["b"]
    if not np.array_equal(s * o + d * a - b, p):
        return None
    return s, d, b


def geometry_spec(spec: ConvSpec, geometry: Geometry, out_shape=None) -> tuple:
    """(the spec of a fitted geometry with explicit pads, flipped axes) or (None, ()).  A negative
    dilation on an axis reads the kernel flipped there: its spec has the positive dilation and
    the pad that goes with the flip.  ``out_shape``: the y-shaped output as the backend returned
    it, whose spatial sizes the fitted spec takes."""
    flipped = tuple(axis for axis, d in enumerate(geometry.dilations) if d < 0)
    dilations = tuple(abs(d) for d in geometry.dilations)
    befores = tuple(b + (dilations[axis] * (spec.kernel_spatial[axis] - 1) if axis in flipped else 0)
                    for axis, b in enumerate(geometry.befores))
    y_spatial = tuple(spec.y_shape[a] for a in layout.spatial_axes(spec, "y"))
    if out_shape is not None:
        y_spatial = tuple(out_shape[a] for a in layout.spatial_axes(spec, "y"))
    if spec.role("y") == "direct_output":
        inputs, outputs = spec.direct_input_spatial, y_spatial
    else:
        inputs, outputs = y_spatial, spec.direct_output_spatial
    if 0 in outputs:
        return None, ()
    pads = tuple((b, (o - 1) * s + effective_kernel(k, d) - i - b) for b, o, s, k, d, i in
                 zip(befores, outputs, geometry.strides, spec.kernel_spatial, dilations, inputs))
    request = None
    if spec.role("y") == "direct_input":
        request = spec.activation_shape(spec.batch, spec.direct_input_channels, inputs)
    alt = respec(spec, strides=geometry.strides, dilations=dilations, padding=pads, output_shape_request=request,
                 convention=spec.convention)
    if alt is None or alt.direct_input_spatial != tuple(inputs) or alt.direct_output_spatial != tuple(outputs):
        return None, ()
    return alt, flipped


# ---- kernel maps -------------------------------------------------------------------------------

@dataclass
class KernelMap:
    """For every (direct output channel, direct input channel, tap): the canonical flat index of
    the kernel entry multiplied there (ABSENT: none) and its coefficient."""

    spec: ConvSpec
    source: np.ndarray         # (C_out, C_in, *kernel spatial), int64
    coefficient: np.ndarray    # same shape, int64

    @classmethod
    def model(cls, spec: ConvSpec) -> "KernelMap":
        maps = maps_for(spec)
        c_out, c_in, per_in, per_out = (spec.direct_output_channels, spec.direct_input_channels,
                                        maps.input_per_group, maps.output_per_group)
        taps = math.prod(spec.kernel_spatial)
        source = np.full((c_out, c_in, taps), ABSENT, dtype=np.int64)
        for co in range(c_out):
            group = co // per_out
            for local in range(per_in):
                base = (co * per_in + local) * taps
                source[co, group * per_in + local] = np.arange(base, base + taps)
        source = source.reshape((c_out, c_in) + spec.kernel_spatial)
        return cls(spec, source, np.where(source == ABSENT, 0, 1))

    def same_as(self, other: "KernelMap") -> bool:
        return np.array_equal(self.source, other.source) and np.array_equal(self.coefficient, other.coefficient)

    @property
    def within_groups(self) -> bool:
        """Every entry read is read where the model reads some entry (no channel crosses a group)."""
        return not (self.source[KernelMap.model(self.spec).source == ABSENT] != ABSENT).any()

    def uses(self) -> tuple:
        """(the spec to evaluate, the Use that turns the spec's kernel into its kernel)."""
        spec = self.spec
        if self.within_groups:
            model = KernelMap.model(spec).source
            inside = model != ABSENT
            order = np.argsort(model[inside], kind="stable")
            gather = self.source[inside][order]
            scale = self.coefficient[inside][order]
            return spec, Use("k", _gathered(spec, spec, gather, scale), _scattered(spec, spec, gather, scale),
                             _is_permutation(gather, scale))
        wide = ungrouped(spec)
        gather, scale = self.source.reshape(-1), self.coefficient.reshape(-1)
        return wide, Use("k", _gathered(spec, wide, gather, scale), _scattered(spec, wide, gather, scale), False)


def _is_permutation(gather, scale) -> bool:
    return bool((scale == 1).all() and np.array_equal(np.sort(gather), np.arange(len(gather))))


def _gathered(spec, target, gather, scale):
    """k (spec's layout) -> the kernel ``target`` evaluates: entry t = scale[t] * k[gather[t]]."""
    shape = _canonical_kernel_shape(target)

    def apply(k):
        flat = layout.array_to_canonical(spec, "k", k).reshape(-1)
        values = np.where(gather >= 0, flat[np.maximum(gather, 0)], 0) * scale
        return layout.array_from_canonical(target, "k", values.reshape(shape))
    return apply


def _scattered(spec, target, gather, scale):
    """The adjoint: target's kernel-shaped array -> the spec's kernel (each entry added back)."""
    own = _canonical_kernel_shape(spec)

    def adjoint(dk):
        flat = layout.array_to_canonical(target, "k", dk).reshape(-1)
        out = np.zeros(math.prod(own), dtype=np.result_type(flat, np.float64))
        keep = gather >= 0
        np.add.at(out, gather[keep], flat[keep] * scale[keep])
        return layout.array_from_canonical(spec, "k", out.reshape(own))
    return adjoint


def _canonical_kernel_shape(spec) -> tuple:
    maps = maps_for(spec)
    return (spec.direct_output_channels, maps.input_per_group) + spec.kernel_spatial


def ungrouped(spec: ConvSpec) -> ConvSpec | None:
    """The same convolution with groups 1 (a depthwise one as a plain one): its kernel holds a
    slice for every pair of channels."""
    spatial = layout.spatial_letters(spec.ndim)
    if spec.kind == "depthwise":
        op, kernel_layout = f"conv{spec.ndim}d", spatial + "IO"
    else:
        op, kernel_layout = spec.op, spec.kernel_layout
    sizes = {"I": spec.direct_input_channels, "O": spec.direct_output_channels,
             **dict(zip(spatial, spec.kernel_spatial))}
    if spec.transposed:
        sizes = {**sizes, "I": spec.direct_output_channels, "O": spec.direct_input_channels}
    kernel = tuple(sizes[letter] for letter in kernel_layout)
    return respec(spec, op=op, kernel_shape=kernel, kernel_layout=kernel_layout, groups=1)


def fit_kernel_map(spec: ConvSpec, rounds: list, geometry: Geometry) -> KernelMap | None:
    """The kernel map the lit rounds show under ``geometry``: what each (output channel, input
    channel, tap) met, the model's entry where nothing was seen, or None when one place met two
    different entries."""
    model = KernelMap.model(spec)
    source, coefficient = model.source.copy(), model.coefficient.copy()
    seen = np.zeros(source.shape, dtype=bool)
    kernel_shape = _canonical_kernel_shape(spec)
    for lit_round in rounds:
        records = lit_round.records
        taps = geometry.taps(records) if len(records) else np.zeros((0, spec.ndim), dtype=np.int64)
        if taps is None:
            return None
        inside = (taps >= 0).all(axis=1) & (taps < np.array(spec.kernel_spatial)).all(axis=1)
        inside &= records.direct_input[:, 0] == records.direct_output[:, 0]
        if not inside.all():
            return None
        where = (records.direct_output[:, 1], records.direct_input[:, 1], *taps.T)
        flat = np.ravel_multi_index(tuple(records.kernel.T), kernel_shape)
        for index, value, coef in zip(zip(*where), flat, records.coefficients):
            if seen[index] and (source[index], coefficient[index]) != (value, coef):
                return None
            seen[index], source[index], coefficient[index] = True, value, coef
        for index in _absent(spec, lit_round, geometry, records):
            if seen[index] and source[index] != ABSENT:
                return None
            seen[index], source[index], coefficient[index] = True, ABSENT, 0
    _complete_by_slices(spec, model, source, coefficient, seen)
    return KernelMap(spec, source, coefficient)


def slice_sources(spec: ConvSpec, source: np.ndarray, coefficient: np.ndarray, known=None,
                  model: np.ndarray | None = None) -> list | None:
    """sigma, where each direct output channel co reads the kernel slice of output channel
    sigma[co] (the same input channel within its group, the same tap) wherever it was seen
    (``known``: the places seen; default every place the model reads; ``model``: the model's
    source, when the caller has it); None when some place reads otherwise or a channel was never
    seen."""
    model = KernelMap.model(spec).source if model is None else model
    inside = model != ABSENT
    known = inside if known is None else known & inside
    if (known & ((source == ABSENT) | (coefficient != 1))).any():
        return None
    kernel_shape = _canonical_kernel_shape(spec)
    read = np.unravel_index(np.maximum(source, 0), kernel_shape)
    wanted = np.unravel_index(np.maximum(model, 0), kernel_shape)
    if any((r[known] != w[known]).any() for r, w in zip(read[1:], wanted[1:])):
        return None
    sigma = []
    for co in range(source.shape[0]):
        slices = np.unique(read[0][co][known[co]])
        if len(slices) != 1:
            return None
        sigma.append(int(slices[0]))
    return sigma


def _complete_by_slices(spec, model, source, coefficient, seen) -> None:
    """Where the lit rounds left places of the model unseen but what was seen reads whole kernel
    slices of other output channels (a group's slices taken from another group's), fill the
    unseen places by that rule; the candidate is still tested against every probe."""
    inside = model.source != ABSENT
    if not (inside & ~seen).any() or (seen & ~inside & (source != ABSENT)).any():
        return
    sigma = slice_sources(spec, source, coefficient, seen, model.source)
    if sigma is None:
        return
    kernel_shape = _canonical_kernel_shape(spec)
    wanted = np.unravel_index(np.maximum(model.source, 0), kernel_shape)
    slices = np.broadcast_to(np.asarray(sigma).reshape((-1,) + (1,) * (source.ndim - 1)), source.shape)
    filled = np.ravel_multi_index((slices, *wanted[1:]), kernel_shape)
    source[inside], coefficient[inside] = filled[inside], 1


def _absent(spec, lit_round, geometry, records) -> list:
    """(output channel, input channel, tap...) places each lit slot should have met under the
    geometry, where the backend was seen to multiply nothing."""
    roles = layout.roles(spec)
    lit_role = roles[lit_round.lit_tensor]
    filled = roles[SHAPED_LIKE[lit_round.quantity]]
    rows = lit_round.lit_rows()
    out_name = SHAPED_LIKE[lit_round.quantity]
    met = lit_probes.exercised(spec, lit_round, geometry.strides, geometry.dilations, geometry.befores)
    absent = []
    if filled == "kernel":
        if lit_round.undecoded:
            return []
        shown = {(int(j), int(n), int(c), *map(int, p)) for j, (n, c, *p) in
                 zip(records.lit, records.direct_input)}
        for j, row in enumerate(rows):
            n, co = int(row[0]), int(row[1])
            for position, taps in met[j]:
                for ci in range(spec.direct_input_channels):
                    if (j, n, ci, *position) not in shown:
                        absent.append((co, ci, *taps))
        return absent
    other_channels = spec.direct_output_channels if lit_role == "direct_input" else spec.direct_input_channels
    for j, row in enumerate(rows):
        n, c = int(row[0]), int(row[1])
        for position, taps in met[j]:
            entries = np.array([[n, other, *position] for other in range(other_channels)], dtype=np.int64)
            user = layout.index_to_user(spec, out_name, entries)
            flat = np.ravel_multi_index(tuple(user.T), lit_round.shape)
            slots = lit_round.slot_of[flat]
            for other, slot in zip(range(other_channels), slots):
                if slot == -1 or (slot >= 0 and slot != j):
                    absent.append((other, c, *taps) if lit_role == "direct_input" else (c, other, *taps))
    return absent


# ---- candidates ----------------------------------------------------------------------------------

def kernel_candidate(ctx, name, summary, sentence, parameters, kernel_map: KernelMap, alt: ConvSpec | None = None,
                     flipped=()):
    """The candidate that evaluates ``alt`` (default: the spec) with the kernel read through
    ``kernel_map`` (and flipped on ``flipped``)."""
    evaluated, use = kernel_map.uses()
    if alt is not None and alt is not ctx.spec:
        if evaluated is not ctx.spec:
            evaluated = ungrouped(alt)
            if evaluated is None:
                return None
            use = Use("k", _gathered(ctx.spec, evaluated, kernel_map.source.reshape(-1),
                                     kernel_map.coefficient.reshape(-1)),
                      _scattered(ctx.spec, evaluated, kernel_map.source.reshape(-1),
                                 kernel_map.coefficient.reshape(-1)), False)
        else:
            evaluated = alt
    uses = [use] + ([flip_use(ctx.spec, flipped)] if flipped else [])
    return alternative(ctx, name, summary, sentence, parameters, alt=evaluated, uses=uses)


def flip_use(spec: ConvSpec, axes) -> Use:
    where = tuple(layout.spatial_axes(spec, "k")[a] for a in axes)

    def flip(a):
        return np.flip(a, axis=where)
    return Use("k", flip, flip, True)


def lit_rounds(runner, spec: ConvSpec, quantity: str, path: str, rng, spend, shape=None, max_rounds: int = 4,
               first=()) -> list:
    """Lit rounds that meet every channel, kernel slice and tap (``lit.spread``), at most
    ``max_rounds`` of them (two calls each)."""
    lit_tensor, _ = lit_probes.lit_plan(spec, quantity)
    rounds = []
    for slots in lit_probes.spread(spec, quantity, lit_tensor, first=first)[:max_rounds]:
        rounds.append(lit_probes.light(runner, spec, quantity, path, lit_tensor, slots, rng, spend, shape))
    return rounds


def all_records(rounds: list):
    parts = [r.records for r in rounds]
    return lit_probes.Records.join(parts) if parts else None


def tap_combinations(spec: ConvSpec):
    return itertools.product(*[range(k) for k in spec.kernel_spatial])


# ---- fitted candidates, in words ----------------------------------------------------------

def geometry_candidate(ctx: Context, geometry: Geometry) -> Candidate | None:
    y_shaped = SHAPED_LIKE[ctx.quantity] == "y"
    alt, flipped = geometry_spec(ctx.spec, geometry, ctx.shape if y_shaped else None)
    if alt is None:
        return None
    parts = describe.geometry_parts(ctx, alt, flipped)
    if not parts:
        return None
    named = describe.named_geometry(ctx, alt, flipped)
    summary = "; ".join(parts)
    sentence = f"{WHAT[ctx.quantity]} is exactly the model with {_joined(parts)}" + (f"; {named}" if named else "")
    parameters = {"strides": list(alt.strides), "dilations": list(alt.dilations),
                  "pads": [list(p) for p in alt.pads], "flipped": list(flipped)}
    if flipped:
        return alternative(ctx, "fitted_geometry", summary, sentence, parameters, alt=alt,
                           uses=[flip_use(ctx.spec, flipped)], pads=[list(p) for p in alt.pads])
    return alternative(ctx, "fitted_geometry", summary, sentence, parameters, alt=alt,
                       pads=[list(p) for p in alt.pads])


def _joined(parts) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def kernel_map_candidate(ctx: Context, kernel_map: KernelMap) -> Candidate | None:
    spec = ctx.spec
    model = KernelMap.model(spec)
    summary, phrase, parameters = kernel_map_words(spec, kernel_map, model)
    sentence = f"{WHAT[ctx.quantity]} is exactly the model with {phrase}"
    return kernel_candidate(ctx, "fitted_kernel_map", summary, sentence, parameters, kernel_map)


def kernel_map_words(spec, kernel_map: KernelMap, model: KernelMap) -> tuple:
    """(summary, phrase, parameters) for a fitted kernel map."""
    inside = model.source != ABSENT
    permuted = kernel_map.within_groups and (kernel_map.coefficient[inside] == 1).all() and \
        (kernel_map.source[inside] != ABSENT).all()
    if permuted:
        tau = np.empty(int(inside.sum()), dtype=np.int64)
        tau[model.source[inside]] = kernel_map.source[inside]
        if np.array_equal(np.sort(tau), np.arange(len(tau))):
            readings = describe.matching_readings(spec, tau)
            if readings:
                words = [describe.reading_words(spec, name, parameters) for name, parameters in readings]
                phrase = words[0] + ("" if len(words) == 1 else
                                     " (equivalently " + " or ".join(words[1:]) + ": the same map at these sizes)")
                return words[0], phrase, {"readings": [p for _, p in readings]}
            permuted_channels = describe.channel_permutations(spec, kernel_map.source, model.source)
            if permuted_channels:
                return permuted_channels[0], permuted_channels[0], {"channels": permuted_channels}
            sigma = slice_sources(spec, kernel_map.source, kernel_map.coefficient, model=model.source)
            if sigma is not None:
                phrases = describe.slice_words(spec, sigma)
                return _joined(phrases), _joined(phrases), {"slices": sigma}
            moved = np.flatnonzero(tau != np.arange(len(tau)))
            return ("the kernel read through a fixed permutation",
                    f"the kernel's entries read through a fixed permutation ({len(moved)} of {len(tau)} entries "
                    f"moved, e.g. {_example(spec, int(moved[0]), int(tau[moved[0]]))})",
                    {"moved": int(len(moved))})
    sigma = slice_sources(spec, kernel_map.source, kernel_map.coefficient, model=model.source)
    phrases = describe.channel_permutations(spec, kernel_map.source, model.source) or \
        (describe.slice_words(spec, sigma) if sigma is not None else []) or \
        describe.channel_words(spec, kernel_map.source, model.source)
    scale = np.unique(kernel_map.coefficient[kernel_map.source != ABSENT])
    if len(scale) == 1 and scale[0] != 1 and not phrases:
        phrases = [f"every kernel entry counted {scale[0]} times"]
    if not phrases:
        phrases = ["the kernel's entries read through another fixed map"]
    phrase = _joined(phrases)
    return phrase, phrase, {"channels": phrases}


def _example(spec, position: int, read: int) -> str:
    from ..model import layout
    shape = (spec.direct_output_channels, maps_for(spec).input_per_group) + spec.kernel_spatial

    def user(flat):
        canon = np.array([np.unravel_index(flat, shape)], dtype=np.int64)
        return ",".join(str(int(v)) for v in layout.index_to_user(spec, "k", canon)[0])
    return f"k[{user(read)}] read where the model reads k[{user(position)}]"
