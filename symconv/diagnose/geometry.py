"""Hypotheses about the geometry: SAME resolved otherwise, shifted pads, strides and dilations
ignored, wrong or swapped, SAME and VALID confused.  Each candidate is the model of another
spec."""

from __future__ import annotations

import itertools

from ..model.conventions import REGISTRY as CONVENTIONS
from ..model.quantities import TENSOR_OF
from .describe import named_geometry
from .registry import (
    SHIFT_LIMIT,
    WHAT,
    axes_text,
    axis_name,
    geometry,
    hypothesis,
    pads_of,
    pads_sentence,
    register,
    respec,
    with_geometry,
)


@hypothesis("convention", "SAME resolved by another registered convention")
def _conventions(ctx):
    spec = ctx.spec
    if spec.padding != "SAME":
        return
    for name in sorted(CONVENTIONS):
        if name == spec.convention:
            continue
        alt = respec(spec, convention=name)
        if alt is None:
            continue
        same_shape = alt.direct_output_spatial == spec.direct_output_spatial
        how = pads_sentence(ctx, alt) if same_shape and alt.direct_input_spatial == spec.direct_input_spatial else \
            f"output {'x'.join(map(str, alt.shape_of(TENSOR_OF[ctx.quantity])))}"
        yield geometry(ctx, "convention", alt, f"SAME resolved by {name} (pads {pads_of(alt)})",
                       f"{WHAT[ctx.quantity]} is exactly the model with SAME resolved by the {name} convention "
                       f"(pads {pads_of(alt)} instead of {pads_of(spec)}): {how}",
                       {"convention": name, "pads": [list(p) for p in alt.pads]}, pads=True)


@hypothesis("shifted_pads", "pads before shifted by up to two pixels on some axes (or none at all)")
def _shifted_pads(ctx):
    spec = ctx.spec
    per_axis = []
    for before, _ in spec.pads:
        options = set(range(before - SHIFT_LIMIT, before + SHIFT_LIMIT + 1)) | {0}
        per_axis.append(sorted(options, key=lambda b: (abs(b - before), b)))
    for befores in sorted(itertools.product(*per_axis),
                          key=lambda bs: sum(abs(b - p) for b, (p, _) in zip(bs, spec.pads))):
        alt = with_geometry(spec, befores=befores)
        if alt is None or alt.pads == spec.pads:
            continue
        named = named_geometry(ctx, alt) if (alt.strides, alt.dilations) == (spec.strides, spec.dilations) and \
            [list(p) for p in alt.pads] not in ctx.said_pads() else ""
        yield geometry(ctx, "shifted_pads", alt, f"pads {pads_of(alt)} instead of {pads_of(spec)}",
                       f"{WHAT[ctx.quantity]} is exactly the model with pads {pads_of(alt)} instead of "
                       f"{pads_of(spec)}: {pads_sentence(ctx, alt)}" + (f"; {named}" if named else ""),
                       {"pads": [list(p) for p in alt.pads]}, pads=True)


def _axis_sets(axes) -> list:
    """Each axis alone, then all of them together."""
    axes = list(axes)
    return [(a,) for a in axes] + ([tuple(axes)] if len(axes) > 1 else [])


def _replace(values, axes, new) -> tuple:
    return tuple(new(v) if i in axes else v for i, v in enumerate(values))


def _new_befores(spec, alt, why: str = "") -> str:
    """", with pads 1:1,1:1" when ``alt`` starts its windows elsewhere than the spec."""
    if alt is None or [b for b, _ in alt.pads] == [b for b, _ in spec.pads]:
        return ""
    return f", with pads {pads_of(alt)}{why}"


def _variants(spec, field_name, values):
    """The geometry that keeps every shape, then the spec resolved afresh with those values."""
    yield with_geometry(spec, **{field_name: values})
    yield respec(spec, **{field_name: values})


def _values_text(values) -> str:
    """"2" for one value or the same on every axis, "2/3" per axis otherwise."""
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "/".join(values)


def _ignored(ctx, field: str, why: str = ""):
    """The model with the stride or dilation of some axes taken as 1 (``field``: strides or
    dilations; ``why`` follows the new pads, where they move)."""
    spec = ctx.spec
    current, name = getattr(spec, field), field[:-1]
    for axes in _axis_sets(a for a, v in enumerate(current) if v > 1):
        values = _replace(current, axes, lambda v: 1)
        for alt in _variants(spec, field, values):
            where = axes_text(spec, axes)
            yield geometry(ctx, f"ignored_{name}", alt, f"{name} ignored on {where}",
                           f"{WHAT[ctx.quantity]} is exactly the model with {name} 1 instead of "
                           f"{_values_text(current[a] for a in axes)} on {where}: it ignores the {name} there"
                           f"{_new_befores(spec, alt, why)}",
                           {"axes": [axis_name(spec, a) for a in axes], field: list(values)})


register("ignored_stride", "the stride of some axes ignored (taken as 1)", _ignored, "strides")


@hypothesis("wrong_stride", "a stride one larger or smaller on one axis")
def _wrong_stride(ctx):
    spec = ctx.spec
    for axis, s in enumerate(spec.strides):
        for other in (s + 1, s - 1):
            if other < 1:
                continue
            strides = _replace(spec.strides, (axis,), lambda _: other)
            yield geometry(ctx, "wrong_stride", with_geometry(spec, strides=strides),
                           f"stride {other} instead of {s} on {axis_name(spec, axis)}",
                           f"{WHAT[ctx.quantity]} is exactly the model with stride {other} instead of {s} on "
                           f"{axis_name(spec, axis)}", {"axis": axis_name(spec, axis), "strides": list(strides)})


def _swapped(ctx, field: str):
    """The model with the values of ``field`` (strides or dilations) on two axes swapped."""
    spec = ctx.spec
    current = getattr(spec, field)
    for i, j in itertools.combinations(range(spec.ndim), 2):
        if current[i] == current[j]:
            continue
        swapped = list(current)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        pair = f"{axis_name(spec, i)} and {axis_name(spec, j)}"
        for alt in _variants(spec, field, tuple(swapped)):
            yield geometry(ctx, f"swapped_{field}", alt, f"{field} of {pair} swapped",
                           f"{WHAT[ctx.quantity]} is exactly the model with {field} {','.join(map(str, swapped))} "
                           f"instead of {','.join(map(str, current))}: the {field} of {pair} are swapped",
                           {field: swapped})


register("swapped_strides", "the strides of two axes swapped", _swapped, "strides")


register("ignored_dilation", "the dilation of some axes ignored (taken as 1)", _ignored, "dilations",
         " (SAME resolved for the undilated kernel)")


register("swapped_dilations", "the dilations of two axes swapped", _swapped, "dilations")


@hypothesis("padding_mode", "SAME and VALID confused")
def _padding_mode(ctx):
    spec = ctx.spec
    other = {"SAME": "VALID", "VALID": "SAME"}.get(spec.padding if isinstance(spec.padding, str) else "")
    if other is None:
        return
    alt = respec(spec, padding=other, output_shape_request=None)
    yield geometry(ctx, "padding_mode", alt, f"padding {other} instead of {spec.padding}",
                   f"{WHAT[ctx.quantity]} is exactly the model with padding {other} instead of {spec.padding}"
                   + ("" if alt is None else f" (pads {pads_of(alt)})"), {"padding": other}, pads=True)


