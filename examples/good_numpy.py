"""A correct conv2d in plain NumPy: NHWC input, kernel (KH, KW, C_in, C_out), groups 1."""
import numpy as np

# What this file implements: symconv skips the cases outside it (sweep, conformance suite, check).
SYMCONV_SUPPORTS = {"ops": ["conv2d"], "layouts": ["NHWC"], "groups": [1]}


def _pad(x, spec):
    """Zero-pad (negative: crop) the two spatial axes by spec.pads."""
    (top, bottom), (left, right) = spec.pads
    x = x[:, max(-top, 0):x.shape[1] - max(-bottom, 0), max(-left, 0):x.shape[2] - max(-right, 0)]
    return np.pad(x, ((0, 0), (max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0)), (0, 0)))


def _taps(spec):
    """For each kernel tap (a, b): the padded rows and columns that the outputs read."""
    _, out_h, out_w, _ = spec.y_shape
    (sh, sw), (dh, dw) = spec.strides, spec.dilations
    for a in range(spec.kernel_shape[0]):
        for b in range(spec.kernel_shape[1]):
            yield a, b, a * dh + sh * np.arange(out_h), b * dw + sw * np.arange(out_w)


def forward(x, k, spec):
    xp = _pad(x, spec)
    y = np.zeros(spec.y_shape)
    for a, b, rows, cols in _taps(spec):
        y += xp[:, rows][:, :, cols] @ k[a, b]
    return y


def filter_grad(x, g, spec):
    xp = _pad(x, spec)
    dk = np.zeros(spec.kernel_shape)
    for a, b, rows, cols in _taps(spec):
        dk[a, b] = np.einsum("nhwc,nhwo->co", xp[:, rows][:, :, cols], g)
    return dk


def input_grad(k, g, spec):
    dxp = np.zeros(_pad(np.zeros(spec.x_shape), spec).shape)
    for a, b, rows, cols in _taps(spec):
        dxp[:, rows[:, None], cols[None, :]] += g @ k[a, b].T
    (top, bottom), (left, right) = spec.pads
    height, width = spec.x_shape[1:3]
    h0, h1 = max(-top, 0), height - max(-bottom, 0)
    w0, w1 = max(-left, 0), width - max(-right, 0)
    dx = np.zeros(spec.x_shape)
    dx[:, h0:h1, w0:w1] = dxp[:, max(top, 0):max(top, 0) + h1 - h0, max(left, 0):max(left, 0) + w1 - w0]
    return dx
