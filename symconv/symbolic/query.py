"""``which``: the exact answer to "which pixels does this entry multiply?"."""

from __future__ import annotations

import dataclasses
import difflib
import math

from ..errors import SymconvError, shown
from ..model import notation as render
from ..model.indexmap import maps_for
from ..model.quantities import TENSOR_OF
from ..model.spec import ConvSpec, parse_entry, require_nonempty
from .answers import BARE_TERM_LIMIT, TEXT_TERMS, Answer, TensorAnswer, printed
from .reverse import Readers, readers

# A bare tensor (every entry) is answered only up to this many entries, counted before anything
# is listed; beyond BARE_TERM_LIMIT products in all, each entry is shown by its closed form.
BARE_ENTRY_LIMIT = 1_000
# Spec fields by keyword (ConvSpec's own names and the short ones the CLI uses).
SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(ConvSpec) if f.name != "op")
SHORT_FIELDS = {"input": "input_shape", "kernel": "kernel_shape", "output_shape": "output_shape_request"}
__all__ = ["Answer", "BARE_ENTRY_LIMIT", "BARE_TERM_LIMIT", "TEXT_TERMS", "TensorAnswer", "as_spec", "printed",
           "which"]


def as_spec(spec, kwargs) -> ConvSpec:
    """A ConvSpec as given, or one built from an op name and spec fields (input=, kernel=, ...)."""
    if isinstance(spec, ConvSpec):
        if kwargs:
            raise SymconvError(f"give either a ConvSpec or spec fields, not both: {sorted(kwargs)}")
        return spec
    if not isinstance(spec, str):
        raise SymconvError(f"spec must be a ConvSpec or an op name such as 'conv2d', got {type(spec).__name__} "
                           f"{shown(spec)}")
    fields = {}
    for name, value in kwargs.items():
        full = SHORT_FIELDS.get(name, name)
        if full not in SPEC_FIELDS:
            close = difflib.get_close_matches(name, [*SHORT_FIELDS, *SPEC_FIELDS], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SymconvError(f"unknown spec field {shown(name)}{hint}: the fields are input, kernel, strides, "
                               f"dilations, padding, convention, data_format, groups and output_shape")
        if full in fields:
            raise SymconvError(f"spec field {full} is given twice")
        fields[full] = value
    missing = [short for short in ("input", "kernel") if SHORT_FIELDS[short] not in fields]
    if missing:
        raise SymconvError(f"{shown(spec)} needs {' and '.join(m + '=' for m in missing)} (shapes such as "
                           f"input='1x3x3x1', kernel='3x3x1x8'), or pass a ConvSpec")
    return ConvSpec(spec, **fields)


def which(spec: ConvSpec | str, entry: str | None = None, *, reads: str | None = None,
          **spec_fields) -> Answer | TensorAnswer | Readers:
    """Which entries does ``entry`` (``'y[...]'``, ``'dk[...]'``, ``'dx[...]'`` or a bare
    ``'y'``/``'dk'``/``'dx'``) multiply?  With ``reads='x[...]'`` (or ``'k[...]'``, ``'g[...]'``)
    the reverse: which entries of y, dk and dx read that entry (``symconv.reverse``).
    ``spec`` is a ConvSpec or an op name plus fields.

    >>> a = which("conv2d", "dk[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...           padding="SAME")
    >>> a.expression
    g[0, 0, 0, 0]*x[0, 0, 0, 0]
    >>> which("conv2d", "y[0,0,0,0]", input="1x3x3x1", kernel="1x1x1x1", strides=3,
    ...       padding="SAME", convention="legacy_eigen").terms.pairs()
    [(1, (0, 1, 1, 0), (0, 0, 0, 0))]
    >>> which("conv2d", "dk[0,0,0,0]", input="1x4096x4096x1", kernel="1x1x1x1").term_count
    16777216
    >>> which("conv2d", reads="x[0,1,1,0]", input="1x3x3x1", kernel="3x3x1x1", padding="SAME").counts()
    {'forward': 9, 'filter_grad': 9}
    """
    spec = as_spec(spec, spec_fields)
    if reads is not None:
        if entry is not None:
            raise SymconvError(f"give an entry or reads=, not both: got entry {shown(entry)} and reads {shown(reads)}")
        return readers(spec, reads)
    if entry is None:
        raise SymconvError("which needs an entry (e.g. 'y[0,0,0,0]', 'dk[0,0,0,0]', a bare 'dx') or reads= "
                           "(e.g. reads='x[0,0,0,0]')")
    quantity, index = parse_entry(spec, entry)
    maps = maps_for(spec)
    if index is not None:
        maps.count(quantity, index)  # validates the request now, not when first printed
        return Answer(spec, quantity, index)
    shape = spec.shape_of(TENSOR_OF[quantity])
    require_nonempty(spec)
    entries = math.prod(shape)
    if entries > BARE_ENTRY_LIMIT:
        raise SymconvError(
            f"{TENSOR_OF[quantity]} has {entries} entries, more than the {BARE_ENTRY_LIMIT} listed one by one: "
            f"ask for one entry, e.g. --entry '{TENSOR_OF[quantity]}[{','.join('0' * len(shape))}]'")
    compact = maps.product_count() > BARE_TERM_LIMIT
    return TensorAnswer(spec, quantity, [Answer(spec, quantity, idx, compact) for idx in render.all_indices(shape)],
                        compact)
