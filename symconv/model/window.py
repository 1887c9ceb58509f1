"""The part of a tensor worth drawing: marked cells, 2-D slice by 2-D slice, cropped to the
window that matters.

Text grids (``symconv which``) and pictures (``symconv.show.plot``) draw the same panels.  A panel is
one 2-D slice of a tensor (the last two spatial axes; a 1-D tensor is one row), with a code for
every cell: inside and not marked, padding (outside the tensor, where a window reaches), read,
read by the model only, read by the backend only, or padding that a window covers.  Slices with
the same cells are one panel.  A real size is cropped per axis to the marked cells and the
padding next to them, at most ``MAX_SIDE`` cells, and the panel says which rows and columns it
shows, so that the ResNet-50 stem's first output draws its 7x7 window and padding, not a 224x224
sheet of dots.

>>> from symconv.model.spec import ConvSpec
>>> import numpy as np
>>> spec = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
>>> [p] = panels(spec, "x", {READ: np.array([[0, r, c, ch] for r in range(5) for c in range(5) for ch in range(3)])})
>>> p.label, p.describe()
('x[0,:,:,0..2]', 'rows 0..6 and columns 0..6 of 224x224')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import layout

# A side longer than this is cropped to the cells that matter, at most CROP_SIDE of them (a 1-D
# row: four times as many).
MAX_SIDE = 24
CROP_SIDE = 12
# At most this many panels (groups of slices with the same cells) are drawn.
MAX_SLICES = 6
# Cells kept around the marked ones when cropping, and the least a cropped side shows.
MARGIN = 1
MIN_CROP = 7

# Cell codes, in increasing precedence: a cell marked twice shows the later code.
INSIDE, PADDING, PADDING_TAP, READ, MODEL_ONLY, BACKEND_ONLY = range(6)
CODE_NAMES = {INSIDE: "not read", PADDING: "padding", PADDING_TAP: "padding under the window",
              READ: "read", MODEL_ONLY: "read by the model only", BACKEND_ONLY: "read by the backend only"}
TEXT_MARKS = {INSIDE: ".", PADDING: " ", PADDING_TAP: "_", READ: "#", MODEL_ONLY: "m", BACKEND_ONLY: "b"}


@dataclass
class Panel:
    """One 2-D slice (or several with the same cells) of a tensor, cropped.

    ``rows`` and ``cols`` are the first and last positions shown (negative or past the end:
    padding); ``cells[r, c]`` is the code of position (rows[0] + r, cols[0] + c)."""

    tensor: str
    label: str
    rows: tuple
    cols: tuple
    size: tuple                 # the tensor's (rows, columns) in this slice
    cells: np.ndarray
    slices: int = 1
    frame: tuple = ((0, 0), (0, 0))   # the padded grid: (first, last) row and column
    values: np.ndarray | None = field(default=None, repr=False)   # the tensor's values in the window
    flat: bool = False          # a 1-D tensor: one row of positions

    @property
    def cropped(self) -> bool:
        (r0, r1), (c0, c1) = self.frame
        return (self.rows, self.cols) != ((r0, r1), (c0, c1))

    def where(self, code: int) -> list:
        """Positions (row, column) of the cells with ``code``, in the tensor's coordinates."""
        return [(int(r) + self.rows[0], int(c) + self.cols[0]) for r, c in np.argwhere(self.cells == code)]

    def describe(self) -> str:
        """Which part is shown, e.g. 'rows 0..6 and columns 0..6 of 224x224'."""
        height, width = self.size
        if self.flat:
            return f"positions {self.cols[0]}..{self.cols[1]} of {width}"
        return f"rows {self.rows[0]}..{self.rows[1]} and columns {self.cols[0]}..{self.cols[1]} of {height}x{width}"

    def text(self, indent: str = "    ") -> list:
        return [indent + " ".join(TEXT_MARKS[int(code)] for code in row).rstrip() for row in self.cells]


class Panels(list):
    """The panels drawn; ``hidden`` counts the groups of slices left out (beyond MAX_SLICES)."""

    hidden = 0


def _range_text(values) -> str:
    values = sorted(values)
    if len(values) == 1:
        return str(values[0])
    if values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return "{" + ",".join(map(str, values)) + "}"


def _crop(marked: np.ndarray, first: int, last: int, side: int, crop: int) -> tuple:
    """(first, last) shown on one axis: everything when it fits in ``side``, else the marked
    span with a margin (widened to ``MIN_CROP`` around a small span), at most ``crop`` long."""
    if last - first + 1 <= side:
        return first, last
    if not len(marked):
        return first, first + crop - 1
    lo, hi = int(marked.min()) - MARGIN, int(marked.max()) + MARGIN
    grow = max(MIN_CROP - (hi - lo + 1), 0)
    lo, hi = lo - grow // 2, hi + grow - grow // 2
    lo, hi = max(lo, first), min(hi, last)
    short = MIN_CROP - (hi - lo + 1)
    if short > 0:  # clipped at an end: widen towards the other
        lo = max(first, lo - short)
        hi = min(last, max(hi, lo + MIN_CROP - 1))
    return lo, min(hi, lo + crop - 1)


