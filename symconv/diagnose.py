"""Diagnosis: which structural bug explains a mismatch, decided from the verification probes.

Real bugs have few shapes (principle 9): a shifted pad, another SAME convention, a flipped or
transposed kernel, an ignored stride or dilation, a layout confusion, a scale.  Each is an
*alternative exact model*: a function from a probe's inputs to the exact output it predicts.
The verification probes already hold each probe's exact integer inputs and what the backend
returned, so a hypothesis is tested with NumPy alone, without a single backend call, and it
is accepted only when it reproduces every entry of every probe: as strong as the verification
itself (a wrong model agrees with a random probe at an entry where it differs with
probability about 1/R, Schwartz-Zippel).

The hypotheses are a registry of small generators, as the conventions are: each takes the
context (spec, quantity, probes) and yields candidates.  A candidate first passes a cheap
screen (the channel-reduced row check of ``probe.row_sums``, about a millisecond on a
56x56x64 layer) and is then evaluated in full on every probe.  ``slot_evidence`` then lights
one slot of the lit factor on the backend (two calls) to show, observed, a few entries' terms.

>>> from symconv import ConvSpec
>>> sorted(HYPOTHESES)[:4]
['activation_layout', 'batch_mixup', 'channel_mixup', 'convention']
>>> spec = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", padding="SAME")
>>> with_geometry(spec, befores=(0, 1)).pads
((0, 2), (1, 1))
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Callable

import numpy as np

from . import layout
from .conventions import REGISTRY as CONVENTIONS
from .conventions import effective_kernel
from .errors import SymconvError
from .indexmap import maps_for
from .probe import (EntryTerms, Localiser, _weight_axis, _weight_magnitude, nonzero_integers, result_shape,
                    row_sums)
from .quantities import INPUTS, SHAPED_LIKE, TENSOR_OF, WORDS
from .spec import DATA_FORMATS, KERNEL_LAYOUTS, ConvSpec, entry_name, format_padding

# The tensor each quantity returns, as the transforms below name it (g stands for y, whose
# layout it shares).
OUTPUT_TENSOR = {q: {"y": "g"}.get(t, t) for q, t in SHAPED_LIKE.items()}
WHAT = WORDS
SHIFT_LIMIT = 2          # pad shifts tried per axis: -2..2 (and before = 0)
EVIDENCE_ENTRIES = 3     # entries shown as evidence


# ---- the context every hypothesis is tested against ----------------------------------------

class Context:
    """A spec, a quantity and its verification probes (inputs as exact float64, observed
    outputs), with the model's output per probe computed once, on demand."""

    def __init__(self, spec: ConvSpec, quantity: str, probes: list, rng):
        self.spec, self.quantity, self.rng = spec, quantity, rng
        self.inputs = [{n: np.asarray(a, dtype=np.float64) for n, a in p.inputs.items()} for p in probes]
        self.observed = [np.asarray(p.observed, dtype=np.float64) for p in probes]
        self.shape = self.observed[0].shape
        self.model_shape = result_shape(spec, quantity)
        self._models = {}
        self.seen = set()   # geometry keys already tried

    def model(self, j: int) -> np.ndarray:
        """The model's exact output on probe j (float64 sums of integers stay exact: every
        probe sum is below 2**24, far inside 2**53)."""
        if j not in self._models:
            self._models[j] = maps_for(self.spec).evaluate(self.quantity, **self._needed(self.quantity, self.inputs[j]))
        return self._models[j]

    @staticmethod
    def _needed(quantity, inputs) -> dict:
        return {name: inputs[name] for name in INPUTS[quantity]}

    def row_check(self, alt: ConvSpec, quantity: str, inputs: dict, observed: np.ndarray) -> bool:
        """Whether ``observed`` passes the row check of ``alt``'s model (a screen: a wrong
        model fails it with overwhelming probability; a passing one is then evaluated)."""
        weights = nonzero_integers(self.rng, _weight_axis(alt, quantity), _weight_magnitude(alt)).astype(np.float64)
        lhs, rhs = row_sums(alt, quantity, self._needed(quantity, inputs), observed, weights)
        return lhs.shape == rhs.shape and np.array_equal(lhs, rhs)


