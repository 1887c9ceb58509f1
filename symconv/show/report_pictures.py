"""Pictures of reports: a check's wrong entries (both factors of each, the model's cells and the
implementation's), and the pads an infer read, each against the model's.

Registered (``symconv.display.renders``) as the pictures of ``CheckReport`` and ``InferReport``
(their ``plot()``), drawn with ``symconv.show.plot``'s panels and ``draw``.
"""

from __future__ import annotations

import numpy as np

from ..checks.reports import CheckReport, InferReport
from ..display import renders
from ..model import window
from ..model.window import BACKEND_ONLY, MODEL_ONLY, PADDING_TAP, READ
from .plot import (Picture, _drawn_rows, _first_entry_with_terms, _only_slot, _pads_drawn, _reads, _spec_title, draw,
                   drawn_tensor, entry_panels, padding_taps, render_index)

# The other factor of each quantity's products, drawn beside the drawn tensor in a check.
OTHER_FACTOR = {"forward": "k", "filter_grad": "g", "input_grad": "k"}
# Mismatches looked at per quantity, and distinct patterns drawn (two panels each).
MISMATCHES_LOOKED_AT = 16
PATTERNS_DRAWN = 2
CHECK_NAMES = {READ: "read by both", MODEL_ONLY: "the model's term only", BACKEND_ONLY: "the implementation's only"}


def _factor_rows(terms, tensor: str) -> np.ndarray:
    one, two = terms.factors
    return terms.first if one == tensor else terms.second


def _compare_marks(model: np.ndarray, seen: np.ndarray) -> dict:
    model_set = {tuple(r) for r in model.tolist()}
    seen_set = {tuple(r) for r in seen.tolist()}
    marks = {READ: sorted(model_set & seen_set), MODEL_ONLY: sorted(model_set - seen_set),
             BACKEND_ONLY: sorted(seen_set - model_set)}
    return {code: rows for code, rows in marks.items() if len(rows)}


def _cells_said(model: np.ndarray, seen: np.ndarray, tensor: str) -> str:
    """'the model x[0,0,0,0], the backend x[0,1,0,0]' (one cell each), or counts."""
    model_set = {tuple(r) for r in model.tolist()}
    seen_set = {tuple(r) for r in seen.tolist()}
    if model_set == seen_set:
        one = next(iter(model_set)) if len(model_set) == 1 else None
        return f"both read {render_index(tensor, one)}" if one else f"both read the same {len(model_set)} cells"
    if len(model_set) == 1 and len(seen_set) == 1:
        return (f"model {render_index(tensor, next(iter(model_set)))}, "
                f"backend {render_index(tensor, next(iter(seen_set)))}")
    return (f"{len(model_set & seen_set)} cells both, {len(model_set - seen_set)} model only, "
            f"{len(seen_set - model_set)} backend only")


def mismatch_marks(spec, quantity: str, mismatch) -> list | None:
    """(tensor, marks, pads) for each factor of the wrong entry's products: the drawn tensor
    (x, or g for dx) and the other factor (k, or g for dk), each with the cells the model's terms
    read, the cells the implementation's read, and the cells both read; None where the terms were
    not recovered."""
    if mismatch.expected is None or mismatch.observed is None:
        return None
    expected = _only_slot(mismatch.expected, mismatch.only_slot)
    out = []
    for tensor in (drawn_tensor(quantity), OTHER_FACTOR[quantity]):
        model, seen = _factor_rows(expected, tensor), _factor_rows(mismatch.observed, tensor)
        marks = _compare_marks(model, seen)
        pads = None
        if tensor == drawn_tensor(quantity):
            taps = padding_taps(spec, quantity, mismatch.index, model)
            if taps is not None:
                marks = {PADDING_TAP: taps, **marks}
            pads = _pads_drawn(spec, quantity)
        out.append((tensor, marks, pads, _cells_said(model, seen, tensor)))
    return out


def _pattern(spec, factors) -> tuple:
    """What a wrong entry's panels look like, whatever their slice (batch, channels): entries
    with the same pattern are drawn as one pair of panels."""
    key = []
    for tensor, marks, pads, _ in factors:
        found = window.panels(spec, tensor, marks, pads)
        key.append(tuple((p.rows, p.cols, p.cells.tobytes()) for p in found[:1]))
    return tuple(key)


def _entries_said(entries: list) -> str:
    if len(entries) <= 2:
        return " and ".join(entries)
    return f"{entries[0]} and {len(entries) - 1} more alike"


