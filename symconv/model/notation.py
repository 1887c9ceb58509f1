"""Text renderings: index lists, grids of a tensor with the entries a formula uses marked, a
spec as the command-line options that give it."""

from __future__ import annotations

import itertools

import numpy as np

from . import conventions, window
from .spec import format_padding


def index_text(name: str, index) -> str:
    return f"{name}[{','.join(str(int(i)) for i in index)}]"


def grid(spec, tensor: str, marked: np.ndarray, mark: str = "#", name: str | None = None) -> list[str]:
    """Lines drawing ``tensor`` (x or g) slice by slice, with ``marked`` rows (indices in the
    spec's layout) shown as ``mark``; a long side is cropped to the marked cells and the
    lines say which rows and columns are shown (``symconv.window``)."""
    return window.text_grid(spec, tensor, marked, mark, name)


def spec_header(spec) -> str:
    pads = ", ".join(f"{b}:{a}" for b, a in spec.pads)
    return (f"{spec.describe()}\n  pads (before:after per spatial axis) {pads}; "
            f"output shape {'x'.join(map(str, spec.y_shape))}")


def all_indices(shape):
    return itertools.product(*map(range, shape))


def layer_options(spec, layouts: bool = False) -> list:
    """The command-line words that give ``spec`` after its op (``--input ... --padding ...``):
    the layouts only where they are not the default, or always (``layouts``)."""
    parts = ["--input", "x".join(map(str, spec.input_shape)), "--kernel", "x".join(map(str, spec.kernel_shape))]
    for name, values in (("--strides", spec.strides), ("--dilations", spec.dilations)):
        if any(v != 1 for v in values):
            parts += [name, ",".join(map(str, values)) if len(set(values)) > 1 else str(values[0])]
    parts += ["--padding", format_padding(spec.padding)]
    if spec.padding == "SAME" and spec.convention != conventions.DEFAULT:
        parts += ["--convention", spec.convention]
    if layouts:
        parts += ["--data-format", spec.data_format, "--kernel-layout", spec.kernel_layout]
    elif not spec.channels_last:
        parts += ["--data-format", spec.data_format]
    if spec.groups != 1:
        parts += ["--groups", str(spec.groups)]
    if spec.output_shape_request is not None:
        parts += ["--output-shape", "x".join(map(str, spec.output_shape_request))]
    return parts
