"""What the target framework's usual padding argument would do to a ported layer.

People port a SAME layer by writing the target's usual "same" argument: PyTorch's
``padding=k//2`` (d*(k-1)//2 per axis, as torchvision's ResNet writes ``padding=3`` for its 7x7
stem), and ``padding='same'`` (TensorFlow's rule) in TensorFlow, Keras, JAX and ONNX
(``SAME_UPPER``).  Where that argument gives other pads than the layer's, the ported code says
so in one line: which pads it would give, and whether the output keeps its shape while every
window moves (the silent one-pixel shift) or the shape changes.
"""

from __future__ import annotations

from ..errors import SymconvError
from ..model.spec import ConvSpec

# Each target's usual argument for "same", as code writes it.
USUAL = {"torch": "padding=k//2", "tf": "padding='SAME'", "keras": "padding='same'", "jax": "padding='SAME'",
         "onnx": "auto_pad='SAME_UPPER'"}
AXIS_MOVES = {1: [("position", "earlier", "later")],
              2: [("row", "up", "down"), ("column", "to the left", "to the right")],
              3: [("depth slice", "shallower", "deeper"), ("row", "up", "down"),
                  ("column", "to the left", "to the right")]}


def _usual_spec(spec: ConvSpec, target: str) -> ConvSpec | None:
    try:
        if target == "torch":
            pads = tuple((d * (k - 1) // 2,) * 2 for k, d in zip(spec.kernel_spatial, spec.dilations))
            return _respecified(spec, pads)
        return _respecified(spec, "SAME")
    except SymconvError:   # the usual argument does not even make a layer of these sizes
        return None


def _respecified(spec: ConvSpec, padding) -> ConvSpec:
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=spec.strides, dilations=spec.dilations,
                    padding=padding, convention="tf", data_format=spec.data_format, groups=spec.groups,
                    kernel_layout=spec.kernel_layout)


def _said(pads) -> str:
    return ", ".join(f"{b}:{a}" for b, a in pads)


def usual_padding(spec: ConvSpec, target) -> str:
    """One line on what ``target``'s usual padding argument would do wrong for ``spec`` ('' when
    it gives the layer's own pads, for VALID layers, and for transposed convolutions, whose
    padding argument means something else)."""
    if spec.padding == "VALID" or spec.transposed:
        return ""
    usual = _usual_spec(spec, target.name)
    if usual is None or tuple(usual.pads) == tuple(spec.pads):
        return ""
    words = USUAL[target.name]
    if target.name == "torch":
        values = sorted({b for b, _ in usual.pads})
        shown = values[0] if len(values) == 1 else tuple(b for b, _ in usual.pads)
        words = f"padding={shown} (d*(k-1)//2: k//2 for an odd kernel, as torchvision writes it)"
    head = f"{target.words}'s usual {words} would pad {_said(usual.pads)} instead of {_said(spec.pads)}"
    if tuple(usual.y_shape) != tuple(spec.y_shape):
        shape = "x".join(map(str, usual.y_shape))
        return f"{head}: output shape {shape}, not {'x'.join(map(str, spec.y_shape))}"
    moves = []
    for (before, _), (usual_before, _), (noun, less, more) in zip(spec.pads, usual.pads, AXIS_MOVES[spec.ndim]):
        shift = usual_before - before
        if shift:
            count = "one" if abs(shift) == 1 else str(abs(shift))
            moves.append(f"{count} {noun}{'s' if abs(shift) != 1 else ''} {less if shift > 0 else more}")
    if not moves:
        return f"{head}: the same outputs (only padding no window reaches differs)"
    shift = " and ".join(moves)
    one = all(abs(u[0] - p[0]) <= 1 for u, p in zip(usual.pads, spec.pads))
    return (f"{head}: the same output shape, but every window would start {shift}" +
            (": the one-pixel shift" if one else ""))
