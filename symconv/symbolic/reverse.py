"""The reverse question: which entries of y, dk and dx read one entry of x, k or g?

"A pixel of my image is suspect: which outputs does it reach?"  Every product of a convolution
is one triple g[i] * x[j] * k[l] of L = sum(g * y), and each quantity sums the triples over the
other two factors: y[i] = sum x[j] k[l], dk[l] = sum g[i] x[j], dx[j] = sum g[i] k[l].  So the
y entries that read x[j] are the g entries of dx[j]'s terms (each through the k entry beside it),
and the dk entries that x[j] feeds are the k entries of the same terms (each times its g entry).
Every answer is the term list of one *dual* entry, built from the per-axis index maps like any
other (``AxisMap.readers``, ``output_positions``), never from a dense map:

=========  ==========  ========================================
entry of   dual entry  it feeds
=========  ==========  ========================================
x[j]       dx[j]       y (through k), dk (times g)
k[l]       dk[l]       y (times x), dx (times g)
g[i]       y[i]        dk (times x), dx (times k)
=========  ==========  ========================================

>>> from symconv import ConvSpec
>>> spec = ConvSpec("conv2d", "1x5x5x1", "3x3x1x1", strides=2, padding="SAME")
>>> r = readers(spec, "x[0,1,1,0]")
>>> r.counts()
{'forward': 4, 'filter_grad': 4}
>>> r.feeds[0].listed()[:2]
[((0, 0, 0, 0), (2, 2, 0, 0)), ((0, 0, 1, 0), (2, 0, 0, 0))]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy

from ..display import Rendered
from ..errors import SymconvError, shown
from ..model import notation as render
from ..model.spec import FACTORS, TENSOR_OF, ConvSpec, int_text, require_spec, validate_entry
from .answers import Answer

# entry's tensor -> (its dual quantity, [(quantity fed, the dual's factor that names the fed entry)])
DUALS = {"x": ("input_grad", [("forward", "g"), ("filter_grad", "k")]),
         "k": ("filter_grad", [("forward", "g"), ("input_grad", "x")]),
         "g": ("forward", [("filter_grad", "k"), ("input_grad", "x")])}
# The tensor whose index space an entry of each quantity shares.
INDEXED_LIKE = {"forward": "g", "filter_grad": "k", "input_grad": "x"}
VERBS = {"forward": "read it", "filter_grad": "use it", "input_grad": "use it"}
# Text lists at most this many entries fed per quantity.
SHOWN_ENTRIES = 6


def parse_read(spec: ConvSpec, text) -> tuple:
    """``'x[0,5,5,0]'`` -> ('x', (0, 5, 5, 0)), checked against the spec's shapes."""
    m = re.fullmatch(r"\s*(x|k|g)\s*\[([^\]]*)\]\s*", text) if isinstance(text, str) else None
    if not m:
        raise SymconvError(f"reads must name one entry of x, k or g, like x[0,5,5,0], k[0,0,0,0] or g[0,1,1,0], "
                           f"got {shown(text)}")
    items = [p.strip() for p in m.group(2).split(",")]
    if not all(re.fullmatch(r"[-+]?\d+", p) for p in items):
        raise SymconvError(f"reads indices must be integers, got {shown(text)}")
    tensor = m.group(1)
    index = tuple(int_text(p, "reads index") for p in items)
    shape = spec.shape_of(tensor)
    if len(index) != len(shape):
        raise SymconvError(f"reads {tensor}{list(index)} must have {len(shape)} indices for shape {shape}")
    if any(not 0 <= i < n for i, n in zip(index, shape)):
        raise SymconvError(f"reads {tensor}{list(index)} is out of range for shape {shape}")
    return tensor, validate_entry(spec, DUALS[tensor][0], index)


