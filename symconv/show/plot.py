"""Pictures: the input grid with the pixels each chosen entry reads, padding drawn as padding.

``answer.plot()``, ``readers.plot()`` and ``story.plot()`` (explain) (registered renderings:
``symconv.display``; a check's and an infer's in ``symconv.show.report_pictures``) return a ``Picture``: a matplotlib figure (drawn on the Agg canvas directly, so no global backend
is changed and no display is needed) that a notebook shows through ``_repr_png_`` and
``save(path)`` writes in the format the path's suffix names (.png, .svg or .pdf; see
``symconv.outputs``); ``--png FILE`` on ``which``, ``explain`` and ``check`` does the same.  Panels come from ``symconv.window``: real sizes are cropped to the window that matters
and each panel's title says which rows and columns it shows.  Every cell has one code
(``window.CODE_NAMES``), drawn as one colour; padding is hatched.  The codes are the image's
data (``ax.images[0].get_array()``), so what a picture marks can be read back from it.

matplotlib is imported on first use (``pip install 'symconv[plot]'``).

``python -m symconv.show.plot --founding docs/founding_bug.png`` draws the founding bug: a 3x3 input,
the forward reading the centre pixel under ``legacy_eigen`` (TensorFlow 1.x's CPU forward) and
the filter gradient reading the corner under ``tf``, side by side.
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap

import numpy as np

from ..checks.explanation import Explanation
from ..display import renders
from ..errors import SymconvError
from ..model import layout, window
from ..model.window import BACKEND_ONLY, INSIDE, MODEL_ONLY, PADDING, PADDING_TAP, READ
from ..symbolic.answers import Answer, TensorAnswer
from ..symbolic.reverse import Readers
from . import outputs

COLOURS = {INSIDE: "#f7f7f7", PADDING: "#d9d9d9", PADDING_TAP: "#f2c14e", READ: "#1f77b4",
           MODEL_ONLY: "#2ca02c", BACKEND_ONLY: "#d62728"}
# Panels per picture, and per answer (groups of slices with different cells).
MAX_PANELS = 6
PANELS_PER_ANSWER = 2
# Cell values are written into the cells of windows up to this size.
VALUES_SIDE = 10
# Padding taps are worked out for windows of at most this many positions.
TAP_LIMIT = 1_000_000


class Picture:
    """A figure of panels; ``panels`` holds (title, window.Panel) in drawing order."""

    def __init__(self, figure, panels: list, title: str):
        self.figure, self.panels, self.title = figure, panels, title

    def png(self) -> bytes:
        return self.image("png")

    def image(self, fmt: str = "png") -> bytes:
        """The picture's bytes as ``png``, ``svg`` or ``pdf``."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format=fmt, dpi=100)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def save(self, path, field: str = "picture path") -> str:
        """Write the picture in the format its suffix names (.png, .svg or .pdf; ``-``: PNG on
        standard output when that is not a terminal); a path that cannot be written is one
        SymconvError naming ``field`` (``symconv.outputs``)."""
        path = outputs.check_picture_path(path, field)
        outputs.write_bytes(path, self.image(outputs.picture_format(path, field)), field)
        return str(path)

    def __repr__(self) -> str:
        titles = "; ".join(title.replace("\n", " ") for title, _ in self.panels)
        return f"<symconv picture, {len(self.panels)} panel{'s' if len(self.panels) != 1 else ''}: {titles}>"


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch, Rectangle
    except ImportError:
        raise SymconvError("pictures need matplotlib: pip install 'symconv[plot]'") from None
    return FigureCanvasAgg, ListedColormap, Figure, Patch, Rectangle


