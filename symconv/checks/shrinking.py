"""Shrinking a failing case to the smallest one that fails the same way, and the command line
that reproduces it: the sweep shrinks its findings with it, and ``check`` a mismatch that no
hypothesis explains at the size it was given.

Greedy, as test-case reducers do: try each smaller neighbour of the spec (a smaller batch,
fewer channels or groups, a smaller input, kernel, stride or dilation on one axis, pads nearer
zero, the default layout, no requested output shape; never another op or SAME convention, which
would be another question), keep the first
that still fails the same way, and start again from it, until no neighbour fails or the budget
is spent.  Each neighbour is strictly smaller in one field, so the search ends.  (Hypothesis's
shrinker cannot start from a given failing example through its public API, so the reduction is
done here.)

>>> from symconv import ConvSpec
>>> spec = ConvSpec("conv2d", "2x6x5x3", "3x3x3x4", strides=(3, 1), padding="SAME", convention="legacy_eigen")
>>> small, steps = shrink(spec, lambda s: s.pads[0][0] < 0)   # windows that start inside the input
>>> print(command_line(small, []))
symconv check conv2d --input 1x3x1x1 --kernel 1x1x1x1 --strides 3,1 --padding SAME --convention legacy_eigen
"""

from __future__ import annotations

import time

from ..errors import SymconvError
from ..model.notation import layer_options
from ..model.spec import ConvSpec

MAX_EVALUATIONS = 120
MAX_SECONDS = 120.0


def _fields(spec: ConvSpec) -> dict:
    return dict(op=spec.op, input_shape=spec.input_shape, kernel_shape=spec.kernel_shape, strides=spec.strides,
                dilations=spec.dilations, padding=spec.padding, convention=spec.convention,
                data_format=spec.data_format, groups=spec.groups, output_shape_request=spec.output_shape_request)


def _make(**fields) -> ConvSpec | None:
    try:
        return ConvSpec(**fields)
    except SymconvError:
        return None


