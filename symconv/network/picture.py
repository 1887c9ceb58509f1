"""A picture of a network's answer: the window of the tensor that matters, shaded by path count,
with the layers whose gradient the data decides (max pooling) named under the title.

``draw`` is the registered picture of ``Trace`` and ``Readers`` (``display.Rendered``: their
``plot()``); it returns a ``symconv.show.plot.Picture`` (``_repr_png_`` in a notebook, ``save``
by the path's suffix).  matplotlib is imported on first use (``pip install 'symconv[plot]'``)
and drawn through the Agg canvas directly, so no global backend is changed.
"""

from __future__ import annotations

import math

import numpy as np

from ..display import renders
from ..errors import SymconvError
from ..show.plot import Picture
from . import compose
from .answer import Readers, Trace

MARGIN = 2
# Data-dependent layers named one by one under the title, at most.
NAMED_LAYERS = 4


def _log_counts(answer, box) -> np.ndarray:
    """log10 of the path count at each spatial position (channels summed), exactly per entry:
    counts of any size are scaled into float64's range first (``compose.scaled_dense``)."""
    spatial = answer.at.shape.spatial
    values, exponent = compose.scaled_dense(answer.terms, spatial, answer.at.shape.channels, box)
    values = values.sum(axis=-1)
    with np.errstate(divide="ignore"):
        return np.where(values > 0, np.log10(np.maximum(values, 1e-300)) + exponent * math.log10(2), -np.inf)


def data_dependent_line(answer) -> str:
    """'data-dependent: l2 (maxpool 3x3 s2 ...): ...' for the layers whose gradient the data
    decides ('' when there are none)."""
    names = answer.data_dependent
    if not names:
        return ""
    nodes = [answer.network.nodes[n] for n in names]
    shown = ", ".join(f"{n.name} ({n.detail or n.kind})" for n in nodes[:NAMED_LAYERS])
    more = f" and {len(nodes) - NAMED_LAYERS} more" if len(nodes) > NAMED_LAYERS else ""
    return (f"data-dependent: {shown}{more}: every candidate of a window is counted; "
            f"the gradient reaches the one the data picks")


def draw(answer, path=None, image=None, title=None) -> Picture:
    """The picture of ``answer`` (a Trace or Readers), written to ``path`` when given; ``image``:
    the input's values (same layout as the tensor, batch optional) drawn underneath in grey."""
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
    dependent = data_dependent_line(answer)
    fig = Figure(figsize=(6, 5.4) if nd > 1 else (7, 3.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    finite = shade[np.isfinite(shade)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    logarithmic = span > 3 or (finite.size and finite.max() > 300)   # 10**300: near float64's end
    label = "log10(paths), channels summed" if logarithmic else "paths, channels summed"
    if dependent:
        label += "\n(candidates through data-dependent layers)"
    values = shade if logarithmic else np.where(np.isfinite(shade), 10.0 ** np.where(np.isfinite(shade), shade, 0), np.nan)
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
    if isinstance(answer, Readers):
        head = f"{answer.entry} is read by {answer.entry_count:,} entries of {node.name}"
    else:
        head = f"{answer.entry} reads {answer.entry_count:,} entries of {node.name}"
    head = title or head
    if dependent:
        import textwrap
        head += "\n" + textwrap.fill(dependent, 72 if nd > 1 else 90)
    ax.set_title(head, fontsize=9 if not dependent else 8, color="black")
    fig.tight_layout()
    picture = Picture(fig, [(head, None)], head)
    if path is not None:
        picture.save(path, "--png")
    return picture


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


def _draw(answer, path=None, image=None, title=None) -> Picture:
    return draw(answer, path, image=image, title=title)


renders("picture", Trace, Readers)(_draw)
