"""A plain NumPy convolution with explicit loops, written without the index maps.

It pads (or, for negative pads, crops) the input, then walks every output position and every
kernel offset and multiplies channel blocks, in channels-last order with TensorFlow's kernel
layout.  Slow and obviously correct: tests check the index maps and formulas against it.  It
also works on object arrays of SymPy symbols, which gives the literal symbolic derivation.
"""

from __future__ import annotations

import itertools

import numpy as np


def pad_or_crop(x, pads):
    """Zero-pad spatial axes (1..nd) by (before, after); negative amounts crop.  Padded
    position p of an axis holds original position p - before (zero where that is outside),
    so a crop larger than what is left of the axis still gives size + before + after."""
    out = x
    for axis, (before, after) in enumerate(pads, start=1):
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


def unpad(dxp, x_shape, pads):
    """Adjoint of pad_or_crop: the gradient for the original input (cropped pixels get 0)."""
    dx = np.zeros(x_shape, dtype=dxp.dtype)
    src, dst = [slice(None)], [slice(None)]
    for axis, (before, _) in enumerate(pads, start=1):
        size, padded = x_shape[axis], dxp.shape[axis]
        lo = max(0, -before)                 # first input index that survives
        hi = min(size, padded - before)      # one past the last
        dst.append(slice(lo, max(lo, hi)))
        src.append(slice(lo + before, max(lo, hi) + before))
    src.append(slice(None))
    dst.append(slice(None))
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

def _channels_last(spec, arr):
    return arr if spec.channels_last else np.moveaxis(arr, 1, -1)


def _spec_layout(spec, arr):
    return arr if spec.channels_last else np.moveaxis(arr, -1, 1)


def _channels_last_shape(spec, shape):
    return tuple(shape) if spec.channels_last else (shape[0], *shape[2:], shape[1])


def _plain_kernel(spec, k):
    """A depthwise kernel (K..., C, M) as the grouped kernel (K..., 1, C*M), groups C."""
    if spec.kind == "depthwise":
        return k.reshape(k.shape[:-2] + (1, -1)), k.shape[-2]
    return k, spec.groups


def forward(spec, x, k):
    """y for the spec (arrays in the spec's layouts)."""
    kk, groups = _plain_kernel(spec, np.asarray(k))
    args = (spec.strides, spec.dilations, spec.pads, groups)
    if spec.kind == "transpose":  # y is the input gradient of the direct conv, g = x
        y = conv_input_grad(kk, _channels_last(spec, np.asarray(x)),
                            _channels_last_shape(spec, spec.y_shape), *args)
    else:
        out_spatial = _channels_last_shape(spec, spec.y_shape)[1:-1]
        y = conv_forward(_channels_last(spec, np.asarray(x)), kk, *args, out_spatial)
    return _spec_layout(spec, y)


def filter_grad(spec, x, g):
    """dL/dk for L = sum(g * y)."""
    plain, groups = _plain_kernel(spec, np.zeros(spec.k_shape, dtype=np.int8))
    x, g = _channels_last(spec, np.asarray(x)), _channels_last(spec, np.asarray(g))
    big, small = (g, x) if spec.kind == "transpose" else (x, g)
    dk = conv_filter_grad(big, small, plain.shape, spec.strides, spec.dilations, spec.pads, groups)
    return dk.reshape(spec.k_shape)


def input_grad(spec, k, g):
    """dL/dx for L = sum(g * y)."""
    kk, groups = _plain_kernel(spec, np.asarray(k))
    args = (spec.strides, spec.dilations, spec.pads, groups)
    g = _channels_last(spec, np.asarray(g))
    if spec.kind == "transpose":
        out_spatial = _channels_last_shape(spec, spec.x_shape)[1:-1]
        dx = conv_forward(g, kk, *args, out_spatial)
    else:
        dx = conv_input_grad(kk, g, _channels_last_shape(spec, spec.x_shape), *args)
    return _spec_layout(spec, dx)


def evaluate(spec, quantity, x=None, k=None, g=None):
    if quantity == "forward":
        return forward(spec, x, k)
    if quantity == "filter_grad":
        return filter_grad(spec, x, g)
    return input_grad(spec, k, g)
