"""The layer as PyTorch code: torch.nn.functional.conv*d / conv_transpose*d, NC... tensors and
PyTorch's weights (OIHW; transposed IOHW; depthwise OIHW with I = 1 and groups = channels).

PyTorch pads both sides of an axis alike: other pads are an ``F.pad`` before the convolution
(negative widths crop).  A transposed convolution takes the direct convolution's pads before as
``padding`` and the extra size as ``output_padding`` while PyTorch accepts them; otherwise the
full transposed output is cropped or padded to the spec's.

As a module: ``nn.Conv*d`` / ``nn.ConvTranspose*d``, after an ``nn.ZeroPad*d`` where PyTorch's
padding cannot say the pads (or before one that crops or pads a transposed output), in an
``nn.Sequential``."""

from __future__ import annotations

from ..backends.torch_backend import transposed_padding
from ..model.conventions import effective_kernel
from ..model.spec import ConvSpec
from .code import header, module_doc, movers, output_mover, padding_comment, tuple_text


def _render(expr, kind, value):
    return f"{expr}.reshape{value}" if kind == "reshape" else f"{expr}.permute{value}"


def _widths(pairs) -> tuple:
    """F.pad's widths: the last axis first, before then after."""
    return tuple(v for pair in reversed(pairs) for v in pair)


def _options(spec: ConvSpec, padding=None, output_padding=None, zero_padding: bool = False) -> str:
    """The keyword arguments after the kernel; ``zero_padding``: say padding=0 (the pads are
    another layer's)."""
    args = []
    if set(spec.strides) != {1}:
        args.append(f"stride={tuple_text(spec.strides)}")
    if padding is not None and any(padding):
        args.append(f"padding={tuple_text(padding)}")
    elif zero_padding:
        args.append("padding=0")
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


def _module_body(spec: ConvSpec, source) -> list:
    """The lines of module_from_<source>: the layer as nn modules, the weight copied in."""
    nd = spec.ndim
    channels = f"{spec.x_shape[1]}, {spec.y_shape[1]}, {tuple_text(spec.kernel_spatial)}"
    lines = [f"    # {padding_comment(spec, source.words)}"]
    pad = None
    if spec.transposed:
        native = transposed_padding(spec)
        if native is not None:
            padding, extra = native
            lines.append("    # PyTorch's padding: the pads before; output_padding: the size beyond them")
            conv = f"nn.ConvTranspose{nd}d({channels}{_options(spec, padding, extra)}, bias=False)"
        else:
            full = [(o - 1) * s + effective_kernel(k, d) for o, k, s, d in
                    zip(spec.direct_output_spatial, spec.kernel_spatial, spec.strides, spec.dilations)]
            crop = [(-b, size - f + b) for (b, _), size, f in zip(spec.pads, spec.direct_input_spatial, full)]
            lines.append(f"    # PyTorch cannot say these pads: the full output, then a ZeroPad{nd}d that crops "
                         f"(negative widths) or pads it")
            conv = f"nn.ConvTranspose{nd}d({channels}{_options(spec)}, bias=False)"
            return lines + [f"    conv = {conv}", f"    module = nn.Sequential(conv, nn.ZeroPad{nd}d({_widths(crop)}))",
                            *_copy_weight(source)]
    else:
        pads = spec.pads
        if all(b == a and b >= 0 for b, a in pads):
            conv = f"nn.Conv{nd}d({channels}{_options(spec, [b for b, _ in pads])}, bias=False)"
        else:
            why = "negative widths crop" if any(b < 0 or a < 0 for b, a in pads) else \
                "PyTorch's padding pads both sides alike"
            lines.append(f"    # {why}, so a ZeroPad{nd}d pads (or crops) the input first")
            conv = f"nn.Conv{nd}d({channels}{_options(spec, zero_padding=True)}, bias=False)"
            pad = f"nn.ZeroPad{nd}d({_widths(pads)})"
    if pad is None:
        return lines + [f"    module = {conv}", *_copy_weight(source, "module")]
    return lines + [f"    conv = {conv}", f"    module = nn.Sequential({pad}, conv)", *_copy_weight(source)]


def _copy_weight(source, name: str = "conv") -> list:
    return ["    with torch.no_grad():", f"        {name}.weight.copy_(kernel_from_{source.name}(k))", "    return module"]


def write(spec: ConvSpec, target: ConvSpec, source, form: str = "function", usual: str = "") -> str:
    """PyTorch code for the layer (``target``: the spec in PyTorch's layouts), as a function
    ``layer(x, weight)`` or (``form='module'``) ``module_from_<source>(k)``."""
    imports = ["import torch", "from torch import nn"] if form == "module" else \
        ["import torch", "import torch.nn.functional as F"]
    lines = header(spec, source.words, "PyTorch", usual) + [*imports, "", ""]
    lines += movers(spec, target, source.words, "PyTorch", source.name,
                    lambda name: f"torch.as_tensor({name})", _render)
    if form == "module":
        lines += [f"def module_from_{source.name}(k):", module_doc(target, "The layer as a torch.nn.Module",
                                                                     source.words)]
        lines += _module_body(target, source)
    else:
        lines += ["def layer(x, weight):",
                  f'    """x {"x".join(map(str, target.x_shape))} ({target.data_format}) -> '
                  f'y {"x".join(map(str, target.y_shape))} ({target.data_format})."""']
        lines += _body(target, source.words)
    lines += output_mover(spec, target, source.words, "PyTorch", source.name, _render)
    return "\n".join(lines) + "\n"


def apply_module(module, x):
    """The output of what module_from_<source> built, on x in PyTorch's layout."""
    import torch
    with torch.no_grad():
        return module(x)


def to_numpy(value):
    import numpy as np
    return np.asarray(value.detach().cpu())
