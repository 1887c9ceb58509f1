"""dx as a transposed convolution: the input gradient is a stride-1 convolution of the
upstream gradient, dilated by the stride and padded, with the kernel flipped.

``transposed_form`` derives it from the closed form of dx (every step checked by SymPy);
``transposed_numeric`` builds it with NumPy (dilate, pad or crop, flip, correlate) as an
independent check against the index maps.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy
from sympy import Integer, KroneckerDelta

from ..model.indexmap import maps_for
from ..model.spec import ConvSpec
from .engine import Derivation
from .formulas import Term, index
from .geometry import symbolic_geometry


def transposed_form(ndim: int, full: bool):
    """dx as a stride-1 convolution of the dilated, padded g with the flipped kernel:
    (derivation, the formula with g~ written out, the pads per axis)."""
    geometry = symbolic_geometry("conv", ndim, True, full, names="claims")
    deriv = Derivation("input_grad as a transposed convolution")
    idx, ranges = geometry.tensor_indices("x")
    n = index("n")
    ci, co = geometry.channel_idx
    flipped = tuple(index(a.name + "'") for a in geometry.kernel_idx)
    out = geometry.out_idx
    K, S, D, P = geometry.kernel, geometry.stride, geometry.dilation, geometry.pad
    H, OH = geometry.input_size, geometry.output_size
    before = tuple(d * (k - 1) - p for d, k, p in zip(D, K, P))
    after = tuple(h - 1 + p - s * (o - 1) for h, p, s, o in zip(H, P, S, OH))
    # g~[n, t, co] = sum_o delta(t, S*o + before) g[n, o, co]: g dilated by S, padded by (before, after)
    # k~[a', co, ci] = k[K-1-a', ci, co]: the kernel flipped, its channel axes swapped
    limits = [(a, Integer(0), k - 1) for a, k in zip(flipped, K)]
    if full:
        limits.append((co, Integer(0), geometry.c_out - 1))
    limits += [(o, Integer(0), oh - 1) for o, oh in zip(out, OH)]
    inputs = geometry.input_idx
    deltas = tuple(KroneckerDelta(h + d * a, s * o + b) for h, d, a, s, o, b in zip(inputs, D, flipped, S, out, before))
    g = sympy.IndexedBase("g")[geometry.activation(n, out, co)]
    k = sympy.IndexedBase("k")[geometry.kernel_entry(tuple(kk - 1 - a for kk, a in zip(K, flipped)), ci, co)]
    start = Term(tuple(limits), (), deltas + (g, k))
    lhs = sympy.IndexedBase("dx")[idx]
    deriv.record("g~ convolved with k~", "definition", lhs, [start],
                 "sum over a' and co of g~[n, h + D*a', co] * k~[a', co, ci], with g~ and k~ written out")
    # reindex a' = K-1-a: a bijection of 0..K-1 onto itself
    plain = geometry.kernel_idx
    swap = {a2: kk - 1 - a for a2, a, kk in zip(flipped, plain, K)}
    for a2, a, kk in zip(flipped, plain, K):
        image = swap[a2]
        if sympy.expand(image.xreplace({a: 0}) - (kk - 1)) != 0 or sympy.expand(image.xreplace({a: kk - 1})) != 0 \
                or sympy.expand(image + a) != kk - 1:
            deriv.fail("reindex", f"{a2} = {image} does not map 0..{kk - 1} onto itself")
    limits = tuple((plain[flipped.index(v)], lo, hi) if v in flipped else (v, lo, hi) for v, lo, hi in start.limits)
    reindexed = Term(limits, (), tuple(f.xreplace(swap) for f in start.factors))
    deriv.record("reindex a' = K-1-a", "reindex", lhs, [reindexed],
                 "a' -> K-1-a maps 0..K-1 onto itself (checked: the ends swap)")
    # each delta: h + D*(K-1-a) == S*o + D*(K-1) - P  <=>  h == S*o + D*a - P
    simplified = []
    for f, h, pos in zip(reindexed.factors[:ndim], inputs, geometry.positions(out, plain)):
        if sympy.expand((f.args[0] - f.args[1]) - (h - pos)) != 0:
            deriv.fail("delta", f"{f} is not delta({h}, {pos})")
        simplified.append(KroneckerDelta(h, pos))
    final = Term(reindexed.limits, (), tuple(simplified) + reindexed.factors[ndim:])
    deriv.record("delta arguments", "expand", lhs, [final],
                 "h + D*(K-1-a) - (S*o + D*(K-1) - P) expands to h - (S*o + D*a - P)")
    for b, a_, h, d, kk, s, oh in zip(before, after, H, D, K, S, OH):
        length = b + (s * (oh - 1) + 1) + a_
        if sympy.expand(length - (h + d * (kk - 1))) != 0 or sympy.expand(length - (d * (kk - 1) + 1) + 1 - h) != 0:
            deriv.fail("sizes", "the padded, dilated g does not give H outputs")
    return deriv, start.expr(), final, tuple(zip(before, after))




def transposed_numeric(spec: ConvSpec, seed: int = 0) -> bool:
    """dx by the transposed-convolution recipe, in NumPy, against the index maps' exact dx."""
    rng = np.random.default_rng(seed)
    nd = spec.ndim
    g = rng.integers(-9, 10, size=spec.direct_output_spatial)
    k = rng.integers(-9, 10, size=spec.kernel_spatial)
    dil = np.zeros([s * (o - 1) + 1 for s, o in zip(spec.strides, spec.direct_output_spatial)], dtype=np.int64)
    dil[tuple(slice(None, None, s) for s in spec.strides)] = g
    for axis in range(nd):
        K, S, D = spec.kernel_spatial[axis], spec.strides[axis], spec.dilations[axis]
        H, P, OH = spec.direct_input_spatial[axis], spec.pads[axis][0], spec.direct_output_spatial[axis]
        before, after = D * (K - 1) - P, H - 1 + P - S * (OH - 1)
        lo, hi = max(-before, 0), dil.shape[axis] - max(-after, 0)
        dil = np.take(dil, np.arange(lo, max(hi, lo)), axis=axis)
        widths = [(0, 0)] * nd
        widths[axis] = (max(before, 0), max(after, 0))
        dil = np.pad(dil, widths)
    flipped = k[(slice(None, None, -1),) * nd]
    dx = np.zeros(spec.direct_input_spatial, dtype=np.int64)
    for a in itertools.product(*map(range, spec.kernel_spatial)):
        window = tuple(slice(d * aa, d * aa + h) for d, aa, h in zip(spec.dilations, a, spec.direct_input_spatial))
        dx += flipped[a] * dil[window]
    shape = lambda s: (1, *s, 1)
    want = maps_for(spec).evaluate("input_grad", k=k.reshape(*spec.kernel_spatial, 1, 1),
                                   g=g.reshape(shape(spec.direct_output_spatial)))
    return bool(np.array_equal(dx, want.reshape(spec.direct_input_spatial)))


