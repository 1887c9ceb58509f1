"""Naming the bug: hypotheses tested as alternative exact models against the probes taken.

``registry`` holds the hypothesis families (``HYPOTHESES``: other conventions, shifted pads,
flipped or transposed kernels, swapped axes, ignored strides, layout confusions, ...), each a
small function, grouped in ``geometry`` and ``tensors``; ``diagnosis`` tests every one against
the verification probes already taken (no backend call), lights one slot for evidence, and
reads values no sum of products can take.

Imports: the foundation, ``model``, ``backends`` and ``probing``.  Never ``checks``: the
verdicts call the diagnosis, not the other way round.
"""