@dataclass
class Candidate:
    """One alternative exact model.  ``predict(j)`` gives its output on verification probe j,
    ``predict(inputs)`` on any inputs; ``screen(j, observed)`` is False when ``observed`` surely
    is not its output on probe j."""

    name: str                      # the registry name of the hypothesis
    summary: str                   # a short phrase: "pads 0:2,1:1 instead of 1:1,1:1"
    sentence: str                  # the whole diagnosis in one sentence
    parameters: dict
    predict: Callable
    screen: Callable | None = None
    pads: list | None = None       # the pads it implies, when it is a padding hypothesis

    def explains(self, observed_outputs: list) -> bool:
        """Whether it reproduces every entry of these outputs of the verification probes."""
        if self.screen is not None and not self.screen(0, observed_outputs[0]):
            return False
        for j, observed in enumerate(observed_outputs):
            predicted = self.predict(j)
            if predicted.shape != observed.shape or not np.array_equal(predicted, observed):
                return False
        return True

    def as_json(self) -> dict:
        out = {"hypothesis": self.name, "summary": self.summary, "sentence": self.sentence,
               "parameters": self.parameters}
        if self.pads is not None:
            out["pads"] = self.pads
        return out


@dataclass(frozen=True)
class Use:
    """The implementation uses ``apply(t)`` where the model uses tensor ``t`` ("x", "k" or "g";
    for the forward, "g" stands for y, which shares its layout).  Where ``t`` is a quantity's
    output, the consistent bug returns the adjoint of the model's output."""

    tensor: str
    apply: Callable
    adjoint: Callable
    permutation: bool   # the adjoint is the inverse (entries only move)


# ---- the registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    name: str
    description: str
    generate: Callable


HYPOTHESES: dict[str, Family] = {}


def hypothesis(name: str, description: str):
    """Register a generator ``(ctx) -> iterable of Candidate or None`` under ``name``."""
    def wrap(generate):
        HYPOTHESES[name] = Family(name, description, generate)
        return generate
    return wrap


# ---- building alternative models ---------------------------------------------------------------

def respec(spec: ConvSpec, **fields) -> ConvSpec | None:
    """The spec with some fields changed (resolved afresh), or None when that is not a valid
    convolution."""
    try:
        return replace(spec, **fields)
    except SymconvError:
        return None


def with_geometry(spec: ConvSpec, strides=None, dilations=None, befores=None) -> ConvSpec | None:
    """The same convolution with other strides, dilations or pads before, keeping every
    tensor's shape (explicit pads; ``after`` follows from the output size), or None."""
    strides = tuple(strides or spec.strides)
    dilations = tuple(dilations or spec.dilations)
    befores = tuple(befores if befores is not None else (b for b, _ in spec.pads))
    pads = []
    for size_in, size_out, k, s, d, b in zip(spec.direct_input_spatial, spec.direct_output_spatial,
                                             spec.kernel_spatial, strides, dilations, befores):
        pads.append((b, (size_out - 1) * s + effective_kernel(k, d) - size_in - b))
    request = spec.y_shape if spec.role("y") == "direct_input" else None   # y's size is asked for, not derived
    alt = respec(spec, strides=strides, dilations=dilations, padding=tuple(pads), output_shape_request=request)
    if alt is None or alt.direct_output_spatial != spec.direct_output_spatial \
            or alt.direct_input_spatial != spec.direct_input_spatial:
        return None
    return alt


def _geometry_key(spec: ConvSpec) -> tuple:
    return (spec.strides, spec.dilations, tuple(b for b, _ in spec.pads), spec.direct_output_spatial,
            spec.direct_input_spatial)


