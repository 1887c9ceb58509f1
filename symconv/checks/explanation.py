"""``explain``: the whole story of a small convolution, entry by entry.

Resolved pads, every entry of y, dk and dx as its explicit formula, their values for the given
tensors and, with a backend, the backend's numbers beside the model's.  When SAME is resolved
by a convention other than ``tf``, TensorFlow's reading is shown beside it: the founding
question is exactly the difference between the two.

Missing tensors get defaults: x counts 1, 2, 3, ... in row-major order of its layout (so that
a value names the pixel it came from), k and g are all ones.

>>> from symconv import ConvSpec
>>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
>>> story = explain(spec, x=[1, 2, 3, 4, 5, 6, 7, 8, 0], k=[10], g=[100])
>>> story.sections["forward"][0]
{'entry': 'y[0,0,0,0]', 'expression': 'k[0, 0, 0, 0]*x[0, 1, 1, 0]', 'value': 50}
>>> story.default_reading.sections["filter_grad"][0]["value"]
100
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Sequence

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from ..backends import Variant

from ..backends.base import Call
from ..display import Rendered
from ..errors import SymconvError, shorten, shown
from ..model import notation as render
from ..model import values
from ..model.conventions import DEFAULT
from ..model.indexmap import maps_for
from ..model.quantities import INPUTS, QUANTITIES, TENSOR_OF
from ..model.spec import ConvSpec, entry_name, parse_entry, require_nonempty, require_spec
from ..symbolic import expressions as symbolic
from ..symbolic import query, term_text

# Listing every entry is for small cases: beyond this, ask for entries (`--entry`).
ENTRY_LIMIT = 1000
# An entry with more products than this is written as its closed form (with its term count).
LISTED_TERMS = 1000
# Entries asked for may sum at most this many products in all.
ASKED_TERM_LIMIT = 200_000
# Tensors with more values than this are abbreviated in text and left out of JSON.
SHOWN_VALUES = 1000
LINE_WIDTH = 120
DEFAULTS = {"x": "1, 2, 3, ... (row-major)", "k": "all ones", "g": "all ones"}
# Tensor values: flat row-major text ('1,2,3'), a sequence or an array, one value filling all.
Values = str | ArrayLike | None
# A backend computes in float64: values it is given and results it must match stay within this.
FLOAT_EXACT = 2**53


def default_tensor(spec: ConvSpec, tensor: str) -> np.ndarray:
    shape = spec.shape_of(tensor)
    if tensor == "x":
        return np.arange(1, math.prod(shape) + 1, dtype=np.int64).reshape(shape)
    return np.ones(shape, dtype=np.int64)


def _plain(value):
    """A Python int, Fraction or float for one value of an array."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_safe(obj, notes: set):
    """``obj`` with every value strict JSON can hold: a non-finite float becomes null and a
    fraction the string 'p/q', each with a note in ``notes``."""
    if isinstance(obj, dict):
        return {key: json_safe(value, notes) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(value, notes) for value in obj]
    if isinstance(obj, (np.generic,)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        notes.add("non-finite numbers are written as null")
        return None
    if isinstance(obj, Fraction):
        notes.add("values that are not integers are written as exact fractions, as strings 'p/q'")
        return str(obj)
    return obj


@dataclass
class Reading:
    """Entries of y, dk and dx under one convention: formula and value (every entry, or the
    entries asked for).  ``indices`` and ``short`` (the formula as text shows it, at most
    ``query.TEXT_TERMS`` products) run parallel to ``sections``."""

    spec: ConvSpec
    sections: dict
    indices: dict = field(default_factory=dict)
    short: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"convention": self.spec.convention, "pads": [list(p) for p in self.spec.pads],
                "output_shape": list(self.spec.y_shape), **self.sections}