def mismatch_panels(spec, result) -> list:
    """(title, Panel) pairs for a quantity's wrong entries: per distinct pattern (at most
    ``PATTERNS_DRAWN``), the drawn tensor's panel and the other factor's, the model's cells in one
    colour and the implementation's in another."""
    groups: dict = {}
    for mismatch in result.mismatches[:MISMATCHES_LOOKED_AT]:
        factors = mismatch_marks(spec, result.quantity, mismatch)
        if factors is None:
            continue
        groups.setdefault(_pattern(spec, factors), []).append((mismatch, factors))
    panels = []
    for members in list(groups.values())[:PATTERNS_DRAWN]:
        first, factors = members[0]
        lit = "" if first.only_slot is None else f"\nwith {render_index(*first.only_slot)} alone lit"
        head = f"{result.quantity} {_entries_said([m.entry for m, _ in members])}: {result.status.upper()}{lit}"
        for i, (tensor, marks, pads, said) in enumerate(factors):
            merged: dict = {}
            for _, member in members:
                for code, rows in member[i][1].items():
                    merged.setdefault(code, []).append(np.asarray(rows, dtype=np.int64).reshape(-1, len(
                        spec.shape_of(tensor))))
            merged = {code: np.concatenate(rows) for code, rows in merged.items()}
            for panel in window.panels(spec, tensor, merged, pads)[:1]:
                panels.append((f"{head}\n{tensor}: {said}" if i == 0 else f"{tensor}: {said}", panel))
    return panels


def check_picture(report, path=None) -> Picture:
    """One row per quantity.  A wrong quantity: for each distinct pattern of its wrong entries
    (at most two), the input pixels (x; g for dx) and the other factor's cells (the kernel tap;
    g for dk) that the model's terms and the implementation's read; an agreeing quantity's
    first entry as the model reads it; otherwise what happened."""
    spec = report.spec
    rows = []
    for result in report.results:
        head = f"{result.quantity}: {result.status}"
        row = mismatch_panels(spec, result)
        if not row and result.status == "ok":
            index, terms = _first_entry_with_terms(spec, result.quantity)
            from ..model.spec import entry_name
            for panel in entry_panels(spec, result.quantity, index, terms)[:1]:
                row.append((f"{head}: {entry_name(result.quantity, index)} {_reads(terms, result.quantity)}", panel))
        if not row:
            row.append((f"{head}\n{result.message}", None))
        rows.append(row)
    columns = max(len(row) for row in rows)
    panels = [cell for row in rows for cell in row + [("", None)] * (columns - len(row))]
    return draw(panels, f"check {report.backend}: {report.status}\n{_spec_title(spec)}", rows=len(rows), path=path,
                names=CHECK_NAMES)


def _entry_that_differs(spec, other, quantity, tries: int = 256):
    """(index, the model's terms, ``other``'s terms) of the first entry whose terms differ (within
    ``tries`` entries), else of the first entry with terms."""
    from ..model.indexmap import maps_for
    from ..model.notation import all_indices
    from ..model.spec import TENSOR_OF
    first = None
    mine, theirs = maps_for(spec), maps_for(other)
    for i, index in enumerate(all_indices(spec.shape_of(TENSOR_OF[quantity]))):
        expected, observed = mine.terms(quantity, index), theirs.terms(quantity, index)
        if first is None and len(expected):
            first = (index, expected, observed)
        if {tuple(r) for r in _drawn_rows(expected, quantity).tolist()} != \
                {tuple(r) for r in _drawn_rows(observed, quantity).tolist()} or i >= tries:
            return (index, expected, observed) if i < tries else first or (index, expected, observed)
    return first


def infer_picture(report, path=None) -> Picture:
    """Per quantity read, one entry (the first whose reads differ, where the pads read are not
    the model's) with the cells the model reads and the cells the pads read make it read; a
    quantity not read is said in words."""
    from ..checks.reports import pads_text
    from ..diagnose.diagnosis import with_geometry
    from ..model.spec import entry_name
    spec = report.spec
    panels = []
    for name, q in report.quantities.items():
        if q.pads is None or any(p is None for p in q.pads):
            panels.append((f"{name}: {q.status}\n{q.why_unread()}", None))
            continue
        other = with_geometry(spec, befores=[p[0] for p in q.pads])
        if other is None:
            panels.append((f"{name}: pads {pads_text(q.pads)}\ndo not fit the output size", None))
            continue
        index, expected, observed = _entry_that_differs(spec, other, name)
        conventions = ", ".join(q.conventions) or "no registered convention"
        for panel in entry_panels(spec, name, index, expected, compare=observed)[:1]:
            panels.append((f"{name} {entry_name(name, index)}: pads {pads_text(q.pads)}\n({conventions}); "
                           f"the model's {pads_text(spec.pads)}", panel))
    return draw(panels, f"infer {report.backend}: {report.status}\n{_spec_title(spec)}", path=path, names=CHECK_NAMES)


renders("picture", CheckReport)(check_picture)
renders("picture", InferReport)(infer_picture)