@dataclass
class Feeds:
    """The entries of one quantity that read (or use) the entry, each with its partner factor."""

    quantity: str
    dual: Answer
    factor: str                  # the dual's factor whose indices name the fed entries

    @property
    def tensor(self) -> str:
        return TENSOR_OF[self.quantity]

    @property
    def grid_tensor(self) -> str:
        """The tensor whose shape the fed entries share (g for y, k for dk, x for dx)."""
        return INDEXED_LIKE[self.quantity]

    @property
    def partner(self) -> str:
        one, two = self.dual_factors
        return two if self.factor == one else one

    @property
    def dual_factors(self) -> tuple:
        return FACTORS[self.dual.quantity]

    @property
    def count(self) -> int:
        """How many products tie the entry to this quantity (one per entry fed, see the module notes)."""
        return self.dual.term_count

    def _columns(self):
        terms = self.dual.terms
        one, _ = terms.factors
        fed, partner = (terms.first, terms.second) if self.factor == one else (terms.second, terms.first)
        return fed, partner

    def listed(self, limit: int | None = None) -> list | None:
        """(fed entry, partner entry) index pairs, ordered by the fed entry (None: too many to list)."""
        if not self.dual.listed:
            return None
        fed, partner = self._columns()
        order = np.lexsort(fed.T[::-1]) if len(fed) else np.arange(0)
        order = order[:limit] if limit is not None else order
        return [(tuple(f), tuple(p)) for f, p in zip(fed[order].tolist(), partner[order].tolist())]

    def fed_indices(self) -> np.ndarray:
        return self._columns()[0]

    @cached_property
    def closed_text(self) -> str:
        """The fed entries as ranges, from the dual's closed form: 'y[0, 2 - a, ...] through k[a, ...]
        for a in 0..2, ...'."""
        closed = self.dual.closed_form
        body, limits = (closed.function, closed.limits) if isinstance(closed, sympy.Sum) else (closed, ())
        if body == 0:
            return "none"
        parts = {}
        for factor in body.atoms(sympy.Indexed):
            parts[str(factor.base)] = ", ".join(sympy.sstr(i, order="none") for i in factor.indices)
        text = f"{self.tensor}[{parts[self.factor]}] {self.link} {self.partner}[{parts[self.partner]}]"
        if limits:
            text += " for " + ", ".join(f"{s} in {lo}..{hi}" for s, lo, hi in limits)
        return text

    @property
    def link(self) -> str:
        return "through" if self.partner == "k" else "times"

    def as_json(self) -> dict:
        pairs = self.listed()
        return {"quantity": self.quantity, "tensor": self.tensor, "count": self.count, "closed_form": self.closed_text,
                "entries": None if pairs is None else [{self.tensor: list(f), self.partner: list(p)} for f, p in pairs]}

    def lines(self, grids: bool = True) -> list:
        head = f"  {self.tensor}: {self.count} entr{'y' if self.count == 1 else 'ies'} {VERBS[self.quantity]}"
        if not self.count:
            return [head]
        lines = [f"{head}: {self.closed_text}"]
        pairs = self.listed(SHOWN_ENTRIES)
        if pairs is not None:
            shown_pairs = ", ".join(f"{render.index_text(self.tensor, f)} ({self.link} {render.index_text(self.partner, p)})"
                                    for f, p in pairs)
            more = f", ... ({self.count} entries)" if self.count > len(pairs) else ""
            lines.append(f"    {shown_pairs}{more}")
            if grids:
                drawn = render.grid(self.dual.spec, self.grid_tensor, self.fed_indices(), name=self.tensor)
                if drawn:
                    lines.append(f"  {self.tensor} entries that {VERBS[self.quantity]} (#):")
                    lines.extend(drawn)
        return lines


@dataclass
class Readers(Rendered):
    """Which entries of y, dk and dx read one entry of x, k or g (see the module notes)."""

    spec: ConvSpec
    tensor: str
    index: tuple

    @property
    def entry(self) -> str:
        return render.index_text(self.tensor, self.index)

    @cached_property
    def dual(self) -> Answer:
        return Answer(self.spec, DUALS[self.tensor][0], self.index)

    @cached_property
    def feeds(self) -> list:
        return [Feeds(quantity, self.dual, factor) for quantity, factor in DUALS[self.tensor][1]]

    def counts(self) -> dict:
        """Quantity -> how many of its entries read the entry."""
        return {f.quantity: f.count for f in self.feeds}

    def to_json(self) -> dict:
        return {"reads": self.entry, "dual": self.dual.entry, "feeds": [f.as_json() for f in self.feeds],
                "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape)}

    def text(self, grids: bool = True) -> str:
        summary = " and ".join(f"{f.count} entr{'y' if f.count == 1 else 'ies'} of {f.tensor}" for f in self.feeds)
        lines = [f"{self.entry} feeds {summary} (the terms of {self.dual.entry})"]
        for feed in self.feeds:
            lines.extend(feed.lines(grids))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()


def readers(spec: ConvSpec, entry: str) -> Readers:
    """Which entries of y, dk and dx read ``entry`` (``'x[...]'``, ``'k[...]'`` or ``'g[...]'``)."""
    require_spec(spec)
    tensor, index = parse_read(spec, entry)
    answer = Readers(spec, tensor, index)
    answer.dual.term_count  # noqa: B018  validates the request now, not when first printed
    return answer