def reading(spec: ConvSpec, tensors: dict, entries=None) -> Reading:
    """Every entry's row, or (``entries``: (quantity, index) pairs) those entries' rows, each
    value summed exactly from the entry's own terms."""
    maps = maps_for(spec)
    out = Reading(spec, {})
    for quantity in QUANTITIES:
        if entries is None:
            wanted = list(render.all_indices(spec.shape_of(TENSOR_OF[quantity])))
            values = maps.evaluate(quantity, **{n: tensors[n] for n in INPUTS[quantity]})
        else:
            wanted, values = [index for q, index in entries if q == quantity], None
            if not wanted:
                continue
        rows, short = [], []
        for index in wanted:
            terms = maps.terms(quantity, index)
            value = values[index] if values is not None else _terms_value(terms, tensors)
            row = {"entry": entry_name(quantity, index), "expression": term_text.sympy_text(terms),
                   "value": _plain(value)}
            if len(terms) > LISTED_TERMS:
                row["expression"] = query.printed(symbolic.closed_form(spec, quantity, index))
                row["term_count"] = len(terms)
            rows.append(row)
            short.append(term_text.sympy_text(terms, query.TEXT_TERMS) if len(terms) > query.TEXT_TERMS
                         else row["expression"])
        out.sections[quantity], out.indices[quantity], out.short[quantity] = rows, wanted, short
    return out


def _terms_value(terms, tensors: dict):
    """The exact sum of an entry's products (Python integers or fractions)."""
    one, two = terms.factors
    a = tensors[one][tuple(terms.first.T)].tolist() if len(terms) else []
    b = tensors[two][tuple(terms.second.T)].tolist() if len(terms) else []
    coefs = [1] * len(terms) if terms.coefficients is None else terms.coefficients.tolist()
    return sum(int(c) * p * q for c, p, q in zip(coefs, a, b))


@dataclass
class Explanation(Rendered):
    spec: ConvSpec
    tensors: dict
    given: tuple
    model: Reading
    default_reading: Reading | None = None   # SAME under the default convention, beside another's
    backend: dict | None = None
    backend_rows: dict = field(default_factory=dict)

    @property
    def sections(self) -> dict:
        return self.model.sections

    def to_json(self) -> dict:
        """Strict JSON (no NaN or Infinity): see ``json_safe``; ``notes`` says what was rewritten."""
        out = {"spec": self.spec.describe(), "convention": self.spec.convention,
               "pads": [list(p) for p in self.spec.pads], "output_shape": list(self.spec.y_shape),
               "tensors": {n: [_plain(v) for v in a.reshape(-1)] if a.size <= SHOWN_VALUES else None
                           for n, a in self.tensors.items()},
               "defaults": {n: DEFAULTS[n] for n in self.tensors if n not in self.given},
               **self.model.sections}
        if self.default_reading is not None:
            out[f"{DEFAULT}_reading"] = self.default_reading.as_json()
        if self.backend is not None:
            out["backend"] = self.backend
        notes = set()
        if any(a.size > SHOWN_VALUES for a in self.tensors.values()):
            notes.add(f"tensors of more than {SHOWN_VALUES} values are not listed (null)")
        out = json_safe(out, notes)
        if notes:
            out["notes"] = sorted(notes)
        return out

    def text(self) -> str:
        lines = [render.spec_header(self.spec)]
        for name, array in self.tensors.items():
            note = "" if name in self.given else f"   (default: {DEFAULTS[name]})"
            flat = array.reshape(-1)
            if array.size > SHOWN_VALUES:
                shown_values = ", ".join(str(_plain(v)) for v in flat[:8]) + f", ..., {_plain(flat[-1])}"
                note = f"  ({array.size} values, shape {'x'.join(map(str, array.shape))})" + note
            else:
                shown_values = ", ".join(str(_plain(v)) for v in flat)
            lines.append(f"{name} = [{shown_values}]{note}")
        default = self.default_reading
        side = default is not None and default.spec.y_shape == self.spec.y_shape
        if default is not None:
            own = ", ".join(f"{b}:{a}" for b, a in self.spec.pads)
            pads = ", ".join(f"{b}:{a}" for b, a in default.spec.pads)
            lines.append(f"each entry under {self.spec.convention} (pads {own}); beside it, the {DEFAULT} reading of "
                         f"SAME (pads {pads}), as TensorFlow resolves SAME today")
        for quantity in self.sections:
            lines.append(f"{quantity} ({TENSOR_OF[quantity]}):")
            default_rows = default.sections.get(quantity) if side else None
            default_short = default.short.get(quantity) if side else None
            width = max(len(r["entry"]) for r in self.sections[quantity]) if self.sections[quantity] else 0
            for i, row in enumerate(self.sections[quantity]):
                parts = [f"  {row['entry']:<{width}} = {_formula_value(row, self.model.short[quantity][i])}"]
                if default_rows is not None and len(default_rows) == len(self.sections[quantity]):
                    parts.append(f"{DEFAULT}: {_formula_value(default_rows[i], default_short[i])}")
                for _, seen, agrees in self.backend_rows.get(quantity, []):
                    parts.append(f"backend: {seen[i]}" + ("" if agrees[i] else "  DIFFERS"))
                joined = "    | ".join(parts)
                lines.append(joined if len(joined) <= LINE_WIDTH else
                             "\n".join([parts[0]] + [f"  {'':<{width}}   {p}" for p in parts[1:]]))
        if default is not None and not side:
            lines.append(f"the {DEFAULT} reading (output shape {'x'.join(map(str, default.spec.y_shape))}):")
            for quantity, rows in default.sections.items():
                lines.extend(f"  {r['entry']} = {_formula_value(r, short)}"
                             for r, short in zip(rows, default.short[quantity]))
        if self.backend is not None:
            lines.append(f"backend {self.backend['name']}:")
            for result in self.backend["results"]:
                verdict = {True: "agrees with the model", False: "DIFFERS from the model", None: ""}[result["agrees"]]
                lines.append(f"  {result['quantity']:<12} {result['status']:<8} {result['path']}  {verdict}"
                             + (f"  {result['message']}" if result["message"] else ""))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()



