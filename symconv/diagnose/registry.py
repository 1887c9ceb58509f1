"""Hypotheses: alternative exact models of a convolution, and how each is tested.

A hypothesis is a generator registered by name (``hypothesis``) that takes the ``Context``
(spec, quantity, the verification probes) and yields ``Candidate``s: each a function from a
probe's inputs to the exact output it predicts, built from another geometry (``with_geometry``,
``respec``) or from the model on transformed tensors (``alternative`` with ``Use``s).  The
hypotheses themselves live in ``geometry`` (pads, conventions, strides, dilations)
and ``tensors`` (kernels and activations read otherwise, mix-ups, scales);
``symconv.diagnose`` tests them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..errors import SymconvError
from ..model.conventions import effective_kernel
from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, SHAPED_LIKE, TENSOR_OF, WORDS
from ..model.spec import ConvSpec, format_padding
from ..probing.probe import nonzero_integers, weight_magnitude
from ..probing.verification import result_shape, row_sums, weight_axis

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
        self.seen = {}      # geometry key already tried -> (its candidate or None, the pads said of it)

    def said_pads(self) -> list:
        """Pads already named by a candidate (a convention names them better than a shift)."""
        return [p for _, said in self.seen.values() for p in said]

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
        weights = nonzero_integers(self.rng, weight_axis(alt, quantity), weight_magnitude(alt)).astype(np.float64)
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
    aliases: list = field(default_factory=list)   # other names of the same model (Candidates)

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

    @property
    def explanation(self) -> dict:
        """What kind of fix it calls for, with what it needs: geometry (pads, strides, dilations,
        conventions), a kernel reading (read_as), a flip; its pads and convention."""
        p = self.parameters
        readings = p.get("readings") or ([p] if "read_as" in p or "layout" in p else [])
        flips = p.get("flipped") or (p.get("axes") if self.name == "flipped_kernel" else None)
        if self.name in GEOMETRY_FAMILIES and not flips:
            kind = "geometry"
        elif readings:
            kind = "reading"
        elif flips:
            kind = "flip"
        else:
            kind = "other"
        first = readings[0] if readings else {}
        return {"kind": kind, "pads": self.pads if self.pads is not None else p.get("pads"),
                "convention": p.get("convention"), "read_as": first.get("read_as") or first.get("layout")}


# Families whose models differ from the spec's in pads, strides or dilations alone.
GEOMETRY_FAMILIES = {"convention", "shifted_pads", "ignored_stride", "wrong_stride", "swapped_strides",
                     "ignored_dilation", "swapped_dilations", "padding_mode", "fitted_geometry"}


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


def hypothesis(name: str, description: str, *args):
    """Register a generator ``(ctx, *args) -> iterable of Candidate or None`` under ``name``;
    ``args`` let one generator serve several families that differ in a field (``register``)."""
    def wrap(generate):
        HYPOTHESES[name] = Family(name, description, (lambda ctx: generate(ctx, *args)) if args else generate)
        return generate
    return wrap


def register(name: str, description: str, generate, *args) -> None:
    """``generate(ctx, *args)`` registered as the family ``name`` (a family that is another's
    with one field changed: strides or dilations, say)."""
    hypothesis(name, description, *args)(generate)


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


def model_of(ctx: Context, where) -> np.ndarray:
    if isinstance(where, int):
        return ctx.model(where)
    return maps_for(ctx.spec).evaluate(ctx.quantity, **ctx._needed(ctx.quantity, where))


def inputs_of(ctx: Context, where) -> dict:
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
    out_shape = tuple(alt.shape_of(TENSOR_OF[used]))
    for use in outward:
        out_shape = tuple(use.adjoint(np.zeros(out_shape)).shape)
    if out_shape != ctx.shape:
        return None
    simple = alt is spec and not inward and used == checked and not rename

    def predict(where):
        if simple:
            out = model_of(ctx, where)
        else:
            out = maps_for(alt).evaluate(used, **ctx._needed(used, mapped(inputs_of(ctx, where))))
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


def geometry(ctx: Context, name: str, alt: ConvSpec | None, summary: str, sentence: str, parameters: dict,
             pads: bool = False) -> Candidate | None:
    """A candidate that is the model of another geometry (pads, strides, dilations), unless
    that geometry is the spec's own or was tried already."""
    if alt is None:
        return None
    key = _geometry_key(alt)
    if key == _geometry_key(ctx.spec):
        return None
    if key in ctx.seen:
        # The same model under another name (same_lower and torch where the last row is never read):
        # one test, both names.
        first, said = ctx.seen[key]
        alias_pads = [list(p) for p in alt.pads]
        # Another name says something new when it names a convention or other pads (3:3 beside 3:2,
        # where the last row is never read).
        if first is not None and (name == "convention" or alias_pads not in said):
            said.append(alias_pads)
            first.aliases.append(Candidate(name, summary, sentence, parameters, first.predict, first.screen,
                                           alias_pads if pads else None))
        return None
    candidate = alternative(ctx, name, summary, sentence, parameters, alt=alt,
                            pads=[list(p) for p in alt.pads] if pads else None)
    ctx.seen[key] = (candidate, [[list(p) for p in alt.pads]])
    return candidate


# ---- words ----------------------------------------------------------------------------------

AXIS_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}
UNITS = {"H": ("row", "lower", "higher"), "W": ("column", "further right", "further left"),
         "D": ("depth slice", "deeper", "shallower")}


def axis_name(spec: ConvSpec, axis: int) -> str:
    return AXIS_NAMES[spec.ndim][axis]


def axes_text(spec: ConvSpec, axes) -> str:
    names = [axis_name(spec, a) for a in axes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def shift_phrase(spec: ConvSpec, axis: int, delta: int) -> str:
    """How far a pixel index moves on one axis: "one row lower" for +1 on H."""
    name = axis_name(spec, axis)
    unit, more, less = UNITS[name] if spec.ndim > 1 else ("position", "later", "earlier")
    count = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}.get(abs(delta), str(abs(delta)))
    return f"{count} {unit}{'' if abs(delta) == 1 else 's'} {more if delta > 0 else less}"


def pads_sentence(ctx: Context, alt: ConvSpec) -> str:
    """"every x pixel is one row lower (H)" for the pads of ``alt`` against the spec's."""
    spec = ctx.spec
    padded = spec.tensor_with_role("direct_input")
    moves = [f"{shift_phrase(spec, a, b - a_b)} ({axis_name(spec, a)})"
             for a, ((b, _), (a_b, _)) in enumerate(zip(spec.pads, alt.pads)) if b != a_b]
    if not moves:
        return "the same pixels"
    return f"every {padded} pixel is " + (moves[0] if len(moves) == 1 else ", ".join(moves[:-1]) + " and " + moves[-1])


def pads_of(spec) -> str:
    return format_padding(tuple(spec.pads))


