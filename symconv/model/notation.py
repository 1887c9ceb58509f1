"""Text renderings: index lists, grids of a tensor with the entries a formula uses marked."""

from __future__ import annotations

import itertools

import numpy as np

from . import window


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
