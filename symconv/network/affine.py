"""The affine summary of a network: receptive-field size, effective stride and offset per axis.

This is the summary google-research/receptive_field and "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019) compute: position o of a layer reads input
positions about ``stride*o + offset .. stride*o + offset + size - 1``, with, for each layer l
reading positions ``s_l*o - p_l .. s_l*o - p_l + d_l*(k_l - 1)`` of the one below,

    stride = s_1 s_2 ... s_L,   size = 1 + sum_l d_l (k_l - 1) s_1...s_{l-1},
    offset = -sum_l p_l s_1...s_{l-1}.

Branches that meet (add, concatenate) take the union of their windows when their strides
agree and have no summary otherwise (the library raises there).  symconv computes it from
the resolved padding of every layer, so SAME padding that depends on the input's parity is
no obstacle; it is still a summary: it ignores the borders, the gaps of dilated or strided
taps, and the path counts, which the exact answer gives.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from .graph import Network, Opaque


class Affine(NamedTuple):
    stride: Fraction
    offset: Fraction
    size: Fraction

    def window(self, o: int) -> tuple:
        """(first, last) input position that position o of the layer reads, by the summary."""
        lo = self.stride * o + self.offset
        return lo, lo + self.size - 1

    def as_json(self) -> dict:
        return {"size": _num(self.size), "stride": _num(self.stride), "offset": _num(self.offset),
                "effective_padding": _num(-self.offset)}

    def text(self) -> str:
        return f"size {_num(self.size)}, stride {_num(self.stride)}, offset {_num(self.offset)}"


def _num(value):
    value = Fraction(value)
    return int(value) if value.denominator == 1 else str(value)


UNIT = Affine(Fraction(1), Fraction(0), Fraction(1))


def _compose(prev: Affine | None, step) -> Affine | None:
    if prev is None:
        return None
    a, b, s = step
    return Affine(prev.stride * a, prev.offset + prev.stride * b, prev.size + prev.stride * (s - 1))


def _collapse(prev: Affine | None, size: int) -> Affine | None:
    """Every position of an axis of ``size`` positions, as one window (stride 0)."""
    if prev is None:
        return None
    return Affine(Fraction(0), prev.offset, prev.stride * (size - 1) + prev.size)


def _union(windows: list) -> Affine | None:
    if any(w is None for w in windows) or len({w.stride for w in windows}) > 1:
        return None
    lo = min(w.offset for w in windows)
    hi = max(w.offset + w.size for w in windows)
    return Affine(windows[0].stride, lo, hi - lo)


def summaries(network: Network, source: str | None = None) -> dict:
    """Per node that reads ``source`` (default the first input), one Affine (or None where
    branches disagree on the stride) per spatial axis of the source."""
    source = source or network.inputs[0]
    src = network.nodes[source]
    reached = network.descendants(source)
    out = {source: tuple(UNIT for _ in src.shape.spatial)}
    for name, node in network.nodes.items():
        if name == source or name not in reached:
            continue
        candidates = []
        for i, inp in enumerate(node.inputs):
            if inp not in out:
                continue
            prev = out[inp]
            below = network.nodes[inp]
            if isinstance(node, Opaque):
                candidates.append(tuple(None for _ in prev))
            elif node.shape.spatial and below.shape.spatial:
                steps = node.affine_steps(i)
                candidates.append(tuple(_compose(p, st) for p, st in zip(prev, steps)))
            elif below.shape.spatial:
                candidates.append(tuple(_collapse(p, n) for p, n in zip(prev, below.shape.spatial)))
            else:
                candidates.append(prev)
        out[name] = tuple(_union(list(ws)) for ws in zip(*candidates))
    return out
