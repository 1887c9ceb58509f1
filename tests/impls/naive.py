"""A deliberately plain conv2d (NHWC, TensorFlow kernel layout, groups 1) for test impls.

Every quantity is a loop over (output position, kernel tap) that asks ``reads`` which input
position a tap lands on; the broken impls in this folder change one detail of it.
"""

import itertools

import numpy as np


def pads(spec):
    """The spec's own resolved pads (SAME under its convention, VALID or explicit)."""
    return spec.pads


def tf_pads(spec):
    out = []
    for n, k, s, d in zip(spec.x_shape[1:-1], spec.kernel_shape[:2], spec.strides, spec.dilations):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        out.append((total // 2, total - total // 2))
    return out


def legacy_eigen_pads(spec):
    out = []
    for n, k, s, d in zip(spec.x_shape[1:-1], spec.kernel_shape[:2], spec.strides, spec.dilations):
        total = (-(-n // s) - 1) * s + (k - 1) * d + 1 - n
        before = int(total / 2)  # C truncation towards zero, no clamping
        out.append((before, total - before))
    return out


def reads(spec, before, o, a, stride=None):
    """The input positions (i, j) tap a of output o reads, or None where it is padding."""
    stride = stride or spec.strides
    pos = [o[t] * stride[t] + a[t] * spec.dilations[t] - before[t][0] for t in range(2)]
    return tuple(pos) if all(0 <= p < n for p, n in zip(pos, spec.x_shape[1:3])) else None


def terms(spec, before, stride=None, kernel_tap=lambda spec, a: a):
    """Yield (n, output (i, j), kernel tap, input (i, j)) for every product of the layer."""
    if spec.groups != 1 or spec.op != "conv2d" or spec.data_format != "NHWC":
        raise NotImplementedError("naive.py does conv2d, NHWC, groups 1 only")
    kh, kw = spec.kernel_shape[:2]
    for n in range(spec.x_shape[0]):
        for o in itertools.product(range(spec.y_shape[1]), range(spec.y_shape[2])):
            for a in itertools.product(range(kh), range(kw)):
                p = reads(spec, before, o, a, stride)
                if p is not None:
                    yield n, o, kernel_tap(spec, a), p


def forward(x, k, spec, **how):
    y = np.zeros(spec.y_shape)
    for n, o, a, p in terms(spec, how.pop("before", pads(spec)), **how):
        y[(n, *o)] += x[(n, *p)] @ k[a]
    return y


def filter_grad(x, g, spec, **how):
    dk = np.zeros(spec.kernel_shape)
    for n, o, a, p in terms(spec, how.pop("before", pads(spec)), **how):
        dk[a] += np.outer(x[(n, *p)], g[(n, *o)])
    return dk


def input_grad(k, g, spec, **how):
    dx = np.zeros(spec.x_shape)
    for n, o, a, p in terms(spec, how.pop("before", pads(spec)), **how):
        dx[(n, *p)] += k[a] @ g[(n, *o)]
    return dx
