"""The layer as JAX code: jax.lax.conv_general_dilated (transposed: lax.conv_transpose with
transpose_kernel=True) with dimension numbers in the source's own layouts, so arrays move only
where JAX needs it (a depthwise HWCM kernel as HWIO with I = 1).

JAX says SAME ('SAME', 'SAME_LOWER') where the convention is its own, VALID, and any other pads,
negative included, as explicit (before, after) pairs.  Every op runs at Precision.HIGHEST.

As a module: a Flax (linen) ``nn.Conv`` or ``nn.ConvTranspose`` (``transpose_kernel=True``) on
channels-last tensors with an HWIO kernel, the pads given to it as (before, after) pairs, and its
variables holding the kernel: ``module, variables = module_from_<source>(k)``, then
``module.apply(variables, x)``."""

from __future__ import annotations

from ..backends.jax_backend import native_same, transposed_padding
from ..errors import SymconvError
from ..model import layout
from ..model.spec import ConvSpec
from .code import header, module_doc, movers, output_mover, padding_comment


def _render(expr, kind, value):
    return f"{expr}.reshape{value}" if kind == "reshape" else f"{expr}.transpose{value}"


def _padding(padding) -> str:
    return repr(padding) if isinstance(padding, str) else str(tuple(tuple(int(v) for v in p) for p in padding))


def write(spec: ConvSpec, target: ConvSpec, source, form: str = "function", usual: str = "") -> str:
    """JAX code for the layer (``target``: the spec in the layouts JAX is given)."""
    if target.transposed and target.groups != 1:
        raise SymconvError("port to jax: lax.conv_transpose has no feature_group_count; a grouped transposed "
                           "convolution is not written for JAX")
    if form == "module":
        return _write_module(spec, target, source, usual)
    lines = header(spec, source.words, "JAX", usual) + ["import jax.numpy as jnp", "from jax import lax", "", ""]
    kernel_view = layout.of(target, "k").stored_shape
    lines += movers(spec, target, source.words, "JAX", source.name, lambda name: f"jnp.asarray({name})", _render)
    if kernel_view != tuple(target.k_shape):   # JAX is handed the kernel as a plain permutation
        at = lines.index("def input_from_" + source.name + "(x):")
        lines[at - 3] = lines[at - 3] + f".reshape{kernel_view}"
    dims = tuple(layout.letters(target, t) for t in ("x", "k", "y"))
    strides, dilations = tuple(target.strides), tuple(target.dilations)
    if target.transposed:
        padding = transposed_padding(target)
        call = (f"lax.conv_transpose(x, kernel, strides={strides}, padding={_padding(padding)},\n"
                f"        rhs_dilation={dilations}, dimension_numbers={dims}, transpose_kernel=True,\n"
                f"        precision=lax.Precision.HIGHEST)")
        why = "lax.conv_transpose takes the dilated input's pads ((k-1)*d - before, ...)" if \
            not isinstance(padding, str) else ""
    else:
        padding = native_same(target) or ("VALID" if target.padding == "VALID" else tuple(target.pads))
        groups = f", feature_group_count={target.conv_groups}" if target.conv_groups != 1 else ""
        call = (f"lax.conv_general_dilated(x, kernel, window_strides={strides}, padding={_padding(padding)},\n"
                f"        rhs_dilation={dilations}, dimension_numbers={dims}{groups},\n"
                f"        precision=lax.Precision.HIGHEST)")
        why = ""
    lines += ["def layer(x, kernel):",
              f'    """x {"x".join(map(str, target.x_shape))} ({target.data_format}) -> '
              f'y {"x".join(map(str, target.y_shape))} ({target.data_format})."""',
              f"    # {padding_comment(target, source.words)}", *([f"    # {why}"] if why else []),
              f"    return {call}"]
    lines += output_mover(spec, target, source.words, "JAX", source.name, _render)
    return "\n".join(lines) + "\n"


def _write_module(spec: ConvSpec, target: ConvSpec, source, usual: str) -> str:
    """Flax code for the layer (``target``: the spec channels last, HWIO)."""
    if target.transposed and target.groups != 1:
        raise SymconvError("port to jax: flax.linen.ConvTranspose has no feature_group_count; a grouped transposed "
                           "convolution is not written as a Flax module")
    lines = header(spec, source.words, "JAX (Flax)", usual) + [
        "import jax.numpy as jnp", "from flax import linen as nn", "from jax import lax", "", ""]
    kernel_view = layout.of(target, "k").stored_shape
    lines += movers(spec, target, source.words, "Flax", source.name, lambda name: f"jnp.asarray({name})", _render)
    if kernel_view != tuple(target.k_shape):   # a depthwise HWCM kernel is Flax's HWIO with I = 1
        at = lines.index("def input_from_" + source.name + "(x):")
        lines[at - 3] = lines[at - 3] + f".reshape{kernel_view}"
    size, strides = tuple(target.kernel_spatial), tuple(target.strides)
    options = f"kernel_size={size}"
    if set(strides) != {1}:
        options += f", strides={strides}"
    dilation = f", kernel_dilation={tuple(target.dilations)}" if set(target.dilations) != {1} else ""
    if target.transposed:
        padding = transposed_padding(target)
        why = ["    # ConvTranspose takes the dilated input's pads ((k-1)*d - before, ...), as lax.conv_transpose"] \
            if not isinstance(padding, str) else []
        module = (f"nn.ConvTranspose({target.y_shape[-1]}, {options}, padding={_padding(padding)}{dilation},\n"
                  f"{' ' * 27}transpose_kernel=True, use_bias=False, precision=lax.Precision.HIGHEST)")
    else:
        padding = native_same(target) or ("VALID" if target.padding == "VALID" else tuple(target.pads))
        groups = f", feature_group_count={target.conv_groups}" if target.conv_groups != 1 else ""
        why = []
        module = (f"nn.Conv({target.y_shape[-1]}, {options}, padding={_padding(padding)}{dilation}{groups},\n"
                  f"{' ' * 21}use_bias=False, precision=lax.Precision.HIGHEST)")
    lines += [f"def module_from_{source.name}(k):",
              module_doc(target, "The layer as a Flax module and its variables (y = module.apply(variables, x))",
                         source.words),
              f"    # {padding_comment(target, source.words)}", *why,
              f"    module = {module}",
              f'    return module, {{"params": {{"kernel": kernel_from_{source.name}(k)}}}}']
    lines += output_mover(spec, target, source.words, "Flax", source.name, _render)
    return "\n".join(lines) + "\n"


def apply_module(built, x):
    module, variables = built
    return module.apply(variables, x)


def to_numpy(value):
    import numpy as np
    return np.asarray(value)
