"""The requested entries of a document: each one's closed form at the entry, its compact form,
its products and its value, each compared with the index maps before it is shown.

Values given on the command line are Python integers of any size: the products are summed
exactly, and the sum is compared with the index maps' evaluation (64-bit when no sum can
overflow) or, beyond that, with the loop reference's exact evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from .. import proof
from ..display import ShownMath
from ..errors import SymconvError
from ..model import reference, values
from ..model.indexmap import maps_for
from ..model.quantities import FACTORS, TENSOR_OF
from ..model.spec import ConvSpec, validate_entry
from ..proof import Term
from ..symbolic import expressions as symbolic
from .document import require
from .printing import SEP, display, term_pieces, terms_pieces

# An entry's products are listed one by one up to this many.
LIST_TERMS = 12
# Values beyond 64 bits are summed exactly by the loop reference up to this many products.
EXACT_PRODUCTS = 1_000_000
INT64_SAFE = 2**62


def free_values(result, quantity: str, index: tuple) -> dict:
    """The closed form's free symbols -> the entry's numbers (a channel written c*M + m or
    q*C + c splits into its two indices)."""
    closed = result.closed[quantity]
    values = {}
    for e, v in zip(closed.lhs.indices, index):
        values.update(result.geometry.split_index(e, v))
    return values


@dataclass(repr=False)
class EntryReading(ShownMath):
    """One requested entry under one spec: its products, closed forms and value."""

    spec: ConvSpec
    quantity: str
    index: tuple
    at_entry: tuple
    compact: sympy.Expr
    terms: dict
    value: int | None

    @property
    def name(self) -> str:
        return f"{TENSOR_OF[self.quantity]}[{','.join(map(str, self.index))}]"

    @property
    def tex_name(self) -> str:
        return f"\\mathit{{{TENSOR_OF[self.quantity]}}}_{{{','.join(map(str, self.index))}}}" \
            if len(TENSOR_OF[self.quantity]) > 1 else f"y_{{{','.join(map(str, self.index))}}}"

    def pixels(self) -> list:
        """The x entries the products read (or g's for dx)."""
        tensor = "g" if self.quantity == "input_grad" else "x"
        return sorted({idx for m in self.terms for name, idx in m if name == tensor})


def read_entry(spec: ConvSpec, result, quantity: str, index: tuple, tensors: dict | None) -> EntryReading:
    """Instantiate the derived closed form at one entry and check it against the index maps
    (product by product) and against ``symbolic.closed_form`` (the compact form shown)."""
    index = validate_entry(spec, quantity, index)
    closed = result.closed[quantity]
    values = free_values(result, quantity, index)
    at_entry = tuple(t.xreplace(values) for t in closed.terms)
    name = f"{TENSOR_OF[quantity]}[{','.join(map(str, index))}]"
    shapes = {t: spec.shape_of(t) for t in ("x", "k", "g")}
    mine = proof.compile_formula(proof.formula_expr(at_entry)).terms({}, shapes)
    actual = proof.actual_terms(maps_for(spec), quantity, index, True)
    require(f"closed form at {name}", mine == actual,
           f"the derived closed form gives {len(mine)} products, the index maps {len(actual)}")
    compact = symbolic.closed_form(spec, quantity, index)
    theirs = proof.compile_formula(compact).terms({}, shapes)
    require(f"compact form of {name}", theirs == actual,
           f"symbolic.closed_form gives {len(theirs)} products, the index maps {len(actual)}")
    value = None
    if tensors is not None:
        one, two = FACTORS[quantity]
        if tensors.get(one) is not None and tensors.get(two) is not None:
            value = proof.value_of(actual, tensors)
            direct, route = exact_evaluation(spec, quantity, tensors[one], tensors[two])
            require(f"value of {name}", value == int(direct[tuple(index)]),
                    f"the products sum to {value}, {route} gives {direct[tuple(index)]}")
    return EntryReading(spec, quantity, tuple(index), at_entry, compact, actual, value)


def exact_evaluation(spec: ConvSpec, quantity: str, first, second) -> tuple:
    """(the whole tensor, which route computed it): the index maps in 64-bit integers when no
    sum can overflow, else the loop reference in Python integers."""
    one, two = FACTORS[quantity]
    largest = lambda a: max((abs(int(v)) for v in np.asarray(a).reshape(-1)), default=0)
    bound = largest(first) * largest(second) * max(np.size(first), np.size(second))
    if bound < INT64_SAFE:
        arrays = {one: np.asarray(first, dtype=np.int64), two: np.asarray(second, dtype=np.int64)}
        return maps_for(spec).evaluate(quantity, **arrays), "the index maps' evaluation"
    if maps_for(spec).product_count() > EXACT_PRODUCTS:
        raise SymconvError(f"values this large are summed exactly by the loop reference only for convolutions of "
                           f"at most {EXACT_PRODUCTS} products; this one has {maps_for(spec).product_count()}: use "
                           f"smaller values or a smaller convolution")
    arrays = {one: np.asarray(first, dtype=object), two: np.asarray(second, dtype=object)}
    return reference.evaluate(spec, quantity, **arrays), "the loop reference's exact evaluation"


FACTOR_ORDER = {"g": 0, "x": 1, "k": 2}


def _monomial_tex(monomial, coefficient, tensors=None) -> tuple[str, str | None]:
    monomial = sorted(monomial, key=lambda f: FACTOR_ORDER.get(f[0], 3))
    factors = [f"{name}_{{{SEP.join(map(str, idx))}}}" for name, idx in monomial]
    tex = " ".join(factors) if coefficient == 1 else f"{coefficient}\\, " + " ".join(factors)
    if tensors is None:
        return tex, None
    nums = [str(int(tensors[name][idx])) for name, idx in monomial]
    num = " \\cdot ".join(f"({n})" if n.startswith("-") else n for n in nums)
    return tex, num if coefficient == 1 else f"{coefficient} \\cdot {num}"


def entry_tex_block(reading: EntryReading, tensors: dict | None) -> tuple[str, str]:
    """(display, check note) of one entry: closed form at the entry, compact form, products, value."""
    lhs = reading.tex_name
    rows = [terms_pieces(reading.at_entry)]
    compact = _sympy_sum_pieces(reading.compact)
    if compact != rows[0]:
        rows.append(compact)
    ordered = sorted(reading.terms.items())
    tensors = tensors if reading.value is not None else None  # numbers only where both factors are given
    if len(ordered) <= LIST_TERMS:
        pieces = [_monomial_tex(m, c, tensors) for m, c in ordered]
        listed = [p[0] if i == 0 else "+ " + p[0] for i, p in enumerate(pieces)] or ["0"]
        if " ".join(listed) not in (" ".join(r) for r in rows):
            rows.append(listed)
        if reading.value is not None:
            if pieces:
                rows.append([p[1] if i == 0 else "+ " + p[1] for i, p in enumerate(pieces)])
            rows.append(str(reading.value))
    elif reading.value is not None:
        rows.append(str(reading.value))
    note = (f"{reading.name}: the closed form at the entry and the compact form each give exactly the index maps' "
            f"{len(reading.terms)} products" + ("; the value equals an independent exact evaluation"
                                                if reading.value is not None else ""))
    return display(lhs, rows), note


def _sympy_sum_pieces(expr) -> list:
    """A ``symbolic.closed_form`` result (a Sum of a product, or a product) in this module's style."""
    if isinstance(expr, sympy.Sum):
        limits = tuple(expr.limits)
        body = expr.function
    else:
        limits, body = (), expr
    if body == 0:
        return ["0"]
    factors = sorted(sympy.Mul.make_args(body), key=lambda f: FACTOR_ORDER.get(str(getattr(f, "base", "")), 3))
    return term_pieces(Term(limits, (), tuple(factors)))




def tensor_values(spec: ConvSpec, tensor: str, text) -> np.ndarray | None:
    """``'1,2,3,...'`` (flat, row-major in the spec's layout) -> the tensor's exact values, as
    ``symconv.model.values.parse_values`` reads them (one value fills the tensor), integers only: int64
    when they fit, else Python integers; None stays None."""
    if text is None:
        return None
    array = values.parse_values(text, spec.shape_of(tensor), tensor)
    fraction = next((v for v in array.reshape(-1).tolist() if not isinstance(v, int)), None)
    if fraction is not None:
        raise SymconvError(f"{tensor} values in a derivation document must be integers, got {fraction}")
    return array
