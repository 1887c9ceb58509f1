"""The layer as Keras layers (Keras 3): ``keras.layers.Conv1D/2D/3D``, ``DepthwiseConv2D`` or
``Conv*DTranspose`` with padding 'valid' (or 'same' where the pads are TensorFlow's SAME, which
Keras's 'same' is), after an explicit ``ZeroPadding*D`` (and a ``Cropping*D`` for negative pads),
in a ``keras.Sequential``; channels-last tensors and TensorFlow's kernels (HWIO; depthwise HWCM;
transposed HWOI).  A transposed layer's full 'valid' output is cropped (``Cropping*D``) or padded
(``ZeroPadding*D``) to the spec's size.  This is the module form of ``--to tf`` and the form of
``--to keras``."""

from __future__ import annotations

from ..errors import SymconvError
from ..model import conventions
from ..model.conventions import effective_kernel
from ..model.spec import ConvSpec
from .code import header, module_doc, movers, output_mover, padding_comment


def _render(expr, kind, value):
    return f"keras.ops.reshape({expr}, {value})" if kind == "reshape" else f"keras.ops.transpose({expr}, {value})"


def _pairs(nd: int, pairs) -> str:
    """Keras's ZeroPadding/Cropping argument for per-axis (before, after) pairs."""
    pairs = [(int(b), int(a)) for b, a in pairs]
    return str(pairs[0]) if nd == 1 else str(tuple(pairs))


def _pad_and_crop(nd: int, pairs) -> list:
    """Keras layers that pad (positive widths) and crop (negative widths) the spatial axes."""
    layers = []
    crop = [(max(-b, 0), max(-a, 0)) for b, a in pairs]
    grow = [(max(b, 0), max(a, 0)) for b, a in pairs]
    if any(b or a for b, a in crop):
        layers.append(f"keras.layers.Cropping{nd}D({_pairs(nd, crop)})")
    if any(b or a for b, a in grow):
        layers.append(f"keras.layers.ZeroPadding{nd}D({_pairs(nd, grow)})")
    return layers


def _tuple(values) -> str:
    return str(tuple(int(v) for v in values))


def _conv_layer(spec: ConvSpec, padding: str) -> str:
    nd = spec.ndim
    common = f"kernel_size={_tuple(spec.kernel_spatial)}"
    if set(spec.strides) != {1}:
        common += f", strides={_tuple(spec.strides)}"
    common += f", padding='{padding}'"
    if set(spec.dilations) != {1}:
        common += f", dilation_rate={_tuple(spec.dilations)}"
    common += ", use_bias=False"
    if spec.kind == "depthwise":
        return f"keras.layers.DepthwiseConv2D(depth_multiplier={spec.kernel_shape[-1]}, {common})"
    if spec.transposed:
        if spec.groups != 1:
            raise SymconvError(f"port to keras: keras.layers.Conv{nd}DTranspose has no groups; a grouped transposed "
                               f"convolution is not written as a Keras layer")
        return f"keras.layers.Conv{nd}DTranspose({spec.kernel_shape[-2]}, {common})"
    groups = f", groups={spec.groups}" if spec.groups != 1 else ""
    return f"keras.layers.Conv{nd}D({spec.kernel_shape[-1]}, {common}{groups})"


def module_body(spec: ConvSpec, source) -> list:
    """The lines of module_from_<source> (``spec`` in Keras's layouts)."""
    nd = spec.ndim
    lines = [f"    # {padding_comment(spec, source.words)}"]
    same = spec.padding == "SAME" and conventions.runs_as(spec.convention, conventions.DEFAULT)
    if spec.transposed:
        full = [(o - 1) * s + effective_kernel(k, d) for o, k, s, d in
                zip(spec.direct_output_spatial, spec.kernel_spatial, spec.strides, spec.dilations)]
        # Keras's 'valid' output: the full one, and s - k_eff zeros more where the kernel is shorter than the stride
        keras_size = [o * s + max(effective_kernel(k, d) - s, 0) for o, k, s, d in
                      zip(spec.direct_output_spatial, spec.kernel_spatial, spec.strides, spec.dilations)]
        wanted = [(-b, size - f + b - (ks - f)) for (b, _), size, f, ks in
                  zip(spec.pads, spec.direct_input_spatial, full, keras_size)]
        lines.append("    # the full output of a 'valid' transposed layer, cropped or padded to the size")
        layers = [_conv_layer(spec, "valid"), *_pad_and_crop(nd, wanted)]
    elif same or spec.padding == "VALID":
        layers = [_conv_layer(spec, "same" if same else "valid")]
    else:
        lines.append("    # Keras takes 'same' or 'valid', so explicit layers pad (or crop) the input first")
        layers = [*_pad_and_crop(nd, spec.pads), _conv_layer(spec, "valid")]
    conv = len(layers) - 1 if not spec.transposed else 0
    body = ",\n        ".join(layers)
    return lines + [f"    module = keras.Sequential([\n        {body}])",
                    f"    module.build({tuple(spec.x_shape)})",
                    f"    module.layers[{conv}].set_weights([keras.ops.convert_to_numpy(kernel_from_{source.name}(k))])",
                    "    return module"]


def write(spec: ConvSpec, target: ConvSpec, source, form: str = "module", usual: str = "",
          target_words: str = "Keras") -> str:
    """Keras code for the layer, ``module_from_<source>(k)`` (``target``: the spec in Keras's
    layouts)."""
    lines = header(spec, source.words, target_words, usual) + ["import keras", "", ""]
    lines += movers(spec, target, source.words, "Keras", source.name,
                    lambda name: f"keras.ops.convert_to_tensor({name})", _render)
    lines += [f"def module_from_{source.name}(k):", module_doc(target, "The layer as Keras layers", source.words)]
    lines += module_body(target, source)
    lines += output_mover(spec, target, source.words, "Keras", source.name, _render)
    return "\n".join(lines) + "\n"


def apply_module(module, x):
    return module(x)


def to_numpy(value):
    import keras
    import numpy as np
    return np.asarray(keras.ops.convert_to_numpy(value))
