"""What the implementation was declared as, which explanation is closest to it, and the fix in its
own framework.

``declared`` reads what the implementation under test says of itself: a framework backend's
name, or an ``--impl`` file's imports and the ``padding=`` it writes.  ``closest_first`` orders
equivalent explanations (models that reproduce every entry alike: pads 3:3 and 3:2 when the last
row is never read; the same_lower and torch conventions) so that the one the code says comes
first.  ``fix_lines`` prints how to compute the model instead, in that framework: the explicit
pads and the layer's arguments (``F.pad`` then ``padding=0``, ``tf.pad`` then ``'VALID'``,
``lax`` padding pairs, ONNX ``pads``), the kernel as the code reads it, and the ``symconv port``
command that writes the whole layer.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

from ..model import layout
from ..model.conventions import DEFAULT, runs_as
from ..model.conventions import REGISTRY as CONVENTIONS
from ..model.notation import layer_options
from ..model.spec import ConvSpec, format_padding

FRAMEWORK_MODULES = {"torch": "torch", "tensorflow": "tf", "keras": "keras", "jax": "jax", "flax": "jax",
                     "onnx": "onnx", "onnxruntime": "onnx"}
BACKEND_FRAMEWORKS = {"tf": "tf", "tf-xla": "tf", "keras": "keras", "torch": "torch", "jax": "jax",
                      "onnxruntime": "onnx"}
WORDS = {"tf": "TensorFlow", "keras": "Keras", "torch": "PyTorch", "jax": "JAX", "onnx": "ONNX", None: "NumPy"}
# The convention each framework's own explicit or SAME padding comes closest to.
NATIVE = {"torch": ("torch",), "tf": ("tf",), "keras": ("tf",), "jax": ("tf", "same_lower"), "onnx": ("tf", "same_lower")}


@dataclass
class Declaration:
    """What the implementation says of itself."""

    framework: str | None = None     # tf, keras, torch, jax, onnx (None: none seen)
    backend: bool = False            # the framework's own op is under test (not code written with it)
    paddings: list = field(default_factory=list)   # (value, "file:line") of literal padding= arguments
    source: str = ""                 # the file it was read from

    def as_json(self) -> dict:
        return {"framework": self.framework, "padding": [{"value": v, "at": at} for v, at in self.paddings]}


def declared(backend) -> Declaration:
    """The declaration of a backend: an ``--impl`` file's (its imports and literal ``padding=``
    arguments), or a framework backend's name."""
    path = getattr(backend, "path", None)
    if isinstance(path, str) and path.endswith(".py") and os.path.isfile(path):
        return _from_file(path)
    return Declaration(BACKEND_FRAMEWORKS.get(getattr(backend, "name", "")), backend=True)


