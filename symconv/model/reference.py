"""A plain NumPy convolution with explicit loops, written without the index maps.

It pads (or, for negative pads, crops) the input, then walks every output position and every
kernel offset and multiplies channel blocks, in channels-last order with kernels (spatial...,
in // groups, out) (``layout.to_channels_last`` moves a spec's arrays there and back).  Slow
and obviously correct: tests check the index maps and formulas against it.  It
also works on object arrays of SymPy symbols, which gives the literal symbolic derivation.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import layout
from .quantities import INPUTS, SHAPED_LIKE, as_quantity


def pad_or_crop(x, pads, axes=None):
    """Zero-pad the spatial ``axes`` (default 1..nd, channels last) by (before, after); negative
    amounts crop.  Padded position p of an axis holds original position p - before (zero where
    that is outside), so a crop larger than what is left of the axis still gives size + before
    + after."""
    out = x
    axes = range(1, len(pads) + 1) if axes is None else axes
    for axis, (before, after) in zip(axes, pads):
        size = out.shape[axis]
        length = max(size + before + after, 0)
        lo, hi = max(-before, 0), min(size, length - before)   # original positions kept
        shape = list(out.shape)
        shape[axis] = length
        padded = np.zeros(shape, dtype=out.dtype)
        if hi > lo:
            src, dst = [slice(None)] * out.ndim, [slice(None)] * out.ndim
            src[axis], dst[axis] = slice(lo, hi), slice(lo + before, hi + before)
            padded[tuple(dst)] = out[tuple(src)]
        out = padded
    return out


def unpad(dxp, x_shape, pads, axes=None):
    """Adjoint of pad_or_crop: the gradient for the original input (cropped pixels get 0)."""
    dx = np.zeros(x_shape, dtype=dxp.dtype)
    src, dst = [slice(None)] * len(x_shape), [slice(None)] * len(x_shape)
    axes = range(1, len(pads) + 1) if axes is None else axes
    for axis, (before, _) in zip(axes, pads):
        size, padded = x_shape[axis], dxp.shape[axis]
        lo = max(0, -before)                 # first input index that survives
        hi = min(size, padded - before)      # one past the last
        dst[axis] = slice(lo, max(lo, hi))
        src[axis] = slice(lo + before, max(lo, hi) + before)
    dx[tuple(dst)] = dxp[tuple(src)]
    return dx


def _positions(shape):
    return itertools.product(*[range(n) for n in shape])


def conv_forward(x, k, strides, dilations, pads, groups, out_spatial):
    """x (N, spatial..., C), k (kernel spatial..., C // groups, O) -> y (N, out spatial..., O)."""
    xp = pad_or_crop(x, pads)
    n, c, o = x.shape[0], x.shape[-1], k.shape[-1]
    cg, og = c // groups, o // groups
    y = np.zeros((n, *out_spatial, o), dtype=np.result_type(x, k))
    for out in _positions(out_spatial):
        for tap in _positions(k.shape[:-2]):
            pos = tuple(oi * s + ai * d for oi, ai, s, d in zip(out, tap, strides, dilations))
            for grp in range(groups):
                pixels = xp[(slice(None), *pos, slice(grp * cg, (grp + 1) * cg))]
                weights = k[(*tap, slice(None), slice(grp * og, (grp + 1) * og))]
                y[(slice(None), *out, slice(grp * og, (grp + 1) * og))] += pixels @ weights
    return y


def conv_filter_grad(x, g, kernel_shape, strides, dilations, pads, groups):
    """dL/dk for L = sum(g * conv_forward(x, k))."""
    xp = pad_or_crop(x, pads)
    c, o = x.shape[-1], g.shape[-1]
    cg, og = c // groups, o // groups
    dk = np.zeros(kernel_shape, dtype=np.result_type(x, g))
    for out in _positions(g.shape[1:-1]):
        for tap in _positions(kernel_shape[:-2]):
            pos = tuple(oi * s + ai * d for oi, ai, s, d in zip(out, tap, strides, dilations))
            for grp in range(groups):
                pixels = xp[(slice(None), *pos, slice(grp * cg, (grp + 1) * cg))]
                grads = g[(slice(None), *out, slice(grp * og, (grp + 1) * og))]
                dk[(*tap, slice(None), slice(grp * og, (grp + 1) * og))] += pixels.T @ grads
    return dk


def conv_input_grad(k, g, x_shape, strides, dilations, pads, groups):
    """dL/dx for L = sum(g * conv_forward(x, k)), x of shape x_shape."""
    padded = [x_shape[0]] + [max(0, x_shape[i + 1] + b + a) for i, (b, a) in enumerate(pads)] + [x_shape[-1]]
    dxp = np.zeros(padded, dtype=np.result_type(k, g))
    c, o = x_shape[-1], g.shape[-1]
    cg, og = c // groups, o // groups
    for out in _positions(g.shape[1:-1]):
        for tap in _positions(k.shape[:-2]):
            pos = tuple(oi * s + ai * d for oi, ai, s, d in zip(out, tap, strides, dilations))
            for grp in range(groups):
                grads = g[(slice(None), *out, slice(grp * og, (grp + 1) * og))]
                weights = k[(*tap, slice(None), slice(grp * og, (grp + 1) * og))]
                dxp[(slice(None), *pos, slice(grp * cg, (grp + 1) * cg))] += grads @ weights.T
    return unpad(dxp, tuple(x_shape), pads)


# ---- the spec's ops, in the spec's own layouts ---------------------------------------------
# Each quantity of each op is one of the three loops above, picked by the part the tensor it
# fills plays in the direct convolution (symconv.quantities); arrays are moved to the loops'
# order and back by the spec's layout permutations.

def evaluate(spec, quantity, x=None, k=None, g=None):
    """y, dk or dx for the spec (arrays in the spec's layouts)."""
    quantity = as_quantity(quantity)
    given = {"x": x, "k": k, "g": g}
    by_role = {spec.role(name): layout.to_channels_last(spec, name, np.asarray(given[name]))
               for name in INPUTS[quantity]}
    filled = SHAPED_LIKE[quantity]
    args = (spec.strides, spec.dilations, spec.pads, spec.conv_groups)
    role = spec.role(filled)
    if role == "direct_output":
        out = conv_forward(by_role["direct_input"], by_role["kernel"], *args, spec.direct_output_spatial)
    elif role == "direct_input":
        shape = (spec.batch, *spec.direct_input_spatial, spec.direct_input_channels)
        out = conv_input_grad(by_role["kernel"], by_role["direct_output"], shape, *args)
    else:
        shape = (*spec.kernel_spatial, spec.direct_input_channels // spec.conv_groups, spec.direct_output_channels)
        out = conv_filter_grad(by_role["direct_input"], by_role["direct_output"], shape, *args)
    return layout.from_channels_last(spec, filled, out)


def forward(spec, x, k):
    """y for the spec (arrays in the spec's layouts)."""
    return evaluate(spec, "forward", x=x, k=k)


def filter_grad(spec, x, g):
    """dL/dk for L = sum(g * y)."""
    return evaluate(spec, "filter_grad", x=x, g=g)


def input_grad(spec, k, g):
    """dL/dx for L = sum(g * y)."""
    return evaluate(spec, "input_grad", k=k, g=g)
