"""What a command will hold in memory, estimated before it starts, against a stated limit.

``check`` and ``infer`` hold, for every probe, random tensors x, k and g (float32, plus a float64
copy for the exact row check) and each quantity's output (float64); comparing an output with
the model and localising a wrong entry take a few tensor-sized arrays more.  The estimate is
bytes per entry of x, k and y, measured on NumPy 2.4 (a 1x1000x1000x1 check with 5 probes
peaks at 150 bytes per entry above start-up), rounded up.  A case above the limit is refused
in milliseconds, with advice, instead of running until the machine runs out of memory.

>>> from symconv import ConvSpec
>>> spec = ConvSpec("conv2d", "1x56x56x64", "3x3x64x64", padding="SAME")
>>> probe_bytes(spec, probes=2) < MEMORY_LIMIT
True
>>> require_memory(ConvSpec("conv2d", "1x2x2x1", "1x1x1x1", padding="20000:20000"), "check", 2)
Traceback (most recent call last):
  ...
symconv.errors.SymconvError: check would hold about 143 GiB of probe tensors for this conv2d
(x 4 entries, k 1, y 1600160004), more than the 1 GiB limit: use a smaller input, padding or stride
(a convolution's bugs show on small shapes)
"""

from __future__ import annotations

import math

from ..errors import SymconvError
from ..model.spec import ConvSpec

MEMORY_LIMIT = 2**30          # bytes one command may plan to hold
BYTES_PER_ENTRY_PER_PROBE = 24
BYTES_PER_ENTRY = 48


def entries(spec: ConvSpec) -> dict:
    """Entries of x, k and y."""
    return {t: math.prod(spec.shape_of(t)) for t in ("x", "k", "y")}


def probe_bytes(spec: ConvSpec, probes: int) -> int:
    """Bytes a check with ``probes`` probes per quantity is estimated to hold at its peak."""
    return sum(entries(spec).values()) * (BYTES_PER_ENTRY_PER_PROBE * max(probes, 1) + BYTES_PER_ENTRY)


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def require_memory(spec: ConvSpec, command: str, probes: int) -> None:
    """Refuse (SymconvError) a case whose probe tensors would exceed MEMORY_LIMIT."""
    need = probe_bytes(spec, probes)
    if need > MEMORY_LIMIT:
        counts = entries(spec)
        raise SymconvError(
            f"{command} would hold about {_size(need)} of probe tensors for this {spec.op} (x {counts['x']} entries, "
            f"k {counts['k']}, y {counts['y']}), more than the {_size(MEMORY_LIMIT)} limit: use a smaller input, "
            f"padding or stride (a convolution's bugs show on small shapes)")
