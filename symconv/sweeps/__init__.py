"""Many checks: the sweep's cases, running them, shrinking findings, the conformance matrix.

``cases`` lists the sweep (every op, padding mode, convention, layout and degenerate shape);
``run`` checks them on one backend worker, a pool of processes or a Dask cluster
(``scheduler``), confirms each finding by the loop reference and ``shrink``s it to the smallest
failing case; ``report`` summarises; ``matrix`` runs every installed backend and variant and
``matrix_report`` writes the conformance report.

Imports: the foundation and the stages below it (``model`` to ``checks``).  Never ``show``,
``latex``, ``network``, ``testing`` or ``commands``.
"""
