"""A conv2d forward with the commonest real bug: one row too few of padding at the top (and one
too many at the bottom, so the output keeps its size).  NHWC input, kernel (KH, KW, C_in, C_out)."""
import numpy as np


def forward(x, k, spec):
    (top, bottom), (left, right) = spec.pads
    top, bottom = top - 1, bottom + 1  # the bug: the window starts one row lower
    xp = np.pad(x, ((0, 0), (max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0)), (0, 0)))
    xp = xp[:, max(-top, 0):xp.shape[1] - max(-bottom, 0), max(-left, 0):xp.shape[2] - max(-right, 0)]
    _, out_h, out_w, _ = spec.y_shape
    (sh, sw), (dh, dw) = spec.strides, spec.dilations
    y = np.zeros(spec.y_shape)
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            rows, cols = a * dh + sh * np.arange(out_h), b * dw + sw * np.arange(out_w)
            y += xp[:, rows][:, :, cols] @ k[a, b]
    return y