def _model_of(ctx: Context, where) -> np.ndarray:
    if isinstance(where, int):
        return ctx.model(where)
    return maps_for(ctx.spec).evaluate(ctx.quantity, **ctx._needed(ctx.quantity, where))


def _inputs_of(ctx: Context, where) -> dict:
    return ctx.inputs[where] if isinstance(where, int) else where


def alternative(ctx: Context, name: str, summary: str, sentence: str, parameters: dict, *, alt: ConvSpec = None,
                uses=(), quantity: str | None = None, rename: dict | None = None, pads=None) -> Candidate | None:
    """A candidate that evaluates ``alt``'s model (default: the spec's) of ``quantity``
    (default: the one checked) on inputs transformed by ``uses`` (and renamed by ``rename``:
    model input -> probe input), or None when its shapes cannot match the observed output."""
    spec, checked = ctx.spec, ctx.quantity
    alt = alt or spec
    used = quantity or checked
    out_tensor = OUTPUT_TENSOR[checked]
    inward = [u for u in uses if u.tensor != out_tensor]
    outward = [u for u in uses if u.tensor == out_tensor]

    def mapped(inputs):
        m = dict(inputs)
        for use in inward:
            m[use.tensor] = use.apply(m[use.tensor])
        if rename:
            m = {model_name: m[probe_name] for model_name, probe_name in rename.items()}
        return m

    sample = mapped(ctx.inputs[0])
    if any(n not in sample or sample[n].shape != tuple(alt.shape_of(n)) for n in INPUTS[used]):
        return None
    if tuple(alt.shape_of(TENSOR_OF[used])) != ctx.shape:
        return None
    simple = alt is spec and not inward and used == checked and not rename

    def predict(where):
        if simple:
            out = _model_of(ctx, where)
        else:
            out = maps_for(alt).evaluate(used, **ctx._needed(used, mapped(_inputs_of(ctx, where))))
        for use in outward:
            out = use.adjoint(out)
        return out

    def screen(j, observed):
        if simple:
            return np.array_equal(predict(j), observed)
        if not all(use.permutation for use in outward):
            return True
        for use in outward:
            observed = use.apply(observed)
        return ctx.row_check(alt, used, mapped(ctx.inputs[j]), observed)

    return Candidate(name, summary, sentence, parameters, predict, screen, pads)


def _geometry(ctx: Context, name: str, alt: ConvSpec | None, summary: str, sentence: str, parameters: dict,
              pads: bool = False) -> Candidate | None:
    """A candidate that is the model of another geometry (pads, strides, dilations), unless
    that geometry is the spec's own or was tried already."""
    if alt is None:
        return None
    key = _geometry_key(alt)
    if key == _geometry_key(ctx.spec) or key in ctx.seen:
        return None
    ctx.seen.add(key)
    return alternative(ctx, name, summary, sentence, parameters, alt=alt,
                       pads=[list(p) for p in alt.pads] if pads else None)


# ---- words ----------------------------------------------------------------------------------

AXIS_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}
UNITS = {"H": ("row", "lower", "higher"), "W": ("column", "further right", "further left"),
         "D": ("depth slice", "deeper", "shallower")}


def axis_name(spec: ConvSpec, axis: int) -> str:
    return AXIS_NAMES[spec.ndim][axis]


