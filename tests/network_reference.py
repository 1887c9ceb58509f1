"""A slow, obviously-correct reference for whole-network provenance, used only by the tests.

A chain is a list of small dicts (``{"kind": "conv", "k": (3, 3), ...}``).  Each layer is
written out as its dense matrices, one per spatial axis and one for the channels, built with
loops straight from the layer's definition (SAME padding by its own formula, bilinear
weights by TensorFlow's ``resize_bilinear`` arithmetic), and the network is run forward on
every one-hot input at once.  Nothing here uses symconv.network: it is the brute force its
compositions are checked against.  ``mode='count'`` gives path counts (every tap weighs 1,
bilinear taps count once), ``mode='weight'`` the exact gradient of the linear clone
(average pooling's 1/n, bilinear's fractions).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def same_pads(n, k, s, d):
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def pads_of(pad, sizes, k, s, d):
    if pad == "SAME":
        return [same_pads(n, ki, si, di) for n, ki, si, di in zip(sizes, k, s, d)]
    if pad == "VALID":
        return [(0, 0)] * len(sizes)
    return list(pad)


def window_matrix(n, k, s, d, before, after, divide=False):
    """W[o, p] = number of taps a with s*o + d*a - before == p (1/valid taps each if divide)."""
    out = (n + before + after - ((k - 1) * d + 1)) // s + 1
    w = np.zeros((out, n), dtype=object)
    for o in range(out):
        hits = [s * o + d * a - before for a in range(k) if 0 <= s * o + d * a - before < n]
        for p in hits:
            w[o, p] += Fraction(1, len(hits)) if divide else 1
    return w


def transpose_matrix(n, k, s, d, pad):
    ke = (k - 1) * d + 1
    big = n * s if pad == "SAME" else n * s + max(ke - s, 0)
    before = same_pads(big, k, s, d)[0] if pad == "SAME" else 0
    w = np.zeros((big, n), dtype=object)
    for i in range(n):
        for a in range(k):
            o = s * i + d * a - before
            if 0 <= o < big:
                w[o, i] += 1
    return w


def bilinear_matrix(n, f, mode):
    """TensorFlow resize_bilinear with half-pixel centres, written as TF computes it."""
    w = np.zeros((n * f, n), dtype=object)
    for o in range(n * f):
        src = (Fraction(o) + Fraction(1, 2)) / f - Fraction(1, 2)
        lower = max(math.floor(src), 0)
        upper = min(math.ceil(src), n - 1)
        lerp = src - math.floor(src)
        w[o, lower] += 1 - lerp
        w[o, upper] += lerp
    if mode == "count":
        w = np.where(w != 0, 1, 0).astype(object)
    return w


def layer_matrices(layer, sizes, channels, mode):
    """(per-axis matrices, channel matrix) of one layer; None for the spatial part of gap."""
    kind = layer["kind"]
    nd = len(sizes)
    ones = lambda n: np.eye(n, dtype=np.int64).astype(object)  # noqa: E731
    if kind in ("conv", "depthwise"):
        pads = pads_of(layer["pad"], sizes, layer["k"], layer["s"], layer["d"])
        axes = [window_matrix(n, k, s, d, b, a) for n, k, s, d, (b, a) in
                zip(sizes, layer["k"], layer["s"], layer["d"], pads)]
        if kind == "conv":
            c_out, g = layer["c"], layer["g"]
            ch = np.zeros((c_out, channels), dtype=object)
            for co in range(c_out):
                grp = co // (c_out // g)
                for ci in range(channels):
                    ch[co, ci] = int(ci // (channels // g) == grp)
        else:
            m = layer["m"]
            ch = np.zeros((channels * m, channels), dtype=object)
            for co in range(channels * m):
                ch[co, co // m] = 1
        return axes, ch
    if kind == "transpose":
        axes = [transpose_matrix(n, k, s, 1, layer["pad"]) for n, k, s in zip(sizes, layer["k"], layer["s"])]
        return axes, np.ones((layer["c"], channels), dtype=np.int64).astype(object)
    if kind in ("maxpool", "avgpool"):
        pads = pads_of(layer["pad"], sizes, layer["k"], layer["s"], (1,) * nd)
        divide = kind == "avgpool" and mode == "weight"
        axes = [window_matrix(n, k, s, 1, b, a, divide) for n, k, s, (b, a) in
                zip(sizes, layer["k"], layer["s"], pads)]
        return axes, ones(channels)
    if kind == "pad":
        return [window_matrix(n, 1, 1, 1, b, a) for n, (b, a) in zip(sizes, layer["pads"])], ones(channels)
    if kind == "crop":
        return [window_matrix(n, 1, 1, 1, -b, -a) for n, (b, a) in zip(sizes, layer["crops"])], ones(channels)
    if kind == "slice":
        axes = []
        for n, (start, stop, step) in zip(sizes, layer["slices"]):
            picked = list(range(n))[start:stop:step]
            w = np.zeros((len(picked), n), dtype=object)
            for o, p in enumerate(picked):
                w[o, p] = 1
            axes.append(w)
        return axes, ones(channels)
    if kind == "upsample":
        axes = []
        for n, f in zip(sizes, layer["f"]):
            if layer["mode"] == "nearest":
                w = np.zeros((n * f, n), dtype=object)
                for o in range(n * f):
                    w[o, o // f] = 1
            else:
                w = bilinear_matrix(n, f, mode)
            axes.append(w)
        return axes, ones(channels)
    if kind == "relu":
        return [ones(n) for n in sizes], ones(channels)
    if kind == "gap":
        return None, ones(channels)
    raise ValueError(kind)


def apply(layer, x, mode):
    """Run one layer on a batch x of shape (B, spatial..., C), exactly (object dtype)."""
    sizes, channels = x.shape[1:-1], x.shape[-1]
    kind = layer["kind"]
    if kind in ("add", "concat"):
        branch = x
        for inner in layer["branch"]:
            branch = apply(inner, branch, mode)
        return branch + x if kind == "add" else np.concatenate([branch, x], axis=-1)
    axes, ch = layer_matrices(layer, sizes, channels, mode)
    if axes is None:  # global average pooling
        total = x.sum(axis=tuple(range(1, 1 + len(sizes))))
        if mode == "weight":
            total = total * Fraction(1, int(np.prod(sizes)))
        return total
    for i, w in enumerate(axes):
        x = np.moveaxis(np.tensordot(x, w, axes=([1 + i], [1])), -1, 1 + i)
    return np.tensordot(x, ch, axes=([x.ndim - 1], [1]))


def run(chain, input_shape, mode):
    """The output for every one-hot input: shape (input entries, output shape...)."""
    size = int(np.prod(input_shape))
    x = np.eye(size, dtype=np.int64).astype(object).reshape((size, *input_shape))
    for layer in chain:
        x = apply(layer, x, mode)
    return x


def gradient(chain, input_shape, entry, mode="count"):
    """d out[entry] / d x over the whole input (spatial..., C), from one-hot forward passes."""
    out = run(chain, input_shape, mode)
    return out[(slice(None), *entry)].reshape(input_shape)


def readers(chain, input_shape, pixel, mode="count"):
    """d out / d x[pixel] over the whole output."""
    out = run(chain, input_shape, mode)
    flat = np.ravel_multi_index(pixel, input_shape)
    return out[flat]


def chain_text(chain) -> str:
    """The same chain in symconv's one-line grammar."""
    return " > ".join(_layer_text(layer) for layer in chain)


