"""An im2col convolution (NHWC, HWIO, groups 1) whose patch columns are ordered (c, a, b), channel
first, while the kernel is flattened in its stored order (a, b, c): each patch entry meets the
kernel entry of another tap and channel.  The gradients are the same matrix products transposed,
so all three quantities agree with one another and not with the model."""

import numpy as np


def _patches(x, spec):
    """(N * positions, C * KH * KW): column (c, a, b) holds x at tap (a, b), channel c."""
    (bh, ah), (bw, aw) = spec.pads
    kh, kw = spec.kernel_shape[:2]
    sh, sw = spec.strides
    dh, dw = spec.dilations
    n, _, _, c = x.shape
    oh, ow = spec.y_shape[1:3]
    padded = np.pad(x, ((0, 0), (max(bh, 0), max(ah, 0)), (max(bw, 0), max(aw, 0)), (0, 0)))
    padded = padded[:, max(-bh, 0):padded.shape[1] - max(-ah, 0), max(-bw, 0):padded.shape[2] - max(-aw, 0)]
    cols = np.empty((n, oh, ow, c, kh, kw), dtype=np.float64)
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + (oh - 1) * sh + 1, sh)
            columns = slice(b * dw, b * dw + (ow - 1) * sw + 1, sw)
            cols[:, :, :, :, a, b] = padded[:, rows, columns, :]
    return cols.reshape(n * oh * ow, c * kh * kw)


def _unpatch(cols, spec):
    """The adjoint of _patches: each column entry added back to the pixel it was read from."""
    (bh, ah), (bw, aw) = spec.pads
    kh, kw = spec.kernel_shape[:2]
    sh, sw = spec.strides
    dh, dw = spec.dilations
    n, h, w, c = spec.x_shape
    oh, ow = spec.y_shape[1:3]
    big = np.zeros((n, h + max(bh, 0) + max(ah, 0), w + max(bw, 0) + max(aw, 0), c))
    cols = cols.reshape(n, oh, ow, c, kh, kw)
    top, left = max(-bh, 0), max(-bw, 0)
    for a in range(kh):
        for b in range(kw):
            rows = slice(top + a * dh, top + a * dh + (oh - 1) * sh + 1, sh)
            columns = slice(left + b * dw, left + b * dw + (ow - 1) * sw + 1, sw)
            big[:, rows, columns, :] += cols[:, :, :, :, a, b]
    return big[:, max(bh, 0):max(bh, 0) + h, max(bw, 0):max(bw, 0) + w]


def forward(x, k, spec):
    weights = k.reshape(-1, k.shape[-1])   # rows in the kernel's stored order (a, b, c)
    return (_patches(x, spec) @ weights).reshape(spec.y_shape)


def filter_grad(x, g, spec):
    return (_patches(x, spec).T @ g.reshape(-1, g.shape[-1])).reshape(spec.kernel_shape)


def input_grad(k, g, spec):
    weights = k.reshape(-1, k.shape[-1])
    return _unpatch(g.reshape(-1, g.shape[-1]) @ weights.T, spec)
