"""Wrong output shapes explained: the backend's output against the model's, block by block.

A backend whose output has another shape may still hold the model's output exactly, with rows
or columns more (a transposed convolution that does not crop its full output, an output_padding
added twice) or fewer (a last row dropped).  ``sub_block`` finds where the model's output sits in
the backend's (or the backend's in the model's) on every probe; ``shape_sentence`` says it in
words; the ``sub_block`` hypothesis is the whole explanation when the entries more are zeros.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..model import layout
from ..model.quantities import SHAPED_LIKE, TENSOR_OF
from .describe import plural
from .registry import UNITS, WHAT, Candidate, axis_name, hypothesis, model_of

NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
MAX_OFFSETS = 64        # placements tried per probe


def sub_block(ctx) -> tuple | None:
    """("larger", offsets) when the model's output is a block of the backend's on every probe,
    ("smaller", offsets) when the backend's is a block of the model's, else None."""
    observed, model = ctx.shape, ctx.model_shape
    if len(observed) != len(model) or observed == model:
        return None
    if all(o >= m for o, m in zip(observed, model)):
        kind, big, small = "larger", observed, model
    elif all(o <= m for o, m in zip(observed, model)):
        kind, big, small = "smaller", model, observed
    else:
        return None
    ranges = [range(b - s + 1) for b, s in zip(big, small)]
    options = list(itertools.islice(itertools.product(*ranges), MAX_OFFSETS))
    # The ends first: extra entries usually sit at the end or the start of an axis.
    options.sort(key=lambda o: sum(min(v, b - s - v) for v, b, s in zip(o, big, small)))
    for offsets in options:
        if all(np.array_equal(_block(ctx, j, kind, offsets), _inner(ctx, j, kind)) for j in range(len(ctx.observed))):
            return kind, offsets
    return None


def _block(ctx, j, kind, offsets):
    whole = ctx.observed[j] if kind == "larger" else ctx.model(j)
    inner = ctx.model_shape if kind == "larger" else ctx.shape
    return whole[tuple(slice(o, o + n) for o, n in zip(offsets, inner))]


def _inner(ctx, j, kind):
    return ctx.model(j) if kind == "larger" else ctx.observed[j]


def shape_sentence(ctx, kind: str, offsets) -> str:
    """"the backend's y is the model's with one extra row and one extra column at the end (stride - 1
    of each): its y[:, :56, :56, :] are the model's exactly"."""
    spec, quantity = ctx.spec, ctx.quantity
    name = TENSOR_OF[quantity]
    holder = SHAPED_LIKE[quantity]
    big, small = (ctx.shape, ctx.model_shape) if kind == "larger" else (ctx.model_shape, ctx.shape)
    letters = layout.of(spec, holder).letters
    spatial = {letters.index(letter): axis for axis, letter in enumerate(layout.spatial_letters(spec.ndim))} \
        if holder != "k" else {}
    spatial_parts, other_parts = {}, []
    for a, (b, s, o) in enumerate(zip(big, small, offsets)):
        extra = b - s
        if not extra:
            continue
        if a in spatial:
            axis = spatial[a]
            unit = UNITS[axis_name(spec, axis)][0] if spec.ndim > 1 else "position"
            where = "at the end" if o == 0 else "at the start" if o == extra else \
                f"({o} at the start, {extra - o} at the end{' of each' if spec.ndim > 1 else ''})"
            why = "stride - 1" if extra == spec.strides[axis] - 1 and spec.strides[axis] > 1 else ""
            spatial_parts.setdefault((extra, where, why), []).append(unit)
        else:
            unit = {"C": "channel", "N": "batch item", "I": "in-channel", "O": "out-channel"}.get(letters[a], "entry")
            other_parts.append(f"{extra} extra {plural(extra, unit)}")
    parts = []
    for (extra, where, why), units in spatial_parts.items():
        count = NUMBER_WORDS.get(extra, str(extra))
        names = " and ".join(f"{count} extra {plural(extra, u)}" for u in units) if kind == "larger" else \
            " and ".join(f"{count} {plural(extra, u)}" for u in units)
        note = f" ({why}{' on each axis' if len(units) > 1 else ''})" if why else ""
        parts.append(f"{names} {where}{note}")
    parts += other_parts
    block = block_text(offsets, small, big)
    if kind == "larger":
        return (f"the backend's {name} is the model's with {_joined(parts)}: its {name}[{block}] "
                f"{'is' if np.prod(small) == 1 else 'are'} the model's exactly")
    return (f"the backend's {name} is the model's without {_joined(parts).replace(' extra', '')}: it is the model's "
            f"{name}[{block}] exactly")


def block_text(offsets, small, big) -> str:
    return ",".join(f"{o}:{o + n}" if (o, n) != (0, b) else ":" for o, n, b in zip(offsets, small, big))


def _joined(parts) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@hypothesis("sub_block", "the output is the model's with entries more, which are zeros")
def _sub_block(ctx):
    found = sub_block(ctx)
    if found is None or found[0] != "larger":
        return   # a cropped output is a geometry's (VALID, say): the shape note says where it sits
    kind, offsets = found
    inner = ctx.model_shape if kind == "larger" else ctx.shape
    window = tuple(slice(o, o + n) for o, n in zip(offsets, inner))

    def predict(where):
        model = model_of(ctx, where)
        out = np.zeros(ctx.shape)
        out[window] = model
        return out
    words = shape_sentence(ctx, kind, offsets)
    sentence = f"{WHAT[ctx.quantity]}: {words}; the entries more are zeros"
    yield Candidate("sub_block", words, sentence, {"kind": kind, "offsets": list(offsets)}, predict)