def _size_guard(spec: ConvSpec) -> None:
    require_nonempty(spec)
    entries = sum(math.prod(spec.shape_of(t)) for t in ("y", "k", "x"))
    products = maps_for(spec).product_count()
    if entries > ENTRY_LIMIT or products > query.BARE_TERM_LIMIT:
        raise SymconvError(
            f"explain lists every entry, and this {spec.op} has {entries} entries and {products} products "
            f"(limits {ENTRY_LIMIT} and {query.BARE_TERM_LIMIT}): ask for the entries you want, e.g. "
            f"--entry 'y[{','.join('0' * len(spec.y_shape))}]' (entries= from Python)")


def asked_entries(spec: ConvSpec, entries) -> list:
    """``['y[0,0,0,0]', 'dk[...]', ...]`` -> (quantity, index) pairs, within the limits."""
    if isinstance(entries, str):
        entries = [entries]
    try:
        entries = list(itertools.islice(iter(entries), ENTRY_LIMIT + 1))
    except TypeError:
        raise SymconvError(f"entries must be a list of entries like 'y[0,0,0,0]', got {shown(entries)}") from None
    if not entries or len(entries) > ENTRY_LIMIT:
        raise SymconvError(f"entries must name 1 to {ENTRY_LIMIT} entries, got {len(entries)}{'+' * (len(entries) > ENTRY_LIMIT)}")
    pairs = []
    for text in entries:
        quantity, index = parse_entry(spec, text)
        if index is None:
            raise SymconvError(f"entries must name single entries like {text.strip()}[0,...], got {shown(text)}")
        if (quantity, index) not in pairs:
            pairs.append((quantity, index))
    maps = maps_for(spec)
    total = sum(maps.count(q, i) for q, i in pairs)
    if total > ASKED_TERM_LIMIT:
        raise SymconvError(f"the entries asked for sum {total} products in all, more than {ASKED_TERM_LIMIT}: "
                           f"ask for fewer (symconv which --entry shows one entry by its closed form)")
    return pairs


def _formula_value(row, short: str | None = None) -> str:
    """'x*k = 50', or just '0' for an entry that no product reaches."""
    shown_formula = short if short is not None else row["expression"]
    return f"{shown_formula} = {row['value']}" if row["expression"] != "0" else "0"


