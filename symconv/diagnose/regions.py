"""Local anomalies: a difference confined to some positions, channels or taps, named with the
rule that holds inside.

The region comes first, at no cost where the output shows it (the verification's mismatch mask),
else from the lit terms that the model does not explain: the positions of one role (direct
output, direct input or kernel) that they share and no explained term has.  Lit rounds aimed at
the region (its windows, the corners and edges) show its terms, and the rule is fitted to them
alone: another geometry there, or nothing read there.  A regional model is the model outside the
region and the fitted one inside (the factor of that role split in two, or the output masked);
like every candidate it is accepted only when it reproduces every entry of every probe.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..model import layout
from ..model.quantities import INPUTS, SHAPED_LIKE
from ..probing import lit as lit_probes
from . import describe
from .fitting import ABSENT, Geometry, KernelMap, fit_geometry, geometry_candidate, geometry_spec
from .registry import WHAT, Candidate, Context, model_of

REGION_ROUNDS = 6       # lit rounds aimed at a region
REGION_POSITIONS = 8    # region positions whose windows are lit


def aimed_rounds(runner, spec, quantity, path, ctx: Context, mismatch, rng, spend, max_rounds=REGION_ROUNDS) -> list:
    """Lit rounds aimed at where a local difference would be: the windows of the wrong output
    positions (when the output is the direct output), else the corners, edges and centre."""
    lit_tensor, _ = lit_probes.lit_plan(spec, quantity)
    roles = layout.roles(spec)
    filled = roles[SHAPED_LIKE[quantity]]
    first = []
    if filled == "direct_output" and mismatch is not None and mismatch.any():
        out_name = SHAPED_LIKE[quantity]
        rows = layout.index_from_user(spec, out_name, np.argwhere(mismatch))
        positions = list(dict.fromkeys((int(r[0]), *map(int, r[2:])) for r in rows))[:REGION_POSITIONS]
        channels = spec.direct_input_channels
        for i, (n, *o) in enumerate(positions):
            for a in itertools.product(*[(0, k // 2, k - 1) for k in spec.kernel_spatial]):
                p = [s * oi + d * ai - b for oi, ai, s, d, (b, _) in zip(o, a, spec.strides, spec.dilations, spec.pads)]
                if all(0 <= v < size for v, size in zip(p, spec.direct_input_spatial)):
                    first.append((n, (i + len(first)) % channels, *p))
    else:
        spatial = spec.direct_output_spatial
        channels = spec.direct_output_channels
        for i, position in enumerate(_edges_first(spatial)):
            first.append((0, i % channels, *position))
    if not first:
        return []
    rounds = []
    for slots in lit_probes.spread(spec, quantity, lit_tensor, first=first)[:max_rounds]:
        rounds.append(lit_probes.light(runner, spec, quantity, path, lit_tensor, slots, rng, spend, ctx.shape))
    return rounds


def _edges_first(spatial) -> list:
    """Positions of a grid: the corners, then the middles of the edges and faces, then the centre."""
    per_axis = [sorted({0, n - 1, n // 2}, key=lambda v: (v not in (0, n - 1), v)) for n in spatial]
    positions = list(itertools.product(*per_axis))
    return sorted(positions, key=lambda p: -sum(v in (0, n - 1) for v, n in zip(p, spatial)))


def explained(spec, records) -> np.ndarray:
    """Which records the model explains: its geometry, and its kernel entry at that tap."""
    model = Geometry.of(spec)
    fits = model.fits(records)
    taps = model.taps(records)
    if taps is None:
        return np.zeros(len(records), dtype=bool)
    source = KernelMap.model(spec).source
    inside = fits & (taps >= 0).all(axis=1) & (taps < np.array(spec.kernel_spatial)).all(axis=1)
    kernel_shape = (spec.direct_output_channels, _per_group(spec)) + spec.kernel_spatial
    flat = np.ravel_multi_index(tuple(records.kernel.T), kernel_shape)
    expected = np.full(len(records), ABSENT)
    where = np.flatnonzero(inside)
    if len(where):
        index = (records.direct_output[where, 1], records.direct_input[where, 1], *np.maximum(taps[where], 0).T)
        expected[where] = source[index]
    return inside & (expected == flat) & (records.coefficients == 1)


def _per_group(spec) -> int:
    return spec.direct_input_channels // spec.conv_groups


def regions(spec, records, ok) -> list:
    """(role, canonical positions) where the unexplained records lie and no explained one does:
    positions of the direct output, of the direct input, or taps of the kernel."""
    found = []
    bad = ~ok
    if not bad.any():
        return found
    for role in ("direct_output", "direct_input", "kernel"):
        rows = getattr(records, role)[:, 2:]
        inside = {tuple(map(int, r)) for r in rows[bad]}
        if not any(tuple(map(int, r)) in inside for r in rows[ok]):
            found.append((role, sorted(inside)))
    return found


def mask_of(spec, role: str, positions, tensor: str) -> np.ndarray:
    """A boolean array of ``tensor``'s shape (spec layout), true at every entry whose spatial
    position (or kernel tap) is one of ``positions``."""
    shape = spec.shape_of(tensor)
    canon = layout.array_to_canonical(spec, tensor, np.zeros(shape, dtype=bool)).copy()
    for position in positions:
        canon[(slice(None), slice(None)) + tuple(position)] = True
    return np.asarray(layout.array_from_canonical(spec, tensor, canon))


def regional(ctx: Context, role: str, positions, inner, words: str, parameters: dict) -> Candidate | None:
    """The model outside the region (``role`` positions), ``inner`` (a candidate, or None: nothing
    read) inside: the factor of that role split in two, or the output masked."""
    spec, quantity = ctx.spec, ctx.quantity
    roles = layout.roles(spec)
    out_name = SHAPED_LIKE[quantity]
    if roles[out_name] == role:
        mask = mask_of(spec, role, positions, out_name)
        if mask.shape != ctx.shape:
            return None

        def predict(where):
            model = model_of(ctx, where)
            other = np.zeros_like(model) if inner is None else inner.predict(where)
            return np.where(mask, other, model)
    else:
        tensor = next((t for t in INPUTS[quantity] if roles[t] == role), None)
        if tensor is None:
            return None
        mask = mask_of(spec, role, positions, tensor)
        from ..model.indexmap import maps_for

        def predict(where):
            inputs = ctx.inputs[where] if isinstance(where, int) else where
            outside = {n: (np.where(mask, 0, a) if n == tensor else a) for n, a in inputs.items()}
            within = {n: (np.where(mask, a, 0) if n == tensor else a) for n, a in inputs.items()}
            model = maps_for(spec).evaluate(quantity, **outside)
            return model if inner is None else model + inner.predict(within)
    region = region_text(spec, role, positions)
    if words is None:
        words = "nothing is read there"
        summary = f"{region} reads nothing"
    elif words.startswith("its window"):
        summary = f"the window of {region} is read elsewhere"
    else:
        summary = f"{region}: {words}"
    if words.startswith("its window"):
        sentence = f"{WHAT[quantity]} is exactly the model except that the window of {region} is read" + \
            words[len("its window is read"):]
    else:
        sentence = f"{WHAT[quantity]} is exactly the model except for the terms of {region}: {words}"
    return Candidate("local_rule", summary, sentence, {"region": region, **parameters}, predict)


def region_text(spec, role: str, positions) -> str:
    """"y[:,2,2,:] (the last output position)": positions of one role, as the op's tensor."""
    tensor = spec.tensor_with_role(role) if role != "kernel" else "k"
    text, words = describe.region_words(spec, tensor, mask_of(spec, role, positions, tensor))
    if text:
        return text + (f" ({words})" if words else "")
    return f"{len(positions)} of the {np.prod(_sizes(spec, role))} positions of {tensor}"


