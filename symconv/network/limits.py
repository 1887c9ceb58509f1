"""What a network may ask of symconv: sizes checked before anything is allocated.

A layer holds per spatial axis a table of (output position, tap) pairs and over its channels a
group rule; an answer lays the input out densely over the window it reads.  So every tensor's
axes, its entries, every table and the number of layers are bounded, and a request past a bound
is refused with the layer named and advice, before any array is made.
"""

from __future__ import annotations

import math

from ..errors import SymconvError, shown
from ..model.spec import _as_int

# Positions on one axis (spatial or channels) of any tensor.
MAX_AXIS = 1 << 20
# Entries (spatial positions x channels) of one tensor, batch excluded: an answer lays its window
# over the input out densely, a byte (support) to sixteen (ranking) per entry.
MAX_ENTRIES = 1 << 24
# (output position, tap) pairs of one axis of one layer (int64 each).
MAX_TAPS = 1 << 24
# Layers of one network, and how deep add( and concat( blocks of a chain may nest.
MAX_LAYERS = 10_000
MAX_NESTING = 50

ADVICE = "trace a smaller input or a crop of it: provenance is local"


def integer(value, field: str) -> int:
    """An integer as the rest of symconv takes it (a Python or NumPy integer, or its digits);
    floats, even 2.0, are refused with the field named."""
    return _as_int(value, field)


def check_tensor(name: str, spatial, channels, what: str = "output") -> None:
    """A tensor's sizes: every axis at most MAX_AXIS, MAX_ENTRIES entries in all."""
    sizes = (*spatial, channels)
    if any(n > MAX_AXIS for n in sizes):
        raise SymconvError(f"layer {name!r}: {what} {'x'.join(map(str, sizes))} has an axis longer than "
                           f"{MAX_AXIS:,} positions: {ADVICE}")
    entries = math.prod(sizes)
    if entries > MAX_ENTRIES:
        raise SymconvError(f"layer {name!r}: {what} {'x'.join(map(str, sizes))} has {entries:,} entries, more "
                           f"than the {MAX_ENTRIES:,} symconv traces through: {ADVICE}")


def check_taps(name: str, out_sizes, taps) -> None:
    """Per axis, (output positions) x (taps of each) at most MAX_TAPS."""
    for out, k in zip(out_sizes, taps):
        if out * k > MAX_TAPS:
            raise SymconvError(f"layer {name!r}: {out:,} output positions x {k:,} taps on one axis is more than "
                               f"the {MAX_TAPS:,} symconv tabulates: {ADVICE}, or a smaller kernel")


def check_layers(count: int) -> None:
    if count > MAX_LAYERS:
        raise SymconvError(f"the network has {count:,} layers, more than the {MAX_LAYERS:,} symconv traces "
                           f"through: ask about a layer nearer the input")


def check_entry(index, field: str = "entry") -> tuple:
    """An entry's indices as integers (no floats, no text), each named when it is not."""
    if isinstance(index, (str, bytes)):
        raise SymconvError(f"{field} must be a sequence of integers, got {shown(index)}")
    try:
        items = list(index) if len(index) <= 8 else None
    except TypeError:
        raise SymconvError(f"{field} must be a sequence of integers, got {shown(index)}") from None
    if items is None:
        raise SymconvError(f"{field} must have at most 8 indices, got {shown(index)}")
    return tuple(integer(i, f"{field} indices") for i in items)
