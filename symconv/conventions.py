"""Padding conventions: how each framework resolves SAME, as a registry of pure functions.

Each rule takes one spatial axis (input size, kernel size, stride, dilation) and returns
``Resolved(out, before, after)``.  Adding a convention is adding one function and one
``register`` line.  Pads may be negative: a negative pad crops.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

from .errors import SymconvError


class Resolved(NamedTuple):
    out: int
    before: int
    after: int


@dataclass(frozen=True)
class Convention:
    name: str
    rule: Callable[[int, int, int, int], Resolved]
    formula: str
    citation: str

    def __call__(self, size: int, kernel: int, stride: int, dilation: int) -> Resolved:
        return self.rule(size, kernel, stride, dilation)


REGISTRY: dict[str, Convention] = {}


def register(name: str, formula: str, citation: str):
    def wrap(rule):
        REGISTRY[name] = Convention(name, rule, formula, citation)
        return rule
    return wrap


def effective_kernel(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def output_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """Number of window positions that fit in the padded axis (0 when none fits)."""
    span = size + before + after - effective_kernel(kernel, dilation)
    return span // stride + 1 if span >= 0 else 0


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _same_total(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    out = ceil_div(size, stride)
    return out, (out - 1) * stride + effective_kernel(kernel, dilation) - size


@register("tf", "out = ceil(in/s); total = max((out-1)*s + (k-1)*d + 1 - in, 0); before = total // 2",
          "TensorFlow kernel_shape_util.cc GetWindowedOutputSizeVerbose; also XLA, JAX 'SAME', "
          "ONNX SAME_UPPER, Keras 'same'")
def tf(size, kernel, stride, dilation):
    out, total = _same_total(size, kernel, stride, dilation)
    total = max(total, 0)
    return Resolved(out, total // 2, total - total // 2)


@register("same_lower", "out = ceil(in/s); total as tf; before = total - total // 2",
          "ONNX Conv auto_pad=SAME_LOWER; JAX padtype_to_pads 'SAME_LOWER'")
def same_lower(size, kernel, stride, dilation):
    out, total = _same_total(size, kernel, stride, dilation)
    total = max(total, 0)
    return Resolved(out, total - total // 2, total // 2)


@register("legacy_eigen", "out = ceil(in/s); before = trunc(((out-1)*s + (k-1)*d + 1 - in) / 2), "
          "no clamping; after = total - before",
          "TensorFlow 1.x CPU forward (Eigen SpatialConvolution, 2017; TF PR 1991, issue 11092)")
def legacy_eigen(size, kernel, stride, dilation):
    out, total = _same_total(size, kernel, stride, dilation)
    before = total // 2 if total >= 0 else -(-total // 2)  # C truncation: -1/2 == 0, -3/2 == -1
    return Resolved(out, before, total - before)


@register("torch", "before = after = d*(k-1)//2; out = floor((in + 2*before - (k-1)*d - 1)/s) + 1",
          "PyTorch nn.Conv2d with padding=k//2 written by hand (PyTorch issue 3867)")
def torch(size, kernel, stride, dilation):
    pad = dilation * (kernel - 1) // 2
    return Resolved(output_size(size, kernel, stride, dilation, pad, pad), pad, pad)


def get(name: str) -> Convention:
    try:
        return REGISTRY[name]
    except KeyError:
        raise SymconvError(
            f"convention must be one of {', '.join(sorted(REGISTRY))}, got {name!r}") from None
