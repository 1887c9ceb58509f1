"""A picture of an answer: the window of the tensor that matters, shaded by path count.

matplotlib is imported here, on first use (``pip install 'symconv[plot]'``), and drawn
through the Agg canvas directly, so no global backend is changed.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SymconvError
from . import compose

MARGIN = 2


def _log_counts(answer, box) -> np.ndarray:
    """log10 of the path count at each spatial position (channels summed), exactly per entry:
    counts of any size are scaled into float64's range first (``compose.scaled_dense``)."""
    spatial = answer.at.shape.spatial
    values, exponent = compose.scaled_dense(answer.terms, spatial, answer.at.shape.channels, box)
    values = values.sum(axis=-1)
    with np.errstate(divide="ignore"):
        return np.where(values > 0, np.log10(np.maximum(values, 1e-300)) + exponent * math.log10(2), -np.inf)


def draw(answer, path, image=None, title=None):
    """Write a PNG of ``answer`` (a Trace or Readers) to ``path``; ``image``: the input's values
    (same layout as the tensor, batch optional) drawn underneath in grey."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymconvError("pictures need matplotlib: pip install 'symconv[plot]'") from None
    node = answer.at
    nd = node.shape.ndim
    if nd == 0 or not answer.terms:
        raise SymconvError(f"nothing to draw: {node.name} has no spatial axes or nothing is read")
    box = [(max(lo - MARGIN, 0), min(hi + MARGIN, n)) for (lo, hi), n in zip(answer.box[:nd], node.shape.spatial)]
    box.append((0, node.shape.channels))
    shade = _log_counts(answer, box)
    if nd == 3:
        shade = np.max(shade, axis=0)
    fig = Figure(figsize=(6, 5) if nd > 1 else (7, 3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    finite = shade[np.isfinite(shade)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    logarithmic = span > 3 or (finite.size and finite.max() > 300)   # 10**300: near float64's end
    label = "log10(paths), channels summed" if logarithmic else "paths, channels summed"
    values = shade if logarithmic else np.where(np.isfinite(shade), 10.0 ** shade, 0.0)
    lo_row = box[-3][0] if nd > 1 else 0
    lo_col = box[-2][0]
    if nd == 1:
        positions = np.arange(box[0][0], box[0][1])
        ax.bar(positions, np.where(np.isfinite(values), values, 0.0), width=0.9, color="tab:red")
        ax.set_xlabel("position")
        ax.set_ylabel(label)
    else:
        extent = (lo_col - 0.5, box[-2][1] - 0.5, box[-3][1] - 0.5, lo_row - 0.5)
        if image is not None:
            grey = _image_window(answer, np.asarray(image), box)
            ax.imshow(grey, cmap="gray", extent=extent, interpolation="nearest")
        masked = np.ma.masked_invalid(np.where(np.isfinite(values), values, np.nan))
        shown = ax.imshow(masked, cmap="magma_r", extent=extent, interpolation="nearest",
                          alpha=0.6 if image is not None else 1.0)
        fig.colorbar(shown, ax=ax, label=label)
        ax.set_xlabel("column")
        ax.set_ylabel("row" if nd == 2 else "row (max over depth)")
    verb = "read by" if hasattr(answer, "pixel") else "reads"
    ax.set_title(title or f"{answer.entry} {verb} {answer.entry_count:,} entries of {node.name}", fontsize=9)
    fig.tight_layout()
    save(fig, path)
    return path


def save(fig, path, field: str = "--png") -> None:
    """Write the figure by the rule of every output option (``symconv.outputs``: the format
    its suffix names, ``-`` for standard output); any problem is one SymconvError line."""
    import io

    from ..show.outputs import check_picture_path, picture_format, write_bytes
    path = check_picture_path(path, field)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=picture_format(path, field), dpi=100)
    write_bytes(path, buffer.getvalue(), field)


def _image_window(answer, image, box) -> np.ndarray:
    """The image's window, grey, in (rows, columns)."""
    net = answer.network
    shape = net.user_shape(answer.at)
    if image.ndim == len(shape):
        image = image[answer.batch]
    if image.ndim == len(shape) - 1 and not net.channels_last:
        image = np.moveaxis(image, 0, -1)
    if image.ndim == len(shape) - 2:
        image = image[..., None]
    window = image[tuple(slice(lo, hi) for lo, hi in box[:-1])]
    if window.ndim == 4:
        window = window.max(axis=0)
    return window.mean(axis=-1)