def _sizes(values):
    return "x".join(map(str, values))


def _pad_text(pad):
    if pad in ("SAME", "VALID"):
        return pad
    return "p" + ",".join(f"{b}:{a}" for b, a in pad)


def _layer_text(layer):
    kind = layer["kind"]
    if kind in ("add", "concat"):
        return f"{kind}( {chain_text(layer['branch'])} | )"
    if kind == "conv":
        nd = len(layer["k"])
        return (f"conv{nd}d {_sizes(layer['k'])} s{_sizes(layer['s'])} d{_sizes(layer['d'])} "
                f"{_pad_text(layer['pad'])} c{layer['c']} g{layer['g']}")
    if kind == "depthwise":
        return (f"depthwise {_sizes(layer['k'])} s{_sizes(layer['s'])} d{_sizes(layer['d'])} "
                f"{_pad_text(layer['pad'])} m{layer['m']}")
    if kind == "transpose":
        return f"transpose {_sizes(layer['k'])} s{_sizes(layer['s'])} {layer['pad']} c{layer['c']}"
    if kind in ("maxpool", "avgpool"):
        return f"{kind} {_sizes(layer['k'])} s{_sizes(layer['s'])} {_pad_text(layer['pad'])}"
    if kind == "pad":
        return "pad " + ",".join(f"{b}:{a}" for b, a in layer["pads"])
    if kind == "crop":
        return "crop " + ",".join(f"{b}:{a}" for b, a in layer["crops"])
    if kind == "slice":
        return "slice " + ",".join(f"{a}:{b}:{c}" for a, b, c in layer["slices"])
    if kind == "upsample":
        return f"upsample {_sizes(layer['f'])} {layer['mode']}"
    return kind
