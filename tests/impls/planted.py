"""Helpers for the planted bugs: each broken implementation is the exact model of an altered
spec, or the exact model on altered tensors, so that it runs at NumPy speed at real layer
sizes (a 56x56x64 layer in a few hundredths of a second)."""

from types import SimpleNamespace

import numpy as np

import symconv
from symconv import ConvSpec


def exact(spec, quantity, **tensors):
    return symconv.evaluate(spec, quantity, **{n: np.asarray(t, dtype=np.float64) for n, t in tensors.items()})


def altered(spec, strides=None, dilations=None, befores=None):
    """The spec with other strides, dilations or pads before, every tensor keeping its shape
    (explicit pads, the after side chosen so the output size stays)."""
    strides = tuple(strides or spec.strides)
    dilations = tuple(dilations or spec.dilations)
    befores = tuple(befores if befores is not None else [b for b, _ in spec.pads])
    spatial = [spec.data_format.index(a) for a in spec.data_format if a not in "NC"]
    spatial_in = [spec.x_shape[a] for a in spatial]
    spatial_out = [spec.y_shape[a] for a in spatial]
    pads = []
    for n, o, k, s, d, b in zip(spatial_in, spatial_out, spec.kernel_shape, strides, dilations, befores):
        pads.append((b, (o - 1) * s + (k - 1) * d + 1 - n - b))
    return ConvSpec(spec.op, spec.input_shape, spec.kernel_shape, strides=strides, dilations=dilations,
                    padding=tuple(pads), data_format=spec.data_format, groups=spec.groups)


def with_kernel(transform, inverse=None):
    """The forward, filter_grad and input_grad of an implementation that uses transform(k) where
    the model uses k (its filter gradient is then the inverse transform of the model's)."""
    inverse = inverse or transform

    def forward(x, k, spec):
        return exact(spec, "forward", x=x, k=transform(k))

    def filter_grad(x, g, spec):
        return inverse(exact(spec, "filter_grad", x=x, g=g))

    def input_grad(k, g, spec):
        return exact(spec, "input_grad", k=transform(k), g=g)
    return SimpleNamespace(forward=forward, filter_grad=filter_grad, input_grad=input_grad)


def with_spec(change):
    """The forward, filter_grad and input_grad of the model of change(spec)."""
    def forward(x, k, spec):
        return exact(change(spec), "forward", x=x, k=k)

    def filter_grad(x, g, spec):
        return exact(change(spec), "filter_grad", x=x, g=g)

    def input_grad(k, g, spec):
        return exact(change(spec), "input_grad", k=k, g=g)
    return SimpleNamespace(forward=forward, filter_grad=filter_grad, input_grad=input_grad)


def in_region(region, change):
    """The forward, filter_grad and input_grad of an implementation that computes the outputs in
    ``region(spec)`` (a boolean mask of y's shape) by the model of ``change(spec)`` and every
    other output by the spec's own model (the gradients are the adjoints of that forward)."""
    def forward(x, k, spec):
        mask = region(spec)
        return np.where(mask, exact(change(spec), "forward", x=x, k=k), exact(spec, "forward", x=x, k=k))

    def filter_grad(x, g, spec):
        mask = region(spec)
        return exact(spec, "filter_grad", x=x, g=np.where(mask, 0, g)) + \
            exact(change(spec), "filter_grad", x=x, g=np.where(mask, g, 0))

    def input_grad(k, g, spec):
        mask = region(spec)
        return exact(spec, "input_grad", k=k, g=np.where(mask, 0, g)) + \
            exact(change(spec), "input_grad", k=k, g=np.where(mask, g, 0))
    return SimpleNamespace(forward=forward, filter_grad=filter_grad, input_grad=input_grad)