def regional_candidates(ctx: Context, records, ok, mismatch):
    """Regional models fitted to the unexplained records of each separable region."""
    spec = ctx.spec
    tried = set()
    for role, seen in regions(spec, records, ok):
        for positions in _grown(ctx, role, seen, mismatch):
            key = (role, tuple(positions))
            if key in tried or len(positions) * 2 > np.prod(_sizes(spec, role)):
                continue
            tried.add(key)
            inside = _inside(records, role, positions)
            if (inside & ok).any():
                continue
            yield from _rules(ctx, role, positions, records.take(inside & ~ok))


def _grown(ctx, role, seen, mismatch) -> list:
    """Regions to try from the positions the lit terms showed: the wrong outputs' own positions
    (when the output plays this role), the positions seen, then each grown to whole axes (a row
    seen in part is the row)."""
    spec = ctx.spec
    sizes = _sizes(spec, role)
    out = []
    holder = SHAPED_LIKE[ctx.quantity]
    if mismatch is not None and layout.roles(spec)[holder] == role and holder != "k":
        rows = layout.index_from_user(spec, holder, np.argwhere(mismatch))
        out.append(sorted({tuple(map(int, r[2:])) for r in rows}))
    out.append(list(seen))
    per_axis = [sorted({p[a] for p in seen}) for a in range(len(sizes))]
    partial = [a for a in range(len(sizes)) if len(per_axis[a]) < sizes[a]]
    for count in range(1, len(partial) + 1):
        for axes in itertools.combinations(partial, count):
            sets = [range(sizes[a]) if a in axes else per_axis[a] for a in range(len(sizes))]
            out.append(sorted(itertools.product(*sets)))
    return out