def _from_file(path: str) -> Declaration:
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return Declaration()
    found = Declaration(source=os.path.basename(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            framework = FRAMEWORK_MODULES.get(name.split(".")[0])
            if framework and found.framework in (None, "tf") and not (framework == "tf" and found.framework):
                found.framework = framework if found.framework is None or framework != "tf" else found.framework
        if isinstance(node, ast.keyword) and node.arg == "padding":
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, (int, str, tuple, list)) and not isinstance(value, bool):
                found.paddings.append((value if not isinstance(value, list) else tuple(value),
                                       f"{found.source}:{getattr(node.value, 'lineno', '?')}"))
    return found


# ---- which explanation is closest --------------------------------------------------------------

def explicit_pads(value, ndim: int):
    """The (before, after) pairs a literal ``padding=`` argument means (PyTorch's symmetric ints,
    a tuple per axis), or None for a string or anything else."""
    if isinstance(value, int):
        return tuple((value, value) for _ in range(ndim))
    if isinstance(value, tuple) and len(value) == ndim and all(isinstance(v, int) for v in value):
        return tuple((v, v) for v in value)
    if isinstance(value, tuple) and len(value) == ndim and all(
            isinstance(v, tuple) and len(v) == 2 and all(isinstance(w, int) for w in v) for v in value):
        return tuple(tuple(v) for v in value)
    return None


def closeness(explanation, declaration: Declaration, ndim: int) -> tuple:
    """A sort key: explanations whose pads the code writes first, then its framework's convention."""
    pads = explanation.get("pads")
    said = [(explicit_pads(v, ndim), at) for v, at in declaration.paddings]
    if pads is not None and any(p is not None and [list(x) for x in p] == pads for p, _ in said):
        return (0,)
    convention = explanation.get("convention")
    if convention and convention in NATIVE.get(declaration.framework, ()):
        return (1,)
    return (2,)


def why_closest(explanation, declaration: Declaration, ndim: int) -> str:
    pads = explanation.get("pads")
    for value, at in declaration.paddings:
        p = explicit_pads(value, ndim)
        if p is not None and pads is not None and [list(x) for x in p] == pads:
            return f"its code says padding={value!r} ({at})"
    convention = explanation.get("convention")
    if convention and convention in NATIVE.get(declaration.framework, ()):
        return f"it is {WORDS[declaration.framework]} code, and {convention} is how {WORDS[declaration.framework]} pads"
    return ""


# ---- the fix ----------------------------------------------------------------------------------

def fix_lines(spec: ConvSpec, declaration: Declaration, explanation: dict) -> list:
    """How to compute the model in the implementation's framework: lines of code and words."""
    kind = explanation.get("kind")
    framework = declaration.framework
    lines = []
    if kind == "geometry" and explanation.get("crop"):
        lines.append(f"keep {explanation['crop']} of the output (the model's pads {format_padding(spec.pads)}), "
                     f"or compute the model's size in the first place")
    elif kind == "geometry":
        lines += _geometry_fix(spec, framework, declaration.backend)
    elif kind == "reading":
        lines += _reading_fix(spec, explanation)
    elif kind == "flip":
        lines.append("read the kernel unflipped: a cross-correlation, as the model and every framework's conv "
                     "compute (tap a meets k[a], not k[K-1-a])")
    port = port_command(spec, framework)
    if port:
        lines.append(f"the whole layer in {WORDS.get(framework, framework)}, verified: {port}")
    return lines


def _geometry_fix(spec: ConvSpec, framework, own_op: bool = False) -> list:
    """The model's geometry said in the framework's terms; where the framework's own op is what
    differs, as explicit pads around a VALID (or unpadded) op, which do not go through its SAME."""
    pads = spec.pads
    nd = spec.ndim
    symmetric = all(b == a and b >= 0 for b, a in pads)
    strides = _args(spec.strides)
    dilations = _args(spec.dilations)
    if spec.transposed:
        size = "x".join(map(str, spec.y_shape))
        return [f"ask the transposed layer for the model's y, {size} (output_shape; PyTorch's output_padding), with "
                f"its pads {format_padding(pads)} (before:after on y)"]
    if framework == "torch":
        if symmetric:
            return [f"PyTorch: F.conv{nd}d(x, weight, stride={strides}, padding={_args([b for b, _ in pads])}"
                    f"{_dilation(dilations)})"]
        widths = tuple(v for pair in reversed(pads) for v in pair)
        return [f"PyTorch: x = F.pad(x, {widths}) (or nn.ZeroPad{nd}d({widths}) before the layer), then "
                f"F.conv{nd}d(x, weight, stride={strides}, padding=0{_dilation(dilations)})"]
    if framework in ("tf", "keras"):
        if not own_op and (spec.padding == "SAME" and runs_as(spec.convention, DEFAULT) or spec.padding == "VALID"):
            return [f"TensorFlow: padding='{spec.padding}'"]
        if all(b == a == 0 for b, a in pads):
            return [f"TensorFlow: padding='VALID' (the model's pads are {format_padding(pads)} here)"]
        spatial = [[max(b, 0), max(a, 0)] for b, a in pads]
        layout_pads = _activation_pairs(spec, spatial)
        return [f"TensorFlow: x = tf.pad(x, {layout_pads}), then padding='VALID'"
                + (" after cropping the negative pads" if any(b < 0 or a < 0 for b, a in pads) else "")]
    if framework == "jax":
        return [f"JAX: lax.conv_general_dilated(x, k, window_strides={tuple(spec.strides)}, "
                f"padding={tuple(tuple(p) for p in pads)}, rhs_dilation={tuple(spec.dilations)}, ...)"]
    if framework == "onnx":
        befores, afters = [b for b, _ in pads], [a for _, a in pads]
        return [f"ONNX: Conv with auto_pad='NOTSET', pads={befores + afters}, strides={list(spec.strides)}"]
    return [f"use the model's geometry: strides {_args(spec.strides)}, dilations {_args(spec.dilations)}, pads "
            f"{format_padding(pads)} (before:after per spatial axis: window o of an axis starts at s*o - before)"]


def _activation_pairs(spec, spatial_pairs) -> list:
    letters = spec.data_format
    spatial = dict(zip(layout.spatial_letters(spec.ndim), spatial_pairs))
    return [spatial.get(letter, [0, 0]) for letter in letters]


def _args(values) -> str:
    values = tuple(int(v) for v in values)
    return str(values[0]) if len(set(values)) == 1 else str(values)


def _dilation(text: str) -> str:
    return "" if text == "1" else f", dilation={text}"


def _reading_fix(spec: ConvSpec, explanation: dict) -> list:
    read_as = explanation.get("read_as")
    if not read_as:
        return []
    stored = layout.of(spec, "k").stored
    if set(read_as) != set(stored):
        return []
    axes = tuple(stored.index(letter) for letter in read_as)
    from .describe import im2col_orders
    im2col = im2col_orders(spec, stored, read_as)
    first = (f"order the patch columns {im2col[0]}, as the kernel is flattened" if im2col else
             f"read the kernel's buffer as {stored}, as it is stored")
    return [f"{first}; or hand the code the kernel re-stored as it reads it: "
            f"k = np.ascontiguousarray(k.transpose{axes})"]


def port_command(spec: ConvSpec, framework) -> str:
    """``symconv port ...`` that writes the layer for ``framework`` from the spec (in TensorFlow's
    terms when the spec's layouts are TensorFlow's, else with its layouts said)."""
    if framework not in ("torch", "tf", "jax", "onnx", "keras") or framework in ("tf", "keras"):
        return ""
    parts = ["symconv", "port", spec.op, *layer_options(spec, layouts=True)]
    return " ".join(parts + ["--from", "tf", "--to", framework])


def known_conventions() -> list:
    return sorted(CONVENTIONS)