def _smaller(value: int, low: int = 1) -> list:
    """Values below ``value`` to try, the smallest first: low, half, one less."""
    return [v for v in dict.fromkeys((low, value // 2, value - 1)) if low <= v < value]


def _toward_zero(value: int) -> list:
    return [v for v in dict.fromkeys((0, value // 2 if value > 0 else -(-value // 2), value - 1 if value > 0
                                      else value + 1)) if abs(v) < abs(value)]


def _layout(spec: ConvSpec) -> dict:
    """The spec as counts: batch, channels (per group), spatial sizes, kernel sizes."""
    nd = spec.ndim
    x = spec.input_shape
    batch, spatial = x[0], (x[1:1 + nd] if spec.channels_last else x[2:])
    k_in, k_out = spec.kernel_shape[-2:]
    return dict(batch=batch, spatial=tuple(spatial), kernel=tuple(spec.kernel_shape[:nd]), k_in=k_in, k_out=k_out)


def _rebuild(spec: ConvSpec, batch=None, spatial=None, kernel=None, k_in=None, k_out=None, groups=None,
             drop_request=False, **changes) -> ConvSpec | None:
    """The spec with counts changed (shapes rebuilt in its layout), or None if invalid."""
    now = _layout(spec)
    batch = now["batch"] if batch is None else batch
    spatial = now["spatial"] if spatial is None else spatial
    kernel = now["kernel"] if kernel is None else kernel
    k_in = now["k_in"] if k_in is None else k_in
    k_out = now["k_out"] if k_out is None else k_out
    groups = spec.groups if groups is None else groups
    fmt = changes.pop("data_format", spec.data_format)
    channels_last = fmt.endswith("C")
    if spec.kind == "conv":
        c = k_in * groups
    elif spec.kind == "depthwise":
        c = k_in
    else:
        c = k_out
    x = (batch, *spatial, c) if channels_last else (batch, c, *spatial)
    fields = _fields(spec)
    fields.update(input_shape=x, kernel_shape=(*kernel, k_in, k_out), groups=groups, data_format=fmt, **changes)
    request = spec.output_shape_request
    if request is not None and not drop_request and "output_shape_request" not in changes:
        nd = spec.ndim
        big = request[1:1 + nd] if spec.channels_last else request[2:]
        out_c = k_in * groups
        fields["output_shape_request"] = (batch, *big, out_c) if channels_last else (batch, out_c, *big)
    elif drop_request:
        fields["output_shape_request"] = None
    made = _make(**fields)
    if made is None and fields["output_shape_request"] is not None and "output_shape_request" not in changes:
        fields["output_shape_request"] = None   # the requested output no longer fits: the default one
        made = _make(**fields)
    return made


def neighbours(spec: ConvSpec):
    """Smaller specs next to ``spec``, the simplest changes first (each may be None: invalid)."""
    now = _layout(spec)
    if not spec.channels_last:
        channels_last = {"NCW": "NWC", "NCHW": "NHWC", "NCDHW": "NDHWC"}[spec.data_format]
        yield _rebuild(spec, data_format=channels_last)
    if spec.output_shape_request is not None:
        yield _rebuild(spec, drop_request=True)
    if spec.groups > 1:
        for g in _smaller(spec.groups):
            if spec.kind == "conv":  # the same out-channels per group
                yield _rebuild(spec, groups=g, k_out=now["k_out"] // spec.groups * g)
            else:
                yield _rebuild(spec, groups=g)
    for batch in _smaller(now["batch"]):
        yield _rebuild(spec, batch=batch)
    for name in ("k_in", "k_out"):
        step = spec.groups if (spec.kind == "conv" and name == "k_out") or \
            (spec.kind == "transpose" and name == "k_out") else 1
        for value in _smaller(now[name] // step):
            yield _rebuild(spec, **{name: value * step})
    nd = spec.ndim
    for axis in range(nd):
        for size in _smaller(now["spatial"][axis]):
            yield _rebuild(spec, spatial=_put(now["spatial"], axis, size))
        for size in _smaller(now["kernel"][axis]):
            yield _rebuild(spec, kernel=_put(now["kernel"], axis, size))
        for name in ("strides", "dilations"):
            for value in _smaller(getattr(spec, name)[axis]):
                yield _rebuild(spec, **{name: _put(getattr(spec, name), axis, value)})
        if not isinstance(spec.padding, str):
            for side in (0, 1):
                for value in _toward_zero(spec.padding[axis][side]):
                    pair = list(spec.padding[axis])
                    pair[side] = value
                    yield _rebuild(spec, padding=_put(spec.padding, axis, tuple(pair)))
        if spec.output_shape_request is not None:
            request = spec.output_shape_request
            position = 1 + axis if spec.channels_last else 2 + axis
            for size in _smaller(request[position]):
                yield _rebuild(spec, output_shape_request=_put(request, position, size))


def _put(values, index, value) -> tuple:
    out = list(values)
    out[index] = value
    return tuple(out)


def _size(spec: ConvSpec) -> tuple:
    """What 'smaller' means: fewer elements, then smaller geometry numbers."""
    elements = 1
    for n in spec.input_shape:
        elements *= n
    weights = 1
    for n in spec.kernel_shape:
        weights *= n
    pads = 0 if isinstance(spec.padding, str) else sum(abs(p) for pair in spec.padding for p in pair)
    return (elements + weights, sum(spec.strides) + sum(spec.dilations) + pads)


def shrink(spec: ConvSpec, fails, max_evaluations: int = MAX_EVALUATIONS,
           max_seconds: float = MAX_SECONDS) -> tuple:
    """(the smallest spec found for which ``fails(spec)`` holds, steps taken).  ``fails`` must
    hold for ``spec``; it is asked about each neighbour at most once."""
    seen = {spec}
    evaluations, steps = 0, 0
    deadline = time.monotonic() + max_seconds
    current = spec
    while True:
        improved = False
        for candidate in neighbours(current):
            if candidate is None or candidate in seen:
                continue
            seen.add(candidate)
            if evaluations >= max_evaluations or time.monotonic() > deadline:
                return current, steps
            evaluations += 1
            if fails(candidate):
                current, steps, improved = candidate, steps + 1, True
                break
        if not improved:
            return current, steps


def command_line(spec: ConvSpec, target_options: list) -> str:
    """``symconv check ...`` for the spec, followed by the options naming the implementation."""
    parts = ["symconv", "check", spec.op, *layer_options(spec)]
    return " ".join(parts + [str(o) for o in target_options])
