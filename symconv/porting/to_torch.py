"""The layer as PyTorch code: torch.nn.functional.conv*d / conv_transpose*d, NC... tensors and
PyTorch's weights (OIHW; transposed IOHW; depthwise OIHW with I = 1 and groups = channels).

PyTorch pads both sides of an axis alike: other pads are an ``F.pad`` before the convolution
(negative widths crop).  A transposed convolution takes the direct convolution's pads before as
``padding`` and the extra size as ``output_padding`` while PyTorch accepts them; otherwise the
full transposed output is cropped or padded to the spec's."""

from __future__ import annotations

from ..backends.torch_backend import transposed_padding
from ..model.conventions import effective_kernel
from ..model.spec import ConvSpec
from .code import header, movers, output_mover, padding_comment, tuple_text


def _render(expr, kind, value):
    return f"{expr}.reshape{value}" if kind == "reshape" else f"{expr}.permute{value}"


def _widths(pairs) -> tuple:
    """F.pad's widths: the last axis first, before then after."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def _options(spec: ConvSpec, padding=None, output_padding=None) -> str:
    args = []
    if set(spec.strides) != {1}:
        args.append(f"stride={tuple_text(spec.strides)}")
    if padding is not None and any(padding):
        args.append(f"padding={tuple_text(padding)}")
    if output_padding is not None and any(output_padding):
        args.append(f"output_padding={tuple_text(output_padding)}")
    if spec.conv_groups != 1:
        args.append(f"groups={spec.conv_groups}")
    if set(spec.dilations) != {1}:
        args.append(f"dilation={tuple_text(spec.dilations)}")
    return "".join(f", {a}" for a in args)


def _body(spec: ConvSpec, source_words: str) -> list:
    nd = spec.ndim
    comment = f"    # {padding_comment(spec, source_words)}"
    if spec.transposed:
        op = f"F.conv_transpose{nd}d"
        native = transposed_padding(spec)
        if native is not None:
            padding, extra = native
            return [comment, "    # PyTorch's padding: the pads before; output_padding: the size beyond them",
                    f"    return {op}(x, weight{_options(spec, padding, extra)})"]
        full = [(o - 1) * s + effective_kernel(k, d) for o, k, s, d in
                zip(spec.direct_output_spatial, spec.kernel_spatial, spec.strides, spec.dilations)]
        crop = [(-b, size - f + b) for (b, _), size, f in zip(spec.pads, spec.direct_input_spatial, full)]
        return [comment, "    # PyTorch cannot say these pads: the full output, cropped (negative widths) or padded",
                f"    y = {op}(x, weight{_options(spec)})",
                f"    return F.pad(y, {_widths(crop)})"]
    op = f"F.conv{nd}d"
    pads = spec.pads
    if all(b == a and b >= 0 for b, a in pads):
        return [comment, f"    return {op}(x, weight{_options(spec, [b for b, _ in pads])})"]
    why = "negative widths crop" if any(b < 0 or a < 0 for b, a in pads) else \
        "PyTorch's padding pads both sides alike"
    return [comment, f"    # {why}, so the input is padded first",
            f"    x = F.pad(x, {_widths(pads)})",
            f"    return {op}(x, weight{_options(spec)})"]


def write(spec: ConvSpec, target: ConvSpec, source) -> str:
    """PyTorch code for the layer (``target``: the spec in PyTorch's layouts)."""
    lines = header(spec, source.words, "PyTorch") + ["import torch", "import torch.nn.functional as F", "", ""]
    lines += movers(spec, target, source.words, "PyTorch", source.name,
                    lambda name: f"torch.as_tensor({name})", _render)
    lines += ["def layer(x, weight):",
              f'    """x {"x".join(map(str, target.x_shape))} ({target.data_format}) -> '
              f'y {"x".join(map(str, target.y_shape))} ({target.data_format})."""']
    lines += _body(target, source.words)
    lines += output_mover(spec, target, source.words, "PyTorch", source.name, _render)
    return "\n".join(lines) + "\n"


def to_numpy(value):
    import numpy as np
    return np.asarray(value.detach().cpu())