def draw(panels: list, title: str, rows: int = 1, path=None, names: dict | None = None) -> Picture:
    """A picture of (title, Panel) pairs in ``rows`` rows, side by side; ``names``: legend
    words for cell codes other than ``window.CODE_NAMES``."""
    FigureCanvasAgg, ListedColormap, Figure, Patch, Rectangle = _matplotlib()
    from matplotlib.ticker import MaxNLocator
    panels = panels[:MAX_PANELS * rows]
    columns = max(1, -(-len(panels) // rows))
    width = max(3.4 * columns + 0.4, 6.0)
    figure = Figure(figsize=(width, 3.9 * rows + 1.2), layout="constrained")
    FigureCanvasAgg(figure)
    cmap = ListedColormap([COLOURS[code] for code in sorted(COLOURS)])
    present = set()
    for i, (subtitle, panel) in enumerate(panels):
        ax = figure.add_subplot(rows, columns, i + 1)
        if panel is None:
            ax.axis("off")
            ax.text(0.5, 0.5, subtitle, ha="center", va="center", wrap=True, fontsize=8, transform=ax.transAxes)
            continue
        (r0, r1), (c0, c1) = panel.rows, panel.cols
        ax.imshow(panel.cells, cmap=cmap, vmin=-0.5, vmax=len(COLOURS) - 0.5, interpolation="nearest",
                  extent=(c0 - 0.5, c1 + 0.5, r1 + 0.5, r0 - 0.5))
        for r, c in panel.where(PADDING) + panel.where(PADDING_TAP):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", linewidth=0, color="#777777"))
        present.update(int(code) for code in np.unique(panel.cells))
        _cell_values(ax, panel)
        for axis, (first, last) in ((ax.xaxis, (c0, c1)), (ax.yaxis, (r0, r1))):
            if last - first < 12:   # every position named
                axis.set_ticks(np.arange(first, last + 1))
            else:
                axis.set_major_locator(MaxNLocator(integer=True, nbins=12))
        ax.set_xticks(np.arange(c0, c1 + 2) - 0.5, minor=True)
        ax.set_yticks(np.arange(r0, r1 + 2) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=1)
        ax.tick_params(which="both", length=0, labelsize=7)
        where = f"\ncropped to {panel.describe()}" if panel.cropped else ""
        ax.set_title(f"{subtitle}\n{panel.label}{where}", fontsize=8)
        ax.set_xlabel("position" if panel.flat else "column", fontsize=7)
        if panel.flat:
            ax.set_yticks([])
        else:
            ax.set_ylabel("row", fontsize=7)
    legend = [Patch(facecolor=COLOURS[code], edgecolor="#777777", hatch="///" if code in (PADDING, PADDING_TAP) else None,
                    label=(names or {}).get(code, window.CODE_NAMES[code])) for code in sorted(present)]
    if legend:
        figure.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 3 if columns < 3 else 6),
                      fontsize=7, frameon=False)
    figure.suptitle("\n".join(textwrap.fill(line, int(width * 14)) for line in title.split("\n")), fontsize=9)
    picture = Picture(figure, panels, title)
    if path is not None:
        picture.save(path)
    return picture


