"""The vocabulary: the three quantities, the tensors, and the part each tensor plays.

A quantity is named two ways (``y``/``forward``, ``dk``/``filter_grad``, ``dx``/``input_grad``)
and each of its entries is a sum of products of two *factors*.  Every op is one *direct*
convolution (see ``symconv.spec``) from its ``direct_input`` (the padded side) to its
``direct_output``, through the ``kernel``: a convolution reads x and writes y; a transposed
convolution is the input gradient of the direct convolution with the same kernel, so there y
is the direct input and x the direct output.  That table, ``DIRECT_ROLES``, is the one place
where the op kinds differ below the spec.

>>> QUANTITY["filter_grad"].factors, QUANTITY["filter_grad"].shaped_like
(('g', 'x'), 'k')
>>> as_quantity("dk"), as_quantity("input_grad")
('filter_grad', 'input_grad')
>>> DIRECT_ROLES["transpose"]["x"], DIRECT_ROLES["conv"]["x"]
('direct_output', 'direct_input')
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import SymconvError, shown


class Quantity(NamedTuple):
    name: str            # forward, filter_grad or input_grad
    tensor: str          # the tensor that holds it, as its entries are written: y, dk or dx
    shaped_like: str     # the tensor whose shape and layout it has: y, k or x
    factors: tuple       # the two tensors each term multiplies, in the order terms list them
    inputs: tuple        # the tensors a backend receives to compute it, in that order
    words: str           # how a sentence names it


QUANTITY = {q.name: q for q in (
    Quantity("forward", "y", "y", ("x", "k"), ("x", "k"), "the forward (y)"),
    Quantity("filter_grad", "dk", "k", ("g", "x"), ("x", "g"), "the filter gradient (dk)"),
    Quantity("input_grad", "dx", "x", ("g", "k"), ("k", "g"), "the input gradient (dx)"),
)}
QUANTITIES = tuple(QUANTITY)
# Tensor names (y, dk, dx) and quantity names, both ways; each quantity's factors and inputs.
TENSOR_OF = {q.name: q.tensor for q in QUANTITY.values()}
QUANTITY_OF = {q.tensor: q.name for q in QUANTITY.values()}
SHAPED_LIKE = {q.name: q.shaped_like for q in QUANTITY.values()}
FACTORS = {q.name: q.factors for q in QUANTITY.values()}
INPUTS = {q.name: q.inputs for q in QUANTITY.values()}
WORDS = {q.name: q.words for q in QUANTITY.values()}
# The upstream gradient g (dL/dy) and dy share y's shape and layout; dx shares x's, dk k's.
LAYOUT_OF = {"x": "x", "k": "k", "y": "y", "g": "y", "dy": "y", "dx": "x", "dk": "k"}

ROLES = ("direct_input", "direct_output", "kernel")
DIRECT_ROLES = {
    "conv": {"x": "direct_input", "y": "direct_output", "k": "kernel"},
    "depthwise": {"x": "direct_input", "y": "direct_output", "k": "kernel"},
    "transpose": {"x": "direct_output", "y": "direct_input", "k": "kernel"},
}


def role_of(kind: str, tensor: str) -> str:
    """The part tensor (x, k, y, g, dx, dk) plays in the direct convolution of an op kind."""
    return DIRECT_ROLES[kind][LAYOUT_OF[tensor]]


def tensor_with_role(kind: str, role: str) -> str:
    """x, y or k: the tensor of an op kind that plays ``role``."""
    return next(t for t, r in DIRECT_ROLES[kind].items() if r == role)


def as_quantity(name) -> str:
    """The quantity a name means: ``'y'``/``'forward'``, ``'dk'``/``'filter_grad'``,
    ``'dx'``/``'input_grad'``."""
    if isinstance(name, str):
        key = name.strip()
        if key in QUANTITY_OF:
            return QUANTITY_OF[key]
        if key in QUANTITY:
            return key
    raise SymconvError(f"quantity must be one of y (forward), dk (filter_grad) or dx (input_grad), "
                       f"got {shown(name)}")