def _axes_text(spec: ConvSpec, axes) -> str:
    names = [axis_name(spec, a) for a in axes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def shift_phrase(spec: ConvSpec, axis: int, delta: int) -> str:
    """How far a pixel index moves on one axis: "one row lower" for +1 on H."""
    name = axis_name(spec, axis)
    unit, more, less = UNITS[name] if spec.ndim > 1 else ("position", "later", "earlier")
    count = "one" if abs(delta) == 1 else str(abs(delta))
    return f"{count} {unit}{'' if abs(delta) == 1 else 's'} {more if delta > 0 else less}"


def _pads_sentence(ctx: Context, alt: ConvSpec) -> str:
    """"every x pixel is one row lower (H)" for the pads of ``alt`` against the spec's."""
    spec = ctx.spec
    padded = spec.tensor_with_role("direct_input")
    moves = [f"{shift_phrase(spec, a, b - a_b)} ({axis_name(spec, a)})"
             for a, ((b, _), (a_b, _)) in enumerate(zip(spec.pads, alt.pads)) if b != a_b]
    if not moves:
        return "the same pixels"
    return f"every {padded} pixel is " + (moves[0] if len(moves) == 1 else ", ".join(moves[:-1]) + " and " + moves[-1])


def _pads(spec) -> str:
    return format_padding(tuple(spec.pads))


# ---- the hypotheses ------------------------------------------------------------------------

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
        how = _pads_sentence(ctx, alt) if same_shape and alt.direct_input_spatial == spec.direct_input_spatial else \
            f"output {'x'.join(map(str, alt.shape_of(TENSOR_OF[ctx.quantity])))}"
        yield _geometry(ctx, "convention", alt, f"SAME resolved by {name} (pads {_pads(alt)})",
                        f"{WHAT[ctx.quantity]} is exactly the model with SAME resolved by the {name} convention "
                        f"(pads {_pads(alt)} instead of {_pads(spec)}): {how}",
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
        yield _geometry(ctx, "shifted_pads", alt, f"pads {_pads(alt)} instead of {_pads(spec)}",
                        f"{WHAT[ctx.quantity]} is exactly the model with pads {_pads(alt)} instead of {_pads(spec)}: "
                        f"{_pads_sentence(ctx, alt)}", {"pads": [list(p) for p in alt.pads]}, pads=True)


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
    return f", with pads {_pads(alt)}{why}"


def _variants(spec, field_name, values):
    """The geometry that keeps every shape, then the spec resolved afresh with those values."""
    yield with_geometry(spec, **{field_name: values})
    yield respec(spec, **{field_name: values})


@hypothesis("ignored_stride", "the stride of some axes ignored (taken as 1)")
def _ignored_stride(ctx):
    spec = ctx.spec
    for axes in _axis_sets(a for a, s in enumerate(spec.strides) if s > 1):
        strides = _replace(spec.strides, axes, lambda s: 1)
        for alt in _variants(spec, "strides", strides):
            yield _geometry(ctx, "ignored_stride", alt, f"stride ignored on {_axes_text(spec, axes)}",
                            f"{WHAT[ctx.quantity]} is exactly the model with stride 1 instead of "
                            f"{'/'.join(str(spec.strides[a]) for a in axes)} on {_axes_text(spec, axes)}: it ignores "
                            f"the stride there" + _new_befores(spec, alt),
                            {"axes": [axis_name(spec, a) for a in axes], "strides": list(strides)})


@hypothesis("wrong_stride", "a stride one larger or smaller on one axis")
def _wrong_stride(ctx):
    spec = ctx.spec
    for axis, s in enumerate(spec.strides):
        for other in (s + 1, s - 1):
            if other < 1:
                continue
            strides = _replace(spec.strides, (axis,), lambda _: other)
            yield _geometry(ctx, "wrong_stride", with_geometry(spec, strides=strides),
                            f"stride {other} instead of {s} on {axis_name(spec, axis)}",
                            f"{WHAT[ctx.quantity]} is exactly the model with stride {other} instead of {s} on "
                            f"{axis_name(spec, axis)}", {"axis": axis_name(spec, axis), "strides": list(strides)})


@hypothesis("swapped_strides", "the strides of two axes swapped")
def _swapped_strides(ctx):
    spec = ctx.spec
    for i, j in itertools.combinations(range(spec.ndim), 2):
        if spec.strides[i] == spec.strides[j]:
            continue
        strides = list(spec.strides)
        strides[i], strides[j] = strides[j], strides[i]
        for alt in _variants(spec, "strides", tuple(strides)):
            yield _geometry(ctx, "swapped_strides", alt, f"strides of {axis_name(spec, i)} and {axis_name(spec, j)} "
                            f"swapped", f"{WHAT[ctx.quantity]} is exactly the model with strides "
                            f"{','.join(map(str, strides))} instead of {','.join(map(str, spec.strides))}: the strides "
                            f"of {axis_name(spec, i)} and {axis_name(spec, j)} are swapped", {"strides": strides})


@hypothesis("ignored_dilation", "the dilation of some axes ignored (taken as 1)")
def _ignored_dilation(ctx):
    spec = ctx.spec
    for axes in _axis_sets(a for a, d in enumerate(spec.dilations) if d > 1):
        dilations = _replace(spec.dilations, axes, lambda d: 1)
        for alt in _variants(spec, "dilations", dilations):
            where = _axes_text(spec, axes)
            pads = _new_befores(spec, alt, " (SAME resolved for the undilated kernel)")
            yield _geometry(ctx, "ignored_dilation", alt, f"dilation ignored on {where}",
                            f"{WHAT[ctx.quantity]} is exactly the model with dilation 1 instead of "
                            f"{'/'.join(str(spec.dilations[a]) for a in axes)} on {where}: it ignores the "
                            f"dilation there{pads}", {"axes": [axis_name(spec, a) for a in axes], "dilations": list(dilations)})


@hypothesis("swapped_dilations", "the dilations of two axes swapped")
def _swapped_dilations(ctx):
    spec = ctx.spec
    for i, j in itertools.combinations(range(spec.ndim), 2):
        if spec.dilations[i] == spec.dilations[j]:
            continue
        dilations = list(spec.dilations)
        dilations[i], dilations[j] = dilations[j], dilations[i]
        for alt in _variants(spec, "dilations", tuple(dilations)):
            yield _geometry(ctx, "swapped_dilations", alt, f"dilations of {axis_name(spec, i)} and "
                            f"{axis_name(spec, j)} swapped", f"{WHAT[ctx.quantity]} is exactly the model with "
                            f"dilations {','.join(map(str, dilations))} instead of "
                            f"{','.join(map(str, spec.dilations))}", {"dilations": dilations})


@hypothesis("padding_mode", "SAME and VALID confused")
def _padding_mode(ctx):
    spec = ctx.spec
    other = {"SAME": "VALID", "VALID": "SAME"}.get(spec.padding if isinstance(spec.padding, str) else "")
    if other is None:
        return
    alt = respec(spec, padding=other, output_shape_request=None)
    yield _geometry(ctx, "padding_mode", alt, f"padding {other} instead of {spec.padding}",
                    f"{WHAT[ctx.quantity]} is exactly the model with padding {other} instead of {spec.padding}"
                    + ("" if alt is None else f" (pads {_pads(alt)})"), {"padding": other}, pads=True)


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
        role = "y" if tensor == "g" and ctx.quantity == "forward" else tensor
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
            where = _axes_text(spec, chosen)
            flip = _flip(tuple(layout.spatial_axes(spec, "k")[a] for a in chosen))
            note = ": a true convolution, not a cross-correlation" if len(chosen) == spec.ndim else ""
            yield alternative(ctx, "flipped_kernel", f"kernel flipped on {where}",
                              f"{WHAT[ctx.quantity]} is exactly the model with the kernel flipped on {where} "
                              f"(tap a reads k[K-1-a]){note}", {"axes": [axis_name(spec, a) for a in chosen]},
                              uses=[Use("k", flip, flip, True)])


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


FRAMEWORK_NAMES = {"tf": "TensorFlow", "torch": "PyTorch"}


def _known_kernel_layouts(spec) -> dict:
    """Stored-view letters of the kernel layouts a framework uses -> how to name them."""
    spatial = layout.spatial_letters(spec.ndim)
    known = {}
    for kind in ("conv", "transpose"):
        for framework, words in FRAMEWORK_NAMES.items():
            letters = KERNEL_LAYOUTS[framework][kind].format(spatial)
            op = "transposed convolution's" if kind == "transpose" else "convolution's"
            known.setdefault(letters, f"{words}'s {op} kernel layout")
    return known


@hypothesis("kernel_layout", "the kernel's buffer read in another framework's layout (OIHW, IOHW, HWIO, HWOI)")
def _kernel_layout(ctx):
    spec = ctx.spec
    own = layout.of(spec, "k")
    for letters, words in _known_kernel_layouts(spec).items():
        if letters in (own.stored, own.stored.translate(str.maketrans("IO", "OI"))):
            continue  # its own, or its channels swapped in place: transposed_kernel_channels
        apply, adjoint = _reinterpret(own.stored_shape, [own.stored.index(c) for c in letters])
        probe = np.arange(math.prod(own.stored_shape)).reshape(own.stored_shape)
        if np.array_equal(apply(probe), probe):
            continue  # the same reading
        yield alternative(ctx, "kernel_layout", f"kernel buffer read as {letters}",
                          f"{WHAT[ctx.quantity]} is exactly the model with the kernel's buffer read as {letters} "
                          f"({words}) instead of {spec.kernel_layout}", {"layout": letters},
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
            role = "y" if tensor == "g" and ctx.quantity == "forward" else tensor
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
            role = "y" if tensor == "g" and ctx.quantity == "forward" else tensor
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
        model = _model_of(ctx, where)
        return (model * float(a) + float(b)) if (a.denominator, b.denominator) == (1, 1) else \
            (model * a.numerator * b.denominator + b.numerator * a.denominator) / (a.denominator * b.denominator)
    yield Candidate("scale_offset", summary, sentence, {"scale": _number(a), "offset": _number(b)}, predict)


def _padding_indicator(spec: ConvSpec, shape) -> np.ndarray | None:
    """1 where the padded big tensor is padding, 0 inside (None without any padding)."""
    from .backends.base import pad_big
    inside = pad_big(spec, np.ones(shape))
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
    from .backends.base import valid_equivalent
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
        inputs = _inputs_of(ctx, where)
        other = "k" if q == "forward" else "g"
        return maps_for(valid).evaluate(q, **{"x": indicator, other: inputs[other]})
    solved = _solve_affine(ctx.model(0), ctx.observed[0] - ctx.model(0), padding_terms(0))
    if solved is None:
        return
    value, rest = solved
    if rest != 0 or value == 0 or value.denominator > 2**10:
        return

    def predict(where):
        return _model_of(ctx, where) + float(value) * padding_terms(where)
    yield Candidate("padding_value", f"padding read as {_number(value)}",
                    f"{WHAT[q]} is exactly the model with the padding read as {_number(value)} instead of 0",
                    {"value": _number(value)}, predict)


# ---- testing them all ------------------------------------------------------------------------

@dataclass
class Diagnosis:
    """Which hypotheses explain every entry of every verification probe."""

    accepted: list = field(default_factory=list)
    tested: int = 0
    seconds: float = 0.0
    stopped: str | None = None
    evidence_note: str = ""
    contradicted: list = field(default_factory=list)   # (candidate, why) the evidence call refuted

    def as_json(self) -> dict:
        return {"explained_by": [c.as_json() for c in self.accepted], "hypotheses_tested": self.tested,
                "seconds": self.seconds, "stopped": self.stopped, "evidence": self.evidence_note or None,
                "contradicted": [{"hypothesis": c.name, "summary": c.summary, "why": why}
                                 for c, why in self.contradicted]}


def diagnose(spec: ConvSpec, quantity: str, probes: list, rng, seconds: float = 30.0) -> Diagnosis:
    """Test every registered hypothesis against the probes (``ProbeResult`` list: exact
    inputs and the backend's outputs).  No backend call is made."""
    started = time.monotonic()
    diagnosis = Diagnosis()
    if not probes or spec.is_empty:
        return diagnosis
    ctx = Context(spec, quantity, probes, rng)
    if not all(np.isfinite(o).all() for o in ctx.observed):
        return diagnosis
    for family in HYPOTHESES.values():
        for candidate in family.generate(ctx):
            if candidate is None:
                continue
            if time.monotonic() - started > seconds:
                diagnosis.stopped = f"stopped after {seconds:g} s with {diagnosis.tested} hypotheses tested"
                break
            diagnosis.tested += 1
            if candidate.explains(ctx.observed):
                diagnosis.accepted.append(candidate)
        if diagnosis.stopped:
            break
    diagnosis.seconds = time.monotonic() - started
    return diagnosis


# ---- values no correct implementation can produce ------------------------------------------------

@dataclass
class Garbage:
    """Entries whose value no fixed sum of products of the integer probes can take."""

    counts: dict                   # kind -> entries holding that kind on some probe
    entries: list                  # the first few: (entry index, kind, value)
    total: int                     # entries holding any impossible value

    @property
    def searchable(self) -> bool:
        """Only out-of-bound integers: an alternative model may still explain them."""
        return set(self.counts) <= {"integers beyond the bound"}

    def text(self, quantity: str, size: int) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.counts.items())
        shown = "; ".join(f"{entry_name(quantity, e)} = {_value(v)}" for e, _, v in self.entries)
        return (f"{self.total} of {size} entries hold values no sum of products of the integer probes can "
                f"take ({kinds}), e.g. {shown}")

    def as_json(self, quantity: str) -> dict:
        return {"counts": self.counts, "total": self.total,
                "entries": [{"entry": entry_name(quantity, e), "kind": kind, "value": _json_value(v)}
                            for e, kind, v in self.entries]}


def _value(v) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return str(int(v)) if v.is_integer() else repr(v)


def _json_value(v):
    v = float(v)
    return _value(v) if not math.isfinite(v) else (int(v) if v.is_integer() else v)


def impossible_values(verification, shown: int = 3) -> Garbage | None:
    """Non-finite values, non-integers and integers beyond the exactness bound on the
    verification probes (all integer-valued, so a correct backend gives none of them)."""
    masks = {}
    first_value = {}
    limit = verification.plan.value_limit
    for probe_result in verification.probes:
        values = np.asarray(probe_result.observed, dtype=np.float64)
        finite = np.isfinite(values)
        whole = np.zeros(values.shape, dtype=bool)
        whole[finite] = values[finite] == np.rint(values[finite])
        for kind, mask in (("non-finite (NaN or Inf)", ~finite), ("not integers", finite & ~whole),
                           ("integers beyond the bound", whole & (np.abs(np.where(finite, values, 0)) > limit))):
            if mask.any():
                masks[kind] = masks[kind] | mask if kind in masks else mask
                for entry in map(tuple, np.argwhere(mask)[:shown].tolist()):
                    first_value.setdefault((entry, kind), values[entry])
    if not masks:
        return None
    union = np.logical_or.reduce(list(masks.values()))
    entries = []
    for entry in map(tuple, np.argwhere(union)[:shown].tolist()):
        kind = next(k for k, m in masks.items() if m[entry])
        entries.append((entry, kind, first_value.get((entry, kind), np.nan)))
    return Garbage({kind: int(m.sum()) for kind, m in masks.items()}, entries, int(union.sum()))


# ---- evidence: a few entries' terms, observed ----------------------------------------------------

@dataclass
class Evidence:
    """Observed terms of a few entries: the partners of one lit slot."""

    items: list                # (entry, expected Terms, observed Terms, differing slots)
    slot: tuple                # (tensor, index) lit alone with the other factor id-valued


def slot_evidence(runner, spec: ConvSpec, quantity: str, path: str, verification, candidate: Candidate, rng,
                  budget, entries: int = EVIDENCE_ENTRIES) -> tuple:
    """Light one slot of the lit factor alone, the other factor id-valued (two backend
    calls), and read the partner of that slot in a few wrong entries.  Returns (Evidence or
    None, why not).  The whole output of the id-valued call must be what ``candidate``
    predicts; the hashed twin decodes the entries shown."""
    localiser = Localiser(runner, spec, quantity, path, verification, rng, budget)
    mismatching = verification.mismatching_entries(64)
    if not mismatching or localiser.id_size > 2**21:
        return None, "no entry to show"
    maps = maps_for(spec)
    first = EntryTerms.from_terms(spec, maps.terms(quantity, mismatching[0]), localiser.lit)
    order = np.unique(first.slots)
    if not len(order):
        order = np.array([0])
    tried = list(dict.fromkeys(int(q) for q in (order[0], order[-1], order[len(order) // 2], *order[1:4])))
    ids, hashed = localiser._encodings()
    lit_shape, id_shape = spec.shape_of(localiser.lit), spec.shape_of(localiser.ids)

    def inputs_for(lit_values, id_values):
        tensors = {localiser.lit: lit_values.reshape(lit_shape).astype(np.float64),
                   localiser.ids: id_values.reshape(id_shape).astype(np.float64)}
        return {n: tensors[n] for n in INPUTS[quantity]}

    out_shape = result_shape(spec, quantity)
    for q in tried[:4]:
        lit_values = np.zeros(localiser.lit_size, dtype=np.int64)
        lit_values[q] = 1
        predicted = candidate.predict(inputs_for(lit_values, ids)).reshape(-1)
        # The model's value of a few entries, from their terms: those the candidate says read
        # this slot, and the first wrong ones.
        reading = np.flatnonzero(predicted)[:64].tolist()
        pool = list(dict.fromkeys(reading + [int(np.ravel_multi_index(e, out_shape)) for e in mismatching]))
        shown = []
        for flat_entry in pool:
            e = tuple(int(v) for v in np.unravel_index(flat_entry, out_shape))
            terms = EntryTerms.from_terms(spec, maps.terms(quantity, e), localiser.lit)
            if terms.value(lit_values, ids) != predicted[flat_entry]:
                shown.append((flat_entry, e, terms))
        if not shown:
            continue  # lighting this slot alone shows no difference at the entries looked at
        by_id, by_hash = localiser._run([lit_values, lit_values], [ids, hashed])
        wrong = int((by_id != predicted).sum())
        if wrong:
            return None, (f"lighting {_slot_text(spec, localiser.lit, q)} alone, {wrong} entries differ from what "
                          f"the hypothesis predicts")
        # Entries where the backend and the model both read a partner make the clearest evidence.
        shown.sort(key=lambda item: (by_id[item[0]] == 0 or item[2].value(lit_values, ids) == 0, item[0]))
        items = []
        for flat_entry, e, terms in shown[:entries]:
            decoded = localiser._decode_value(int(by_id[flat_entry]), int(by_hash[flat_entry]))
            if decoded is None:
                continue
            mine = terms.slots == q
            expected = localiser._terms(e, np.full(int(mine.sum()), q, dtype=np.int64), terms.partners[mine],
                                        terms.coefficients[mine])
            observed = localiser._terms(e, np.full(len(decoded), q, dtype=np.int64),
                                        np.array([p for p, _ in decoded], dtype=np.int64),
                                        np.array([c for _, c in decoded], dtype=np.int64))
            items.append((e, expected, observed))
        slot = (localiser.lit, tuple(int(v) for v in np.unravel_index(q, lit_shape)))
        return Evidence([(e, exp, obs, [slot]) for e, exp, obs in items], slot), ""
    return None, "no slot tried shows the difference"


def _slot_text(spec, tensor, flat) -> str:
    index = np.unravel_index(flat, spec.shape_of(tensor))
    return f"{tensor}[{','.join(str(int(v)) for v in index)}]"
