"""A conv2d forward that resolves SAME as some runtimes do: the total padding (out-1)*s + k - in is
split between the two sides without clamping it at zero.  Where the stride is larger than the
kernel the total is negative, and the window starts inside the input.  NHWC, kernel (KH, KW, C_in,
C_out)."""
import numpy as np


def forward(x, k, spec):
    _, out_h, out_w, _ = spec.y_shape
    (sh, sw), (dh, dw) = spec.strides, spec.dilations
    befores = []
    for size, out, kernel, s, d in ((x.shape[1], out_h, k.shape[0], sh, dh), (x.shape[2], out_w, k.shape[1], sw, dw)):
        total = (out - 1) * s + (kernel - 1) * d + 1 - size   # the bug: no max(total, 0)
        befores.append(total // 2)
    y = np.zeros(spec.y_shape)
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            rows = a * dh + sh * np.arange(out_h) - befores[0]
            cols = b * dw + sw * np.arange(out_w) - befores[1]
            inside = np.ix_((rows >= 0) & (rows < x.shape[1]), (cols >= 0) & (cols < x.shape[2]))
            window = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))
            window[:, inside[0], inside[1]] = x[:, rows.clip(0, x.shape[1] - 1)][:, :, cols.clip(0, x.shape[2] - 1)][
                :, inside[0], inside[1]]
            y += window @ k[a, b]
    return y
