"""Answers: the provenance of one entry (``Trace``) and the readers of one input entry
(``Readers``), with the face of every symconv answer: a text ``repr``, ``_repr_html_`` (a table),
``_repr_png_`` and ``plot(path=None)`` (a ``symconv.show.plot.Picture``), ``to_json()`` and
``save(path)`` (by the path's suffix).  The HTML and the picture are renderings registered for
these types (``symconv.network.notebook``, ``symconv.network.picture``), as ``display.Rendered``
finds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..display import Rendered
from ..errors import SymconvError
from . import affine as affine_mod
from . import compose
from .graph import DATA, Network

# The input window drawn as text only while it stays readable.
GRID_SIDE = 32
# Per-pixel path counts are listed in JSON up to this many pixels, and while they come to at
# most this many digits in all.
JSON_PIXELS = 20_000
JSON_DIGITS = 2_000_000
# Entries near the top compared exactly at a time.
CANDIDATE_CHUNK = 1 << 16
# What ``save`` writes, by the path's suffix.
SAVED = {".json": "JSON", ".txt": "text", ".png": "picture", ".svg": "picture", ".pdf": "picture",
         ".tex": "LaTeX derivation"}


def ranges_text(positions) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``0..2, 5, 7..8``."""
    positions = sorted(int(p) for p in positions)
    if not positions:
        return "none"
    parts, lo, prev = [], positions[0], positions[0]
    for p in positions[1:] + [None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        parts.append(f"{lo}..{prev}" if prev > lo else f"{lo}")
        if p is not None:
            lo = prev = p
    if len(parts) > 8:
        parts = parts[:4] + [f"... ({len(parts)} runs)"] + parts[-2:]
    return ", ".join(parts)


def ranges_json(positions) -> list:
    positions = sorted(int(p) for p in positions)
    runs, start = [], None
    for i, p in enumerate(positions):
        if start is None:
            start = p
        if i + 1 == len(positions) or positions[i + 1] != p + 1:
            runs.append([start, p])
            start = None
    return runs


def big(value) -> str:
    """An exact integer, readable: 12,345 or 1.234e+56 (exact digits in the JSON).  The digits
    shown are computed, not printed: a count may have more digits than Python prints.

    >>> big(12345), big(10**15), big(9**4000 * 7)
    ('12,345', '1.000e+15', '6.533e+3817')
    """
    value = int(value)
    if abs(value) < 10**15:
        return f"{value:,}"
    magnitude = abs(value)
    exponent = int((magnitude.bit_length() - 1) * 0.30102999566398120)   # floor(log10), or one less
    while 10 ** (exponent + 1) <= magnitude:
        exponent += 1
    lead = magnitude // 10 ** (exponent - 3)
    return f"{'-' if value < 0 else ''}{lead // 1000}.{lead % 1000:03d}e+{exponent}"


def digits(value) -> int:
    """About how many decimal digits an exact count has (from its bit length)."""
    return int(abs(int(value)).bit_length() * 0.30102999566398120) + 1


def dumps(obj) -> str:
    """JSON with exact integers of any size (Python refuses to print more than 4,300 digits by
    default; answers bound their digits with JSON_DIGITS and the network's limits)."""
    import sys
    previous = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
    if previous is None:
        return json.dumps(obj)
    sys.set_int_max_str_digits(0)
    try:
        return json.dumps(obj)
    finally:
        sys.set_int_max_str_digits(previous)


AXIS_WORDS = {1: ["positions"], 2: ["rows", "columns"], 3: ["depths", "rows", "columns"]}


def axis_word(ndim: int, i: int) -> str:
    words = AXIS_WORDS.get(ndim)
    return words[i] if words else f"axis {i}"


@dataclass
class AxisReport:
    """One spatial axis: the exact positions, the affine summary's window, how they differ."""

    axis: int
    word: str
    positions: np.ndarray
    size: int
    summary: object        # Affine or None
    window: tuple | None   # (first, last) by the summary
    differences: list

    def as_json(self) -> dict:
        out = {"axis": self.axis, "name": self.word, "positions": ranges_json(self.positions),
               "count": int(len(self.positions)), "differences": self.differences}
        if self.summary is not None:
            out["affine"] = {**self.summary.as_json(),
                             "window": [affine_mod._num(w) for w in self.window]}
        else:
            out["affine"] = None
        return out


def compare_axis(positions: np.ndarray, size: int, summary, o: int | None) -> tuple:
    """The summary's window for position o and the ways the exact positions differ from it."""
    if summary is None:
        return None, ["no affine summary: branches that meet have different strides"]
    window = summary.window(o if o is not None else 0)
    lo, hi = window
    diffs = []
    if not len(positions):
        return window, ["nothing is read on this axis"]
    first, last = int(positions[0]), int(positions[-1])
    if lo < 0:
        diffs.append(f"the window starts at {affine_mod._num(lo)}, before the input: the border clips "
                     f"{affine_mod._num(-lo)} position{'s' if -lo != 1 else ''}")
    if hi > size - 1:
        diffs.append(f"the window ends at {affine_mod._num(hi)}, past the input's last position {size - 1}: "
                     f"the border clips {affine_mod._num(hi - size + 1)}")
    inside_lo, inside_hi = max(lo, 0), min(hi, size - 1)
    if (first, last) != (inside_lo, inside_hi) and lo == int(lo):
        if first > inside_lo or last < inside_hi:
            diffs.append(f"the exact reads span {first}..{last}, narrower than the window's "
                         f"{affine_mod._num(inside_lo)}..{affine_mod._num(inside_hi)} inside the input")
        if first < inside_lo or last > inside_hi:
            diffs.append(f"the exact reads span {first}..{last}, beyond the window")
    gaps = (last - first + 1) - len(positions)
    if gaps:
        diffs.append(f"{gaps} position{'s' if gaps != 1 else ''} inside the span {'are' if gaps != 1 else 'is'} "
                     f"never read (gaps from strides or dilations)")
    return window, diffs


class _Answer(Rendered):
    """What Trace and Readers share: terms over one tensor and how to show them."""

    network: Network
    terms: list
    layer: str

    @property
    def at(self):
        raise NotImplementedError

    @cached_property
    def box(self) -> list:
        """Per axis (spatial..., channels) the half-open window that holds every entry read."""
        return compose.bounding_box(self.terms, self.at.shape.ndim)

    @cached_property
    def support(self) -> np.ndarray:
        """Boolean (spatial..., channels) over ``box``: which entries are reached."""
        return compose.support(self.terms, self.at.shape.spatial, self.at.shape.channels, self.box)

    @cached_property
    def counts(self) -> np.ndarray:
        """Exact path counts (Python ints) over ``box``, (spatial..., channels)."""
        return compose.dense(self.terms, self.at.shape.spatial, self.at.shape.channels, self.box)

    @cached_property
    def entry_count(self) -> int:
        return int(self.support.sum())

    @cached_property
    def paths(self) -> int:
        """Paths in all (the sum of the counts over every entry)."""
        return sum(t.total() for t in self.terms)

    @cached_property
    def axis_positions(self) -> list:
        """Per spatial axis, the positions read (the union of every term's)."""
        out = []
        for i in range(self.at.shape.ndim):
            pos = set()
            for t in self.terms:
                pos.update(t.axes[i].positions().tolist())
            out.append(np.array(sorted(pos), dtype=np.int64))
        return out

    @cached_property
    def channel_positions(self) -> np.ndarray:
        pos = set()
        for t in self.terms:
            pos.update(t.channels.positions().tolist())
        return np.array(sorted(pos), dtype=np.int64)

    @cached_property
    def ranked(self) -> tuple:
        """(values, exponent): path counts over ``box`` as float64 times 2**exponent, for shading
        and ranking at any size (exact values come from ``count_at``)."""
        return compose.scaled_dense(self.terms, self.at.shape.spatial, self.at.shape.channels, self.box)

    def count_at(self, position) -> object:
        """The exact path count at one (spatial..., c) position of the tensor."""
        return sum(t.value_at(position) for t in self.terms)

    def max_entry(self):
        """(count, (spatial..., c)) of the entry with the most paths, exactly: ranked in scaled
        float64; where float64 holds every count and partial sum exactly its first maximum is the
        answer, elsewhere every entry within rounding of the top is compared as an exact integer."""
        values, exponent = self.ranked
        flat = values.reshape(-1)
        if not flat.size or not flat.max() > 0:
            return 0, None
        lo = np.array([lo for lo, _ in self.box], dtype=np.int64)
        if not exponent and self.paths < 2**53:
            position = tuple(int(i) for i in np.unravel_index(int(np.argmax(flat)), values.shape) + lo)
            return self.count_at(position), position
        candidates = np.flatnonzero(flat >= flat.max() * (1 - 1e-9))
        best = None
        for start in range(0, len(candidates), CANDIDATE_CHUNK):
            positions = np.stack(np.unravel_index(candidates[start:start + CANDIDATE_CHUNK], values.shape), axis=1) + lo
            counts = compose.exact_at(self.terms, positions)
            i = max(range(len(counts)), key=counts.__getitem__)
            if best is None or counts[i] > best[0]:
                best = (counts[i], tuple(int(p) for p in positions[i]))
        return best

    def listable(self) -> bool:
        """Whether JSON lists every entry with its count (JSON_PIXELS, JSON_DIGITS)."""
        return self.entry_count <= JSON_PIXELS and self.entry_count * digits(self.max_entry()[0]) <= JSON_DIGITS

    def index_text(self, name: str, canon) -> str:
        user = self.network.user_index(self.at, (self.batch, *canon))
        return f"{name}[{','.join(map(str, user))}]"

    def box_text(self) -> str:
        """The window as a slice in the framework's layout: x[0, 0:11, 0:11, 0:3]."""
        parts = [f"{lo}:{hi}" for lo, hi in self.box]
        spatial, channel = parts[:-1], parts[-1]
        if self.network.channels_last or not spatial:
            shown = [str(self.batch), *spatial, channel]
        else:
            shown = [str(self.batch), channel, *spatial]
        return f"{self.at.name}[{', '.join(shown)}]"

    @property
    def data_dependent(self) -> list:
        """The layers on the way whose gradient the data decides (max pooling): there the answer
        counts every candidate, and the gradient reaches one of them."""
        return [n for n in self.network.ancestors(self.layer) if self.network.nodes[n].check == DATA]

    @cached_property
    def notes(self) -> list:
        """What each layer on the way adds to the answer (the data-dependent ones, fractions)."""
        out = []
        for name in self.network.ancestors(self.layer):
            for note in self.network.nodes[name].notes:
                out.append(f"{name}: {note}")
        return out

    def __repr__(self):
        return self.text()

    def json(self) -> str:
        return dumps(self.to_json())

    def plot(self, path=None, *, image=None, title=None):
        """A ``symconv.show.plot.Picture`` of the window read, shaded by path count, the
        data-dependent layers named (written to ``path`` when given, in the format its suffix
        names); ``image``: the input's values drawn underneath in grey."""
        from ..display import renderer
        return renderer("picture", self)(self, path=path, image=image, title=title)

    def picture(self, path, image=None, title=None):
        """Write the picture to ``path`` (``plot(path)``) and return the path."""
        self.plot(path, image=image, title=title)
        return path

    def _repr_png_(self) -> bytes | None:
        """The picture as PNG bytes for a notebook (None without matplotlib or nothing to draw)."""
        try:
            return self.plot().png()
        except SymconvError:
            return None

    def save(self, path) -> str:
        """Write the answer in the form the path's suffix names: ``.json`` (``to_json``), ``.txt``
        (the text), ``.png``/``.svg``/``.pdf`` (the picture) or ``.tex`` (a trace's LaTeX
        derivation); any other suffix is one SymconvError naming it."""
        import os

        from ..show import outputs
        field = "save path"
        path = outputs.check_path(path, field, "answer.json")
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix not in SAVED or (suffix == ".tex" and not isinstance(self, Trace)):
            kinds = [s for s in SAVED if s != ".tex" or isinstance(self, Trace)]
            got = repr(suffix) if suffix else "no suffix"
            raise SymconvError(f"{field} {outputs.shown(path)}: an answer is saved as {', '.join(kinds)}, chosen by "
                               f"the file's suffix; got {got}")
        if SAVED[suffix] == "picture":
            self.plot(path)
        elif suffix == ".json":
            outputs.write_text(path, self.json() + "\n", field)
        elif suffix == ".txt":
            outputs.write_text(path, self.text() + "\n", field)
        else:
            outputs.write_text(path, self.latex(), field)
        return str(path)

    def grid_lines(self) -> list:
        """The window drawn with '#' for positions read (any channel), when small and 1-D/2-D."""
        nd = self.at.shape.ndim
        if nd not in (1, 2) or not self.terms:
            return []
        spatial = self.support.any(axis=-1)
        if nd == 1:
            spatial = spatial[None, :]
        if max(spatial.shape) > GRID_SIDE:
            return []
        lo = [lo for lo, _ in self.box[:nd]]
        head = f"  {self.at.name} positions read (#), from ({', '.join(map(str, lo))}):"
        return [head] + ["    " + " ".join("#" if v else "." for v in row) for row in spatial]


@dataclass(repr=False)
class Trace(_Answer):
    """The exact provenance of one entry of a layer: which input entries it reads, by how
    many paths each, with the affine summary beside it.  Built by ``symconv.trace``."""

    network: Network
    layer: str
    index: tuple                 # the entry, in the framework's layout
    canon: tuple                 # (n, spatial..., c)
    terms: list                  # separable terms over the input

    @property
    def at(self):
        return self.network.input

    @property
    def node(self):
        return self.network.nodes[self.layer]

    @property
    def batch(self) -> int:
        return self.canon[0]

    @property
    def entry(self) -> str:
        return f"{self.layer}[{','.join(map(str, self.index))}]"

    @cached_property
    def summary(self) -> tuple:
        """Per spatial axis of the input, the affine summary of the path to this layer."""
        return affine_mod.summaries(self.network)[self.layer]

    @cached_property
    def axes(self) -> list:
        out = []
        node = self.node
        for i, positions in enumerate(self.axis_positions):
            summ = self.summary[i] if i < len(self.summary) else None
            o = self.canon[1 + i] if node.shape.spatial else None
            window, diffs = compare_axis(positions, self.at.shape.spatial[i], summ, o)
            out.append(AxisReport(i + 1, axis_word(self.at.shape.ndim, i), positions,
                                  self.at.shape.spatial[i], summ, window, diffs))
        return out

    def pixels(self):
        """(index in the framework's layout, path count) for every input entry read."""
        out = []
        for local in np.argwhere(self.support):
            canon = tuple(int(i + lo) for i, (lo, _) in zip(local, self.box))
            user = self.network.user_index(self.at, (self.batch, *canon))
            out.append((user, self.count_at(canon)))
        return out

    # ---- renderings -------------------------------------------------------------------------
    def text(self) -> str:
        net, node, inp = self.network, self.node, self.at
        shape = "x".join(map(str, net.user_shape(inp)))
        lines = [f"{self.entry}  ({node.detail or node.kind}) in {net.describe()}"]
        if not self.terms:
            lines.append(f"  reads nothing of {inp.name} (every path ends in padding)")
            return "\n".join(lines)
        lines.append(f"  reads {self.entry_count:,} of the {inp.shape.size:,} entries of {inp.name}[{self.batch}] "
                     f"({inp.name}: {shape}), all inside {self.box_text()}")
        top, where = self.max_entry()
        lines.append(f"  paths: {big(self.paths)} in all, at most {big(top)} to one entry "
                     f"({self.index_text(inp.name, where)})")
        for ax in self.axes:
            lines.append(f"  {ax.word}: {ranges_text(ax.positions)} ({len(ax.positions)} of {ax.size})")
            if ax.summary is not None:
                lo, hi = ax.window
                lines.append(f"    affine summary: {ax.summary.text()} -> window "
                             f"{affine_mod._num(lo)}..{affine_mod._num(hi)}")
            for d in ax.differences:
                lines.append(f"    differs: {d}")
        ch = self.channel_positions
        lines.append(f"  channels: {ranges_text(ch)} ({len(ch)} of {inp.shape.channels})")
        lines.extend(self.grid_lines())
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        out = {"layer": self.layer, "entry": list(self.index), "network": self.network.describe(),
               "input": self.at.name, "input_shape": list(self.network.user_shape(self.at)),
               "layout": "channels_last" if self.network.channels_last else "channels_first",
               "entries_read": self.entry_count, "paths": self.paths,
               "box": [[lo, hi] for lo, hi in self.box],
               "axes": [a.as_json() for a in self.axes],
               "channels": ranges_json(self.channel_positions),
               "terms": [_term_json(t) for t in self.terms],
               "notes": self.notes, "data_dependent": self.data_dependent}
        if self.listable():
            out["pixels"] = [{"index": list(i), "paths": c} for i, c in self.pixels()]
        return out

    def latex(self) -> str:
        """A standalone LaTeX derivation of the composed index map (short chains)."""
        from .derivation import document
        return document(self)


def _term_json(t) -> dict:
    def vec(v):
        return {"start": v.start, "values": [_plain(x) for x in v.values.tolist()]}
    return {"coef": _plain(t.coef), "axes": [vec(v) for v in t.axes], "channels": vec(t.channels)}


def _plain(x):
    from fractions import Fraction
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else str(x)
    return int(x)


@dataclass(repr=False)
class Readers(_Answer):
    """The entries of one layer that read one input entry, with the number of paths."""

    network: Network
    layer: str
    pixel: tuple                 # the input entry, framework layout
    canon: tuple
    terms: list

    @property
    def at(self):
        return self.network.nodes[self.layer]

    @property
    def batch(self) -> int:
        return self.canon[0]

    @property
    def source(self):
        return self.network.input

    @property
    def entry(self) -> str:
        return f"{self.source.name}[{','.join(map(str, self.pixel))}]"

    def entries(self):
        out = []
        for local in np.argwhere(self.support):
            canon = tuple(int(i + lo) for i, (lo, _) in zip(local, self.box))
            out.append((self.network.user_index(self.at, (self.batch, *canon)), self.count_at(canon)))
        return out

    def text(self) -> str:
        node = self.at
        shape = "x".join(map(str, self.network.user_shape(node)))
        lines = [f"{self.entry} is read by {self.entry_count:,} of the {node.shape.size:,} entries of "
                 f"{node.name} ({node.detail or node.kind}, {shape})"]
        if not self.terms:
            return lines[0].replace("read by 0 of", "read by none of")
        lines.append(f"  all inside {self.box_text()}; paths: {big(self.paths)} in all")
        for i, pos in enumerate(self.axis_positions):
            lines.append(f"  {axis_word(node.shape.ndim, i)}: {ranges_text(pos)} ({len(pos)} of "
                         f"{node.shape.spatial[i]})")
        ch = self.channel_positions
        lines.append(f"  channels: {ranges_text(ch)} ({len(ch)} of {node.shape.channels})")
        lines.extend(self.grid_lines())
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        out = {"pixel": list(self.pixel), "layer": self.layer, "entries_read_by": self.entry_count,
               "paths": self.paths, "box": [[lo, hi] for lo, hi in self.box],
               "axes": [{"positions": ranges_json(p)} for p in self.axis_positions],
               "channels": ranges_json(self.channel_positions),
               "terms": [_term_json(t) for t in self.terms], "notes": self.notes,
               "data_dependent": self.data_dependent}
        if self.listable():
            out["entries"] = [{"index": list(i), "paths": c} for i, c in self.entries()]
        return out
