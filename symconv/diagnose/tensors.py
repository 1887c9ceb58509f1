"""Hypotheses about the tensors: x or g shifted, the kernel flipped, transposed or read in another
layout, activations read in the other data format, direct and transposed confused, batch or
channel mix-ups, a scale or an offset, padding read as a nonzero value."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from ..model import layout
from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, SHAPED_LIKE, TENSOR_OF
from ..model.spec import DATA_FORMATS, ConvSpec
from .registry import (
    OUTPUT_TENSOR,
    WHAT,
    Candidate,
    Use,
    alternative,
    axes_text,
    axis_name,
    hypothesis,
    inputs_of,
    model_of,
    shift_phrase,
)


def _role(ctx, tensor: str) -> str:
    """The name a sentence gives x or g: g is y where the forward is diagnosed (its output)."""
    return "y" if tensor == "g" and ctx.quantity == "forward" else tensor


def _shift(axis: int, by: int):
    """out[..., i, ...] = a[..., i + by, ...], zero where i + by falls outside."""
    def apply(a):
        out = np.zeros_like(a)
        n = a.shape[axis]
        src = [slice(None)] * a.ndim
        dst = [slice(None)] * a.ndim
        src[axis] = slice(max(by, 0), n + min(by, 0))
        dst[axis] = slice(max(-by, 0), n - max(by, 0))
        out[tuple(dst)] = a[tuple(src)]
        return out
    return apply


@hypothesis("shifted_tensor", "x or g read shifted by a pixel or two along a spatial axis, zeros shifted in")
def _shifted_tensor(ctx):
    spec = ctx.spec
    for tensor in ("x", "g"):
        shape = spec.shape_of(tensor)
        spatial = layout.spatial_axes(spec, tensor)
        role = _role(ctx, tensor)
        verb = "written" if OUTPUT_TENSOR[ctx.quantity] == tensor else "read"
        for axis in range(spec.ndim):
            for by in (1, -1, 2, -2):
                if abs(by) >= shape[spatial[axis]]:
                    continue
                moved = shift_phrase(spec, axis, by)
                yield alternative(ctx, "shifted_tensor", f"{role} {verb} {moved} ({axis_name(spec, axis)})",
                                  f"{WHAT[ctx.quantity]} is exactly the model with {role} {verb} shifted: each "
                                  f"{role} pixel taken from {moved} ({axis_name(spec, axis)}), zeros shifted in at "
                                  f"the edge", {"tensor": role, "axis": axis_name(spec, axis), "by": by},
                                  uses=[Use(tensor, _shift(spatial[axis], by), _shift(spatial[axis], -by), False)])


def _flip(axes):
    def apply(a):
        return np.flip(a, axis=axes)
    return apply


@hypothesis("flipped_kernel", "the kernel flipped on some spatial axes (a true convolution)")
def _flipped_kernel(ctx):
    spec = ctx.spec
    axes = [a for a, k in enumerate(spec.kernel_spatial) if k > 1]
    for size in range(1, len(axes) + 1):
        for chosen in itertools.combinations(axes, size):
            where = axes_text(spec, chosen)
            flip = _flip(tuple(layout.spatial_axes(spec, "k")[a] for a in chosen))
            yield alternative(ctx, "flipped_kernel", f"kernel flipped on {where}",
                              f"{WHAT[ctx.quantity]} is exactly the model with the kernel flipped on {where} "
                              f"{_flip_words(spec, ctx.quantity, len(chosen) == spec.ndim)}",
                              {"axes": [axis_name(spec, a) for a in chosen]}, uses=[Use("k", flip, flip, True)])


def _flip_words(spec, quantity, everywhere: bool) -> str:
    """How a flipped kernel reads for each quantity: the forward of a convolution is then a true
    convolution; the gradients (and a transposed convolution's forward) are those of one."""
    how = "(dk[a] holds the model's dk[K-1-a])" if quantity == "filter_grad" else "(tap a reads k[K-1-a])"
    if not everywhere:
        return how
    if quantity == "forward" and not spec.transposed:
        return how + ": a true convolution, not a cross-correlation"
    what = {"forward": "the transpose", "filter_grad": "the filter gradient", "input_grad": "the input gradient"}
    return how + f": {what[quantity]} of a true convolution, not of a cross-correlation"


@hypothesis("swapped_kernel_axes", "two spatial axes of the kernel swapped (a square kernel transposed)")
def _swapped_kernel_axes(ctx):
    spec = ctx.spec
    for i, j in itertools.combinations(range(spec.ndim), 2):
        if spec.kernel_spatial[i] != spec.kernel_spatial[j] or spec.kernel_spatial[i] < 2:
            continue
        def swap(a, i=layout.spatial_axes(spec, "k")[i], j=layout.spatial_axes(spec, "k")[j]):
            return np.swapaxes(a, i, j)
        names = f"{axis_name(spec, i)} and {axis_name(spec, j)}"
        yield alternative(ctx, "swapped_kernel_axes", f"kernel axes {names} swapped",
                          f"{WHAT[ctx.quantity]} is exactly the model with the kernel's {names} axes swapped "
                          f"(k[a,b] read as k[b,a])", {"axes": [axis_name(spec, i), axis_name(spec, j)]},
                          uses=[Use("k", swap, swap, True)])


@hypothesis("transposed_kernel_channels", "the kernel's in- and out-channel axes swapped")
def _transposed_kernel_channels(ctx):
    spec = ctx.spec
    spatial = layout.spatial_axes(spec, "k")
    first, second = (a for a in range(len(spec.kernel_shape)) if a not in spatial)
    if spec.kernel_shape[first] != spec.kernel_shape[second] or spec.kernel_shape[first] < 2:
        return
    letters = list(spec.kernel_layout.lower())
    read = ",".join(letters)
    letters[first], letters[second] = letters[second], letters[first]

    def swap(a):
        return np.swapaxes(a, first, second)
    yield alternative(ctx, "transposed_kernel_channels", "kernel channels transposed",
                      f"{WHAT[ctx.quantity]} is exactly the model with the kernel's in- and out-channel axes swapped "
                      f"(k[{read}] read as k[{','.join(letters)}])", {}, uses=[Use("k", swap, swap, True)])


def _reinterpret(shape, buffer_order):
    """Read an array of ``shape`` whose buffer holds ``buffer_order`` (a permutation of its
    axes): apply reshapes the buffer to that order and moves the axes back; adjoint undoes it."""
    buffered = tuple(shape[a] for a in buffer_order)
    back = np.argsort(buffer_order)

    def apply(a):
        return np.ascontiguousarray(a).reshape(buffered).transpose(back)

    def adjoint(a):
        return np.ascontiguousarray(a.transpose(buffer_order)).reshape(shape)
    return apply, adjoint


def _through_stored_view(spec, tensor, apply):
    """``apply`` on the stored view of a tensor (a depthwise HWCM kernel as HWIO, I = 1)."""
    def on_array(a):
        return apply(layout.stored_view(spec, tensor, a)).reshape(a.shape)
    return on_array


@hypothesis("kernel_layout", "the kernel's buffer read in another order of its axes (OIHW or IOHW for HWIO, an "
                            "im2col order, any permutation)")
def _kernel_layout(ctx):
    from .describe import framework_layout, reading_words
    spec = ctx.spec
    own = layout.of(spec, "k")
    probe = np.arange(math.prod(own.stored_shape)).reshape(own.stored_shape)
    same = {}   # the map read (as bytes) -> buffer orders that read it
    for order in itertools.permutations(range(len(own.stored))):
        letters = "".join(own.stored[a] for a in order)
        swapped = own.stored.translate(str.maketrans("IO", "OI"))
        if letters == own.stored or (letters == swapped and own.size("I") == own.size("O")):
            continue  # its own order, or its channels swapped in place: transposed_kernel_channels
        moved = {a for a, b in zip(own.stored, letters) if a != b}
        if len(moved) == 2 and moved <= set(layout.spatial_letters(spec.ndim)) and \
                len({own.size(a) for a in moved}) == 1:
            continue  # two spatial axes of one size exchanged: swapped_kernel_axes
        apply, adjoint = _reinterpret(own.stored_shape, list(order))
        read = apply(probe)
        if np.array_equal(read, probe):
            continue  # the same reading
        same.setdefault(read.tobytes(), []).append((letters, apply, adjoint))
    def rank(letters):   # this op's layouts in frameworks first, then other frameworks', then the rest
        words = framework_layout(spec, letters)
        own = ("transposed" in words) == spec.transposed
        return (not words, not own)
    for members in sorted(same.values(), key=lambda m: min(rank(x[0]) for x in m)):
        members.sort(key=lambda m: rank(m[0]))
        letters, apply, adjoint = members[0]
        others = [m[0] for m in members[1:]]
        also = f" (equivalently read as {', '.join(others)}: the same reading at these sizes)" if others else ""
        yield alternative(ctx, "kernel_layout", f"kernel buffer read as {letters}",
                          f"{WHAT[ctx.quantity]} is exactly the model with "
                          f"{reading_words(spec, 'buffer', {'read_as': letters})}{also}",
                          {"layout": letters, "equivalent": others},
                          uses=[Use("k", _through_stored_view(spec, "k", apply),
                                    _through_stored_view(spec, "k", adjoint), True)])


@hypothesis("activation_layout", "x or g/y read or written channels-first instead of channels-last (or back)")
def _activation_layout(ctx):
    spec = ctx.spec
    own = spec.data_format
    other = next(fmt for fmt in DATA_FORMATS[spec.ndim] if fmt != own)
    words = {DATA_FORMATS[spec.ndim][0]: "channels-last", DATA_FORMATS[spec.ndim][1]: "channels-first"}[other]
    for tensor in ("x", "g"):
        shape = tuple(spec.shape_of(tensor))
        apply, adjoint = _reinterpret(shape, [own.index(c) for c in other])
        probe = np.arange(math.prod(shape)).reshape(shape)
        if np.array_equal(apply(probe), probe):
            continue
        role = {"x": "x", "g": "y" if ctx.quantity == "forward" else "g"}[tensor]
        verb = "written" if OUTPUT_TENSOR[ctx.quantity] == tensor else "read"
        yield alternative(ctx, "activation_layout", f"{role} {verb} {words}",
                          f"{WHAT[ctx.quantity]} is exactly the model with {role}'s buffer {verb} as {words} "
                          f"instead of {spec.data_format}", {"tensor": role, "layout": words},
                          uses=[Use(tensor, apply, adjoint, True)])


@hypothesis("transposed_op", "the quantity computed by the transposed operation (direct and transposed confused)")
def _transposed_op(ctx):
    q = ctx.quantity
    if q == "forward":
        yield alternative(ctx, "transposed_op", "the transposed convolution of x",
                          f"{WHAT[q]} is exactly the model's input gradient with x in place of g: the transposed "
                          f"operation instead of the direct one", {"computed_as": "input_grad"},
                          quantity="input_grad", rename={"k": "k", "g": "x"})
    elif q == "input_grad":
        yield alternative(ctx, "transposed_op", "the direct convolution of g",
                          f"{WHAT[q]} is exactly the model's forward with g in place of x: the direct operation "
                          f"instead of the transposed one", {"computed_as": "forward"},
                          quantity="forward", rename={"x": "g", "k": "k"})
    else:
        yield alternative(ctx, "transposed_op", "x and g exchanged",
                          f"{WHAT[q]} is exactly the model's with x and g exchanged", {"computed_as": "filter_grad"},
                          rename={"x": "g", "g": "x"})


def _batch_uses():
    def reverse(a):
        return a[::-1]

    def first_only(a):
        out = np.zeros_like(a)
        out[0] = a[0]
        return out

    def first_for_all(a):
        return np.broadcast_to(a[:1], a.shape).copy()

    def first_for_all_adjoint(a):
        out = np.zeros_like(a)
        out[0] = a.sum(axis=0)
        return out
    yield "batch items in reverse order", reverse, reverse, True
    yield "batch items after the first dropped (read as zero)", first_only, first_only, False
    yield "first batch item used for every item", first_for_all, first_for_all_adjoint, False


@hypothesis("batch_mixup", "batch items of x or g reversed, dropped or repeated")
def _batch_mixup(ctx):
    spec = ctx.spec
    if spec.batch < 2:
        return
    for tensor in ("x", "g"):
        for how, apply, adjoint, permutation in _batch_uses():
            role = _role(ctx, tensor)
            yield alternative(ctx, "batch_mixup", f"{role}'s {how}",
                              f"{WHAT[ctx.quantity]} is exactly the model with {role}'s {how}",
                              {"tensor": role, "how": how}, uses=[Use(tensor, apply, adjoint, permutation)])


def _channel_uses(axis, channels):
    def take(order):
        def apply(a):
            return np.take(a, order, axis=axis)
        return apply

    def keep(drop):
        def apply(a):
            out = a.copy()
            index = [slice(None)] * a.ndim
            index[axis] = drop
            out[tuple(index)] = 0
            return out
        return apply
    order = np.arange(channels)
    yield "channels in reverse order", take(order[::-1]), take(order[::-1]), True
    yield "channels rotated by one (channel c read as c+1)", take(np.roll(order, -1)), take(np.roll(order, 1)), True
    yield "channels rotated by one (channel c read as c-1)", take(np.roll(order, 1)), take(np.roll(order, -1)), True
    yield "last channel dropped (read as zero)", keep(channels - 1), keep(channels - 1), False
    yield "first channel dropped (read as zero)", keep(0), keep(0), False


@hypothesis("channel_mixup", "channels of x or g reversed, rotated or dropped")
def _channel_mixup(ctx):
    spec = ctx.spec
    for tensor in ("x", "g"):
        shape = spec.shape_of(tensor)
        axis = layout.channel_axis(spec, tensor)
        if shape[axis] < 2:
            continue
        for how, apply, adjoint, permutation in _channel_uses(axis, shape[axis]):
            role = _role(ctx, tensor)
            yield alternative(ctx, "channel_mixup", f"{role}'s {how}",
                              f"{WHAT[ctx.quantity]} is exactly the model with {role}'s {how}",
                              {"tensor": role, "how": how}, uses=[Use(tensor, apply, adjoint, permutation)])


def _solve_affine(model: np.ndarray, observed: np.ndarray, basis: np.ndarray | None = None):
    """(a, b) as Fractions with observed = a*basis + b (basis: the model) from two entries, or
    None when no such pair exists there."""
    basis = model if basis is None else basis
    flat_b, flat_o = basis.reshape(-1), observed.reshape(-1)
    if flat_b.size < 1:
        return None
    i, j = int(np.argmax(flat_b)), int(np.argmin(flat_b))
    if flat_b[i] == flat_b[j]:
        return None
    a = Fraction(int(flat_o[i]) - int(flat_o[j]), int(flat_b[i]) - int(flat_b[j]))
    b = int(flat_o[i]) - a * int(flat_b[i])
    return a, b


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@hypothesis("scale_offset", "the model times a constant, plus a constant")
def _scale_offset(ctx):
    if ctx.shape != ctx.model_shape or not all(np.array_equal(o, np.rint(o)) for o in ctx.observed) \
            or not np.isfinite(ctx.observed[0]).all():
        return
    solved = _solve_affine(ctx.model(0), ctx.observed[0])
    if solved is None:
        constant = ctx.observed[0].reshape(-1)[:1]
        if constant.size and (ctx.observed[0] == constant[0]).all():
            solved = (Fraction(0), Fraction(int(constant[0])))
        else:
            return
    a, b = solved
    if (a, b) == (1, 0) or a.denominator > 2**10 or b.denominator > 2**10:
        return
    if a == 0:
        summary, sentence = f"the constant {_number(b)}", f"{WHAT[ctx.quantity]} is the constant {_number(b)}: it " \
                                                           f"ignores its inputs"
    else:
        scale = {1: "", -1: "minus "}.get(a, f"{_number(a)} times ")
        offset = "" if b == 0 else f" {'plus' if b > 0 else 'minus'} {_number(abs(b))}"
        summary = f"{scale}the model{offset}".strip()
        sentence = f"{WHAT[ctx.quantity]} is exactly {scale}the model{offset}"

    def predict(where):
        model = model_of(ctx, where)
        return (model * float(a) + float(b)) if (a.denominator, b.denominator) == (1, 1) else \
            (model * a.numerator * b.denominator + b.numerator * a.denominator) / (a.denominator * b.denominator)
    yield Candidate("scale_offset", summary, sentence, {"scale": _number(a), "offset": _number(b)}, predict)


def _padding_indicator(spec: ConvSpec, shape) -> np.ndarray | None:
    """1 where the padded direct input is padding, 0 inside (None without any padding)."""
    from ..backends.base import pad_direct_input
    inside = pad_direct_input(spec, np.ones(shape))
    indicator = 1 - inside
    return indicator if indicator.any() else None


def _differs_only_where_padding_is_read(ctx) -> bool:
    """A cheap test before the padding hypothesis: entries that read no padding at all (outputs
    whose every tap is inside; kernel offsets that never reach padding) must agree."""
    maps = maps_for(ctx.spec)
    padded = [t < 0 for t in maps.taps]   # per axis: (output position, kernel offset)
    touches = [p.any(axis=1) if ctx.quantity == "forward" else p.any(axis=0) for p in padded]
    inside = np.ones([len(t) for t in touches], dtype=bool)
    for axis, t in enumerate(touches):
        shape = [1] * len(touches)
        shape[axis] = len(t)
        inside &= ~t.reshape(shape)
    differs = ctx.observed[0] != ctx.model(0)
    spatial = layout.spatial_axes(ctx.spec, SHAPED_LIKE[ctx.quantity])
    others = tuple(a for a in range(differs.ndim) if a not in spatial)
    # The remaining axes keep their order, which is the canonical spatial order only if the
    # layout keeps it; bring them there.
    reduced = differs.any(axis=others)
    order = np.argsort(np.argsort(spatial))
    return not (np.transpose(reduced, order) & inside).any()


@hypothesis("padding_value", "padding read as a nonzero constant instead of 0")
def _padding_value(ctx):
    from ..backends.base import valid_equivalent
    spec, q = ctx.spec, ctx.quantity
    if spec.role("x") != "direct_input" or q == "input_grad" or ctx.shape != ctx.model_shape:
        return
    valid = valid_equivalent(spec)
    if valid is None or not _differs_only_where_padding_is_read(ctx):
        return
    indicator = _padding_indicator(spec, spec.x_shape)
    if indicator is None:
        return

    def padding_terms(where):
        inputs = inputs_of(ctx, where)
        other = "k" if q == "forward" else "g"
        return maps_for(valid).evaluate(q, **{"x": indicator, other: inputs[other]})
    solved = _solve_affine(ctx.model(0), ctx.observed[0] - ctx.model(0), padding_terms(0))
    if solved is None:
        return
    value, rest = solved
    if rest != 0 or value == 0 or value.denominator > 2**10:
        return

    def predict(where):
        return model_of(ctx, where) + float(value) * padding_terms(where)
    yield Candidate("padding_value", f"padding read as {_number(value)}",
                    f"{WHAT[q]} is exactly the model with the padding read as {_number(value)} instead of 0",
                    {"value": _number(value)}, predict)




FILL_MODES = {"edge": "the nearest edge pixel (replicate padding)", "reflect": "its mirror image without the edge "
              "(reflect padding)", "symmetric": "its mirror image with the edge (symmetric padding)",
              "wrap": "the pixel from the other side (circular padding)"}


def _fill_gather(spec: ConvSpec, mode: str):
    """For the direct input padded by the spec's pads in ``mode``: the flat index of the pixel each
    padded position reads (per spatial position; batch and channels ride along), or None."""
    sizes = spec.direct_input_spatial
    if any(b < 0 or a < 0 for b, a in spec.pads) or any(
            max(b, a) >= n for (b, a), n in zip(spec.pads, sizes)) and mode != "edge":
        return None
    positions = np.arange(math.prod(sizes)).reshape(sizes)
    return np.pad(positions, spec.pads, mode=mode)


@hypothesis("padding_fill", "the padding filled from the input (replicate, reflect, symmetric, circular) instead "
                            "of zeros")
def _padding_fill(ctx):
    from ..backends.base import valid_equivalent
    spec, q = ctx.spec, ctx.quantity
    tensor = spec.tensor_with_role("direct_input")
    if tensor not in INPUTS[q] or ctx.shape != ctx.model_shape or not any(b or a for b, a in spec.pads):
        return
    valid = valid_equivalent(spec)
    if valid is None:
        return
    for mode, words in FILL_MODES.items():
        gather = _fill_gather(spec, mode)
        if gather is None:
            continue
        flat = gather.reshape(-1)

        def apply(a, flat=flat, shape=gather.shape):
            canon = layout.array_to_canonical(spec, tensor, a)
            lead = canon.shape[:2]
            out = canon.reshape(lead + (-1,))[..., flat].reshape(lead + shape)
            return layout.array_from_canonical(valid, tensor, out)

        def adjoint(a, flat=flat):
            canon = layout.array_to_canonical(valid, tensor, a)
            lead = canon.shape[:2]
            out = np.zeros(lead + (math.prod(spec.direct_input_spatial),), dtype=np.float64)
            np.add.at(out, (slice(None), slice(None), flat), canon.reshape(lead + (-1,)))
            return layout.array_from_canonical(spec, tensor, out.reshape(lead + spec.direct_input_spatial))
        yield alternative(ctx, "padding_fill", f"padding filled by {mode}",
                          f"{WHAT[q]} is exactly the model with each padding pixel read as {words} instead of 0",
                          {"mode": mode}, alt=valid, uses=[Use(tensor, apply, adjoint, False)])


@hypothesis("zero_region", "the entries of one region (channels, positions, batch items) zero, the rest the model's")
def _zero_region(ctx):
    from .describe import region_words
    if ctx.shape != ctx.model_shape:
        return
    differs = np.zeros(ctx.shape, dtype=bool)
    for j, observed in enumerate(ctx.observed):
        differs |= observed != ctx.model(j)
    if not differs.any() or differs.all() or any((o[differs] != 0).any() for o in ctx.observed):
        return
    holder = SHAPED_LIKE[ctx.quantity]
    text, words = region_words(ctx.spec, holder, differs, TENSOR_OF[ctx.quantity])
    if not text:
        return

    def predict(where):
        return np.where(differs, 0, model_of(ctx, where))
    region = text + (f" ({words})" if words else "")
    yield Candidate("zero_region", f"{region} zero",
                    f"{WHAT[ctx.quantity]} is exactly the model except {region}, which {'is' if differs.sum() == 1 else 'are'} "
                    f"zero", {"region": region}, predict)
