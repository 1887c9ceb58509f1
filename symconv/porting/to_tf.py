"""The layer as TensorFlow code: tf.nn.conv1d/2d/3d, depthwise_conv2d, conv*_transpose, with
channels-last tensors and TensorFlow's kernels (HWIO; depthwise HWCM; transposed HWOI).

SAME stays 'SAME' where the convention is TensorFlow's own; other pads are a ``tf.pad`` (and a
slice for negative pads) before a VALID convolution, or, for a transposed convolution, the full
output of a VALID one cropped or padded to the spec's."""

from __future__ import annotations

from ..errors import SymconvError
from ..model import conventions
from ..model.conventions import effective_kernel
from ..model.layout import spatial_letters
from ..model.spec import ConvSpec
from .code import header, movers, output_mover, padding_comment


def _render(expr, kind, value):
    return f"tf.reshape({expr}, {value})" if kind == "reshape" else f"tf.transpose({expr}, {value})"


def _full(spec: ConvSpec, values) -> list:
    by_letter = dict(zip(spatial_letters(spec.ndim), values))
    return [int(by_letter.get(letter, 1)) for letter in spec.data_format]


def _pad_or_crop(name: str, spec: ConvSpec, pairs) -> list:
    """Lines that pad (tf.pad) and crop (a slice) the spatial axes of ``name`` by ``pairs``."""
    lines = []
    if any(b < 0 or a < 0 for b, a in pairs):
        cuts = [f"{max(-b, 0) or ''}:{-max(-a, 0) or ''}" for b, a in pairs]
        lines.append(f"    {name} = {name}[:, {', '.join(cuts)}, :]  # negative pads crop")
    grow = [[max(b, 0), max(a, 0)] for b, a in pairs]
    if any(b or a for b, a in grow):
        lines.append(f"    {name} = tf.pad({name}, {[[0, 0], *grow, [0, 0]]})")
    return lines


def write(spec: ConvSpec, target: ConvSpec, source, form: str = "function", usual: str = "") -> str:
    """TensorFlow code for the layer (``target``: the spec in TensorFlow's layouts): tf.nn ops, or
    (``form='module'``) Keras layers (``to_keras``)."""
    if form == "module":
        from . import to_keras
        return to_keras.write(spec, target, source, form, usual, "TensorFlow (Keras layers)")
    nd = target.ndim
    lines = header(spec, source.words, "TensorFlow", usual) + ["import tensorflow as tf", "", ""]
    lines += movers(spec, target, source.words, "TensorFlow", source.name,
                    lambda name: f"tf.constant({name})", _render)
    native = target.padding == "VALID" or (target.padding == "SAME"
                                           and conventions.runs_as(target.convention, conventions.DEFAULT))
    strides, dilations = list(target.strides), list(target.dilations)
    body = [f"    # {padding_comment(target, source.words)}"]
    doc = (f'    """x {"x".join(map(str, target.x_shape))} ({target.data_format}) -> '
           f'y {"x".join(map(str, target.y_shape))} ({target.data_format})."""')
    if target.transposed:
        if target.groups != 1:
            raise SymconvError(f"port to tf: tf.nn.conv{nd}d_transpose has no groups; a grouped transposed "
                               f"convolution is not written for TensorFlow")
        op = f"tf.nn.conv{nd}d_transpose"
        if nd == 3:
            strides, dilations = _full(target, strides), _full(target, dilations)
        full = [(o - 1) * s + effective_kernel(k, d) for o, k, s, d in
                zip(target.direct_output_spatial, target.kernel_spatial, target.strides, target.dilations)]
        if native:
            shape = list(target.y_shape)
            body.append(f"    return {op}(x, k, output_shape={shape}, strides={strides}, padding='{target.padding}', "
                        f"dilations={dilations})")
        else:
            shape = [target.batch, *full, target.direct_input_channels]
            crop = [(-b, size - f + b) for (b, _), size, f in zip(target.pads, target.direct_input_spatial, full)]
            body.append("    # the full output of a VALID transposed convolution, cropped or padded to the size")
            body += [f"    y = {op}(x, k, output_shape={shape}, strides={strides}, padding='VALID', "
                     f"dilations={dilations})", *_pad_or_crop("y", target, crop), "    return y"]
        back = output_mover(spec, target, source.words, "TensorFlow", source.name, _render)
        return "\n".join(lines + ["def layer(x, k):", doc, *body, *back]) + "\n"
    padding = f"'{target.padding}'" if native else "'VALID'"
    if not native:
        body.append("    # TensorFlow takes SAME or VALID here, so the input is padded (or cropped) first")
        body += _pad_or_crop("x", target, target.pads)
    if target.kind == "depthwise":
        call = (f"tf.nn.depthwise_conv2d(x, k, strides={_full(target, strides)}, padding={padding}, "
                f"dilations={dilations})")
    elif nd == 3:
        call = (f"tf.nn.conv3d(x, k, strides={_full(target, strides)}, padding={padding}, "
                f"dilations={_full(target, dilations)})")
    else:
        stride = "stride" if nd == 1 else "strides"
        call = f"tf.nn.conv{nd}d(x, k, {stride}={strides}, padding={padding}, dilations={dilations})"
    body.append(f"    return {call}")
    back = output_mover(spec, target, source.words, "TensorFlow", source.name, _render)
    return "\n".join(lines + ["def layer(x, k):", doc, *body, *back]) + "\n"


def apply_module(module, x):
    return module(x)


def to_numpy(value):
    import numpy as np
    return np.asarray(value)
