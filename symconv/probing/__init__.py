"""Exact probes: drawing them, running them through a backend, comparing with the model.

``probe`` bounds probe values so every sum is exact in float32 and plans how many probes make a
miss unlikely; ``verification`` runs them and compares every entry (Freivalds row checks, exact
in float64), and calls probes again to see that an implementation is deterministic;
``localisation`` recovers the terms a backend used for one entry with one-hot and id-valued
probes; ``taps`` reads the padding a backend used; ``budget`` refuses what would not fit in
memory.

Imports: the foundation, ``model`` and ``backends`` (calls and runners).  Never ``diagnose``,
``checks`` or anything above: verdicts are made from what these modules observe.
"""