def panels(spec, tensor: str, marks: dict, pads=None, values=None, name: str | None = None) -> list:
    """The panels that draw ``tensor`` ('x', 'g' or 'k') with ``marks``: code -> (T, rank) index
    rows in the spec's layout (padding taps may lie outside the shape).  ``pads``: per spatial
    axis (before, after) of padding to draw around the tensor (None: none).  ``values``: the
    tensor's values, kept for each panel's window.  ``name``: the name shown (default ``tensor``)."""
    shape = spec.shape_of(tensor)
    axes = layout.spatial_axes(spec, tensor)
    grid_axes = axes[-2:] if len(axes) > 1 else axes
    other = [a for a in range(len(shape)) if a not in grid_axes]
    sizes = [shape[a] for a in grid_axes]
    if len(grid_axes) == 1:
        sizes = [1] + sizes
    frame_pads = [(0, 0)] * (2 - len(grid_axes)) + [
        (max(b, 0), max(a, 0)) for b, a in (pads[-len(grid_axes):] if pads is not None else [(0, 0)] * len(grid_axes))]
    frame = tuple((-b, n - 1 + a) for (b, a), n in zip(frame_pads, sizes))
    found = [np.asarray(marks[code], dtype=np.int64).reshape(-1, len(shape)) for code in sorted(marks)]
    rows_all = np.concatenate(found) if found else np.zeros((0, len(shape)), dtype=np.int64)
    codes = np.concatenate([np.full(len(f), code) for f, code in zip(found, sorted(marks))]) if found else \
        np.zeros(0, dtype=np.int64)
    keys = rows_all[:, other]
    at_row = rows_all[:, grid_axes[0]] if len(grid_axes) == 2 else np.zeros(len(rows_all), dtype=np.int64)
    cells = np.column_stack([keys, at_row, rows_all[:, grid_axes[-1]], codes])
    cells = cells[np.lexsort(cells.T[::-1])]
    # A cell marked twice keeps its highest code: the last row of each (key, row, column).
    position = cells[:, :-1]
    last = np.ones(len(cells), dtype=bool)
    last[:-1] = (position[1:] != position[:-1]).any(axis=1)
    cells = cells[last]
    width = len(other)
    starts = np.flatnonzero(np.r_[True, (cells[1:, :width] != cells[:-1, :width]).any(axis=1)]) if len(cells) \
        else np.zeros(0, dtype=np.int64)
    groups: dict = {}
    for begin, end in zip(starts, np.r_[starts[1:], len(cells)]):
        block = cells[begin:end, width:]
        groups.setdefault(block.tobytes(), (block, []))[1].append(tuple(cells[begin, :width].tolist()))
    side, crop = (MAX_SIDE, CROP_SIDE) if len(grid_axes) == 2 else (4 * MAX_SIDE, 4 * CROP_SIDE)
    out = Panels()
    out.hidden = max(len(groups) - MAX_SLICES, 0)
    for block, keys in list(groups.values())[:MAX_SLICES]:
        at_r, at_c, code = block[:, 0], block[:, 1], block[:, 2]
        rows = _crop(at_r, *frame[0], side, crop)
        cols = _crop(at_c, *frame[1], side, crop)
        grid = np.full((rows[1] - rows[0] + 1, cols[1] - cols[0] + 1), INSIDE, dtype=np.int64)
        r_at, c_at = np.arange(rows[0], rows[1] + 1)[:, None], np.arange(cols[0], cols[1] + 1)[None, :]
        grid[(r_at < 0) | (r_at >= sizes[0]) | (c_at < 0) | (c_at >= sizes[1])] = PADDING
        shown_cells = (at_r >= rows[0]) & (at_r <= rows[1]) & (at_c >= cols[0]) & (at_c <= cols[1])
        grid[at_r[shown_cells] - rows[0], at_c[shown_cells] - cols[0]] = code[shown_cells]
        label = _label(shape, other, grid_axes, keys, name or tensor)
        window = None
        if values is not None:
            window = _window_values(np.asarray(values), keys[0], other, grid_axes, rows, cols, sizes)
        out.append(Panel(name or tensor, label, rows, cols, tuple(sizes), grid, len(keys), frame, window,
                         len(grid_axes) == 1))
    return out


def _label(shape, other, grid_axes, keys, name) -> str:
    parts = [":"] * len(shape)
    for position, axis in enumerate(other):
        parts[axis] = _range_text({key[position] for key in keys})
    return f"{name}[{','.join(parts)}]"


def _window_values(values, key, other, grid_axes, rows, cols, sizes):
    """The tensor's values in the window (None outside the tensor) for one slice."""
    out = np.full((rows[1] - rows[0] + 1, cols[1] - cols[0] + 1), None, dtype=object)
    for r in range(rows[0], rows[1] + 1):
        for c in range(cols[0], cols[1] + 1):
            if 0 <= r < sizes[0] and 0 <= c < sizes[1]:
                index = [0] * values.ndim
                for position, axis in enumerate(other):
                    index[axis] = key[position]
                if len(grid_axes) == 2:
                    index[grid_axes[0]] = r
                index[grid_axes[-1]] = c
                out[r - rows[0], c - cols[0]] = values[tuple(index)].item() if hasattr(values[tuple(index)], "item") \
                    else values[tuple(index)]
    return out


def text_grid(spec, tensor: str, marked, mark: str = "#", name: str | None = None) -> list:
    """Lines drawing ``tensor`` with ``marked`` (index rows in the spec's layout) as ``mark``,
    one panel per group of slices with the same cells, cropped where a side is long."""
    found = panels(spec, tensor, {READ: marked}, name=name)
    lines = []
    for panel in found:
        where = f" ({panel.describe()})" if panel.cropped else ""
        lines.append(f"  {panel.label}{where}")
        lines.extend(line.replace("#", mark) for line in panel.text())
    if found.hidden:
        lines.append(f"  ... and {found.hidden} more slices with other cells")
    return lines
