"""Fitted models in words: a geometry against the spec's, a kernel map against the model's, a
region of a tensor.  Every phrase speaks of the op's own tensors (x, y, k, in the roles they
play in that op) and of its axes by their letters."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..model import conventions, layout
from ..model.conventions import effective_kernel
from ..model.spec import format_padding
from .registry import UNITS, axes_text, axis_name, pads_of, shift_phrase

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def numbers(values) -> str:
    """"3", "8-15", "0, 2 and 5": a set of integers, runs as ranges."""
    values = sorted(set(int(v) for v in values))
    runs, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            runs.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]


def plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


# ---- geometry ---------------------------------------------------------------------------------

def geometry_parts(ctx, alt, flipped=()) -> list:
    """What differs between the spec's geometry and ``alt``'s, phrase by phrase."""
    spec = ctx.spec
    parts = []
    if flipped:
        parts.append(f"the kernel flipped on {axes_text(spec, flipped)}")
    for field in ("strides", "dilations"):
        mine, theirs = getattr(spec, field), getattr(alt, field)
        changed = [a for a in range(spec.ndim) if mine[a] != theirs[a]]
        if changed:
            name = field[:-1]
            parts.append(f"{name} {'/'.join(str(theirs[a]) for a in changed)} instead of "
                         f"{'/'.join(str(mine[a]) for a in changed)} on {axes_text(spec, changed)}")
    if [b for b, _ in alt.pads] != [b for b, _ in spec.pads] or alt.direct_output_spatial != spec.direct_output_spatial \
            or alt.direct_input_spatial != spec.direct_input_spatial:
        moved = _moves(ctx, alt, flipped)
        parts.append(f"pads {pads_of(alt)} instead of {pads_of(spec)}" + (f": {moved}" if moved else ""))
    sizes = _sizes(spec, alt)
    if sizes:
        parts.append(sizes)
    return parts


def _moves(ctx, alt, flipped) -> str:
    """"every x pixel is three rows lower (H)": how the first window moves, axis by axis (a
    flipped axis starts its window elsewhere by construction: not said)."""
    spec = ctx.spec
    padded = spec.tensor_with_role("direct_input")
    moves = [f"{shift_phrase(spec, a, b - c)} ({axis_name(spec, a)})" for a, ((b, _), (c, _)) in
             enumerate(zip(spec.pads, alt.pads)) if b != c and a not in flipped]
    if not moves:
        return ""
    return f"every {padded} pixel is " + (moves[0] if len(moves) == 1 else ", ".join(moves[:-1]) + " and " + moves[-1])


def _sizes(spec, alt) -> str:
    y_axes = layout.spatial_axes(spec, "y")
    mine = tuple(spec.y_shape[a] for a in y_axes)
    theirs = tuple(alt.y_shape[a] for a in y_axes)
    if mine == theirs:
        return ""
    return f"y {'x'.join(map(str, theirs))} instead of {'x'.join(map(str, mine))}"


def named_geometry(ctx, alt, flipped=()) -> str:
    """What the fitted pads are, where a rule names them: a registered convention, VALID, or
    SAME's total split without clamping it at zero."""
    spec = ctx.spec
    if flipped or alt.strides != spec.strides or alt.dilations != spec.dilations:
        return ""
    befores = [b for b, _ in alt.pads]
    outs = alt.direct_output_spatial
    sizes = list(zip(alt.direct_input_spatial, spec.kernel_spatial, spec.strides, spec.dilations))
    names = [name for name, rule in sorted(conventions.REGISTRY.items())
             if all((r.before, r.out) == (b, o) for r, b, o in zip((rule(*s) for s in sizes), befores, outs))]
    if spec.padding == "SAME" and spec.convention in names:
        return ""   # the spec's own rule, at another size
    if names and (spec.padding == "SAME" or not isinstance(spec.padding, str)):
        return f"as SAME resolved by the {' or the '.join(names)} convention"
    valid = [conventions.Resolved(conventions.output_size(*size, 0, 0), 0, 0) for size in sizes]
    if spec.padding != "VALID" and all((v.before, v.out) == (b, o) for v, b, o in zip(valid, befores, outs)):
        return "the VALID output (no padding)"
    swapped = swapped_pads(spec, alt)
    if swapped:
        return swapped
    if spec.padding != "SAME":
        return ""
    split = {}
    for axis, ((size, k, s, d), b) in enumerate(zip(sizes, befores)):
        out = conventions.ceil_div(size, s)
        total = (out - 1) * s + effective_kernel(k, d) - size
        if total >= 0 or b == spec.pads[axis][0]:
            continue
        ways = {total // 2: "rounded down", -(-total // 2): "rounded up", math.trunc(total / 2): "rounded toward zero"}
        if b not in ways and total - b not in ways:
            return ""
        how = ways.get(b) or f"the after side {ways[total - b]}"
        text = (f"(out-1)*s + (k-1)*d + 1 - in = ({out}-1)*{s} + {effective_kernel(k, d)} - {size} = {total}, is "
                f"negative (the stride is larger than the kernel) and split without clamping it at zero: {b} before "
                f"({how}), {total - b} after, where the model clamps it to 0")
        split.setdefault(text, []).append(axis)
    return "; ".join(f"SAME's total padding on {axes_text(spec, axes)}, {text}" for text, axes in split.items())


def swapped_pads(spec, alt) -> str:
    """'the pads of H and W swapped ...' where ``alt``'s pads are the spec's on other axes (as a
    converter that mixes up its axes pads), else ''."""
    mine, theirs = [tuple(p) for p in spec.pads], [tuple(p) for p in alt.pads]
    if mine == theirs or sorted(mine) != sorted(theirs) or alt.direct_output_spatial != spec.direct_output_spatial:
        return ""
    moved = [a for a in range(spec.ndim) if mine[a] != theirs[a]]
    sources = {}
    for axis in moved:
        sources[axis] = next(b for b in moved if b != axis and mine[b] == theirs[axis] and b not in sources.values())
    if len(moved) == 2:
        return f"the pads of {axes_text(spec, moved)} swapped (each axis padded as the other should be)"
    return "the pads of " + axes_text(spec, moved) + " exchanged: " + ", ".join(
        f"{axis_name(spec, a)} padded as {axis_name(spec, sources[a])}" for a in moved)


# ---- kernel maps ------------------------------------------------------------------------------

def kernel_readings(spec):
    """(name, parameters, canonical flat index read at each canonical kernel position), one by one,
    for every structured way of reading the kernel: its buffer in another order of its axes (any
    permutation: OIHW for HWIO, the im2col orders), its axes exchanged where their sizes allow,
    and each of these (or none) flipped on some spatial axes."""
    own = layout.of(spec, "k")
    stored = own.stored
    positions = np.arange(math.prod(own.stored_shape)).reshape(own.stored_shape)
    canonical_of_user = np.argsort(layout.array_to_canonical(
        spec, "k", layout.from_stored_view(spec, "k", positions)).reshape(-1))
    spatial_axes = [stored.index(letter) for letter in layout.spatial_letters(spec.ndim)]
    identity = tuple(range(len(stored)))
    bases = [("identity", {}, positions)]
    for order in itertools.permutations(identity):
        if order == identity:
            continue
        letters = "".join(stored[a] for a in order)
        buffered = tuple(own.stored_shape[a] for a in order)
        bases.append(("buffer", {"read_as": letters}, positions.reshape(buffered).transpose(np.argsort(order))))
        if tuple(positions.shape[a] for a in order) == positions.shape:
            bases.append(("axes", {"axes_as": letters}, positions.transpose(order)))
    flips = [()] + [chosen for size in range(1, spec.ndim + 1) for chosen in itertools.combinations(range(spec.ndim), size)
                    if all(spec.kernel_spatial[a] > 1 for a in chosen)]
    for chosen in flips:
        for name, parameters, read in bases:
            if name == "identity" and not chosen:
                continue
            if chosen:
                read = np.flip(read, axis=tuple(spatial_axes[a] for a in chosen))
                parameters = {**parameters, "flipped": [axis_name(spec, a) for a in chosen]}
            user = layout.from_stored_view(spec, "k", read)
            yield name, parameters, canonical_of_user[layout.array_to_canonical(spec, "k", user).reshape(-1)]


def matching_readings(spec, tau, limit: int = 4) -> list:
    """The structured readings whose map is ``tau`` (canonical flat index read at each canonical
    position), the simplest first, at most ``limit``."""
    found, seen = [], set()
    for name, parameters, read in kernel_readings(spec):
        if np.array_equal(read, tau):
            key = reading_words(spec, name, parameters)
            if key not in seen:
                seen.add(key)
                found.append((name, parameters))
            if len(found) >= limit:
                break
    return found


def reading_words(spec, name: str, parameters: dict) -> str:
    """"the kernel's buffer (HWIO) read as IHWO: an im2col whose patch columns are ordered (c, h, w)
    while the kernel is flattened (h, w, c)"."""
    own = layout.of(spec, "k")
    parts = []
    if "read_as" in parameters:
        letters = parameters["read_as"]
        words = framework_layout(spec, letters)
        text = f"the kernel's buffer ({spec.kernel_layout}) read as {letters}" + (f" ({words})" if words else "")
        rows = im2col_orders(spec, own.stored, letters)
        if rows:
            text += f": an im2col whose patch columns are ordered {rows[1]} while the kernel is flattened {rows[0]}"
        parts.append(text)
    if "axes_as" in parameters:
        letters = parameters["axes_as"]
        swapped = [a for a, b in zip(own.stored, letters) if a != b]
        parts.append(f"the kernel's {' and '.join(swapped)} axes exchanged (k[{','.join(own.stored.lower())}] read as "
                     f"k[{','.join(letters.lower())}])")
    if "flipped" in parameters:
        axes = parameters["flipped"]
        parts.append(f"the kernel flipped on {axes[0] if len(axes) == 1 else ', '.join(axes[:-1]) + ' and ' + axes[-1]}")
    return ", then ".join(parts)


def framework_layout(spec, letters) -> str:
    from ..model.spec import KERNEL_LAYOUTS
    spatial = layout.spatial_letters(spec.ndim)
    for framework, words in (("tf", "TensorFlow's"), ("torch", "PyTorch's")):
        for kind in ("conv", "transpose"):
            if KERNEL_LAYOUTS[framework][kind].format(spatial) == letters:
                op = "transposed convolution's" if kind == "transpose" else "convolution's"
                return f"{words} {op} layout"
    return ""


def im2col_orders(spec, stored: str, letters: str):
    """(the kernel's flattening order, the patch order) when a reading keeps the output channels
    where they are and reorders the rest: the im2col pattern."""
    if spec.kind == "depthwise" or spec.transposed:
        return None
    if stored.index("O") != letters.index("O") or stored.index("O") not in (0, len(stored) - 1):
        return None
    names = {letter: letter.lower() for letter in layout.spatial_letters(spec.ndim)}
    names["I"] = "c"
    flat = "(" + ", ".join(names[c] for c in stored if c != "O") + ")"
    patch = "(" + ", ".join(names[c] for c in letters if c != "O") + ")"
    return flat, patch


def channel_words(spec, source, model) -> list:
    """Phrases for a kernel map that reads other channels: per direct output channel (or run of
    them) what it reads instead of the model's.  ``source``/``model``: (C_out, C_in, taps)."""
    out_name, in_name = spec.tensor_with_role("direct_output"), spec.tensor_with_role("direct_input")
    c_out = source.shape[0]
    groups = spec.conv_groups
    per_out = c_out // groups
    per_in = source.shape[1] // groups

    def group_text(channels, per):
        grps = sorted({c // per for c in channels})
        return f" (group {numbers(grps)})" if groups > 1 and len(grps) == 1 else ""

    flat_source = source.reshape(c_out, source.shape[1], -1)
    flat_model = model.reshape(c_out, model.shape[1], -1)
    rows = []
    for co in range(c_out):
        if np.array_equal(flat_source[co], flat_model[co]):
            continue
        reads = [ci for ci in range(source.shape[1]) if (flat_source[co, ci] >= 0).any()]
        wanted = [ci for ci in range(source.shape[1]) if (flat_model[co, ci] >= 0).any()]
        if not reads:
            rows.append((co, "nothing", ()))
        elif reads != wanted and len(reads) == len(wanted) and all(
                np.array_equal(flat_source[co, r], flat_model[co, w]) for r, w in zip(reads, wanted)):
            rows.append((co, "other", (tuple(reads), tuple(wanted))))
        else:
            rows.append((co, "mixed", (tuple(reads), tuple(wanted))))
    phrases = []
    for (kind, detail), members in itertools.groupby(rows, key=lambda r: (r[1], r[2])):
        channels = [co for co, _, _ in members]
        who = f"{out_name} {plural(len(channels), 'channel')} {numbers(channels)}{group_text(channels, per_out)}"
        if kind == "nothing":
            phrases.append(f"{who} reading nothing (zero)")
        elif kind == "other":
            reads, wanted = detail
            phrases.append(f"{who} computed from {in_name} {plural(len(reads), 'channel')} {numbers(reads)}"
                           f"{group_text(reads, per_in)} instead of {numbers(wanted)}{group_text(wanted, per_in)}")
        else:
            reads, wanted = detail
            phrases.append(f"{who} reading {in_name} {plural(len(reads), 'channel')} "
                           f"{numbers(reads) if reads else 'none'} through other kernel entries than the model's")
    return _merge_runs(phrases)


def _merge_runs(phrases) -> list:
    return list(dict.fromkeys(phrases))


def permutation_words(sigma, what: str = "channel") -> str:
    """"in reverse order", "rotated by one", "swapped in pairs", "transposed as a 3x4 block: channel i*3+j
    holds channel j*4+i", "0 holds 2, 1 holds 0, ...": a permutation (position i holds sigma[i])."""
    sigma = np.asarray(sigma)
    n = len(sigma)
    order = np.arange(n)
    if np.array_equal(sigma, order[::-1]):
        return f"in reverse order ({what} i holds {what} {n - 1}-i)"
    for r in range(1, n):
        if np.array_equal(sigma, np.roll(order, -r)):
            shift = f"+{r}" if r <= n // 2 else f"-{n - r}"
            return f"rotated ({what} i holds {what} i{shift}, mod {n})"
    if n % 2 == 0 and np.array_equal(sigma, order ^ 1):
        return f"swapped in pairs ({what}s 0 and 1, 2 and 3, ...)"
    for a in range(2, n):
        if n % a == 0 and np.array_equal(sigma, order.reshape(a, n // a).T.reshape(-1)):
            return f"in transposed order ({what} i*{a}+j holds {what} j*{n // a}+i)"
    for size in range(2, n):
        if n % size:
            continue
        blocks = sigma.reshape(-1, size) - np.arange(0, n, size)[:, None]
        if (blocks == blocks[0]).all() and np.array_equal(np.sort(blocks[0]), np.arange(size)):
            inner = permutation_words(blocks[0], what)
            if inner and not inner[0].isdigit():
                return f"{inner.split(' (')[0]} within each group of {size}"
    moved = [i for i in range(n) if sigma[i] != i]
    return ", ".join(f"{i} holds {int(sigma[i])}" for i in moved[:6]) + (", ..." if len(moved) > 6 else "")


def channel_permutations(spec, source, model) -> list:
    """Phrases for a kernel map that is the model's with its direct output channels or its direct
    input channels permuted (whole slices moved), or []."""
    out_name, in_name = spec.tensor_with_role("direct_output"), spec.tensor_with_role("direct_input")
    c_out, c_in = source.shape[:2]
    flat_s, flat_m = source.reshape(c_out, c_in, -1), model.reshape(c_out, c_in, -1)
    rows = {flat_m[co].tobytes(): co for co in range(c_out)}
    sigma_out = [rows.get(flat_s[co].tobytes()) for co in range(c_out)]
    if None not in sigma_out and sorted(sigma_out) == list(range(c_out)):
        words = permutation_words(sigma_out)
        extra = ""
        if spec.kind == "depthwise":
            m = c_out // spec.direct_input_channels
            if m > 1 and np.array_equal(sigma_out, np.arange(c_out).reshape(m, -1).T.reshape(-1)):
                extra = (f": {out_name} channel c*{m}+m holds the model's channel m*{spec.direct_input_channels}+c, "
                         f"the multiplier index major instead of the channel's")
        return [f"{out_name}'s channels {words}" if not extra else f"{out_name}'s channels permuted{extra}"]
    columns = {flat_m[:, ci].tobytes(): ci for ci in range(c_in)}
    sigma_in = [columns.get(flat_s[:, ci].tobytes()) for ci in range(c_in)]
    if None not in sigma_in and sorted(sigma_in) == list(range(c_in)):
        return [f"{in_name}'s channels read {permutation_words(sigma_in)}"]
    return []


def slice_words(spec, sigma) -> list:
    """"y channels 0-1 (group 0) computed with the kernel slices of channels 2-3 (group 1)", one
    phrase per run of output channels moved by the same offset: each output channel multiplies
    its own inputs by another output channel's kernel slice (``sigma[co]``)."""
    out_name = spec.tensor_with_role("direct_output")
    per = len(sigma) // spec.conv_groups

    def group_text(channels):
        grps = sorted({c // per for c in channels})
        return f" (group {numbers(grps)})" if spec.conv_groups > 1 and len(grps) == 1 and \
            len(channels) == per else ""
    groups = spec.conv_groups
    whole = [sigma[g * per] // per for g in range(groups)] if groups > 1 else None
    if whole is not None and sorted(whole) == list(range(groups)) and all(
            sigma[co] == whole[co // per] * per + co % per for co in range(len(sigma))):
        return [f"each group's {out_name} channels computed with another group's kernel slices, the groups "
                f"{permutation_words(whole, 'group')}, each on its own inputs"]
    moved = [(co, sigma[co] - co) for co in range(len(sigma)) if sigma[co] != co]
    phrases = []
    for _, members in itertools.groupby(moved, key=lambda m: m[1]):
        channels = [co for co, _ in members]
        sources = [sigma[co] for co in channels]
        phrases.append(f"{out_name} {plural(len(channels), 'channel')} {numbers(channels)}{group_text(channels)} "
                       f"computed with the kernel {plural(len(sources), 'slice')} of {plural(len(sources), 'channel')} "
                       f"{numbers(sources)}{group_text(sources)}, each on its own inputs")
    return _merge_runs(phrases)


# ---- regions ------------------------------------------------------------------------------------

AXIS_WORDS = {"first": ("first", 0), "last": ("last", -1)}


def region_words(spec, tensor: str, mask: np.ndarray, name: str | None = None) -> tuple:
    """("y[:,55,55,:]", "the last output position"), ("y[:,:,:,8:16]", "channels 8-15 (group 1)"):
    the entries of a tensor (x, k, y; ``name`` prints it otherwise, dk say) where ``mask`` holds,
    when they form a box (a set per axis); ("", "") otherwise."""
    name = name or tensor
    if not mask.any() or mask.all():
        return "", ""
    per_axis = [np.flatnonzero(mask.any(axis=tuple(b for b in range(mask.ndim) if b != a))) for a in range(mask.ndim)]
    box = np.ones(mask.shape, dtype=bool)
    for a, chosen in enumerate(per_axis):
        line = np.zeros(mask.shape[a], dtype=bool)
        line[chosen] = True
        shape = [1] * mask.ndim
        shape[a] = mask.shape[a]
        box &= line.reshape(shape)
    if not np.array_equal(box, mask):
        return "", ""
    index = []
    for a, chosen in enumerate(per_axis):
        if len(chosen) == mask.shape[a]:
            index.append(":")
        elif len(chosen) == 1:
            index.append(str(int(chosen[0])))
        elif chosen[-1] - chosen[0] + 1 == len(chosen):
            index.append(f"{chosen[0]}:{chosen[-1] + 1}")
        else:
            return "", ""
    return f"{name}[{','.join(index)}]", _region_meaning(spec, tensor, per_axis, mask.shape)


def _region_meaning(spec, holder, per_axis, shape) -> str:
    """Words for a box of a tensor: its channels (and their group), its first or last positions,
    its batch items; a kernel's slices by the channels they serve."""
    own = layout.of(spec, holder)
    letters = own.letters
    role = spec.role(holder)
    full = [len(per_axis[a]) == shape[a] for a in range(len(shape))]
    if role == "kernel":
        return _kernel_meaning(spec, letters, per_axis, full)
    spatial = [letters.index(letter) for letter in layout.spatial_letters(spec.ndim)]
    said = []
    channel = letters.index("C")
    sp_full = [full[a] for a in spatial]
    if all(sp_full) and not full[channel]:
        said.append(_channels(spec, per_axis[channel], shape[channel]))
    if not all(sp_full):
        last = [len(per_axis[a]) == 1 and per_axis[a][0] == shape[a] - 1 for a in spatial]
        first = [len(per_axis[a]) == 1 and per_axis[a][0] == 0 for a in spatial]
        where = "output" if holder == "y" else "input"
        if all(last):
            said.append(f"the last {where} position")
        elif all(first):
            said.append(f"the first {where} position")
        else:
            for axis, a in enumerate(spatial):
                if full[a]:
                    continue
                unit = UNITS[axis_name(spec, axis)][0] if spec.ndim > 1 else "position"
                if last[axis]:
                    said.append(f"the last {unit}")
                elif first[axis]:
                    said.append(f"the first {unit}")
    if not full[letters.index("N")] and shape[letters.index("N")] > 1:
        said.append(f"batch {plural(len(per_axis[letters.index('N')]), 'item')} "
                    f"{numbers(per_axis[letters.index('N')])}")
    return ", ".join(said)


def _channels(spec, chosen, count) -> str:
    """"channels 8-15, group 1": channels of a tensor, with their group when they make whole groups."""
    groups = spec.conv_groups
    per = count // groups
    grp = sorted({int(c) // per for c in chosen})
    whole = groups > 1 and len(chosen) == per * len(grp)
    return f"{plural(len(chosen), 'channel')} {numbers(chosen)}" + (f", group {numbers(grp)}" if whole else "")


def _kernel_meaning(spec, letters, per_axis, full) -> str:
    """"the kernel slices of y channels 8-15, group 1": a kernel box by the direct output channels
    it serves, when only those vary."""
    if spec.kind == "depthwise" or "O" not in letters:
        return ""
    out_axis = letters.index("O")
    others_full = all(full[a] for a in range(len(letters)) if a != out_axis)
    if full[out_axis] or not others_full:
        return ""
    out_name = spec.tensor_with_role("direct_output") if not spec.transposed else "y"
    count = spec.direct_output_channels if not spec.transposed else spec.direct_input_channels
    return f"the kernel slices of {out_name} {_channels(spec, per_axis[out_axis], count)}"


def padding_text(pads) -> str:
    return format_padding(tuple(tuple(p) for p in pads))
