"""The layer as one ONNX node run by ONNX Runtime: Conv or ConvTranspose built with onnx.helper,
NC... inputs and ONNX's weights (OIHW; transposed IOHW; depthwise OIHW with I = 1, group = C).

Pads are written explicitly (``pads`` = befores then afters, ``output_padding`` for a transposed
convolution's extra size) rather than as ``auto_pad``; ONNX's pads cannot be negative, so a crop
is done on the array before the node (after it, for a transposed convolution)."""

from __future__ import annotations

from ..model.conventions import effective_kernel
from ..model.spec import ConvSpec
from .code import header, movers, output_mover, padding_comment

OPSET = 17


def _render(expr, kind, value):
    return f"{expr}.reshape{value}" if kind == "reshape" else f"{expr}.transpose{value}"


def _slices(pairs, nd) -> str:
    """The NumPy index that crops negative pads (N and C kept)."""
    cuts = [f"{max(-b, 0) or ''}:{-max(-a, 0) or ''}" for b, a in pairs]
    return "[:, :, " + ", ".join(cuts) + "]"


def write(spec: ConvSpec, target: ConvSpec, source, form: str = "function", usual: str = "") -> str:
    """ONNX Runtime code for the layer (``target``: the spec in ONNX's layouts)."""
    nd = target.ndim
    lines = header(spec, source.words, "ONNX Runtime", usual) + [
        "import numpy as np", "import onnx", "import onnxruntime", "from onnx import helper", "", ""]
    lines += movers(spec, target, source.words, "ONNX Runtime", source.name,
                    lambda name: f"np.asarray({name}, dtype=np.float32)", _render)
    pads = list(target.pads)
    attrs = {"kernel_shape": list(target.kernel_spatial), "strides": list(target.strides),
             "dilations": list(target.dilations), "group": target.conv_groups}
    negative = any(b < 0 or a < 0 for b, a in pads)
    kept = [(max(b, 0), max(a, 0)) for b, a in pads]
    before, after = [], []
    if target.transposed:
        if negative:   # the full output, then cropped or padded
            full = [(o - 1) * s + effective_kernel(k, d) for o, k, s, d in
                    zip(target.direct_output_spatial, target.kernel_spatial, target.strides, target.dilations)]
            kept = [(0, 0)] * nd
            extra = [0] * nd
            wanted = [(-b, size - f + b) for (b, _), size, f in zip(pads, target.direct_input_spatial, full)]
            grow = ", ".join(str((max(b, 0), max(a, 0))) for b, a in wanted)
            after = [f"    y = y{_slices(wanted, nd)}", f"    return np.pad(y, ((0, 0), (0, 0), {grow}))"]
        else:
            extra = [(size + b + a - effective_kernel(k, d)) % s for size, (b, a), k, s, d in
                     zip(target.direct_input_spatial, pads, target.kernel_spatial, target.strides, target.dilations)]
        attrs["output_padding"] = extra
    elif negative:
        before = [f"    x = np.ascontiguousarray(x{_slices(pads, nd)})  # ONNX pads cannot be negative: crop first"]
    attrs["pads"] = [b for b, _ in kept] + [a for _, a in kept]
    op = "ConvTranspose" if target.transposed else "Conv"
    shown = ", ".join(f"{name}={value}" for name, value in attrs.items()
                      if not (name == "group" and value == 1) and not (name == "output_padding" and not any(value)))
    lines += ["def layer(x, weight):",
              f'    """x {"x".join(map(str, target.x_shape))} ({target.data_format}) -> '
              f'y {"x".join(map(str, target.y_shape))} ({target.data_format})."""',
              f"    # {padding_comment(target, source.words)}", *before,
              f'    node = helper.make_node("{op}", ["x", "w"], ["y"], {shown})',
              "    graph = helper.make_graph([node], \"layer\", [",
              "        helper.make_tensor_value_info(\"x\", onnx.TensorProto.FLOAT, list(x.shape)),",
              "        helper.make_tensor_value_info(\"w\", onnx.TensorProto.FLOAT, list(weight.shape))],",
              "        [helper.make_tensor_value_info(\"y\", onnx.TensorProto.FLOAT, None)])",
              f"    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(\"\", {OPSET})], "
              "ir_version=8)",
              "    session = onnxruntime.InferenceSession(model.SerializeToString(),",
              "                                           providers=[\"CPUExecutionProvider\"])",
              "    (y,) = session.run([\"y\"], {\"x\": np.ascontiguousarray(x, dtype=np.float32), "
              "\"w\": np.ascontiguousarray(weight, dtype=np.float32)})"]
    lines += after or ["    return y"]
    lines += output_mover(spec, target, source.words, "ONNX Runtime", source.name, _render)
    return "\n".join(lines) + "\n"


def to_numpy(value):
    import numpy as np
    return np.asarray(value)