def _rules(ctx, role, positions, chosen):
    """The rules fitted inside one region: another geometry there, or nothing read there."""
    spec = ctx.spec
    if len(chosen):
        geometry = fit_geometry(spec, chosen)
        if geometry is not None and geometry != Geometry.of(spec):
            alt, flipped = geometry_spec(spec, geometry)
            if alt is not None and alt.y_shape == spec.y_shape:
                inner = geometry_candidate(ctx, geometry)
                if inner is not None:
                    yield regional(ctx, role, positions, inner, _rule_words(ctx, role, alt, flipped),
                                   {"pads": [list(p) for p in alt.pads]})
    yield regional(ctx, role, positions, None, None, {})


WINDOW_MOVES = {"H": ("down", "up"), "W": ("to the right", "to the left"), "D": ("deeper", "shallower")}


def _rule_words(ctx, role, alt, flipped) -> str:
    """What the fitted geometry does inside a region: "its window is read one column to the left
    (W), as with pads 0:0,1:-1 there" where only the pads moved, the geometry's parts otherwise."""
    spec = ctx.spec
    moved = [(axis, c - b) for axis, ((b, _), (c, _)) in enumerate(zip(spec.pads, alt.pads)) if b != c]
    if role == "direct_output" and moved and not flipped and alt.strides == spec.strides and \
            alt.dilations == spec.dilations:
        steps = []
        for axis, delta in moved:
            name = describe.axis_name(spec, axis)
            unit = describe.UNITS[name][0] if spec.ndim > 1 else "position"
            way = WINDOW_MOVES.get(name, ("later", "earlier")) if spec.ndim > 1 else ("later", "earlier")
            count = describe.NUMBER_WORDS.get(abs(delta), str(abs(delta)))
            steps.append(f"{count} {unit}{'' if abs(delta) == 1 else 's'} {way[0] if delta < 0 else way[1]} ({name})")
        return f"its window is read {' and '.join(steps)}, as with pads {describe.pads_of(alt)} there"
    return "there " + _joined(describe.geometry_parts(ctx, alt, flipped))


def _inside(records, role, positions) -> np.ndarray:
    rows = getattr(records, role)[:, 2:]
    wanted = {tuple(p) for p in positions}
    return np.array([tuple(map(int, r)) in wanted for r in rows], dtype=bool)


def _sizes(spec, role) -> tuple:
    return {"direct_output": spec.direct_output_spatial, "direct_input": spec.direct_input_spatial,
            "kernel": spec.kernel_spatial}[role]


def _joined(parts) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