def _cell_values(ax, panel) -> None:
    if panel.values is None or max(panel.cells.shape) > VALUES_SIDE:
        return
    for (r, c), value in np.ndenumerate(panel.values):
        if value is not None:
            dark = panel.cells[r, c] in (READ, MODEL_ONLY, BACKEND_ONLY)
            ax.text(c + panel.cols[0], r + panel.rows[0], str(value), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")


# ---- what each kind of answer draws ----------------------------------------------------------

def drawn_tensor(quantity: str) -> str:
    """The tensor a picture of an entry draws: x for y and dk, g for dx."""
    return "g" if quantity == "input_grad" else "x"


def _drawn_rows(terms, quantity: str) -> np.ndarray:
    tensor = drawn_tensor(quantity)
    one, _ = terms.factors
    return terms.first if one == tensor else terms.second


def _pads_drawn(spec, quantity: str):
    """Per-axis pads to draw around the tensor, where the tensor is the padded one (x of a
    direct convolution, for y and dk)."""
    if quantity == "input_grad" or layout.roles(spec)["x"] != "direct_input":
        return None
    return spec.pads


def padding_taps(spec, quantity: str, index, rows: np.ndarray) -> np.ndarray | None:
    """Index rows of x positions outside the input that the entry's windows cover (taps that
    read padding), in the slices of ``rows``; None where the entry has no padded windows."""
    if _pads_drawn(spec, quantity) is None or not len(rows):
        return None
    from ..model.indexmap import maps_for
    maps = maps_for(spec)
    _, role, canon = maps.locate(quantity, index)
    per_axis = []
    for axis, value in zip(maps.axes, canon[2:]):
        if role == "direct_output":
            per_axis.append(axis.stride * value + axis.dilation * np.arange(axis.kernel) - axis.before)
        else:
            per_axis.append(axis.stride * np.arange(axis.output_size) + axis.dilation * value - axis.before)
    if np.prod([len(p) for p in per_axis], dtype=object) > TAP_LIMIT:
        return None
    grid = np.stack([g.reshape(-1) for g in np.meshgrid(*per_axis, indexing="ij")], axis=1)
    outside = ((grid < 0) | (grid >= np.array(spec.direct_input_spatial))).any(axis=1)
    if not outside.any():
        return None
    axes = layout.spatial_axes(spec, "x")
    templates = np.unique(np.delete(rows, axes, axis=1), axis=0)
    out = []
    for template in templates:
        block = np.zeros((int(outside.sum()), rows.shape[1]), dtype=np.int64)
        others = [a for a in range(rows.shape[1]) if a not in axes]
        block[:, others] = template
        block[:, axes] = grid[outside]
        out.append(block)
    return np.concatenate(out)


def entry_panels(spec, quantity: str, index, terms, values=None, compare=None) -> list:
    """The panels of one entry: the cells its terms read (with ``compare``, the terms a backend
    was seen to use: cells read by both, by the model only, by the backend only)."""
    tensor = drawn_tensor(quantity)
    model = _drawn_rows(terms, quantity) if terms is not None else np.zeros((0, len(spec.shape_of(tensor))))
    marks = {}
    taps = padding_taps(spec, quantity, index, model)
    if taps is not None:
        marks[PADDING_TAP] = taps
    if compare is None:
        marks[READ] = model
    else:
        seen = _drawn_rows(compare, quantity)
        model_set = {tuple(r) for r in model.tolist()}
        seen_set = {tuple(r) for r in seen.tolist()}
        marks[READ] = sorted(model_set & seen_set)
        marks[MODEL_ONLY] = sorted(model_set - seen_set)
        marks[BACKEND_ONLY] = sorted(seen_set - model_set)
        marks = {code: rows for code, rows in marks.items() if len(rows)}
    return window.panels(spec, tensor, marks, _pads_drawn(spec, quantity), values)[:PANELS_PER_ANSWER]


def _entry_terms(spec, quantity, index):
    from ..model.indexmap import maps_for
    return maps_for(spec).terms(quantity, index)


def _reads(terms, quantity) -> str:
    count = len({tuple(r) for r in _drawn_rows(terms, quantity).tolist()})
    return f"reads {count} entr{'y' if count == 1 else 'ies'} of {drawn_tensor(quantity)}"


def answer_picture(answer, path=None) -> Picture:
    return answers_picture([answer], path)


def answers_picture(answers, path=None, title: str | None = None) -> Picture:
    """The entries side by side (at most ``MAX_PANELS`` panels)."""
    panels = []
    for answer in answers[:MAX_PANELS]:
        if answer.term_count > _term_limit():
            panels.append((_too_many(answer.term_count, f"terms of {answer.entry}"), None))
            continue
        terms = _entry_terms(answer.spec, answer.quantity, answer.index)
        for panel in entry_panels(answer.spec, answer.quantity, answer.index, terms):
            panels.append((f"{answer.entry} {_reads(terms, answer.quantity)}", panel))
    spec = answers[0].spec
    return draw(panels, title or _spec_title(spec), path=path)


def _term_limit() -> int:
    """Entries with more terms (or entries fed) than the index maps list are drawn as a note."""
    from ..model.indexmap import TERM_LIMIT
    return TERM_LIMIT


def _too_many(count: int, what: str) -> str:
    return f"{count:,} {what}:\nmore than the {_term_limit():,} a picture draws\n(see the closed form)"


def _spec_title(spec) -> str:
    pads = ", ".join(f"{b}:{a}" for b, a in spec.pads)
    return f"{spec.describe()}; pads {pads}"


def readers_picture(readers, path=None) -> Picture:
    """The entry itself, then the entries of each quantity it feeds."""
    spec = readers.spec
    marks = {READ: np.array([readers.index])}
    panels = [(f"the entry {readers.entry}", p) for p in window.panels(spec, readers.tensor, marks)]
    for feed in readers.feeds:
        if not feed.count:
            panels.append((f"no entry of {feed.tensor} uses it", None))
            continue
        if feed.count > _term_limit():
            panels.append((_too_many(feed.count, f"entries of {feed.tensor} it feeds"), None))
            continue
        for panel in window.panels(spec, feed.grid_tensor, {READ: _fed_rows(feed)},
                                   name=feed.tensor)[:PANELS_PER_ANSWER]:
            panels.append((f"{feed.count} entr{'y' if feed.count == 1 else 'ies'} of {feed.tensor} it feeds", panel))
    return draw(panels, _spec_title(spec), path=path)


def _fed_rows(feed) -> np.ndarray:
    """The entries a feed reaches, as index rows: from the dual's listed terms, or (an entry with
    more terms than an answer lists) from the index maps, which draw up to their own limit."""
    if feed.dual.terms is not None:
        return feed.fed_indices()
    terms = _entry_terms(feed.dual.spec, feed.dual.quantity, feed.dual.index)
    one, _ = terms.factors
    return terms.first if feed.factor == one else terms.second


def render_index(tensor: str, index) -> str:
    return f"{tensor}[{','.join(map(str, index))}]"


def _only_slot(terms, slot):
    """The terms that multiply one lit slot (tensor, index), as the backend's were observed."""
    if slot is None:
        return terms
    tensor, index = slot
    one, two = terms.factors
    column = terms.first if one == tensor else terms.second if two == tensor else None
    if column is None:
        return terms
    keep = (column == np.array(index)).all(axis=1)
    from ..model.indexmap import Terms
    coefs = None if terms.coefficients is None else terms.coefficients[keep]
    return Terms(terms.quantity, terms.entry, terms.factors, terms.first[keep], terms.second[keep], coefs)


def _first_entry_with_terms(spec, quantity, tries: int = 64):
    from ..model.notation import all_indices
    from ..model.spec import TENSOR_OF
    first = None
    for i, index in enumerate(all_indices(spec.shape_of(TENSOR_OF[quantity]))):
        terms = _entry_terms(spec, quantity, index)
        first = first or (index, terms)
        if len(terms) or i >= tries:
            return (index, terms) if len(terms) else first
    return first


def _whole_case(story) -> bool:
    """Whether the explanation lists every entry of every quantity (no entries were asked)."""
    import math

    from ..model.spec import TENSOR_OF
    return all(len(section) == math.prod(story.spec.shape_of(TENSOR_OF[q])) for q, section in story.sections.items())


def explained_entries(story) -> tuple:
    """(the (quantity, entry) pairs a picture of ``story`` draws, a note on what it leaves out):
    the entries asked, in their order, at most ``MAX_PANELS``; for a whole small case, the first
    entry of y and of dk (of each quantity explained, where those are not)."""
    asked = [(q, row["entry"]) for q, section in story.sections.items() for row in section]
    if _whole_case(story):
        wanted = [q for q in ("forward", "filter_grad") if story.sections.get(q)] or \
            [q for q in story.sections if story.sections[q]]
        return [(q, story.sections[q][0]["entry"]) for q in wanted[:3]], ""
    if len(asked) <= MAX_PANELS:
        return asked, ""
    return asked[:MAX_PANELS], f"the first {MAX_PANELS} of the {len(asked)} entries asked are drawn"


def explanation_picture(story, path=None) -> Picture:
    """The entries explained (``explained_entries``), under the spec's convention and, beside it,
    under tf: the values of the tensor drawn in its cells (x for y and dk, g for dx)."""
    from ..model.spec import parse_entry
    readings = [story.model] + ([story.default_reading] if story.default_reading is not None else [])
    drawn, note = explained_entries(story)
    panels = []
    for reading in readings:
        spec = reading.spec
        for quantity, entry in drawn:
            row = next((r for r in reading.sections.get(quantity, []) if r["entry"] == entry), None)
            if row is None:
                panels.append((f"{entry} under {spec.convention}:\nnot an entry of this reading "
                               f"(output shape {'x'.join(map(str, spec.y_shape))})", None))
                continue
            _, index = parse_entry(spec, row["entry"])
            terms = _entry_terms(spec, quantity, index)
            tensor = drawn_tensor(quantity)
            values = story.tensors.get(tensor)
            found = entry_panels(spec, quantity, index, terms, values=values)[:1]
            if not found:
                panels.append((f"{row['entry']} under {spec.convention}: {row['value']}\nreads no entry of {tensor}",
                               None))
            for panel in found:
                panels.append((f"{row['entry']} under {spec.convention}: {row['value']}", panel))
    title = _spec_title(story.spec) + (f"\n{note}" if note else "")
    return draw(panels, title, rows=len(readings), path=path)


# ---- the founding bug ------------------------------------------------------------------------------

FOUNDING_X = [1, 2, 3, 4, 5, 6, 7, 8, 0]


def tensor_picture(tensor_answer, path=None) -> Picture:
    """The first entries' reads of a whole quantity, side by side."""
    return answers_picture(tensor_answer.answers, path)


def founding_picture(path=None) -> Picture:
    """The founding bug for someone who has never heard of it: TensorFlow's 2017 CPU forward
    (SAME read as Eigen did, legacy_eigen) and its filter gradient (SAME read as tf) on a 3x3
    image with a 1x1 kernel and stride 3 read different pixels."""
    from ..model.spec import ConvSpec
    forward = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    gradient = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="tf")
    x = np.array(FOUNDING_X).reshape(1, 3, 3, 1)
    panels = []
    for spec, quantity, words in ((forward, "forward", "forward y = conv2d(x, k=10)\nSAME read as Eigen did "
                                   "(legacy_eigen)\nreads the centre: y = 5 x 10 = 50"),
                                  (gradient, "filter_grad", "filter gradient dk (upstream g = 100)\nSAME read as "
                                   "TensorFlow does (tf)\nreads the corner: dk = 1 x 100 = 100")):
        terms = _entry_terms(spec, quantity, (0, 0, 0, 0))
        panels.append((words, entry_panels(spec, quantity, (0, 0, 0, 0), terms, values=x)[0]))
    title = ("TensorFlow 2017, conv2d on a 3x3 image, 1x1 kernel, stride 3, padding SAME:\n"
             "the gradient trains the kernel on a pixel the forward never read")
    return draw(panels, title, path=path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m symconv.show.plot", description="Draw symconv's pictures.")
    parser.add_argument("--founding", metavar="FILE.png", required=True,
                        help="write the founding bug's picture (forward and filter gradient side by side)")
    args = parser.parse_args(argv)
    try:
        founding_picture(args.founding)
    except SymconvError as err:
        print(f"symconv: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.founding}")
    return 0


# Each picture is the registered rendering of its result type (``display.Rendered.plot``).
for _cls, _function in ((Answer, answer_picture), (TensorAnswer, tensor_picture), (Readers, readers_picture),
                        (Explanation, explanation_picture)):
    renders("picture", _cls)(_function)

if __name__ == "__main__":
    sys.exit(main())