def explain(spec: ConvSpec, x: Values = None, k: Values = None, g: Values = None, *,
            entries: str | Sequence[str] | None = None, backend: str | None = None, impl: str | None = None,
            variant: Variant | None = None, grad_path: str = "raw", isolate: bool = False,
            timeout: float | None = None, runner=None) -> Explanation:
    """Every entry's formula and value for the given tensors (flat row-major values or
    arrays; defaults as in the module notes), the tf reading beside another convention's,
    and a backend's numbers when a backend or impl file is given.  ``entries`` (e.g.
    ``['y[0,0,0,0]', 'dk[0,0,1,5]']``) explains those entries only, of a layer of any size."""
    require_spec(spec)
    values.timeout_seconds(timeout)  # refused even where no backend runs
    if entries is None:
        _size_guard(spec)
    else:
        entries = asked_entries(spec, entries)
    given = {n: v for n, v in (("x", x), ("k", k), ("g", g)) if v is not None}
    tensors = {n: values.parse_values(given[n], spec.shape_of(n), n) if n in given else default_tensor(spec, n)
               for n in ("x", "k", "g")}
    story = Explanation(spec, tensors, tuple(given), reading(spec, tensors, entries))
    if spec.padding == "SAME" and spec.convention != DEFAULT:
        default_spec = replace(spec, convention=DEFAULT)
        default_tensors = dict(tensors)
        if default_spec.y_shape != spec.y_shape:  # g has y's shape: refill it for the default reading
            try:
                default_tensors["g"] = values.parse_values(given["g"], default_spec.y_shape, "g")
            except (KeyError, SymconvError):
                default_tensors["g"] = default_tensor(default_spec, "g")
        default_entries = None if entries is None else [(q, i) for q, i in entries if _fits(default_spec, q, i)]
        story.default_reading = reading(default_spec, default_tensors, default_entries)
    if backend is not None or impl is not None or runner is not None:
        _run_backend(story, backend, impl, variant, grad_path, isolate, timeout, runner)
    return story


def _fits(spec: ConvSpec, quantity: str, index) -> bool:
    return all(0 <= i < n for i, n in zip(index, spec.shape_of(TENSOR_OF[quantity])))


def _float_exact(story) -> None:
    """A backend is given float64 tensors and compared exactly: refuse values it cannot hold."""
    readings = [story.model] + ([story.default_reading] if story.default_reading is not None else [])
    numbers = [v for a in story.tensors.values() for v in a.reshape(-1).tolist()]
    numbers += [row["value"] for r in readings for rows in r.sections.values() for row in rows]
    for number in numbers:
        if abs(number) > FLOAT_EXACT or (isinstance(number, Fraction) and float(number) != number):
            raise SymconvError(
                f"with a backend, every value and every exact result must be exact in float64 (integers up to "
                f"2**53, fractions with a power-of-two denominator), got {shorten(str(number), 60)}: "
                f"use smaller values, or leave out --backend/--impl to see the exact model alone")


def _run_backend(story, backend, impl, variant, grad_path, isolate, timeout, runner) -> None:
    from ..backends.runner import require_runner, runner_for
    from .reports import backend_label, variant_of
    if runner is not None:
        require_runner(runner, timeout)
    _float_exact(story)
    spec = story.spec
    results = []
    with runner_for(runner, backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                    timeout=timeout) as runner:
        for quantity in story.sections:
            for path in runner.backend.paths(spec, quantity):
                results.append(_backend_result(runner, spec, quantity, path, story))
    story.backend = {"name": backend_label(runner),
                     "variant": None if variant_of(runner) is None else variant_of(runner).as_json(),
                     "results": results}


def _backend_result(runner, spec, quantity, path, story) -> dict:
    result = {"quantity": quantity, "path": runner.backend.describe(spec, quantity, path), "status": "ok",
              "message": "", "values": None, "agrees": None}
    reason = runner.skip_reason(spec, quantity, path)
    if reason:
        result.update(status="skipped", message=reason)
        return result
    inputs = {n: story.tensors[n].astype(np.float64) for n in INPUTS[quantity]}
    outcome = runner.run([Call(spec, quantity, path, inputs)])[0]
    if outcome.status != "ok":
        what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
        status = outcome.status if outcome.status in ("skipped", "unsupported") else "error"
        result.update(status=status, message=what)
        return result
    want = spec.shape_of(TENSOR_OF[quantity])
    if outcome.value.shape != tuple(want):
        result.update(status="mismatch", message=f"wrong output shape: expected {tuple(want)}, got "
                                                 f"{outcome.value.shape}", agrees=False)
        return result
    values = np.asarray(outcome.value, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        first = tuple(int(i) for i in bad[0])
        result.update(status="error", message=f"{len(bad)} non-finite value{'s' if len(bad) > 1 else ''} (NaN or "
                                              f"Inf), e.g. {entry_name(quantity, first)} = {values[first]}")
        return result
    read = [values[index] for index in story.model.indices.get(quantity, [])]
    observed = [_plain(float(v)) for v in read]
    # Exact: each float64 value as the rational it is, against the model's exact integer or fraction.
    agrees = [Fraction(float(v)) == Fraction(row["value"]) for v, row in zip(read, story.sections.get(quantity, []))]
    result.update(values=observed, agrees=all(agrees))
    story.backend_rows.setdefault(quantity, []).append((result["path"], observed, agrees))
    return result
