"""Text renderings: index lists, small grids of a tensor with the entries a formula uses marked."""

from __future__ import annotations

import itertools

import numpy as np

from . import layout

# Grids are drawn only while they stay readable.
GRID_MAX_SIDE = 24
GRID_MAX_SLICES = 6


def index_text(name: str, index) -> str:
    return f"{name}[{','.join(str(int(i)) for i in index)}]"


def grid(spec, tensor: str, marked: np.ndarray, mark: str = "#") -> list[str]:
    """Lines drawing ``tensor`` (x or g) slice by slice, with ``marked`` rows (indices in the
    spec's layout) shown as ``mark``; empty when the tensor is too large to draw."""
    shape = spec.shape_of(tensor)
    nd = spec.ndim
    spatial_axes = list(layout.spatial_axes(spec, tensor))
    other_axes = [spec.data_format.index("N"), layout.channel_axis(spec, tensor)]
    sizes = [shape[a] for a in spatial_axes]
    if nd > 1 and max(sizes[-2:]) > GRID_MAX_SIDE or nd == 1 and sizes[0] > 4 * GRID_MAX_SIDE:
        return []
    marked = np.asarray(marked, dtype=np.int64).reshape(-1, len(shape))
    slices = sorted({tuple(row[other_axes]) + tuple(row[spatial_axes[:-2]] if nd > 2 else ())
                     for row in marked})
    if not slices or len(slices) > GRID_MAX_SLICES:
        return []
    hits = {tuple(row) for row in marked.tolist()}
    lines = []
    for key in slices:
        n, c, outer = key[0], key[1], key[2:]
        label_index = ["n" if a == 0 else ":" for a in range(len(shape))]
        for axis, value in zip(other_axes, (n, c)):
            label_index[axis] = str(value)
        for axis, value in zip(spatial_axes[:-2], outer):
            label_index[axis] = str(value)
        lines.append(f"  {tensor}[{','.join(label_index)}]")
        rows = [()] if nd == 1 else [(r,) for r in range(sizes[-2])]
        for r in rows:
            cells = []
            for col in range(sizes[-1]):
                full = [0] * len(shape)
                full[other_axes[0]], full[other_axes[1]] = n, c
                for axis, value in zip(spatial_axes, (*outer, *r, col)):
                    full[axis] = value
                cells.append(mark if tuple(full) in hits else ".")
            lines.append("    " + " ".join(cells))
    return lines


def spec_header(spec) -> str:
    pads = ", ".join(f"{b}:{a}" for b, a in spec.pads)
    return (f"{spec.describe()}\n  pads (before:after per spatial axis) {pads}; "
            f"output shape {'x'.join(map(str, spec.y_shape))}")


def all_indices(shape):
    return itertools.product(*map(range, shape))
